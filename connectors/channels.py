"""Notification channels through apprise: WeCom, DingTalk, Feishu robots, SMTP mail, JSON webhooks.

:func:`send` delivers one message to a list of apprise URLs and raises :class:`SendError`
when any of them refuses it, so the outbox retries the message. The message's idempotency
key travels with it: as the ``X-Linli-Key`` header of JSON webhooks and of e-mail, so a
receiver can drop a repeat. A mail URL without ``to=`` sends to the message's recipient when
that is an e-mail address.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from urllib.parse import parse_qsl, quote, urlsplit

import apprise
from apprise.attachment.memory import AttachMemory

KEY_HEADER = "X-Linli-Key"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HEADER_SCHEMES = ("json", "jsons", "mailto", "mailtos")
_MAIL = ("mailto", "mailtos")

# apprise logs every refused delivery at WARNING; the outbox keeps the error instead.
logging.getLogger("apprise").setLevel(logging.ERROR)


class SendError(RuntimeError):
    """A channel refused or could not take a message."""


def address(url: str, recipient: str, key: str) -> str:
    """The URL with the message's key header and, for mail without ``to=``, its recipient.

    Parameters
    ----------
    url
        An apprise URL.
    recipient
        The message's recipient (used as ``to=`` of a mail URL when it is an address).
    key
        The idempotency key.

    Returns
    -------
    str
        The URL to notify.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    extra = []
    if scheme in _HEADER_SCHEMES:
        extra.append(f"+{KEY_HEADER}={quote(key, safe='')}")
    if scheme in _MAIL and "to" not in params and _EMAIL.match(recipient or ""):
        extra.append(f"to={quote(recipient, safe='@')}")
    if not extra:
        return url
    return url + ("&" if parts.query else "?") + "&".join(extra)


def send(
    urls: list[str],
    *,
    key: str,
    recipient: str,
    subject: str,
    body: str,
    attachments: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]] = (),
) -> None:
    """Deliver one message to every URL.

    Parameters
    ----------
    urls
        Apprise URLs (``wecombot://``, ``dingtalk://``, ``feishu://``, ``mailto://``, ``json://``).
    key
        The message's idempotency key (sent as the ``X-Linli-Key`` header where possible).
    recipient
        Who it is for.
    subject, body
        Title and text.
    attachments
        ``(filename, content)`` pairs; robots that cannot carry files get the text only.

    Raises
    ------
    SendError
        When a URL is invalid or any channel refused the message.
    """
    if not urls:
        raise SendError("no channel URL")
    ap = apprise.Apprise()
    for url in urls:
        if not ap.add(address(url, recipient, key)):
            raise SendError(f"apprise cannot use the URL {url.split('://', 1)[0]}://…")
    files = None
    if attachments:
        files = apprise.AppriseAttachment()
        for name, content in attachments:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            files.add(AttachMemory(content=bytes(content), name=name, mimetype=mime))
    ok = ap.notify(
        title=subject, body=body or subject, body_format=apprise.NotifyFormat.TEXT, attach=files
    )
    if not ok:
        raise SendError(f"the channel refused the message ({len(urls)} URL(s))")
