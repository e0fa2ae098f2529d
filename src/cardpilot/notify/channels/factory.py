"""Channels from settings: a configured URL gives the real channel, else the outbox folder."""

from __future__ import annotations

from cardpilot.config import Settings
from cardpilot.notify.channels import Channel
from cardpilot.notify.channels.folder import FolderChannel
from cardpilot.notify.settings import NotifySettings


def channels_from_settings(
    settings: Settings, notify: NotifySettings | None = None
) -> dict[str, Channel]:
    notify = notify or NotifySettings()
    folder = notify.outbox_dir or settings.home / "outbox"
    channels: dict[str, Channel] = {}
    if notify.smtp_url:
        from cardpilot.notify.channels.smtp import SmtpChannel

        channels["email"] = SmtpChannel.from_url(notify.smtp_url)
    else:
        channels["email"] = FolderChannel("email", folder)
    if notify.smpp_url:
        from cardpilot.notify.channels.smpp import SmppChannel

        channels["sms"] = SmppChannel.from_url(notify.smpp_url)
    else:
        channels["sms"] = FolderChannel("sms", folder)
    if notify.push_url:
        from cardpilot.notify.channels.push import PushChannel

        channels["app"] = PushChannel.from_url(notify.push_url, notify.push_secret)
    else:
        channels["app"] = FolderChannel("app", folder)
    return channels
