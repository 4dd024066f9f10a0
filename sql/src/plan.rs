//! The planner: sqlparser's ClickHouse AST → bound statements and `SelectPlan`s with a
//! per-shard fragment and a merge step; symbol and time predicates become key and block pruning.

use sqlparser::ast;
use sqlparser::dialect::ClickHouseDialect;
use sqlparser::parser::Parser;
use storage::{Catalog, ColumnType, TableSchema, TableSpec};

use crate::agg::{self, AggCall};
use crate::error::{did_you_mean, Result, SqlError};
use crate::exec::{AggSpec, Finish, KeyFilter, OrderKey, QueryLimits, TopN, Work};
use crate::expr::{binary_type, BinOp, Expr, Func};
use crate::functions::{self, common_type};
use crate::text::parse_datetime;
use crate::types::{BaseType, DataType, ResultSet, Value};

pub const NS_PER_SECOND: i64 = 1_000_000_000;

/// Facts about the server that SQL functions such as `version()` report.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: String,
    pub display_name: String,
    pub timezone: String,
    pub revision: u64,
    pub now_ns: i64,
    pub uptime_s: u64,
}

impl Default for ServerInfo {
    fn default() -> Self {
        ServerInfo {
            version: "24.8.1.1".into(),
            display_name: "ronto".into(),
            timezone: "UTC".into(),
            revision: 54472,
            now_ns: 0,
            uptime_s: 0,
        }
    }
}

