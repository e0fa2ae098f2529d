"""Masking personal data for screens and logs: enough to recognise, not to use.

Formats follow common practice at Chinese issuers (e.g. ``138****5678``) and PCI DSS req. 3
for card numbers (at most the first six and last four digits shown).
"""

from __future__ import annotations

import re


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; short or odd numbers keep only the last two."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 11:
        return f"{digits[-11:-8]}****{digits[-4:]}"
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_email(email: str | None) -> str:
    """``zhang.wei@example.com`` → ``z***@example.com``."""
    if not email:
        return ""
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_name(name: str | None) -> str:
    """``张伟`` → ``张*``; ``欧阳娜娜`` → ``欧***``; ``Wei Zhang`` → ``W*** Z***``."""
    if not name:
        return ""
    if name.isascii():
        return " ".join(f"{part[:1]}***" for part in name.split())
    return name[:1] + "*" * (len(name) - 1)


def mask_national_id(national_id: str | None) -> str:
    """18-digit resident ID → first 3 and last 4 kept: ``110***********123X``."""
    if not national_id:
        return ""
    nid = national_id.strip()
    if len(nid) <= 7:
        return "*" * len(nid)
    return nid[:3] + "*" * (len(nid) - 7) + nid[-4:]


def mask_card_number(pan: str | None) -> str:
    """PCI DSS: at most the first six and last four digits are shown."""
    if not pan:
        return ""
    digits = re.sub(r"\D", "", pan)
    if len(digits) < 13:
        return "*" * len(digits)
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


# Patterns for free text (log lines): mainland mobile numbers, 18-digit resident IDs, e-mails.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])(\d{3})(\d{11})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def redact_text(text: str) -> str:
    """Mask every phone number, national ID and e-mail address found in free text."""
    text = _NATIONAL_ID.sub(lambda m: m.group(1) + "*" * 11 + m.group(3)[-4:], text)
    text = _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
