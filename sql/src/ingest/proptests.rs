//! Property tests: random valid line protocol decodes back to the values it was made from, and
//! random or mutated bytes never panic any decoder nor break a batch's invariants.

use proptest::prelude::*;
use storage::{ColumnSchema, ColumnType, TableSchema, Values};

use super::json::{self, JsonOptions};
use super::lineproto::{self, LineOptions};
use super::msgpack::{self, enc::Enc, MsgpackOptions};
use super::{Decoded, DecodedTable};

/// A field value as the generator made it.
#[derive(Debug, Clone)]
enum Field {
    Int(i64),
    UInt(u64),
    Float(f64, bool),
    Bool(bool, usize),
    Str(String),
}

#[derive(Debug, Clone)]
struct Point {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, Field)>,
    ts: Option<i64>,
    /// Spaces between sections and the line end used.
    spaces: usize,
    crlf: bool,
}

/// Names and values with the bytes line protocol must escape, plus some UTF-8.
fn text(min: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just(','),
            1 => Just(' '),
            1 => Just('='),
            1 => Just('\\'),
            1 => Just('"'),
            1 => Just('#'),
            1 => Just('\t'),
            1 => Just('é'),
            1 => Just('😀'),
        ],
        min..8,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        any::<i64>().prop_map(Field::Int),
        any::<u64>().prop_map(Field::UInt),
        (
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            any::<bool>()
        )
            .prop_map(|(f, e)| Field::Float(f, e)),
        (any::<bool>(), 0..5usize).prop_map(|(b, s)| Field::Bool(b, s)),
        proptest::collection::vec(
            prop_oneof![
                3 => proptest::char::range('a', 'z'),
                1 => Just('"'),
                1 => Just('\\'),
                1 => Just('\n'),
                1 => Just(','),
                1 => Just(' '),
                1 => Just('é'),
            ],
            0..10
        )
        .prop_map(|v| Field::Str(v.into_iter().collect())),
    ]
}

fn point() -> impl Strategy<Value = Point> {
    let key = prop_oneof![
        8 => text(1),
        1 => Just("host".to_string()),
        1 => Just("hostname".to_string()),
    ];
    (
        // A leading '#' would make a comment and a leading tab a blank.
        text(1).prop_map(|m| {
            if m.starts_with(['#', '\t']) {
                format!("m{m}")
            } else {
                m
            }
        }),
        proptest::collection::vec((key, text(1)), 0..4),
        proptest::collection::vec((text(1), field()), 1..5),
        proptest::option::of(any::<i64>()),
        1..3usize,
        any::<bool>(),
    )
        .prop_map(|(measurement, tags, fields, ts, spaces, crlf)| {
            // Keys are unique within a line and never the reserved names.
            let mut seen = std::collections::HashSet::new();
            let reserved = |k: &str| k == "timestamp" || k == "symbol";
            let tags = tags
                .into_iter()
                .filter(|(k, _)| !reserved(k) && seen.insert(k.clone()))
                .collect();
            let mut fields: Vec<(String, Field)> = fields
                .into_iter()
                .filter(|(k, _)| !reserved(k) && seen.insert(k.clone()))
                .collect();
            if fields.is_empty() {
                // '_' is not in the generated alphabet, so this key is unique.
                fields.push(("_f".into(), Field::Int(0)));
            }
            Point {
                measurement,
                tags,
                fields,
                ts,
                spaces,
                crlf,
            }
        })
}

fn escape(s: &str, special: &[char]) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if special.contains(&c) || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn encode(p: &Point, index: usize) -> String {
    let mut line = escape(&format!("{}_{index}", p.measurement), &[',', ' ']);
    for (k, v) in &p.tags {
        line += &format!(
            ",{}={}",
            escape(k, &[',', ' ', '=']),
            escape(v, &[',', ' ', '='])
        );
    }
    line += &" ".repeat(p.spaces);
    for (i, (k, v)) in p.fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line += &escape(k, &[',', ' ', '=']);
        line.push('=');
        match v {
            Field::Int(x) => line += &format!("{x}i"),
            Field::UInt(x) => line += &format!("{x}u"),
            Field::Float(x, false) => line += &format!("{x}"),
            Field::Float(x, true) => line += &format!("{x:e}"),
            Field::Bool(b, spelling) => {
                let t = ["t", "T", "true", "True", "TRUE"];
                let f = ["f", "F", "false", "False", "FALSE"];
                line += if *b { t[*spelling] } else { f[*spelling] };
            }
            Field::Str(s) => {
                line.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        line.push('\\');
                    }
                    line.push(c);
                }
                line.push('"');
            }
        }
    }
    if let Some(ts) = p.ts {
        line += &" ".repeat(p.spaces);
        line += &ts.to_string();
    }
    line += if p.crlf { "\r\n" } else { "\n" };
    line
}