/// Where a SELECT reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A stored table, read by one fragment per owning shard.
    Table {
        table: String,
        /// Schema positions read by the fragment.
        columns: Vec<usize>,
        ts_column: Option<usize>,
        keys: KeyFilter,
        ts_min: i64,
        ts_max: i64,
    },
    /// A subquery or CTE, materialized and then processed locally.
    Subquery(Box<SelectPlan>),
    /// `UNION ALL` of several queries.
    Union(Vec<SelectPlan>),
    /// Rows known at plan time (system tables).
    Rows(ResultSet),
    /// No FROM: one row with no columns.
    One,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectPlan {
    pub source: Source,
    /// Over the source columns (for tables: chunk indices of `columns`).
    pub filter: Option<Expr>,
    pub work: Work,
    pub finish: Finish,
    /// Types of the visible output columns.
    pub output_types: Vec<DataType>,
    pub limits: QueryLimits,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource {
    Values(Vec<Vec<Value>>),
    /// `INSERT ... FORMAT name`: the data follows the query text (or is the request body).
    Format(String),
    Select(Box<SelectPlan>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select {
        plan: Box<SelectPlan>,
        format: Option<String>,
    },
    Insert {
        table: String,
        columns: Option<Vec<String>>,
        source: InsertSource,
    },
    CreateTable {
        spec: TableSpec,
        if_not_exists: bool,
    },
    DropTable {
        name: String,
        if_exists: bool,
    },
    AddColumn {
        table: String,
        name: String,
        ty: ColumnType,
        if_not_exists: bool,
    },
    ShowTables {
        format: Option<String>,
    },
    Describe {
        table: String,
        format: Option<String>,
    },
    Exists {
        table: String,
        format: Option<String>,
    },
    Explain {
        plan: Box<SelectPlan>,
    },
    /// `SET x = y`, `USE db`: accepted and ignored.
    NoOp,
}

/// Splits `INSERT ... FORMAT X <data>` into the query text and the byte offset where the data
/// starts (after the format name: spaces/tabs/\f, one optional \r, one optional \n).
pub fn split_insert_format(sql: &str) -> Option<(&str, String, usize)> {
    let upper = sql.to_ascii_uppercase();
    let trimmed = upper.trim_start();
    if !trimmed.starts_with("INSERT") {
        return None;
    }
    let mut search = 0;
    while let Some(p) = upper[search..].find("FORMAT") {
        let at = search + p;
        let before_ok = at > 0 && upper.as_bytes()[at - 1].is_ascii_whitespace();
        let after = at + 6;
        if before_ok
            && upper
                .as_bytes()
                .get(after)
                .is_some_and(|b| b.is_ascii_whitespace())
        {
            // Skip to the name.
            let rest = &sql[after..];
            let name_start = after + (rest.len() - rest.trim_start().len());
            let name_len = sql[name_start..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if name_len > 0 {
                let name = sql[name_start..name_start + name_len].to_string();
                let mut data = name_start + name_len;
                let b = sql.as_bytes();
                while data < b.len() && matches!(b[data], b' ' | b'\t' | 0x0c) {
                    data += 1;
                }
                if b.get(data) == Some(&b'\r') {
                    data += 1;
                }
                if b.get(data) == Some(&b'\n') {
                    data += 1;
                }
                return Some((&sql[..at], name, data));
            }
        }
        search = at + 6;
    }
    None
}

/// Parses and binds one statement against `catalog`.
pub fn plan(
    sql: &str,
    catalog: &Catalog,
    info: &ServerInfo,
    limits: QueryLimits,
) -> Result<Statement> {
    if let Some((query, format, _)) = split_insert_format(sql) {
        // sqlparser wants a source after the column list; the data follows FORMAT instead, so
        // parse the head with a placeholder row (and without a SETTINGS clause, ignored).
        let head = query.trim_end();
        let upper_head = head.to_ascii_uppercase();
        let head = match upper_head.rfind(" SETTINGS ") {
            Some(p) => &head[..p],
            None => head,
        };
        let st = parse_one(&format!("{head} VALUES (0)"))?;
        let ast::Statement::Insert(ins) = st else {
            return Err(SqlError::Syntax("expected INSERT before FORMAT".into()));
        };
        let table = table_object_name(&ins.table)?;
        catalog
            .get(&table)
            .ok_or_else(|| SqlError::UnknownTable(table.clone()))?;
        let columns = (!ins.columns.is_empty())
            .then(|| ins.columns.iter().map(|c| c.value.clone()).collect());
        return Ok(Statement::Insert {
            table,
            columns,
            source: InsertSource::Format(format),
        });
    }
    let trimmed = sql.trim().trim_end_matches(';').trim();
    // Forms sqlparser's ClickHouse dialect does not parse.
    let upper = trimmed.to_ascii_uppercase();
    if let Some(rest) = upper.strip_prefix("EXISTS ") {
        let (rest_orig, format) = take_format(&trimmed[trimmed.len() - rest.len()..]);
        let name = rest_orig.trim();
        let name = name
            .strip_prefix("TABLE ")
            .or_else(|| name.strip_prefix("table "))
            .unwrap_or(name)
            .trim();
        let name = name
            .rsplit('.')
            .next()
            .unwrap_or(name)
            .trim_matches('`')
            .trim_matches('"');
        let _ = rest;
        return Ok(Statement::Exists {
            table: name.to_string(),
            format,
        });
    }
    // sqlparser's ClickHouse dialect does not parse `ADD COLUMN IF NOT EXISTS`.
    let mut alter_if_not_exists = false;
    let rewritten;
    let trimmed = if upper.starts_with("ALTER") {
        match upper.find("ADD COLUMN IF NOT EXISTS") {
            Some(p) => {
                alter_if_not_exists = true;
                rewritten = format!(
                    "{}ADD COLUMN{}",
                    &trimmed[..p],
                    &trimmed[p + "ADD COLUMN IF NOT EXISTS".len()..]
                );
                rewritten.as_str()
            }
            None => trimmed,
        }
    } else {
        trimmed
    };
    // A trailing `FORMAT name` is taken off before parsing: sqlparser reads `SELECT 1 FORMAT
    // JSON` as an alias named FORMAT.
    let (trimmed, trailing_format) = if ["SELECT", "WITH", "(", "DESC", "SHOW", "EXPLAIN"]
        .iter()
        .any(|k| upper.starts_with(k))
    {
        take_format(trimmed)
    } else {
        (trimmed, None)
    };
    let st = parse_one(trimmed)?;
    let binder = Binder {
        catalog,
        info,
        limits,
    };
    match st {
        ast::Statement::Query(q) => {
            let format = q
                .format_clause
                .as_ref()
                .and_then(format_name)
                .or(trailing_format);
            let plan = binder.query(&q, &[])?;
            Ok(Statement::Select {
                plan: Box::new(plan),
                format,
            })
        }
        ast::Statement::Insert(ins) => {
            let table = table_object_name(&ins.table)?;
            let schema = catalog
                .get(&table)
                .ok_or_else(|| SqlError::UnknownTable(table.clone()))?;
            let columns: Option<Vec<String>> = (!ins.columns.is_empty())
                .then(|| ins.columns.iter().map(|c| c.value.clone()).collect());
            if let Some(cols) = &columns {
                for c in cols {
                    if schema.column_index(c).is_none() {
                        return Err(SqlError::coded(
                            16,
                            "NO_SUCH_COLUMN_IN_TABLE",
                            format!(
                                "No such column {c} in table {table}{}",
                                did_you_mean(c, schema.columns.iter().map(|c| c.name.as_str()))
                            ),
                        ));
                    }
                }
            }
            let source = ins
                .source
                .as_ref()
                .ok_or_else(|| SqlError::Syntax("INSERT needs VALUES, SELECT or FORMAT".into()))?;
            let source = match &*source.body {
                ast::SetExpr::Values(v) => {
                    let mut rows = Vec::with_capacity(v.rows.len());
                    for row in &v.rows {
                        let mut out = Vec::with_capacity(row.len());
                        for e in row {
                            let bound = binder.expr(e, &Scope::empty(), &mut NoAgg)?;
                            if !bound.is_constant() {
                                return Err(SqlError::Syntax("VALUES must be constants".into()));
                            }
                            out.push(bound.eval_constant()?);
                        }
                        rows.push(out);
                    }
                    InsertSource::Values(rows)
                }
                _ => InsertSource::Select(Box::new(binder.query(source, &[])?)),
            };
            Ok(Statement::Insert {
                table,
                columns,
                source,
            })
        }
        ast::Statement::CreateTable(ct) => {
            let name = object_name(&ct.name);
            let mut cols = Vec::new();
            let mut lowcard = Vec::new();
            let mut not_null = Vec::new();
            for c in &ct.columns {
                let (ty, lc) = storage_type(&c.data_type)?;
                if lc {
                    lowcard.push(c.name.value.clone());
                }
                // ClickHouse: a type not wrapped in Nullable is NOT NULL unless the column
                // says `NULL`; `NOT NULL` is the default spelled out.
                let says_null = c
                    .options
                    .iter()
                    .any(|o| matches!(o.option, ast::ColumnOption::Null));
                if !is_nullable_type(&c.data_type) && !says_null {
                    not_null.push(c.name.value.clone());
                }
                cols.push((c.name.value.clone(), ty));
            }
            let timestamp = cols
                .iter()
                .find(|(n, t)| n == "timestamp" && *t == ColumnType::Timestamp)
                .or_else(|| cols.iter().find(|(_, t)| *t == ColumnType::Timestamp))
                .map(|(n, _)| n.clone())
                .ok_or_else(|| {
                    SqlError::BadArguments(format!(
                        "table {name} needs a DateTime64 column (its designated timestamp)"
                    ))
                })?;
            let symbol = cols
                .iter()
                .find(|(n, t)| n == "symbol" && t.can_be_key() || n == "symbol" && *t == ColumnType::String)
                .map(|(n, _)| n.clone())
                .or_else(|| lowcard.first().cloned())
                .or_else(|| cols.iter().find(|(_, t)| matches!(t, ColumnType::String | ColumnType::Symbol)).map(|(n, _)| n.clone()))
                .ok_or_else(|| SqlError::BadArguments(format!("table {name} needs a symbol column (String, LowCardinality(String) or Int64) to shard by")))?;
            for (n, t) in cols.iter_mut() {
                if *n == symbol && *t == ColumnType::String {
                    *t = ColumnType::Symbol;
                }
            }
            let mut spec = TableSpec::new(name);
            spec.columns = cols;
            spec.timestamp = timestamp;
            spec.symbol = symbol;
            spec.not_null = not_null;
            Ok(Statement::CreateTable {
                spec,
                if_not_exists: ct.if_not_exists,
            })
        }
        ast::Statement::Drop {
            object_type: ast::ObjectType::Table,
            if_exists,
            names,
            ..
        } => {
            let name = names
                .first()
                .map(object_name)
                .ok_or_else(|| SqlError::Syntax("DROP TABLE needs a name".into()))?;
            Ok(Statement::DropTable { name, if_exists })
        }
        ast::Statement::AlterTable {
            name, operations, ..
        } => {
            let table = object_name(&name);
            match operations.as_slice() {
                [ast::AlterTableOperation::AddColumn {
                    column_def,
                    if_not_exists,
                    ..
                }] => Ok(Statement::AddColumn {
                    table,
                    name: column_def.name.value.clone(),
                    ty: storage_type(&column_def.data_type)?.0,
                    if_not_exists: *if_not_exists || alter_if_not_exists,
                }),
                _ => Err(SqlError::Unsupported(
                    "ALTER TABLE other than a single ADD COLUMN".into(),
                )),
            }
        }
        ast::Statement::ShowTables { .. } => Ok(Statement::ShowTables {
            format: trailing_format.clone(),
        }),
        ast::Statement::ExplainTable { table_name, .. } => Ok(Statement::Describe {
            table: object_name(&table_name),
            format: trailing_format.clone(),
        }),
        ast::Statement::Explain { statement, .. } => match *statement {
            ast::Statement::Query(q) => Ok(Statement::Explain {
                plan: Box::new(binder.query(&q, &[])?),
            }),
            _ => Err(SqlError::Unsupported(
                "EXPLAIN of anything but SELECT".into(),
            )),
        },
        ast::Statement::Set(_) | ast::Statement::Use(_) => Ok(Statement::NoOp),
        other => Err(SqlError::Unsupported(format!(
            "statement {}",
            first_words(&other.to_string())
        ))),
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Strips a trailing `FORMAT Name` from statements sqlparser keeps it out of.
fn take_format(s: &str) -> (&str, Option<String>) {
    let t = s.trim_end().trim_end_matches(';').trim_end();
    let name_len = t
        .bytes()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if name_len == 0 {
        return (s, None);
    }
    let before_name = &t[..t.len() - name_len];
    let trimmed = before_name.trim_end();
    if trimmed.len() == before_name.len() || trimmed.len() < 6 {
        return (s, None);
    }
    let kw = &trimmed[trimmed.len() - 6..];
    let sep_ok = trimmed.len() == 6 || trimmed.as_bytes()[trimmed.len() - 7].is_ascii_whitespace();
    if kw.eq_ignore_ascii_case("FORMAT") && sep_ok {
        (
            &trimmed[..trimmed.len() - 6],
            Some(t[t.len() - name_len..].to_string()),
        )
    } else {
        (s, None)
    }
}

fn format_name(f: &ast::FormatClause) -> Option<String> {
    match f {
        ast::FormatClause::Identifier(i) => Some(i.value.clone()),
        ast::FormatClause::Null => Some("Null".into()),
    }
}

fn parse_one(sql: &str) -> Result<ast::Statement> {
    let mut stmts = Parser::parse_sql(&ClickHouseDialect {}, sql)
        .map_err(|e| SqlError::Syntax(e.to_string()))?;
    match stmts.len() {
        1 => Ok(stmts.remove(0)),
        0 => Err(SqlError::Syntax("Empty query".into())),
        _ => Err(SqlError::Syntax("Multi-statements are not allowed".into())),
    }
}

fn object_name(n: &ast::ObjectName) -> String {
    n.0.last()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

fn table_object_name(t: &ast::TableObject) -> Result<String> {
    match t {
        ast::TableObject::TableName(n) => Ok(object_name(n)),
        _ => Err(SqlError::Unsupported("INSERT INTO a table function".into())),
    }
}

/// Maps a ClickHouse column type to a storage type; the flag says LowCardinality(String).
fn storage_type(t: &ast::DataType) -> Result<(ColumnType, bool)> {
    use ast::DataType as D;
    Ok(match t {
        D::Nullable(inner) => storage_type(inner)?,
        D::LowCardinality(inner) => (storage_type(inner)?.0, true),
        D::Int64
        | D::Int32
        | D::Int16
        | D::Int8(_)
        | D::Int(_)
        | D::Integer(_)
        | D::BigInt(_)
        | D::SmallInt(_)
        | D::TinyInt(_) => (ColumnType::Int64, false),
        D::UInt64 | D::UInt32 | D::UInt16 | D::UInt8 => (ColumnType::UInt64, false),
        D::Float64 | D::Float32 | D::Double(_) | D::DoublePrecision | D::Float(_) | D::Real => {
            (ColumnType::Float64, false)
        }
        D::Bool | D::Boolean => (ColumnType::Bool, false),
        D::String(_) | D::Text | D::Varchar(_) | D::Char(_) | D::FixedString(_) => {
            (ColumnType::String, false)
        }
        D::Datetime64(..) | D::Datetime(_) | D::Timestamp(..) | D::Date | D::Date32 => {
            (ColumnType::Timestamp, false)
        }
        D::Custom(name, _) if object_name(name).eq_ignore_ascii_case("Symbol") => {
            (ColumnType::Symbol, false)
        }
        other => return Err(SqlError::Unsupported(format!("column type {other}"))),
    })
}

/// Whether a ClickHouse column type admits NULL: `Nullable(T)`, possibly inside
/// `LowCardinality`.
fn is_nullable_type(t: &ast::DataType) -> bool {
    match t {
        ast::DataType::Nullable(_) => true,
        ast::DataType::LowCardinality(inner) => is_nullable_type(inner),
        _ => false,
    }
}

/// A SQL type named in CAST.
fn cast_type(t: &ast::DataType) -> Result<DataType> {
    use ast::DataType as D;
    if let D::Nullable(inner) = t {
        return Ok(cast_type(inner)?.or_null());
    }
    if let D::LowCardinality(inner) = t {
        return cast_type(inner);
    }
    let narrow = match t {
        D::Int8(_) | D::TinyInt(_) => Some(DataType::INT8),
        D::Int16 | D::SmallInt(_) => Some(DataType::INT16),
        D::Int32 | D::Int(_) | D::Integer(_) => Some(DataType::INT32),
        D::UInt8 => Some(DataType::UINT8),
        D::UInt16 => Some(DataType::UINT16),
        D::UInt32 => Some(DataType::UINT32),
        _ => None,
    };
    if let Some(ty) = narrow {
        return Ok(ty);
    }
    let (ty, _) = storage_type(t)?;
    Ok(DataType::from_column_type(ty))
}

fn unknown_column<'a>(
    name: &str,
    relation: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> SqlError {
    SqlError::UnknownColumn {
        column: name.to_string(),
        relation: relation.to_string(),
        hint: did_you_mean(name, candidates),
    }
}

/// The columns an expression can refer to.
#[derive(Debug, Clone)]
struct Scope {
    /// Human description for errors: `table trades`.
    relation: String,
    qualifiers: Vec<String>,
    columns: Vec<(String, DataType)>,
    /// The column that orders first/last: a table's designated timestamp; for subqueries a
    /// DateTime64 column named `timestamp`, else the first DateTime64 column.
    ts: Option<usize>,
}

impl Scope {
    /// Fills `ts` by the subquery rule (tables set it from their schema).
    fn with_default_ts(mut self) -> Scope {
        let dt = |t: &DataType| t.base == BaseType::DateTime64;
        self.ts = self
            .columns
            .iter()
            .position(|(n, t)| n == "timestamp" && dt(t))
            .or_else(|| self.columns.iter().position(|(_, t)| dt(t)));
        self
    }

    fn empty() -> Scope {
        Scope {
            relation: "query".into(),
            qualifiers: Vec::new(),
            columns: Vec::new(),
            ts: None,
        }
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}

/// Hook that sees every AST node first: aggregate binding uses it to replace aggregate calls
/// and GROUP BY expressions with columns of the post-aggregation relation.
trait Resolver {
    fn resolve(&mut self, binder: &Binder<'_>, e: &ast::Expr) -> Option<Result<Expr>>;
}

struct NoAgg;

impl Resolver for NoAgg {
    fn resolve(&mut self, _: &Binder<'_>, _: &ast::Expr) -> Option<Result<Expr>> {
        None
    }
}

/// Binds expressions over the post-aggregation relation (group keys, then aggregates).
struct PostAgg<'s> {
    source: &'s Scope,
    keys: Vec<Expr>,
    /// Aliases of select items usable by name (bound lazily through their AST).
    aliases: Vec<(String, ast::Expr)>,
    aggs: Vec<AggCall>,
    in_alias: Vec<String>,
}

impl Resolver for PostAgg<'_> {
    fn resolve(&mut self, b: &Binder<'_>, e: &ast::Expr) -> Option<Result<Expr>> {
        if let ast::Expr::Function(f) = e {
            let name = object_name(&f.name);
            match b.aggregate_call(f, &name, self.source) {
                Some(Ok(call)) => {
                    let idx = match self.aggs.iter().position(|a| *a == call) {
                        Some(i) => i,
                        None => {
                            self.aggs.push(call.clone());
                            self.aggs.len() - 1
                        }
                    };
                    return Some(Ok(Expr::Column {
                        index: self.keys.len() + idx,
                        ty: call.ty,
                    }));
                }
                Some(Err(err)) => return Some(Err(err)),
                None => {}
            }
        }
        // An expression equal to a GROUP BY key reads the key column.
        if !matches!(e, ast::Expr::Value(_)) {
            if let Ok(bound) = b.expr(e, self.source, &mut NoAgg) {
                if let Some(k) = self.keys.iter().position(|k| *k == bound) {
                    return Some(Ok(Expr::Column {
                        index: k,
                        ty: bound.ty(),
                    }));
                }
            }
        }
        if let ast::Expr::Identifier(id) = e {
            if let Some((_, ast_e)) = self.aliases.iter().find(|(n, _)| *n == id.value).cloned() {
                if !self.in_alias.contains(&id.value) && self.source.lookup(&id.value).is_none() {
                    self.in_alias.push(id.value.clone());
                    let r = b.expr(&ast_e, &Scope::empty(), self);
                    self.in_alias.pop();
                    return Some(r);
                }
            }
            if self.source.lookup(&id.value).is_some() {
                return Some(Err(SqlError::NotAggregated(format!(
                    "Column `{}` is not under aggregate function and not in GROUP BY",
                    id.value
                ))));
            }
        }
        if let ast::Expr::CompoundIdentifier(parts) = e {
            let name = &parts.last().expect("non-empty").value;
            if self.source.lookup(name).is_some() {
                return Some(Err(SqlError::NotAggregated(format!(
                    "Column `{name}` is not under aggregate function and not in GROUP BY"
                ))));
            }
        }
        None
    }
}

/// Resolves earlier select aliases in non-aggregate projections (`SELECT a * 2 AS b, b + 1`).
struct AliasResolver<'s> {
    source: &'s Scope,
    aliases: Vec<(String, ast::Expr)>,
    in_alias: Vec<String>,
}

impl Resolver for AliasResolver<'_> {
    fn resolve(&mut self, b: &Binder<'_>, e: &ast::Expr) -> Option<Result<Expr>> {
        if let ast::Expr::Identifier(id) = e {
            if self.source.lookup(&id.value).is_none() && !self.in_alias.contains(&id.value) {
                if let Some((_, ast_e)) = self.aliases.iter().find(|(n, _)| *n == id.value).cloned()
                {
                    self.in_alias.push(id.value.clone());
                    let r = b.expr(&ast_e, self.source, self);
                    self.in_alias.pop();
                    return Some(r);
                }
            }
        }
        None
    }
}

struct Binder<'c> {
    catalog: &'c Catalog,
    info: &'c ServerInfo,
    limits: QueryLimits,
}

/// A named subquery visible in FROM.
type Ctes = [(String, SelectPlan)];

impl Binder<'_> {
    fn query(&self, q: &ast::Query, outer_ctes: &Ctes) -> Result<SelectPlan> {
        let mut ctes: Vec<(String, SelectPlan)> = outer_ctes.to_vec();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let plan = self.query(&cte.query, &ctes)?;
                ctes.push((cte.alias.name.value.clone(), plan));
            }
        }
        let (limit, offset) = self.limit_clause(q)?;
        let order_by: Vec<ast::OrderByExpr> = match &q.order_by {
            Some(ast::OrderBy {
                kind: ast::OrderByKind::Expressions(list),
                ..
            }) => list.clone(),
            Some(_) => return Err(SqlError::Unsupported("ORDER BY ALL".into())),
            None => Vec::new(),
        };
        match &*q.body {
            ast::SetExpr::Select(s) => self.select(s, &ctes, &order_by, limit, offset),
            ast::SetExpr::Query(inner) => {
                let plan = self.query(inner, &ctes)?;
                self.wrap(plan, &order_by, limit, offset)
            }
            ast::SetExpr::SetOperation {
                op: ast::SetOperator::Union,
                set_quantifier,
                ..
            } => {
                let mut parts = Vec::new();
                self.union_parts(&q.body, &ctes, &mut parts)?;
                let first = parts[0].output_types.clone();
                for p in &parts[1..] {
                    if p.output_types.len() != first.len() {
                        return Err(SqlError::Type(
                            "UNION ALL parts have different numbers of columns".into(),
                        ));
                    }
                }
                let names = parts[0].finish.names.clone();
                let types: Vec<DataType> = (0..first.len())
                    .map(|i| {
                        common_type(&parts.iter().map(|p| p.output_types[i]).collect::<Vec<_>>())
                    })
                    .collect();
                let union = SelectPlan {
                    source: Source::Union(parts),
                    filter: None,
                    work: Work::Project {
                        exprs: types
                            .iter()
                            .enumerate()
                            .map(|(i, t)| Expr::Column { index: i, ty: *t })
                            .collect(),
                        limit: None,
                        top: None,
                    },
                    finish: Finish {
                        having: None,
                        projection: None,
                        names,
                        distinct: matches!(set_quantifier, ast::SetQuantifier::Distinct),
                        order_by: Vec::new(),
                        offset: 0,
                        limit: None,
                    },
                    output_types: types,
                    limits: self.limits,
                };
                self.wrap(union, &order_by, limit, offset)
            }
            ast::SetExpr::SetOperation { op, .. } => Err(SqlError::Unsupported(format!("{op}"))),
            ast::SetExpr::Values(_) => Err(SqlError::Unsupported("VALUES as a query".into())),
            _ => Err(SqlError::Unsupported("this kind of query body".into())),
        }
    }

    fn union_parts(
        &self,
        body: &ast::SetExpr,
        ctes: &Ctes,
        out: &mut Vec<SelectPlan>,
    ) -> Result<()> {
        match body {
            ast::SetExpr::SetOperation {
                op: ast::SetOperator::Union,
                set_quantifier,
                left,
                right,
            } => {
                if !matches!(
                    set_quantifier,
                    ast::SetQuantifier::All
                        | ast::SetQuantifier::Distinct
                        | ast::SetQuantifier::None
                ) {
                    return Err(SqlError::Unsupported(format!("UNION {set_quantifier}")));
                }
                if matches!(set_quantifier, ast::SetQuantifier::None) {
                    return Err(SqlError::coded(
                        558,
                        "EXPECTED_ALL_OR_DISTINCT",
                        "Expected ALL or DISTINCT in UNION query, because setting (union_default_mode) is empty",
                    ));
                }
                self.union_parts(left, ctes, out)?;
                self.union_parts(right, ctes, out)
            }
            ast::SetExpr::Select(s) => {
                out.push(self.select(s, ctes, &[], None, 0)?);
                Ok(())
            }
            ast::SetExpr::Query(q) => {
                out.push(self.query(q, ctes)?);
                Ok(())
            }
            _ => Err(SqlError::Unsupported("this UNION operand".into())),
        }
    }

    /// Applies an outer ORDER BY / LIMIT to a plan by selecting everything from it.
    fn wrap(
        &self,
        inner: SelectPlan,
        order_by: &[ast::OrderByExpr],
        limit: Option<usize>,
        offset: usize,
    ) -> Result<SelectPlan> {
        if order_by.is_empty() && limit.is_none() && offset == 0 {
            return Ok(inner);
        }
        let scope = Scope {
            relation: "subquery".into(),
            qualifiers: Vec::new(),
            columns: inner
                .finish
                .names
                .iter()
                .cloned()
                .zip(inner.output_types.iter().copied())
                .collect(),
            ts: None,
        };
        let exprs: Vec<Expr> = scope
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, t))| Expr::Column { index: i, ty: *t })
            .collect();
        let names = inner.finish.names.clone();
        let mut exprs_all = exprs.clone();
        let order = self.order_keys(order_by, &scope, &names, &[], &mut exprs_all, &mut NoAgg)?;
        Ok(SelectPlan {
            output_types: inner.output_types.clone(),
            source: Source::Subquery(Box::new(inner)),
            filter: None,
            work: Work::Project {
                exprs: exprs_all,
                limit: None,
                top: None,
            },
            finish: Finish {
                having: None,
                projection: None,
                names,
                distinct: false,
                order_by: order,
                offset,
                limit,
            },
            limits: self.limits,
        })
    }

    fn limit_clause(&self, q: &ast::Query) -> Result<(Option<usize>, usize)> {
        let num = |e: &ast::Expr| -> Result<usize> {
            let v = self.expr(e, &Scope::empty(), &mut NoAgg)?.eval_constant()?;
            v.as_i64()
                .filter(|x| *x >= 0)
                .map(|x| x as usize)
                .ok_or_else(|| {
                    SqlError::Syntax("LIMIT and OFFSET need non-negative integers".into())
                })
        };
        Ok(match &q.limit_clause {
            None => (None, 0),
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return Err(SqlError::Unsupported("LIMIT BY".into()));
                }
                (
                    limit.as_ref().map(num).transpose()?,
                    offset
                        .as_ref()
                        .map(|o| num(&o.value))
                        .transpose()?
                        .unwrap_or(0),
                )
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(num(limit)?), num(offset)?)
            }
        })
    }

    fn select(
        &self,
        s: &ast::Select,
        ctes: &Ctes,
        order_by: &[ast::OrderByExpr],
        limit: Option<usize>,
        offset: usize,
    ) -> Result<SelectPlan> {
        if s.from.len() > 1 || s.from.first().is_some_and(|f| !f.joins.is_empty()) {
            return Err(SqlError::Unsupported(
                "JOIN (ASOF joins are planned)".into(),
            ));
        }
        // The source relation.
        let (mut source, scope, table_schema) = match s.from.first().map(|f| &f.relation) {
            None => (Source::One, Scope::empty(), None),
            Some(ast::TableFactor::Table {
                name, alias, args, ..
            }) => {
                if args.is_some() {
                    return Err(SqlError::Unsupported(format!("table function {name}")));
                }
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .map(|p| {
                        p.to_string()
                            .trim_matches('`')
                            .trim_matches('"')
                            .to_string()
                    })
                    .collect();
                let tname = parts.last().cloned().unwrap_or_default();
                let db = if parts.len() > 1 {
                    parts[parts.len() - 2].to_ascii_lowercase()
                } else {
                    String::new()
                };
                let mut qualifiers = vec![tname.clone()];
                if let Some(a) = alias {
                    qualifiers.push(a.name.value.clone());
                }
                if let Some((_, cte)) = ctes
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == tname)
                    .filter(|_| db.is_empty())
                {
                    let scope = Scope {
                        relation: format!("subquery {tname}"),
                        qualifiers,
                        columns: cte
                            .finish
                            .names
                            .iter()
                            .cloned()
                            .zip(cte.output_types.iter().copied())
                            .collect(),
                        ts: None,
                    }
                    .with_default_ts();
                    (Source::Subquery(Box::new(cte.clone())), scope, None)
                } else if db == "system" || db == "information_schema" {
                    let rs = crate::system::table(&tname, self.catalog, self.info)
                        .ok_or_else(|| SqlError::UnknownTable(format!("{db}.{tname}")))?;
                    let scope = Scope {
                        relation: format!("table {db}.{tname}"),
                        qualifiers,
                        columns: rs.columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
                        ts: None,
                    }
                    .with_default_ts();
                    (Source::Rows(rs), scope, None)
                } else {
                    let schema = self
                        .catalog
                        .get(&tname)
                        .ok_or_else(|| SqlError::UnknownTable(tname.clone()))?;
                    let scope = Scope {
                        relation: format!("table {tname}"),
                        qualifiers,
                        columns: schema
                            .columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| {
                                let t = DataType::from_column_type(c.ty);
                                // The timestamp and the symbol never hold NULL.
                                let nullable =
                                    c.nullable && i != schema.ts_index && i != schema.key_index;
                                (c.name.clone(), t.nullable(nullable))
                            })
                            .collect(),
                        ts: Some(schema.ts_index),
                    };
                    let src = Source::Table {
                        table: tname.clone(),
                        columns: Vec::new(),
                        ts_column: None,
                        keys: KeyFilter::All,
                        ts_min: i64::MIN,
                        ts_max: i64::MAX,
                    };
                    (src, scope, Some(schema))
                }
            }
            Some(ast::TableFactor::Derived {
                subquery, alias, ..
            }) => {
                let plan = self.query(subquery, ctes)?;
                let scope = Scope {
                    relation: "subquery".into(),
                    qualifiers: alias.iter().map(|a| a.name.value.clone()).collect(),
                    columns: plan
                        .finish
                        .names
                        .iter()
                        .cloned()
                        .zip(plan.output_types.iter().copied())
                        .collect(),
                    ts: None,
                }
                .with_default_ts();
                (Source::Subquery(Box::new(plan)), scope, None)
            }
            Some(other) => return Err(SqlError::Unsupported(format!("FROM {other}"))),
        };

        let aliases: Vec<(String, ast::Expr)> = s
            .projection
            .iter()
            .filter_map(|i| match i {
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    Some((alias.value.clone(), expr.clone()))
                }
                _ => None,
            })
            .collect();

        // WHERE (and PREWHERE, which ClickHouse treats as an early WHERE). Select aliases may be
        // used, as in ClickHouse.
        let mut filter = None;
        for cond in [&s.prewhere, &s.selection].into_iter().flatten() {
            let mut resolver = AliasResolver {
                source: &scope,
                aliases: aliases.clone(),
                in_alias: Vec::new(),
            };
            let f = fold(self.expr(cond, &scope, &mut resolver)?)?;
            filter = Some(match filter {
                None => f,
                Some(prev) => Expr::Binary {
                    op: BinOp::And,
                    left: Box::new(prev),
                    right: Box::new(f),
                    ty: DataType::BOOL.or_null(),
                },
            });
        }

        // Select list, expanding `*`.
        let mut items: Vec<(String, ast::Expr)> = Vec::new();
        for item in &s.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => items.push((expr_name(e), e.clone())),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    items.push((alias.value.clone(), expr.clone()))
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    for (name, _) in &scope.columns {
                        items.push((
                            name.clone(),
                            ast::Expr::Identifier(ast::Ident::new(name.clone())),
                        ));
                    }
                }
            }
        }
        let names: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();

        let group_exprs: Vec<ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(list, mods) => {
                if !mods.is_empty() {
                    return Err(SqlError::Unsupported(
                        "GROUP BY modifiers (WITH ROLLUP/CUBE/TOTALS)".into(),
                    ));
                }
                list.clone()
            }
            ast::GroupByExpr::All(_) => {
                // GROUP BY ALL: every select item that contains no aggregate.
                items
                    .iter()
                    .filter(|(_, e)| !self.contains_aggregate(e, &scope))
                    .map(|(_, e)| e.clone())
                    .collect()
            }
        };
        let is_aggregate = !group_exprs.is_empty()
            || items
                .iter()
                .any(|(_, e)| self.contains_aggregate(e, &scope))
            || s.having.is_some();
        let distinct = match &s.distinct {
            None => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => return Err(SqlError::Unsupported("DISTINCT ON".into())),
        };

        let (work, finish_projection, having, mut outputs, order) = if is_aggregate {
            // GROUP BY keys may name select aliases or positions.
            let mut keys = Vec::new();
            for g in &group_exprs {
                let e = match g {
                    ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                        let pos = literal(&v.value)?.as_i64().unwrap_or(0);
                        let item = items
                            .get((pos - 1).max(0) as usize)
                            .filter(|_| pos >= 1)
                            .ok_or_else(|| {
                                SqlError::BadArguments(format!(
                                    "GROUP BY position {pos} is out of range"
                                ))
                            })?;
                        item.1.clone()
                    }
                    ast::Expr::Identifier(id) if scope.lookup(&id.value).is_none() => aliases
                        .iter()
                        .find(|(n, _)| *n == id.value)
                        .map(|(_, e)| e.clone())
                        .unwrap_or_else(|| g.clone()),
                    _ => g.clone(),
                };
                if self.contains_aggregate(&e, &scope) {
                    return Err(SqlError::coded(
                        184,
                        "ILLEGAL_AGGREGATION",
                        "Aggregate function found in GROUP BY",
                    ));
                }
                keys.push(fold(self.expr(&e, &scope, &mut NoAgg)?)?);
            }
            let mut post = PostAgg {
                source: &scope,
                keys,
                aliases: aliases.clone(),
                aggs: Vec::new(),
                in_alias: Vec::new(),
            };
            let mut outputs = Vec::new();
            for (_, e) in &items {
                outputs.push(self.expr(e, &Scope::empty(), &mut post)?);
            }
            let having = s
                .having
                .as_ref()
                .map(|h| self.expr(h, &Scope::empty(), &mut post))
                .transpose()?;
            let order = self.order_keys(
                order_by,
                &Scope::empty(),
                &names,
                &items,
                &mut outputs,
                &mut post,
            )?;
            let spec = AggSpec {
                keys: post.keys,
                aggs: post.aggs,
            };
            (Work::Aggregate(spec), true, having, outputs, order)
        } else {
            let mut resolver = AliasResolver {
                source: &scope,
                aliases: aliases.clone(),
                in_alias: Vec::new(),
            };
            let mut outputs = Vec::new();
            for (_, e) in &items {
                outputs.push(fold(self.expr(e, &scope, &mut resolver)?)?);
            }
            let order = self.order_keys(
                order_by,
                &scope,
                &names,
                &items,
                &mut outputs,
                &mut resolver,
            )?;
            (
                Work::Project {
                    exprs: Vec::new(),
                    limit: None,
                    top: None,
                },
                false,
                None,
                outputs,
                order,
            )
        };
        let output_types: Vec<DataType> = outputs[..names.len()].iter().map(Expr::ty).collect();

        // Table sources: push symbol and time predicates into the scan, read only used columns.
        let mut filter = filter;
        let mut work = work;
        if let (
            Source::Table {
                columns,
                ts_column,
                keys,
                ts_min,
                ts_max,
                ..
            },
            Some(schema),
        ) = (&mut source, table_schema)
        {
            if let Some(f) = filter.take() {
                let (residual, k, lo, hi) = extract_pruning(f, schema);
                filter = residual;
                *keys = k;
                *ts_min = lo;
                *ts_max = hi;
            }
            let mut used = Vec::new();
            if let Some(f) = &filter {
                f.columns(&mut used);
            }
            match &work {
                Work::Aggregate(spec) => {
                    spec.keys.iter().for_each(|k| k.columns(&mut used));
                    spec.aggs
                        .iter()
                        .flat_map(|a| &a.args)
                        .for_each(|e| e.columns(&mut used));
                    if spec
                        .aggs
                        .iter()
                        .any(|a| matches!(a.func, agg::AggFunc::First | agg::AggFunc::Last))
                        && !used.contains(&schema.ts_index)
                    {
                        used.push(schema.ts_index);
                    }
                }
                Work::Project { .. } => outputs.iter().for_each(|e| e.columns(&mut used)),
            }
            used.sort_unstable();
            let pos_of = |schema_pos: usize| {
                used.iter()
                    .position(|&u| u == schema_pos)
                    .expect("column was collected")
            };
            if let Some(f) = &mut filter {
                f.remap(&pos_of);
            }
            match &mut work {
                Work::Aggregate(spec) => {
                    spec.keys.iter_mut().for_each(|k| k.remap(&pos_of));
                    spec.aggs
                        .iter_mut()
                        .flat_map(|a| a.args.iter_mut())
                        .for_each(|e| e.remap(&pos_of));
                }
                Work::Project { .. } => outputs.iter_mut().for_each(|e| e.remap(&pos_of)),
            }
            *ts_column = used.iter().position(|&u| u == schema.ts_index);
            *columns = used;
        }
        let unordered_limit = (order_by.is_empty() && !distinct && !is_aggregate)
            .then(|| limit.map(|l| l.saturating_add(offset)))
            .flatten();
        let finish = if finish_projection {
            Finish {
                having,
                projection: Some(outputs),
                names,
                distinct,
                order_by: order,
                offset,
                limit,
            }
        } else {
            let top = match (order.first(), limit) {
                (Some(k), Some(l)) if !distinct => Some(TopN {
                    expr: k.column,
                    asc: k.asc,
                    n: l.saturating_add(offset),
                })
                .filter(|_| !k.nulls_first),
                _ => None,
            };
            work = Work::Project {
                exprs: outputs,
                limit: unordered_limit,
                top,
            };
            Finish {
                having: None,
                projection: None,
                names,
                distinct,
                order_by: order,
                offset,
                limit,
            }
        };
        Ok(SelectPlan {
            source,
            filter,
            work,
            finish,
            output_types,
            limits: self.limits,
        })
    }

    /// Binds ORDER BY: output aliases and select-list expressions refer to output columns;
    /// anything else becomes a hidden output column appended to `outputs`.
    fn order_keys(
        &self,
        order_by: &[ast::OrderByExpr],
        scope: &Scope,
        names: &[String],
        items: &[(String, ast::Expr)],
        outputs: &mut Vec<Expr>,
        resolver: &mut dyn Resolver,
    ) -> Result<Vec<OrderKey>> {
        let mut keys = Vec::new();
        for o in order_by {
            let asc = o.options.asc.unwrap_or(true);
            // ClickHouse puts NULLs last by default in both directions.
            let nulls_first = o.options.nulls_first.unwrap_or(false);
            let column = match &o.expr {
                ast::Expr::Identifier(id) if names.contains(&id.value) => names
                    .iter()
                    .position(|n| *n == id.value)
                    .expect("contained"),
                ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                    let pos = literal(&v.value)?.as_i64().unwrap_or(0);
                    if pos < 1 || pos as usize > names.len() {
                        return Err(SqlError::BadArguments(format!(
                            "ORDER BY position {pos} is out of range"
                        )));
                    }
                    pos as usize - 1
                }
                e => match items.iter().position(|(_, ie)| ie == e) {
                    Some(i) => i,
                    None => {
                        let bound = fold(self.expr(e, scope, resolver)?)?;
                        match outputs.iter().position(|x| *x == bound) {
                            Some(i) => i,
                            None => {
                                outputs.push(bound);
                                outputs.len() - 1
                            }
                        }
                    }
                },
            };
            keys.push(OrderKey {
                column,
                asc,
                nulls_first,
            });
        }
        Ok(keys)
    }

    fn contains_aggregate(&self, e: &ast::Expr, scope: &Scope) -> bool {
        let mut found = false;
        let _ = ast::visit_expressions(e, |x| {
            if let ast::Expr::Function(f) = x {
                let name = object_name(&f.name);
                if self.aggregate_call(&f, &name, scope).is_some() {
                    found = true;
                    return std::ops::ControlFlow::Break(());
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        found
    }

    /// Binds `f` as an aggregate call if its name is an aggregate function.
    fn aggregate_call(
        &self,
        f: &ast::Function,
        name: &str,
        scope: &Scope,
    ) -> Option<Result<AggCall>> {
        let lower = name.to_ascii_lowercase();
        let is_agg = agg::bind(&lower, &[], Vec::new(), false).is_some() || lower == "count";
        if !is_agg {
            return None;
        }
        Some((|| {
            let params: Vec<Value> = match &f.parameters {
                ast::FunctionArguments::List(l) => l
                    .args
                    .iter()
                    .map(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                            self.expr(e, &Scope::empty(), &mut NoAgg)?.eval_constant()
                        }
                        _ => Err(SqlError::Syntax("bad aggregate parameter".into())),
                    })
                    .collect::<Result<_>>()?,
                _ => Vec::new(),
            };
            let (args, distinct) = self.function_args(f, scope, &mut NoAgg)?;
            if args
                .iter()
                .any(|a| matches!(a, Expr::Literal(Value::Null, _)))
                && lower == "count"
            {
                return Ok(AggCall {
                    func: agg::AggFunc::Count,
                    args,
                    ty: DataType::UINT64,
                });
            }
            let mut call = agg::bind(&lower, &params, args, distinct).expect("is an aggregate")?;
            if matches!(call.func, agg::AggFunc::First | agg::AggFunc::Last) {
                if let Some(ts) = scope.ts {
                    call.args.push(Expr::Column {
                        index: ts,
                        ty: scope.columns[ts].1,
                    });
                }
            }
            Ok(call)
        })())
    }

    /// Arguments of a function call; `*` gives no arguments (count(*)).
    fn function_args(
        &self,
        f: &ast::Function,
        scope: &Scope,
        r: &mut dyn Resolver,
    ) -> Result<(Vec<Expr>, bool)> {
        match &f.args {
            ast::FunctionArguments::None => Ok((Vec::new(), false)),
            ast::FunctionArguments::Subquery(_) => Err(SqlError::Unsupported(
                "subquery as a function argument".into(),
            )),
            ast::FunctionArguments::List(l) => {
                let distinct = matches!(
                    l.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut out = Vec::new();
                for a in &l.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                            out.push(self.expr(e, scope, r)?)
                        }
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => {}
                        _ => return Err(SqlError::Unsupported(format!("argument {a}"))),
                    }
                }
                Ok((out, distinct))
            }
        }
    }

    /// Binds a scalar expression over `scope`.
    fn expr(&self, e: &ast::Expr, scope: &Scope, r: &mut dyn Resolver) -> Result<Expr> {
        if let Some(res) = r.resolve(self, e) {
            return res;
        }
        use ast::Expr as A;
        Ok(match e {
            A::Identifier(id) => self.column(&id.value, None, scope)?,
            A::CompoundIdentifier(parts) => {
                let name = &parts.last().expect("non-empty").value;
                let qual = parts[..parts.len() - 1].last().map(|p| p.value.as_str());
                self.column(name, qual, scope)?
            }
            A::Value(v) => {
                // ClickHouse types an integer literal by the smallest type that holds it.
                let v = literal(&v.value)?;
                let ty = DataType::of_int_literal(&v);
                Expr::Literal(v, ty)
            }
            A::Nested(inner) => self.expr(inner, scope, r)?,
            A::BinaryOp { left, op, right } => {
                let l = self.expr(left, scope, r)?;
                let rr = self.expr(right, scope, r)?;
                let op = match op {
                    ast::BinaryOperator::Plus => BinOp::Add,
                    ast::BinaryOperator::Minus => BinOp::Sub,
                    ast::BinaryOperator::Multiply => BinOp::Mul,
                    ast::BinaryOperator::Divide => BinOp::Div,
                    ast::BinaryOperator::Modulo => BinOp::Mod,
                    ast::BinaryOperator::Eq => BinOp::Eq,
                    ast::BinaryOperator::NotEq => BinOp::NotEq,
                    ast::BinaryOperator::Lt => BinOp::Lt,
                    ast::BinaryOperator::LtEq => BinOp::LtEq,
                    ast::BinaryOperator::Gt => BinOp::Gt,
                    ast::BinaryOperator::GtEq => BinOp::GtEq,
                    ast::BinaryOperator::And => BinOp::And,
                    ast::BinaryOperator::Or => BinOp::Or,
                    ast::BinaryOperator::StringConcat => {
                        return Ok(Expr::Func {
                            func: Func::Concat,
                            ty: DataType::STRING.nullable(l.ty().nullable || rr.ty().nullable),
                            args: vec![l, rr],
                        })
                    }
                    other => return Err(SqlError::Unsupported(format!("operator {other}"))),
                };
                let (mut l, mut rr) = coerce_comparison(op, l, rr)?;
                // Time arithmetic as ClickHouse: DateTime64 ± integer counts seconds (an INTERVAL
                // is already in ns), DateTime64 - DateTime64 is seconds as Float64.
                let is_dt = |e: &Expr| e.ty().base == BaseType::DateTime64;
                let is_int = |e: &Expr| e.ty().base.is_int();
                let seconds = |e: Expr| {
                    let ty = DataType::INT64.nullable(e.ty().nullable);
                    Expr::Binary {
                        op: BinOp::Mul,
                        left: Box::new(e),
                        right: Box::new(Expr::literal(Value::Int(NS_PER_SECOND))),
                        ty,
                    }
                };
                if matches!(op, BinOp::Add | BinOp::Sub) {
                    if is_dt(&l) && is_dt(&rr) && op == BinOp::Sub {
                        let nullable = l.ty().nullable || rr.ty().nullable;
                        let diff = Expr::Binary {
                            op: BinOp::Sub,
                            left: Box::new(l),
                            right: Box::new(rr),
                            ty: DataType::INT64.nullable(nullable),
                        };
                        return Ok(Expr::Binary {
                            op: BinOp::Div,
                            left: Box::new(diff),
                            right: Box::new(Expr::literal(Value::Float(NS_PER_SECOND as f64))),
                            ty: DataType::FLOAT64.nullable(nullable),
                        });
                    }
                    if is_dt(&l) && is_int(&rr) && !matches!(**right, A::Interval(_)) {
                        rr = seconds(rr);
                    } else if op == BinOp::Add
                        && is_int(&l)
                        && is_dt(&rr)
                        && !matches!(**left, A::Interval(_))
                    {
                        l = seconds(l);
                    }
                }
                let ty = binary_type(op, l.ty(), rr.ty())?;
                Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(rr),
                    ty,
                }
            }
            A::UnaryOp { op, expr } => {
                let inner = self.expr(expr, scope, r)?;
                match op {
                    ast::UnaryOperator::Not => Expr::Not(Box::new(inner)),
                    ast::UnaryOperator::Minus => {
                        if let Expr::Literal(v, lit_ty) = &inner {
                            // `-1` is a literal of its own (Int8); the negation of another
                            // constant, such as `-toUInt8(1)`, has the type `-x` has.
                            let is_plain_literal = matches!(**expr, A::Value(_));
                            if !is_plain_literal && lit_ty.base.is_int() {
                                let ty = crate::expr::neg_type(*lit_ty);
                                return fold(Expr::Neg(Box::new(inner), ty));
                            }
                            let neg = match v {
                                Value::Int(x) => Value::Int(-x),
                                Value::UInt(x) if *x == 1u64 << 63 => Value::Int(i64::MIN),
                                Value::UInt(x) => Value::Float(-(*x as f64)),
                                Value::Float(x) => Value::Float(-x),
                                _ => {
                                    return Err(SqlError::Type("cannot negate a non-number".into()))
                                }
                            };
                            let ty = DataType::of_int_literal(&neg);
                            return Ok(Expr::Literal(neg, ty));
                        }
                        let ty = crate::expr::neg_type(inner.ty());
                        Expr::Neg(Box::new(inner), ty)
                    }
                    ast::UnaryOperator::Plus => inner,
                    other => return Err(SqlError::Unsupported(format!("operator {other}"))),
                }
            }
            A::IsNull(x) => Expr::IsNull {
                expr: Box::new(self.expr(x, scope, r)?),
                negated: false,
            },
            A::IsNotNull(x) => Expr::IsNull {
                expr: Box::new(self.expr(x, scope, r)?),
                negated: true,
            },
            A::InList {
                expr,
                list,
                negated,
            } => {
                let inner = self.expr(expr, scope, r)?;
                let mut values = Vec::new();
                for item in list {
                    let b = fold(self.expr(item, scope, r)?)?;
                    match b {
                        Expr::Literal(v, _) => values.push(coerce_literal(v, inner.ty())),
                        _ => {
                            return Err(SqlError::Unsupported(
                                "IN with non-constant list items".into(),
                            ))
                        }
                    }
                }
                Expr::InList {
                    expr: Box::new(inner),
                    list: values,
                    negated: *negated,
                }
            }
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.expr(expr, scope, r)?;
                let (lo_l, lo_r) =
                    coerce_comparison(BinOp::GtEq, x.clone(), self.expr(low, scope, r)?)?;
                let (hi_l, hi_r) = coerce_comparison(BinOp::LtEq, x, self.expr(high, scope, r)?)?;
                let nullable = lo_l.ty().nullable || lo_r.ty().nullable || hi_r.ty().nullable;
                let both = Expr::Binary {
                    op: BinOp::And,
                    left: Box::new(Expr::Binary {
                        op: BinOp::GtEq,
                        left: Box::new(lo_l),
                        right: Box::new(lo_r),
                        ty: DataType::BOOL.nullable(nullable),
                    }),
                    right: Box::new(Expr::Binary {
                        op: BinOp::LtEq,
                        left: Box::new(hi_l),
                        right: Box::new(hi_r),
                        ty: DataType::BOOL.nullable(nullable),
                    }),
                    ty: DataType::BOOL.nullable(nullable),
                };
                if *negated {
                    Expr::Not(Box::new(both))
                } else {
                    both
                }
            }
            A::Like {
                negated,
                expr,
                pattern,
                ..
            }
            | A::ILike {
                negated,
                expr,
                pattern,
                ..
            } => {
                let p = fold(self.expr(pattern, scope, r)?)?;
                let Expr::Literal(Value::Str(p), _) = p else {
                    return Err(SqlError::Unsupported(
                        "LIKE with a non-constant pattern".into(),
                    ));
                };
                Expr::Like {
                    expr: Box::new(self.expr(expr, scope, r)?),
                    pattern: p,
                    negated: *negated,
                    case_insensitive: matches!(e, A::ILike { .. }),
                }
            }
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand = operand
                    .as_ref()
                    .map(|o| self.expr(o, scope, r))
                    .transpose()?
                    .map(Box::new);
                let mut whens = Vec::new();
                let mut tys = Vec::new();
                for c in conditions {
                    let w = self.expr(&c.condition, scope, r)?;
                    let t = self.expr(&c.result, scope, r)?;
                    tys.push(t.ty());
                    whens.push((w, t));
                }
                let otherwise = else_result
                    .as_ref()
                    .map(|x| self.expr(x, scope, r))
                    .transpose()?;
                match &otherwise {
                    Some(o) => tys.push(o.ty()),
                    None => tys.push(DataType::NULL),
                }
                Expr::Case {
                    operand,
                    whens,
                    otherwise: otherwise.map(Box::new),
                    ty: common_type(&tys),
                }
            }
            A::Cast {
                expr, data_type, ..
            } => {
                let ty = cast_type(data_type)?;
                Expr::Cast(Box::new(self.expr(expr, scope, r)?), ty)
            }
            A::Interval(iv) => Expr::literal(Value::Int(self.interval_ns(iv)?)),
            A::Floor { expr, .. } | A::Ceil { expr, .. } => {
                let x = self.expr(expr, scope, r)?;
                let func = if matches!(e, A::Floor { .. }) {
                    Func::Floor
                } else {
                    Func::Ceil
                };
                let ty = x.ty();
                Expr::Func {
                    func,
                    args: vec![x],
                    ty,
                }
            }
            A::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(expr, scope, r)?];
                args.push(match substring_from {
                    Some(f) => self.expr(f, scope, r)?,
                    None => Expr::literal(Value::Int(1)),
                });
                if let Some(f) = substring_for {
                    args.push(self.expr(f, scope, r)?);
                }
                Expr::Func {
                    func: Func::Substring,
                    ty: DataType::STRING.nullable(args[0].ty().nullable),
                    args,
                }
            }
            A::TypedString(ts) => {
                let s = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                match ts.data_type {
                    ast::DataType::Timestamp(..)
                    | ast::DataType::Datetime(_)
                    | ast::DataType::Datetime64(..)
                    | ast::DataType::Date => {
                        Expr::literal(Value::Ts(parse_datetime(&s).ok_or_else(|| {
                            SqlError::Type(format!("Cannot parse DateTime from '{s}'"))
                        })?))
                    }
                    _ => Expr::Cast(
                        Box::new(Expr::literal(Value::Str(s))),
                        cast_type(&ts.data_type)?,
                    ),
                }
            }
            A::Function(f) => self.function(f, scope, r)?,
            A::Tuple(items) if items.len() == 1 => self.expr(&items[0], scope, r)?,
            A::Subquery(_) | A::InSubquery { .. } | A::Exists { .. } => {
                return Err(SqlError::Unsupported("subqueries in expressions".into()))
            }
            other => return Err(SqlError::Unsupported(format!("expression {other}"))),
        })
    }

    fn interval_ns(&self, iv: &ast::Interval) -> Result<i64> {
        let v = self
            .expr(&iv.value, &Scope::empty(), &mut NoAgg)?
            .eval_constant()?;
        // `INTERVAL '5 minute'` carries the unit in the string.
        let (n, unit) = match (&v, &iv.leading_field) {
            (Value::Str(s), None) => {
                let mut it = s.split_whitespace();
                let n: f64 = it
                    .next()
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| SqlError::Syntax(format!("bad interval '{s}'")))?;
                (n, it.next().unwrap_or("second").to_ascii_lowercase())
            }
            (_, field) => {
                let n = v
                    .as_f64()
                    .ok_or_else(|| SqlError::Syntax("INTERVAL needs a number".into()))?;
                let unit = field
                    .as_ref()
                    .map_or("second".to_string(), |f| f.to_string().to_ascii_lowercase());
                (n, unit)
            }
        };
        let unit_ns = unit_ns(unit.trim_end_matches('s'))?;
        Ok((n * unit_ns as f64) as i64)
    }

    fn column(&self, name: &str, qualifier: Option<&str>, scope: &Scope) -> Result<Expr> {
        if let Some(q) = qualifier {
            if !scope.qualifiers.iter().any(|x| x == q) && q != "default" {
                return Err(SqlError::UnknownColumn {
                    column: format!("{q}.{name}"),
                    relation: scope.relation.clone(),
                    hint: String::new(),
                });
            }
        }
        match scope.lookup(name) {
            Some(i) => Ok(Expr::Column {
                index: i,
                ty: scope.columns[i].1,
            }),
            None => Err(unknown_column(
                name,
                &scope.relation,
                scope.columns.iter().map(|(n, _)| n.as_str()),
            )),
        }
    }

    fn function(&self, f: &ast::Function, scope: &Scope, r: &mut dyn Resolver) -> Result<Expr> {
        let name = object_name(&f.name);
        let lower = name.to_ascii_lowercase();
        if f.over.is_some() {
            return Err(SqlError::Unsupported("window functions".into()));
        }
        if self.aggregate_call(&f, &name, scope).is_some() {
            return Err(SqlError::coded(
                184,
                "ILLEGAL_AGGREGATION",
                format!("Aggregate function {name} is found in a place where aggregates are not allowed (WHERE or GROUP BY)"),
            ));
        }
        // Facts about the server, and time.
        let info = self.info;
        let constant = match lower.as_str() {
            "version" => Some(Value::Str(info.version.clone())),
            "timezone" | "servertimezone" => Some(Value::Str(info.timezone.clone())),
            "currentdatabase" | "database" => Some(Value::Str("default".into())),
            "displayname" | "hostname" | "fqdn" => Some(Value::Str(info.display_name.clone())),
            "revision" => Some(Value::Int(info.revision as i64)),
            "currentuser" | "user" => Some(Value::Str("default".into())),
            "uptime" => Some(Value::Int(info.uptime_s as i64)),
            "now" | "now64" | "current_timestamp" => Some(Value::Ts(if lower == "now" {
                info.now_ns - info.now_ns.rem_euclid(NS_PER_SECOND)
            } else {
                info.now_ns
            })),
            "today" => Some(Value::Ts(
                info.now_ns - info.now_ns.rem_euclid(86_400 * NS_PER_SECOND),
            )),
            _ => None,
        };
        if let Some(v) = constant {
            // As ClickHouse, revision() and uptime() are UInt32 (clickhouse-go scans the
            // revision into a uint32).
            if matches!(lower.as_str(), "revision" | "uptime") {
                return Ok(Expr::Literal(v, DataType::UINT32));
            }
            return Ok(Expr::literal(v));
        }
        let (mut args, distinct) = self.function_args(f, scope, r)?;
        if distinct {
            return Err(SqlError::Unsupported(format!(
                "{name}(DISTINCT ...) outside aggregates"
            )));
        }
        // Time bucketing, all of which are xbar with a constant step.
        let bucket = |ns: i64, args: Vec<Expr>| -> Result<Expr> {
            let ts = args
                .into_iter()
                .next()
                .ok_or_else(|| SqlError::Type(format!("{name} needs a timestamp argument")))?;
            // A string argument (`toDate('2024-01-02')`) is parsed as a date-time first.
            let ts = if ts.ty().base == BaseType::String {
                let nullable = ts.ty().nullable;
                Expr::Func {
                    func: Func::ToDateTime,
                    args: vec![ts],
                    ty: DataType::DATETIME64.nullable(nullable),
                }
            } else {
                ts
            };
            let ty = DataType::DATETIME64.nullable(ts.ty().nullable);
            const DAY: i64 = 86_400 * NS_PER_SECOND;
            // ClickHouse aligns weeks to Monday and hour steps that do not divide a day to
            // midnight; everything else is aligned to the epoch.
            let func = if ns % (7 * DAY) == 0 {
                Func::XbarOffset(4 * DAY)
            } else if ns >= 3600 * NS_PER_SECOND && ns < DAY && DAY % ns != 0 {
                Func::XbarInDay
            } else {
                Func::Xbar
            };
            Ok(Expr::Func {
                func,
                args: vec![ts, Expr::literal(Value::Int(ns))],
                ty,
            })
        };
        let fixed = match lower.as_str() {
            "tostartofsecond" => Some(NS_PER_SECOND),
            "tostartofminute" => Some(60 * NS_PER_SECOND),
            "tostartoffiveminutes" | "tostartoffiveminute" => Some(300 * NS_PER_SECOND),
            "tostartoftenminutes" => Some(600 * NS_PER_SECOND),
            "tostartoffifteenminutes" => Some(900 * NS_PER_SECOND),
            "tostartofhour" => Some(3600 * NS_PER_SECOND),
            "tostartofday" | "todate" => Some(86_400 * NS_PER_SECOND),
            _ => None,
        };
        if let Some(ns) = fixed {
            if args.is_empty() || args.len() > 2 {
                return Err(SqlError::Type(format!(
                    "{name} takes a timestamp (and an optional time zone)"
                )));
            }
            return bucket(ns, args);
        }
        if lower == "tostartofinterval" || lower == "time_bucket" {
            if args.len() < 2 {
                return Err(SqlError::Type(format!(
                    "{name} takes a timestamp and an INTERVAL"
                )));
            }
            let (ts, step) = if lower == "time_bucket" {
                (args.remove(1), args.remove(0))
            } else {
                (args.remove(0), args.remove(0))
            };
            let ns = fold(step)?
                .eval_constant()?
                .as_i64()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    SqlError::BadArguments(format!("{name} needs a positive INTERVAL"))
                })?;
            return bucket(ns, vec![ts]);
        }
        if lower == "date_trunc" || lower == "datetrunc" {
            if args.len() < 2 {
                return Err(SqlError::Type(
                    "date_trunc takes a unit and a timestamp".into(),
                ));
            }
            let unit = match fold(args.remove(0))? {
                Expr::Literal(Value::Str(u), _) => u.to_ascii_lowercase(),
                _ => {
                    return Err(SqlError::BadArguments(
                        "date_trunc needs a constant unit".into(),
                    ))
                }
            };
            return bucket(unit_ns(&unit)?, args);
        }
        // ClickHouse's toDateTime(x, 'tz') and friends: the time zone argument must be UTC.
        if matches!(lower.as_str(), "todatetime" | "todatetime64") {
            let tz_at = if lower == "todatetime" { 1 } else { 2 };
            if args.len() > tz_at {
                if let Ok(Value::Str(tz)) = args[tz_at].eval_constant() {
                    if !matches!(tz.as_str(), "UTC" | "Etc/UTC" | "GMT" | "Z") {
                        return Err(SqlError::Unsupported(format!(
                            "time zone '{tz}' (Ronto works in UTC)"
                        )));
                    }
                }
                args.truncate(tz_at);
            }
        }
        if lower == "totypename" {
            if args.len() != 1 {
                return Err(SqlError::Type("toTypeName takes 1 argument".into()));
            }
            return Ok(Expr::literal(Value::Str(args[0].ty().clickhouse_name())));
        }
        match functions::bind(&name, &args) {
            Some(res) => {
                let (func, ty) = res?;
                let e = Expr::Func { func, args, ty };
                Ok(if e.is_constant() { fold(e)? } else { e })
            }
            None => Err(SqlError::UnknownFunction(name)),
        }
    }
}

