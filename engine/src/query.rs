//! The SQL seam: `handle_query` answers `POST /` and `GET /?query=` the way ClickHouse's HTTP
//! interface does: plans on this core, runs one fragment per owning shard over the mesh,
//! merges, and formats; INSERTs are decoded here and appended on the owning shards.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use sql::db::{
    describe, execute_select, explain, rows_to_batch, show_tables, split_by_shard_owned, BoxFuture,
    QueryStats, ShardRunner,
};
use sql::error::SqlError;
use sql::exec::{Fragment, FragmentStats, Partial, QueryLimits};
use sql::format::{FormatOptions, OutputFormat, OutputWriter};
use sql::plan::{plan, split_insert_format, InsertSource, ServerInfo, Statement};
use sql::{ResultSet, Value};
use storage::{Batch, TableSchema};

use crate::body::{Body, ChunkStream};
use crate::ctx::CoreCtx;
use crate::router::{Method, Request, Response};

/// Rows per formatted chunk when a result is streamed.
const STREAM_BLOCK_ROWS: usize = 65_536;

/// Runs fragments on shards through the SPSC mesh.
struct MeshRunner<'c> {
    ctx: &'c CoreCtx,
    cancel: Arc<AtomicBool>,
}

impl ShardRunner for MeshRunner<'_> {
    fn shard_count(&self) -> usize {
        self.ctx.cores()
    }

    fn run_fragment(
        &self,
        shard: usize,
        fragment: Arc<Fragment>,
    ) -> BoxFuture<'_, sql::error::Result<(Partial, FragmentStats)>> {
        let cancel = self.cancel.clone();
        Box::pin(async move {
            match self
                .ctx
                .call(shard, move |st| fragment.run(st.shard_mut(), &cancel))
                .await
            {
                Ok(r) => r,
                Err(e) => Err(SqlError::Storage(storage::StorageError::LimitExceeded {
                    what: mesh_what(&e),
                    limit: 0,
                })),
            }
        })
    }
}

fn mesh_what(e: &crate::mesh::MeshError) -> &'static str {
    match e.http_status() {
        503 => "shard queue full (server busy, retry)",
        _ => "shard unavailable",
    }
}

/// Where the answer goes and how it is written.
struct Output {
    format: OutputFormat,
    /// Neither a FORMAT clause, header, parameter nor ClickHouse client: Ronto's JSON shape.
    seed_json: bool,
    options: FormatOptions,
}

/// Whether the request comes from a ClickHouse client (which expects TabSeparated by default).
fn is_clickhouse_client(r: &Request) -> bool {
    r.header("user-agent")
        .is_some_and(|ua| ua.to_ascii_lowercase().contains("clickhouse"))
        || r.headers
            .iter()
            .any(|(k, _)| k.starts_with("x-clickhouse-"))
        || r.params.iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "query_id"
                    | "session_id"
                    | "database"
                    | "client_protocol_version"
                    | "default_format"
                    | "compress"
                    | "decompress"
            )
        })
}

fn output_for(ctx: &CoreCtx, r: &Request, clause: Option<&str>) -> Result<Output, Response> {
    let mut options = FormatOptions::default();
    if let Some(v) = r.param("client_protocol_version") {
        options.client_protocol_version = v.parse().unwrap_or(0);
    }
    for (k, v) in &r.params {
        if let Err(e) = options.apply_setting(k, v) {
            return Err(Response::clickhouse_error(
                400,
                36,
                "BAD_ARGUMENTS",
                &e.to_string(),
            ));
        }
    }
    let named = clause
        .map(str::to_string)
        .or_else(|| r.header("x-clickhouse-format").map(str::to_string))
        .or_else(|| r.param("default_format").map(str::to_string))
        .or_else(|| ctx.config().default_format.clone());
    match named {
        Some(n) => match OutputFormat::parse(&n) {
            Some(format) => Ok(Output {
                format,
                seed_json: false,
                options,
            }),
            None => Err(Response::clickhouse_error(
                404,
                73,
                "UNKNOWN_FORMAT",
                &format!("Unknown output format {n}"),
            )),
        },
        None if is_clickhouse_client(r) => Ok(Output {
            format: OutputFormat::TabSeparated,
            seed_json: false,
            options,
        }),
        None => Ok(Output {
            format: OutputFormat::Json,
            seed_json: true,
            options,
        }),
    }
}

