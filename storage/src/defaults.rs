//! NOT NULL columns: ClickHouse's `input_format_null_as_default` on the write path.
//!
//! A column declared without `Nullable` never stores NULL. A NULL cell of such a column, or
//! every cell when the batch omits the column, is stored as the type's default: 0, 0.0, false,
//! or the empty string. The timestamp and symbol columns are not filled: a batch that omits
//! them or holds NULL in them is refused by validation.

use crate::batch::{Batch, BatchColumn, ColumnBuf, Values};
use crate::types::{ColumnType, TableSchema};

/// The NOT NULL columns that must be filled, other than the timestamp and symbol columns.
fn fillable(schema: &TableSchema) -> impl Iterator<Item = (usize, &crate::types::ColumnSchema)> {
    schema
        .columns
        .iter()
        .enumerate()
        .filter(move |(i, c)| !c.nullable && *i != schema.ts_index && *i != schema.key_index)
}

/// `None` when `batch` holds no NULL in and omits none of the table's NOT NULL columns (the
/// common case, checked without copying); otherwise a copy with those cells set to defaults.
pub(crate) fn fill_not_null(schema: &TableSchema, batch: &Batch) -> Option<Batch> {
    let rows = batch.rows();
    if rows == 0 {
        return None;
    }
    let find = |name: &str| batch.columns.iter().position(|c| c.name == name);
    let needs = fillable(schema).any(|(_, c)| match find(&c.name) {
        None => true,
        Some(i) => batch.columns[i].data.null_count() > 0,
    });
    if !needs {
        return None;
    }
    let mut out = batch.clone();
    for (_, c) in fillable(schema) {
        match find(&c.name) {
            Some(i) if out.columns[i].data.null_count() > 0 => {
                let mut data =
                    std::mem::replace(&mut out.columns[i].data, ColumnBuf::empty(c.ty.physical()));
                let sym_default = matches!(data.values, Values::Sym(_))
                    .then(|| empty_symbol_code(&mut out.symbols));
                fill_nulls(&mut data, sym_default);
                out.columns[i].data = data;
            }
            Some(_) => {}
            None => {
                let sym_default =
                    (c.ty == ColumnType::Symbol).then(|| empty_symbol_code(&mut out.symbols));
                out.columns.push(BatchColumn {
                    name: c.name.clone(),
                    data: defaults(c.ty, rows, sym_default),
                });
            }
        }
    }
    Some(out)
}

/// The code of "" in a batch dictionary, added when absent.
fn empty_symbol_code(symbols: &mut Vec<String>) -> u32 {
    match symbols.iter().position(|s| s.is_empty()) {
        Some(i) => i as u32,
        None => {
            symbols.push(String::new());
            (symbols.len() - 1) as u32
        }
    }
}

/// `rows` default values of `ty`; a Symbol column as codes when a code for "" is given.
fn defaults(ty: ColumnType, rows: usize, sym_default: Option<u32>) -> ColumnBuf {
    let values = match (ty.physical(), sym_default) {
        (crate::types::Physical::Sym, Some(code)) => Values::Sym(vec![code; rows]),
        (physical, _) => {
            let mut v = Values::empty(if physical == crate::types::Physical::Sym {
                crate::types::Physical::Str
            } else {
                physical
            });
            for _ in 0..rows {
                v.push_default();
            }
            v
        }
    };
    ColumnBuf::new(values)
}

