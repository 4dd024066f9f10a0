"""A small reader of ClickHouse's Native format, as clients decode it: blocks of columns, with the
BlockInfo header and per-column serialization byte when a `client_protocol_version` was sent.

Enough of the type system for the tests: integers, floats, Bool, String, FixedString, Date,
DateTime, DateTime64, Nullable(T) and LowCardinality(String / Nullable(String)).
"""

import re
import struct

# From this revision on each column carries a custom-serialization flag byte after its type name.
REVISION_WITH_CUSTOM_SERIALIZATION = 54454

FIXED = {
    "UInt8": "<B", "UInt16": "<H", "UInt32": "<I", "UInt64": "<Q",
    "Int8": "<b", "Int16": "<h", "Int32": "<i", "Int64": "<q",
    "Float32": "<f", "Float64": "<d", "Bool": "<?", "Date": "<H", "DateTime": "<I",
}


class Reader:
    def __init__(self, data):
        self.data = memoryview(bytes(data))
        self.at = 0

    def done(self):
        return self.at >= len(self.data)

    def take(self, n):
        if self.at + n > len(self.data):
            raise ValueError(f"truncated Native data: need {n} bytes at offset {self.at}, have {len(self.data) - self.at}")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return bytes(chunk)

    def varint(self):
        shift = result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError(f"varint too long at offset {self.at}")

    def string(self):
        return self.take(self.varint()).decode("utf-8")

    def fixed(self, fmt, count):
        size = struct.calcsize(fmt)
        raw = self.take(size * count)
        return [v[0] for v in struct.iter_unpack(fmt, raw)]


def _inner(type_name, wrapper):
    m = re.fullmatch(wrapper + r"\((.*)\)", type_name)
    return m.group(1) if m else None


def read_column(r, type_name, rows):
    """Values of one column: Python ints, floats, strs, bools or None. DateTime64 values are the
    raw ticks (int); DateTime and Date are seconds and days since the epoch."""
    inner = _inner(type_name, "Nullable")
    if inner is not None:
        nulls = r.take(rows)
        values = read_column(r, inner, rows)
        return [None if n else v for n, v in zip(nulls, values)]
    inner = _inner(type_name, "LowCardinality")
    if inner is not None:
        return read_low_cardinality(r, inner, rows)
    if type_name in FIXED:
        return r.fixed(FIXED[type_name], rows)
    if type_name.startswith("DateTime64"):
        return r.fixed("<q", rows)
    if type_name.startswith("DateTime("):
        return r.fixed("<I", rows)
    if type_name == "String":
        return [r.string() for _ in range(rows)]
    size = _inner(type_name, "FixedString")
    if size is not None:
        return [r.take(int(size)).rstrip(b"\0").decode() for _ in range(rows)]
    raise ValueError(f"Native reader: unsupported type {type_name!r}")


def read_low_cardinality(r, inner, rows):
    """LowCardinality: key-serialization version, then per part index-type flags, dictionary
    ('additional keys') and indexes. For LowCardinality(Nullable(T)) dictionary entry 0 is NULL."""
    if rows == 0:
        return []
    version = r.fixed("<Q", 1)[0]
    if version != 1:
        raise ValueError(f"LowCardinality key serialization version {version}, expected 1")
    flags = r.fixed("<Q", 1)[0]
    index_fmt = ["<B", "<H", "<I", "<Q"][flags & 0xFF]
    if not flags & (1 << 9):
        raise ValueError("LowCardinality without additional keys (global dictionary) is not produced over HTTP")
    nullable = _inner(inner, "Nullable")
    keys_type = nullable if nullable is not None else inner
    keys = read_column(r, keys_type, r.fixed("<Q", 1)[0])
    count = r.fixed("<Q", 1)[0]
    if count != rows:
        raise ValueError(f"LowCardinality has {count} indexes for {rows} rows")
    indexes = r.fixed(index_fmt, count)
    if nullable is not None:
        return [None if i == 0 else keys[i] for i in indexes]
    return [keys[i] for i in indexes]


def read_blocks(data, revision=0):
    """Every block: a list of (name, type, values) per block."""
    r = Reader(data)
    blocks = []
    while not r.done():
        if revision > 0:
            read_block_info(r)
        columns = r.varint()
        rows = r.varint()
        block = []
        for _ in range(columns):
            name = r.string()
            type_name = r.string()
            if revision >= REVISION_WITH_CUSTOM_SERIALIZATION:
                custom = r.take(1)[0]
                if custom != 0:
                    raise ValueError(f"column {name}: custom serialization {custom} not supported")
            block.append((name, type_name, read_column(r, type_name, rows)))
        blocks.append(block)
    return blocks


def read_block_info(r):
    """BlockInfo: field 1 is_overflows (u8), field 2 bucket_num (i32), field 0 ends."""
    while True:
        field = r.varint()
        if field == 0:
            return
        if field == 1:
            r.take(1)
        elif field == 2:
            r.take(4)
        else:
            raise ValueError(f"unknown BlockInfo field {field}")


def read_table(data, revision=0):
    """All blocks joined: (names, types, rows as tuples)."""
    blocks = read_blocks(data, revision)
    if not blocks:
        return [], [], []
    names = [c[0] for c in blocks[0]]
    types = [c[1] for c in blocks[0]]
    rows = []
    for block in blocks:
        if [c[0] for c in block] != names or [c[1] for c in block] != types:
            raise ValueError("blocks disagree on the header")
        rows.extend(zip(*[c[2] for c in block]))
    return names, types, rows
