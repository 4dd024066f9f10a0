//! Fuzzes the line-protocol decoder: no input may panic it, and every batch it returns must
//! hold its invariants; schema conformance against a fixed table must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sql::ingest::lineproto::{self, LineOptions};
use sql::ingest::{conform, plan, Coercion, Precision};

fuzz_target!(|data: &[u8]| {
    let (precision, body) = match data.split_first() {
        Some((&p, rest)) => (p, rest),
        None => (0, data),
    };
    let mut opts = LineOptions::new(1_700_000_000_000_000_000);
    opts.precision = match precision % 6 {
        0 => Precision::Nanoseconds,
        1 => Precision::Microseconds,
        2 => Precision::Milliseconds,
        3 => Precision::Seconds,
        4 => Precision::Minutes,
        _ => Precision::Hours,
    };
    let decoded = lineproto::decode(body, &opts).expect("only body-size limits fail a body");
    assert!(decoded.rejected >= decoded.errors.len());
    for mut table in decoded.tables {
        table.check_invariants();
        let p = plan(&table, None);
        let spec = p.create.expect("no table exists");
        assert_eq!(spec.columns.len(), table.batch.columns.len());
        // Conform against a table that has every column as Float64 (or its designated type).
        let schema = storage::TableSchema {
            id: 1,
            name: table.name().to_string(),
            columns: spec
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, ty))| storage::ColumnSchema {
                    id: i as u16,
                    name: name.clone(),
                    ty: if i < 2 { *ty } else { storage::ColumnType::Float64 },
                    nullable: true,
                })
                .collect(),
            ts_index: 0,
            key_index: 1,
            next_column_id: spec.columns.len() as u16,
        };
        let rows = table.rows();
        let mut errors = Vec::new();
        let dropped = conform(&mut table, &schema, Coercion::Strict, &mut errors, 10);
        assert_eq!(table.rows() + dropped, rows);
    }
});
