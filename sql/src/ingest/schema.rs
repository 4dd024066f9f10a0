//! Lining a decoded table up with the catalog: which table or columns to create, then which
//! rows cannot be stored in the table's column types.
//!
//! [`plan`] never changes an existing column; [`conform`] never changes the schema. Between
//! the two the caller applies the plan to its catalog, so a body that introduces a table or a
//! field is stored in one request.

use storage::dict::SYMBOL_BYTES_MAX;
use storage::{
    Batch, BatchColumn, ColumnBuf, ColumnType, Physical, StrValues, TableSchema, TableSpec, Values,
};

use super::{DecodedTable, Reason, RowError, SYMBOL_COLUMN, TIMESTAMP_COLUMN};

/// Which value conversions [`conform`] may make when a decoded column's type differs from the
/// table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coercion {
    /// InfluxDB's rule for line protocol: a number of another type is a conflict (an Int64
    /// field is refused by a Float64 column). Only lossless re-labellings are made: Symbol ↔
    /// String, Int64 into Timestamp.
    Strict,
    /// For MessagePack, whose encoders pick integer or float per value: also Int64/UInt64 →
    /// Float64, Int64 ↔ UInt64 and integral Float64 → Int64/UInt64 where the value fits.
    Numeric,
}

/// What the catalog needs before a decoded table can be appended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaPlan {
    /// The table does not exist: create it so (`timestamp` and `symbol` designated).
    pub create: Option<TableSpec>,
    /// Columns the existing table lacks, with the types the body implies, in batch order.
    pub add_columns: Vec<(String, ColumnType)>,
}

impl SchemaPlan {
    pub fn is_empty(&self) -> bool {
        self.create.is_none() && self.add_columns.is_empty()
    }
}

/// The table column a decoded column is stored in: the decoders' `timestamp` and `symbol` are
/// the table's designated columns, whatever the table calls them.
fn target_name<'a>(schema: &'a TableSchema, name: &'a str) -> &'a str {
    match name {
        TIMESTAMP_COLUMN => &schema.columns[schema.ts_index].name,
        SYMBOL_COLUMN => &schema.columns[schema.key_index].name,
        other => other,
    }
}

/// What to create or add so that every decoded column has a home. `existing` is the catalog's
/// table of the same name, if any.
pub fn plan(decoded: &DecodedTable, existing: Option<&TableSchema>) -> SchemaPlan {
    let Some(schema) = existing else {
        return SchemaPlan {
            create: Some(decoded.table_spec()),
            add_columns: Vec::new(),
        };
    };
    let add_columns = decoded
        .schema()
        .filter(|(name, _)| schema.column_index(target_name(schema, name)).is_none())
        .map(|(name, ty)| (name.to_string(), ty))
        .collect();
    SchemaPlan {
        create: None,
        add_columns,
    }
}

/// How one decoded column becomes a table column.
enum Plan {
    Keep,
    /// Batch dictionary codes → strings (Symbol into a String column).
    ToStrings,
    /// Strings into a Symbol column: each must fit a dictionary entry.
    CheckSymbolLength,
    Convert,
    /// Every row with a value is rejected and the column is dropped.
    Reject(Reason),
}

