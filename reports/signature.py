"""PAdES signatures on reports (pyHanko), with the site's Ed25519 key.

Why: the evidence attached to a report proves its figures, not its *pages*. Someone could swap
the visible pages for another report's and keep the original attachment; a signature over the
whole file (visible pages, attachment and metadata) makes that, and any single changed byte,
detectable.

* **Key and certificate**: the same Ed25519 key that signs the audit checkpoints
  (``$HITLGOV_SIGNING_KEY``, :mod:`hitlgov.checkpoint`). PDF signatures need an X.509
  certificate, so a self-signed one is generated from that key at signing time (subject
  ``hitlgov site key SHA256:<first 16 hex of the fingerprint>``). What identifies the signer is
  the public key, whose fingerprint the report prints; verifiers trust ``$HITLGOV_PUBLIC_KEY``
  (or the signing key's public half) -- never the certificate merely embedded in the file.
* **Signature**: PAdES baseline B-B (ETSI.CAdES.detached), Ed25519 over SHA-512 (ISO 32002),
  appended by pyHanko as an incremental update covering the whole document.
* **Without a key** reports are written unsigned; ``report --verify`` says so.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

from hitlgov import checkpoint

FIELD = "hitlgov-signature"


def _certificate(key):
    """A self-signed X.509 certificate for the Ed25519 ``key`` (DER), valid for ten years."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    fp = checkpoint.fingerprint(key.public_key())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hitlgov site key {fp[:23]}"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hitlgov")])
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, None))
    return cert.public_bytes(serialization.Encoding.DER)


def sign_pdf(pdf: bytes, key=None) -> bytes:
    """The PDF with a PAdES signature by ``key`` (default: the site key); unchanged without one."""
    key = key if key is not None else checkpoint.signing_key()
    if key is None:
        return pdf
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = ax509.Certificate.load(_certificate(key))
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=akeys.PrivateKeyInfo.load(der),
                                  cert_registry=SimpleCertificateStore.from_certs([cert]))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha512",
                                        subfilter=fields.SigSeedSubFilter.PADES,
                                        reason="hitlgov compliance report: figures, pages and evidence")
    out = signers.PdfSigner(meta, signer=signer).sign_pdf(writer)
    return out.getvalue()


def check_pdf(path: str | Path, notes: list[str]) -> list[str]:
    """Problems with the PDF's signature (an empty list when it is intact, whole and the site's).

    An unsigned PDF adds a note, not a problem (reports made without a site key are unsigned)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    try:
        with open(path, "rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            sigs = list(reader.embedded_signatures)
            if not sigs:
                if checkpoint.trusted_key() is not None:
                    return ["the PDF is not signed, but this site signs its reports: its pages or its evidence were "
                            "replaced (or it was made before the site key was configured)"]
                notes.append("the PDF is not signed (made without a site key): its visible pages are not bound to "
                             "its evidence")
                return []
            if len(sigs) > 1:
                return [f"the PDF carries {len(sigs)} signatures; a hitlgov report carries one: it was re-signed"]
            sig = sigs[0]
            cert = sig.signer_cert
            vc = ValidationContext(trust_roots=[cert], allow_fetching=False)
            status = validate_pdf_signature(sig, vc)
    except Exception as exc:  # noqa: BLE001 - any malformed signature structure is a finding, not a crash
        return [f"the PDF's signature cannot be read ({type(exc).__name__}): it was altered"]
    problems = []
    if not status.intact:
        problems.append("the PDF was changed after it was signed: the signed bytes no longer match their digest "
                        "(a changed byte, or pages swapped)")
    elif not status.valid:
        problems.append("the PDF's signature is invalid (the signature value does not verify)")
    coverage = getattr(status.coverage, "name", str(status.coverage))
    if status.intact and coverage != "ENTIRE_FILE":
        problems.append("content was added to the PDF after it was signed (an incremental update): the pages shown "
                        "may not be the signed ones")
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signer_key = x509.load_der_x509_certificate(cert.dump()).public_key()
    if not isinstance(signer_key, Ed25519PublicKey):
        problems.append("the PDF is signed with a key that is not a hitlgov site key (not Ed25519)")
        return problems
    fp = checkpoint.fingerprint(signer_key)
    try:
        trusted = checkpoint.trusted_key()
    except Exception as exc:  # noqa: BLE001 - a bad key file is reported, not raised
        return problems + [f"cannot check who signed the PDF: {exc}"]
    if trusted is None:
        notes.append(f"the PDF is signed by key {fp}; set ${checkpoint.ENV_PUBLIC} to the site's public key to "
                     "check it is the site's")
    elif checkpoint.raw_public(trusted) != checkpoint.raw_public(signer_key):
        problems.append(f"the PDF is signed by key {fp}, not the site's key {checkpoint.fingerprint(trusted)}")
    return problems
