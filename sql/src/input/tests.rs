//! Tests for the input formats: every format's tricky cases, errors with their locations, and
//! property tests that no byte string makes a decoder panic.

use storage::{ColumnBuf, ColumnSchema, ColumnType, TableSchema, Values};

use super::*;

/// 2026-11-20 14:30:00.123456789 UTC.
const TS: i64 = 1_795_185_000_123_456_789;
const SEC: i64 = 1_000_000_000;

fn schema(name: &str, columns: &[(&str, ColumnType)]) -> TableSchema {
    TableSchema {
        id: 1,
        name: name.into(),
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, (n, t))| ColumnSchema {
                id: i as u16,
                name: n.to_string(),
                ty: *t,
                nullable: true,
            })
            .collect(),
        ts_index: 0,
        key_index: 1,
        next_column_id: columns.len() as u16,
    }
}

fn trades() -> TableSchema {
    use ColumnType as T;
    schema(
        "trades",
        &[
            ("timestamp", T::Timestamp),
            ("symbol", T::Symbol),
            ("price", T::Float64),
            ("volume", T::Int64),
        ],
    )
}

/// One column of every type.
fn wide() -> TableSchema {
    use ColumnType as T;
    schema(
        "wide",
        &[
            ("ts", T::Timestamp),
            ("sym", T::Symbol),
            ("i", T::Int64),
            ("u", T::UInt64),
            ("f", T::Float64),
            ("b", T::Bool),
            ("s", T::String),
        ],
    )
}

fn opts() -> InputOptions {
    InputOptions::default()
}

fn skipping() -> InputOptions {
    InputOptions {
        mode: ErrorMode::SkipBadRows,
        ..InputOptions::default()
    }
}

fn run(
    format: &str,
    data: &[u8],
    schema: &TableSchema,
    columns: Option<&[&str]>,
    opts: &InputOptions,
) -> Result<Decoded, InputError> {
    let format = InputFormat::parse(format).expect("format name");
    let columns: Option<Vec<String>> = columns.map(|c| c.iter().map(|s| s.to_string()).collect());
    let decoded = decode(format, data, schema, columns.as_deref(), opts);
    if let Ok(d) = &decoded {
        check_decoded(d, schema);
    }
    decoded
}

fn ok(format: &str, data: &[u8], schema: &TableSchema) -> Decoded {
    match run(format, data, schema, None, &opts()) {
        Ok(d) => d,
        Err(e) => panic!("{format}: {e}"),
    }
}

fn fails(format: &str, data: &[u8], schema: &TableSchema) -> InputError {
    match run(format, data, schema, None, &opts()) {
        Ok(d) => panic!("{format}: expected an error, got {d:?}"),
        Err(e) => e,
    }
}

/// What storage's `resolve` requires, plus the module's own promises.
fn check_decoded(d: &Decoded, schema: &TableSchema) {
    assert_eq!(d.batch.table, schema.name);
    assert_eq!(d.batch.rows(), d.rows);
    for c in &d.batch.columns {
        let pos = schema.column_index(&c.name).expect("known column");
        let ty = schema.columns[pos].ty;
        let physical = c.data.values.physical();
        assert!(
            physical == ty.physical()
                || (ty == ColumnType::Symbol && physical == storage::Physical::Str),
            "{}: {physical:?} for {ty:?}",
            c.name
        );
        assert_eq!(c.data.len(), d.rows, "{}", c.name);
        if let Some(v) = &c.data.validity {
            assert_eq!(v.len(), d.rows);
        }
        if pos == schema.ts_index || pos == schema.key_index {
            assert_eq!(c.data.null_count(), 0, "{} has NULLs", c.name);
        }
    }
    let mut names: Vec<&str> = d.batch.columns.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), d.batch.columns.len(), "duplicate columns");
}

fn column<'d>(d: &'d Decoded, name: &str) -> &'d ColumnBuf {
    &d.batch
        .columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .data
}

fn with_nulls<T: Clone>(c: &ColumnBuf, values: &[T]) -> Vec<Option<T>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| c.is_valid(i).then(|| v.clone()))
        .collect()
}

fn i64s(d: &Decoded, name: &str) -> Vec<Option<i64>> {
    let c = column(d, name);
    match &c.values {
        Values::I64(v) => with_nulls(c, v),
        other => panic!("{other:?}"),
    }
}

fn u64s(d: &Decoded, name: &str) -> Vec<Option<u64>> {
    let c = column(d, name);
    match &c.values {
        Values::U64(v) => with_nulls(c, v),
        other => panic!("{other:?}"),
    }
}

fn f64s(d: &Decoded, name: &str) -> Vec<Option<f64>> {
    let c = column(d, name);
    match &c.values {
        Values::F64(v) => with_nulls(c, v),
        other => panic!("{other:?}"),
    }
}

fn bools(d: &Decoded, name: &str) -> Vec<Option<bool>> {
    let c = column(d, name);
    match &c.values {
        Values::Bool(v) => with_nulls(c, &v.iter().map(|&b| b != 0).collect::<Vec<_>>()),
        other => panic!("{other:?}"),
    }
}

fn strs(d: &Decoded, name: &str) -> Vec<Option<String>> {
    let c = column(d, name);
    match &c.values {
        Values::Str(s) => {
            let all: Vec<String> = (0..s.len())
                .map(|i| String::from_utf8(s.get(i).to_vec()).unwrap())
                .collect();
            with_nulls(c, &all)
        }
        other => panic!("{other:?}"),
    }
}

fn some<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    values.iter().cloned().map(Some).collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

// ---------------------------------------------------------------------------------------------
// Format names and column lists

#[test]
fn format_names_and_aliases() {
    for f in InputFormat::ALL {
        assert_eq!(InputFormat::parse(f.name()), Some(f));
        assert_eq!(InputFormat::parse(&f.name().to_uppercase()), Some(f));
    }
    assert_eq!(InputFormat::parse("TSV"), Some(InputFormat::TabSeparated));
    assert_eq!(
        InputFormat::parse("TSVWithNamesAndTypes"),
        Some(InputFormat::TabSeparatedWithNamesAndTypes)
    );
    assert_eq!(InputFormat::parse("NDJSON"), Some(InputFormat::JsonEachRow));
    assert_eq!(InputFormat::parse("Parquet"), None);
    assert!(InputFormat::Native.is_binary() && !InputFormat::Native.supports_skipping_rows());
    assert!(InputFormat::Csv.supports_skipping_rows());
}

#[test]
fn column_list_selects_and_orders_targets() {
    let d = run(
        "CSV",
        b"BTC,2026-11-20 14:30:00.123456789,1.5\n",
        &trades(),
        Some(&["symbol", "timestamp", "price"]),
        &opts(),
    )
    .unwrap();
    let names: Vec<&str> = d.batch.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["symbol", "timestamp", "price"]);
    assert_eq!(i64s(&d, "timestamp"), [Some(TS)]);
    assert_eq!(f64s(&d, "price"), [Some(1.5)]);

    let e = run(
        "CSV",
        b"",
        &trades(),
        Some(&["timestamp", "symbol", "nope"]),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "column list: table trades has no column 'nope'"
    );
    let e = run(
        "CSV",
        b"",
        &trades(),
        Some(&["timestamp", "symbol", "symbol"]),
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(e, InputError::DuplicateColumn { .. }), "{e}");
    let e = run(
        "CSV",
        b"",
        &trades(),
        Some(&["timestamp", "price"]),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "column list: required column 'symbol' is not given"
    );
}

