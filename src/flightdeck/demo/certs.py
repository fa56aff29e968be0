"""A local certificate authority and a server certificate for the demo service.

Generated with ``cryptography`` at demo start: an ECDSA P-256 CA (valid 1 year) and a leaf for
``localhost`` and ``127.0.0.1`` (valid 90 days, as public CAs issue them), signed by the CA. The
leaf file holds the chain (leaf, then CA) so servers present both; clients trust ``ca.pem``.
Existing files are reused until the leaf has less than 30 days left.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DemoCertificates", "ensure_certificates", "make_certificates"]

LEAF_DAYS = 90
CA_DAYS = 365
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class DemoCertificates:
    ca_file: Path  # the CA certificate clients trust
    cert_file: Path  # leaf + CA chain, PEM
    key_file: Path  # the leaf's private key, PEM (mode 0600)

    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.cert_file.read_bytes())[0]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "flightdeck demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def make_certificates(
    directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), now: datetime | None = None
) -> DemoCertificates:
    """Create a fresh CA and leaf in ``directory`` (overwriting any there)."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("flightdeck demo local CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    certs = DemoCertificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    certs.ca_file.write_bytes(ca_cert.public_bytes(pem))
    certs.cert_file.write_bytes(leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    _write_private(
        certs.key_file,
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    # The CA key is not kept: nothing else is ever signed with it.
    return certs


def ensure_certificates(directory: Path, now: datetime | None = None) -> DemoCertificates:
    """Reuse the certificates in ``directory`` while the leaf has 30 days or more; else make new ones."""
    now = now or datetime.now(UTC)
    existing = DemoCertificates(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    try:
        if existing.leaf().not_valid_after_utc - now >= RENEW_BEFORE and existing.key_file.exists():
            return existing
    except (OSError, ValueError, IndexError):
        pass
    return make_certificates(directory, now=now)