/// Converts `table` in place to `schema`'s column types: renames the designated columns to the
/// table's names, converts values per `coercion`, and drops the rows that cannot be stored,
/// pushing one [`RowError`] per dropped row (at its origin) into `errors` while it holds fewer
/// than `errors_max`. Returns the number of rows dropped. Every decoded column must exist in
/// `schema` (see [`plan`]); one that does not rejects the rows that have a value in it.
pub fn conform(
    table: &mut DecodedTable,
    schema: &TableSchema,
    coercion: Coercion,
    errors: &mut Vec<RowError>,
    errors_max: usize,
) -> usize {
    debug_assert_eq!(
        table.batch.table, schema.name,
        "conform against the table's own schema"
    );
    let rows = table.rows();
    let mut bad: Vec<Option<Reason>> = vec![None; rows];
    let mut targets: Vec<Option<usize>> = Vec::with_capacity(table.types.len());
    let mut plans = Vec::with_capacity(table.types.len());
    for (i, col) in table.batch.columns.iter().enumerate() {
        let got = table.types[i];
        let name = target_name(schema, &col.name);
        let pos = schema.column_index(name);
        let plan = match pos {
            None => Plan::Reject(Reason::UnknownColumn {
                table: schema.name.clone(),
                column: name.to_string(),
            }),
            Some(p) if targets.contains(&Some(p)) => Plan::Reject(Reason::Duplicate {
                name: name.to_string(),
            }),
            Some(p) => column_plan(
                got,
                schema.columns[p].ty,
                coercion,
                &schema.name,
                name,
                p == schema.key_index,
            ),
        };
        targets.push(pos);
        let data = &col.data;
        match &plan {
            Plan::Reject(reason) => {
                for (r, slot) in bad.iter_mut().enumerate() {
                    if slot.is_none() && data.is_valid(r) {
                        *slot = Some(reason.clone());
                    }
                }
            }
            Plan::CheckSymbolLength => {
                if let Values::Str(s) = &data.values {
                    for (r, slot) in bad.iter_mut().enumerate() {
                        let len = s.get(r).len();
                        if slot.is_none() && data.is_valid(r) && len > SYMBOL_BYTES_MAX {
                            *slot = Some(Reason::TooLong {
                                what: "symbol value",
                                len,
                                max: SYMBOL_BYTES_MAX,
                            });
                        }
                    }
                }
            }
            Plan::Convert => {
                let to = schema.columns[pos.expect("converted columns exist")].ty;
                for (r, slot) in bad.iter_mut().enumerate() {
                    if slot.is_none()
                        && data.is_valid(r)
                        && convert_one(&data.values, &table.batch.symbols, r, to).is_none()
                    {
                        *slot = Some(Reason::TypeConflict {
                            table: schema.name.clone(),
                            column: name.to_string(),
                            expected: to,
                            got,
                        });
                    }
                }
            }
            Plan::Keep | Plan::ToStrings => {}
        }
        plans.push(plan);
    }

    // Strings made from dictionary codes must still fit u32 offsets.
    for (i, plan) in plans.iter().enumerate() {
        if let (Plan::ToStrings, Values::Sym(codes)) = (plan, &table.batch.columns[i].data.values) {
            let mut total = 0usize;
            for (r, &k) in codes.iter().enumerate() {
                if bad[r].is_none() {
                    total += table.batch.symbols[k as usize].len();
                    if total > u32::MAX as usize {
                        bad[r] = Some(Reason::TooLong {
                            what: "string column",
                            len: total,
                            max: u32::MAX as usize,
                        });
                    }
                }
            }
        }
    }

    let mut keep: Vec<u32> = Vec::with_capacity(rows);
    let mut dropped = 0;
    for (r, reason) in bad.into_iter().enumerate() {
        match reason {
            None => keep.push(r as u32),
            Some(reason) => {
                dropped += 1;
                if errors.len() < errors_max {
                    errors.push(RowError {
                        at: table.origins[r],
                        reason,
                    });
                }
            }
        }
    }

    let old = std::mem::take(&mut table.batch.columns);
    table.types.clear();
    let mut strings_made = false;
    for ((col, plan), pos) in old.into_iter().zip(plans).zip(targets) {
        let (Some(pos), false) = (pos, matches!(plan, Plan::Reject(_))) else {
            continue;
        };
        let to = schema.columns[pos].ty;
        let mut data = match plan {
            Plan::Keep | Plan::CheckSymbolLength => col.data,
            Plan::ToStrings => {
                strings_made = true;
                to_strings(&col.data, &table.batch.symbols)
            }
            Plan::Convert => {
                // Codes turned into integers may leave dictionary entries unused.
                strings_made |= matches!(col.data.values, Values::Sym(_));
                convert_column(&col.data, &table.batch.symbols, to)
            }
            Plan::Reject(_) => unreachable!("rejected columns were skipped"),
        };
        if dropped > 0 {
            let mut kept = ColumnBuf::empty(data.values.physical());
            kept.gather_from(&data, &keep);
            if kept.null_count() == 0 {
                kept.validity = None;
            }
            data = kept;
        }
        table.batch.columns.push(BatchColumn {
            name: schema.columns[pos].name.clone(),
            data,
        });
        table.types.push(to);
    }
    if dropped > 0 {
        table.origins = keep.iter().map(|&r| table.origins[r as usize]).collect();
    }
    if dropped > 0 || strings_made {
        compact_symbols(&mut table.batch);
    }
    dropped
}

