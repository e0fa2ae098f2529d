"""Personal-data protection: field encryption, masking, pseudonymous ids, log redaction."""

from cardpilot.privacy.cipher import FieldCipher, KeyRing, PiiKeyError

__all__ = ["FieldCipher", "KeyRing", "PiiKeyError"]