/// Row 0 of column `name` of `t`, as a comparable string.
fn cell(t: &DecodedTable, name: &str) -> String {
    let c = t
        .batch
        .columns
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name:?} in {:?}", t.schema().collect::<Vec<_>>()));
    assert!(c.data.is_valid(0));
    match &c.data.values {
        Values::I64(v) => format!("i{}", v[0]),
        Values::U64(v) => format!("u{}", v[0]),
        Values::F64(v) => format!("f{:x}", v[0].to_bits()),
        Values::Bool(v) => format!("b{}", v[0]),
        Values::Sym(v) => format!("s{}", t.batch.symbols[v[0] as usize]),
        Values::Str(v) => format!("t{}", String::from_utf8(v.get(0).to_vec()).unwrap()),
    }
}

fn expected(f: &Field) -> String {
    match f {
        Field::Int(x) => format!("i{x}"),
        Field::UInt(x) => format!("u{x}"),
        Field::Float(x, _) => format!("f{:x}", x.to_bits()),
        Field::Bool(b, _) => format!("b{}", *b as u8),
        Field::Str(s) => format!("t{s}"),
    }
}

fn series_key(measurement: &str, tags: &[(String, String)]) -> String {
    let mut tags = tags.to_vec();
    tags.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut s = escape_influx(measurement, &[',', ' ']);
    for (k, v) in &tags {
        s += &format!(
            ",{}={}",
            escape_influx(k, &[',', '=', ' ']),
            escape_influx(v, &[',', '=', ' '])
        );
    }
    s
}

/// InfluxDB's series-key escaping: only the listed bytes, backslashes as they are.
fn escape_influx(s: &str, special: &[char]) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn check(d: &Decoded) {
    assert_eq!(d.rows, d.tables.iter().map(|t| t.rows()).sum::<usize>());
    assert!(d.rejected >= d.errors.len());
    for t in &d.tables {
        assert!(t.rows() > 0);
        t.check_invariants();
    }
}

fn schema() -> TableSchema {
    let cols = [
        ("timestamp", ColumnType::Timestamp),
        ("symbol", ColumnType::Symbol),
        ("price", ColumnType::Float64),
        ("volume", ColumnType::Int64),
        ("note", ColumnType::String),
    ];
    TableSchema {
        id: 1,
        name: "trades".into(),
        columns: cols
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
        next_column_id: cols.len() as u16,
    }
}

/// A valid body of each format, for mutation.
fn seeds() -> Vec<(u8, Vec<u8>)> {
    let line = b"cpu,host=a\\ b,region=eu usage=1.5,n=3i,u=4u,ok=t,s=\"x\\\"y\" 1700000000000000000\n# c\nmem free=2i\n".to_vec();
    let mut e = Enc::default();
    e.map(1).str("batch").array(2);
    e.map(5)
        .str("m")
        .str("cpu")
        .str("t")
        .int(1_700_000_000_000)
        .str("h")
        .str("h1");
    e.str("tags").map(1).str("dc").str("x");
    e.str("fields")
        .map(3)
        .str("usage")
        .f64(1.5)
        .str("n")
        .int(3)
        .str("s")
        .str("txt");
    e.map(3)
        .str("m")
        .str("cpu")
        .str("tags")
        .map(1)
        .str("k")
        .str("v")
        .str("columns")
        .map(3);
    e.str("time").array(2).int(1).int(2);
    e.str("host").array(2).str("a").nil();
    e.str("usage").array(2).f64(0.5).int(2);
    let json = br#"{"table": "trades", "rows": [{"timestamp": 1, "symbol": "A", "price": 1.5, "note": "a\u00e9"}, {"timestamp": "2024-01-01 00:00:00", "symbol": "B", "volume": 3}]}"#.to_vec();
    let json_cols = br#"{"table": "trades", "columns": {"timestamp": [1, 2], "symbol": ["A", "B"], "price": [1, null]}}"#.to_vec();
    vec![(0, line), (1, e.0), (2, json), (2, json_cols)]
}

