from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cardpilot.config import Settings
from cardpilot.privacy import FieldCipher, KeyRing, PiiKeyError
from cardpilot.privacy.logging import install_pii_redaction
from cardpilot.privacy.masking import (
    mask_card_number,
    mask_email,
    mask_name,
    mask_national_id,
    mask_phone,
    redact_text,
)
from cardpilot.privacy.pseudonym import Pseudonymizer

NATIONAL_ID = "11010519491231002X"
PHONE = "13812345678"
EMAIL = "zhang.wei@example.com"


def test_encrypted_field_round_trips_and_hides_plaintext() -> None:
    cipher = FieldCipher(KeyRing.generate())
    blob = cipher.encrypt(NATIONAL_ID)
    assert blob is not None
    assert NATIONAL_ID.encode() not in blob
    assert cipher.decrypt(blob) == NATIONAL_ID


def test_same_plaintext_encrypts_differently_each_time() -> None:
    cipher = FieldCipher(KeyRing.generate())
    assert cipher.encrypt(PHONE) != cipher.encrypt(PHONE)


def test_empty_values_stay_empty() -> None:
    cipher = FieldCipher(KeyRing.generate())
    assert cipher.encrypt(None) is None
    assert cipher.encrypt("") is None
    assert cipher.decrypt(None) is None


def test_rotated_ring_decrypts_old_ciphertext_and_encrypts_with_new_key() -> None:
    old = KeyRing.generate("k1")
    blob = FieldCipher(old).encrypt(PHONE)
    new_key = KeyRing.generate("k2").keys["k2"]
    rotated = KeyRing(keys={**old.keys, "k2": new_key}, active="k2")
    cipher = FieldCipher(rotated)
    assert blob is not None
    assert cipher.decrypt(blob) == PHONE
    fresh = cipher.encrypt(PHONE)
    assert fresh is not None
    assert cipher.key_id_of(fresh) == "k2"
    assert cipher.key_id_of(blob) == "k1"


def test_blind_index_survives_key_rotation() -> None:
    old = KeyRing.generate("k1")
    rotated = KeyRing(keys={**old.keys, "k2": KeyRing.generate("k2").keys["k2"]}, active="k2")
    assert FieldCipher(old).blind_index(NATIONAL_ID) == FieldCipher(rotated).blind_index(
        NATIONAL_ID.lower()
    )


def test_tampered_ciphertext_is_refused() -> None:
    cipher = FieldCipher(KeyRing.generate())
    blob = bytearray(cipher.encrypt(EMAIL) or b"")
    blob[-1] ^= 1
    with pytest.raises(PiiKeyError, match="does not authenticate"):
        cipher.decrypt(bytes(blob))


def test_unknown_key_id_is_named_in_the_error() -> None:
    blob = FieldCipher(KeyRing.generate("gone")).encrypt(EMAIL)
    with pytest.raises(PiiKeyError, match="'gone'"):
        FieldCipher(KeyRing.generate("k9")).decrypt(blob)


def test_key_ring_parses_env_spec_and_last_key_is_active() -> None:
    a, b = KeyRing.generate("a"), KeyRing.generate("b")
    ring = KeyRing.parse(f"{a.to_spec()},{b.to_spec()}")
    assert ring.active == "b"
    assert set(ring.keys) == {"a", "b"}


def test_short_key_is_refused() -> None:
    with pytest.raises(PiiKeyError, match="32 bytes"):
        KeyRing.parse("k1:AAAA")


def test_local_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = FieldCipher.from_settings(settings)
    blob = first.encrypt(PHONE)
    second = FieldCipher.from_settings(settings)
    assert second.decrypt(blob) == PHONE
    assert (tmp_path / "pii-keys").stat().st_mode & 0o777 == 0o600


def test_masks_show_enough_to_recognise_and_no_more() -> None:
    assert mask_phone(PHONE) == "138****5678"
    assert mask_email(EMAIL) == "z***@example.com"
    assert mask_name("张伟") == "张*"
    assert mask_name("Wei Zhang") == "W*** Z***"
    assert mask_national_id(NATIONAL_ID) == "110***********002X"
    assert mask_card_number("6222021234567890123") == "622202*********0123"


def test_free_text_redaction_masks_every_kind_of_personal_data() -> None:
    line = f"sent to {PHONE} and {EMAIL} for {NATIONAL_ID}"
    redacted = redact_text(line)
    for secret in (PHONE, EMAIL, NATIONAL_ID):
        assert secret not in redacted
    assert "138****5678" in redacted


def test_logs_never_carry_plaintext_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("cardpilot.test.redaction")
    install_pii_redaction(logger)
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("notice for %s at %s", PHONE, EMAIL)
    assert PHONE not in caplog.text
    assert EMAIL not in caplog.text


def test_pseudonyms_are_stable_per_secret_and_differ_across_secrets() -> None:
    p1 = Pseudonymizer(b"0" * 32)
    p2 = Pseudonymizer(b"1" * 32)
    assert p1.pseudonym("42") == p1.pseudonym("42")
    assert p1.pseudonym("42") != p2.pseudonym("42")
    assert "42" not in p1.pseudonym("42")


def test_blind_index_is_the_keyed_hmac_of_the_normalised_id() -> None:
    import hashlib
    import hmac

    cipher = FieldCipher(KeyRing.generate())
    key = cipher._index_key
    for value in (NATIONAL_ID, f"  {NATIONAL_ID.lower()} ", "11010519900101001x"):
        expected = hmac.digest(key, value.strip().upper().encode("utf-8"), hashlib.sha256)
        assert cipher.blind_index(value) == expected
    assert cipher.blind_index("") is None
    assert cipher.blind_index(None) is None
