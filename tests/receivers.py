"""Real local receivers for the outbox tests: an HTTP webhook and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from connectors.broker import free_port


@dataclass
class Hit:
    """One request the webhook accepted."""

    path: str
    key: str | None
    payload: dict

    @property
    def title(self) -> str:
        return self.payload.get("title", "")

    @property
    def message(self) -> str:
        return self.payload.get("message", "")

    def files(self) -> dict[str, bytes]:
        return {
            a["filename"]: base64.b64decode(a["base64"])
            for a in self.payload.get("attachments", [])
        }


@dataclass
class WebhookReceiver:
    """A JSON webhook in a thread; refuses the first ``fail_first`` requests with HTTP 500."""

    fail_first: int = 0
    delay_s: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self) -> None:
        recv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if recv.delay_s:
                    time.sleep(recv.delay_s)
                with recv._lock:
                    if recv.refused < recv.fail_first:
                        recv.refused += 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    recv.hits.append(
                        Hit(self.path, self.headers.get("X-Linli-Key"), json.loads(data))
                    )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        """The apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.server.server_port}{path}"

    def wait(self, n: int, timeout: float = 30.0) -> list[Hit]:
        """Wait until ``n`` messages arrived; return them."""
        deadline = time.time() + timeout
        while len(self.hits) < n and time.time() < deadline:
            time.sleep(0.05)
        return list(self.hits)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """An aiosmtpd server on a free port that keeps every accepted mail."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        recv = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                recv.mails.append(msg)  # type: ignore[arg-type]
                recv.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self, to: str | None = None) -> str:
        """A plain-SMTP apprise URL of this server (``to=`` omitted: the recipient is used)."""
        base = f"mailto://127.0.0.1:{self.port}?from=linli@example.com&mode=insecure"
        return base + (f"&to={to}" if to else "")

    def wait(self, n: int, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.time() + timeout
        while len(self.mails) < n and time.time() < deadline:
            time.sleep(0.05)
        return list(self.mails)

    def close(self) -> None:
        self.controller.stop()


def mail_files(msg: EmailMessage) -> dict[str, bytes]:
    """Attachments of a received mail by file name."""
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in msg.iter_attachments()
        if part.get_filename()
    }


def mail_text(msg: EmailMessage) -> str:
    """The text body of a received mail."""
    body = msg.get_body(("plain", "html"))
    return body.get_content() if body is not None else ""
