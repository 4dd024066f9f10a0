//! Driving a query end to end: fragments fanned out to shards through a `ShardRunner`, then
//! merged; plus the statement helpers (INSERT batches, DESCRIBE, SHOW, EXPLAIN) and the
//! in-process `Database` over N shards used by tests and benchmarks.

use std::cell::RefCell;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use storage::{
    shard_of_int, shard_of_symbol, Batch, Bitmap, ColumnBuf, ColumnType, Shard, ShardConfig,
    StrValues, TableSchema, Values,
};

use crate::error::{Result, SqlError};
use crate::exec::{
    concat_rows, finish_groups, merge_groups, Fragment, FragmentStats, Groups, KeyFilter, Partial,
    Pipeline, QueryLimits, Work,
};
use crate::expr::convert_value;
use crate::plan::{plan, InsertSource, SelectPlan, ServerInfo, Source, Statement};
use crate::types::{Column, DataType, ResultSet, Value};
use crate::vector::Col;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Runs fragments on shards. The engine implements it over its SPSC mesh; [`Database`]
/// implements it in process.
pub trait ShardRunner {
    fn shard_count(&self) -> usize;
    fn run_fragment(
        &self,
        shard: usize,
        fragment: Arc<Fragment>,
    ) -> BoxFuture<'_, Result<(Partial, FragmentStats)>>;
}

/// What a query read, for `X-ClickHouse-Summary` and JSON statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    pub rows_read: u64,
    pub bytes_read: u64,
    pub blocks_read: u64,
    pub blocks_pruned: u64,
    pub shards: u64,
    /// With a LIMIT or OFFSET: the rows the query had before them, ClickHouse's
    /// `rows_before_limit_at_least` (exact unless a LIMIT without ORDER BY stopped a scan early,
    /// then a lower bound).
    pub rows_before_limit: Option<u64>,
    /// Rows that passed the filters of projecting fragments (see `FragmentStats::rows_matched`).
    pub rows_matched: u64,
}

impl QueryStats {
    fn add(&mut self, f: &FragmentStats) {
        self.rows_read += f.rows_read;
        self.bytes_read += f.bytes_read;
        self.blocks_read += f.blocks_read;
        self.blocks_pruned += f.blocks_pruned;
        self.rows_matched += f.rows_matched;
        self.shards += 1;
    }
}

/// The shards a key filter can touch.
pub fn shards_for(keys: &KeyFilter, shard_count: usize) -> Vec<usize> {
    let mut s: Vec<usize> = match keys {
        KeyFilter::All => (0..shard_count).collect(),
        KeyFilter::Symbols(v) => v
            .iter()
            .map(|s| shard_of_symbol(s.as_bytes(), shard_count))
            .collect(),
        KeyFilter::Ints(v) => v
            .iter()
            .map(|&k| shard_of_int(k as u64, shard_count))
            .collect(),
    };
    s.sort_unstable();
    s.dedup();
    s
}

/// Polls all futures concurrently; results in input order.
async fn join_all<T>(futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    struct JoinAll<'a, T> {
        futures: Vec<Option<BoxFuture<'a, T>>>,
        results: Vec<Option<T>>,
    }
    impl<T> Unpin for JoinAll<'_, T> {}
    impl<T> Future for JoinAll<'_, T> {
        type Output = Vec<T>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
            let this = self.get_mut();
            let mut pending = false;
            for (f, r) in this.futures.iter_mut().zip(this.results.iter_mut()) {
                if let Some(fut) = f {
                    match fut.as_mut().poll(cx) {
                        Poll::Ready(v) => {
                            *r = Some(v);
                            *f = None;
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(
                    this.results
                        .iter_mut()
                        .map(|r| r.take().expect("ready"))
                        .collect(),
                )
            }
        }
    }
    let n = futures.len();
    JoinAll {
        futures: futures.into_iter().map(Some).collect(),
        results: (0..n).map(|_| None).collect(),
    }
    .await
}