fn unit_ns(unit: &str) -> Result<i64> {
    Ok(match unit {
        "nanosecond" | "ns" => 1,
        "microsecond" | "us" => 1_000,
        "millisecond" | "ms" => 1_000_000,
        "second" | "s" => NS_PER_SECOND,
        "minute" | "m" => 60 * NS_PER_SECOND,
        "hour" | "h" => 3600 * NS_PER_SECOND,
        "day" | "d" => 86_400 * NS_PER_SECOND,
        "week" | "w" => 7 * 86_400 * NS_PER_SECOND,
        other => {
            return Err(SqlError::Unsupported(format!(
                "interval unit {other} (months and years vary in length)"
            )))
        }
    })
}

/// A literal from the AST.
fn literal(v: &ast::Value) -> Result<Value> {
    Ok(match v {
        ast::Value::Number(s, _) => {
            if let Ok(i) = s.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(u) = s.parse::<u64>() {
                Value::UInt(u)
            } else {
                Value::Float(
                    s.parse()
                        .map_err(|_| SqlError::Syntax(format!("bad number {s}")))?,
                )
            }
        }
        ast::Value::SingleQuotedString(s)
        | ast::Value::DoubleQuotedString(s)
        | ast::Value::EscapedStringLiteral(s) => Value::Str(s.clone()),
        ast::Value::Boolean(b) => Value::Bool(*b),
        ast::Value::Null => Value::Null,
        other => return Err(SqlError::Unsupported(format!("literal {other}"))),
    })
}

