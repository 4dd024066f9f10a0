//! Reads whole tables back out of a shard as comparable rows, checking scan invariants on the way.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use storage::{ColumnData, ColumnSlice, ColumnType, ScanSpec, Shard};

/// One cell as a test compares it. Floats compare by total order (so NaN equals the same NaN
/// and -0.0 differs from 0.0): stored bits must come back exactly.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Timestamp(i64),
    Symbol(String),
    Str(String),
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::I64(_) => 1,
            Value::U64(_) => 2,
            Value::F64(_) => 3,
            Value::Bool(_) => 4,
            Value::Timestamp(_) => 5,
            Value::Symbol(_) => 6,
            Value::Str(_) => 7,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::I64(v) | Value::Timestamp(v) => Some(*v),
            _ => None,
        }
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::I64(a), Value::I64(b)) | (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::U64(a), Value::U64(b)) => a.cmp(b),
            (Value::F64(a), Value::F64(b)) => a.total_cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Symbol(a), Value::Symbol(b)) | (Value::Str(a), Value::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

/// Every name in the shard's symbol dictionary, by id. Ids are dense, so this stops at the first
/// unknown id; the bound only guards against a broken dictionary.
pub fn symbol_names(shard: &Shard) -> Vec<String> {
    const SYMBOLS_MAX: u32 = 1 << 24;
    let mut names = Vec::new();
    for id in 0..SYMBOLS_MAX {
        match shard.symbol_name(id) {
            Some(s) => names.push(s.to_string()),
            None => break,
        }
    }
    names
}

/// Every row of `table` (all columns, in schema order), in scan order: per key ascending, its
/// sealed blocks then its hot rows. Panics if a view breaks the scan contract (not time-sorted,
/// ragged columns, a row whose key column differs from the view's key, a type that differs from
/// the schema); returns the storage error if the scan fails.
pub fn read_table(shard: &mut Shard, table: &str) -> storage::Result<Vec<Vec<Value>>> {
    let schema = shard
        .catalog()
        .get(table)
        .unwrap_or_else(|| panic!("table {table} is not in the catalog"))
        .clone();
    let names = symbol_names(shard);
    let spec = ScanSpec::all(schema.id, (0..schema.columns.len()).collect());
    let mut rows = Vec::new();
    shard.scan(&spec, |view| {
        assert_eq!(
            view.columns.len(),
            schema.columns.len(),
            "a view carries every requested column"
        );
        for (slice, column) in view.columns.iter().zip(&schema.columns) {
            assert_eq!(
                slice.ty, column.ty,
                "column {} has its schema type",
                column.name
            );
        }
        let ColumnData::I64(ts) = view.columns[schema.ts_index].data else {
            panic!("timestamp column of {table} is not I64 in a view")
        };
        assert_eq!(ts.len(), view.rows, "timestamp column has the view's rows");
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "view of key {} is time-sorted",
            view.key
        );
        for row in 0..view.rows {
            let values: Vec<Value> = view
                .columns
                .iter()
                .map(|c| cell(c, row, view.rows, &names))
                .collect();
            let key = match &values[schema.key_index] {
                Value::Symbol(s) => names.iter().position(|n| n == s).map(|i| i as u64),
                Value::I64(v) => Some(*v as u64),
                Value::U64(v) => Some(*v),
                other => panic!("key column holds {other:?}"),
            };
            assert_eq!(key, Some(view.key), "row {row} belongs to its view's key");
            rows.push(values);
        }
        ControlFlow::Continue(())
    })?;
    Ok(rows)
}

fn cell(slice: &ColumnSlice<'_>, row: usize, rows: usize, names: &[String]) -> Value {
    if let Some(v) = &slice.validity {
        assert_eq!(v.len, rows, "validity covers the view");
    }
    if !slice.is_valid(row) {
        return Value::Null;
    }
    let check = |len: usize| {
        assert_eq!(
            len, rows,
            "column of type {:?} has the view's rows",
            slice.ty
        )
    };
    match slice.data {
        ColumnData::I64(v) => {
            check(v.len());
            if slice.ty == ColumnType::Timestamp {
                Value::Timestamp(v[row])
            } else {
                Value::I64(v[row])
            }
        }
        ColumnData::U64(v) => {
            check(v.len());
            Value::U64(v[row])
        }
        ColumnData::F64(v) => {
            check(v.len());
            Value::F64(v[row])
        }
        ColumnData::Bool(v) => {
            check(v.len());
            assert!(v[row] <= 1, "bools are stored as 0 or 1, got {}", v[row]);
            Value::Bool(v[row] == 1)
        }
        ColumnData::Sym(v) => {
            check(v.len());
            let name = names.get(v[row] as usize).unwrap_or_else(|| {
                panic!(
                    "symbol id {} is not in the dictionary of {}",
                    v[row],
                    names.len()
                )
            });
            Value::Symbol(name.clone())
        }
        ColumnData::Str { offsets, bytes } => {
            check(offsets.len() - 1);
            let s = &bytes[offsets[row] as usize..offsets[row + 1] as usize];
            Value::Str(String::from_utf8(s.to_vec()).expect("stored strings are UTF-8"))
        }
        ColumnData::Null => Value::Null,
    }
}
