//! SQL conformance: runs every `tests/slt/*.slt` record against an in-process `Database` and
//! compares with expectations that ClickHouse (chdb) produced, never Ronto.
//!
//! Each file gets a fresh database of `SHARDS` shards with small blocks, loaded from
//! `tests/slt/data/*.csv` by SQL `INSERT`s in chunks, so queries cross sealed blocks, hot
//! buffers and shards, with rows inserted out of time order. The expected rows are written by
//! `tools/sqlref/gen_expected.py`; see `tools/sqlref/README.md` for the file format.
//!
//! Values are compared, not type names: ClickHouse's UInt8 `1`/`0` matches Ronto's Bool,
//! integers match exactly, floats within a relative `FLOAT_RELATIVE_TOLERANCE`.
//!
//! A record preceded by `# KNOWN-BUG: ...` is a Ronto bug found by the suite: it must still
//! fail. When a fix makes it pass, this test fails and asks for the marker to be removed, so
//! the list of known bugs never goes stale.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use sql::db::{Database, Output};
use sql::Value;
use storage::{FsyncPolicy, ShardConfig};

const SHARDS: usize = 3;
/// Small blocks: a symbol's rows span several sealed blocks plus a hot buffer.
const BLOCK_ROWS: usize = 97;
/// Rows per loading `INSERT` statement.
const INSERT_CHUNK_ROWS: usize = 250;
/// Floats match when |a - b| <= tolerance * max(|a|, |b|) (or both are tiny).
const FLOAT_RELATIVE_TOLERANCE: f64 = 1e-9;
const FLOAT_ABSOLUTE_TOLERANCE: f64 = 1e-12;

/// `(table, CREATE statement)`: the same columns and nullability as the chDB tables
/// tools/sqlref/gen_expected.py made the expected results from. The fresh data directory's
/// `trades` and `quotes` (NOT NULL columns) are dropped first.
const TABLES: [(&str, &str); 3] = [
    (
        "trades",
        "CREATE TABLE trades (timestamp DateTime64(9), symbol LowCardinality(String), \
         price Nullable(Float64), volume Nullable(Int64))",
    ),
    (
        "quotes",
        "CREATE TABLE quotes (timestamp DateTime64(9), symbol LowCardinality(String), \
         bid Nullable(Float64), ask Nullable(Float64), bid_size Nullable(Int64), \
         ask_size Nullable(Int64))",
    ),
    (
        "ticks",
        "CREATE TABLE ticks (ts DateTime64(9), symbol Int64, px Nullable(Float64)) ENGINE = MergeTree ORDER BY (symbol, ts)",
    ),
];

fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("slt")
}

