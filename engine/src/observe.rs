//! `GET /stats` (JSON) and `GET /metrics` (Prometheus text): counters of every core and shard,
//! gathered through the mesh, and ingest/query latency summaries from HdrHistograms.

use std::fmt::Write;

use crate::ctx::CoreCtx;
use crate::router::Response;
use crate::state::CoreCounters;

/// One core's view, collected on its own thread.
struct CoreReport {
    core: usize,
    counters: CoreCounters,
    shard: storage::ShardStats,
    wal_disk_bytes: u64,
    tables: usize,
    ingest_latency: hdrhistogram::Histogram<u64>,
    query_latency: hdrhistogram::Histogram<u64>,
}

async fn collect(ctx: &CoreCtx) -> Vec<CoreReport> {
    ctx.call_all(|st| CoreReport {
        core: st.core(),
        counters: st.counters().clone(),
        shard: st.shard_stats(),
        wal_disk_bytes: st.shard().wal_disk_bytes(),
        tables: st.shard().catalog().tables().len(),
        ingest_latency: st.ingest_latency.clone(),
        query_latency: st.query_latency.clone(),
    })
    .await
    .into_iter()
    .filter_map(Result::ok)
    .collect()
}

pub async fn stats(ctx: &CoreCtx) -> Response {
    let reports = collect(ctx).await;
    let sum = |f: &dyn Fn(&CoreReport) -> u64| reports.iter().map(f).sum::<u64>();
    let shards: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            serde_json::json!({
                "shard": r.core,
                "ticks_ingested": r.counters.ticks_ingested,
                "ticks_stored": r.shard.rows_appended,
                "hot_rows": r.shard.hot_rows,
                "hot_bytes": r.shard.hot_bytes,
                "sealed_rows": r.shard.sealed_rows,
                "blocks": r.shard.blocks,
                "partitions_created": r.shard.partitions_created,
                "wal_bytes": r.wal_disk_bytes,
                "wal_bytes_written": r.shard.wal_bytes_written,
                "queries_executed": r.counters.queries_executed,
                "http_requests": r.counters.http_requests,
                "commits": r.counters.commits,
                "tables": r.tables,
            })
        })
        .collect();
    let last_latency = reports
        .iter()
        .map(|r| r.counters.last_ingest_latency_ns)
        .max()
        .unwrap_or(0);
    let value = serde_json::json!({
        "ticks_ingested": sum(&|r| r.counters.ticks_ingested),
        "ticks_stored": sum(&|r| r.shard.rows_appended),
        "ticks_rejected": sum(&|r| r.counters.ticks_rejected),
        "queries_executed": sum(&|r| r.counters.queries_executed),
        "total_rows_scanned": sum(&|r| r.counters.rows_scanned),
        "partitions_created": sum(&|r| r.shard.partitions_created),
        "last_ingest_latency_ns": last_latency,
        "wal_bytes": sum(&|r| r.wal_disk_bytes),
        "memory_in_use_bytes": sum(&|r| r.shard.hot_bytes),
        "cores": ctx.cores(),
        "uptime_ms": ctx.uptime().as_millis() as u64,
        "shards": shards,
    });
    Response::json(200, &value)
}

pub async fn metrics(ctx: &CoreCtx) -> Response {
    let reports = collect(ctx).await;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, kind: &str, f: &dyn Fn(&CoreReport) -> u64| {
        let _ = writeln!(out, "# HELP ronto_{name} {help}");
        let _ = writeln!(out, "# TYPE ronto_{name} {kind}");
        for r in &reports {
            let _ = writeln!(out, "ronto_{name}{{shard=\"{}\"}} {}", r.core, f(r));
        }
    };
    counter(
        "ticks_ingested_total",
        "Rows written through ingest endpoints and INSERT, by receiving core.",
        "counter",
        &|r| r.counters.ticks_ingested,
    );
    counter(
        "ticks_stored_total",
        "Rows appended to the shard.",
        "counter",
        &|r| r.shard.rows_appended,
    );
    counter(
        "ticks_rejected_total",
        "Rows refused as bad input, by receiving core.",
        "counter",
        &|r| r.counters.ticks_rejected,
    );
    counter(
        "queries_executed_total",
        "Queries answered, by receiving core.",
        "counter",
        &|r| r.counters.queries_executed,
    );
    counter(
        "rows_scanned_total",
        "Rows read by query fragments, by receiving core.",
        "counter",
        &|r| r.counters.rows_scanned,
    );
    counter(
        "partitions_created_total",
        "Day partitions created.",
        "counter",
        &|r| r.shard.partitions_created,
    );
    counter("blocks", "Sealed blocks.", "gauge", &|r| r.shard.blocks);
    counter("sealed_rows", "Rows in sealed blocks.", "gauge", &|r| {
        r.shard.sealed_rows
    });
    counter(
        "hot_rows",
        "Rows in hot (unsealed) buffers.",
        "gauge",
        &|r| r.shard.hot_rows,
    );
    counter(
        "memory_hot_bytes",
        "Bytes held by hot buffers.",
        "gauge",
        &|r| r.shard.hot_bytes,
    );
    counter("wal_bytes", "Bytes in WAL segment files.", "gauge", &|r| {
        r.wal_disk_bytes
    });
    counter(
        "wal_written_bytes_total",
        "Bytes written to the WAL.",
        "counter",
        &|r| r.shard.wal_bytes_written,
    );
    counter(
        "http_requests_total",
        "HTTP requests received.",
        "counter",
        &|r| r.counters.http_requests,
    );
    counter(
        "mesh_busy_total",
        "Mesh calls that gave up on a full queue (answered 503).",
        "counter",
        &|r| r.counters.mesh_busy,
    );
    counter("commits_total", "Group commits.", "counter", &|r| {
        r.counters.commits
    });
    for (name, help, pick) in [
        (
            "ingest_ack_latency_seconds",
            "Latency from request to durable acknowledgement of writes.",
            0,
        ),
        (
            "query_latency_seconds",
            "Latency of queries, end to end.",
            1,
        ),
    ] {
        let mut merged = hdrhistogram::Histogram::<u64>::new_with_bounds(1_000, 600_000_000_000, 3)
            .expect("bounds");
        for r in &reports {
            let _ = merged.add(if pick == 0 {
                &r.ingest_latency
            } else {
                &r.query_latency
            });
        }
        let _ = writeln!(out, "# HELP ronto_{name} {help}");
        let _ = writeln!(out, "# TYPE ronto_{name} summary");
        for q in [0.5, 0.9, 0.99, 0.999] {
            let v = if merged.is_empty() {
                0
            } else {
                merged.value_at_quantile(q)
            };
            let _ = writeln!(out, "ronto_{name}{{quantile=\"{q}\"}} {}", v as f64 / 1e9);
        }
        let total: f64 = merged
            .iter_recorded()
            .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
            .sum::<f64>()
            / 1e9;
        let _ = writeln!(out, "ronto_{name}_sum {total}");
        let _ = writeln!(out, "ronto_{name}_count {}", merged.len());
    }
    Response::new(200, crate::body::Body::Full(out.into_bytes()))
        .with_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
}
