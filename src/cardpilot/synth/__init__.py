"""Synthetic card portfolios with the statistics of real data and none of its records.

``cardpilot generate --accounts N --seed S --out DIR`` writes customers, accounts, monthly
statements, transactions and ``default_next_month`` labels in the generic layout
(docs/CONTRACTS.md), in bounded-memory chunks, deterministically for a seed.

* ``fit``: estimates ``params.json`` from the UCI credit-card file (Yeh & Lien 2009, CC BY 4.0):
  quantile-table marginals, a Gaussian-copula correlation matrix over limit, age, education,
  sex, marriage and six months of repayment status, utilisation and payment rate, and a
  logistic default model recalibrated to the real 22.12 % default rate. Aggregates only.
  Refit with ``python bench/fit_synth_params.py``.
* ``copula``: draws account histories from those parameters (longer than six months by
  stationary backward extension).
* ``people``: fake but well-formed Chinese names, GB 11643 national IDs, mobile numbers and
  ``example.com`` e-mail addresses.
* ``generate``: turns draws into statements and transactions in integer fen (limits NT$ ÷ 4.4
  rounded to 100 yuan; minimum due 10 %, at least 100 yuan; interest 0.05 % a day; late charge
  5 % of the unpaid minimum) and writes Parquet decimal(18,2) parts.
"""
