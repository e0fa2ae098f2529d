"""Model commands: ``cardpilot model train | list | show | promote | report | psi``."""

from __future__ import annotations

import typer

from cardpilot.cli import app

model_app = typer.Typer(help="Train, inspect and promote credit-risk models.", no_args_is_help=True)
app.add_typer(model_app, name="model")