/// HTTP status for a SQL error, following ClickHouse's mapping.
fn status_of(e: &SqlError) -> u16 {
    match e.code() {
        62 | 27 | 6 | 53 | 36 | 43 | 215 | 57 | 16 | 15 | 456 => 400,
        60 | 47 | 46 | 81 | 115 | 73 => 404,
        48 => 501,
        164 => 403,
        _ if e.is_client_error() => 400,
        _ => 500,
    }
}

fn error_response(r: &Request, e: &SqlError, started: Instant) -> Response {
    let status = status_of(e);
    if is_clickhouse_client(r) || r.param("default_format").is_some() {
        Response::clickhouse_error(status, e.code(), e.code_name(), &e.to_string())
    } else {
        let body = serde_json::json!({
            "columns": [], "data": [], "rows": 0,
            "execution_time_us": started.elapsed().as_secs_f64() * 1e6,
            "error": e.to_string(),
        });
        Response::json(status, &body)
            .with_header("X-ClickHouse-Exception-Code", &e.code().to_string())
    }
}

fn server_info(ctx: &CoreCtx) -> ServerInfo {
    ServerInfo {
        version: crate::VERSION.to_string(),
        display_name: "ronto".into(),
        timezone: "UTC".into(),
        revision: 54472,
        now_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64),
        uptime_s: ctx.uptime().as_secs(),
    }
}

fn limits(ctx: &CoreCtx, r: &Request) -> QueryLimits {
    let c = ctx.config();
    let mut l = QueryLimits {
        max_result_rows: c.max_result_rows as usize,
        max_memory_bytes: c.max_query_memory_bytes as usize,
    };
    // A client may lower (never raise) the bounds per query, as ClickHouse settings.
    if let Some(v) = r
        .param("max_result_rows")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v > 0)
    {
        l.max_result_rows = l.max_result_rows.min(v);
    }
    if let Some(v) = r
        .param("max_memory_usage")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v > 0)
    {
        l.max_memory_bytes = l.max_memory_bytes.min(v);
    }
    l
}

/// Splits the request into SQL text and INSERT data: the `query` parameter, a newline, then the
/// body; or the body alone. For `INSERT ... FORMAT X` the data is what follows the format name.
fn query_and_data(r: &Request, body: &[u8]) -> Result<(String, Vec<u8>), SqlError> {
    let param = r.param("query").unwrap_or("");
    if !param.is_empty() {
        if let Some((_, _, at)) = split_insert_format(param) {
            let mut data = param.as_bytes()[at..].to_vec();
            data.extend_from_slice(body);
            return Ok((param[..at].to_string(), data));
        }
        if body.is_empty() {
            return Ok((param.to_string(), Vec::new()));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| SqlError::Syntax("query text is not UTF-8".into()))?;
        return Ok((format!("{param}\n{text}"), Vec::new()));
    }
    let valid = match std::str::from_utf8(body) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&body[..e.valid_up_to()]).expect("valid prefix"),
    };
    if let Some((_, _, at)) = split_insert_format(valid) {
        return Ok((valid[..at].to_string(), body[at..].to_vec()));
    }
    if valid.len() != body.len() {
        return Err(SqlError::Syntax("query text is not UTF-8".into()));
    }
    Ok((valid.to_string(), Vec::new()))
}

