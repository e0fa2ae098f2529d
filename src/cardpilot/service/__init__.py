"""The decision service: ``cardpilot serve``, an authenticated HTTP API over the same code the
batch jobs run (docs/service.md)."""
