//! The catalog: table schemas of one shard, persisted atomically as `catalog.json`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{corrupt, IoContext, RequestError, Result};
use crate::types::{ColumnSchema, ColumnType, TableId, TableSchema};

pub const CATALOG_FILE: &str = "catalog.json";
const CATALOG_VERSION: u32 = 1;

/// What `create_table` is given: column names and types in order, and which column is the
/// designated timestamp and which the symbol (shard key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
    pub timestamp: String,
    pub symbol: String,
    /// Columns declared NOT NULL (ClickHouse: any type not wrapped in `Nullable`). The
    /// timestamp and symbol columns are always NOT NULL whether listed or not.
    pub not_null: Vec<String>,
}

impl TableSpec {
    pub fn new(name: impl Into<String>) -> TableSpec {
        TableSpec {
            name: name.into(),
            columns: Vec::new(),
            timestamp: "timestamp".into(),
            symbol: "symbol".into(),
            not_null: Vec::new(),
        }
    }

    pub fn column(mut self, name: impl Into<String>, ty: ColumnType) -> TableSpec {
        self.columns.push((name.into(), ty));
        self
    }

    /// Adds a NOT NULL column: NULL or omitted cells are stored as the type's default.
    pub fn column_not_null(mut self, name: impl Into<String>, ty: ColumnType) -> TableSpec {
        let name = name.into();
        self.not_null.push(name.clone());
        self.columns.push((name, ty));
        self
    }

    /// `trades(timestamp, symbol, price Float64, volume Int64)`, every column NOT NULL.
    pub fn trades() -> TableSpec {
        TableSpec::new("trades")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Symbol)
            .column_not_null("price", ColumnType::Float64)
            .column_not_null("volume", ColumnType::Int64)
    }

    /// `quotes(timestamp, symbol, bid, ask Float64, bid_size, ask_size Int64)`, every column
    /// NOT NULL.
    pub fn quotes() -> TableSpec {
        TableSpec::new("quotes")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Symbol)
            .column_not_null("bid", ColumnType::Float64)
            .column_not_null("ask", ColumnType::Float64)
            .column_not_null("bid_size", ColumnType::Int64)
            .column_not_null("ask_size", ColumnType::Int64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CatalogFile {
    version: u32,
    next_table_id: TableId,
    tables: Vec<TableSchema>,
}

/// Table schemas by name. Table ids are never reused, so WAL records and blocks of a dropped
/// table can never be mistaken for a later table's.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    path: PathBuf,
    next_table_id: TableId,
    tables: Vec<TableSchema>,
}