/// The `query` field of a multipart body (empty when absent); `param_<name>` fields go to
/// `bound`. Other fields (settings) are ignored, as unknown URL settings are.
fn form_fields(
    body: &[u8],
    boundary: &str,
    bound: &mut std::collections::HashMap<String, String>,
) -> Result<Vec<u8>, String> {
    let mut query = Vec::new();
    for (name, value) in crate::multipart::parse(body, boundary)? {
        if name == "query" {
            query = value.to_vec();
        } else if let Some(param) = name.strip_prefix("param_") {
            let value = std::str::from_utf8(value)
                .map_err(|_| format!("multipart field {name} is not UTF-8"))?;
            bound.insert(param.to_string(), value.to_string());
        }
    }
    Ok(query)
}

/// Answers a ClickHouse HTTP query request.
pub async fn handle_query(ctx: &CoreCtx, request: Request) -> Response {
    let started = Instant::now();
    let body = match crate::compress::decode_body(&request) {
        Ok(b) => b,
        Err(msg) => return Response::clickhouse_error(400, 432, "UNKNOWN_CODEC", &msg),
    };
    // One database, `default` (plus the read-only `system`): any other name is refused as
    // ClickHouse refuses a database that does not exist, rather than silently using `default`.
    let database = request
        .param("database")
        .or_else(|| request.header("x-clickhouse-database"));
    if let Some(db) = database.filter(|d| !d.is_empty() && *d != "default" && *d != "system") {
        let e = SqlError::coded(
            81,
            "UNKNOWN_DATABASE",
            format!("Database {db} does not exist"),
        );
        return error_response(&request, &e, started);
    }
    // Server-side parameters: `param_<name>` in the URL, or fields of a multipart/form-data
    // body whose `query` field is the query (how the Rust crate sends `.param()`).
    let mut bound: std::collections::HashMap<String, String> = request
        .params
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("param_")?.to_string(), v.clone())))
        .collect();
    let body = match request
        .header("content-type")
        .and_then(crate::multipart::boundary)
    {
        None => body,
        Some(boundary) => match form_fields(&body, boundary, &mut bound) {
            Ok(query) => query,
            Err(msg) => {
                let e = SqlError::coded(27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED", msg);
                return error_response(&request, &e, started);
            }
        },
    };
    let (text, data) = match query_and_data(&request, &body) {
        Ok(x) => x,
        Err(e) => return error_response(&request, &e, started),
    };
    // Most queries have no placeholder: skip the scan and the copy of the text.
    let text = match text
        .contains('{')
        .then(|| crate::params::substitute(&text, &bound))
    {
        None => text,
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            let e = SqlError::coded(456, "UNKNOWN_QUERY_PARAMETER", e.0);
            return error_response(&request, &e, started);
        }
    };
    if text.trim().is_empty() {
        return Response::clickhouse_error(400, 62, "SYNTAX_ERROR", "Empty query");
    }
    let info = server_info(ctx);
    let limits = limits(ctx, &request);
    let planned = ctx.with_state(|st| plan(&text, st.shard().catalog(), &info, limits));
    let statement = match planned {
        Ok(s) => s,
        Err(e) => return error_response(&request, &e, started),
    };
    let read_only = matches!(
        statement,
        Statement::Select { .. }
            | Statement::ShowTables { .. }
            | Statement::Describe { .. }
            | Statement::Exists { .. }
            | Statement::Explain { .. }
            | Statement::NoOp
    );
    if request.method == Method::Get && !read_only {
        let e = SqlError::Unsupported(
            "write queries over GET; use POST (the connection is readonly)".into(),
        );
        return Response::clickhouse_error(400, 164, "READONLY", &e.to_string());
    }
    let query_id = request
        .param("query_id")
        .map(str::to_string)
        .unwrap_or_else(|| request.request_id.clone());
    let result = run_statement(ctx, &request, statement, &data, limits).await;
    let elapsed_ns = started.elapsed().as_nanos() as u64;
    ctx.with_state(|st| match &result {
        Ok(Answer::Rows { stats, .. }) => {
            st.counters_mut().queries_executed += 1;
            st.counters_mut().rows_scanned += stats.rows_read;
            let _ = st.query_latency.record(elapsed_ns.max(1_000));
        }
        Ok(Answer::Done { written_rows }) => {
            // INSERTs and DDL are queries too (ClickHouse counts every one).
            st.counters_mut().queries_executed += 1;
            if *written_rows > 0 {
                st.counters_mut().ticks_ingested += written_rows;
                let _ = st.ingest_latency.record(elapsed_ns.max(1_000));
            }
        }
        Err(_) => {}
    });
    match result {
        Ok(Answer::Rows {
            result,
            format_clause,
            stats,
        }) => {
            let out = match output_for(ctx, &request, format_clause.as_deref()) {
                Ok(o) => o,
                Err(resp) => return resp,
            };
            let response = respond_rows(&query_id, result, out, stats, started);
            match crate::compress::response_encoding(&request) {
                Some(encoding) => crate::compress::compress_response(response, encoding),
                None => response,
            }
        }
        Ok(Answer::Done { written_rows }) => {
            let summary = summary(0, 0, written_rows, 0, started);
            Response::new(200, Body::empty())
                .with_header("X-ClickHouse-Query-Id", &query_id)
                .with_header("X-ClickHouse-Summary", &summary)
                .with_header("X-ClickHouse-Timezone", "UTC")
                .with_header("X-ClickHouse-Server-Display-Name", "ronto")
        }
        Err(e) => {
            error_response(&request, &e, started).with_header("X-ClickHouse-Query-Id", &query_id)
        }
    }
}