/// The (table, column, type) pins that make a re-decode of a body keep its good rows: one per
/// decoded column whose type (decided by the body's first value for it) the existing table
/// cannot take, when the decoder also refused later values of that column for disagreeing
/// with the first (`ConflictInRequest`). Empty in the usual case.
pub fn conflict_pins(
    decoded: &super::Decoded,
    catalog: &storage::Catalog,
    coercion: Coercion,
) -> Vec<(String, String, ColumnType)> {
    let disagreed = |column: &str| {
        decoded.errors.iter().any(
            |e| matches!(&e.reason, Reason::ConflictInRequest { column: c, .. } if c == column),
        )
    };
    let mut pins = Vec::new();
    if !decoded
        .errors
        .iter()
        .any(|e| matches!(e.reason, Reason::ConflictInRequest { .. }))
    {
        return pins;
    }
    for t in &decoded.tables {
        let Some(schema) = catalog.get(t.name()) else {
            continue;
        };
        for (name, got) in t.schema() {
            let target = target_name(schema, name);
            let Some(pos) = schema.column_index(target) else {
                continue;
            };
            if pos == schema.key_index || pos == schema.ts_index {
                continue;
            }
            let to = schema.columns[pos].ty;
            if !accepts(got, to, coercion) && disagreed(name) {
                pins.push((t.name().to_string(), name.to_string(), to));
            }
        }
    }
    pins
}

/// Whether a value of type `got` can be stored in a (non-key) column of type `to`.
pub(super) fn accepts(got: ColumnType, to: ColumnType, coercion: Coercion) -> bool {
    !matches!(
        column_plan(got, to, coercion, "", "", false),
        Plan::Reject(_)
    )
}

