"""Reading X.509 certificates (via ``cryptography``) and matching them to a host name.

Host names are matched the way browsers do (RFC 6125): against the subjectAltName DNS entries only
(never the subject's common name), a ``*`` standing for exactly one whole left-most label; IP
addresses against the IP address entries.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from pydantic import JsonValue

__all__ = ["CertInfo", "hostname_matches", "served_chain", "verified_chain"]


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    sha256: str
    key: str
    signature_algorithm: str | None
    is_ca: bool

    @classmethod
    def from_der(cls, der: bytes) -> CertInfo:
        cert = x509.load_der_x509_certificate(der)
        dns: tuple[str, ...] = ()
        ips: tuple[str, ...] = ()
        with contextlib.suppress(x509.ExtensionNotFound):
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = tuple(san.get_values_for_type(x509.DNSName))
            ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        is_ca = False
        with contextlib.suppress(x509.ExtensionNotFound):
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        try:
            algorithm = cert.signature_hash_algorithm
            sig = f"{algorithm.name}" if algorithm is not None else None
        except Exception:  # unsupported algorithms raise; the name is a nicety
            sig = None
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            dns_names=dns,
            ip_addresses=ips,
            sha256=cert.fingerprint(hashes.SHA256()).hex(),
            key=_describe_key(cert),
            signature_algorithm=sig,
            is_ca=is_ca,
        )

    def days_left(self, now: datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def to_detail(self) -> dict[str, JsonValue]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "sans": [*self.dns_names, *self.ip_addresses],
            "sha256": self.sha256,
            "key": self.key,
            "signature_hash": self.signature_algorithm,
        }

    def summary_detail(self) -> dict[str, JsonValue]:
        return {"subject": self.subject, "issuer": self.issuer, "not_after": self.not_after.isoformat()}


def _describe_key(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except Exception:  # an unsupported key type; the description is a nicety
        return "unknown"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _dns_match(pattern: str, host: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern == host:
        return True
    p_labels, h_labels = pattern.split("."), host.split(".")
    # "*.example.com" matches exactly one label, never a bare "example.com", never "a.b.example.com";
    # wildcards elsewhere and partial ones ("w*.example.com") are not honoured; neither are "*.com".
    if p_labels[0] != "*" or len(p_labels) < 3 or len(p_labels) != len(h_labels):
        return False
    return p_labels[1:] == h_labels[1:] and bool(h_labels[0])


def hostname_matches(cert: CertInfo, host: str) -> bool:
    """Whether ``cert`` is valid for ``host`` (a DNS name or an IP address)."""
    host = host.strip().lower().rstrip(".").strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(a) == ip for a in cert.ip_addresses)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return any(_dns_match(p, host) for p in cert.dns_names)


def _chain(sslobj: ssl.SSLObject, method: str) -> list[CertInfo] | None:
    # Python 3.13 makes these public (SSLObject.get_unverified_chain); 3.10–3.12 have them on the
    # internal object. Without them only the leaf is known, which is all the checks rely on.
    inner = getattr(sslobj, "_sslobj", None)
    getter = getattr(sslobj, method, None) or getattr(inner, method, None)
    if getter is None:
        return None
    try:
        certs = getter() or []
        return [CertInfo.from_der(_der(c)) for c in certs]
    except Exception:  # best effort: a missing chain is reported as missing, never as an error
        return None


def _der(cert: object) -> bytes:
    if isinstance(cert, bytes):
        return cert
    public_bytes = getattr(cert, "public_bytes", None)
    if public_bytes is None:
        raise TypeError("not a certificate")
    der: bytes = public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
    return der


def served_chain(sslobj: ssl.SSLObject) -> list[CertInfo] | None:
    """The certificates the server sent, leaf first, when the interpreter can tell."""
    return _chain(sslobj, "get_unverified_chain")


def verified_chain(sslobj: ssl.SSLObject) -> list[CertInfo] | None:
    """The chain OpenSSL built to a trusted root, leaf first, when the interpreter can tell."""
    return _chain(sslobj, "get_verified_chain")
