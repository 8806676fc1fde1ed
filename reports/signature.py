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
* **An organisation's certificate** instead of the self-signed one: ``$HITLGOV_REPORT_CERT``
  names a PEM file with the signer's certificate first and its intermediates after it, issued
  for ``$HITLGOV_REPORT_KEY`` (a PEM private key: RSA, EC or Ed25519) -- or for the site key
  when ``$HITLGOV_REPORT_KEY`` is unset. ``$HITLGOV_REPORT_KEY`` may instead be a PKCS#12 file
  (``.p12``/``.pfx``) holding key, certificate and chain, its passphrase in
  ``$HITLGOV_REPORT_KEY_PASSWORD``. The certificate and chain are embedded in the signature.
* **Trust** is checked separately from integrity: ``report --verify --trust CA.pem`` validates
  the signer's certificate chain up to the roots in ``CA.pem`` (pyHanko's certificate validator,
  no network fetching) and says "signer trusted" or "signer not trusted" -- a self-signed site
  certificate is intact but not trusted by an organisation's root.
* **Without a key** reports are written unsigned; ``report --verify`` says so.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import os

from hitlgov import checkpoint
from hitlgov.errors import HitlgovError

FIELD = "hitlgov-signature"
ENV_CERT = "HITLGOV_REPORT_CERT"
ENV_REPORT_KEY = "HITLGOV_REPORT_KEY"
ENV_PASSWORD = "HITLGOV_REPORT_KEY_PASSWORD"
MAX_FILE = 1 << 20  # a key, a PKCS#12 bundle or a chain of a few certificates is kilobytes


def _read(path: str, what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise HitlgovError(f"{p}: {what} not found (or not a regular file)")
    if p.stat().st_size > MAX_FILE:
        raise HitlgovError(f"{p}: not a {what} (larger than {MAX_FILE:,} bytes)")
    return p.read_bytes()


def load_certificates(path: str | Path, what: str = "certificate file") -> list:
    """Every certificate in a PEM file (``cryptography`` objects), in file order; one-line errors."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(_read(str(path), what))
    except ValueError as exc:
        raise HitlgovError(f"{path}: not a PEM {what} ({str(exc).splitlines()[0]})") from None
    if not certs:
        raise HitlgovError(f"{path}: no certificate in this {what}")
    return certs


def organisation_signer():
    """``(private key, [leaf, intermediates...])`` from ``$HITLGOV_REPORT_KEY`` /
    ``$HITLGOV_REPORT_CERT``, or None when neither is set (the self-signed site certificate)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    key_path = os.environ.get(ENV_REPORT_KEY, "").strip()
    cert_path = os.environ.get(ENV_CERT, "").strip()
    if not key_path and not cert_path:
        return None
    chain: list = []
    if key_path:
        data = _read(key_path, "report signing key")
        password = os.environ.get(ENV_PASSWORD)
        secret = password.encode() if password is not None else None
        if key_path.lower().endswith((".p12", ".pfx")):
            try:
                key, leaf, extra = pkcs12.load_key_and_certificates(data, secret)
            except ValueError as exc:
                raise HitlgovError(f"{key_path}: cannot open the PKCS#12 file ({str(exc).splitlines()[0]}; "
                                   f"its passphrase goes in ${ENV_PASSWORD})") from None
            chain = ([leaf] if leaf is not None else []) + list(extra or [])
        else:
            try:
                key = serialization.load_pem_private_key(data, password=secret)
            except (ValueError, TypeError) as exc:
                raise HitlgovError(f"{key_path}: not a PEM private key ({str(exc).splitlines()[0]}; an encrypted "
                                   f"key's passphrase goes in ${ENV_PASSWORD})") from None
    else:
        key = checkpoint.signing_key()
        if key is None:
            raise HitlgovError(f"${ENV_CERT} is set but no key: set ${ENV_REPORT_KEY} (or the site key "
                               f"${checkpoint.ENV_KEY}) to the certificate's private key")
    if cert_path:
        chain = load_certificates(cert_path, "certificate chain")
    if not chain:
        raise HitlgovError(f"{key_path}: no certificate for the report signing key: set ${ENV_CERT} to its chain (PEM)")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if (chain[0].public_key().public_bytes(serialization.Encoding.DER, public)
            != key.public_key().public_bytes(serialization.Encoding.DER, public)):
        raise HitlgovError(f"{cert_path or key_path}: the first certificate is not for the report signing key "
                           "(put the signer's certificate first, its intermediates after it)")
    return key, chain


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
    """The PDF with a PAdES signature: by the organisation's certificate when one is configured
    (:func:`organisation_signer`), else by ``key`` (default: the site key) under a self-signed
    certificate; unchanged without either."""
    org = organisation_signer() if key is None else None
    key = org[0] if org else (key if key is not None else checkpoint.signing_key())
    if key is None:
        return pdf
    from asn1crypto import keys as akeys
    from asn1crypto import x509 as ax509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    if org:
        chain = [ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in org[1]]
    else:
        chain = [ax509.Certificate.load(_certificate(key))]
    cert = chain[0]
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=akeys.PrivateKeyInfo.load(der),
                                  cert_registry=SimpleCertificateStore.from_certs(chain))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha512",
                                        subfilter=fields.SigSeedSubFilter.PADES,
                                        reason="hitlgov compliance report: figures, pages and evidence")
    out = signers.PdfSigner(meta, signer=signer).sign_pdf(writer)
    return out.getvalue()


def check_pdf(path: str | Path, notes: list[str], *, trust: list | None = None,
              verdict: dict | None = None) -> list[str]:
    """Problems with the PDF's signature (an empty list when it is intact, whole and the site's).

    An unsigned PDF adds a note, not a problem (reports made without a site key are unsigned).
    ``trust`` (certificates, e.g. an organisation's root CA) asks whether the signer's chain
    leads to one of them; the answer goes into ``verdict`` (``{"integrity": bool, "trusted":
    bool, "trust": text}``), reported apart from integrity."""
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
            trusted_status = None
            if trust is not None:
                from asn1crypto import x509 as ax509
                from cryptography.hazmat.primitives import serialization

                roots = [ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in trust]
                trusted_status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False))
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

    signer_cert = x509.load_der_x509_certificate(cert.dump())
    signer_key = signer_cert.public_key()
    subject = signer_cert.subject.rfc4514_string()
    self_signed = signer_cert.issuer == signer_cert.subject
    if verdict is not None:
        verdict["integrity"] = not problems
        verdict["signer"] = subject
    if trusted_status is not None:
        ok = bool(trusted_status.trusted) and not problems
        if verdict is not None:
            verdict["trusted"] = ok
            verdict["trust"] = (f"signer {subject} chains to a trusted root" if ok else
                                f"signer {subject} does not chain to a trusted root"
                                + (" (a self-signed certificate)" if self_signed else ""))
        if ok:  # the organisation's PKI vouches for the signer: no site-key comparison needed
            return problems
    if not isinstance(signer_key, Ed25519PublicKey):
        if trust is not None:
            return problems
        where = (f"certificate {subject} (issued by {signer_cert.issuer.rfc4514_string()}); pass --trust CA.pem to "
                 "check it chains to your organisation's root")
        try:
            site = checkpoint.trusted_key()
        except Exception:  # noqa: BLE001 - a bad key file: the comparison below reports it
            site = None
        if site is not None:  # this site signs with its key: another signer is a finding unless a root vouches
            problems.append(f"the PDF is signed by {where}, not by the site's key {checkpoint.fingerprint(site)}")
        else:
            notes.append(f"the PDF is signed by {where}")
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
