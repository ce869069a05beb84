"""Length-prefixed JSON frames over pipes: host <-> worker, and child -> worker.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8
JSON. Frames from the sandboxed child are untrusted: ``FrameReader`` caps their
size and raises ``ValueError`` on anything malformed. Standard library only.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

_HEADER = struct.Struct(">I")


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write a whole frame to a blocking fd."""
    data = memoryview(encode(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_frame(fd: int, max_bytes: int = 1 << 30) -> dict[str, Any] | None:
    """Read one frame from a blocking fd; ``None`` at end of file."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > max_bytes:
        raise ValueError(f"frame of {length} bytes exceeds {max_bytes}")
    body = _read_exactly(fd, length)
    if body is None:
        return None
    return _decode(body)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = os.read(fd, n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _decode(body: bytes) -> dict[str, Any]:
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("frame is not a JSON object")
    return message


class FrameReader:
    """Incremental decoder for frames arriving in arbitrary chunks."""

    def __init__(self, max_bytes: int) -> None:
        self._buffer = bytearray()
        self._max_bytes = max_bytes
        self._seen = 0

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._seen += len(chunk)
        if self._seen > self._max_bytes:
            raise ValueError(f"more than {self._max_bytes} bytes of frames")
        self._buffer += chunk
        messages = []
        while len(self._buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            messages.append(_decode(bytes(self._buffer[_HEADER.size : end])))
            del self._buffer[:end]
        return messages
