"""SMS coding as the SMPP channel sends it: GSM-7 where every character has a GSM 03.38 form
(160 septets, 153 per part, an extension character two septets never split), UCS-2 otherwise
(70 characters, 67 per part, a surrogate pair never split); decoding gives the text back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cardpilot.notify.sms_coding import (
    DC_GSM7,
    DC_UCS2,
    decode_sms,
    gsm7_units,
    sms_parts,
    sms_units,
    split_sms,
)

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "^{}\\[~]|€\f"


def test_english_text_is_gsm7_one_septet_a_character_and_459_fit_three_parts() -> None:
    text = ("Your credit limit is now CNY 15,000. " * 13)[:459]
    coding, parts = split_sms(text)
    assert coding == DC_GSM7
    assert [len(p) for p in parts] == [153, 153, 153]
    assert sms_units(text) == 459
    assert decode_sms(coding, parts) == text
    assert sms_parts(text[:160]) == 1
    assert sms_parts(text[:161]) == 2


def test_an_extension_character_counts_two_septets_and_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    assert sms_units(text) == 152 + 2 + 10
    coding, parts = split_sms(text)
    assert coding == DC_GSM7
    # The escape and its code would straddle 152|153: both move to the second part.
    assert len(parts[0]) == 152
    assert parts[1].startswith(b"\x1b")
    assert decode_sms(coding, parts) == text


def test_chinese_text_is_ucs2_and_134_characters_fit_two_parts() -> None:
    text = ("您的信用额度已调整，详情请查看手机银行。" * 7)[:134]
    coding, parts = split_sms(text)
    assert coding == DC_UCS2
    assert [len(p) // 2 for p in parts] == [67, 67]
    assert sms_units(text) == 134
    assert decode_sms(coding, parts) == text
    assert sms_parts(text[:70]) == 1


def test_one_character_outside_the_gsm_alphabet_makes_the_whole_text_ucs2() -> None:
    assert gsm7_units("Limit raised `now`") is None  # the backtick has no GSM-7 form
    assert split_sms("Limit raised `now`")[0] == DC_UCS2
    assert split_sms("ça va")[0] == DC_UCS2  # lower-case ç: only Ç is in the alphabet


@given(st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=600))
def test_gsm7_text_round_trips_in_parts_within_the_limits(text: str) -> None:
    coding, parts = split_sms(text)
    assert coding == DC_GSM7
    assert decode_sms(coding, parts) == text
    limit = 160 if len(parts) == 1 else 153
    assert all(len(p) <= limit for p in parts)
    assert all(not p.endswith(b"\x1b") for p in parts)  # no escape cut from its code
    assert sum(len(p) for p in parts) == sms_units(text)


@given(st.text(min_size=1, max_size=300).filter(lambda t: gsm7_units(t) is None))
def test_any_other_text_round_trips_as_ucs2_within_the_limits(text: str) -> None:
    coding, parts = split_sms(text)
    assert coding == DC_UCS2
    assert decode_sms(coding, parts) == text
    limit = 140 if len(parts) == 1 else 134
    assert all(len(p) <= limit and len(p) % 2 == 0 for p in parts)
    for part in parts:
        part.decode("utf-16-be")  # every part whole: no surrogate pair split


@given(st.text(alphabet=GSM_BASIC, min_size=161, max_size=600))
def test_a_long_gsm7_text_of_single_septets_fills_every_part_but_the_last(text: str) -> None:
    _, parts = split_sms(text)
    assert [len(p) for p in parts[:-1]] == [153] * (len(parts) - 1)
    assert 0 < len(parts[-1]) <= 153
    assert len(parts) == sms_parts(text) == -(-len(text) // 153)
