"""Certificate chains built with ``cryptography`` for the cases ``trustme`` does not cover, such as
an intermediate CA that expires before the leaf it signed."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Chain:
    root_file: Path  # the trust anchor, for ca_file
    chain_file: Path  # leaf then intermediate, as the server sends them
    key_file: Path
    leaf_not_after: datetime
    intermediate_not_after: datetime

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.chain_file, self.key_file)
        return ctx


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_after: datetime,
    ca: bool,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def chain_with_short_lived_intermediate(
    folder: Path, leaf_days: float = 60, intermediate_days: float = 5
) -> Chain:
    now = datetime.now(UTC)
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert(
        "flightdeck test root", root_key, "flightdeck test root", root_key, now + timedelta(days=3650), True
    )
    inter_after = now + timedelta(days=intermediate_days)
    inter = _cert(
        "flightdeck test intermediate", inter_key, "flightdeck test root", root_key, inter_after, True
    )
    leaf_after = now + timedelta(days=leaf_days)
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    leaf = _cert("localhost", leaf_key, "flightdeck test intermediate", inter_key, leaf_after, False, sans)
    pem = serialization.Encoding.PEM
    (folder / "root.pem").write_bytes(root.public_bytes(pem))
    (folder / "chain.pem").write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem))
    (folder / "key.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Chain(
        folder / "root.pem",
        folder / "chain.pem",
        folder / "key.pem",
        leaf.not_valid_after_utc,
        inter.not_valid_after_utc,
    )
