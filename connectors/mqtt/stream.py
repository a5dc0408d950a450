"""A paho-mqtt 2.x client for streams of QoS 0/1 messages: large reads, batched PUBACKs.

Optional: the ingester and the publisher use it only with ``client=stream`` in
``LINLI_MQTT_URL`` (:class:`connectors.mqtt.settings.MqttSettings`); the default is the
stock paho client. It overrides private methods of paho 2.2 (pinned in requirements.txt);
``tests/connectors/test_mqtt.py`` checks that it delivers exactly what paho itself decodes,
and ``tests/connectors/test_mqtt_clients.py`` that it stores the same messages as the stock
client, so a paho upgrade that changes those internals fails there first.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt import _packet
from paho.mqtt.enums import MQTTErrorCode

_READ_SIZE = 256 * 1024
_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")


class StreamClient(paho.Client):
    """A paho client for streams of QoS 0/1 messages (the ingester, the publisher).

    paho reads every packet with at least three ``recv`` calls and returns to ``select``
    after each one, builds an MQTT 5 ``Properties`` object for every PUBLISH, and sends
    every PUBACK as its own write, waking its loop through a socket pair each time. This
    client reads the socket 256 KiB at a time and handles every complete packet of a read
    in one pass; PUBLISH packets (QoS 0/1) go straight to :attr:`on_raw_message` as
    ``(topic, payload, packet id)`` when that is set, without paho's message objects. The
    pass's PUBACKs leave in one write, then :attr:`on_burst` is called (network thread), so
    the application can hand the pass's messages on as one list. Everything else (CONNACK,
    SUBACK, PUBACK, QoS 2, a PUBLISH cut by the end of a read) is handled by paho.

    With ``manual_ack``, :meth:`ack_batch` acknowledges many messages in one write from any
    thread. Every (re)connection starts a new :attr:`epoch`; acknowledgements for messages
    of an earlier connection are not sent (the broker redelivers those messages and the
    application recognises them), so a PUBACK never reaches a connection whose packet
    identifiers it does not belong to.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rdata = b""
        self._rpos = 0
        self._burst_acks: list[int] = []
        self._burst_thread: int | None = None
        self._ack_lock = threading.Lock()
        self._v5 = self._protocol == paho.MQTTv5
        self.epoch = 0
        self.on_burst: Callable[[], None] | None = None
        self.on_raw_message: Callable[[str, bytes, int], None] | None = None

    # paho internals used (paho-mqtt 2.2): _sock_recv, _sock_close, _send_puback and
    # _handle_publish are overridden, _in_packet, _packet_queue and _msgtime_mutex used;
    # tests/connectors/test_mqtt.py checks the results against paho's own decoding.
    def _sock_recv(self, bufsize: int) -> bytes:
        data, pos = self._rdata, self._rpos
        if pos >= len(data):
            data = super()._sock_recv(_READ_SIZE)  # BlockingIOError when nothing is there
            if len(data) <= bufsize:
                self._rdata, self._rpos = b"", 0
                return data
            self._rdata, pos = data, 0
        self._rpos = pos + bufsize
        return data[pos : pos + bufsize]

    def _sock_close(self) -> None:
        self._rdata, self._rpos = b"", 0
        super()._sock_close()

    def _send_puback(self, mid: int) -> MQTTErrorCode:
        if self._burst_thread == threading.get_ident():
            self._burst_acks.append(mid)  # sent together at the end of the pass
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._send_puback(mid)

    def _handle_publish(self) -> MQTTErrorCode:
        """A PUBLISH that paho read (the first of a read, or one cut by its end)."""
        header = self._in_packet["command"]
        if self.on_raw_message is None or (header & 0x06) > 2:
            return super()._handle_publish()
        r = _packet.decode_publish(header, self._in_packet["packet"], self._protocol)
        self.on_raw_message(r.topic.decode("utf-8", "replace"), bytes(r.payload), r.mid)
        if r.qos == 1 and not self._manual_ack:
            return self._send_puback(r.mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _take_publishes(self) -> None:
        """Hand on every complete QoS 0/1 PUBLISH at the head of the read buffer."""
        data, pos, end = self._rdata, self._rpos, len(self._rdata)
        deliver = self.on_raw_message
        assert deliver is not None
        acks = None if self._manual_ack else self._burst_acks
        v5 = self._v5
        start = pos
        while pos < end:
            header = data[pos]
            if (header & 0xF0) != 0x30 or (header & 0x06) > 2:  # not PUBLISH, or QoS 2
                break
            # Remaining length: 1-4 bytes, 7 bits each.
            length, shift, i = 0, 0, pos + 1
            while i < end and i - pos <= 4:
                byte = data[i]
                length |= (byte & 0x7F) << shift
                shift += 7
                i += 1
                if not byte & 0x80:
                    break
            else:
                break  # cut by the end of the read (or malformed: paho decides)
            pkt_end = i + length
            if pkt_end > end:
                break  # cut by the end of the read: paho reads the rest
            t_end = i + 2 + (data[i] << 8 | data[i + 1]) if length >= 2 else pkt_end + 1
            p = t_end + (2 if header & 0x06 else 0)
            if t_end == i + 2 or p > pkt_end:
                break  # empty topic (v5 topic alias) or malformed: paho's job
            mid = data[t_end] << 8 | data[t_end + 1] if header & 0x06 else 0
            if v5:  # skip the properties: their length is a variable byte integer
                plen, shift = 0, 0
                while p < pkt_end and shift < 28:
                    byte = data[p]
                    p += 1
                    plen |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                else:
                    break
                p += plen
                if p > pkt_end:
                    break
            pos = pkt_end
            deliver(data[i + 2 : t_end].decode("utf-8", "replace"), data[p:pkt_end], mid)
            if mid and acks is not None:
                acks.append(mid)
            self._rpos = pos
        if self._rpos > start:
            now = paho.time_func()
            with self._msgtime_mutex:
                self._last_bytes_received = now
                self._last_msg_in = now

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle every complete packet already read, then flush PUBACKs and the burst."""
        self._burst_thread = threading.get_ident()
        try:
            rc = super().loop_read(max_packets)  # one packet, filling the read buffer
            while (
                rc == MQTTErrorCode.MQTT_ERR_SUCCESS
                and self._sock is not None
                and self._rpos < len(self._rdata)
            ):
                if self.on_raw_message is not None and self._in_packet["command"] == 0:
                    self._take_publishes()
                    if self._rpos >= len(self._rdata):
                        break
                rc = super().loop_read(max_packets)  # another kind, or a cut PUBLISH
        finally:
            self._burst_thread = None
            if self.on_burst is not None:
                self.on_burst()
            acks, self._burst_acks = self._burst_acks, []
            if acks and self._sock is not None:
                self._queue_pubacks(acks)
        return rc

    def reconnect(self) -> MQTTErrorCode:
        """Start a new epoch, then reconnect (paho clears unsent packets)."""
        with self._ack_lock:
            self.epoch += 1
        return super().reconnect()

    def _queue_pubacks(self, mids: list[int]) -> None:
        packet = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, m) for m in mids])
        self._packet_queue(_PUBACK, packet, 0, 0)

    def ack_batch(self, epoch: int, mids: list[int]) -> bool:
        """Acknowledge QoS 1 messages (``manual_ack``) received in connection ``epoch``.

        Parameters
        ----------
        epoch
            :attr:`epoch` when the messages arrived.
        mids
            Their packet identifiers, in the order they arrived (0 for QoS 0: skipped).

        Returns
        -------
        bool
            ``False`` when the connection changed since (nothing is sent).
        """
        mids = [m for m in mids if m]
        with self._ack_lock:
            if epoch != self.epoch or self._sock is None:
                return False
            if mids:
                self._queue_pubacks(mids)
        return True
