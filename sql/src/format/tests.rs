//! Output formats against ClickHouse's own bytes (golden files made by chdb, see
//! `sql/tests/format_golden/README.md`), plus streaming, option, Arrow read-back and Native
//! revision checks.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampNanosecondType, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType as ArrowType, TimeUnit};
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use storage::{ColumnBuf, StrValues, Values};

use super::*;
use crate::types::{Column, DataType, ResultSet, Value};

// ---------------------------------------------------------------------------------------------
// The datasets of generate.py, built the same way here.

fn ts(text: &str) -> Value {
    Value::Ts(crate::text::parse_datetime(text).expect("valid timestamp"))
}

fn column(name: &str, ty: DataType, values: &[Value]) -> Column {
    let mut c = Column::new(name, ty);
    for v in values {
        c.push(v);
    }
    c
}

fn all_types() -> ResultSet {
    use Value::{Bool as B, Float as F, Int as I, Null as N, UInt as U};
    let s = |v: &str| Value::Str(v.to_string());
    let columns = vec![
        column(
            "i",
            DataType::INT64,
            &[I(0), I(-1), I(i64::MAX), I(i64::MIN), I(42)],
        ),
        column(
            "u",
            DataType::UINT64,
            &[U(0), U(u64::MAX), U(1), U(7), U(1_000_000)],
        ),
        column(
            "f",
            DataType::FLOAT64,
            &[
                F(1.5),
                F(f64::NAN),
                F(f64::INFINITY),
                F(f64::NEG_INFINITY),
                F(-0.0),
            ],
        ),
        column(
            "b",
            DataType::BOOL,
            &[B(true), B(false), B(true), B(false), B(true)],
        ),
        column(
            "s",
            DataType::STRING,
            &[
                s("plain"),
                s("tab\there"),
                s("quote ' dq \" bs \\"),
                s("nl\nx €日本"),
                s(""),
            ],
        ),
        column(
            "t",
            DataType::DATETIME64,
            &[
                ts("2025-11-20 14:30:00.123456789"),
                Value::Ts(-1),
                Value::Ts(0),
                ts("1950-01-01 00:00:00"),
                ts("2100-01-01 00:00:00.000000001"),
            ],
        ),
        column("ni", DataType::INT64.or_null(), &[N, I(5), N, I(-7), N]),
        column(
            "nu",
            DataType::UINT64.or_null(),
            &[U(3), N, N, U(u64::MAX), U(0)],
        ),
        column(
            "nf",
            DataType::FLOAT64.or_null(),
            &[N, F(2.25), F(f64::NAN), N, F(1e-7)],
        ),
        column(
            "nb",
            DataType::BOOL.or_null(),
            &[N, B(true), B(false), N, N],
        ),
        column(
            "ns",
            DataType::STRING.or_null(),
            &[N, s("x"), s(""), N, s("a,b")],
        ),
        column(
            "nt",
            DataType::DATETIME64.or_null(),
            &[N, Value::Ts(1), N, Value::Ts(i64::MAX), N],
        ),
        column("n", DataType::NULL, &[N, N, N, N, N]),
    ];
    ResultSet { columns }
}

fn narrow_ints() -> ResultSet {
    use Value::{Int as I, Null as N};
    let columns = vec![
        column("i8", DataType::INT8, &[I(0), I(-128), I(127), I(-1)]),
        column("i16", DataType::INT16, &[I(0), I(-32768), I(32767), I(300)]),
        column(
            "i32",
            DataType::INT32,
            &[I(0), I(i32::MIN.into()), I(i32::MAX.into()), I(-70000)],
        ),
        column("u8", DataType::UINT8, &[I(0), I(255), I(1), I(44)]),
        column("u16", DataType::UINT16, &[I(0), I(65535), I(256), I(1000)]),
        column(
            "u32",
            DataType::UINT32,
            &[I(0), I(u32::MAX.into()), I(65536), I(3_000_000_000)],
        ),
        column(
            "nu32",
            DataType::UINT32.or_null(),
            &[I(7), N, I(u32::MAX.into()), I(0)],
        ),
        column("ni16", DataType::INT16.or_null(), &[N, I(-1), I(32767), N]),
    ];
    ResultSet { columns }
}

fn empty() -> ResultSet {
    slice(&all_types(), 0..0)
}