fn summary(
    read_rows: u64,
    read_bytes: u64,
    written_rows: u64,
    result_rows: u64,
    started: Instant,
) -> String {
    format!(
        "{{\"read_rows\":\"{read_rows}\",\"read_bytes\":\"{read_bytes}\",\"written_rows\":\"{written_rows}\",\"written_bytes\":\"0\",\"total_rows_to_read\":\"{read_rows}\",\"result_rows\":\"{result_rows}\",\"result_bytes\":\"0\",\"elapsed_ns\":\"{}\"}}",
        started.elapsed().as_nanos()
    )
}

enum Answer {
    Rows {
        result: ResultSet,
        format_clause: Option<String>,
        stats: QueryStats,
    },
    Done {
        written_rows: u64,
    },
}

fn rows(result: ResultSet, format_clause: Option<String>) -> Answer {
    Answer::Rows {
        result,
        format_clause,
        stats: QueryStats::default(),
    }
}

async fn run_statement(
    ctx: &CoreCtx,
    request: &Request,
    statement: Statement,
    data: &[u8],
    limits: QueryLimits,
) -> Result<Answer, SqlError> {
    let schema_of = |table: &str| -> Result<TableSchema, SqlError> {
        ctx.with_state(|st| st.shard().catalog().get(table).cloned())
            .ok_or_else(|| SqlError::UnknownTable(table.to_string()))
    };
    match statement {
        Statement::Select { plan, format } => {
            let runner = MeshRunner {
                ctx,
                cancel: Arc::new(AtomicBool::new(false)),
            };
            let (result, stats) = execute_select(&plan, &runner).await?;
            Ok(Answer::Rows {
                result,
                format_clause: format,
                stats,
            })
        }
        Statement::Insert {
            table,
            columns,
            source,
        } => {
            let schema = schema_of(&table)?;
            let batch = match source {
                InsertSource::Values(values) => {
                    rows_to_batch(&schema, columns.as_deref(), &values)?
                }
                InsertSource::Select(plan) => {
                    let runner = MeshRunner {
                        ctx,
                        cancel: Arc::new(AtomicBool::new(false)),
                    };
                    let (rs, _) = execute_select(&plan, &runner).await?;
                    let values: Vec<Vec<Value>> = (0..rs.rows()).map(|r| rs.row(r)).collect();
                    rows_to_batch(&schema, columns.as_deref(), &values)?
                }
                InsertSource::Format(name) => {
                    let format = sql::input::InputFormat::parse(&name)
                        .ok_or_else(|| SqlError::UnknownFunction(format!("input format {name}")))?;
                    let mut opts = sql::input::InputOptions::default();
                    if let Some(v) = request
                        .param("client_protocol_version")
                        .and_then(|v| v.parse().ok())
                    {
                        opts.native_protocol_version = v;
                    }
                    let decoded =
                        sql::input::decode(format, data, &schema, columns.as_deref(), &opts)
                            .map_err(|e| SqlError::BadArguments(e.to_string()))?;
                    decoded.batch
                }
            };
            let rows = batch.rows() as u64;
            append(ctx, &schema, batch).await?;
            let _ = limits;
            Ok(Answer::Done { written_rows: rows })
        }
        Statement::CreateTable {
            spec,
            if_not_exists,
        } => {
            if schema_of(&spec.name).is_ok() {
                return if if_not_exists {
                    Ok(Answer::Done { written_rows: 0 })
                } else {
                    Err(SqlError::TableExists(spec.name))
                };
            }
            broadcast(ctx, move |st| {
                st.shard_mut().create_table(spec.clone()).map(|_| ())
            })
            .await?;
            Ok(Answer::Done { written_rows: 0 })
        }
        Statement::DropTable { name, if_exists } => {
            if schema_of(&name).is_err() {
                return if if_exists {
                    Ok(Answer::Done { written_rows: 0 })
                } else {
                    Err(SqlError::UnknownTable(name))
                };
            }
            broadcast(ctx, move |st| st.shard_mut().drop_table(&name)).await?;
            Ok(Answer::Done { written_rows: 0 })
        }
        Statement::AddColumn {
            table,
            name,
            ty,
            if_not_exists,
        } => {
            if schema_of(&table)?.column_index(&name).is_some() && if_not_exists {
                return Ok(Answer::Done { written_rows: 0 });
            }
            broadcast(ctx, move |st| st.shard_mut().add_column(&table, &name, ty)).await?;
            Ok(Answer::Done { written_rows: 0 })
        }
        Statement::ShowTables { format } => Ok(rows(
            ctx.with_state(|st| show_tables(st.shard().catalog())),
            format,
        )),
        Statement::Describe { table, format } => Ok(rows(describe(&schema_of(&table)?), format)),
        Statement::Exists { table, format } => Ok(rows(
            ResultSet::single("result", Value::UInt(schema_of(&table).is_ok() as u64)),
            format,
        )),
        Statement::Explain { plan } => Ok(rows(explain(&plan, ctx.cores()), None)),
        Statement::NoOp => Ok(Answer::Done { written_rows: 0 }),
    }
}