/// Converts a literal to the type it is compared with (strings to timestamps, numbers to
/// timestamps in ns), so comparisons and pruning see matching types.
fn coerce_literal(v: Value, target: DataType) -> Value {
    match (target.base, &v) {
        (BaseType::DateTime64, Value::Str(s)) => parse_datetime(s).map_or(v, Value::Ts),
        (BaseType::DateTime64, Value::Int(x)) => Value::Ts(*x),
        (BaseType::Float64, Value::Int(x)) => Value::Float(*x as f64),
        _ => v,
    }
}

fn coerce_comparison(op: BinOp, l: Expr, r: Expr) -> Result<(Expr, Expr)> {
    if !op.is_comparison() {
        return Ok((l, r));
    }
    let fix = |lit: Expr, other: &Expr| -> Result<Expr> {
        match lit {
            Expr::Literal(v, _) => {
                let target = other.ty();
                if target.base == BaseType::DateTime64 {
                    if let Value::Str(s) = &v {
                        let ts = parse_datetime(s).ok_or_else(|| {
                            SqlError::coded(
                                41,
                                "CANNOT_PARSE_DATETIME",
                                format!("Cannot parse DateTime from String '{s}'"),
                            )
                        })?;
                        return Ok(Expr::literal(Value::Ts(ts)));
                    }
                }
                {
                    if target.is_numeric() && target.base != BaseType::Bool {
                        if let Value::Str(s) = &v {
                            // ClickHouse converts a string literal to the number it is compared with.
                            let t = s.trim();
                            let n = t
                                .parse::<i64>()
                                .map(Value::Int)
                                .or_else(|_| t.parse::<f64>().map(Value::Float))
                                .map_err(|_| {
                                    SqlError::coded(
                                        6,
                                        "CANNOT_PARSE_TEXT",
                                        format!("Cannot parse '{s}' as {target}"),
                                    )
                                })?;
                            return Ok(Expr::literal(coerce_literal(n, target)));
                        }
                    }
                }
                Ok(Expr::literal(coerce_literal(v, target)))
            }
            e => Ok(e),
        }
    };
    let l2 = if matches!(l, Expr::Literal(..)) {
        fix(l, &r)?
    } else {
        l
    };
    let r2 = if matches!(r, Expr::Literal(..)) {
        fix(r, &l2)?
    } else {
        r
    };
    let (lt, rt) = (l2.ty(), r2.ty());
    let stringy = |t: DataType| t.base == BaseType::String;
    if lt.base != BaseType::Nothing
        && rt.base != BaseType::Nothing
        && stringy(lt) != stringy(rt)
        && !(lt.base == BaseType::DateTime64 || rt.base == BaseType::DateTime64)
    {
        return Err(SqlError::coded(
            386,
            "NO_COMMON_TYPE",
            format!(
                "Illegal types of arguments ({lt}, {rt}) of function {}: there is no common type",
                op.symbol()
            ),
        ));
    }
    Ok((l2, r2))
}