fn floats() -> ResultSet {
    let values = [
        1.5,
        -0.0,
        0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        1e-7,
        1e-6,
        0.1,
        1e21,
        1e20,
        123456789012345680.0,
        0.00001,
        5e-324,
        1.7976931348623157e308,
        1.2345e-7,
        12345678901234567890.0,
        0.3,
        -2.5,
        1.0 / 3.0,
        100.0,
        -1e-300,
        2.5e15,
    ];
    let values: Vec<Value> = values.into_iter().map(Value::Float).collect();
    ResultSet {
        columns: vec![column("f", DataType::FLOAT64, &values)],
    }
}

fn strings() -> ResultSet {
    let values: [&[u8]; 26] = [
        b"plain",
        b"",
        b"tab\there",
        b"nl\nx",
        b"cr\rx",
        b"back\\slash",
        b"single'quote",
        b"double\"quote",
        b"nul\0x",
        b"bs\x08ff\x0cvt\x0b",
        b"ctl\x01\x1b\x1f\x7f",
        b"sl/ash",
        "€日本😀".as_bytes(),
        "ls\u{2028}ps\u{2029}".as_bytes(),
        b"a,b;c",
        b"NULL",
        b"\\N",
        b" pad ",
        b"bad\xff\xfeutf8",
        b"a\xe2\x82A",
        b"\xc0\xafz",
        b"\xed\xa0\x80z",
        b"\xef\xbf\xbd\xffz",
        b"\xf4\x90\x80\x80z",
        b"\x80z\x80",
        b"end\xe2\x82",
    ];
    let mut s = StrValues::default();
    values.iter().for_each(|v| s.push(v));
    ResultSet {
        columns: vec![Column {
            name: "s \"x\"\t/".to_string(),
            ty: DataType::STRING,
            data: ColumnBuf::new(Values::Str(s)),
        }],
    }
}

