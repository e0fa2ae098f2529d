"""The real-data fixtures (``uci_path``, ``uci_training``, ``trained``) live in tests/conftest.py,
so every part of the suite shares one training run."""
