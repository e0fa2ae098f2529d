"""Channel settings from the environment: each channel is configured by one URL.

``CARDPILOT_SMTP_URL``  ``smtp://user:pass@host:587?starttls=require&from=notices@bank.example``
                        (``smtps://`` for implicit TLS; ``starttls=auto`` is the default:
                        upgrade when the server offers it; ``connections=N`` parallel sessions;
                        ``ca=/path/ca.pem`` to trust a private CA)
``CARDPILOT_SMPP_URL``  ``smpp://system_id:password@host:2775?source=95588&window=64``
``CARDPILOT_PUSH_URL``  ``https://gateway.bank.example/v1/messages?connections=8`` with the
                        HMAC key in ``CARDPILOT_PUSH_SECRET``
With none set, messages are written to ``<home>/outbox/<channel>/`` (the embedded default).

``CARDPILOT_DISPATCH_WINDOW``  the most messages a dispatcher has sent and not yet recorded
                        (default 64): what a dispatcher killed mid-batch can send twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cardpilot.notify.window import DEFAULT_WINDOW


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARDPILOT_", extra="ignore")

    smtp_url: str | None = None
    smpp_url: str | None = None
    push_url: str | None = None
    push_secret: str | None = None
    outbox_dir: Path | None = None
    dispatch_window: Annotated[int, Field(ge=1)] = DEFAULT_WINDOW