/// Replaces every NULL cell's value with the default and drops the validity bitmap.
fn fill_nulls(data: &mut ColumnBuf, sym_default: Option<u32>) {
    let Some(validity) = data.validity.take() else {
        return;
    };
    let nulls = (0..validity.len()).filter(|&i| !validity.get(i));
    match &mut data.values {
        Values::I64(v) => nulls.for_each(|i| v[i] = 0),
        Values::U64(v) => nulls.for_each(|i| v[i] = 0),
        Values::F64(v) => nulls.for_each(|i| v[i] = 0.0),
        Values::Bool(v) => nulls.for_each(|i| v[i] = 0),
        Values::Sym(v) => {
            let code = sym_default.expect("a code for the empty symbol");
            nulls.for_each(|i| v[i] = code)
        }
        Values::Str(s) => {
            let mut rebuilt = crate::batch::StrValues::default();
            for i in 0..s.len() {
                rebuilt.push(if validity.get(i) { s.get(i) } else { b"" });
            }
            *s = rebuilt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::TableSpec;
    use crate::types::{Bitmap, ColumnSchema};

    fn schema() -> TableSchema {
        let spec = TableSpec::new("t")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Symbol)
            .column_not_null("price", ColumnType::Float64)
            .column_not_null("venue", ColumnType::Symbol)
            .column_not_null("note", ColumnType::String)
            .column("maybe", ColumnType::Int64);
        let columns: Vec<ColumnSchema> = spec
            .columns
            .iter()
            .enumerate()
            .map(|(i, (n, t))| ColumnSchema {
                id: i as u16,
                name: n.clone(),
                ty: *t,
                nullable: i > 1 && !spec.not_null.contains(n),
            })
            .collect();
        TableSchema {
            id: 1,
            name: "t".into(),
            next_column_id: columns.len() as u16,
            columns,
            ts_index: 0,
            key_index: 1,
        }
    }

    fn bitmap(bits: &[bool]) -> Bitmap {
        let mut b = Bitmap::new();
        bits.iter().for_each(|&v| b.push(v));
        b
    }

    #[test]
    fn a_complete_batch_is_not_copied() {
        let b = Batch::new("t")
            .i64s("timestamp", vec![1])
            .strs("symbol", ["A"])
            .f64s("price", vec![1.0])
            .strs("venue", ["X"])
            .strs("note", ["n"]);
        assert!(fill_not_null(&schema(), &b).is_none());
    }

    #[test]
    fn nulls_and_omitted_not_null_columns_become_defaults() {
        let b = Batch::new("t")
            .i64s("timestamp", vec![1, 2])
            .strs("symbol", ["A", "B"])
            .column(
                "price",
                ColumnBuf::with_validity(Values::F64(vec![1.5, 9.0]), bitmap(&[true, false])),
            )
            .column(
                "note",
                ColumnBuf::with_validity(
                    Values::Str(crate::batch::StrValues::from_strs(["x", "junk"])),
                    bitmap(&[false, true]),
                ),
            )
            .column(
                "maybe",
                ColumnBuf::with_validity(Values::I64(vec![0, 7]), bitmap(&[false, true])),
            );
        let out = fill_not_null(&schema(), &b).expect("filled");
        let col = |n: &str| &out.columns.iter().find(|c| c.name == n).unwrap().data;
        assert_eq!(col("price").values, Values::F64(vec![1.5, 0.0]));
        assert!(col("price").validity.is_none());
        let Values::Str(note) = &col("note").values else {
            panic!()
        };
        assert_eq!((note.get(0), note.get(1)), (&b""[..], &b"junk"[..]));
        assert!(col("note").validity.is_none());
        // The omitted Symbol column gets "" for every row.
        assert_eq!(out.symbols, vec![String::new()]);
        assert_eq!(col("venue").values, Values::Sym(vec![0, 0]));
        // A nullable column keeps its NULLs.
        assert_eq!(col("maybe").null_count(), 1);
    }

    #[test]
    fn symbol_codes_use_the_empty_symbol() {
        let b = Batch::new("t")
            .i64s("timestamp", vec![1, 2])
            .strs("symbol", ["A", "B"])
            .f64s("price", vec![1.0, 2.0])
            .strs("note", ["", ""])
            .column(
                "venue",
                ColumnBuf::with_validity(Values::Sym(vec![0, 0]), bitmap(&[true, false])),
            );
        let b = Batch {
            symbols: vec!["X".into()],
            ..b
        };
        let out = fill_not_null(&schema(), &b).expect("filled");
        assert_eq!(out.symbols, vec!["X".to_string(), String::new()]);
        let venue = &out.columns.iter().find(|c| c.name == "venue").unwrap().data;
        assert_eq!(venue.values, Values::Sym(vec![0, 1]));
    }
}
