"""The one error a layout's reader raises for a file it cannot read at all."""

from __future__ import annotations


class SourceError(ValueError):
    """A file that cannot be read at all (missing, wrong header, unknown format or encoding,
    a column of a type the layout cannot hold): one line saying what, where and what to do.
    An import that meets one writes nothing."""
