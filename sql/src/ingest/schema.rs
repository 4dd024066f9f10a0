//! Lining a decoded table up with the catalog: which table or columns to create, then which
//! rows cannot be stored in the table's column types.
//!
//! [`plan`] never changes an existing column; [`conform`] never changes the schema. Between
//! the two the caller applies the plan to its catalog, so a body that introduces a table or a
//! field is stored in one request.

use storage::dict::SYMBOL_BYTES_MAX;
use storage::{ColumnBuf, ColumnType, StrValues, TableSchema, TableSpec, Values};

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
    debug_assert_eq!(table.batch.table, schema.name, "conform against the table's own schema");
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
            Some(p) => column_plan(got, schema.columns[p].ty, coercion, &schema.name, name),
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
                    if slot.is_none() && data.is_valid(r) && convert_one(&data.values, r, to).is_none() {
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

    let mut dropped = 0;
    for (r, reason) in bad.iter_mut().enumerate() {
        if let Some(reason) = reason.take() {
            dropped += 1;
            if errors.len() < errors_max {
                errors.push(RowError {
                    at: table.origins[r],
                    reason,
                });
            }
            // Keep the slot marked.
            *reason_marker(&mut bad_marker_dummy()) = 0;
            let _ = r;
        }
    }
    unreachable!()
}