/// Rows `rows` of `result`, as their own block.
fn slice(result: &ResultSet, rows: Range<usize>) -> ResultSet {
    let rows: Vec<u32> = rows.map(|r| r as u32).collect();
    let columns = result
        .columns
        .iter()
        .map(|c| {
            let mut data = ColumnBuf::empty(c.ty.physical());
            data.gather_from(&c.data, &rows);
            Column {
                name: c.name.clone(),
                ty: c.ty,
                data,
            }
        })
        .collect();
    ResultSet { columns }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A golden dataset: its file-name prefix and how to build it.
type Dataset = (&'static str, fn() -> ResultSet);

const DATASETS: [Dataset; 5] = [
    ("all_types", all_types),
    ("narrow_ints", narrow_ints),
    ("floats", floats),
    ("strings", strings),
    ("empty", empty),
];

/// The formats whose goldens are ClickHouse's bytes (Arrow's are compared after reading back).
fn byte_golden_formats() -> impl Iterator<Item = OutputFormat> {
    OutputFormat::ALL
        .into_iter()
        .filter(|f| !matches!(f, OutputFormat::Arrow | OutputFormat::ArrowStream))
}

fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/format_golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Options as the goldens were made: no statistics (their elapsed time is not reproducible).
fn golden_options() -> FormatOptions {
    FormatOptions {
        write_statistics: false,
        ..FormatOptions::default()
    }
}

fn render(
    format: OutputFormat,
    result: &ResultSet,
    options: &FormatOptions,
    stats: &QueryStats,
) -> Vec<u8> {
    let mut out = Vec::new();
    write_result(format, result, options, stats, &mut out).expect("format");
    out
}

/// Streams `blocks` through one writer.
fn render_blocks(format: OutputFormat, blocks: &[ResultSet], options: &FormatOptions) -> Vec<u8> {
    let mut writer = OutputWriter::new(format, options);
    let mut out = Vec::new();
    writer.begin(&blocks[0], &mut out).expect("begin");
    for b in blocks {
        writer.write_block(b, &mut out).expect("block");
    }
    writer
        .finish(&QueryStats::default(), &mut out)
        .expect("finish");
    out
}

fn assert_same_bytes(context: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(40);
    panic!(
        "{context}: output differs from ClickHouse at byte {at} (lengths {} vs {})\n  ours:       {:?}\n  clickhouse: {:?}",
        got.len(),
        want.len(),
        String::from_utf8_lossy(&got[from..(at + 40).min(got.len())]),
        String::from_utf8_lossy(&want[from..(at + 40).min(want.len())]),
    );
}

// ---------------------------------------------------------------------------------------------
// Byte-for-byte against ClickHouse.

#[test]
fn every_format_matches_clickhouse_bytes() {
    for (dataset, build) in DATASETS {
        let result = build();
        for format in byte_golden_formats() {
            let name = format!("{dataset}.{}", format.name());
            let got = render(format, &result, &golden_options(), &QueryStats::default());
            if is_pretty(format) {
                assert_same_pretty_lines(&name, &got, &golden(&name));
            } else {
                assert_same_bytes(&name, &got, &golden(&name));
            }
        }
    }
}

fn is_pretty(format: OutputFormat) -> bool {
    matches!(format, OutputFormat::Pretty | OutputFormat::PrettyCompact)
}

/// Pretty tables line by line, except where ClickHouse's layout of a value is not reproduced:
/// lines holding a tab, a control character, a multi-line value (`↴`) or invalid UTF-8 (the
/// goldens were made with `output_format_pretty_fallback_to_vertical=0` and
/// `output_format_pretty_single_large_number_tip_threshold=0`, features Ronto does not have).
/// The `strings` dataset is all such values and is skipped.
fn assert_same_pretty_lines(context: &str, got: &[u8], want: &[u8]) {
    if context.starts_with("strings.") {
        return;
    }
    let (got, want) = (String::from_utf8_lossy(got), String::from_utf8_lossy(want));
    let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    assert_eq!(
        got.len(),
        want.len(),
        "{context}: line count\n{}",
        got.join("\n")
    );
    let mut compared = 0;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let unusual = |l: &str| {
            l.chars()
                .any(|c| c.is_control() || c == '↴' || c == '\u{fffd}')
        };
        if unusual(w) || unusual(g) {
            continue;
        }
        compared += 1;
        assert_eq!(g, w, "{context}: line {i} differs from ClickHouse");
    }
    assert!(
        compared + 2 >= want.len(),
        "{context}: too few comparable lines"
    );
}

#[test]
fn json_quote_64bit_integers_matches_clickhouse() {
    let options = FormatOptions {
        json_quote_64bit_integers: true,
        ..golden_options()
    };
    for format in OutputFormat::ALL
        .into_iter()
        .filter(|f| f.name().starts_with("JSON"))
    {
        for (dataset, build) in [
            ("all_types", all_types as fn() -> ResultSet),
            ("narrow_ints", narrow_ints),
        ] {
            let name = format!("{dataset}.quote64.{}", format.name());
            assert_same_bytes(
                &name,
                &render(format, &build(), &options, &QueryStats::default()),
                &golden(&name),
            );
        }
    }
}

#[test]
fn json_quote_denormals_matches_clickhouse() {
    let options = FormatOptions {
        json_quote_denormals: true,
        ..golden_options()
    };
    for format in OutputFormat::ALL
        .into_iter()
        .filter(|f| f.name().starts_with("JSON"))
    {
        let name = format!("floats.quote_denormals.{}", format.name());
        assert_same_bytes(
            &name,
            &render(format, &floats(), &options, &QueryStats::default()),
            &golden(&name),
        );
    }
}

#[test]
fn json_rows_before_limit_matches_clickhouse() {
    let stats = QueryStats {
        rows_before_limit: Some(5),
        ..QueryStats::default()
    };
    let first_three = slice(&all_types(), 0..3);
    for format in [OutputFormat::Json, OutputFormat::JsonCompact] {
        let name = format!("all_types.limit3.{}", format.name());
        assert_same_bytes(
            &name,
            &render(format, &first_three, &golden_options(), &stats),
            &golden(&name),
        );
    }
}

#[test]
fn json_statistics_follow_clickhouse_layout() {
    let stats = QueryStats {
        elapsed_ns: 1_969_512,
        rows_read: 2,
        bytes_read: 16,
        rows_before_limit: Some(10),
    };
    let result = slice(&all_types(), 0..1);
    let result = ResultSet {
        columns: result.columns.into_iter().take(1).collect(),
    };
    let got = render(
        OutputFormat::JsonCompact,
        &result,
        &FormatOptions::default(),
        &stats,
    );
    // The layout of ClickHouse's `SELECT ... LIMIT 2 FORMAT JSONCompact` with statistics.
    let want = "{\n\t\"meta\":\n\t[\n\t\t{\n\t\t\t\"name\": \"i\",\n\t\t\t\"type\": \"Int64\"\n\t\t}\n\t],\n\n\
                \t\"data\":\n\t[\n\t\t[0]\n\t],\n\n\t\"rows\": 1,\n\n\t\"rows_before_limit_at_least\": 10,\n\n\
                \t\"statistics\":\n\t{\n\t\t\"elapsed\": 0.001969512,\n\t\t\"rows_read\": 2,\n\t\t\"bytes_read\": 16\n\t}\n}\n";
    assert_same_bytes("JSONCompact with statistics", &got, want.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Streaming.

#[test]
fn blocks_stream_to_the_same_bytes_as_one_block() {
    let whole = all_types();
    let blocks = [
        slice(&whole, 0..2),
        slice(&whole, 2..2),
        slice(&whole, 2..5),
    ];
    // Native writes one block per block, and Pretty one table per block, as ClickHouse does.
    for format in byte_golden_formats().filter(|&f| f != OutputFormat::Native && !is_pretty(f)) {
        let name = format!("all_types.{}", format.name());
        assert_same_bytes(
            &format!("{name} in blocks"),
            &render_blocks(format, &blocks, &golden_options()),
            &golden(&name),
        );
    }
}

#[test]
fn native_writes_one_block_per_nonempty_block() {
    let whole = all_types();
    let (a, b) = (slice(&whole, 0..2), slice(&whole, 2..5));
    let options = FormatOptions::default();
    let mut want = render(OutputFormat::Native, &a, &options, &QueryStats::default());
    want.extend(render(
        OutputFormat::Native,
        &b,
        &options,
        &QueryStats::default(),
    ));
    let got = render_blocks(OutputFormat::Native, &[a, slice(&whole, 0..0), b], &options);
    assert_same_bytes("Native in blocks", &got, &want);
}

#[test]
#[should_panic(expected = "block column")]
fn a_block_that_differs_from_the_schema_is_a_bug() {
    let mut writer = OutputWriter::new(OutputFormat::TabSeparated, &FormatOptions::default());
    let mut out = Vec::new();
    writer.begin(&all_types(), &mut out).unwrap();
    let mut other = all_types();
    other.columns.swap(0, 1);
    let _ = writer.write_block(&other, &mut out);
}

// ---------------------------------------------------------------------------------------------
// Native at the protocol revisions clients send.

#[test]
fn native_layout_follows_client_protocol_version() {
    let result = ResultSet {
        columns: vec![
            column("a", DataType::INT64, &[Value::Int(1), Value::Int(-2)]),
            column(
                "b",
                DataType::STRING.or_null(),
                &[Value::Null, Value::Str("xy".into())],
            ),
        ],
    };
    let column_a = |flag: &[u8]| -> Vec<u8> {
        let mut v = vec![1, b'a', 5];
        v.extend(b"Int64");
        v.extend(flag);
        v.extend(1i64.to_le_bytes());
        v.extend((-2i64).to_le_bytes());
        v
    };
    let column_b = |flag: &[u8]| -> Vec<u8> {
        let mut v = vec![1, b'b', 16];
        v.extend(b"Nullable(String)");
        v.extend(flag);
        v.extend([1, 0]); // null map
        v.extend([0, 2, b'x', b'y']); // "" for the NULL slot, then "xy"
        v
    };
    let block = |info: &[u8], flag: &[u8]| -> Vec<u8> {
        let mut v = info.to_vec();
        v.extend([2, 2]);
        v.extend(column_a(flag));
        v.extend(column_b(flag));
        v
    };
    let info = [1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0];
    let info_with_buckets = [1, 0, 2, 0xff, 0xff, 0xff, 0xff, 3, 0, 0];
    let cases: [(u64, Vec<u8>); 6] = [
        (0, block(&[], &[])),
        // clickhouse-connect's `SELECT 1 AS check` probe.
        (54405, block(&info, &[])),
        (54453, block(&info, &[])),
        (54454, block(&info, &[0])),
        // clickhouse-go v2 (Grafana).
        (54460, block(&info, &[0])),
        (54492, block(&info_with_buckets, &[0])),
    ];
    for (revision, want) in cases {
        let options = FormatOptions {
            client_protocol_version: revision,
            ..FormatOptions::default()
        };
        let got = render(
            OutputFormat::Native,
            &result,
            &options,
            &QueryStats::default(),
        );
        assert_eq!(got, want, "Native at revision {revision}");
    }
}

// ---------------------------------------------------------------------------------------------
// JSON parses.

#[test]
fn json_documents_parse_and_carry_values() {
    for format in [OutputFormat::Json, OutputFormat::JsonStrings] {
        let out = render(
            format,
            &all_types(),
            &FormatOptions::default(),
            &QueryStats::default(),
        );
        let doc: Json = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(doc["rows"], 5);
        assert_eq!(
            doc["meta"][5],
            json!({"name": "t", "type": "DateTime64(9)"})
        );
        assert_eq!(doc["statistics"]["rows_read"], 0);
        let row = &doc["data"][3];
        if format == OutputFormat::Json {
            assert_eq!(row["i"], json!(i64::MIN));
            assert_eq!(row["nu"], json!(u64::MAX));
            assert_eq!(row["f"], Json::Null, "-inf is null");
            assert_eq!(row["s"], "nl\nx €日本");
            assert_eq!(row["nb"], Json::Null);
        } else {
            assert_eq!(row["i"], json!(i64::MIN.to_string()));
            assert_eq!(row["f"], "-inf");
            assert_eq!(row["nb"], "ᴺᵁᴸᴸ");
        }
    }
    let out = render(
        OutputFormat::JsonCompact,
        &all_types(),
        &FormatOptions::default(),
        &QueryStats::default(),
    );
    let doc: Json = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(
        doc["data"][1],
        json!([
            -1,
            u64::MAX,
            null,
            false,
            "tab\there",
            "1969-12-31 23:59:59.999999999",
            5,
            null,
            2.25,
            true,
            "x",
            "1970-01-01 00:00:00.000000001",
            null
        ])
    );
}

#[test]
fn json_lines_parse() {
    for format in [
        OutputFormat::JsonEachRow,
        OutputFormat::JsonStringsEachRow,
        OutputFormat::JsonCompactEachRow,
        OutputFormat::JsonCompactEachRowWithNamesAndTypes,
        OutputFormat::JsonCompactStringsEachRow,
    ] {
        let out = render(
            format,
            &all_types(),
            &FormatOptions::default(),
            &QueryStats::default(),
        );
        let lines: Vec<Json> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("{}: {e}", format.name())))
            .collect();
        let header_lines = if format == OutputFormat::JsonCompactEachRowWithNamesAndTypes {
            2
        } else {
            0
        };
        assert_eq!(lines.len(), 5 + header_lines, "{}", format.name());
    }
    let out = render(
        OutputFormat::JsonEachRow,
        &strings(),
        &FormatOptions::default(),
        &QueryStats::default(),
    );
    let first: Json = serde_json::from_slice(out.split(|&b| b == b'\n').nth(13).unwrap()).unwrap();
    assert_eq!(first["s \"x\"\t/"], "ls\u{2028}ps\u{2029}");
}

// ---------------------------------------------------------------------------------------------
// Arrow: read back with arrow-ipc and compare with what pyarrow read from ClickHouse's output.

fn pyarrow_type_name(ty: &ArrowType) -> String {
    match ty {
        ArrowType::Int64 => "int64".into(),
        ArrowType::UInt64 => "uint64".into(),
        ArrowType::Int8 => "int8".into(),
        ArrowType::Int16 => "int16".into(),
        ArrowType::Int32 => "int32".into(),
        ArrowType::UInt8 => "uint8".into(),
        ArrowType::UInt16 => "uint16".into(),
        ArrowType::UInt32 => "uint32".into(),
        ArrowType::Float64 => "double".into(),
        ArrowType::Boolean => "bool".into(),
        ArrowType::Utf8 => "string".into(),
        ArrowType::Null => "null".into(),
        ArrowType::Timestamp(TimeUnit::Nanosecond, Some(tz)) => format!("timestamp[ns, tz={tz}]"),
        other => panic!("unexpected Arrow type {other}"),
    }
}

/// The same description generate.py writes: fields, then each column's values as JSON.
fn describe(schema: &arrow_schema::Schema, batches: &[RecordBatch]) -> Json {
    let fields: Vec<Json> = schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": pyarrow_type_name(f.data_type()), "nullable": f.is_nullable()}))
        .collect();
    let columns: Vec<Json> = (0..schema.fields().len())
        .map(|i| {
            let mut values = Vec::new();
            for batch in batches {
                let array = batch.column(i);
                for row in 0..array.len() {
                    values.push(if array.logical_nulls().is_some_and(|n| n.is_null(row)) {
                        Json::Null
                    } else {
                        match array.data_type() {
                            ArrowType::Int64 => json!(array.as_primitive::<Int64Type>().value(row)),
                            ArrowType::Int8 => json!(array.as_primitive::<Int8Type>().value(row)),
                            ArrowType::Int16 => json!(array.as_primitive::<Int16Type>().value(row)),
                            ArrowType::Int32 => json!(array.as_primitive::<Int32Type>().value(row)),
                            ArrowType::UInt8 => json!(array.as_primitive::<UInt8Type>().value(row)),
                            ArrowType::UInt16 => {
                                json!(array.as_primitive::<UInt16Type>().value(row))
                            }
                            ArrowType::UInt32 => {
                                json!(array.as_primitive::<UInt32Type>().value(row))
                            }
                            ArrowType::UInt64 => {
                                json!(array.as_primitive::<UInt64Type>().value(row))
                            }
                            ArrowType::Float64 => {
                                let v = array.as_primitive::<Float64Type>().value(row);
                                if v.is_finite() {
                                    json!(v)
                                } else {
                                    json!(crate::text::format_f64(v))
                                }
                            }
                            ArrowType::Boolean => json!(array.as_boolean().value(row)),
                            ArrowType::Utf8 => json!(array.as_string::<i32>().value(row)),
                            ArrowType::Timestamp(..) => {
                                json!(array.as_primitive::<TimestampNanosecondType>().value(row))
                            }
                            other => panic!("unexpected Arrow type {other}"),
                        }
                    });
                }
            }
            Json::Array(values)
        })
        .collect();
    json!({"fields": fields, "columns": columns})
}

fn read_arrow(format: OutputFormat, bytes: Vec<u8>) -> Json {
    match format {
        OutputFormat::Arrow => {
            let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes), None)
                .expect("Arrow file");
            let schema = reader.schema();
            let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
            describe(&schema, &batches)
        }
        OutputFormat::ArrowStream => {
            let reader =
                arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
                    .expect("Arrow stream");
            let schema = reader.schema();
            let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
            describe(&schema, &batches)
        }
        other => unreachable!("{other:?}"),
    }
}

