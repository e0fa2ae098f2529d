"""Settings from the environment (``CARDPILOT_*``) and an optional TOML config file.

Precedence, highest first: explicit arguments (CLI flags), environment variables,
the config file (``CARDPILOT_CONFIG`` or ``./cardpilot.toml``), built-in defaults.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_LOCALE = "zh-CN"


def _config_file() -> Path | None:
    explicit = os.environ.get("CARDPILOT_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("cardpilot.toml")
    return local if local.exists() else None


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the ``[cardpilot]`` table (or the top level) of the config file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file()
        if path is None or not path.exists():
            return {}
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        table = data.get("cardpilot", data)
        return {k: v for k, v in table.items() if k in Settings.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARDPILOT_", extra="ignore")

    home: Path = Field(
        default=Path(".cardpilot"),
        description="Folder for the embedded store, keys, outbox and reports.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: SQLite file under `home`.",
    )
    policy_dir: Path | None = Field(
        default=None,
        description="Folder of the bank's own policy folders, named by --policy NAME.",
    )
    timezone: str = DEFAULT_TIMEZONE
    locale: str = DEFAULT_LOCALE
    currency: str = "CNY"
    # Personal-data encryption keys: "kid1:BASE64KEY,kid2:BASE64KEY"; every one decrypts, the
    # one named by pii_active_key encrypts (the order of the ring means nothing), so keys can
    # rotate: `cardpilot privacy rotate` re-encrypts what an older key made (docs/privacy.md).
    pii_keys: str | None = None
    pii_active_key: str | None = None
    # The key of the blind index of national ids ("kid:BASE64KEY"), separate from the ring so
    # that rotating encryption keys never changes a look-up value.
    blind_index_key: str | None = None
    # Secret for pseudonymous ids in analytics exports (HMAC); separate from the PII keys.
    pseudonym_secret: str | None = None
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls), file_secret_settings)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'cardpilot.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