#[test]
fn errors_carry_clickhouse_codes() {
    let e = run(
        "CSV",
        b"",
        &trades(),
        Some(&["timestamp", "symbol", "nope"]),
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.clickhouse_code(), (16, "NO_SUCH_COLUMN_IN_TABLE"));
    assert_eq!(fails("CSV", b"1,A,x,1\n", &trades()).clickhouse_code().0, 6);
    assert_eq!(fails("CSV", b"1,A,1\n", &trades()).clickhouse_code().0, 117);
    assert_eq!(fails("Native", b"\x02", &trades()).clickhouse_code().0, 33);
}

#[test]
fn empty_bodies_give_empty_batches() {
    for f in InputFormat::ALL {
        let d = decode(f, b"", &trades(), None, &opts()).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(d.rows, 0, "{f}");
        assert_eq!(d.batch.columns.len(), 4, "{f}");
    }
}

#[test]
fn clickhouse_type_names_for_describe() {
    let t = wide();
    let names: Vec<String> = (0..t.columns.len())
        .map(|i| clickhouse_type_name(&t, i))
        .collect();
    assert_eq!(
        names,
        [
            "DateTime64(9)",
            "LowCardinality(String)",
            "Nullable(Int64)",
            "Nullable(UInt64)",
            "Nullable(Float64)",
            "Nullable(Bool)",
            "Nullable(String)"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// JSONEachRow

#[test]
fn json_each_row_values_types_and_nulls() {
    let data = concat!(
        r#"{"ts":"2026-11-20 14:30:00.123456789","sym":"BTC","i":-5,"u":"18446744073709551615","f":1.5e2,"b":true,"s":"caf\u00e9 \ud83d\ude00 \"q\" \\ \n"}"#,
        "\r\n",
        r#"{"s":"ünï","sym":"ETH","ts":1795185000123456789,"i":null,"f":"nan","b":0}"#,
        "\n\n",
        r#"  {"ts":"2026-11-20T14:30:00.123456789Z","sym":"X","f":null,"b":"false","i":"42","s":""}"#
    );
    let d = ok("JSONEachRow", data.as_bytes(), &wide());
    assert_eq!(d.rows, 3);
    assert_eq!(i64s(&d, "ts"), [Some(TS); 3]);
    assert_eq!(strs(&d, "sym"), [s("BTC"), s("ETH"), s("X")]);
    assert_eq!(i64s(&d, "i"), [Some(-5), None, Some(42)]);
    assert_eq!(u64s(&d, "u"), [Some(u64::MAX), None, None]);
    let f = f64s(&d, "f");
    assert_eq!(f[0], Some(150.0));
    assert!(f[1].unwrap().is_nan());
    assert_eq!(f[2], None);
    assert_eq!(bools(&d, "b"), [Some(true), Some(false), Some(false)]);
    assert_eq!(strs(&d, "s"), [s("café 😀 \"q\" \\ \n"), s("ünï"), s("")]);
}

#[test]
fn json_each_row_array_wrapper_commas_and_no_trailing_newline() {
    let data = br#"[{"timestamp":1,"symbol":"A","price":1},
      {"timestamp":2,"symbol":"B","volume":7}]"#;
    let d = ok("JSONEachRow", data, &trades());
    assert_eq!(i64s(&d, "timestamp"), [Some(1), Some(2)]);
    assert_eq!(f64s(&d, "price"), [Some(1.0), None]);
    assert_eq!(i64s(&d, "volume"), [None, Some(7)]);
    let d = ok(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"A"},{"timestamp":2,"symbol":"B"}{"timestamp":3,"symbol":"C"}"#,
        &trades(),
    );
    assert_eq!(d.rows, 3);
    assert!(matches!(
        fails(
            "JSONEachRow",
            br#"[{"timestamp":1,"symbol":"A"}"#,
            &trades()
        ),
        InputError::UnexpectedEnd { .. }
    ));
}

#[test]
fn json_each_row_error_messages() {
    let data = b"{\"timestamp\":1,\"symbol\":\"A\",\"price\":1}\n{\"timestamp\":2,\"symbol\":\"A\",\"price\":2}\n{\"timestamp\":3,\"symbol\":\"A\",\"price\":\"abc\"}\n";
    assert_eq!(
        fails("JSONEachRow", data, &trades()).to_string(),
        "line 3, column 'price': cannot parse 'abc' as Float64"
    );
    let e = fails(
        "JSONEachRow",
        b"{\"timestamp\":1,\"symbol\":\"A\",\n\"bid\":1}",
        &trades(),
    );
    assert_eq!(e.to_string(), "line 2: table trades has no column 'bid'");
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"A","price":1,"price":2}"#,
        &trades(),
    );
    assert!(matches!(e, InputError::DuplicateColumn { .. }), "{e}");
    let e = fails("JSONEachRow", br#"{"timestamp":1,"price":1}"#, &trades());
    assert_eq!(
        e.to_string(),
        "line 1: required column 'symbol' is not given"
    );
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":null}"#,
        &trades(),
    );
    assert_eq!(e.to_string(), "line 1, column 'symbol': must not be NULL");
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"A","volume":1.5}"#,
        &trades(),
    );
    assert_eq!(
        e.to_string(),
        "line 1, column 'volume': cannot parse '1.5' as Int64"
    );
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"A","volume":99999999999999999999}"#,
        &trades(),
    );
    assert!(matches!(e, InputError::OutOfRange { .. }), "{e}");
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":"2026-13-01","symbol":"A"}"#,
        &trades(),
    );
    assert_eq!(
        e.to_string(),
        "line 1, column 'timestamp': cannot parse '2026-13-01' as Timestamp"
    );
    let e = fails(
        "JSONEachRow",
        b"{\"timestamp\":1 \"symbol\":\"A\"}",
        &trades(),
    );
    assert_eq!(e.to_string(), "line 1: expected ',' or '}', found '\"'");
    let e = fails("JSONEachRow", b"{\"timestamp\":1,\"symbol\":\"A", &trades());
    assert!(matches!(e, InputError::UnexpectedEnd { .. }), "{e}");
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"A","price":bogus}"#,
        &trades(),
    );
    assert_eq!(e.to_string(), "line 1: unexpected 'bogus'");
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"\q"}"#,
        &trades(),
    );
    assert!(matches!(e, InputError::Syntax { .. }), "{e}");
}

#[test]
fn json_each_row_unknown_fields_can_be_skipped_and_nested_values_kept_as_text() {
    let o = InputOptions {
        skip_unknown_fields: true,
        ..opts()
    };
    let d = run(
        "JSONEachRow",
        br#"{"timestamp":1,"extra":{"a":[1,{"b":"}"}]},"symbol":"A","s":[1, 2]}"#,
        &wide_ts_sym(),
        None,
        &o,
    )
    .unwrap();
    assert_eq!(strs(&d, "s"), [s("[1, 2]")]);
    let e = fails(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"A","price":[1]}"#,
        &trades(),
    );
    assert_eq!(
        e.to_string(),
        "line 1, column 'price': cannot parse '[1]' as Float64"
    );
}

fn wide_ts_sym() -> TableSchema {
    use ColumnType as T;
    schema(
        "t",
        &[
            ("timestamp", T::Timestamp),
            ("symbol", T::Symbol),
            ("s", T::String),
        ],
    )
}