/// Runs a SELECT: fragments on the owning shards, then the merge.
pub fn execute_select<'a, R: ShardRunner>(
    plan: &'a SelectPlan,
    runner: &'a R,
) -> BoxFuture<'a, Result<(ResultSet, QueryStats)>> {
    Box::pin(async move {
        let mut stats = QueryStats::default();
        let partials: Vec<Partial> = match &plan.source {
            Source::Table {
                table,
                columns,
                ts_column,
                keys,
                ts_min,
                ts_max,
            } => {
                let fragment = Arc::new(Fragment {
                    table: table.clone(),
                    columns: columns.clone(),
                    ts_column: *ts_column,
                    keys: keys.clone(),
                    ts_min: *ts_min,
                    ts_max: *ts_max,
                    filter: plan.filter.clone(),
                    work: plan.work.clone(),
                    limits: plan.limits,
                });
                let shards = shards_for(keys, runner.shard_count());
                let futures = shards
                    .iter()
                    .map(|&s| runner.run_fragment(s, fragment.clone()))
                    .collect();
                let mut out = Vec::new();
                for r in join_all(futures).await {
                    let (p, st) = r?;
                    stats.add(&st);
                    out.push(p);
                }
                out
            }
            Source::Subquery(inner) => {
                let (rs, st) = execute_select(inner, runner).await?;
                stats = st;
                vec![run_local(plan, &rs)?]
            }
            Source::Union(parts) => {
                let mut results = Vec::new();
                for p in parts {
                    let (rs, st) = execute_select(p, runner).await?;
                    stats.rows_read += st.rows_read;
                    stats.bytes_read += st.bytes_read;
                    results.push(rs);
                }
                let types = plan.output_types.clone();
                let parts: Vec<Vec<Column>> = results.into_iter().map(|r| r.columns).collect();
                let cols = concat_rows(parts, &types, plan.limits)?;
                vec![run_local(plan, &ResultSet { columns: cols })?]
            }
            Source::Rows(rs) => vec![run_local(plan, rs)?],
            Source::One => {
                let mut pipeline = Pipeline::new(plan.filter.as_ref(), &plan.work, plan.limits);
                let _ = pipeline.push(&[], 1, None)?;
                vec![pipeline.finish()]
            }
        };
        let from_table = matches!(plan.source, Source::Table { .. });
        let (result, finish_rows) = merge_counted(plan, partials)?;
        let finish = &plan.finish;
        stats.rows_before_limit = (finish.limit.is_some() || finish.offset > 0).then(|| {
            // A projection over a table may have had its LIMIT (or top-N) pushed into the
            // fragments, which then return fewer rows than matched: count what matched.
            let pushed =
                from_table && matches!(plan.work, Work::Project { .. }) && !finish.distinct;
            if pushed {
                stats.rows_matched.max(finish_rows as u64)
            } else {
                finish_rows as u64
            }
        });
        Ok((result, stats))
    })
}

fn run_local(plan: &SelectPlan, rs: &ResultSet) -> Result<Partial> {
    let cols: Vec<Col<'_>> = rs.columns.iter().map(Col::from_result_column).collect();
    let mut pipeline = Pipeline::new(plan.filter.as_ref(), &plan.work, plan.limits);
    let _ = pipeline.push(&cols, rs.rows(), None)?;
    Ok(pipeline.finish())
}

/// Combines partials and applies HAVING, projection, DISTINCT, ORDER BY and LIMIT.
pub fn merge(plan: &SelectPlan, partials: Vec<Partial>) -> Result<ResultSet> {
    Ok(merge_counted(plan, partials)?.0)
}

/// `merge`, also returning the rows there were before OFFSET and LIMIT.
fn merge_counted(plan: &SelectPlan, partials: Vec<Partial>) -> Result<(ResultSet, usize)> {
    let input = match &plan.work {
        Work::Aggregate(spec) => {
            let groups: Vec<Groups> = partials
                .into_iter()
                .map(|p| match p {
                    Partial::Groups(g) => g,
                    Partial::Rows(_) => unreachable!("aggregate fragments return groups"),
                })
                .collect();
            finish_groups(spec, merge_groups(spec, groups, plan.limits)?)
        }
        Work::Project { exprs, .. } => {
            let types: Vec<DataType> = exprs.iter().map(|e| e.ty()).collect();
            let rows: Vec<Vec<Column>> = partials
                .into_iter()
                .map(|p| match p {
                    Partial::Rows(r) => r,
                    Partial::Groups(_) => unreachable!("projection fragments return rows"),
                })
                .collect();
            concat_rows(rows, &types, plan.limits)?
        }
    };
    plan.finish.apply_counted(input, plan.limits)
}

/// Converts one value for a storage column of type `ty`; `None` = NULL.
fn storage_value(v: &Value, ty: ColumnType, column: &str) -> Result<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    let target = DataType::from_column_type(ty);
    let c = convert_value(v.clone(), target);
    if c.is_null() {
        return Err(SqlError::Type(format!(
            "Cannot convert {} to {} for column '{column}'",
            crate::format_value(v),
            target
        )));
    }
    Ok(Some(c))
}

