#!/usr/bin/env python3
"""Regenerates the output-format golden files from real ClickHouse (the `chdb` package).

Run from anywhere: `pip install chdb==4.4.0 && python3 sql/tests/format_golden/generate.py`.
The datasets here must stay identical to the ones built in `sql/src/format/tests.rs`; the
Rust tests compare Ronto's output with these files byte for byte.
"""
import json
import math
import os
import sys

import chdb

HERE = os.path.dirname(os.path.abspath(__file__))

# Deterministic output: no elapsed time in JSON, timestamps printed in UTC.
BASE_SETTINGS = "output_format_write_statistics=0, session_timezone='UTC'"

# The column types Ronto has, in every formatting-relevant variant.
ALL_TYPES = """
SELECT i, u, f, b, s, t, ni, nu, nf, nb, ns, nt, NULL AS n
FROM values(
    'i Int64, u UInt64, f Float64, b Bool, s String, t DateTime64(9),
     ni Nullable(Int64), nu Nullable(UInt64), nf Nullable(Float64), nb Nullable(Bool),
     ns Nullable(String), nt Nullable(DateTime64(9))',
    (0, 0, 1.5, true, 'plain', '2025-11-20 14:30:00.123456789',
     NULL, 3, NULL, NULL, NULL, NULL),
    (-1, 18446744073709551615, nan, false, 'tab\\there', '1969-12-31 23:59:59.999999999',
     5, NULL, 2.25, true, 'x', '1970-01-01 00:00:00.000000001'),
    (9223372036854775807, 1, inf, true, 'quote \\' dq " bs \\\\', '1970-01-01 00:00:00.000000000',
     NULL, NULL, nan, false, '', NULL),
    (-9223372036854775808, 7, -inf, false, 'nl\\nx €日本', '1950-01-01 00:00:00.000000000',
     -7, 18446744073709551615, NULL, NULL, NULL, '2262-04-11 23:47:16.854775807'),
    (42, 1000000, -0.0, true, '', '2100-01-01 00:00:00.000000001',
     NULL, 0, 1e-7, NULL, 'a,b', NULL))
"""

# The narrow integer types, at the ends of their ranges, plain and nullable (the small column
# last: Pretty appends a "-- 4.29 billion" tip to rows whose last value is large).
NARROW_INTS = """
SELECT i8, i16, i32, u8, u16, u32, nu32, ni16
FROM values(
    'i8 Int8, i16 Int16, i32 Int32, u8 UInt8, u16 UInt16, u32 UInt32,
     ni16 Nullable(Int16), nu32 Nullable(UInt32)',
    (0, 0, 0, 0, 0, 0, NULL, 7),
    (-128, -32768, -2147483648, 255, 65535, 4294967295, -1, NULL),
    (127, 32767, 2147483647, 1, 256, 65536, 32767, 4294967295),
    (-1, 300, -70000, 44, 1000, 3000000000, NULL, 0))
"""

FLOATS = [
    "1.5", "-0.0", "0.0", "nan", "inf", "-inf", "1e300", "1e-7", "1e-6", "0.1", "1e21", "1e20",
    "123456789012345680.0", "0.00001", "5e-324", "1.7976931348623157e308", "1.2345e-7",
    "12345678901234567890.0", "0.3", "-2.5", "1.0/3", "100.0", "-1e-300", "2.5e15",
]

# Byte strings with every character the text formats treat specially.
STRINGS = [
    b"plain", b"", b"tab\there", b"nl\nx", b"cr\rx", b"back\\slash", b"single'quote",
    b'double"quote', b"nul\x00x", b"bs\x08ff\x0cvt\x0b", b"ctl\x01\x1b\x1f\x7f", b"sl/ash",
    "€日本😀".encode(), "ls\u2028ps\u2029".encode(), b"a,b;c", b"NULL", b"\\N", b" pad ",
    b"bad\xff\xfeutf8", b"a\xe2\x82A", b"\xc0\xafz", b"\xed\xa0\x80z", "\ufffd".encode() + b"\xffz",
    b"\xf4\x90\x80\x80z", b"\x80z\x80", b"end\xe2\x82",
]
STRING_COLUMN = 's "x"\t/'

