"""E-mail over STARTTLS with login, against a server that requires both."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, select

from cardpilot.notify import enqueue_notices
from cardpilot.notify.channels.smtp import SmtpChannel
from cardpilot.notify.dispatch import Dispatcher
from cardpilot.privacy import FieldCipher
from cardpilot.store.db import unit_of_work
from cardpilot.store.notify_models import OutboxMessage

from .conftest import DAYTIME, add_customers, email_of, notice_for
from .peers import run as peers


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_peer(tmp_path: Path) -> Iterator[tuple[peers.Peer, Path]]:
    cert, key = _self_signed(tmp_path)
    peer = peers.smtp_peer(
        tmp_path / "tls.jsonl", None, "--tls", str(cert), str(key), "--auth", "bank:s3cret"
    ).start()
    yield peer, cert
    peer.stop()


def test_email_goes_over_starttls_after_login(
    store: Engine, cipher: FieldCipher, tls_peer: tuple[peers.Peer, Path]
) -> None:
    peer, cert = tls_peer
    add_customers(store, cipher, 2)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0), notice_for(1)], channels=("email",), now=DAYTIME)
    url = f"smtp://bank:s3cret@127.0.0.1:{peer.port}?starttls=require&ca={cert}"
    dispatcher = Dispatcher(
        store, {"email": SmtpChannel.from_url(url)}, cipher, clock=lambda: DAYTIME
    )
    assert dispatcher.run_once().sent == 2
    dispatcher.close()
    entries = peer.entries()
    assert sorted(e["to"][0] for e in entries) == [email_of(0), email_of(1)]
    assert all(e["tls"] for e in entries)


def test_a_wrong_password_leaves_the_message_queued_for_a_retry(
    store: Engine, cipher: FieldCipher, tls_peer: tuple[peers.Peer, Path]
) -> None:
    peer, cert = tls_peer
    add_customers(store, cipher, 1)
    with unit_of_work(store) as session:
        enqueue_notices(session, [notice_for(0)], channels=("email",), now=DAYTIME)
    url = f"smtp://bank:wrong@127.0.0.1:{peer.port}?starttls=require&ca={cert}"
    dispatcher = Dispatcher(
        store, {"email": SmtpChannel.from_url(url)}, cipher, clock=lambda: DAYTIME
    )
    report = dispatcher.run_once()
    dispatcher.close()
    assert report.sent == 0
    assert report.retried == 1
    assert peer.entries() == []
    with store.connect() as conn:
        errors = conn.scalars(select(OutboxMessage.last_error)).all()
    assert len(errors) == 1
    assert "535" in str(errors[0])  # the server's refusal of the login