/// Builds a storage batch from literal rows (INSERT ... VALUES / SELECT).
pub fn rows_to_batch(
    schema: &TableSchema,
    columns: Option<&[String]>,
    rows: &[Vec<Value>],
) -> Result<Batch> {
    let names: Vec<String> = match columns {
        Some(c) => c.to_vec(),
        None => schema.columns.iter().map(|c| c.name.clone()).collect(),
    };
    let mut batch = Batch::new(schema.name.clone());
    for (ci, name) in names.iter().enumerate() {
        let pos = schema
            .column_index(name)
            .ok_or_else(|| SqlError::UnknownColumn {
                column: name.clone(),
                relation: format!("table {}", schema.name),
                hint: String::new(),
            })?;
        let ty = schema.columns[pos].ty;
        let mut values = Values::empty(match ty {
            ColumnType::Symbol => storage::Physical::Str,
            t => t.physical(),
        });
        let mut validity = Bitmap::new();
        for (ri, row) in rows.iter().enumerate() {
            let v = row.get(ci).ok_or_else(|| {
                SqlError::BadArguments(format!(
                    "row {} has {} values, expected {}",
                    ri + 1,
                    row.len(),
                    names.len()
                ))
            })?;
            let v = storage_value(v, ty, name)?;
            validity.push(v.is_some());
            match (&mut values, v) {
                (Values::I64(d), Some(Value::Int(x) | Value::Ts(x))) => d.push(x),
                (Values::U64(d), Some(Value::UInt(x))) => d.push(x),
                (Values::F64(d), Some(Value::Float(x))) => d.push(x),
                (Values::Bool(d), Some(Value::Bool(x))) => d.push(x as u8),
                (Values::Str(d), Some(Value::Str(s))) => d.push(s.as_bytes()),
                (vals, None) => vals.push_default(),
                (_, Some(other)) => {
                    return Err(SqlError::Type(format!(
                        "unexpected value {other:?} for column '{name}'"
                    )))
                }
            }
        }
        let data = if validity.null_count() > 0 {
            ColumnBuf::with_validity(values, validity)
        } else {
            ColumnBuf::new(values)
        };
        batch = batch.column(name.clone(), data);
    }
    if rows.len() != batch.rows() && !names.is_empty() {
        return Err(SqlError::BadArguments("row count mismatch".into()));
    }
    Ok(batch)
}

/// Splits a batch into one batch per owning shard (by the table's symbol column).
pub fn split_by_shard(
    schema: &TableSchema,
    batch: &Batch,
    shard_count: usize,
) -> Result<Vec<(usize, Batch)>> {
    if shard_count == 1 {
        return Ok(vec![(0, batch.clone())]);
    }
    let shard_of_row = owners(schema, batch, shard_count)?;
    Ok(split_rows(batch, &shard_of_row, shard_count))
}

/// [`split_by_shard`] for a batch the caller gives up: when every row has one owner (always,
/// with one shard) the batch itself is that shard's part, not a copy.
pub fn split_by_shard_owned(
    schema: &TableSchema,
    batch: Batch,
    shard_count: usize,
) -> Result<Vec<(usize, Batch)>> {
    if shard_count == 1 {
        return Ok(vec![(0, batch)]);
    }
    let shard_of_row = owners(schema, &batch, shard_count)?;
    match shard_of_row.first() {
        Some(&s) if shard_of_row.iter().all(|&o| o == s) => Ok(vec![(s, batch)]),
        _ => Ok(split_rows(&batch, &shard_of_row, shard_count)),
    }
}

/// The owning shard of each row of `batch`.
fn owners(schema: &TableSchema, batch: &Batch, shard_count: usize) -> Result<Vec<usize>> {
    let key_name = &schema.columns[schema.key_index].name;
    let key = batch
        .columns
        .iter()
        .find(|c| &c.name == key_name)
        .ok_or_else(|| {
            SqlError::BadArguments(format!(
                "missing required column '{key_name}' for table {}",
                schema.name
            ))
        })?;
    let rows = batch.rows();
    let shard_of_row: Vec<usize> = match &key.data.values {
        Values::Str(s) => (0..rows)
            .map(|i| shard_of_symbol(s.get(i), shard_count))
            .collect(),
        Values::Sym(codes) => {
            let per_code: Vec<usize> = batch
                .symbols
                .iter()
                .map(|s| shard_of_symbol(s.as_bytes(), shard_count))
                .collect();
            codes
                .iter()
                .map(|&c| per_code.get(c as usize).copied().unwrap_or(0))
                .collect()
        }
        Values::I64(v) => v
            .iter()
            .map(|&k| shard_of_int(k as u64, shard_count))
            .collect(),
        Values::U64(v) => v.iter().map(|&k| shard_of_int(k, shard_count)).collect(),
        _ => {
            return Err(SqlError::Type(format!(
                "symbol column '{key_name}' has an unsupported type"
            )))
        }
    };
    Ok(shard_of_row)
}