#[test]
fn json_each_row_skips_bad_rows_and_keeps_good_ones() {
    let data = concat!(
        "{\"timestamp\":1,\"symbol\":\"A\",\"price\":1}\n",
        "{\"timestamp\":2,\"symbol\":\"A\",\"price\":\"x\"}\n",
        "{\"timestamp\":3,\"symbol\":\"A\",\"price\" 3}\n",
        "{\"timestamp\":4,\"symbol\":\"A\"\n",
        "{\"timestamp\":5,\"symbol\":\"A\",\"price\":5}\n",
        "garbage\n",
        "{\"timestamp\":6,\"price\":6}\n",
        "{\"timestamp\":7,\"symbol\":\"A\",\"price\":7}"
    );
    let d = run("JSONEachRow", data.as_bytes(), &trades(), None, &skipping()).unwrap();
    assert_eq!(i64s(&d, "timestamp"), some(&[1, 5, 7]));
    assert_eq!(f64s(&d, "price"), some(&[1.0, 5.0, 7.0]));
    let rows: Vec<usize> = d.row_errors.iter().map(|e| e.row).collect();
    assert_eq!(rows, [2, 3, 4, 6, 7]);
    assert_eq!(
        d.row_errors[0].to_string(),
        "row 2: line 2, column 'price': cannot parse 'x' as Float64"
    );
    assert!(
        matches!(
            d.row_errors[2].error,
            InputError::Syntax {
                at: Location::Line(5),
                ..
            }
        ),
        "{:?}",
        d.row_errors[2]
    );
    assert!(matches!(
        d.row_errors[4].error,
        InputError::MissingColumn { .. }
    ));

    let bounded = InputOptions {
        row_errors_max: 2,
        ..skipping()
    };
    let e = run("JSONEachRow", data.as_bytes(), &trades(), None, &bounded).unwrap_err();
    assert!(
        matches!(&e, InputError::TooManyBadRows { max: 2, first } if first.row == 2),
        "{e}"
    );
}