#[test]
fn arrow_reads_back_as_clickhouse_schema_and_values() {
    let whole = all_types();
    for format in [OutputFormat::Arrow, OutputFormat::ArrowStream] {
        let want: Json =
            serde_json::from_slice(&golden(&format!("all_types.{}.json", format.name()))).unwrap();
        let one_block = render(
            format,
            &whole,
            &FormatOptions::default(),
            &QueryStats::default(),
        );
        assert_eq!(read_arrow(format, one_block), want, "{}", format.name());
        let blocks = [
            slice(&whole, 0..1),
            slice(&whole, 1..1),
            slice(&whole, 1..5),
        ];
        assert_eq!(
            read_arrow(
                format,
                render_blocks(format, &blocks, &FormatOptions::default())
            ),
            want,
            "{} in blocks",
            format.name()
        );
        let want_empty: Json =
            serde_json::from_slice(&golden(&format!("empty.{}.json", format.name()))).unwrap();
        let out = render(
            format,
            &empty(),
            &FormatOptions::default(),
            &QueryStats::default(),
        );
        assert_eq!(
            read_arrow(format, out),
            want_empty,
            "empty {}",
            format.name()
        );
    }
}

#[test]
fn arrow_narrow_integers_read_back_as_clickhouse_writes_them() {
    for format in [OutputFormat::Arrow, OutputFormat::ArrowStream] {
        let want: Json =
            serde_json::from_slice(&golden(&format!("narrow_ints.{}.json", format.name())))
                .unwrap();
        let out = render(
            format,
            &narrow_ints(),
            &FormatOptions::default(),
            &QueryStats::default(),
        );
        assert_eq!(read_arrow(format, out), want, "{}", format.name());
    }
}

