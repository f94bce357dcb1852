"""Where FLAC frames start (RFC 9639, section 9.1), so that chunk borders in a FLAC stream fall on them.

A FLAC frame starts with a 15-bit sync code (0xFFF8, the last bit the blocking strategy), a header whose
fields have a few reserved values, a UTF-8-style coded frame or sample number, optional block size and
sample rate bytes, and a CRC-8 of the header. Frames are coded independently: two takes exported by one
encoder with the same settings hold byte-identical frames wherever their samples are the same, at the
same sample positions (the header's frame number is the same too).

A sync code can also occur inside a frame's coded samples; the header's reserved values and its CRC-8
reject all but about one in a few thousand of those. A false start only moves a chunk border (costing
some sharing, never correctness: chunks keep the bytes as they came).
"""

from __future__ import annotations

_SYNC_CODES = (b"\xff\xf8", b"\xff\xf9")  # fixed and variable block size
_LONGEST_HEADER = 16  # sync 2, codes 2, coded number up to 7, block size 2, sample rate 2, CRC-8 1


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8 = _crc8_table()


def frame_header_at(data: bytes | bytearray | memoryview, position: int) -> bool:
    """Whether a valid FLAC frame header (sync code, no reserved values, matching CRC-8) starts at `position`."""
    header = bytes(data[position : position + _LONGEST_HEADER])
    if len(header) < 6 or header[:2] not in _SYNC_CODES:
        return False
    block_size, sample_rate = header[2] >> 4, header[2] & 0x0F
    channels, sample_size = header[3] >> 4, (header[3] >> 1) & 0x07
    if block_size == 0 or sample_rate == 0x0F or channels > 10 or sample_size == 3 or header[3] & 1:
        return False
    end = _after_coded_number(header, 4)
    if end is None:
        return False
    end += {6: 1, 7: 2}.get(block_size, 0) + {12: 1, 13: 2, 14: 2}.get(sample_rate, 0)
    if end >= len(header):
        return False
    crc = 0
    for byte in header[:end]:
        crc = _CRC8[crc ^ byte]
    return crc == header[end]


def _after_coded_number(header: bytes, position: int) -> int | None:
    """Where the UTF-8-style coded frame or sample number starting at `position` ends (None if malformed)."""
    first = header[position]
    leading_ones = 8 - (~first & 0xFF).bit_length()
    if leading_ones == 1 or leading_ones == 8:
        return None
    length = max(leading_ones, 1)
    continuation = header[position + 1 : position + length]
    if len(continuation) < length - 1 or any(byte & 0xC0 != 0x80 for byte in continuation):
        return None
    return position + length


def last_frame_start(data: bytes | bytearray, low: int, high: int) -> int | None:
    """The last position in [low, high] of `data` where a FLAC frame starts, None when there is none."""
    end = high + 2  # a sync code starting at `high` ends there
    while end >= low + 2:
        candidate = max(data.rfind(code, low, end) for code in _SYNC_CODES)
        if candidate < 0:
            return None
        if frame_header_at(data, candidate):
            return candidate
        end = candidate + 1
    return None