/// Appends a batch on its owning shards; returns once every part is durable.
pub async fn append(ctx: &CoreCtx, schema: &TableSchema, batch: Batch) -> Result<(), SqlError> {
    let parts = split_by_shard_owned(schema, batch, ctx.cores())?;
    let mut pending = Vec::new();
    for (shard, part) in parts {
        pending.push(
            Box::pin(ctx.call(shard, move |st| st.append(&part).map(|_| ())))
                as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>,
        );
    }
    for f in pending {
        match f.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(SqlError::Storage(e)),
            Err(e) => {
                return Err(SqlError::Storage(storage::StorageError::LimitExceeded {
                    what: mesh_what(&e),
                    limit: 0,
                }))
            }
        }
    }
    Ok(())
}

/// Runs DDL on every shard (each keeps its own copy of the catalog).
async fn broadcast<F>(ctx: &CoreCtx, f: F) -> Result<(), SqlError>
where
    F: FnOnce(&mut crate::state::CoreState) -> Result<(), storage::StorageError>
        + Clone
        + Send
        + 'static,
{
    for r in ctx.call_all(f).await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(SqlError::Storage(e)),
            Err(e) => {
                return Err(SqlError::Storage(storage::StorageError::LimitExceeded {
                    what: mesh_what(&e),
                    limit: 0,
                }))
            }
        }
    }
    Ok(())
}

