"""How an SMS text goes on the wire: the GSM 7-bit default alphabet where it can, UCS-2 otherwise.

A text every character of which is in the GSM 03.38 default alphabet or its extension table
(3GPP TS 23.038 §6.2.1; the ``gsm0338`` package's codec) goes as GSM-7, SMPP ``data_coding``
0x00, one septet per octet (SMPP carries the septets unpacked; the SMSC packs them): 160
septets fit one SMS, 153 each part of a concatenated one (the 6-octet User Data Header takes
the rest), and an extension character (``€ [ ] { } ~ ^ \\ |``) takes two septets, an escape and
its code, which are never split between two parts. Anything else goes as UCS-2 (``data_coding``
0x08, UTF-16BE): 70 characters in one SMS, 67 per part, a surrogate pair never split.

:func:`sms_units` is what the notices' length limits count (``notify.yaml``
``limit_notices.sms_max_chars``): septets for a GSM-7 text, UTF-16 code units otherwise, so
"at most 3 GSM-7 parts" is 459 units and "at most 2 UCS-2 parts" 134.
"""

from __future__ import annotations

from functools import lru_cache

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

DC_GSM7 = 0x00
DC_UCS2 = 0x08
GSM7_SINGLE, GSM7_PART = 160, 153  # septets
UCS2_SINGLE, UCS2_PART = 140, 134  # octets: 70 and 67 characters
CODEC = "gsm03.38"


@lru_cache(maxsize=4096)
def _gsm7_unit(ch: str) -> bytes | None:
    """``ch`` as GSM-7 (one septet, or an escape and its code); None when it has no GSM-7
    form. Only an exact round trip counts: a character the codec would replace by a look-alike
    has none. Cached: the codec works a character at a time in Python, and every notice's SMS
    is measured, often several times, while the texts use a few hundred characters in all."""
    try:
        unit = ch.encode(CODEC)
    except UnicodeEncodeError:
        return None
    return unit if unit.decode(CODEC) == ch else None


def gsm7_units(text: str) -> list[bytes] | None:
    """``text`` as GSM-7, one entry per character (one septet, or an escape and its code);
    None when a character has no GSM-7 form (``_gsm7_unit``)."""
    units = []
    for ch in text:
        unit = _gsm7_unit(ch)
        if unit is None:
            return None
        units.append(unit)
    return units


def _pack(units: list[bytes], size: int) -> list[bytes]:
    """Units packed greedily into parts of at most ``size`` octets, none split."""
    joined = b"".join(units)
    if len(joined) == len(units):  # one octet each: no unit to keep whole
        return [joined[i : i + size] for i in range(0, len(joined), size)] or [b""]
    parts: list[bytes] = []
    current = bytearray()
    for unit in units:
        if len(current) + len(unit) > size:
            parts.append(bytes(current))
            current = bytearray()
        current += unit
    if current or not parts:
        parts.append(bytes(current))
    return parts


def _ucs2_units(text: str) -> list[bytes]:
    return [ch.encode("utf-16-be") for ch in text]  # 2 octets, or 4 for a surrogate pair


def split_sms(text: str) -> tuple[int, list[bytes]]:
    """The data coding and the short_message bodies (without UDH) of ``text``."""
    gsm = gsm7_units(text)
    if gsm is not None:
        if sum(len(u) for u in gsm) <= GSM7_SINGLE:
            return DC_GSM7, [b"".join(gsm)]
        return DC_GSM7, _pack(gsm, GSM7_PART)
    ucs2 = _ucs2_units(text)
    if sum(len(u) for u in ucs2) <= UCS2_SINGLE:
        return DC_UCS2, [b"".join(ucs2)]
    return DC_UCS2, _pack(ucs2, UCS2_PART)


def decode_sms(coding: int, parts: list[bytes]) -> str:
    """The text of ``parts`` sent with ``coding`` (the inverse of :func:`split_sms`)."""
    joined = b"".join(parts)
    return joined.decode(CODEC) if coding == DC_GSM7 else joined.decode("utf-16-be")


def sms_units(text: str) -> int:
    """The length an SMS limit counts: GSM-7 septets, or UTF-16 code units for UCS-2 text.
    (Each distinct character looked up once: a notice's SMS is measured on every render.)"""
    units = {ch: _gsm7_unit(ch) for ch in set(text)}
    if None not in units.values():
        return len(text) + sum(text.count(ch) * (len(u) - 1) for ch, u in units.items() if u)
    return len(text.encode("utf-16-be")) // 2


def sms_parts(text: str) -> int:
    """How many SMS ``text`` takes on the wire."""
    return len(split_sms(text)[1])
