"""A real SMTP server on loopback (aiosmtpd) that records what it accepts.

Scripted answers make it refuse messages (451, 550); ``delay`` makes it slow, which the
kill drill needs to stop a sender mid-batch. A message counts as received only when the
server answers 250 to it: if the client vanishes while the server is still thinking, the
handler is cancelled and nothing is recorded, as a real mail server would drop it.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections import Counter
from collections.abc import Callable
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.port = free_port()
        self.delay = delay
        self.received: list[Message] = []
        self.envelope_recipients: list[list[str]] = []
        # Answers to the next DATA commands, in order, instead of "250 OK".
        self.data_responses: list[str] = []
        # Recipient address → refusal at RCPT TO.
        self.refused_recipients: dict[str, str] = {}
        # Called (in a worker thread) while the server holds a message before answering.
        self.on_data: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # --- aiosmtpd handler hooks ---------------------------------------------------------
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.refused_recipients.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        hook, self.on_data = self.on_data, None
        if hook is not None:
            await asyncio.to_thread(hook)
        with self._lock:
            if self.data_responses:
                return self.data_responses.pop(0)
            self.received.append(email.message_from_bytes(envelope.content))
            self.envelope_recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    # --- control ------------------------------------------------------------------------
    def start(self) -> None:
        # A stopped controller closes its event loop, so every start needs a new one.
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="sink.test"
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def message_ids(self) -> list[str]:
        with self._lock:
            return [message["Message-ID"] for message in self.received]

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in Counter(self.message_ids()).items() if n > 1}