/// One batch per shard that owns rows, given each row's owner.
fn split_rows(batch: &Batch, shard_of_row: &[usize], shard_count: usize) -> Vec<(usize, Batch)> {
    let rows = batch.rows();
    let mut out = Vec::new();
    for s in 0..shard_count {
        let idx: Vec<u32> = (0..rows)
            .filter(|&r| shard_of_row[r] == s)
            .map(|r| r as u32)
            .collect();
        if idx.is_empty() {
            continue;
        }
        if idx.len() == rows {
            return vec![(s, batch.clone())];
        }
        let mut b = Batch::new(batch.table.clone());
        // Each part carries only the dictionary entries its own rows use, so a shard's symbol
        // dictionary never fills with other shards' symbols.
        let mut remap: Vec<Option<u32>> = vec![None; batch.symbols.len()];
        for c in &batch.columns {
            if let Values::Sym(codes) = &c.data.values {
                for &r in &idx {
                    let code = codes[r as usize] as usize;
                    if remap[code].is_none() {
                        remap[code] = Some(b.symbols.len() as u32);
                        b.symbols.push(batch.symbols[code].clone());
                    }
                }
            }
        }
        for c in &batch.columns {
            let mut col = ColumnBuf::empty(c.data.values.physical());
            col.gather_from(&c.data, &idx);
            if let Values::Sym(codes) = &mut col.values {
                for code in codes.iter_mut() {
                    *code = remap[*code as usize].expect("collected above");
                }
            }
            b = b.column(c.name.clone(), col);
        }
        out.push((s, b));
    }
    out
}

/// `DESCRIBE TABLE`: the seven columns clickhouse-connect reads.
pub fn describe(schema: &TableSchema) -> ResultSet {
    let names = [
        "name",
        "type",
        "default_type",
        "default_expression",
        "comment",
        "codec_expression",
        "ttl_expression",
    ];
    let mut cols: Vec<Column> = names
        .iter()
        .map(|n| Column::new(*n, DataType::STRING))
        .collect();
    for i in 0..schema.columns.len() {
        let row = [
            schema.columns[i].name.clone(),
            crate::system::clickhouse_type(schema, i),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ];
        for (c, v) in cols.iter_mut().zip(row) {
            c.push(&Value::Str(v));
        }
    }
    ResultSet { columns: cols }
}

pub fn show_tables(catalog: &storage::Catalog) -> ResultSet {
    let mut c = Column::new("name", DataType::STRING);
    let mut names: Vec<&str> = catalog.tables().iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    for n in names {
        c.push(&Value::Str(n.to_string()));
    }
    ResultSet { columns: vec![c] }
}

/// `EXPLAIN`: the plan, its per-shard fragment and pruning, one line per row.
pub fn explain(plan: &SelectPlan, shard_count: usize) -> ResultSet {
    let mut lines = Vec::new();
    explain_into(plan, shard_count, 0, &mut lines);
    let mut c = Column::new("explain", DataType::STRING);
    for l in lines {
        c.push(&Value::Str(l));
    }
    ResultSet { columns: vec![c] }
}