#[test]
fn arrow_replaces_bytes_that_are_not_utf8() {
    let out = render(
        OutputFormat::ArrowStream,
        &strings(),
        &FormatOptions::default(),
        &QueryStats::default(),
    );
    let got = read_arrow(OutputFormat::ArrowStream, out);
    assert_eq!(got["columns"][0][18], "bad\u{FFFD}\u{FFFD}utf8");
    assert_eq!(got["columns"][0][12], "€日本😀");
}

// ---------------------------------------------------------------------------------------------
// Names, content types, settings, scalars.

#[test]
fn format_names_parse_like_clickhouse() {
    for f in OutputFormat::ALL {
        assert_eq!(OutputFormat::parse(f.name()), Some(f));
        assert_eq!(OutputFormat::parse(&f.name().to_ascii_lowercase()), Some(f));
    }
    assert_eq!(OutputFormat::parse("TSV"), Some(OutputFormat::TabSeparated));
    assert_eq!(
        OutputFormat::parse("tsvwithnamesandtypes"),
        Some(OutputFormat::TabSeparatedWithNamesAndTypes)
    );
    assert_eq!(
        OutputFormat::parse("Raw"),
        Some(OutputFormat::TabSeparatedRaw)
    );
    assert_eq!(
        OutputFormat::parse("NDJSON"),
        Some(OutputFormat::JsonEachRow)
    );
    assert_eq!(
        OutputFormat::parse("JSONLines"),
        Some(OutputFormat::JsonEachRow)
    );
    assert_eq!(
        OutputFormat::parse("CSVWITHNAMES"),
        Some(OutputFormat::CsvWithNames)
    );
    for bad in ["", "Parquet", "TSV ", "JSONEachRowX"] {
        assert_eq!(OutputFormat::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn content_types_are_clickhouses() {
    use OutputFormat as F;
    assert_eq!(
        F::TabSeparatedWithNames.content_type(),
        "text/tab-separated-values; charset=UTF-8"
    );
    assert_eq!(
        F::Csv.content_type(),
        "text/csv; charset=UTF-8; header=absent"
    );
    assert_eq!(
        F::CsvWithNamesAndTypes.content_type(),
        "text/csv; charset=UTF-8; header=present"
    );
    assert_eq!(F::Json.content_type(), "application/json; charset=UTF-8");
    assert_eq!(
        F::JsonEachRow.content_type(),
        "application/x-ndjson; charset=UTF-8"
    );
    assert_eq!(F::Values.content_type(), "text/plain; charset=UTF-8");
    for binary in [
        F::Native,
        F::RowBinaryWithNamesAndTypes,
        F::Arrow,
        F::ArrowStream,
    ] {
        assert_eq!(binary.content_type(), "application/octet-stream");
        assert!(binary.is_binary());
    }
    assert!(!F::Null.is_binary());
}

#[test]
fn format_settings_apply() {
    let mut options = FormatOptions::default();
    assert!(options
        .apply_setting("output_format_json_quote_64bit_integers", "1")
        .unwrap());
    assert!(options
        .apply_setting("output_format_write_statistics", "false")
        .unwrap());
    assert!(options
        .apply_setting("output_format_json_quote_denormals", "True")
        .unwrap());
    assert!(!options.apply_setting("max_threads", "4").unwrap());
    assert!(
        options.json_quote_64bit_integers
            && options.json_quote_denormals
            && !options.write_statistics
    );
    assert!(matches!(
        options.apply_setting("output_format_json_escape_forward_slashes", "yes"),
        Err(FormatError::BadSetting { .. })
    ));
}

fn float_text(v: f64) -> String {
    let mut out = Vec::new();
    scalar::write_f64(&mut out, v);
    String::from_utf8(out).unwrap()
}

proptest! {
    /// Whatever the layout, the text must read back as the same float.
    #[test]
    fn float_text_round_trips(bits in any::<u64>()) {
        let v = f64::from_bits(bits);
        prop_assume!(v.is_finite());
        let text = float_text(v);
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", text);
    }

    #[test]
    fn datetime_text_matches_the_reference_formatter(ns in any::<i64>()) {
        let mut out = Vec::new();
        scalar::write_datetime64(&mut out, ns);
        prop_assert_eq!(String::from_utf8(out).unwrap(), crate::text::format_ts_ns(ns));
    }
}