fn column_plan(
    got: ColumnType,
    to: ColumnType,
    coercion: Coercion,
    table: &str,
    column: &str,
    is_key: bool,
) -> Plan {
    use ColumnType as T;
    if got == to {
        return Plan::Keep;
    }
    let numeric = |t: T| matches!(t, T::Int64 | T::UInt64 | T::Float64);
    match (got, to) {
        (T::Symbol, T::String) => Plan::ToStrings,
        (T::String, T::Symbol) => Plan::CheckSymbolLength,
        (T::Int64, T::Timestamp) => Plan::Keep,
        // A table sharded by an integer symbol: the tag (always text in line protocol and in
        // Arc's `h`) is parsed as that integer; rows whose tag is not one are rejected.
        (T::Symbol | T::String, T::Int64 | T::UInt64) if is_key => Plan::Convert,
        (g, t)
            if coercion == Coercion::Numeric && numeric(g) && (numeric(t) || t == T::Timestamp) =>
        {
            Plan::Convert
        }
        _ => Plan::Reject(Reason::TypeConflict {
            table: table.to_string(),
            column: column.to_string(),
            expected: to,
            got,
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

/// Value `r` of a numeric column in the physical type of `to`, or `None` when it does not fit
/// (negative into UInt64, fractional or too large into an integer).
fn convert_one(values: &Values, symbols: &[String], r: usize, to: ColumnType) -> Option<Num> {
    let text = |b: &[u8]| -> Option<Num> {
        let t = std::str::from_utf8(b).ok()?;
        match to.physical() {
            Physical::I64 => t.parse().ok().map(Num::I),
            Physical::U64 => t.parse().ok().map(Num::U),
            _ => None,
        }
    };
    let v = match values {
        Values::I64(v) => Num::I(v[r]),
        Values::U64(v) => Num::U(v[r]),
        Values::F64(v) => Num::F(v[r]),
        Values::Sym(codes) => return text(symbols.get(codes[r] as usize)?.as_bytes()),
        Values::Str(s) => return text(s.get(r)),
        Values::Bool(_) => return None,
    };
    // 2^63 and 2^64 are exact in f64; integral floats below them fit.
    const I64_END: f64 = 9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    match (to.physical(), v) {
        (Physical::F64, Num::I(x)) => Some(Num::F(x as f64)),
        (Physical::F64, Num::U(x)) => Some(Num::F(x as f64)),
        (Physical::F64, Num::F(x)) => Some(Num::F(x)),
        (Physical::I64, Num::I(x)) => Some(Num::I(x)),
        (Physical::I64, Num::U(x)) => i64::try_from(x).ok().map(Num::I),
        (Physical::I64, Num::F(x)) => {
            (x.fract() == 0.0 && (-I64_END..I64_END).contains(&x)).then_some(Num::I(x as i64))
        }
        (Physical::U64, Num::I(x)) => u64::try_from(x).ok().map(Num::U),
        (Physical::U64, Num::U(x)) => Some(Num::U(x)),
        (Physical::U64, Num::F(x)) => {
            (x.fract() == 0.0 && (0.0..U64_END).contains(&x)).then_some(Num::U(x as u64))
        }
        _ => None,
    }
}

/// A numeric column in `to`'s physical type; rows that do not convert hold 0 (they are
/// dropped by the caller).
fn convert_column(data: &ColumnBuf, symbols: &[String], to: ColumnType) -> ColumnBuf {
    let rows = data.len();
    let mut values = Values::empty(to.physical());
    for r in 0..rows {
        let v = if data.is_valid(r) {
            convert_one(&data.values, symbols, r, to)
        } else {
            None
        };
        match (&mut values, v) {
            (Values::I64(out), Some(Num::I(x))) => out.push(x),
            (Values::U64(out), Some(Num::U(x))) => out.push(x),
            (Values::F64(out), Some(Num::F(x))) => out.push(x),
            (out, _) => out.push_default(),
        }
    }
    ColumnBuf {
        values,
        validity: data.validity.clone(),
    }
}

/// A Symbol column of batch codes as strings (NULL rows empty).
fn to_strings(data: &ColumnBuf, symbols: &[String]) -> ColumnBuf {
    let mut out = StrValues::default();
    if let Values::Sym(codes) = &data.values {
        for (r, &k) in codes.iter().enumerate() {
            if data.is_valid(r) {
                out.push(symbols[k as usize].as_bytes());
            } else {
                out.push(b"");
            }
        }
    }
    ColumnBuf {
        values: Values::Str(out),
        validity: data.validity.clone(),
    }
}

/// Drops dictionary strings no row refers to any more, renumbering the codes.
pub(super) fn compact_symbols(batch: &mut Batch) {
    let mut used = vec![false; batch.symbols.len()];
    for c in &batch.columns {
        if let Values::Sym(codes) = &c.data.values {
            for (r, &k) in codes.iter().enumerate() {
                if c.data.is_valid(r) {
                    used[k as usize] = true;
                }
            }
        }
    }
    if used.iter().all(|&u| u) {
        return;
    }
    let mut map = vec![0u32; used.len()];
    let mut kept = Vec::new();
    for (i, s) in std::mem::take(&mut batch.symbols).into_iter().enumerate() {
        if used[i] {
            map[i] = kept.len() as u32;
            kept.push(s);
        }
    }
    let any_sym_rows = batch
        .columns
        .iter()
        .any(|c| matches!(&c.data.values, Values::Sym(v) if !v.is_empty()));
    if kept.is_empty() && any_sym_rows {
        // Only NULL slots remain; they need some code in range.
        kept.push(String::new());
    }
    batch.symbols = kept;
    for c in &mut batch.columns {
        if let Values::Sym(codes) = &mut c.data.values {
            for k in codes.iter_mut() {
                *k = map[*k as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::lineproto::{self, LineOptions};
    use crate::ingest::msgpack::{self, enc::Enc, MsgpackOptions};
    use crate::ingest::Location;
    use storage::ColumnSchema;

    fn line(body: &str) -> DecodedTable {
        let mut d = lineproto::decode(body.as_bytes(), &LineOptions::new(0)).unwrap();
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        d.tables.remove(0)
    }

    /// The schema the catalog would make of `spec`.
    fn schema(spec: TableSpec) -> TableSchema {
        let columns: Vec<ColumnSchema> = spec
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, ty))| ColumnSchema {
                id: i as u16,
                name: name.clone(),
                ty: *ty,
                nullable: true,
            })
            .collect();
        let s = TableSchema {
            id: 9,
            name: spec.name.clone(),
            ts_index: spec
                .columns
                .iter()
                .position(|c| c.0 == spec.timestamp)
                .unwrap(),
            key_index: spec
                .columns
                .iter()
                .position(|c| c.0 == spec.symbol)
                .unwrap(),
            next_column_id: columns.len() as u16,
            columns,
        };
        s.check_invariants().unwrap();
        s
    }

    fn with(base: &TableSchema, extra: &[(String, ColumnType)]) -> TableSchema {
        let mut s = base.clone();
        for (name, ty) in extra {
            s.columns.push(ColumnSchema {
                id: s.next_column_id,
                name: name.clone(),
                ty: *ty,
                nullable: true,
            });
            s.next_column_id += 1;
        }
        s.check_invariants().unwrap();
        s
    }

    /// Columns, rows and dictionary codes agree, and every column has the schema's type.
    fn check_conformed(t: &DecodedTable, schema: &TableSchema) {
        let rows = t.rows();
        assert_eq!(t.origins.len(), rows);
        for (c, ty) in t.batch.columns.iter().zip(&t.types) {
            assert_eq!(c.data.len(), rows);
            let pos = schema.column_index(&c.name).expect("column exists");
            assert_eq!(schema.columns[pos].ty, *ty);
            let p = c.data.values.physical();
            assert!(p == ty.physical() || (*ty == ColumnType::Symbol && p == Physical::Str));
            if let Values::Sym(codes) = &c.data.values {
                assert!(codes.iter().all(|&k| (k as usize) < t.batch.symbols.len()));
            }
        }
    }

    fn f64s(t: &DecodedTable, name: &str) -> Vec<Option<f64>> {
        let c = t.batch.columns.iter().find(|c| c.name == name).unwrap();
        let Values::F64(v) = &c.data.values else {
            panic!("{name} is {:?}", c.data.values.physical())
        };
        (0..v.len())
            .map(|i| c.data.is_valid(i).then_some(v[i]))
            .collect()
    }

    #[test]
    fn new_tables_and_new_columns_are_planned() {
        let t = line("cpu,host=a usage=1.5,n=2i\n");
        let spec = plan(&t, None).create.unwrap();
        assert_eq!(spec.name, "cpu");
        assert_eq!(
            spec.columns,
            [
                ("timestamp".into(), ColumnType::Timestamp),
                ("symbol".into(), ColumnType::Symbol),
                ("host".into(), ColumnType::Symbol),
                ("usage".into(), ColumnType::Float64),
                ("n".into(), ColumnType::Int64),
            ]
        );
        assert_eq!(
            (spec.timestamp.as_str(), spec.symbol.as_str()),
            ("timestamp", "symbol")
        );
        schema(spec);
        let trades = schema(TableSpec::trades());
        let t = line("trades,symbol=A,venue=X price=1.5,volume=3i,flag=true\n");
        let p = plan(&t, Some(&trades));
        assert_eq!(
            p.add_columns,
            [
                ("venue".into(), ColumnType::Symbol),
                ("flag".into(), ColumnType::Bool)
            ]
        );
        let full = with(&trades, &p.add_columns);
        assert!(plan(&t, Some(&full)).is_empty());
        let mut t = t;
        assert_eq!(
            conform(&mut t, &full, Coercion::Strict, &mut Vec::new(), 10),
            0
        );
        check_conformed(&t, &full);
    }

    #[test]
    fn strict_rejects_numbers_of_another_type_row_by_row() {
        let trades = schema(TableSpec::trades());
        let body = "trades,symbol=A price=1i,volume=2i\ntrades,symbol=B volume=5i\ntrades,symbol=C price=3i\n";
        let mut t = line(body);
        let mut errors = Vec::new();
        assert_eq!(
            conform(&mut t, &trades, Coercion::Strict, &mut errors, 10),
            2
        );
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "line 1 (byte 0): column 'price' of table 'trades' is Float64, the value is Int64",
                "line 3 (byte 61): column 'price' of table 'trades' is Float64, the value is Int64",
            ]
        );
        check_conformed(&t, &trades);
        assert_eq!(t.rows(), 1);
        assert_eq!(t.batch.symbols, ["B"], "dropped rows' symbols are gone");
        let names: Vec<&str> = t.batch.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["timestamp", "symbol", "volume"]);
        assert_eq!(
            t.origins,
            [Location::Line {
                line: 2,
                offset: 35
            }]
        );

        let mut t = line(body);
        assert_eq!(
            conform(&mut t, &trades, Coercion::Numeric, &mut Vec::new(), 10),
            0
        );
        check_conformed(&t, &trades);
        assert_eq!(f64s(&t, "price"), [Some(1.0), None, Some(3.0)]);
    }

    #[test]
    fn numeric_coercion_keeps_values_that_fit() {
        let spec = TableSpec::new("m")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Symbol)
            .column("i", ColumnType::Int64)
            .column("u", ColumnType::UInt64)
            .column("f", ColumnType::Float64);
        let table = schema(spec);
        let mut e = Enc::default();
        e.map(2).str("m").str("m").str("columns").map(4);
        e.str("symbol").array(4).str("a").str("b").str("c").str("d");
        e.str("i").array(4).f64(2.0).nil().f64(2.5).nil();
        e.str("u").array(4).int(7).int(-1).nil().int(9);
        e.str("f").array(4).int(1).int(2).f64(3.5).int(4);
        let mut d = msgpack::decode(&e.0, &MsgpackOptions::new(0)).unwrap();
        let mut t = d.tables.remove(0);
        let mut errors = Vec::new();
        assert_eq!(
            conform(&mut t, &table, Coercion::Numeric, &mut errors, 1),
            2
        );
        assert_eq!(
            errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            ["item 0, row 1: column 'u' of table 'm' is UInt64, the value is Int64"],
            "errors past errors_max are counted, not kept"
        );
        check_conformed(&t, &table);
        assert_eq!(t.batch.symbols, ["a", "d"]);
        assert_eq!(f64s(&t, "f"), [Some(1.0), Some(4.0)]);
        let u = &t.batch.columns.iter().find(|c| c.name == "u").unwrap().data;
        assert_eq!(u.values, Values::U64(vec![7, 9]));
    }

    #[test]
    fn strings_move_between_symbol_and_string_columns() {
        let spec = TableSpec::new("m")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Symbol)
            .column("note", ColumnType::String)
            .column("tag", ColumnType::Symbol);
        let table = schema(spec);
        let long = "x".repeat(SYMBOL_BYTES_MAX + 1);
        let mut t = line(&format!(
            "m,symbol=A,note=hello tag=\"t1\"\nm,symbol=B tag=\"{long}\"\nm,symbol=C,note=bye f=1\n"
        ));
        t.batch.columns.retain(|c| c.name != "f");
        t.types.truncate(t.batch.columns.len());
        let mut errors = Vec::new();
        assert_eq!(
            conform(&mut t, &table, Coercion::Strict, &mut errors, 10),
            1
        );
        assert_eq!(
            errors[0].to_string(),
            "line 2 (byte 31): symbol value of 4097 bytes is over the limit of 4096 bytes"
        );
        check_conformed(&t, &table);
        let note = &t
            .batch
            .columns
            .iter()
            .find(|c| c.name == "note")
            .unwrap()
            .data;
        assert_eq!(
            note.values,
            Values::Str(StrValues::from_strs(["hello", "bye"]))
        );
        assert_eq!(
            t.batch.symbols,
            ["A", "C"],
            "note values no longer need the dictionary"
        );
    }

    #[test]
    fn designated_columns_take_the_tables_names() {
        let spec = TableSpec {
            name: "m".into(),
            columns: vec![
                ("ts".into(), ColumnType::Timestamp),
                ("sym".into(), ColumnType::Symbol),
                ("v".into(), ColumnType::Float64),
            ],
            timestamp: "ts".into(),
            symbol: "sym".into(),
            not_null: Vec::new(),
        };
        let table = schema(spec);
        let t = line("m,symbol=A v=1\nm,symbol=B,sym=x v=2\n");
        let p = plan(&t, Some(&table));
        assert!(p.is_empty(), "{p:?}");
        let mut t = t;
        let mut errors = Vec::new();
        assert_eq!(
            conform(&mut t, &table, Coercion::Strict, &mut errors, 10),
            1
        );
        assert_eq!(
            errors[0].to_string(),
            "line 2 (byte 15): 'sym' is given twice"
        );
        check_conformed(&t, &table);
        let names: Vec<&str> = t.batch.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ts", "sym", "v"]);
    }

    #[test]
    fn unplanned_columns_and_impossible_keys_reject_rows() {
        let trades = schema(TableSpec::trades());
        let mut t = line("trades,symbol=A price=1,extra=2\ntrades,symbol=B price=3\n");
        let mut errors = Vec::new();
        assert_eq!(
            conform(&mut t, &trades, Coercion::Strict, &mut errors, 10),
            1
        );
        assert_eq!(
            errors[0].to_string(),
            "line 1 (byte 0): table 'trades' has no column 'extra'"
        );
        check_conformed(&t, &trades);

        let spec = TableSpec::new("ints")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Int64);
        let ints = schema(spec);
        // An integer tag goes into the integer symbol column; a tag that is not one cannot.
        let mut t = line("ints,symbol=x f=1\nints,symbol=-12 f=1\n");
        t.batch.columns.truncate(2);
        t.types.truncate(2);
        let mut errors = Vec::new();
        assert_eq!(
            conform(&mut t, &ints, Coercion::Numeric, &mut errors, 10),
            1
        );
        assert_eq!(t.rows(), 1);
        assert!(errors[0].to_string().starts_with("line 1"), "{}", errors[0]);
        check_conformed(&t, &ints);
        let key = t.batch.columns.iter().find(|c| c.name == "symbol").unwrap();
        assert_eq!(key.data.values, Values::I64(vec![-12]));
        assert!(t.batch.symbols.is_empty(), "{:?}", t.batch.symbols);
    }
}
