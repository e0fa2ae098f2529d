"""One account's view over the store: its story (statements, ledger, decisions, plans, contacts)."""