fn decode_any(format: u8, body: &[u8]) {
    match format {
        0 => {
            let d = lineproto::decode(body, &LineOptions::new(0))
                .expect("line protocol never fails whole under the default limits");
            check(&d);
        }
        1 => {
            if let Ok(d) = msgpack::decode(body, &MsgpackOptions::new(0)) {
                check(&d);
            }
        }
        _ => {
            if let Ok(d) = json::decode(body, &schema(), &JsonOptions::default()) {
                for t in &d.tables {
                    assert_eq!(t.origins.len(), t.rows());
                    for c in &t.batch.columns {
                        assert_eq!(c.data.len(), t.rows());
                    }
                }
            }
            let _ = json::table_name(body);
        }
    }
}

proptest! {
    // 256 cases unless PROPTEST_CASES says otherwise (a long run is a cheap fuzz on stable).

    #[test]
    fn ingest_lineproto_round_trips(points in proptest::collection::vec(point(), 1..6)) {
        let body: String = points.iter().enumerate().map(|(i, p)| encode(p, i)).collect();
        let d = lineproto::decode(body.as_bytes(), &LineOptions::new(-5)).unwrap();
        prop_assert!(d.errors.is_empty(), "{:?}\n{body}", d.errors);
        check(&d);
        prop_assert_eq!(d.tables.len(), points.len());
        for (i, (p, t)) in points.iter().zip(&d.tables).enumerate() {
            let name = format!("{}_{i}", p.measurement);
            prop_assert_eq!(t.name(), name.as_str());
            prop_assert_eq!(t.rows(), 1);
            prop_assert_eq!(cell(t, "timestamp"), format!("i{}", p.ts.unwrap_or(-5)));
            for (k, v) in &p.tags {
                prop_assert_eq!(cell(t, k), format!("s{v}"));
            }
            for (k, v) in &p.fields {
                let ty = t.schema().find(|(n, _)| n == k).unwrap().1;
                let want_ty = match v {
                    Field::Int(_) => ColumnType::Int64,
                    Field::UInt(_) => ColumnType::UInt64,
                    Field::Float(..) => ColumnType::Float64,
                    Field::Bool(..) => ColumnType::Bool,
                    Field::Str(_) => ColumnType::String,
                };
                prop_assert_eq!(ty, want_ty);
                prop_assert_eq!(cell(t, k), expected(v));
            }
            let tag = |name: &str| p.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let key = tag("host").or_else(|| tag("hostname")).unwrap_or_else(|| series_key(&name, &p.tags));
            prop_assert_eq!(cell(t, "symbol"), format!("s{key}"));
        }
    }

    #[test]
    fn ingest_random_bytes_never_panic(format in 0u8..3, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_any(format, &body);
    }

    #[test]
    fn ingest_mutated_bodies_never_panic(
        seed in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let (format, mut body) = seeds().swap_remove(seed);
        for (at, byte, op) in edits {
            let at = at % (body.len() + 1);
            match op {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ => body.truncate(at),
            }
        }
        decode_any(format, &body);
    }
}

#[test]
fn ingest_seeds_decode_cleanly() {
    for (format, body) in seeds() {
        match format {
            0 => {
                let d = lineproto::decode(&body, &LineOptions::new(0)).unwrap();
                assert!(d.errors.is_empty() && d.rows == 2, "{d:?}");
            }
            1 => {
                let d = msgpack::decode(&body, &MsgpackOptions::new(0)).unwrap();
                assert!(d.errors.is_empty() && d.rows == 3, "{d:?}");
            }
            _ => {
                let d = json::decode(&body, &schema(), &JsonOptions::default()).unwrap();
                assert!(d.errors.is_empty() && d.rows == 2, "{d:?}");
            }
        }
    }
}