fn open_loaded(dir: &Path) -> Database {
    let db = Database::open(dir, SHARDS, || ShardConfig {
        fsync: FsyncPolicy::Never,
        block_rows: BLOCK_ROWS,
        ..ShardConfig::default()
    })
    .expect("open database");
    for (table, create) in TABLES {
        db.execute(&format!("DROP TABLE IF EXISTS {table}"))
            .unwrap_or_else(|e| panic!("dropping {table}: {e}"));
        db.execute(create)
            .unwrap_or_else(|e| panic!("{create}: {e}"));
        let path = slt_dir().join("data").join(format!("{table}.csv"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut lines = text.lines();
        let header = lines.next().expect("CSV header");
        let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
            let values: Vec<String> = chunk
                .iter()
                .map(|line| {
                    let fields: Vec<String> = line.split(',').map(sql_literal).collect();
                    format!("({})", fields.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO {table} ({header}) VALUES {}",
                values.join(", ")
            );
            db.execute(&sql)
                .unwrap_or_else(|e| panic!("loading {table}: {e}"));
        }
        // The load itself is not under test, but everything below depends on it.
        let count = query_rows(&db, &format!("SELECT count() FROM {table}"));
        assert_eq!(
            count,
            vec![vec![Value::UInt(rows.len() as u64)]],
            "rows loaded into {table}"
        );
    }
    // The layout the suite promises: every shard holds rows, both in sealed blocks and in hot
    // buffers.
    for shard in 0..SHARDS {
        let stats = db.shard(shard).stats();
        assert!(
            stats.blocks > 0 && stats.hot_rows > 0,
            "shard {shard} should hold sealed blocks and hot rows: {stats:?}"
        );
    }
    db
}

/// A CSV field as an SQL literal: empty is NULL, numbers stay, anything else is quoted.
fn sql_literal(field: &str) -> String {
    if field.is_empty() {
        "NULL".to_string()
    } else if field.parse::<f64>().is_ok()
        && field
            .trim_start_matches('-')
            .starts_with(|c: char| c.is_ascii_digit())
    {
        field.to_string()
    } else {
        format!("'{}'", field.replace('\'', "''"))
    }
}

fn query_rows(db: &Database, sql: &str) -> Vec<Vec<Value>> {
    match db.execute(sql) {
        Ok(Output::Rows { result, .. }) => (0..result.rows()).map(|r| result.row(r)).collect(),
        other => panic!("{sql}: {other:?}"),
    }
}

#[derive(Debug)]
enum Expect {
    Ok,
    Error {
        code: u32,
        message: String,
    },
    Rows {
        columns: usize,
        rowsort: bool,
        rows: Vec<String>,
    },
}

#[derive(Debug)]
struct Record {
    line: usize,
    sql: String,
    expect: Expect,
    /// The text after `# KNOWN-BUG:`.
    known_bug: Option<String>,
}

/// Parses the format `tools/sqlref/slt.py` writes.
fn parse(text: &str, file: &str) -> Vec<Record> {
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let block = &lines[start..i];
        let header_at = block.iter().position(|l| !l.starts_with('#'));
        let Some(h) = header_at else { continue };
        let words: Vec<&str> = block[h].split_whitespace().collect();
        if !matches!(words[0], "query" | "statement") {
            continue;
        }
        let line = start + h + 1;
        let known_bug = block[..h]
            .iter()
            .find_map(|l| l.strip_prefix("# KNOWN-BUG:").map(|s| s.trim().to_string()));
        let rest = &block[h + 1..];
        let (body, results) = match rest.iter().position(|l| *l == "----") {
            Some(k) => (&rest[..k], Some(&rest[k + 1..])),
            None => (rest, None),
        };
        let sql = body
            .iter()
            .filter(|l| !l.starts_with("-- ref:"))
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        let expect = match (words[0], words.get(1).copied()) {
            ("statement", Some("ok")) => Expect::Ok,
            ("statement", Some("error")) => {
                let code = words
                    .get(2)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or_else(|| {
                        panic!("{file}:{line}: statement error needs a numeric code")
                    });
                let message = block[h]
                    .splitn(4, ' ')
                    .nth(3)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                Expect::Error { code, message }
            }
            ("query", Some(types)) => {
                let results = results.unwrap_or_else(|| {
                    panic!("{file}:{line}: query without '----' (run tools/sqlref/gen_expected.py)")
                });
                Expect::Rows {
                    columns: types.len(),
                    rowsort: words.contains(&"rowsort"),
                    rows: results.iter().map(|s| s.to_string()).collect(),
                }
            }
            _ => panic!("{file}:{line}: bad record header {:?}", block[h]),
        };
        records.push(Record {
            line,
            sql,
            expect,
            known_bug,
        });
    }
    records
}

/// A value as the expected files spell it.
fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Str(s) if s.is_empty() => "(empty)".into(),
        Value::Str(s) => s
            .replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n"),
        other => sql::format_value(other),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "nan" | "-nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn floats_match(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let diff = (a - b).abs();
    diff <= FLOAT_ABSOLUTE_TOLERANCE || diff <= FLOAT_RELATIVE_TOLERANCE * a.abs().max(b.abs())
}

/// Whether Ronto's `actual` value matches ClickHouse's normalized `expected` text.
fn cell_matches(expected: &str, actual: &Value) -> bool {
    let truth = |b: bool| {
        if b {
            matches!(expected, "1" | "true")
        } else {
            matches!(expected, "0" | "false")
        }
    };
    match actual {
        Value::Null => expected == "NULL",
        Value::Bool(b) => truth(*b),
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
            if let (Ok(e), Some(a)) = (expected.parse::<i128>(), int_of(actual)) {
                return e == a;
            }
            match expected {
                "true" => return actual.as_f64() == Some(1.0),
                "false" => return actual.as_f64() == Some(0.0),
                _ => {}
            }
            match (parse_float(expected), actual.as_f64()) {
                (Some(e), Some(a)) => floats_match(e, a),
                _ => false,
            }
        }
        Value::Str(_) | Value::Ts(_) => render(actual) == expected,
    }
}

fn int_of(v: &Value) -> Option<i128> {
    match *v {
        Value::Int(x) => Some(x as i128),
        Value::UInt(x) => Some(x as i128),
        _ => None,
    }
}

