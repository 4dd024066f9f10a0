//! The `http` suite: `/ping` against a tokio/hyper baseline in the same run, and a point query at maximum throughput and at a fixed moderate rate, over keep-alive connections to a running `ronto serve`.
//!
//! Both servers run with one core (`ronto serve --cores 1`, `ronto-ping-baseline --threads 1`),
//! each pinned to the first CPU of the affinity set; the load generator ([`crate::loadgen`],
//! one epoll thread) is pinned to the last CPU. On a 2-CPU machine that is one CPU each, so
//! the generator's own cost (about a syscall pair per request) bounds what can be shown.
//!
//! - `/ping`: closed loop over [`CONNECTIONS`] connections, Ronto and the baseline alternating
//!   for a few rounds; the ratio of their median rounds is issue 4's "within 10%".
//! - point query `SELECT last(price) FROM trades WHERE symbol = 'AAPL'` (TabSeparated) after
//!   loading generated trades with RowBinary inserts: closed loop for the maximum, then an open
//!   loop at [`MODERATE_FRACTION`] of that maximum, timed from each request's due time
//!   (coordinated-omission correct), for the "p99 under 200 µs at moderate load" target.
//!
//! Every response is checked: `/ping` must be `Ok.\n`, the query must return the generated
//! data's last AAPL price.

use std::time::Duration;

use crate::hist::{write_hgrm, Summary};
use crate::loadgen::{self, Load, Mode, Outcome};
use crate::report::{fmt_count, fmt_ns, fmt_rate, Report, Row};
use crate::server::{self, RontoOptions, ServerProcess};
use crate::suites::ingest::{load_rowbinary, Trades};
use crate::suites::Ctx;
use crate::BenchError;

/// Keep-alive connections of the closed-loop runs.
pub const CONNECTIONS: usize = 8;
/// Connections of the open-loop run (enough that a free one is there when a request is due).
pub const OPEN_CONNECTIONS: usize = 16;
/// Cores of Ronto and threads of the baseline.
pub const SERVER_CORES: usize = 1;
/// The open-loop rate as a fraction of the closed-loop maximum.
pub const MODERATE_FRACTION: f64 = 0.2;
/// Issue 4's targets.
const PING_RATIO_TARGET: f64 = 0.9;
const POINT_P99_TARGET_NS: u64 = 200_000;
pub const POINT_QUERY: &str = "SELECT last(price) FROM trades WHERE symbol = 'AAPL'";

#[derive(Debug, Clone)]
struct Plan {
    rounds: usize,
    warmup: Duration,
    duration: Duration,
    open_duration: Duration,
    trades: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                rounds: 1,
                warmup: Duration::from_millis(300),
                duration: Duration::from_millis(1500),
                open_duration: Duration::from_secs(2),
                trades: 100_000,
            }
        } else {
            Plan {
                rounds: 3,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(5),
                open_duration: Duration::from_secs(20),
                trades: 1_000_000,
            }
        }
    }
}

fn closed(port: u16, request: &[u8], body: &[u8], plan: &Plan) -> Result<Outcome, BenchError> {
    loadgen::run_pinned(&Load {
        port,
        connections: CONNECTIONS,
        request,
        expect_status: 200,
        expect_body: body,
        mode: Mode::Closed,
        warmup: plan.warmup,
        duration: plan.duration,
    })
}

/// "generator on CPU 97%": how busy the load generator's own CPU was.
fn generator_note(o: &Outcome) -> String {
    format!(
        "load generator {}",
        o.generator.note(o.wall.as_nanos() as u64)
    )
}

