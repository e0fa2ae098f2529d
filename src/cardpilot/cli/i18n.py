"""The command line in the configured locale: zh-CN (the default) or en.

Texts are gettext messages in the ``cardpilot`` domain, kept as a Babel catalogue beside this
module (``locale/zh_CN/LC_MESSAGES/cardpilot.po``; ``make messages`` extracts and merges,
``make setup`` compiles the ``.mo``). A clean install without the compiled file compiles the
``.po`` in memory on first use, so the translations never depend on a build step.

- **Help**: every command's and option's help, typer's panel titles and the usage line are
  translated once per command tree (``localise_tree``, from ``conventions.apply``).
- **Errors**: ``translate_error`` turns an ``error:`` line's message into the locale's by the
  catalogue's templates (context ``error``: ``"--as-of {value}: give a date as YYYY-MM-DD"``),
  whichever layer wrote it; a message with no template stays as written.
- **Tables**: headings go through ``tr``.

The locale is ``CARDPILOT_LOCALE`` (``cardpilot.toml``: ``locale``), read when the command tree
is built; an unreadable configuration falls back to the environment, then zh-CN, since the
error saying so must be written in some language.
"""

from __future__ import annotations

import os
import re
import string
import types
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

DOMAIN = "cardpilot"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LOCALE = "zh-CN"
ERROR_CONTEXT = "error"

# typer's own fixed strings (rich_utils' module constants), in English.
TYPER_TEXTS = {
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}
USAGE = "Usage: "


class _State:
    """The locale the command tree was last built in."""

    locale: str = DEFAULT_LOCALE


def configured_locale() -> str:
    """``zh-CN`` or ``en``: the configuration's, else ``CARDPILOT_LOCALE``, else zh-CN."""
    try:
        from cardpilot.config import get_settings

        # read, not cached: the tree may be built before the command's own environment is
        # in place (typer's test runner), and the command must read its settings itself
        chosen = get_settings.__wrapped__().locale
    except Exception:  # the configuration is broken: its error still needs a language
        chosen = os.environ.get("CARDPILOT_LOCALE", DEFAULT_LOCALE)
    return "en" if chosen.lower().startswith("en") else DEFAULT_LOCALE


def catalogue_path(locale: str = DEFAULT_LOCALE, suffix: str = ".po") -> Path:
    return LOCALE_DIR / locale.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


@dataclass(frozen=True)
class Catalogue:
    """One locale's translations: plain messages, and the error templates (context error)."""

    messages: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@cache
def catalogue(locale: str) -> Catalogue:
    """The translations of ``locale`` (en: none, the messages are written in it): the compiled
    ``.mo`` when it is as new as the ``.po``, else the ``.po`` itself."""
    if locale == "en":
        return Catalogue()
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    po, mo = catalogue_path(locale), catalogue_path(locale, ".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            read = read_mo(fh)
    elif po.exists():
        with po.open("rb") as fh:
            read = read_po(fh, locale=locale.replace("-", "_"), domain=DOMAIN)
    else:
        return Catalogue()
    found = Catalogue()
    for message in read:
        if not message.id or not message.string or message.fuzzy:
            continue
        if not isinstance(message.id, str) or not isinstance(message.string, str):
            continue  # plural forms: none in this catalogue
        context = message.context
        if isinstance(context, bytes):  # Babel's read_mo leaves the context undecoded
            context = context.decode("utf-8")
        target = found.errors if context == ERROR_CONTEXT else found.messages
        target[message.id] = message.string
    return found


def use_locale(locale: str) -> None:
    _State.locale = locale


def current_locale() -> str:
    return _State.locale


def tr(message: str) -> str:
    """``message`` in the current locale (as written when it has no translation)."""
    return catalogue(_State.locale).messages.get(message, message) if message else message


# ------------------------------------------------------------------------------------ errors


def _template_pattern(template: str) -> tuple[re.Pattern[str], list[str]]:
    """A regex matching ``template``'s filled-in text, and its field names in order."""
    names: list[str] = []
    parts: list[str] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is not None:
            names.append(name)
            parts.append(f"(?P<f{len(names) - 1}>.+?)")
    return re.compile("^" + "".join(parts) + "$", re.DOTALL), names


@cache
def _error_templates(locale: str) -> list[tuple[re.Pattern[str], list[str], str]]:
    found = []
    for template, translated in catalogue(locale).errors.items():
        pattern, names = _template_pattern(template)
        words = "".join(literal for literal, *_ in string.Formatter().parse(template))
        found.append((len(words), pattern, names, translated))
    # the most specific template first: the one with the most text of its own, so that
    # "No such option: {option}" wins over "{option} {value}: {reason}"
    found.sort(key=lambda t: -t[0])
    return [(pattern, names, translated) for _, pattern, names, translated in found]


def translate_error(message: str) -> str:
    """An error message in the current locale, by the first catalogue template it fits."""
    if _State.locale == "en":
        return message
    for line_pattern, names, translated in _error_templates(_State.locale):
        found = line_pattern.match(message)
        if found:
            values = {name: found.group(f"f{i}") for i, name in enumerate(names)}
            return translated.format(**values)
    return message


# -------------------------------------------------------------------------------------- help


def _usage_in_locale(self: Any, ctx: Any, formatter: Any) -> None:
    pieces = self.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=tr(USAGE))


def localise_tree(nodes: list[tuple[tuple[str, ...], Any]]) -> None:
    """Every command's and option's help in the configured locale, typer's titles too."""
    import typer.rich_utils as rich_utils

    use_locale(configured_locale())
    for name, english in TYPER_TEXTS.items():
        setattr(rich_utils, name, tr(english))
    for _path, cmd in nodes:
        if cmd.help:
            cmd.help = tr(cmd.help)
        if cmd.short_help:
            cmd.short_help = tr(cmd.short_help)
        cmd.format_usage = types.MethodType(_usage_in_locale, cmd)
        for param in [*cmd.params, getattr(cmd, "_help_option", None)]:
            if param is not None and getattr(param, "help", None):
                param.help = tr(param.help)
