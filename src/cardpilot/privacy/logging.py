"""Log redaction: no phone number, national ID or e-mail reaches a log in plain text."""

from __future__ import annotations

import logging

from cardpilot.privacy.masking import redact_text


class PiiRedactingFilter(logging.Filter):
    """Masks personal data in the rendered message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        rendered = record.getMessage()
        redacted = redact_text(rendered)
        if redacted != rendered:
            record.msg = redacted
            record.args = None
        return True


def install_pii_redaction(logger: logging.Logger | None = None) -> PiiRedactingFilter:
    """Attach the filter to every handler of ``logger`` (root by default) and to the logger.

    Filters on a logger do not see records from child loggers, so the handlers get it too.
    """
    target = logger or logging.getLogger()
    flt = PiiRedactingFilter()
    target.addFilter(flt)
    for handler in target.handlers:
        handler.addFilter(flt)
    return flt