fn explain_into(plan: &SelectPlan, shard_count: usize, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    let f = &plan.finish;
    out.push(format!(
        "{pad}Merge: columns [{}]{}{}{}{}",
        f.names.join(", "),
        if f.having.is_some() { ", HAVING" } else { "" },
        if f.distinct { ", DISTINCT" } else { "" },
        if f.order_by.is_empty() {
            String::new()
        } else {
            format!(", ORDER BY {} keys", f.order_by.len())
        },
        match (f.limit, f.offset) {
            (Some(l), o) => format!(", LIMIT {l} OFFSET {o}"),
            (None, 0) => String::new(),
            (None, o) => format!(", OFFSET {o}"),
        }
    ));
    match &plan.work {
        Work::Aggregate(spec) => out.push(format!(
            "{pad}  Aggregate: {} keys, aggregates [{}] (partial per shard, merged here)",
            spec.keys.len(),
            spec.aggs
                .iter()
                .map(|a| format!("{:?}", a.func))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Work::Project { exprs, limit, top } => out.push(format!(
            "{pad}  Project: {} expressions{}{}",
            exprs.len(),
            limit.map_or(String::new(), |l| format!(
                ", fragments stop after {l} rows"
            )),
            top.map_or(String::new(), |t| format!(
                ", fragments keep the top {} rows by output column {}",
                t.n, t.expr
            ))
        )),
    }
    if plan.filter.is_some() {
        out.push(format!(
            "{pad}  Filter: residual predicate evaluated per block"
        ));
    }
    match &plan.source {
        Source::Table {
            table,
            columns,
            keys,
            ts_min,
            ts_max,
            ..
        } => {
            let shards = shards_for(keys, shard_count);
            out.push(format!(
                "{pad}  Scan {table}: columns {columns:?}, shards {shards:?} of {shard_count}, symbols {}, time {}",
                match keys {
                    KeyFilter::All => "all".to_string(),
                    KeyFilter::Symbols(s) => format!("{s:?}"),
                    KeyFilter::Ints(v) => format!("{v:?}"),
                },
                if *ts_min == i64::MIN && *ts_max == i64::MAX {
                    "all (no block pruning)".to_string()
                } else {
                    format!("[{}, {}] (blocks outside are pruned by the index)", crate::text::format_ts_ns(*ts_min), crate::text::format_ts_ns(*ts_max))
                }
            ));
        }
        Source::Subquery(inner) => {
            out.push(format!(
                "{pad}  Subquery (materialized, then processed on the merging core):"
            ));
            explain_into(inner, shard_count, depth + 2, out);
        }
        Source::Union(parts) => {
            out.push(format!("{pad}  Union of {} parts:", parts.len()));
            for p in parts {
                explain_into(p, shard_count, depth + 2, out);
            }
        }
        Source::Rows(rs) => out.push(format!("{pad}  Rows: {} known at plan time", rs.rows())),
        Source::One => out.push(format!("{pad}  One row, no table")),
    }
}

/// The answer to one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Rows {
        result: ResultSet,
        format: Option<String>,
        stats: QueryStats,
    },
    /// DDL or a statement with nothing to return.
    Done,
    Inserted {
        rows: u64,
    },
}

/// Polls a future that never waits (everything in-process is ready at once).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("in-process future was not ready"),
    }
}

/// All shards in one thread: the SQL layer testable without the server.
pub struct Database {
    shards: Vec<RefCell<Shard>>,
    pub info: ServerInfo,
    pub limits: QueryLimits,
    cancel: AtomicBool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({} shards)", self.shards.len())
    }
}

impl ShardRunner for Database {
    fn shard_count(&self) -> usize {
        self.shards.len()
    }

    fn run_fragment(
        &self,
        shard: usize,
        fragment: Arc<Fragment>,
    ) -> BoxFuture<'_, Result<(Partial, FragmentStats)>> {
        let r = fragment.run(&mut self.shards[shard].borrow_mut(), &self.cancel);
        Box::pin(std::future::ready(r))
    }
}

impl Database {
    /// Opens `shards` shards under `dir/shard-<i>`.
    pub fn open(dir: &Path, shards: usize, config: impl Fn() -> ShardConfig) -> Result<Database> {
        let mut v = Vec::new();
        for i in 0..shards.max(1) {
            let (s, _) = Shard::open(dir.join(format!("shard-{i}")), config())?;
            v.push(RefCell::new(s));
        }
        Ok(Database {
            shards: v,
            info: ServerInfo::default(),
            limits: QueryLimits::default(),
            cancel: AtomicBool::new(false),
        })
    }