fn respond_rows(
    query_id: &str,
    result: ResultSet,
    out: Output,
    stats: QueryStats,
    started: Instant,
) -> Response {
    let rows = result.rows() as u64;
    let summary = summary(stats.rows_read, stats.bytes_read, 0, rows, started);
    let base = |resp: Response, ct: &str, fmt: &str| {
        resp.with_header("Content-Type", ct)
            .with_header("X-ClickHouse-Query-Id", query_id)
            .with_header("X-ClickHouse-Format", fmt)
            .with_header("X-ClickHouse-Timezone", "UTC")
            .with_header("X-ClickHouse-Server-Display-Name", "ronto")
            .with_header("X-ClickHouse-Summary", &summary)
    };
    if out.seed_json {
        let body = seed_json(&result, started);
        return base(
            Response::new(200, Body::Full(body)),
            "application/json; charset=UTF-8",
            "JSON",
        );
    }
    let format_stats = sql::format::QueryStats {
        elapsed_ns: started.elapsed().as_nanos() as u64,
        rows_read: stats.rows_read,
        bytes_read: stats.bytes_read,
        rows_before_limit: stats.rows_before_limit,
    };
    let ct = out.format.content_type();
    let name = out.format.name();
    if result.rows() <= STREAM_BLOCK_ROWS {
        let mut buf = Vec::new();
        if let Err(e) =
            sql::format::write_result(out.format, &result, &out.options, &format_stats, &mut buf)
        {
            return Response::clickhouse_error(500, 1001, "STD_EXCEPTION", &e.to_string());
        }
        return base(Response::new(200, Body::Full(buf)), ct, name);
    }
    // Large results go out in chunks: each block is formatted when the connection asks for it.
    let mut writer = OutputWriter::new(out.format, &out.options);
    let mut first = Vec::new();
    if let Err(e) = writer.begin(&result, &mut first) {
        return Response::clickhouse_error(500, 1001, "STD_EXCEPTION", &e.to_string());
    }
    let total = result.rows();
    let mut at = 0usize;
    let mut finished = false;
    let mut head = Some(first);
    let chunks = std::iter::from_fn(move || {
        if let Some(h) = head.take() {
            if !h.is_empty() {
                return Some(h);
            }
        }
        if at < total {
            let end = (at + STREAM_BLOCK_ROWS).min(total);
            let block = slice(&result, at, end);
            at = end;
            let mut buf = Vec::new();
            writer.write_block(&block, &mut buf).ok()?;
            return Some(buf);
        }
        if !finished {
            finished = true;
            let mut buf = Vec::new();
            writer.finish(&format_stats, &mut buf).ok()?;
            return Some(buf);
        }
        None
    });
    base(
        Response::new(200, Body::Stream(ChunkStream::from_chunks(chunks))),
        ct,
        name,
    )
}

fn slice(rs: &ResultSet, lo: usize, hi: usize) -> ResultSet {
    ResultSet {
        columns: rs
            .columns
            .iter()
            .map(|c| {
                let mut col = sql::vector::Col::from_result_column(c)
                    .slice_owned(lo, hi)
                    .into_column("");
                col.name = c.name.clone();
                col.ty = c.ty;
                col
            })
            .collect(),
    }
}

/// Ronto's JSON for clients that asked for no format: typed values, floats stay floats.
fn seed_json(result: &ResultSet, started: Instant) -> Vec<u8> {
    let columns: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
    let data: Vec<serde_json::Value> = (0..result.rows())
        .map(|r| {
            serde_json::Value::Array(
                result
                    .columns
                    .iter()
                    .map(|c| json_value(&c.value(r)))
                    .collect(),
            )
        })
        .collect();
    let v = serde_json::json!({
        "columns": columns,
        "data": data,
        "rows": result.rows(),
        "execution_time_us": started.elapsed().as_secs_f64() * 1e6,
    });
    let mut body = serde_json::to_vec(&v).unwrap_or_default();
    body.push(b'\n');
    body
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Int(x) => (*x).into(),
        Value::UInt(x) => (*x).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Bool(b) => (*b).into(),
        Value::Str(s) => s.clone().into(),
        Value::Ts(ns) => sql::text::format_ts_ns(*ns).into(),
    }
}