fn median_by_rate(outcomes: &[Outcome]) -> &Outcome {
    let mut order: Vec<usize> = (0..outcomes.len()).collect();
    order.sort_by(|&a, &b| {
        outcomes[a]
            .requests_per_s
            .total_cmp(&outcomes[b].requests_per_s)
    });
    &outcomes[order[order.len() / 2]]
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let plan = Plan::new(ctx.quick);
    eprintln!(
        "http suite{}: servers on {SERVER_CORES} core, load generator pinned to the last CPU, {CONNECTIONS} connections",
        if ctx.quick { " (quick)" } else { "" }
    );
    let mut ronto = ServerProcess::ronto(
        &ctx.data_dir,
        &RontoOptions {
            cores: SERVER_CORES,
            fsync: "never".into(),
            extra: Vec::new(),
        },
    )?;
    let mut baseline = ServerProcess::baseline(&ctx.data_dir, SERVER_CORES)?;
    let mut rows = Vec::new();

    // /ping, alternating rounds.
    let ping = server::get("/ping");
    let mut ronto_pings = Vec::new();
    let mut base_pings = Vec::new();
    if ctx.wants("ping") {
        for round in 0..plan.rounds {
            let r = closed(ronto.port(), &ping, b"Ok.\n", &plan)?;
            let b = closed(baseline.port(), &ping, b"Ok.\n", &plan)?;
            eprintln!(
                "  round {}: /ping Ronto {} (p99 {}), baseline {} (p99 {})",
                round + 1,
                fmt_rate(r.requests_per_s),
                fmt_ns(r.hist.value_at_quantile(0.99)),
                fmt_rate(b.requests_per_s),
                fmt_ns(b.hist.value_at_quantile(0.99)),
            );
            ronto_pings.push(r);
            base_pings.push(b);
        }
        let group = format!(
            "GET /ping, closed loop, {CONNECTIONS} keep-alive connections, server on 1 core"
        );
        for (label, id, outcomes) in [
            ("Ronto (`ronto serve --cores 1`)", "ronto", &ronto_pings),
            (
                "tokio/hyper baseline (`ronto-ping-baseline --threads 1`)",
                "baseline",
                &base_pings,
            ),
        ] {
            for (i, o) in outcomes.iter().enumerate() {
                let name = format!("http-ping-{id}-round{}", i + 1);
                write_hgrm(&o.hist, &ctx.out_dir, &name)?;
                rows.push(Row {
                    group: group.clone(),
                    case: format!("{label}, round {}", i + 1),
                    rows: o.hist.len(),
                    rows_per_s: Some(o.requests_per_s),
                    sample: "request".into(),
                    latency: Some(Summary::of(&o.hist)),
                    hgrm: Some(name),
                    notes: format!("requests/s, not rows; {}", generator_note(o)),
                });
            }
        }
        let r = median_by_rate(&ronto_pings).requests_per_s;
        let b = median_by_rate(&base_pings).requests_per_s;
        let ratio = r / b;
        let verdict = if ratio >= PING_RATIO_TARGET {
            "target (within 10%) met".to_string()
        } else {
            format!(
                "**target (within 10%) missed**: {:.1}% below the baseline",
                100.0 * (1.0 - ratio)
            )
        };
        eprintln!("  /ping Ronto/baseline = {ratio:.3} ({verdict})");
        rows.push(Row {
            group,
            case: "Ronto / baseline (median rounds)".into(),
            rows: 0,
            rows_per_s: None,
            sample: "–".into(),
            latency: None,
            hgrm: None,
            notes: format!(
                "{ratio:.3} ({} vs {} requests); {verdict}",
                fmt_rate(r),
                fmt_rate(b)
            ),
        });
    }
    let base_exit = baseline.stop();
    drop(baseline);
    // The baseline dies by SIGTERM's default action: any exit status is fine, a hang is not.
    base_exit?;

    if ctx.wants("point") {
        let trades = Trades::generate(plan.trades, 11);
        let load = load_rowbinary(ronto.port(), &trades, 100_000)?;
        let stored = server::count_rows(ronto.port(), "trades")?;
        if stored != trades.rows() as u64 {
            return Err(BenchError::Check(format!(
                "loaded {} trades but count(*) is {stored}",
                trades.rows()
            )));
        }
        let want = trades
            .last_price("AAPL")
            .ok_or_else(|| BenchError::Check("no AAPL rows generated".into()))?;
        let answer = server::query_text(ronto.port(), POINT_QUERY)?;
        let got: f64 = answer.trim().parse().map_err(|_| {
            BenchError::Check(format!("point query answered {answer:?}, not a number"))
        })?;
        if got != want {
            return Err(BenchError::Check(format!(
                "point query answered {got}, the generated data says {want}"
            )));
        }
        let request = server::post(
            "/",
            &["X-ClickHouse-Format: TabSeparated"],
            POINT_QUERY.as_bytes(),
        );
        let group = format!(
            "point query `{POINT_QUERY}`, TabSeparated, {} trades",
            fmt_count(trades.rows() as u64)
        );
        let max = closed(ronto.port(), &request, answer.as_bytes(), &plan)?;
        eprintln!(
            "  point query closed loop: {}, p50 {}, p99 {}",
            fmt_rate(max.requests_per_s),
            fmt_ns(max.hist.value_at_quantile(0.5)),
            fmt_ns(max.hist.value_at_quantile(0.99))
        );
        let name = "http-point-closed".to_string();
        write_hgrm(&max.hist, &ctx.out_dir, &name)?;
        rows.push(Row {
            group: group.clone(),
            case: format!("closed loop (maximum), {CONNECTIONS} connections"),
            rows: max.hist.len(),
            rows_per_s: Some(max.requests_per_s),
            sample: "request".into(),
            latency: Some(Summary::of(&max.hist)),
            hgrm: Some(name),
            notes: format!(
                "requests/s; latency includes queueing behind the other connections; loaded in {:.2} s by RowBinary POSTs of 100k rows; {}",
                load.as_secs_f64(),
                generator_note(&max)
            ),
        });
        let rate = (max.requests_per_s * MODERATE_FRACTION).max(100.0);
        let open = loadgen::run_pinned(&Load {
            port: ronto.port(),
            connections: OPEN_CONNECTIONS,
            request: &request,
            expect_status: 200,
            expect_body: answer.as_bytes(),
            mode: Mode::Open { rate_per_s: rate },
            warmup: plan.warmup,
            duration: plan.open_duration,
        })?;
        let s = Summary::of(&open.hist);
        let verdict = if s.p99_ns < POINT_P99_TARGET_NS {
            "target p99 < 200 µs met".to_string()
        } else {
            format!("**target p99 < 200 µs missed** ({})", fmt_ns(s.p99_ns))
        };
        eprintln!(
            "  point query open loop at {}: p50 {}, p99 {}, p99.9 {} ({verdict})",
            fmt_rate(rate),
            fmt_ns(s.p50_ns),
            fmt_ns(s.p99_ns),
            fmt_ns(s.p999_ns)
        );
        let name = "http-point-open".to_string();
        write_hgrm(&open.hist, &ctx.out_dir, &name)?;
        rows.push(Row {
            group,
            case: format!(
                "open loop at {:.0}% of the maximum ({}), {OPEN_CONNECTIONS} connections",
                MODERATE_FRACTION * 100.0,
                fmt_rate(rate)
            ),
            rows: open.hist.len(),
            rows_per_s: Some(open.requests_per_s),
            sample: "request (from due time)".into(),
            latency: Some(s),
            hgrm: Some(name),
            notes: format!(
                "{verdict}; coordinated-omission corrected (latency from each request's due time); most requests waiting for a free connection: {}; {}",
                open.backlog_max,
                generator_note(&open)
            ),
        });
    }
    let exit = ronto.stop()?;
    if !exit.contains("exit status: 0") {
        return Err(BenchError::Check(format!(
            "ronto exited with {exit} after SIGTERM; its log:\n{}",
            ronto.log_tail()
        )));
    }
    Ok(Report {
        suite: "http".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows,
    })
}
