"""MCAP checksums: written when an episode is closed, verified whenever its messages are read.

rosbags' MCAP writer leaves every CRC field 0 ("not available"), so a flipped bit in a finished
episode went unnoticed and was trained on. MCAP has three CRCs that together cover every byte of
a file: each chunk's records, the whole data section (records outside chunks: header, message
indexes, the rosbag2 metadata record), and the summary section up to the footer's own field.
``seal`` fills them in once the writer has closed the file; ``read_messages`` streams the file
with the ``mcap`` library verifying chunk and data-section CRCs, and ``check_summary`` verifies
the summary CRC. Episodes recorded before sealing existed (format 1) carry zeros and are read
unverified; sealed ones (format 2) must carry all three.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from mcap.exceptions import McapError
from mcap.records import Channel, Message
from mcap.stream_reader import StreamReader

from vipflow.episodes.errors import CorruptBagError
from vipflow.errors import one_line

MAGIC = b"\x89MCAP0\r\n"
OP_CHUNK, OP_DATA_END, OP_FOOTER = 0x06, 0x0F, 0x02
_RECORD_HEAD = 9  # opcode (1) + length (8)
_FOOTER = _RECORD_HEAD + 20  # summary_start (8), summary_offset_start (8), summary_crc (4)
_DATA_END = _RECORD_HEAD + 4
_CHUNK_CRC = _RECORD_HEAD + 24  # after message_start_time, message_end_time, uncompressed_size
# Anything beyond this is a damaged length field, not a record (chunks are ~1 MiB).
_RECORD_LIMIT = 2**31


def _damaged(path: Path, what: str) -> CorruptBagError:
    return CorruptBagError(
        f"{path} is damaged ({what}); its bytes changed after recording (bad disk, incomplete copy, "
        "or an edit). Copy the episode again from its source, or delete it "
        f"(`vipflow episodes delete {path.parent}`)"
    )


def _layout(buf: mmap.mmap | bytes, path: Path) -> tuple[int, int, int]:
    """(data_end offset, summary_start, footer offset) of a complete MCAP file."""
    size = len(buf)
    footer = size - len(MAGIC) - _FOOTER
    if size < 2 * len(MAGIC) + _FOOTER + _DATA_END or buf[footer] != OP_FOOTER:
        raise _damaged(path, "no footer record before the closing magic")
    summary_start = struct.unpack_from("<Q", buf, footer + _RECORD_HEAD)[0]
    data_end = (summary_start or footer) - _DATA_END
    if not len(MAGIC) <= data_end < footer or buf[data_end] != OP_DATA_END:
        raise _damaged(path, f"the footer's summary offset {summary_start} does not follow a data-end record")
    return data_end, summary_start or footer, footer


def seal(path: Path) -> None:
    """Fill in every CRC of an uncompressed MCAP file written by rosbags, in place."""
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as buf:
        data_end, summary_start, footer = _layout(buf, path)
        pos = len(MAGIC)
        while pos < data_end:
            op = buf[pos]
            length = struct.unpack_from("<Q", buf, pos + 1)[0]
            body = pos + _RECORD_HEAD
            if op == OP_CHUNK:
                comp_len = struct.unpack_from("<I", buf, body + 28)[0]
                if comp_len:
                    raise ValueError(f"{path}: compressed chunks are not written by vipflow")
                records = body + 28 + 4 + 8  # compression string (empty), compressed size
                size = struct.unpack_from("<Q", buf, records - 8)[0]
                struct.pack_into("<I", buf, pos + _CHUNK_CRC, zlib.crc32(buf[records : records + size]))
            pos = body + length
        struct.pack_into("<I", buf, data_end + _RECORD_HEAD, zlib.crc32(buf[:data_end]))
        summary_crc = zlib.crc32(buf[summary_start : footer + _FOOTER - 4])
        struct.pack_into("<I", buf, footer + _FOOTER - 4, summary_crc)
        buf.flush()


def check_summary(path: Path, *, required: bool) -> None:
    """Verify the summary CRC (and, if ``required``, that the file was sealed at all)."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            data_end, summary_start, footer = _layout(buf, path)
            stored = struct.unpack_from("<I", buf, footer + _FOOTER - 4)[0]
            data_crc = struct.unpack_from("<I", buf, data_end + _RECORD_HEAD)[0]
            if required and not (stored and data_crc):
                raise _damaged(path, "its checksums were removed")
            if stored and zlib.crc32(buf[summary_start : footer + _FOOTER - 4]) != stored:
                raise _damaged(path, "summary checksum mismatch")
    except (OSError, ValueError, struct.error) as exc:
        raise _damaged(path, f"unreadable: {one_line(exc)}") from exc


def read_messages(path: Path, topics: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
    """(topic, log time ns, raw CDR) of ``topics`` in file order, every chunk CRC verified as it is
    read and the data-section CRC at the end of the pass; any damage is a CorruptBagError."""
    wanted = set(topics)
    channels: dict[int, str] = {}
    try:
        with open(path, "rb") as f:
            for rec in StreamReader(f, validate_crcs=True, record_size_limit=_RECORD_LIMIT).records:
                if isinstance(rec, Message):
                    topic = channels.get(rec.channel_id)
                    if topic is None:
                        raise _damaged(path, f"a message on unknown channel {rec.channel_id}")
                    if topic in wanted:
                        yield topic, int(rec.log_time), rec.data
                elif isinstance(rec, Channel):
                    channels[rec.id] = rec.topic
    except CorruptBagError:
        raise
    except (McapError, ValueError, struct.error, UnicodeDecodeError, OSError, MemoryError, EOFError) as exc:
        raise _damaged(path, one_line(exc, 160)) from None
