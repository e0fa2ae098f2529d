"""The embedded default channel: each message becomes a file under ``<home>/outbox/``.

The file name is the idempotency key and the write is atomic (temp file, then rename), so a
resend after a crash replaces the file with the same content. The address is not written:
the file shows what the customer was told, not where it went.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from cardpilot.notify.channels import Acks, Outgoing, SendResult, Unbounded

_SUFFIX = {"email": ".eml.txt", "sms": ".sms.txt", "app": ".app.json"}


class FolderChannel:
    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder / name

    def send_batch(self, items: Sequence[Outgoing], acks: Acks | None = None) -> list[SendResult]:
        acks = acks or Unbounded()
        self.folder.mkdir(parents=True, exist_ok=True)
        out = []
        for index, item in enumerate(items):
            path = self.folder / f"{item.message_key}{_SUFFIX.get(self.name, '.txt')}"
            tmp = path.with_suffix(path.suffix + ".tmp")
            acks.admit()
            tmp.write_text(self._render(item), encoding="utf-8")
            os.replace(tmp, path)
            result = SendResult(ok=True, provider_ref=f"file:{path.name}")
            acks.done(index, result)
            out.append(result)
        return out

    def _render(self, item: Outgoing) -> str:
        if self.name == "app":
            payload = {
                "message_key": item.message_key,
                "customer_id": item.customer_id,
                "type": item.message_type,
                "locale": item.locale,
                "title": item.subject,
                "body": item.body_text,
            }
            return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
        head = f"Message-Key: {item.message_key}\nType: {item.message_type}\n"
        head += f"Locale: {item.locale}\n"
        if item.subject:
            head += f"Subject: {item.subject}\n"
        return head + "\n" + item.body_text.rstrip("\n") + "\n"

    def keepalive(self) -> None:
        return None

    def close(self) -> None:
        return None
