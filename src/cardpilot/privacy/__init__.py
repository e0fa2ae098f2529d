"""Personal-data protection: field encryption, masking, pseudonymous ids, log redaction."""

from cardpilot.privacy.cipher import FieldCipher
from cardpilot.privacy.keys import BlindIndexKey, KeyRing, PiiKeyError

__all__ = ["BlindIndexKey", "FieldCipher", "KeyRing", "PiiKeyError"]