fn show_rows(rows: &[String]) -> String {
    if rows.is_empty() {
        return "    (no rows)".into();
    }
    rows.iter()
        .map(|r| format!("    {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs one record; `Err` says how Ronto's answer differs from the expectation.
fn run(db: &Database, rec: &Record) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| db.execute(&rec.sql))).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("Ronto panicked: {msg}")
    })?;
    match (&rec.expect, outcome) {
        (Expect::Ok, Ok(_)) => Ok(()),
        (Expect::Ok, Err(e)) => Err(format!(
            "expected success, got error (code {}): {e}",
            e.code()
        )),
        (Expect::Error { code, message }, Err(e)) => {
            let text = e.to_string();
            if e.code() == *code && text.contains(message.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "expected error code {code} with message containing {message:?}\n  got code {} ({}): {text}",
                    e.code(),
                    e.code_name()
                ))
            }
        }
        (Expect::Error { code, message }, Ok(out)) => Err(format!(
            "expected error code {code} ({message}), but it succeeded: {}",
            match out {
                Output::Rows { result, .. } => format!("{} rows", result.rows()),
                other => format!("{other:?}"),
            }
        )),
        (Expect::Rows { .. }, Err(e)) => Err(format!("error (code {}): {e}", e.code())),
        (Expect::Rows { .. }, Ok(Output::Rows { result, .. })) => {
            let Expect::Rows {
                columns,
                rowsort,
                rows: expected,
            } = &rec.expect
            else {
                unreachable!()
            };
            let mut actual: Vec<Vec<Value>> = (0..result.rows()).map(|r| result.row(r)).collect();
            let mut expected: Vec<Vec<String>> = expected
                .iter()
                .map(|r| r.split('\t').map(str::to_string).collect())
                .collect();
            let actual_text = |rows: &[Vec<Value>]| -> Vec<String> {
                rows.iter()
                    .map(|r| r.iter().map(render).collect::<Vec<_>>().join("\t"))
                    .collect()
            };
            if *rowsort {
                actual.sort_by_key(|r| r.iter().map(render).collect::<Vec<_>>().join("\t"));
                expected.sort_by_key(|r| r.join("\t"));
            }
            let expected_text: Vec<String> = expected.iter().map(|r| r.join("\t")).collect();
            let mismatch = |why: String| {
                Err(format!(
                    "{why}\n  expected:\n{}\n  actual:\n{}",
                    show_rows(&expected_text),
                    show_rows(&actual_text(&actual))
                ))
            };
            if result.columns.len() != *columns {
                return mismatch(format!(
                    "expected {columns} columns, got {}",
                    result.columns.len()
                ));
            }
            if actual.len() != expected.len() {
                return mismatch(format!(
                    "expected {} rows, got {}",
                    expected.len(),
                    actual.len()
                ));
            }
            for (r, (e, a)) in expected.iter().zip(&actual).enumerate() {
                if e.len() != a.len() || !e.iter().zip(a).all(|(e, a)| cell_matches(e, a)) {
                    return mismatch(format!("row {} differs", r + 1));
                }
            }
            Ok(())
        }
        (Expect::Rows { .. }, Ok(other)) => Err(format!("expected rows, got {other:?}")),
    }
}

#[test]
fn sqllogictest_files() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(slt_dir())
        .expect("tests/slt")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .slt files in {}",
        slt_dir().display()
    );
    let (mut total, mut passed) = (0, 0);
    let mut known = Vec::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = format!(
            "sql/tests/slt/{}",
            path.file_name().expect("file name").to_string_lossy()
        );
        let text = std::fs::read_to_string(path).expect("read .slt");
        let records = parse(&text, &name);
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_loaded(dir.path());
        for rec in &records {
            total += 1;
            let at = format!("{name}:{}", rec.line);
            match (run(&db, rec), &rec.known_bug) {
                (Ok(()), None) => passed += 1,
                (Err(why), Some(bug)) => known.push(format!(
                    "{at}: {bug}\n  query: {}\n  {}",
                    rec.sql,
                    why.replace('\n', "\n  ")
                )),
                (Ok(()), Some(bug)) => failures.push(format!(
                    "{at}: marked KNOWN-BUG ({bug}) but now passes: remove the marker\n  query: {}",
                    rec.sql
                )),
                (Err(why), None) => failures.push(format!("{at}\n  query: {}\n  {why}", rec.sql)),
            }
        }
    }
    for k in &known {
        println!("known failure: {k}");
    }
    for f in &failures {
        println!("FAILED {f}\n");
    }
    println!(
        "slt: {total} records in {} files: {passed} passed, {} known failures, {} failed",
        files.len(),
        known.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} .slt records failed (see above)",
        failures.len()
    );
}