#[test]
fn json_compact_each_row_variants() {
    let d = ok(
        "JSONCompactEachRow",
        b"[1, \"A\", 1.5, 10]\n[\"2026-11-20 14:30:00.123456789\", \"B\", null, null]",
        &trades(),
    );
    assert_eq!(i64s(&d, "timestamp"), [Some(1), Some(TS)]);
    assert_eq!(f64s(&d, "price"), [Some(1.5), None]);
    let e = fails(
        "JSONCompactEachRow",
        b"[1, \"A\", 1.5, 10]\n[1, \"A\", 1.5]\n",
        &trades(),
    );
    assert_eq!(e.to_string(), "line 2: expected 4 fields, found 3");
    let d = ok(
        "JSONCompactEachRowWithNames",
        b"[\"price\",\"symbol\",\"timestamp\"]\n[2.5,\"A\",3]\n",
        &trades(),
    );
    assert_eq!(f64s(&d, "price"), [Some(2.5)]);
    assert_eq!(i64s(&d, "volume"), [None]);
    let d = ok(
        "JSONCompactEachRowWithNamesAndTypes",
        b"[\"symbol\",\"timestamp\"]\n[\"String\",\"DateTime64(9)\"]\n[\"A\",3]\n",
        &trades(),
    );
    assert_eq!(i64s(&d, "timestamp"), [Some(3)]);
    let e = fails(
        "JSONCompactEachRowWithNames",
        b"[\"symbol\",\"timestamp\",\"bid\"]\n",
        &trades(),
    );
    assert_eq!(e.to_string(), "line 1: table trades has no column 'bid'");
    let d = run(
        "JSONCompactEachRow",
        b"[1,\"A\",1,1]\n[1,\"A\",\"x\",1]\n[2,\"B\",2,2]",
        &trades(),
        None,
        &skipping(),
    )
    .unwrap();
    assert_eq!(d.rows, 2);
    assert_eq!(d.row_errors.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_quoting_escapes_crlf_nulls_and_unicode() {
    let data = concat!(
        "2026-11-20 14:30:00.123456789,BTC,-1,2,1.5,true,\"a,b \"\"quoted\"\"\"\r\n",
        "1, \"ETH\" , , ,\\N,NULL,\"multi\nline\"\r\n",
        "\r\n",
        "2,ÜBER,\\N,\\N,nan,0,\n",
        "3,\"\",NULL,null,inf,f,\"\"\n",
        "4,Z,7,8,9,1,NULL"
    );
    let d = ok("CSV", data.as_bytes(), &wide());
    assert_eq!(
        i64s(&d, "ts"),
        [Some(TS), Some(1), Some(2), Some(3), Some(4)]
    );
    assert_eq!(
        strs(&d, "sym"),
        [s("BTC"), s("ETH"), s("ÜBER"), s(""), s("Z")]
    );
    assert_eq!(i64s(&d, "i"), [Some(-1), None, None, None, Some(7)]);
    assert_eq!(u64s(&d, "u"), [Some(2), None, None, None, Some(8)]);
    assert_eq!(f64s(&d, "f")[0], Some(1.5));
    assert_eq!(f64s(&d, "f")[1], None);
    assert_eq!(f64s(&d, "f")[3], Some(f64::INFINITY));
    assert_eq!(
        bools(&d, "b"),
        [Some(true), None, Some(false), Some(false), Some(true)]
    );
    assert_eq!(
        strs(&d, "s"),
        [s("a,b \"quoted\""), s("multi\nline"), s(""), s(""), None]
    );
}

#[test]
fn csv_errors_say_line_and_column() {
    let data = b"1,A,1,1\n2,A,2,2\n3,A,abc,3\n";
    assert_eq!(
        fails("CSV", data, &trades()).to_string(),
        "line 3, column 'price': cannot parse 'abc' as Float64"
    );
    // A quoted newline moves the following lines down.
    let data = b"1,\"A\nB\",1,1\n2,A,2\n";
    assert_eq!(
        fails("CSV", data, &trades()).to_string(),
        "line 3: expected 4 fields, found 3"
    );
    let e = fails("CSV", b"1,A,1,1\n2,\"A,2,2\n", &trades());
    assert_eq!(
        e.to_string(),
        "line 2: unexpected end of data, expected a closing '\"' for the field opened here"
    );
    let e = fails("CSV", b"1,\"A\"x,1,1\n", &trades());
    assert!(
        matches!(
            e,
            InputError::Syntax {
                at: Location::Line(1),
                ..
            }
        ),
        "{e}"
    );
    let e = fails("CSV", b"1,\\N,1,1\n", &trades());
    assert_eq!(e.to_string(), "line 1, column 'symbol': must not be NULL");
    let e = fails("CSV", b"1,A,1,1,5\n", &trades());
    assert_eq!(e.to_string(), "line 1: expected 4 fields, found 5");
}

#[test]
fn csv_with_names_maps_by_name() {
    let d = ok(
        "CSVWithNames",
        b"price,timestamp,symbol\r\n1.5,7,A\r\n2.5,8,B",
        &trades(),
    );
    assert_eq!(f64s(&d, "price"), [Some(1.5), Some(2.5)]);
    assert_eq!(i64s(&d, "timestamp"), [Some(7), Some(8)]);
    assert_eq!(i64s(&d, "volume"), [None, None]);
    let e = fails(
        "CSVWithNames",
        b"price,timestamp,symbol,bid\n1,2,A,3\n",
        &trades(),
    );
    assert_eq!(e.to_string(), "line 1: table trades has no column 'bid'");
    let e = fails("CSVWithNames", b"price,symbol\n1,A\n", &trades());
    assert_eq!(
        e.to_string(),
        "line 1: required column 'timestamp' is not given"
    );
    let e = fails("CSVWithNames", b"price,symbol,timestamp,price\n", &trades());
    assert!(matches!(e, InputError::DuplicateColumn { .. }), "{e}");
    let d = ok(
        "CSVWithNamesAndTypes",
        b"\"symbol\",\"timestamp\"\nString,DateTime64(9)\nA,1\n",
        &trades(),
    );
    assert_eq!(strs(&d, "symbol"), [s("A")]);
    let o = InputOptions {
        skip_unknown_fields: true,
        ..opts()
    };
    let d = run(
        "CSVWithNames",
        b"symbol,bid,timestamp\nA,9,1\n",
        &trades(),
        None,
        &o,
    )
    .unwrap();
    assert_eq!(d.rows, 1);
    // Header names pick among the explicit column list.
    let e = run(
        "CSVWithNames",
        b"symbol,timestamp,price\nA,1,2\n",
        &trades(),
        Some(&["timestamp", "symbol"]),
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(e, InputError::UnknownColumn { .. }), "{e}");
}

#[test]
fn csv_skips_bad_rows_and_resyncs_after_broken_quotes() {
    let data = b"1,A,1,1\n2,A,x,2\n3,\"A,3,3\n4,A,4,4\n5,A,5\n6,A,6,6\n";
    let d = run("CSV", data, &trades(), None, &skipping()).unwrap();
    assert_eq!(i64s(&d, "timestamp"), some(&[1, 4, 6]));
    let lines: Vec<String> = d.row_errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        [
            "row 2: line 2, column 'price': cannot parse 'x' as Float64",
            "row 3: line 3: unexpected end of data, expected a closing '\"' for the field opened here",
            "row 5: line 5: expected 4 fields, found 3",
        ]
    );
}

#[test]
fn csv_custom_delimiter() {
    let o = InputOptions {
        csv_delimiter: b';',
        ..opts()
    };
    let d = run("CSV", b"1;\"A;B\";1,5;2\n", &trades(), None, &o).unwrap_err();
    assert_eq!(
        d.to_string(),
        "line 1, column 'price': cannot parse '1,5' as Float64"
    );
    let d = run("CSV", b"1;\"A;B\"; 1.5 ;2\n", &trades(), None, &o).unwrap();
    assert_eq!(strs(&d, "symbol"), [s("A;B")]);
    assert_eq!(f64s(&d, "price"), [Some(1.5)]);
}

// ---------------------------------------------------------------------------------------------
// TabSeparated

#[test]
fn tsv_escapes_nulls_crlf() {
    let data = concat!(
        "2026-11-20 14:30:00.123456789\tBTC\t-1\t2\t1.5\ttrue\ta\\tb\\nc\\\\d\\'\\x41\r\n",
        "1\tETH\t\\N\t\t\\N\t\\N\t\\N\n",
        "\n",
        "2\tÜ\t3\t4\t5\t0\t\n",
        "3\tX\tNULL\tnull\t\t\tNULL"
    );
    let d = ok("TabSeparated", data.as_bytes(), &wide());
    assert_eq!(i64s(&d, "ts"), [Some(TS), Some(1), Some(2), Some(3)]);
    assert_eq!(strs(&d, "sym"), [s("BTC"), s("ETH"), s("Ü"), s("X")]);
    assert_eq!(i64s(&d, "i"), [Some(-1), None, Some(3), None]);
    assert_eq!(u64s(&d, "u"), [Some(2), None, Some(4), None]);
    assert_eq!(bools(&d, "b"), [Some(true), None, Some(false), None]);
    assert_eq!(strs(&d, "s"), [s("a\tb\nc\\d'A"), None, s(""), s("NULL")]);
}

#[test]
fn tsv_escaped_newline_and_raw() {
    let d = ok("TSV", b"1\tA\\\nB\t1\t1\n", &trades());
    assert_eq!(strs(&d, "symbol"), [s("A\nB")]);
    let d = ok("TSVRaw", b"1\tA\\nB\t1\t1\r\n", &trades());
    assert_eq!(strs(&d, "symbol"), [s("A\\nB")]);
}

#[test]
fn tsv_headers_and_errors() {
    let d = ok(
        "TSVWithNames",
        b"symbol\tprice\ttimestamp\nA\t1.5\t1\n",
        &trades(),
    );
    assert_eq!(f64s(&d, "price"), [Some(1.5)]);
    let d = ok(
        "TSVWithNamesAndTypes",
        b"symbol\ttimestamp\nString\tDateTime64(9)\nA\t1\n",
        &trades(),
    );
    assert_eq!(i64s(&d, "timestamp"), [Some(1)]);
    let e = fails(
        "TabSeparatedWithNamesAndTypes",
        b"symbol\ttimestamp\nString\nA\t1\n",
        &trades(),
    );
    assert_eq!(e.to_string(), "line 2: expected 2 fields, found 1");
    let e = fails("TSV", b"1\tA\t1\t1\n2\tA\t2\n", &trades());
    assert_eq!(e.to_string(), "line 2: expected 4 fields, found 3");
    let e = fails("TSV", b"1\tA\t1\t1\n2\tA\tabc\t2\n", &trades());
    assert_eq!(
        e.to_string(),
        "line 2, column 'price': cannot parse 'abc' as Float64"
    );
    let d = run(
        "TSV",
        b"1\tA\t1\t1\nx\tA\t2\t2\n3\tA\t3\t3",
        &trades(),
        None,
        &skipping(),
    )
    .unwrap();
    assert_eq!(i64s(&d, "timestamp"), some(&[1, 3]));
    assert_eq!(d.row_errors[0].row, 2);
}

// ---------------------------------------------------------------------------------------------
// Values

#[test]
fn values_literals() {
    let data = "(1, 'BTC', 1.5, -2), (2,'it''s \\'x\\' \\\\ \\n',NULL,+3)\n,('2026-11-20 14:30:00.123456789', 'Ü', -1.5e3, NULL);";
    let d = ok("Values", data.as_bytes(), &trades());
    assert_eq!(i64s(&d, "timestamp"), [Some(1), Some(2), Some(TS)]);
    assert_eq!(strs(&d, "symbol"), [s("BTC"), s("it's 'x' \\ \n"), s("Ü")]);
    assert_eq!(f64s(&d, "price"), [Some(1.5), None, Some(-1500.0)]);
    assert_eq!(i64s(&d, "volume"), [Some(-2), Some(3), None]);
    let d = ok("Values", b"(1, 'A', true, false)", &schema_bools());
    assert_eq!(bools(&d, "b"), [Some(true)]);
    assert_eq!(f64s(&d, "f"), [Some(0.0)]);
}

fn schema_bools() -> TableSchema {
    use ColumnType as T;
    schema(
        "t",
        &[
            ("ts", T::Timestamp),
            ("sym", T::Symbol),
            ("b", T::Bool),
            ("f", T::Float64),
        ],
    )
}

#[test]
fn values_errors() {
    let e = fails("Values", b"(1, 'A', 1, 1),\n(2, 'A', 'abc', 2)", &trades());
    assert_eq!(
        e.to_string(),
        "line 2, column 'price': cannot parse 'abc' as Float64"
    );
    let e = fails("Values", b"(1, 'A', 1)", &trades());
    assert_eq!(e.to_string(), "line 1: expected 4 fields, found 3");
    let e = fails("Values", b"(now(), 'A', 1, 1)", &trades());
    assert!(e.to_string().contains("literals only"), "{e}");
    let e = fails("Values", b"(1, 'A, 1, 1)", &trades());
    assert!(matches!(e, InputError::UnexpectedEnd { .. }), "{e}");
    let e = fails("Values", b"(1, 'A', 1, 1) x", &trades());
    assert!(matches!(e, InputError::Syntax { .. }), "{e}");
    let d = run(
        "Values",
        b"(1,'A',1,1),(2,'A','x',2),(3,'A',3)(4,'A',4,4)",
        &trades(),
        None,
        &skipping(),
    )
    .unwrap();
    assert_eq!(i64s(&d, "timestamp"), some(&[1, 4]));
    assert_eq!(d.row_errors.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Binary encoders for tests

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn varint(&mut self, mut v: u64) -> &mut Self {
        loop {
            let byte = (v & 0x7F) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return self;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
}

fn le_all<const N: usize, T: Copy>(values: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| f(v)).collect()
}

fn strings(values: &[&str]) -> Vec<u8> {
    let mut e = Enc::default();
    for v in values {
        e.str(v);
    }
    e.0
}

/// `LowCardinality([Nullable](String))` column data as clickhouse-connect writes it.
fn lc_strings(values: &[Option<&str>], nullable: bool) -> Vec<u8> {
    let mut keys: Vec<&str> = Vec::new();
    let mut index: Vec<u64> = Vec::new();
    if nullable {
        keys.push("");
    }
    for v in values {
        match v {
            None => index.push(0),
            Some(v) => {
                let start = nullable as usize;
                let k = keys[start..]
                    .iter()
                    .position(|k| k == v)
                    .map(|p| p + start)
                    .unwrap_or_else(|| {
                        keys.push(v);
                        keys.len() - 1
                    });
                index.push(k as u64);
            }
        }
    }
    let ix_type = ((keys.len() as f64).log2() as u64) >> 3;
    let width = 1usize << ix_type;
    let mut e = Enc::default();
    e.u64(1)
        .u64((1 << 9) | (1 << 10) | ix_type)
        .u64(keys.len() as u64);
    for k in &keys {
        e.str(k);
    }
    e.u64(index.len() as u64);
    for i in index {
        e.raw(&i.to_le_bytes()[..width]);
    }
    e.0
}

/// One Native block at revision 0.
fn native_block(rows: u64, columns: &[(&str, &str, Vec<u8>)]) -> Vec<u8> {
    let mut e = Enc::default();
    e.varint(columns.len() as u64).varint(rows);
    for (name, ty, data) in columns {
        e.str(name).str(ty).raw(data);
    }
    e.0
}

fn run_native(data: &[u8], schema: &TableSchema) -> Result<Decoded, InputError> {
    run("Native", data, schema, None, &opts())
}

// ---------------------------------------------------------------------------------------------
// Native

#[test]
fn native_block_of_every_numeric_width() {
    use ColumnType as T;
    let table = schema(
        "n",
        &[
            ("ts", T::Timestamp),
            ("sym", T::Symbol),
            ("i8", T::Int64),
            ("i16", T::Int64),
            ("i32", T::Int64),
            ("i64", T::Int64),
            ("u8", T::UInt64),
            ("u16", T::UInt64),
            ("u32", T::UInt64),
            ("u64", T::UInt64),
            ("f32", T::Float64),
            ("f64", T::Float64),
            ("ints_as_float", T::Float64),
            ("b", T::Bool),
            ("b_u8", T::Bool),
            ("dt", T::Timestamp),
            ("dt3", T::Timestamp),
            ("dt6", T::Timestamp),
            ("date", T::Timestamp),
            ("date32", T::Timestamp),
            ("dec", T::Float64),
            ("fixed", T::String),
            ("i_from_str", T::Int64),
        ],
    );
    let block = native_block(
        2,
        &[
            (
                "ts",
                "DateTime64(9)",
                le_all(&[TS, TS + 1], i64::to_le_bytes),
            ),
            ("sym", "String", strings(&["BTC", "ÉTH"])),
            ("i8", "Int8", le_all(&[-128i8, 127], i8::to_le_bytes)),
            (
                "i16",
                "Int16",
                le_all(&[i16::MIN, i16::MAX], i16::to_le_bytes),
            ),
            (
                "i32",
                "Int32",
                le_all(&[i32::MIN, i32::MAX], i32::to_le_bytes),
            ),
            (
                "i64",
                "Int64",
                le_all(&[i64::MIN, i64::MAX], i64::to_le_bytes),
            ),
            ("u8", "UInt8", le_all(&[0u8, 255], u8::to_le_bytes)),
            ("u16", "UInt16", le_all(&[0u16, u16::MAX], u16::to_le_bytes)),
            ("u32", "UInt32", le_all(&[0u32, u32::MAX], u32::to_le_bytes)),
            ("u64", "UInt64", le_all(&[0u64, u64::MAX], u64::to_le_bytes)),
            ("f32", "Float32", le_all(&[1.5f32, -0.25], f32::to_le_bytes)),
            (
                "f64",
                "Float64",
                le_all(&[1e300f64, f64::NEG_INFINITY], f64::to_le_bytes),
            ),
            (
                "ints_as_float",
                "Int16",
                le_all(&[-3i16, 4], i16::to_le_bytes),
            ),
            ("b", "Bool", vec![1, 0]),
            ("b_u8", "UInt8", vec![0, 1]),
            (
                "dt",
                "DateTime('UTC')",
                le_all(&[1_795_185_000u32, 0], u32::to_le_bytes),
            ),
            (
                "dt3",
                "DateTime64(3, 'UTC')",
                le_all(&[1_795_185_000_123i64, -1], i64::to_le_bytes),
            ),
            (
                "dt6",
                "DateTime64(6)",
                le_all(&[1_795_185_000_123_456i64, 1], i64::to_le_bytes),
            ),
            ("date", "Date", le_all(&[1u16, 20_777], u16::to_le_bytes)),
            ("date32", "Date32", le_all(&[-1i32, 1], i32::to_le_bytes)),
            (
                "dec",
                "Decimal(18, 4)",
                le_all(&[12_345i64, -5], i64::to_le_bytes),
            ),
            ("fixed", "FixedString(4)", b"ab\0\0wxyz".to_vec()),
            ("i_from_str", "String", strings(&["12", "-7"])),
        ],
    );
    let d = run_native(&block, &table).unwrap();
    assert_eq!(d.rows, 2);
    assert_eq!(i64s(&d, "ts"), some(&[TS, TS + 1]));
    assert_eq!(strs(&d, "sym"), [s("BTC"), s("ÉTH")]);
    assert_eq!(i64s(&d, "i8"), some(&[-128, 127]));
    assert_eq!(i64s(&d, "i16"), some(&[i16::MIN as i64, i16::MAX as i64]));
    assert_eq!(i64s(&d, "i32"), some(&[i32::MIN as i64, i32::MAX as i64]));
    assert_eq!(i64s(&d, "i64"), some(&[i64::MIN, i64::MAX]));
    assert_eq!(u64s(&d, "u8"), some(&[0, 255]));
    assert_eq!(u64s(&d, "u16"), some(&[0, u16::MAX as u64]));
    assert_eq!(u64s(&d, "u32"), some(&[0, u32::MAX as u64]));
    assert_eq!(u64s(&d, "u64"), some(&[0, u64::MAX]));
    assert_eq!(f64s(&d, "f32"), some(&[1.5, -0.25]));
    assert_eq!(f64s(&d, "f64"), some(&[1e300, f64::NEG_INFINITY]));
    assert_eq!(f64s(&d, "ints_as_float"), some(&[-3.0, 4.0]));
    assert_eq!(bools(&d, "b"), some(&[true, false]));
    assert_eq!(bools(&d, "b_u8"), some(&[false, true]));
    assert_eq!(i64s(&d, "dt"), some(&[1_795_185_000 * SEC, 0]));
    assert_eq!(i64s(&d, "dt3"), some(&[TS - 456_789, -1_000_000]));
    assert_eq!(i64s(&d, "dt6"), some(&[TS - 789, 1000]));
    assert_eq!(
        i64s(&d, "date"),
        some(&[86_400 * SEC, 20_777 * 86_400 * SEC])
    );
    assert_eq!(i64s(&d, "date32"), some(&[-86_400 * SEC, 86_400 * SEC]));
    assert_eq!(f64s(&d, "dec"), some(&[1.2345, -0.0005]));
    assert_eq!(strs(&d, "fixed"), [s("ab"), s("wxyz")]);
    assert_eq!(i64s(&d, "i_from_str"), some(&[12, -7]));
}

#[test]
fn native_nullable_and_low_cardinality_like_clickhouse_connect() {
    let table = wide();
    let mut body = native_block(
        3,
        &[
            (
                "ts",
                "DateTime64(9)",
                le_all(&[1i64, 2, 3], i64::to_le_bytes),
            ),
            (
                "sym",
                "LowCardinality(String)",
                lc_strings(&[Some("BTC"), Some("ETH"), Some("BTC")], false),
            ),
            (
                "i",
                "Nullable(Int64)",
                [vec![0, 1, 0], le_all(&[5i64, 0, -5], i64::to_le_bytes)].concat(),
            ),
            (
                "s",
                "LowCardinality(Nullable(String))",
                lc_strings(&[None, Some("x"), Some("")], true),
            ),
            (
                "f",
                "Nullable(Float64)",
                [vec![1, 1, 0], le_all(&[0.0f64, 0.0, 2.5], f64::to_le_bytes)].concat(),
            ),
        ],
    );
    // A second block with the columns in another order and some left out.
    body.extend(native_block(
        2,
        &[
            (
                "sym",
                "LowCardinality(String)",
                lc_strings(&[Some("SOL"), Some("SOL")], false),
            ),
            ("ts", "DateTime64(9)", le_all(&[4i64, 5], i64::to_le_bytes)),
            (
                "s",
                "Nullable(String)",
                [vec![0, 1], strings(&["y", ""])].concat(),
            ),
        ],
    ));
    // An empty block, as some writers end with.
    body.extend(native_block(0, &[]));
    let d = run_native(&body, &table).unwrap();
    assert_eq!(d.rows, 5);
    assert_eq!(i64s(&d, "ts"), some(&[1, 2, 3, 4, 5]));
    assert_eq!(
        strs(&d, "sym"),
        [s("BTC"), s("ETH"), s("BTC"), s("SOL"), s("SOL")]
    );
    assert_eq!(i64s(&d, "i"), [Some(5), None, Some(-5), None, None]);
    assert_eq!(strs(&d, "s"), [None, s("x"), s(""), s("y"), None]);
    assert_eq!(f64s(&d, "f"), [None, None, Some(2.5), None, None]);
    assert_eq!(u64s(&d, "u"), [None; 5]);
}

#[test]
fn native_low_cardinality_wide_indexes_and_several_groups() {
    use ColumnType as T;
    let table = schema("t", &[("ts", T::Timestamp), ("sym", T::Symbol)]);
    // 300 distinct keys need UInt16 indexes.
    let names: Vec<String> = (0..300).map(|i| format!("S{i}")).collect();
    let values: Vec<Option<&str>> = names.iter().map(|n| Some(n.as_str())).collect();
    let lc = lc_strings(&values, false);
    assert_eq!(lc[8], 1, "UInt16 index type");
    let block = native_block(
        300,
        &[
            (
                "ts",
                "Int64",
                le_all(&(0..300).collect::<Vec<i64>>(), i64::to_le_bytes),
            ),
            ("sym", "LowCardinality(String)", lc),
        ],
    );
    let d = run_native(&block, &table).unwrap();
    assert_eq!(strs(&d, "sym")[299], s("S299"));

    // Two index groups in one column of one block: the second reuses no keys.
    let mut lc = Enc::default();
    lc.u64(1);
    lc.u64(1 << 9).u64(2).str("A").str("B").u64(2).raw(&[1, 0]);
    lc.u64(1 << 9).u64(1).str("C").u64(1).raw(&[0]);
    let block = native_block(
        3,
        &[
            ("ts", "Int64", le_all(&[1i64, 2, 3], i64::to_le_bytes)),
            ("sym", "LowCardinality(String)", lc.0),
        ],
    );
    let d = run_native(&block, &table).unwrap();
    assert_eq!(strs(&d, "sym"), [s("B"), s("A"), s("C")]);

    // A global dictionary with additional keys after it.
    let mut lc = Enc::default();
    lc.u64(1);
    lc.u64((1 << 8) | (1 << 9) | (1 << 10))
        .u64(2)
        .str("G0")
        .str("G1")
        .u64(1)
        .str("X")
        .u64(3)
        .raw(&[2, 1, 0]);
    let block = native_block(
        3,
        &[
            ("ts", "Int64", le_all(&[1i64, 2, 3], i64::to_le_bytes)),
            ("sym", "LowCardinality(String)", lc.0),
        ],
    );
    let d = run_native(&block, &table).unwrap();
    assert_eq!(strs(&d, "sym"), [s("X"), s("G1"), s("G0")]);
}

#[test]
fn native_protocol_versions() {
    let table = trades();
    let columns = [
        (
            "timestamp",
            "DateTime64(9)",
            le_all(&[7i64], i64::to_le_bytes),
        ),
        ("symbol", "String", strings(&["A"])),
    ];
    let mut with_info = Enc::default();
    with_info
        .raw(&[0x01, 0x00, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])
        .varint(2)
        .varint(1);
    for (name, ty, data) in &columns {
        with_info.str(name).str(ty).raw(&[0]).raw(data);
    }
    let o = InputOptions {
        native_protocol_version: 54460,
        ..opts()
    };
    let d = run("Native", &with_info.0, &table, None, &o).unwrap();
    assert_eq!(i64s(&d, "timestamp"), [Some(7)]);
    let o = InputOptions {
        native_protocol_version: 54405,
        ..opts()
    };
    let e = run("Native", &with_info.0, &table, None, &o).unwrap_err();
    assert!(
        matches!(
            e,
            InputError::UnsupportedType { .. }
                | InputError::Syntax { .. }
                | InputError::UnexpectedEnd { .. }
        ),
        "{e}"
    );
    let mut sparse = with_info.0.clone();
    let flag = 8 + 2 + 1 + "timestamp".len() + 1 + "DateTime64(9)".len();
    assert_eq!(sparse[flag], 0);
    sparse[flag] = 1;
    let o = InputOptions {
        native_protocol_version: 54460,
        ..opts()
    };
    let e = run("Native", &sparse, &table, None, &o).unwrap_err();
    assert!(e.to_string().contains("sparse"), "{e}");
}

#[test]
fn native_errors_carry_byte_offsets() {
    let table = trades();
    let block = native_block(
        1,
        &[
            ("timestamp", "UInt64", le_all(&[u64::MAX], u64::to_le_bytes)),
            ("symbol", "String", strings(&["A"])),
        ],
    );
    let e = run_native(&block, &table).unwrap_err();
    assert_eq!(
        e.to_string(),
        "byte 19, column 'timestamp': value 18446744073709551615 is out of range for Timestamp"
    );
    let block = native_block(
        1,
        &[
            ("timestamp", "Int64", le_all(&[1i64], i64::to_le_bytes)),
            ("symbol", "String", strings(&["A"])),
        ],
    );
    let e = run_native(&block[..block.len() - 1], &table).unwrap_err();
    assert!(
        matches!(
            e,
            InputError::UnexpectedEnd {
                at: Location::Byte(_),
                ..
            }
        ),
        "{e}"
    );
    let block = native_block(1, &[("timestamp", "Int128", vec![0; 16])]);
    assert_eq!(
        run_native(&block, &table).unwrap_err().to_string(),
        "byte 2, column 'timestamp': unsupported ClickHouse type 'Int128'"
    );
    let block = native_block(
        1,
        &[
            ("timestamp", "Int64", vec![0; 8]),
            ("symbol", "Float64", vec![0; 8]),
        ],
    );
    assert_eq!(
        run_native(&block, &table).unwrap_err().to_string(),
        "byte 26, column 'symbol': cannot insert Float64 into a Symbol column"
    );
    let block = native_block(
        1,
        &[
            ("timestamp", "Int64", vec![0; 8]),
            ("bid", "Float64", vec![0; 8]),
        ],
    );
    assert!(matches!(
        run_native(&block, &table).unwrap_err(),
        InputError::UnknownColumn { .. }
    ));
    let block = native_block(1, &[("timestamp", "Int64", vec![0; 8])]);
    assert_eq!(
        run_native(&block, &table).unwrap_err().to_string(),
        "byte 0: required column 'symbol' is not given"
    );
    let block = native_block(
        1,
        &[
            ("timestamp", "Int64", vec![0; 8]),
            ("symbol", "Nullable(String)", vec![1, 0]),
        ],
    );
    assert_eq!(
        run_native(&block, &table).unwrap_err().to_string(),
        "byte 50, column 'symbol': must not be NULL"
    );
    let block = native_block(
        2,
        &[
            (
                "timestamp",
                "Nullable(DateTime64(9))",
                [vec![0, 1], vec![0; 16]].concat(),
            ),
            ("symbol", "String", strings(&["A", "B"])),
        ],
    );
    assert_eq!(
        run_native(&block, &table).unwrap_err().to_string(),
        "byte 37, column 'timestamp': must not be NULL"
    );
    let mut lc = lc_strings(&[Some("A")], false);
    let last = lc.len() - 1;
    lc[last] = 9;
    let block = native_block(
        1,
        &[
            ("timestamp", "Int64", vec![0; 8]),
            ("symbol", "LowCardinality(String)", lc),
        ],
    );
    assert!(run_native(&block, &table)
        .unwrap_err()
        .to_string()
        .contains("index 9 out of range for 1 keys"));
    let mut lc = Enc::default();
    lc.u64(2);
    let block = native_block(
        1,
        &[
            ("timestamp", "Int64", vec![0; 8]),
            ("symbol", "LowCardinality(String)", lc.0),
        ],
    );
    assert!(run_native(&block, &table)
        .unwrap_err()
        .to_string()
        .contains("serialization version 2"));
    let mut huge = Enc::default();
    huge.varint(2).varint(u64::MAX);
    assert_eq!(
        run_native(&huge.0, &table).unwrap_err(),
        InputError::TooManyRows {
            max: ROWS_MAX_DEFAULT
        }
    );
}

// ---------------------------------------------------------------------------------------------
// RowBinary

#[test]
fn row_binary_plain_uses_the_described_types() {
    let table = wide();
    let mut e = Enc::default();
    e.raw(&TS.to_le_bytes()).str("BTC");
    e.raw(&[0]).raw(&(-5i64).to_le_bytes());
    e.raw(&[1]); // u NULL
    e.raw(&[0]).raw(&1.5f64.to_le_bytes());
    e.raw(&[0, 1]); // b = true
    e.raw(&[0]).str("héllo");
    e.raw(&1i64.to_le_bytes()).str("ETH").raw(&[1, 1, 1, 1, 1]);
    let d = ok("RowBinary", &e.0, &table);
    assert_eq!(i64s(&d, "ts"), some(&[TS, 1]));
    assert_eq!(strs(&d, "sym"), [s("BTC"), s("ETH")]);
    assert_eq!(i64s(&d, "i"), [Some(-5), None]);
    assert_eq!(u64s(&d, "u"), [None, None]);
    assert_eq!(f64s(&d, "f"), [Some(1.5), None]);
    assert_eq!(bools(&d, "b"), [Some(true), None]);
    assert_eq!(strs(&d, "s"), [s("héllo"), None]);
}

#[test]
fn row_binary_with_names_and_types_every_width() {
    use ColumnType as T;
    let table = schema(
        "t",
        &[
            ("ts", T::Timestamp),
            ("sym", T::Symbol),
            ("i", T::Int64),
            ("u", T::UInt64),
            ("f", T::Float64),
            ("b", T::Bool),
        ],
    );
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("Int8", vec![0xFF], "i", "-1"),
        ("Int16", (-300i16).to_le_bytes().to_vec(), "i", "-300"),
        ("Int32", (-70_000i32).to_le_bytes().to_vec(), "i", "-70000"),
        (
            "Int64",
            i64::MIN.to_le_bytes().to_vec(),
            "i",
            "-9223372036854775808",
        ),
        ("UInt8", vec![200], "u", "200"),
        ("UInt16", 60_000u16.to_le_bytes().to_vec(), "u", "60000"),
        (
            "UInt32",
            4_000_000_000u32.to_le_bytes().to_vec(),
            "u",
            "4000000000",
        ),
        (
            "UInt64",
            u64::MAX.to_le_bytes().to_vec(),
            "u",
            "18446744073709551615",
        ),
        ("Float32", 0.5f32.to_le_bytes().to_vec(), "f", "0.5"),
        ("Float64", 2.25f64.to_le_bytes().to_vec(), "f", "2.25"),
        ("UInt32", 7u32.to_le_bytes().to_vec(), "f", "7"),
        ("Bool", vec![1], "b", "true"),
        (
            "Nullable(Int32)",
            [vec![0], 9i32.to_le_bytes().to_vec()].concat(),
            "i",
            "9",
        ),
        ("Nullable(Float32)", vec![1], "f", "NULL"),
        (
            "LowCardinality(Nullable(String))",
            [vec![0], strings(&["12"])].concat(),
            "u",
            "12",
        ),
    ];
    for (ty, value, column, expected) in cases {
        let mut e = Enc::default();
        e.varint(3).str("ts").str("sym").str(column);
        e.str("DateTime64(3)").str("LowCardinality(String)").str(ty);
        e.raw(&1_000i64.to_le_bytes()).str("A").raw(&value);
        let d = ok("RowBinaryWithNamesAndTypes", &e.0, &table);
        assert_eq!(i64s(&d, "ts"), [Some(SEC)], "{ty}");
        let got = match column {
            "i" => i64s(&d, "i")[0].map(|v| v.to_string()),
            "u" => u64s(&d, "u")[0].map(|v| v.to_string()),
            "f" => f64s(&d, "f")[0].map(|v| v.to_string()),
            _ => bools(&d, "b")[0].map(|v| v.to_string()),
        };
        assert_eq!(got.as_deref().unwrap_or("NULL"), expected, "{ty}");
    }
}

#[test]
fn row_binary_with_names_and_errors() {
    let table = trades();
    let mut e = Enc::default();
    e.varint(2).str("symbol").str("timestamp");
    e.str("A").raw(&5i64.to_le_bytes());
    let d = ok("RowBinaryWithNames", &e.0, &table);
    assert_eq!(i64s(&d, "timestamp"), [Some(5)]);
    assert_eq!(f64s(&d, "price"), [None]);

    let mut e = Enc::default();
    e.varint(2)
        .str("symbol")
        .str("timestamp")
        .str("String")
        .str("UInt64");
    e.str("A").raw(&u64::MAX.to_le_bytes());
    let err = fails("RowBinaryWithNamesAndTypes", &e.0, &table);
    assert_eq!(
        err.to_string(),
        "byte 34, column 'timestamp': value 18446744073709551615 is out of range for Timestamp"
    );
    let err = fails("RowBinaryWithNamesAndTypes", &e.0[..e.0.len() - 3], &table);
    assert_eq!(
        err.to_string(),
        "byte 34: unexpected end of data, expected UInt64"
    );

    let mut e = Enc::default();
    e.varint(2)
        .str("symbol")
        .str("timestamp")
        .str("String")
        .str("Float64");
    assert!(matches!(
        fails("RowBinaryWithNamesAndTypes", &e.0, &table),
        InputError::TypeMismatch { .. }
    ));
    let mut e = Enc::default();
    e.varint(2)
        .str("symbol")
        .str("timestamp")
        .str("String")
        .str("Array(Int64)");
    assert!(matches!(
        fails("RowBinaryWithNamesAndTypes", &e.0, &table),
        InputError::UnsupportedType { .. }
    ));

    let mut e = Enc::default();
    e.varint(3)
        .str("symbol")
        .str("timestamp")
        .str("bid")
        .str("String")
        .str("Int64")
        .str("Float64");
    e.str("A")
        .raw(&5i64.to_le_bytes())
        .raw(&1.0f64.to_le_bytes());
    assert!(matches!(
        fails("RowBinaryWithNamesAndTypes", &e.0, &table),
        InputError::UnknownColumn { .. }
    ));
    let o = InputOptions {
        skip_unknown_fields: true,
        ..opts()
    };
    let d = run("RowBinaryWithNamesAndTypes", &e.0, &table, None, &o).unwrap();
    assert_eq!(d.rows, 1);

    let mut e = Enc::default();
    e.raw(&1i64.to_le_bytes()).varint(1 << 40);
    assert!(matches!(
        fails("RowBinary", &e.0, &table),
        InputError::FieldTooLong { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Bounds

#[test]
fn bounds_rows_fields_columns() {
    let table = trades();
    let o = InputOptions {
        rows_max: 2,
        ..opts()
    };
    let e = run("CSV", b"1,A,1,1\n2,A,2,2\n3,A,3,3\n", &table, None, &o).unwrap_err();
    assert_eq!(e.to_string(), "more than 2 rows in one insert");
    assert!(run("CSV", b"1,A,1,1\n2,A,2,2\n", &table, None, &o).is_ok());
    let block = native_block(
        3,
        &[
            ("timestamp", "Int64", vec![0; 24]),
            ("symbol", "String", strings(&["A", "A", "A"])),
        ],
    );
    assert_eq!(
        run("Native", &block, &table, None, &o).unwrap_err(),
        InputError::TooManyRows { max: 2 }
    );

    let o = InputOptions {
        field_bytes_max: 4,
        ..opts()
    };
    let e = run(
        "JSONEachRow",
        br#"{"timestamp":1,"symbol":"ABCDE"}"#,
        &table,
        None,
        &o,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 'symbol': field of 5 bytes is over the limit of 4 bytes"
    );
    for format in ["CSV", "TSV"] {
        let e = run(
            format,
            b"1,ABCDE,1,1\n"
                .map(|c| {
                    if format == "TSV" && c == b',' {
                        b'\t'
                    } else {
                        c
                    }
                })
                .as_slice(),
            &table,
            None,
            &o,
        )
        .unwrap_err();
        assert!(
            matches!(e, InputError::FieldTooLong { len: 5, max: 4, .. }),
            "{format}: {e}"
        );
    }
    let e = run(
        "Native",
        &native_block(
            1,
            &[
                ("timestamp", "Int64", vec![0; 8]),
                ("symbol", "String", strings(&["ABCDE"])),
            ],
        ),
        &table,
        None,
        &o,
    )
    .unwrap_err();
    assert!(
        matches!(e, InputError::FieldTooLong { len: 5, max: 4, .. }),
        "{e}"
    );

    let o = InputOptions {
        column_bytes_max: 5,
        ..opts()
    };
    let e = run("CSV", b"1,ABC,1,1\n2,DEF,1,1\n", &table, None, &o).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 'symbol': more than 5 bytes of strings in one insert"
    );
}

// ---------------------------------------------------------------------------------------------
// Never panic

mod never_panic {
    use proptest::prelude::*;

    use super::*;

    fn samples() -> Vec<(InputFormat, Vec<u8>)> {
        let native = [
            native_block(
                2,
                &[
                    ("ts", "DateTime64(9)", le_all(&[1i64, 2], i64::to_le_bytes)),
                    (
                        "sym",
                        "LowCardinality(String)",
                        lc_strings(&[Some("A"), Some("B")], false),
                    ),
                    (
                        "s",
                        "LowCardinality(Nullable(String))",
                        lc_strings(&[None, Some("x")], true),
                    ),
                    (
                        "f",
                        "Nullable(Float64)",
                        [vec![0, 1], le_all(&[1.0f64, 0.0], f64::to_le_bytes)].concat(),
                    ),
                    ("i", "Int16", le_all(&[1i16, 2], i16::to_le_bytes)),
                ],
            ),
            native_block(
                1,
                &[
                    ("ts", "DateTime", vec![1, 0, 0, 0]),
                    ("sym", "String", strings(&["C"])),
                ],
            ),
        ]
        .concat();
        let mut rb = Enc::default();
        rb.varint(3)
            .str("ts")
            .str("sym")
            .str("u")
            .str("DateTime64(6)")
            .str("String")
            .str("Nullable(UInt32)");
        rb.raw(&5i64.to_le_bytes()).str("A").raw(&[0, 1, 0, 0, 0]);
        rb.raw(&6i64.to_le_bytes()).str("B").raw(&[1]);
        vec![
            (
                InputFormat::JsonEachRow,
                br#"{"ts":"2026-11-20 14:30:00","sym":"A","i":1,"f":1.5,"b":true,"s":"x\u00e9\n"}
{"ts":2,"sym":"B","u":"3","s":[1,{"a":"]"}]}"#
                    .to_vec(),
            ),
            (
                InputFormat::JsonCompactEachRowWithNames,
                b"[\"ts\",\"sym\",\"f\"]\n[1,\"A\",1.5]\n[2,\"B\",null]".to_vec(),
            ),
            (
                InputFormat::CsvWithNames,
                b"ts,sym,s,f\n1,\"A\",\"x,\"\"y\"\"\",1.5\r\n2,B,\\N,\n".to_vec(),
            ),
            (
                InputFormat::TabSeparatedWithNamesAndTypes,
                b"ts\tsym\ts\nInt64\tString\tString\n1\tA\ta\\tb\n2\tB\t\\N\n".to_vec(),
            ),
            (
                InputFormat::Values,
                b"(1, 'A', 2, 3, 1.5, true, 'it''s'), (2, 'B', NULL, NULL, NULL, NULL, NULL)"
                    .to_vec(),
            ),
            (InputFormat::Native, native),
            (InputFormat::RowBinaryWithNamesAndTypes, rb.0),
        ]
    }

    fn decode_all_ways(format: InputFormat, data: &[u8]) {
        let table = wide();
        for opts in [
            opts(),
            skipping(),
            InputOptions {
                skip_unknown_fields: true,
                native_protocol_version: 54460,
                field_bytes_max: 3,
                rows_max: 3,
                ..skipping()
            },
        ] {
            if let Ok(d) = decode(format, data, &table, None, &opts) {
                check_decoded(&d, &table);
            }
        }
    }

    #[test]
    fn samples_decode() {
        for (format, data) in samples() {
            let d = decode(format, &data, &wide(), None, &opts())
                .unwrap_or_else(|e| panic!("{format}: {e}"));
            assert!(d.rows >= 2, "{format}");
            check_decoded(&d, &wide());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            for format in InputFormat::ALL {
                decode_all_ways(format, &data);
            }
        }

        #[test]
        fn random_text(data in "[ -~\t\r\n\\\\\"'\\[\\]{}(),:;é]{0,200}") {
            for format in InputFormat::ALL {
                decode_all_ways(format, data.as_bytes());
            }
        }

        #[test]
        fn mutated_samples(which in 0usize..7, edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
            let (format, mut data) = samples().swap_remove(which);
            for (at, byte, op) in edits {
                let i = at.index(data.len() + 1);
                match op {
                    0 if i < data.len() => data[i] = byte,
                    1 => data.insert(i, byte),
                    _ if i < data.len() => { data.remove(i); }
                    _ => data.push(byte),
                }
            }
            decode_all_ways(format, &data);
            // Any truncation too.
            let cut = data.len() / 2;
            decode_all_ways(format, &data[..cut]);
        }
    }
}
