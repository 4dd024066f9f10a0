//! Ingestion endpoints: InfluxDB line protocol (`/write`, `/api/v1/write`, `/api/v2/write`,
//! `/api/write`), MessagePack (`/write/v2/msgpack`) and JSON (`/write/json`). Bodies are decoded
//! on the receiving core, unknown tables and columns are created, rows the table cannot store
//! are reported, and the rest is appended on the owning shards; the answer comes after their
//! group commit made the rows durable.

use std::time::Instant;

use sql::ingest::{self, Coercion, Decoded, DecodedTable, Precision, RowError};
use storage::{StorageError, TableSchema};

use crate::ctx::CoreCtx;
use crate::router::{Request, Response};

/// Errors listed in a 400 answer (the count of all is always given).
const ERRORS_LISTED_MAX: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LineProtocol,
    MsgPack,
    Json,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn error_json(status: u16, message: &str) -> Response {
    Response::json(status, &serde_json::json!({ "error": message }))
}

/// Answers one write request.
pub async fn handle_write(ctx: &CoreCtx, request: Request, kind: Kind) -> Response {
    let started = Instant::now();
    // An unencoded body is decoded where it lies; only an encoded one is copied (decompressed).
    let encoded =
        request.header("content-encoding").is_some() || request.param("decompress").is_some();
    let body: std::borrow::Cow<'_, [u8]> = if encoded {
        match crate::compress::decode_body(&request) {
            Ok(b) => std::borrow::Cow::Owned(b),
            Err(msg) => return error_json(400, &msg),
        }
    } else {
        std::borrow::Cow::Borrowed(&request.body)
    };
    if body.is_empty() {
        // InfluxDB accepts an empty write as a no-op.
        return Response::new(204, crate::body::Body::empty());
    }
    let precision = match request.param("precision") {
        // An empty precision means the default, as InfluxDB 1.x reads it.
        None | Some("") => None,
        Some(p) => match Precision::parse(p) {
            Some(p) => Some(p),
            None => {
                return error_json(
                    400,
                    &format!("unknown precision '{p}' (ns, us, ms, s, m, h)"),
                )
            }
        },
    };
    let decoded = match kind {
        Kind::LineProtocol => {
            let mut opts = ingest::lineproto::LineOptions::new(now_ns());
            if let Some(p) = precision {
                opts.precision = p;
            }
            let decode = |pins| {
                opts.pins = pins;
                ingest::lineproto::decode(&body, &opts)
            };
            decode_pinned(ctx, Coercion::Strict, decode)
        }
        Kind::MsgPack => {
            let mut opts = ingest::msgpack::MsgpackOptions::new(now_ns());
            if let Some(p) = precision {
                opts.precision = p;
            }
            // Pins apply to the row form; columnar items carry whole columns.
            let decode = |pins| {
                opts.pins = pins;
                ingest::msgpack::decode(&body, &opts)
            };
            decode_pinned(ctx, Coercion::Numeric, decode)
        }
        Kind::Json => {
            let table = match ingest::json::table_name(&body) {
                Ok(t) => t,
                Err(e) => return error_json(e.http_status(), &e.to_string()),
            };
            let Some(schema) = ctx.with_state(|st| st.shard().catalog().get(&table).cloned())
            else {
                return error_json(
                    404,
                    &format!("Unknown table: {table} (JSON writes need an existing table)"),
                );
            };
            ingest::json::decode(&body, &schema, &ingest::json::JsonOptions::default())
        }
    };
    let decoded: Decoded = match decoded {
        Ok(d) => d,
        Err(e) => {
            ctx.with_state(|st| st.counters_mut().ticks_rejected += 1);
            return error_json(e.http_status(), &e.to_string());
        }
    };
    let coercion = if kind == Kind::LineProtocol {
        Coercion::Strict
    } else {
        Coercion::Numeric
    };
    let Stored {
        written,
        rejected,
        errors,
        failure,
    } = store(ctx, decoded, coercion).await;
    if let Some(response) = failure {
        return response;
    }
    let latency_ns = started.elapsed().as_nanos() as u64;
    ctx.with_state(|st| {
        let c = st.counters_mut();
        c.ticks_ingested += written;
        c.ticks_rejected += rejected as u64;
        c.last_ingest_latency_ns = latency_ns;
        c.ingest_requests += 1;
        let _ = st.ingest_latency.record(latency_ns.max(1_000));
    });
    if rejected == 0 {
        return Response::new(204, crate::body::Body::empty());
    }
    // InfluxDB's partial write: the good rows are stored, the answer is 400 and lists the rest.
    let listed: Vec<serde_json::Value> = errors
        .iter()
        .take(ERRORS_LISTED_MAX)
        .map(|e| serde_json::json!({ "at": e.at.to_string(), "error": e.reason.to_string() }))
        .collect();
    let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
    Response::json(
        400,
        &serde_json::json!({
            "error": format!("partial write: {rejected} rejected, {written} written; first: {first}"),
            "written": written,
            "rejected": rejected,
            "errors": listed,
        }),
    )
}

