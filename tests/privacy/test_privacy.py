from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cardpilot.config import Settings
from cardpilot.privacy import BlindIndexKey, FieldCipher, KeyRing, PiiKeyError
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
    blind = BlindIndexKey.generate("b1")
    assert FieldCipher(old, blind).blind_index(NATIONAL_ID) == FieldCipher(
        rotated, blind
    ).blind_index(NATIONAL_ID.lower())


def test_blind_index_does_not_depend_on_the_encryption_keys() -> None:
    blind = BlindIndexKey.generate("b1")
    one, other = KeyRing.generate("k1"), KeyRing.generate("k1")
    assert FieldCipher(one, blind).blind_index(PHONE) == FieldCipher(other, blind).blind_index(
        PHONE
    )


def test_blind_index_without_its_key_is_a_one_line_error() -> None:
    with pytest.raises(PiiKeyError, match="CARDPILOT_BLIND_INDEX_KEY is not set"):
        FieldCipher(KeyRing.generate()).blind_index(NATIONAL_ID)


def test_blind_index_values_carry_their_key_id() -> None:
    cipher = FieldCipher(KeyRing.generate(), BlindIndexKey.generate("b7"))
    value = cipher.blind_index(NATIONAL_ID)
    assert value is not None
    assert value.startswith(b"b7:")
    assert cipher.blind_index_is_current(value)
    legacy = value[3:]
    assert not cipher.blind_index_is_current(legacy)
    assert not FieldCipher(KeyRing.generate(), BlindIndexKey.generate("b8")).blind_index_is_current(
        value
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


def test_the_active_key_is_the_named_one_whatever_the_order() -> None:
    a, b = KeyRing.generate("a"), KeyRing.generate("b")
    forward = KeyRing.parse(f"{a.to_spec()},{b.to_spec()}", "a")
    backward = KeyRing.parse(f"{b.to_spec()},{a.to_spec()}", "a")
    assert forward.active == backward.active == "a"
    assert set(forward.keys) == set(backward.keys) == {"a", "b"}
    blob = FieldCipher(backward).encrypt(PHONE)
    assert blob is not None
    assert FieldCipher(forward).key_id_of(blob) == "a"


def test_a_ring_of_several_keys_without_an_active_one_is_refused() -> None:
    a, b = KeyRing.generate("a"), KeyRing.generate("b")
    with pytest.raises(PiiKeyError, match="CARDPILOT_PII_ACTIVE_KEY is not set") as err:
        KeyRing.parse(f"{a.to_spec()},{b.to_spec()}")
    assert "\n" not in str(err.value)


def test_an_active_key_not_on_the_ring_is_refused() -> None:
    with pytest.raises(PiiKeyError, match=r"'k3'.*not on the key ring \(a\)"):
        KeyRing.parse(KeyRing.generate("a").to_spec(), "k3")


def test_a_single_key_ring_needs_no_name() -> None:
    assert KeyRing.parse(KeyRing.generate("solo").to_spec()).active == "solo"


def test_settings_name_the_active_key(tmp_path: Path) -> None:
    a, b = KeyRing.generate("a"), KeyRing.generate("b")
    blind = BlindIndexKey.generate("b1").to_spec()
    for spec in (f"{a.to_spec()},{b.to_spec()}", f"{b.to_spec()},{a.to_spec()}"):
        settings = Settings(home=tmp_path, pii_keys=spec, pii_active_key="a", blind_index_key=blind)
        assert FieldCipher.from_settings(settings).active_key_id == "a"


def test_short_key_is_refused() -> None:
    with pytest.raises(PiiKeyError, match="32 bytes"):
        KeyRing.parse("k1:AAAA")


def test_local_key_files_are_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = FieldCipher.from_settings(settings)
    blob = first.encrypt(PHONE)
    second = FieldCipher.from_settings(settings)
    assert second.decrypt(blob) == PHONE
    assert second.blind_index(NATIONAL_ID) == first.blind_index(NATIONAL_ID)
    for name in ("pii-keys", "blind-index-key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


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

    blind = BlindIndexKey.generate("b1")
    cipher = FieldCipher(KeyRing.generate(), blind)
    for value in (NATIONAL_ID, f"  {NATIONAL_ID.lower()} ", "11010519900101001x"):
        expected = hmac.digest(blind.key, value.strip().upper().encode("utf-8"), hashlib.sha256)
        assert cipher.blind_index(value) == b"b1:" + expected
    assert cipher.blind_index("") is None
    assert cipher.blind_index(None) is None