impl Catalog {
    /// Loads `dir/catalog.json`, or creates it with the default tables when absent.
    pub fn open(dir: &Path) -> Result<Catalog> {
        let path = dir.join(CATALOG_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                let file: CatalogFile = serde_json::from_slice(&bytes).map_err(|e| {
                    corrupt(
                        &path,
                        e.column() as u64,
                        format!("catalog is not valid JSON: {e}"),
                    )
                })?;
                if file.version != CATALOG_VERSION {
                    return Err(corrupt(
                        &path,
                        0,
                        format!("unknown catalog version {}", file.version),
                    ));
                }
                for t in &file.tables {
                    t.check_invariants()
                        .map_err(|e| corrupt(&path, 0, format!("table {}: {e}", t.name)))?;
                }
                Ok(Catalog {
                    path,
                    next_table_id: file.next_table_id,
                    tables: file.tables,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut c = Catalog {
                    path,
                    next_table_id: 1,
                    tables: Vec::new(),
                };
                c.insert(TableSpec::trades())?;
                c.insert(TableSpec::quotes())?;
                c.persist()?;
                Ok(c)
            }
            Err(e) => Err(e).at(&path),
        }
    }

    pub fn tables(&self) -> &[TableSchema] {
        &self.tables
    }

    pub fn get(&self, name: &str) -> Option<&TableSchema> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn get_by_id(&self, id: TableId) -> Option<&TableSchema> {
        self.tables.iter().find(|t| t.id == id)
    }

    pub fn require(&self, name: &str) -> Result<&TableSchema, RequestError> {
        self.get(name)
            .ok_or_else(|| RequestError::UnknownTable(name.to_string()))
    }

    /// Validates and adds a table in memory; `persist` makes it durable.
    pub(crate) fn insert(&mut self, spec: TableSpec) -> Result<TableId, RequestError> {
        if self.get(&spec.name).is_some() {
            return Err(RequestError::TableExists(spec.name));
        }
        if spec.name.is_empty() || spec.name.contains(['/', '\0']) {
            return Err(RequestError::InvalidSchema(format!(
                "bad table name {:?}",
                spec.name
            )));
        }
        let find = |n: &str| spec.columns.iter().position(|(c, _)| c == n);
        let ts_index = find(&spec.timestamp).ok_or_else(|| RequestError::MissingColumn {
            table: spec.name.clone(),
            column: spec.timestamp.clone(),
        })?;
        let key_index = find(&spec.symbol).ok_or_else(|| RequestError::MissingColumn {
            table: spec.name.clone(),
            column: spec.symbol.clone(),
        })?;
        if let Some(n) = spec.not_null.iter().find(|n| find(n).is_none()) {
            return Err(RequestError::InvalidSchema(format!(
                "NOT NULL column '{n}' is not a column of {}",
                spec.name
            )));
        }
        let columns: Vec<ColumnSchema> = spec
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, ty))| ColumnSchema {
                id: i as u16,
                name: name.clone(),
                ty: *ty,
                nullable: i != ts_index && i != key_index && !spec.not_null.contains(name),
            })
            .collect();
        if columns.len() > u16::MAX as usize {
            return Err(RequestError::InvalidSchema("too many columns".into()));
        }
        let schema = TableSchema {
            id: self.next_table_id,
            name: spec.name,
            next_column_id: columns.len() as u16,
            columns,
            ts_index,
            key_index,
        };
        schema.check_invariants()?;
        self.next_table_id += 1;
        let id = schema.id;
        self.tables.push(schema);
        Ok(id)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Result<TableSchema, RequestError> {
        let i = self
            .tables
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| RequestError::UnknownTable(name.to_string()))?;
        Ok(self.tables.remove(i))
    }

    pub(crate) fn add_column(
        &mut self,
        table: &str,
        name: &str,
        ty: ColumnType,
    ) -> Result<usize, RequestError> {
        let t = self
            .tables
            .iter_mut()
            .find(|t| t.name == table)
            .ok_or_else(|| RequestError::UnknownTable(table.to_string()))?;
        if t.column_index(name).is_some() {
            return Err(RequestError::ColumnExists {
                table: table.to_string(),
                column: name.to_string(),
            });
        }
        if name.is_empty() || t.next_column_id == u16::MAX {
            return Err(RequestError::InvalidSchema(format!(
                "cannot add column {name:?}"
            )));
        }
        // Rows written before the column existed have no value: the column is nullable.
        t.columns.push(ColumnSchema {
            id: t.next_column_id,
            name: name.to_string(),
            ty,
            nullable: true,
        });
        t.next_column_id += 1;
        t.check_invariants()?;
        Ok(t.columns.len() - 1)
    }

    /// Writes the catalog atomically: temp file, fsync, rename, fsync the directory.
    pub(crate) fn persist(&self) -> Result<()> {
        let file = CatalogFile {
            version: CATALOG_VERSION,
            next_table_id: self.next_table_id,
            tables: self.tables.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("catalog serializes");
        write_atomically(&self.path, &bytes)
    }
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new content.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp).at(&tmp)?;
        f.write_all(bytes).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    sync_dir(path.parent().expect("file has a parent"))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_catalog_has_trades_and_quotes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        assert_eq!(c.tables().len(), 2);
        let trades = c.get("trades").unwrap();
        assert_eq!(trades.columns[trades.ts_index].name, "timestamp");
        assert_eq!(trades.columns[trades.key_index].ty, ColumnType::Symbol);
        c.add_column("trades", "venue", ColumnType::Symbol).unwrap();
        c.remove("quotes").unwrap();
        c.persist().unwrap();
        let again = Catalog::open(dir.path()).unwrap();
        assert_eq!(again, c);
        assert_eq!(again.next_table_id, 3, "ids are never reused");
    }

    #[test]
    fn bad_specs_are_request_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        assert_eq!(
            c.insert(TableSpec::trades()),
            Err(RequestError::TableExists("trades".into()))
        );
        let no_ts = TableSpec::new("x").column("symbol", ColumnType::Symbol);
        assert!(matches!(
            c.insert(no_ts),
            Err(RequestError::MissingColumn { .. })
        ));
        let bad_ts = TableSpec::new("x")
            .column("timestamp", ColumnType::Int64)
            .column("symbol", ColumnType::Symbol);
        assert!(matches!(
            c.insert(bad_ts),
            Err(RequestError::InvalidSchema(_))
        ));
        let float_key = TableSpec::new("x")
            .column("timestamp", ColumnType::Timestamp)
            .column("symbol", ColumnType::Float64);
        assert!(matches!(
            c.insert(float_key),
            Err(RequestError::InvalidSchema(_))
        ));
        assert!(c.get("x").is_none(), "failed inserts leave no trace");
    }

    #[test]
    fn garbage_catalog_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CATALOG_FILE), b"{not json").unwrap();
        let err = Catalog::open(dir.path()).unwrap_err();
        assert!(matches!(err, crate::StorageError::Corrupt { .. }), "{err}");
    }
}
