"""The account ledger: postings of money and events, balances as their sums, invariants."""
