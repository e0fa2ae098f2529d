"""The audit trail's pure core: canonical records, their hash chain, and its verification."""
