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

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_LOCALE = "zh-CN"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """The configuration (file or ``CARDPILOT_*`` variables) cannot be used: says what to fix."""


def _config_file() -> Path | None:
    explicit = os.environ.get("CARDPILOT_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(
                f"CARDPILOT_CONFIG names {path}, which is not a file; "
                "point it at a cardpilot.toml or unset it"
            )
        return path
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
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it as TOML ({exc})") from exc
        table = data.get("cardpilot", data)
        unknown = sorted(k for k in table if k not in Settings.model_fields)
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(Settings.model_fields)}"
            )
        return dict(table)


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
    # The HTTP service (docs/service.md). Token signing keys "kid1:SECRET,kid2:SECRET": every
    # one verifies, jwt_active_key signs (default: a key file made in the home folder), so keys
    # rotate by adding one, making it active, and removing the old one after token_minutes.
    jwt_keys: str | None = None
    jwt_active_key: str | None = None
    token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The first admin, made by `cardpilot serve` when no user of that name exists yet.
    admin_user: str | None = None
    admin_password: str | None = None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return level

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
    """The settings in force; ``ConfigError`` names the bad key, its source and what to use."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(
            f"{key} (CARDPILOT_{key.upper()} or {_config_file() or 'cardpilot.toml'}): {message}"
        )
    return "invalid configuration: " + "; ".join(problems)
