"""Text encodings of CSV files: UTF-8 by default (with or without a byte-order mark), or an
ASCII-compatible encoding the user names with ``--encoding`` (GB18030, GBK, Big5, …).

Every block is decoded before it is parsed, so a byte sequence the encoding cannot hold is a
one-line error with its line, never a half-read file; when the bytes read as another common
encoding, the error says which and how to ask for it.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from cardpilot.ingest.problems import SourceError

DEFAULT_ENCODING = "utf-8"
# Tried, in order, to say what a file that is not in the asked encoding probably is.
_LIKELY = ("utf-8", "gb18030", "big5")
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_HEADER_BYTES = 1 << 20


def check_encoding(name: str) -> str:
    """``name`` as Python's codec name; ``SourceError`` unless it is known and keeps ASCII's
    bytes for line ends, commas and quotes (what the chunked reader cuts and parses on)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise SourceError(
            f"--encoding {name}: not an encoding this system knows (try utf-8, gb18030 or gbk)"
        ) from None
    if '\n,"\r'.encode(info.name, errors="replace") != b'\n,"\r' or info.name.startswith("utf-16"):
        raise SourceError(
            f"--encoding {name}: not supported (line ends, commas and quotes must be single "
            "ASCII bytes, as in utf-8, gb18030, gbk or big5); save the file as CSV UTF-8"
        )
    return info.name


def _is_utf8(name: str) -> bool:
    return codecs.lookup(name).name == "utf-8"


def read_header_line(path: Path, encoding: str, line: int = 1) -> str:
    """Line ``line`` of a CSV file as text, without a byte-order mark or its line end."""
    try:
        with path.open("rb") as src:
            raw = src.readline(_HEADER_BYTES)
            for _ in range(line - 1):
                raw = src.readline(_HEADER_BYTES)
    except OSError as exc:
        raise SourceError(f"{path}: not readable ({exc.strerror or exc})") from None
    if line == 1 and raw.startswith(_UTF16_BOMS):
        raise SourceError(
            f"{path}: the file is UTF-16 text (as Excel's 'Unicode text' saves it); "
            "save it as CSV UTF-8 and import it again"
        )
    if raw.startswith(_UTF8_BOM) and _is_utf8(encoding):
        raw = raw[len(_UTF8_BOM) :]
    return decode_block(path, raw, encoding, line).rstrip("\r\n")


def decode_block(path: Path, block: bytes, encoding: str, first_line: int) -> str:
    """``block`` (whole lines of ``path`` from ``first_line``) as text; a one-line
    ``SourceError`` naming the line and ``--encoding`` when its bytes are not ``encoding``."""
    try:
        return block.decode(encoding)
    except UnicodeDecodeError as exc:
        line = first_line + block.count(b"\n", 0, exc.start)
        start = block.rfind(b"\n", 0, exc.start) + 1
        end = block.find(b"\n", exc.start)
        sample = block[start : end if end >= 0 else len(block)]
        raise SourceError(
            _not_in_encoding(path, encoding, line, block[exc.start], sample)
        ) from None


def _not_in_encoding(path: Path, encoding: str, line: int, byte: int, sample: bytes) -> str:
    asked = codecs.lookup(encoding).name
    where = f"{path}: line {line} is not {asked} text (byte 0x{byte:02x})"
    for other in _LIKELY:
        if codecs.lookup(other).name == asked:
            continue
        try:
            sample.decode(other)
        except UnicodeDecodeError:
            continue
        return f"{where}; it reads as {other}: run again with --encoding {other}"
    return f"{where}; name the file's encoding with --encoding (utf-8, gb18030, gbk, big5)"