    pub fn shard(&self, i: usize) -> std::cell::RefMut<'_, Shard> {
        self.shards[i].borrow_mut()
    }

    /// Parses, plans and runs one statement. `data` is the payload of `INSERT ... FORMAT`.
    pub fn execute(&self, sql: &str) -> Result<Output> {
        self.execute_with_data(sql, None)
    }

    pub fn execute_with_data(&self, sql: &str, data: Option<&[u8]>) -> Result<Output> {
        let st = {
            let shard = self.shards[0].borrow();
            plan(sql, shard.catalog(), &self.info, self.limits)?
        };
        match st {
            Statement::Select { plan, format } => {
                let (result, stats) = block_on(execute_select(&plan, self))?;
                Ok(Output::Rows {
                    result,
                    format,
                    stats,
                })
            }
            Statement::Insert {
                table,
                columns,
                source,
            } => {
                let schema = self.shards[0]
                    .borrow()
                    .catalog()
                    .get(&table)
                    .cloned()
                    .ok_or_else(|| SqlError::UnknownTable(table.clone()))?;
                let batch = match source {
                    InsertSource::Values(rows) => {
                        rows_to_batch(&schema, columns.as_deref(), &rows)?
                    }
                    InsertSource::Select(plan) => {
                        let (rs, _) = block_on(execute_select(&plan, self))?;
                        let rows: Vec<Vec<Value>> = (0..rs.rows()).map(|r| rs.row(r)).collect();
                        rows_to_batch(&schema, columns.as_deref(), &rows)?
                    }
                    InsertSource::Format(format) => {
                        let data = match (data, crate::plan::split_insert_format(sql)) {
                            (Some(d), _) => d.to_vec(),
                            (None, Some((_, _, at))) => sql.as_bytes()[at..].to_vec(),
                            (None, None) => Vec::new(),
                        };
                        let fmt = crate::input::InputFormat::parse(&format)
                            .ok_or_else(|| SqlError::UnknownFunction(format!("format {format}")))?;
                        let decoded = crate::input::decode(
                            fmt,
                            &data,
                            &schema,
                            columns.as_deref(),
                            &crate::input::InputOptions::default(),
                        )
                        .map_err(|e| SqlError::BadArguments(e.to_string()))?;
                        decoded.batch
                    }
                };
                let rows = batch.rows() as u64;
                self.insert(&schema, &batch)?;
                Ok(Output::Inserted { rows })
            }
            Statement::CreateTable {
                spec,
                if_not_exists,
            } => {
                if self.shards[0].borrow().catalog().get(&spec.name).is_some() {
                    return if if_not_exists {
                        Ok(Output::Done)
                    } else {
                        Err(SqlError::TableExists(spec.name))
                    };
                }
                for s in &self.shards {
                    s.borrow_mut().create_table(spec.clone())?;
                }
                Ok(Output::Done)
            }
            Statement::DropTable { name, if_exists } => {
                if self.shards[0].borrow().catalog().get(&name).is_none() {
                    return if if_exists {
                        Ok(Output::Done)
                    } else {
                        Err(SqlError::UnknownTable(name))
                    };
                }
                for s in &self.shards {
                    s.borrow_mut().drop_table(&name)?;
                }
                Ok(Output::Done)
            }
            Statement::AddColumn {
                table,
                name,
                ty,
                if_not_exists,
            } => {
                let exists = self.shards[0]
                    .borrow()
                    .catalog()
                    .get(&table)
                    .ok_or_else(|| SqlError::UnknownTable(table.clone()))?
                    .column_index(&name)
                    .is_some();
                if exists && if_not_exists {
                    return Ok(Output::Done);
                }
                for s in &self.shards {
                    s.borrow_mut().add_column(&table, &name, ty)?;
                }
                Ok(Output::Done)
            }
            Statement::ShowTables { format } => Ok(Output::Rows {
                result: show_tables(self.shards[0].borrow().catalog()),
                format,
                stats: QueryStats::default(),
            }),
            Statement::Describe { table, format } => {
                let shard = self.shards[0].borrow();
                let schema = shard
                    .catalog()
                    .get(&table)
                    .ok_or_else(|| SqlError::UnknownTable(table.clone()))?;
                Ok(Output::Rows {
                    result: describe(schema),
                    format,
                    stats: QueryStats::default(),
                })
            }
            Statement::Exists { table, format } => {
                let e = self.shards[0].borrow().catalog().get(&table).is_some();
                Ok(Output::Rows {
                    result: ResultSet::single("result", Value::UInt(e as u64)),
                    format,
                    stats: QueryStats::default(),
                })
            }
            Statement::Explain { plan } => Ok(Output::Rows {
                result: explain(&plan, self.shards.len()),
                format: None,
                stats: QueryStats::default(),
            }),
            Statement::NoOp => Ok(Output::Done),
        }
    }

    /// Appends a batch to its owning shards and commits each.
    pub fn insert(&self, schema: &TableSchema, batch: &Batch) -> Result<()> {
        for (s, b) in split_by_shard(schema, batch, self.shards.len())? {
            let mut shard = self.shards[s].borrow_mut();
            shard.append(&b)?;
            shard.commit()?;
        }
        Ok(())
    }
}

#[allow(dead_code)]
fn _str_values_is_used(_: StrValues) {}
