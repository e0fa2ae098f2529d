"""Watches after large increases: which statements of a watched account break the policy's
watch rules (``rules``), checked over the store in chunks (``checks``)."""
