//! `system.*` tables that ClickHouse clients probe: tables, columns, databases, settings, one.

use storage::{Catalog, TableSchema};

use crate::plan::ServerInfo;
use crate::types::{Column, DataType, ResultSet, Value};

/// The ClickHouse type name a client sees for a stored column.
pub fn clickhouse_type(schema: &TableSchema, pos: usize) -> String {
    crate::input::clickhouse_type_name(schema, pos)
}

fn build(cols: &[(&str, DataType)], rows: Vec<Vec<Value>>) -> ResultSet {
    let mut columns: Vec<Column> = cols.iter().map(|(n, t)| Column::new(*n, *t)).collect();
    for row in rows {
        for (c, v) in columns.iter_mut().zip(row.iter()) {
            c.push(v);
        }
    }
    ResultSet { columns }
}

fn s(x: &str) -> Value {
    Value::Str(x.to_string())
}

/// Rows of `system.<name>` (or `information_schema.<name>`), if Ronto provides it.
pub fn table(name: &str, catalog: &Catalog, info: &ServerInfo) -> Option<ResultSet> {
    let str_t = DataType::STRING;
    let u64_t = DataType::UINT64;
    Some(match name.to_ascii_lowercase().as_str() {
        "one" => build(&[("dummy", u64_t)], vec![vec![Value::UInt(0)]]),
        "databases" | "schemata" => build(
            &[
                ("name", str_t),
                ("engine", str_t),
                ("data_path", str_t),
                ("comment", str_t),
            ],
            vec![
                vec![s("default"), s("Ronto"), s(""), s("")],
                vec![s("system"), s("System"), s(""), s("")],
            ],
        ),
        "tables" => build(
            &[
                ("database", str_t),
                ("name", str_t),
                ("engine", str_t),
                ("is_temporary", u64_t),
                ("total_rows", DataType::UINT64.or_null()),
                ("comment", str_t),
                ("create_table_query", str_t),
                ("sorting_key", str_t),
                ("primary_key", str_t),
            ],
            catalog
                .tables()
                .iter()
                .map(|t| {
                    let cols: Vec<String> = (0..t.columns.len())
                        .map(|i| format!("{} {}", t.columns[i].name, clickhouse_type(t, i)))
                        .collect();
                    let key = format!(
                        "{}, {}",
                        t.columns[t.key_index].name, t.columns[t.ts_index].name
                    );
                    vec![
                        s("default"),
                        s(&t.name),
                        s("Ronto"),
                        Value::UInt(0),
                        Value::Null,
                        s(""),
                        Value::Str(format!(
                            "CREATE TABLE default.{} ({}) ENGINE = Ronto ORDER BY ({key})",
                            t.name,
                            cols.join(", ")
                        )),
                        Value::Str(key.clone()),
                        Value::Str(key),
                    ]
                })
                .collect(),
        ),
        "columns" => build(
            &[
                ("database", str_t),
                ("table", str_t),
                ("name", str_t),
                ("type", str_t),
                ("position", u64_t),
                ("default_kind", str_t),
                ("default_expression", str_t),
                ("comment", str_t),
                ("is_in_primary_key", u64_t),
                ("is_in_sorting_key", u64_t),
            ],
            catalog
                .tables()
                .iter()
                .flat_map(|t| {
                    (0..t.columns.len()).map(move |i| {
                        let key = (i == t.key_index || i == t.ts_index) as u64;
                        vec![
                            s("default"),
                            s(&t.name),
                            s(&t.columns[i].name),
                            Value::Str(clickhouse_type(t, i)),
                            Value::UInt(i as u64 + 1),
                            s(""),
                            s(""),
                            s(""),
                            Value::UInt(key),
                            Value::UInt(key),
                        ]
                    })
                })
                .collect(),
        ),
        "settings" => build(
            &[
                ("name", str_t),
                ("value", str_t),
                ("changed", u64_t),
                ("description", str_t),
                ("readonly", u64_t),
                ("type", str_t),
            ],
            [
                ("max_result_rows", "0", "UInt64"),
                ("readonly", "0", "UInt64"),
                ("max_execution_time", "0", "Seconds"),
                (
                    "date_time_input_format",
                    "best_effort",
                    "DateTimeInputFormat",
                ),
                ("output_format_json_quote_64bit_integers", "0", "Bool"),
                ("send_progress_in_http_headers", "0", "Bool"),
                ("session_timezone", "", "Timezone"),
                ("async_insert", "0", "Bool"),
                ("wait_end_of_query", "0", "Bool"),
                ("http_headers_progress_interval_ms", "100", "UInt64"),
                ("enable_http_compression", "0", "Bool"),
                ("timezone", &info.timezone, "Timezone"),
            ]
            .iter()
            .map(|(n, v, t)| vec![s(n), s(v), Value::UInt(0), s(""), Value::UInt(0), s(t)])
            .collect(),
        ),
        "functions" => build(
            &[("name", str_t), ("is_aggregate", u64_t)],
            [
                ("count", 1),
                ("sum", 1),
                ("avg", 1),
                ("min", 1),
                ("max", 1),
                ("first", 1),
                ("last", 1),
                ("vwap", 1),
                ("median", 1),
                ("quantile", 1),
                ("stddevPop", 1),
                ("stddevSamp", 1),
                ("varPop", 1),
                ("varSamp", 1),
                ("argMin", 1),
                ("argMax", 1),
                ("any", 1),
                ("anyLast", 1),
                ("uniq", 1),
                ("uniqExact", 1),
                ("xbar", 0),
                ("toStartOfInterval", 0),
                ("toStartOfMinute", 0),
                ("toStartOfHour", 0),
                ("toStartOfDay", 0),
                ("date_trunc", 0),
                ("epoch_s", 0),
                ("epoch_ms", 0),
                ("toUnixTimestamp", 0),
                ("toDateTime", 0),
                ("toDateTime64", 0),
                ("fromUnixTimestamp64Milli", 0),
                ("now", 0),
                ("abs", 0),
                ("round", 0),
                ("floor", 0),
                ("ceil", 0),
                ("sqrt", 0),
                ("log", 0),
                ("exp", 0),
                ("least", 0),
                ("greatest", 0),
                ("coalesce", 0),
                ("if", 0),
                ("toString", 0),
                ("toFloat64", 0),
                ("toInt64", 0),
                ("lower", 0),
                ("upper", 0),
                ("length", 0),
                ("concat", 0),
                ("substring", 0),
            ]
            .iter()
            .map(|(n, a)| vec![s(n), Value::UInt(*a)])
            .collect(),
        ),
        _ => return None,
    })
}