TEXT_FORMATS = [
    "TabSeparated", "TabSeparatedWithNames", "TabSeparatedWithNamesAndTypes",
    "TabSeparatedRaw", "TabSeparatedRawWithNames", "TabSeparatedRawWithNamesAndTypes",
    "CSV", "CSVWithNames", "CSVWithNamesAndTypes",
    "JSON", "JSONCompact", "JSONStrings", "JSONCompactStrings",
    "JSONEachRow", "JSONStringsEachRow", "JSONCompactEachRow",
    "JSONCompactEachRowWithNames", "JSONCompactEachRowWithNamesAndTypes",
    "JSONCompactStringsEachRow", "Values",
    "Native", "RowBinary", "RowBinaryWithNames", "RowBinaryWithNamesAndTypes", "Null",
    "Pretty", "PrettyCompact",
]
JSON_FORMATS = [f for f in TEXT_FORMATS if f.startswith("JSON")]


def sql_string(raw: bytes) -> str:
    """A ClickHouse string literal holding exactly `raw` (non-ASCII UTF-8 passes through)."""
    out = []
    text = raw.decode("utf-8", errors="surrogateescape")
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            out.append("\\x%02x" % (code - 0xDC00))
        elif ch in "\\'":
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append("\\x%02x" % code)
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


def run(sql: str, fmt: str, settings: str = "") -> bytes:
    all_settings = BASE_SETTINGS + (", " + settings if settings else "")
    return chdb.query(f"{sql} SETTINGS {all_settings} FORMAT {fmt}", "CSV").bytes()


def write(name: str, data: bytes) -> None:
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def arrow_description(data: bytes, stream: bool) -> str:
    """Schema and values of an Arrow IPC payload as JSON, for a reader-side comparison."""
    import pyarrow as pa

    reader = pa.ipc.open_stream(data) if stream else pa.ipc.open_file(data)
    table = reader.read_all()
    fields = [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in table.schema]
    columns = []
    for col in table.columns:
        values = []
        for v in col.cast(col.type).to_pylist() if not pa.types.is_timestamp(col.type) else col.cast(pa.int64()).to_pylist():
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = repr(v)
            values.append(v)
        columns.append(values)
    return json.dumps({"fields": fields, "columns": columns}, ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    floats_sql = "SELECT arrayJoin([" + ", ".join(f"toFloat64({v})" for v in FLOATS) + "]) AS f"
    strings_sql = (
        "SELECT arrayJoin([" + ", ".join(sql_string(s) for s in STRINGS) + "]) AS `"
        + STRING_COLUMN.replace("\t", "\\t") + "`"
    )
    empty_sql = ALL_TYPES + " WHERE 0"
    for fmt in TEXT_FORMATS:
        write(f"all_types.{fmt}", run(ALL_TYPES, fmt))
        write(f"floats.{fmt}", run(floats_sql, fmt))
        write(f"strings.{fmt}", run(strings_sql, fmt))
        write(f"empty.{fmt}", run(empty_sql, fmt))
        write(f"narrow_ints.{fmt}", run(NARROW_INTS, fmt))
    for fmt in JSON_FORMATS:
        write(f"all_types.quote64.{fmt}", run(ALL_TYPES, fmt, "output_format_json_quote_64bit_integers=1"))
        write(f"narrow_ints.quote64.{fmt}", run(NARROW_INTS, fmt, "output_format_json_quote_64bit_integers=1"))
        write(f"floats.quote_denormals.{fmt}", run(floats_sql, fmt, "output_format_json_quote_denormals=1"))
    for fmt in ["JSON", "JSONCompact"]:
        write(f"all_types.limit3.{fmt}", run(ALL_TYPES + " LIMIT 3", fmt))
    for fmt, stream in [("Arrow", False), ("ArrowStream", True)]:
        write(f"all_types.{fmt}.json", arrow_description(run(ALL_TYPES, fmt), stream).encode())
        write(f"empty.{fmt}.json", arrow_description(run(empty_sql, fmt), stream).encode())
        write(f"narrow_ints.{fmt}.json", arrow_description(run(NARROW_INTS, fmt), stream).encode())
    print("chdb", chdb.__version__, "ClickHouse", chdb.query("SELECT version()", "CSV").bytes().decode().strip(),
          file=sys.stderr)


if __name__ == "__main__":
    main()
