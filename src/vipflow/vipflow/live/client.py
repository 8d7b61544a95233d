"""A minimal client of Foxglove's WebSocket protocol (what the Foxglove app speaks): a headless
viewer for tests and benchmarks (``pip install websockets protobuf``).

Handshake with the ``foxglove.sdk.v1`` subprotocol, read ``serverInfo`` and ``advertise``,
subscribe to topics, and collect binary ``MessageData`` frames (opcode 1: subscription id u32,
log time u64, payload), all little-endian.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from dataclasses import dataclass, field

SUBPROTOCOL = "foxglove.sdk.v1"


@dataclass
class Received:
    topic: str
    log_time: int
    payload: bytes


@dataclass
class FoxgloveClient:
    url: str
    channels: dict[str, dict] = field(default_factory=dict)  # topic -> advertised channel
    server_info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from websockets.sync.client import connect

        self.ws = connect(self.url, subprotocols=[SUBPROTOCOL], open_timeout=10).__enter__()
        self._subs: dict[int, str] = {}

    def wait_for_channels(self, topics: list[str], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not set(topics) <= set(self.channels) and time.monotonic() < deadline:
            self._handle(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        missing = set(topics) - set(self.channels)
        assert not missing, f"not advertised: {missing}; got {sorted(self.channels)}"

    def subscribe(self, topics: list[str]) -> None:
        subs = []
        for topic in topics:
            sub_id = len(self._subs) + 1
            self._subs[sub_id] = topic
            subs.append({"id": sub_id, "channelId": self.channels[topic]["id"]})
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))

    def receive(self, until, timeout_s: float = 60.0) -> list[Received]:
        """Collect messages until ``until(messages)`` is true or the timeout passes."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout_s
        while not until(got) and time.monotonic() < deadline:
            try:
                raw = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            msg = self._handle(raw)
            if msg is not None:
                got.append(msg)
        return got

    def _handle(self, raw) -> Received | None:
        if isinstance(raw, str):
            doc = json.loads(raw)
            if doc.get("op") == "serverInfo":
                self.server_info = doc
            elif doc.get("op") == "advertise":
                for ch in doc["channels"]:
                    self.channels[ch["topic"]] = ch
            return None
        if raw[0] == 1:
            sub_id, log_time = struct.unpack_from("<IQ", raw, 1)
            return Received(self._subs[sub_id], log_time, bytes(raw[13:]))
        return None

    def close(self) -> None:
        self.ws.close()


def protobuf_class(channel: dict):
    """The message class of an advertised protobuf channel (schema = base64 FileDescriptorSet)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"]))
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(channel["schemaName"]))


def watch(url: str, ready, stop, received, timeout_s: float = 60.0) -> None:
    """A viewer in its own process (as the Foxglove app is): subscribe to every advertised
    channel, set ``ready``, read until ``stop`` is set; the message count goes to ``received``."""
    client = FoxgloveClient(url)
    deadline = time.monotonic() + timeout_s
    while not client.channels and time.monotonic() < deadline:
        client._handle(client.ws.recv(timeout=timeout_s))
    time.sleep(0.2)  # let the rest of the advertisements arrive
    client.receive(lambda _: True, timeout_s=0.2)
    client.subscribe(sorted(client.channels))
    ready.set()
    count = 0
    while not stop.is_set():
        count += len(client.receive(lambda m: len(m) >= 50, timeout_s=0.2))
    received.value = count
    client.close()