/// Folds every column-free subtree into a literal.
pub fn fold(e: Expr) -> Result<Expr> {
    if matches!(e, Expr::Literal(..) | Expr::Column { .. }) {
        return Ok(e);
    }
    if e.is_constant() {
        let ty = e.ty();
        let v = e.eval_constant()?;
        return Ok(Expr::Literal(v, ty));
    }
    Ok(match e {
        Expr::Binary {
            op,
            left,
            right,
            ty,
        } => Expr::Binary {
            op,
            left: Box::new(fold(*left)?),
            right: Box::new(fold(*right)?),
            ty,
        },
        Expr::Not(x) => Expr::Not(Box::new(fold(*x)?)),
        other => other,
    })
}

/// Splits top-level AND conjuncts of a table filter into key and time pruning plus a residual.
fn extract_pruning(filter: Expr, schema: &TableSchema) -> (Option<Expr>, KeyFilter, i64, i64) {
    let mut conjuncts = Vec::new();
    split_and(filter, &mut conjuncts);
    let mut keys = KeyFilter::All;
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    let mut residual = Vec::new();
    for c in conjuncts {
        if let Some(k) = key_predicate(&c, schema) {
            if keys == KeyFilter::All {
                keys = k;
                continue;
            }
        }
        if let Some((op, v)) = ts_predicate(&c, schema) {
            match op {
                BinOp::Eq => {
                    lo = lo.max(v);
                    hi = hi.min(v);
                }
                BinOp::Gt => lo = lo.max(v.saturating_add(1)),
                BinOp::GtEq => lo = lo.max(v),
                BinOp::Lt => hi = hi.min(v.saturating_sub(1)),
                BinOp::LtEq => hi = hi.min(v),
                _ => unreachable!("filtered"),
            }
            continue;
        }
        residual.push(c);
    }
    let residual = residual.into_iter().reduce(|a, b| Expr::Binary {
        op: BinOp::And,
        left: Box::new(a),
        right: Box::new(b),
        ty: DataType::BOOL.or_null(),
    });
    (residual, keys, lo, hi)
}

