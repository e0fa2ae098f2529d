"""Credit risk: behaviour features, scorecard (champion), LightGBM (challenger), PD, reasons.

Entry points for other parts: ``features.behaviour_features``, ``registry.Registry(home)
.champion(family)``, ``registry.load_model_dir(path)``, ``reasons.reason_text(code, locale)``.
A model's ``.score(features)`` returns ``account_id, score, pd, reason_codes, model_version``.
"""