/// Decodes a body, and when a bad first value decided a column's type for the whole body (so
/// that later good rows were refused as disagreeing with it), decodes it again with the
/// existing table's types pinned: the bad row is rejected and the good ones kept. Rare; only
/// then is the body read twice.
fn decode_pinned<E>(
    ctx: &CoreCtx,
    coercion: Coercion,
    mut decode: impl FnMut(Vec<(String, String, storage::ColumnType)>) -> Result<Decoded, E>,
) -> Result<Decoded, E> {
    let first = decode(Vec::new())?;
    let pins = ctx.with_state(|st| ingest::conflict_pins(&first, st.shard().catalog(), coercion));
    if pins.is_empty() {
        return Ok(first);
    }
    Ok(decode(pins).unwrap_or(first))
}

/// What storing a decoded body did: rows written and rejected, the row errors, and the answer
/// to give instead of the usual one when a table could not be created or a shard refused.
pub(crate) struct Stored {
    pub written: u64,
    pub rejected: usize,
    pub errors: Vec<RowError>,
    pub failure: Option<Response>,
}

/// Creates or alters the decoded tables, conforms their rows and appends them to the owning
/// shards; returns once every appended row is durable per `--fsync`.
pub(crate) async fn store(ctx: &CoreCtx, mut decoded: Decoded, coercion: Coercion) -> Stored {
    let mut errors: Vec<RowError> = std::mem::take(&mut decoded.errors);
    let mut rejected = decoded.rejected;
    let mut written = 0u64;
    for mut table in decoded.tables {
        let schema = match ensure_table(ctx, &table).await {
            Ok(s) => s,
            Err(msg) => {
                let failure = error_json(
                    400,
                    &format!("table '{}' cannot be created or altered: {msg}; {written} rows of earlier tables were written", table.name()),
                );
                return Stored {
                    written,
                    rejected,
                    errors,
                    failure: Some(failure),
                };
            }
        };
        rejected += ingest::conform(
            &mut table,
            &schema,
            coercion,
            &mut errors,
            ERRORS_LISTED_MAX,
        );
        if table.rows() == 0 {
            continue;
        }
        let rows = table.rows() as u64;
        if let Err(e) = crate::query::append(ctx, &schema, table.batch).await {
            let status = match &e {
                sql::error::SqlError::Storage(StorageError::LimitExceeded { .. }) => 503,
                e if e.is_client_error() => 400,
                _ => 500,
            };
            let r = error_json(
                status,
                &format!("{e}; rows of earlier tables in this request were written: {written}"),
            );
            let failure = if status == 503 {
                r.with_header("Retry-After", "1")
            } else {
                r
            };
            return Stored {
                written,
                rejected,
                errors,
                failure: Some(failure),
            };
        }
        written += rows;
    }
    Stored {
        written,
        rejected,
        errors,
        failure: None,
    }
}

/// The table's schema after creating it or adding the decoded columns it lacks.
async fn ensure_table(ctx: &CoreCtx, table: &DecodedTable) -> Result<TableSchema, String> {
    let existing = ctx.with_state(|st| st.shard().catalog().get(table.name()).cloned());
    let plan = ingest::plan(table, existing.as_ref());
    if plan.is_empty() {
        return existing.ok_or_else(|| "table vanished".to_string());
    }
    if let Some(spec) = plan.create {
        // Every shard keeps its own catalog; a concurrent writer on another core may have
        // created the same table first, which is fine.
        for r in ctx
            .call_all(move |st| st.shard_mut().create_table(spec.clone()).map(|_| ()))
            .await
        {
            match r {
                Ok(Ok(()))
                | Ok(Err(StorageError::Request(storage::RequestError::TableExists(_)))) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    for (name, ty) in plan.add_columns {
        let tname = table.name().to_string();
        for r in ctx
            .call_all(move |st| st.shard_mut().add_column(&tname, &name, ty))
            .await
        {
            match r {
                Ok(Ok(()))
                | Ok(Err(StorageError::Request(storage::RequestError::ColumnExists { .. }))) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    ctx.with_state(|st| st.shard().catalog().get(table.name()).cloned())
        .ok_or_else(|| "table vanished".to_string())
}