fn split_and(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            split_and(*left, out);
            split_and(*right, out);
        }
        other => out.push(other),
    }
}

fn key_predicate(e: &Expr, schema: &TableSchema) -> Option<KeyFilter> {
    let key = schema.key_index;
    let is_key = |x: &Expr| matches!(x, Expr::Column { index, .. } if *index == key);
    let to_filter = |vals: Vec<&Value>| -> Option<KeyFilter> {
        if vals.iter().all(|v| matches!(v, Value::Str(_)))
            && schema.key_type() == ColumnType::Symbol
        {
            Some(KeyFilter::Symbols(
                vals.iter()
                    .map(|v| {
                        if let Value::Str(s) = v {
                            s.clone()
                        } else {
                            unreachable!()
                        }
                    })
                    .collect(),
            ))
        } else if vals
            .iter()
            .all(|v| matches!(v, Value::Int(_) | Value::UInt(_)))
            && schema.key_type() != ColumnType::Symbol
        {
            Some(KeyFilter::Ints(
                vals.iter()
                    .filter_map(|v| {
                        v.as_i64().or(if let Value::UInt(u) = v {
                            Some(*u as i64)
                        } else {
                            None
                        })
                    })
                    .collect(),
            ))
        } else {
            None
        }
    };
    match e {
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => match (&**left, &**right) {
            (l, Expr::Literal(v, _)) if is_key(l) => to_filter(vec![v]),
            (Expr::Literal(v, _), r) if is_key(r) => to_filter(vec![v]),
            _ => None,
        },
        Expr::InList {
            expr,
            list,
            negated: false,
        } if is_key(expr) && !list.is_empty() => to_filter(list.iter().collect()),
        _ => None,
    }
}

fn ts_predicate(e: &Expr, schema: &TableSchema) -> Option<(BinOp, i64)> {
    let ts = schema.ts_index;
    let Expr::Binary {
        op, left, right, ..
    } = e
    else {
        return None;
    };
    if !matches!(
        op,
        BinOp::Eq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
    ) {
        return None;
    }
    let val = |v: &Value| match v {
        Value::Ts(x) | Value::Int(x) => Some(*x),
        Value::Str(s) => parse_datetime(s),
        _ => None,
    };
    match (&**left, &**right) {
        (Expr::Column { index, .. }, Expr::Literal(v, _)) if *index == ts => Some((*op, val(v)?)),
        (Expr::Literal(v, _), Expr::Column { index, .. }) if *index == ts => {
            Some((op.flip(), val(v)?))
        }
        _ => None,
    }
}

/// ClickHouse-style default column name for an unaliased expression.
fn expr_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => id.value.clone(),
        ast::Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        _ => e
            .to_string()
            .replace("count(*)", "count()")
            .replace("COUNT(*)", "count()"),
    }
}
