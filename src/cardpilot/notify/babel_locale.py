"""The Babel locale of a message locale (``zh-CN`` → ``zh_CN``), parsed once.

Babel's formatters take a locale name or a ``Locale``; given a name they parse it on every call,
and parsing looks the name up among every locale Babel knows (about a third of a millisecond),
which a review formatting each notice's amounts pays tens of thousands of times.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale


@lru_cache(maxsize=64)
def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale.replace("-", "_"))
