//! The `kernels` suite: the sql crate's vectorized kernels called directly on column slices (no SQL, no planning), each answer checked against a plain scalar loop, timed against the memory-bandwidth baseline of the same run.
//!
//! The columns are those of the query suite's tick day ([`workload::Ticks`]: sorted
//! nanosecond timestamps, f64 prices, i64 volumes), generated at 1 M and 10 M rows
//! (`--quick`: 100 k and 1 M). A sample is one call of one kernel at the level the dispatcher
//! picks on this CPU (`kernels::simd_level()`, capped by `RONTO_SIMD`), writing into buffers
//! allocated once before timing, as the executor would. Each kernel is also run, with a
//! smaller budget, at `SimdLevel::Scalar` (the reference implementation inside the sql crate),
//! for the speedup.
//!
//! Before any timing, the answer of every level is compared with an answer computed here by a
//! plain Rust loop over the same slices: integers exactly, floats within
//! [`workload::FLOAT_TOLERANCE`] of the sum of magnitudes. A mismatch fails the suite.
//!
//! GB/s is the bytes a kernel must read and write per row (see [`Kernel::bytes_per_row`])
//! over the median call. At 1 M rows one column is 7.6 MiB, which stays in this machine's
//! 32 MiB L3 between calls, so those rates can exceed the memory bandwidth; at 10 M rows
//! (76 MiB a column) every call streams from memory, and issue 6's target, "scans at ≥ 50% of
//! measured memory bandwidth", is judged there.

use std::hint::black_box;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sql::kernels::{self as k, BucketRun, CmpOp, OhlcvBars, SimdLevel, VwapSums};

use crate::hist::{new_histogram, write_hgrm, Summary};
use crate::report::{fmt_bytes, fmt_count, fmt_ns, fmt_rate, Report, Row};
use crate::suites::membw::{self, Bandwidth};
use crate::suites::workload::{self, Budget, Ticks, BAR_NS, FLOAT_TOLERANCE, PRICE_THRESHOLD};
use crate::suites::Ctx;
use crate::BenchError;

/// Issue 6's target: scans at this fraction of the one-thread memory bandwidth, or better.
const BANDWIDTH_TARGET: f64 = 0.5;

/// Sizes and budgets; `--quick` shrinks them.
#[derive(Debug, Clone)]
struct Plan {
    sizes_rows: Vec<usize>,
    budget: Budget,
    /// For the scalar-level runs, which are only there for the speedup.
    scalar_budget: Budget,
    bandwidth_bytes: usize,
    bandwidth_passes: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                sizes_rows: vec![100_000, 1_000_000],
                budget: Budget {
                    warmup: 2,
                    min_iters: 5,
                    max_iters: 100_000,
                    time: Duration::from_millis(60),
                },
                scalar_budget: Budget {
                    warmup: 1,
                    min_iters: 2,
                    max_iters: 1_000,
                    time: Duration::from_millis(15),
                },
                bandwidth_bytes: 256 << 20,
                bandwidth_passes: 5,
            }
        } else {
            Plan {
                sizes_rows: vec![1_000_000, 10_000_000],
                budget: Budget {
                    warmup: 5,
                    min_iters: 30,
                    max_iters: 1_000_000,
                    time: Duration::from_secs(1),
                },
                scalar_budget: Budget {
                    warmup: 1,
                    min_iters: 5,
                    max_iters: 10_000,
                    time: Duration::from_millis(250),
                },
                bandwidth_bytes: 1 << 30,
                bandwidth_passes: 10,
            }
        }
    }
}

/// The kernels measured, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    SumPrice,
    SumVolume,
    MinPrice,
    MaxPrice,
    Vwap,
    CountAbove,
    Xbar,
    BucketRuns,
    Ohlcv,
    FirstByTs,
    LastByTs,
    /// Not a kernel: `copy_from_slice` of the timestamps into the output column, the floor for
    /// any kernel that reads one column and writes another (as `xbar` does).
    CopyBaseline,
}

impl Kernel {
    const ALL: [Kernel; 12] = [
        Kernel::SumPrice,
        Kernel::SumVolume,
        Kernel::MinPrice,
        Kernel::MaxPrice,
        Kernel::Vwap,
        Kernel::CountAbove,
        Kernel::Xbar,
        Kernel::BucketRuns,
        Kernel::Ohlcv,
        Kernel::FirstByTs,
        Kernel::LastByTs,
        Kernel::CopyBaseline,
    ];

    /// The case id's stem (the `.hgrm` name is `kernels-<id>-<size>`).
    fn id(self) -> &'static str {
        match self {
            Kernel::SumPrice => "sum-price",
            Kernel::SumVolume => "sum-volume",
            Kernel::MinPrice => "min-price",
            Kernel::MaxPrice => "max-price",
            Kernel::Vwap => "vwap",
            Kernel::CountAbove => "count-price-gt",
            Kernel::Xbar => "xbar",
            Kernel::BucketRuns => "bucket-runs",
            Kernel::Ohlcv => "ohlcv",
            Kernel::FirstByTs => "first-by-ts",
            Kernel::LastByTs => "last-by-ts",
            Kernel::CopyBaseline => "copy-baseline",
        }
    }

    fn title(self) -> String {
        match self {
            Kernel::SumPrice => "`sum` of price (f64)".into(),
            Kernel::SumVolume => "`sum` of volume (i64)".into(),
            Kernel::MinPrice => "`min` of price (f64)".into(),
            Kernel::MaxPrice => "`max` of price (f64)".into(),
            Kernel::Vwap => "`vwap`: Σ price·volume and Σ volume in one pass".into(),
            Kernel::CountAbove => {
                format!("count(price > {PRICE_THRESHOLD}): `cmp` into a bitmap, then `popcount`")
            }
            Kernel::Xbar => "`xbar` to 1 minute, into an output column".into(),
            Kernel::BucketRuns => "`bucket_runs`: 1-minute runs of sorted timestamps".into(),
            Kernel::Ohlcv => "`ohlcv`: 1-minute bars (OHLC, volume, count, Σ price·volume)".into(),
            Kernel::FirstByTs => "`first_row_by_ts`: argmin of timestamp".into(),
            Kernel::LastByTs => "`last_row_by_ts`: argmax of timestamp".into(),
            Kernel::CopyBaseline => {
                "baseline, not a kernel: `copy_from_slice` of timestamps into a column".into()
            }
        }
    }

    /// Bytes the kernel must move per row: columns read plus columns written. `bucket_runs`
    /// and `ohlcv` skip most timestamps inside long runs, so theirs is the nominal input size
    /// (what a row-at-a-time scan would read), not what they touch.
    fn bytes_per_row(self) -> f64 {
        match self {
            Kernel::SumPrice
            | Kernel::SumVolume
            | Kernel::MinPrice
            | Kernel::MaxPrice
            | Kernel::BucketRuns
            | Kernel::FirstByTs
            | Kernel::LastByTs => 8.0,
            Kernel::Vwap => 16.0,
            // price read; one bit per row written, then read again by popcount.
            Kernel::CountAbove => 8.25,
            Kernel::Xbar | Kernel::CopyBaseline => 16.0,
            Kernel::Ohlcv => 24.0,
        }
    }

    /// Whether this is a reference point for the kernels rather than a kernel (no SIMD levels,
    /// not judged against the target).
    fn is_baseline(self) -> bool {
        self == Kernel::CopyBaseline
    }

    /// Whether the rate is a nominal one (see [`Kernel::bytes_per_row`]).
    fn skips_rows(self) -> bool {
        matches!(self, Kernel::BucketRuns | Kernel::Ohlcv)
    }
}

/// The columns every kernel reads.
#[derive(Clone, Copy)]
struct Cols<'a> {
    ts: &'a [i64],
    price: &'a [f64],
    volume: &'a [i64],
}

/// Output buffers, allocated once per size and reused by every call.
struct Scratch {
    bitmap: Vec<u8>,
    xbar: Vec<i64>,
    runs: Vec<BucketRun>,
    bars: OhlcvBars<f64, i64>,
}

/// What one call returned; kernels that write a buffer return its length.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    F64(f64),
    I64(i64),
    Extreme(Option<f64>),
    Vwap(VwapSums),
    Count(u64),
    Row(Option<usize>),
    Written(usize),
}

/// One call of `kernel` at `level`.
#[inline(never)]
fn call(kernel: Kernel, level: SimdLevel, c: Cols<'_>, out: &mut Scratch) -> Answer {
    match kernel {
        Kernel::SumPrice => Answer::F64(k::sum_with(level, c.price, None, None)),
        Kernel::SumVolume => Answer::I64(k::sum_with(level, c.volume, None, None)),
        Kernel::MinPrice => Answer::Extreme(k::min_with(level, c.price, None, None)),
        Kernel::MaxPrice => Answer::Extreme(k::max_with(level, c.price, None, None)),
        Kernel::Vwap => Answer::Vwap(k::vwap_with(level, c.price, None, c.volume, None, None)),
        Kernel::CountAbove => {
            k::cmp_with(
                level,
                c.price,
                CmpOp::Gt,
                PRICE_THRESHOLD as f64,
                &mut out.bitmap,
            );
            Answer::Count(k::popcount_with(level, &out.bitmap, c.price.len()) as u64)
        }
        Kernel::Xbar => {
            k::xbar_with(level, c.ts, BAR_NS, &mut out.xbar);
            Answer::Written(c.ts.len())
        }
        Kernel::BucketRuns => {
            k::bucket_runs_with(level, c.ts, BAR_NS, &mut out.runs);
            Answer::Written(out.runs.len())
        }
        Kernel::Ohlcv => {
            let ticks = k::Ticks::new(c.ts, c.price, c.volume);
            k::ohlcv_with(level, &ticks, BAR_NS, &mut out.bars);
            Answer::Written(out.bars.len())
        }
        Kernel::FirstByTs => Answer::Row(k::first_row_by_ts_with(level, c.ts, None, None)),
        Kernel::LastByTs => Answer::Row(k::last_row_by_ts_with(level, c.ts, None, None)),
        Kernel::CopyBaseline => {
            out.xbar[..c.ts.len()].copy_from_slice(c.ts);
            Answer::Written(c.ts.len())
        }
    }
}

/// One bar of the reference, built row by row.
#[derive(Debug, Clone, Copy)]
struct RefBar {
    bucket_start_ns: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: i64,
    count: u64,
    price_volume_sum: f64,
}

/// Every kernel's answer, computed by plain loops over the same slices, one row at a time.
struct Reference {
    price_sum: f64,
    price_abs_sum: f64,
    volume_sum: i64,
    price_min: f64,
    price_max: f64,
    price_volume_sum: f64,
    price_volume_abs_sum: f64,
    volume_sum_f64: f64,
    count_above: u64,
    first_by_ts: usize,
    last_by_ts: usize,
    bars: Vec<RefBar>,
}

fn bucket_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(BAR_NS)
}

impl Reference {
    fn of(c: Cols<'_>) -> Reference {
        assert!(!c.ts.is_empty(), "no rows");
        let mut r = Reference {
            price_sum: 0.0,
            price_abs_sum: 0.0,
            volume_sum: 0,
            price_min: f64::INFINITY,
            price_max: f64::NEG_INFINITY,
            price_volume_sum: 0.0,
            price_volume_abs_sum: 0.0,
            volume_sum_f64: 0.0,
            count_above: 0,
            first_by_ts: 0,
            last_by_ts: 0,
            bars: Vec::new(),
        };
        for row in 0..c.ts.len() {
            let (t, p, v) = (c.ts[row], c.price[row], c.volume[row]);
            r.price_sum += p;
            r.price_abs_sum += p.abs();
            r.volume_sum = r.volume_sum.wrapping_add(v);
            r.price_min = r.price_min.min(p);
            r.price_max = r.price_max.max(p);
            r.price_volume_sum += p * v as f64;
            r.price_volume_abs_sum += (p * v as f64).abs();
            r.volume_sum_f64 += v as f64;
            r.count_above += u64::from(p > PRICE_THRESHOLD as f64);
            if t < c.ts[r.first_by_ts] {
                r.first_by_ts = row;
            }
            if t >= c.ts[r.last_by_ts] {
                r.last_by_ts = row;
            }
            let bucket = bucket_of(t);
            match r.bars.last_mut() {
                Some(bar) if bar.bucket_start_ns == bucket => {
                    bar.high = bar.high.max(p);
                    bar.low = bar.low.min(p);
                    bar.close = p;
                    bar.volume = bar.volume.wrapping_add(v);
                    bar.count += 1;
                    bar.price_volume_sum += p * v as f64;
                }
                _ => r.bars.push(RefBar {
                    bucket_start_ns: bucket,
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: v,
                    count: 1,
                    price_volume_sum: p * v as f64,
                }),
            }
        }
        r
    }
}

/// `got` within the suite's float tolerance of `want`, relative to `magnitude` (Σ|xᵢ| of the
/// terms: reassociated sums differ by a multiple of it, not of the result).
fn close(got: f64, want: f64, magnitude: f64) -> bool {
    (got - want).abs() <= FLOAT_TOLERANCE * magnitude.abs().max(want.abs())
}

/// Compares one call's answer (and the buffers it wrote) with the reference.
fn check(
    kernel: Kernel,
    c: Cols<'_>,
    got: Answer,
    out: &Scratch,
    r: &Reference,
) -> Result<(), String> {
    let mismatch = |what: String| Err(what);
    match (kernel, got) {
        (Kernel::SumPrice, Answer::F64(s)) if close(s, r.price_sum, r.price_abs_sum) => Ok(()),
        (Kernel::SumVolume, Answer::I64(s)) if s == r.volume_sum => Ok(()),
        (Kernel::MinPrice, Answer::Extreme(Some(m))) if m == r.price_min => Ok(()),
        (Kernel::MaxPrice, Answer::Extreme(Some(m))) if m == r.price_max => Ok(()),
        (Kernel::Vwap, Answer::Vwap(s))
            if close(
                s.price_volume_sum,
                r.price_volume_sum,
                r.price_volume_abs_sum,
            ) && s.volume_sum == r.volume_sum_f64
                && s.vwap()
                    .is_some_and(|v| close(v, r.price_volume_sum / r.volume_sum_f64, 0.0)) =>
        {
            Ok(())
        }
        (Kernel::CountAbove, Answer::Count(n)) if n == r.count_above => Ok(()),
        (Kernel::FirstByTs, Answer::Row(Some(i))) if i == r.first_by_ts => Ok(()),
        (Kernel::LastByTs, Answer::Row(Some(i))) if i == r.last_by_ts => Ok(()),
        (Kernel::Xbar, Answer::Written(n)) if n == c.ts.len() => {
            match (0..n).find(|&row| out.xbar[row] != bucket_of(c.ts[row])) {
                None => Ok(()),
                Some(row) => mismatch(format!(
                    "row {row}: xbar({}) = {}, expected {}",
                    c.ts[row],
                    out.xbar[row],
                    bucket_of(c.ts[row])
                )),
            }
        }
        (Kernel::CopyBaseline, Answer::Written(n)) if out.xbar[..n] == *c.ts => Ok(()),
        (Kernel::BucketRuns, Answer::Written(n)) => {
            let mut start = 0usize;
            let want: Vec<BucketRun> = r
                .bars
                .iter()
                .map(|b| {
                    let run = BucketRun {
                        bucket_start_ns: b.bucket_start_ns,
                        start: start as u32,
                        end: (start as u64 + b.count) as u32,
                    };
                    start += b.count as usize;
                    run
                })
                .collect();
            if n == want.len() && out.runs == want {
                Ok(())
            } else {
                mismatch(format!(
                    "{n} runs, expected {}; first difference at run {:?}",
                    want.len(),
                    out.runs.iter().zip(&want).position(|(a, b)| a != b)
                ))
            }
        }
        (Kernel::Ohlcv, Answer::Written(n)) => {
            let bars = &out.bars;
            bars.check_invariants();
            if n != r.bars.len() {
                return mismatch(format!("{n} bars, expected {}", r.bars.len()));
            }
            for (i, want) in r.bars.iter().enumerate() {
                let same = bars.bucket_start_ns[i] == want.bucket_start_ns
                    && bars.open[i] == want.open
                    && bars.high[i] == want.high
                    && bars.low[i] == want.low
                    && bars.close[i] == want.close
                    && bars.volume[i] == want.volume
                    && bars.count[i] == want.count
                    && close(
                        bars.price_volume_sum[i],
                        want.price_volume_sum,
                        want.price_volume_sum,
                    );
                if !same {
                    return mismatch(format!(
                        "bar {i}: got start {} O {} H {} L {} C {} V {} n {} Σpv {}, expected {want:?}",
                        bars.bucket_start_ns[i],
                        bars.open[i],
                        bars.high[i],
                        bars.low[i],
                        bars.close[i],
                        bars.volume[i],
                        bars.count[i],
                        bars.price_volume_sum[i]
                    ));
                }
            }
            Ok(())
        }
        (kernel, got) => mismatch(format!("{kernel:?} answered {got:?}")),
    }
}

/// One kernel timed per a budget.
struct Timed {
    hist: Histogram<u64>,
    iters: u64,
    timed_ns: u64,
}

/// Calls `kernel` `budget.warmup` times untimed, then times single calls until the budget is
/// spent.
fn time_calls(
    kernel: Kernel,
    level: SimdLevel,
    c: Cols<'_>,
    out: &mut Scratch,
    budget: &Budget,
) -> Timed {
    for _ in 0..budget.warmup {
        black_box(call(kernel, level, black_box(c), out));
    }
    let mut hist = new_histogram();
    let (mut iters, mut timed_ns) = (0u64, 0u64);
    let budget_ns = budget.time.as_nanos() as u64;
    while (iters as usize) < budget.max_iters
        && (timed_ns < budget_ns || (iters as usize) < budget.min_iters)
    {
        let t0 = Instant::now();
        black_box(call(kernel, level, black_box(c), out));
        let ns = t0.elapsed().as_nanos() as u64;
        hist.saturating_record(ns.max(1));
        timed_ns += ns;
        iters += 1;
    }
    Timed {
        hist,
        iters,
        timed_ns,
    }
}

/// "10M", "1M", "100k": the size in case ids.
fn size_label(rows: usize) -> String {
    match rows {
        r if r >= 1_000_000 && r.is_multiple_of(1_000_000) => format!("{}M", r / 1_000_000),
        r if r >= 1_000 && r.is_multiple_of(1_000) => format!("{}k", r / 1_000),
        r => r.to_string(),
    }
}

/// This CPU's last-level cache size, from sysfs.
fn l3_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cache/index3/size").ok()?;
    let text = text.trim();
    let (digits, scale) = match text.strip_suffix('K') {
        Some(d) => (d, 1 << 10),
        None => match text.strip_suffix('M') {
            Some(d) => (d, 1 << 20),
            None => (text, 1),
        },
    };
    Some(digits.parse::<u64>().ok()? * scale)
}

/// Percent of the one-thread bandwidth that `bytes` moved in `ns` is.
fn bandwidth_pct(bytes: f64, ns: u64, bw: Bandwidth) -> f64 {
    100.0 * (bytes / ns.max(1) as f64) / bw.one_thread_gbps
}

/// What the largest size measured, per kernel: (kernel, % of bandwidth at p50).
type Verdicts = Vec<(Kernel, f64)>;

fn run_size(
    ctx: &Ctx,
    plan: &Plan,
    rows_count: usize,
    bw: Option<Bandwidth>,
    level: SimdLevel,
    rows: &mut Vec<Row>,
) -> Result<Verdicts, BenchError> {
    let size = size_label(rows_count);
    if !Kernel::ALL
        .iter()
        .any(|kernel| ctx.wants(&format!("{}-{size}", kernel.id())))
    {
        return Ok(Vec::new());
    }
    let t0 = Instant::now();
    let ticks = Ticks::generate(rows_count, workload::SEED);
    let c = Cols {
        ts: &ticks.ts,
        price: &ticks.price,
        volume: &ticks.volume,
    };
    let reference = Reference::of(c);
    let column_bytes = 8 * rows_count as u64;
    let residency = match l3_bytes() {
        Some(l3) if 3 * column_bytes <= l3 => {
            format!("three columns fit in the {} L3", fmt_bytes(l3))
        }
        Some(l3) if column_bytes <= l3 => {
            format!("one column fits in the {} L3, three do not", fmt_bytes(l3))
        }
        Some(l3) => format!("larger than the {} L3: streams from memory", fmt_bytes(l3)),
        None => "L3 size unknown".into(),
    };
    let group = format!(
        "{} rows, {} per 8-byte column ({residency}), {:?}",
        fmt_count(rows_count as u64),
        fmt_bytes(column_bytes),
        level
    );
    eprintln!(
        "  {group}: generated and reference computed in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let mut out = Scratch {
        bitmap: vec![0u8; k::bitmap_bytes(rows_count)],
        xbar: vec![0i64; rows_count],
        runs: Vec::with_capacity(reference.bars.len()),
        bars: OhlcvBars::default(),
    };
    let mut verdicts = Vec::new();
    for kernel in Kernel::ALL {
        let id = format!("{}-{size}", kernel.id());
        if !ctx.wants(&id) {
            continue;
        }
        // Every level that is timed is checked first, on its own output.
        let mut levels = vec![level];
        if level != SimdLevel::Scalar && !kernel.is_baseline() {
            levels.push(SimdLevel::Scalar);
        }
        for &l in &levels {
            let got = call(kernel, l, c, &mut out);
            check(kernel, c, got, &out, &reference).map_err(|e| {
                BenchError::Check(format!(
                    "kernel {} at {l:?} over {size} rows disagrees with the scalar loop: {e}",
                    kernel.id()
                ))
            })?;
        }
        let m = time_calls(kernel, level, c, &mut out, &plan.budget);
        let s = Summary::of(&m.hist);
        let scalar = (level != SimdLevel::Scalar && !kernel.is_baseline()).then(|| {
            let t = time_calls(kernel, SimdLevel::Scalar, c, &mut out, &plan.scalar_budget);
            t.hist.value_at_quantile(0.5)
        });
        let name = format!("kernels-{id}");
        write_hgrm(&m.hist, &ctx.out_dir, &name)?;
        let bytes = kernel.bytes_per_row() * rows_count as f64;
        let gbps = bytes / s.p50_ns.max(1) as f64;
        let pct = bw.map(|b| bandwidth_pct(bytes, s.p50_ns, b));
        let mut notes = format!(
            "{} B/row{}; at p50 {} rows/s, **{gbps:.1} GB/s**",
            kernel.bytes_per_row(),
            if kernel.skips_rows() {
                " (nominal: skips inside runs)"
            } else {
                ""
            },
            fmt_rate(rows_count as f64 * 1e9 / s.p50_ns.max(1) as f64).trim_end_matches("/s")
        );
        if let Some(pct) = pct {
            notes.push_str(&format!(" = {pct:.0}% of 1-thread bandwidth"));
        }
        if let Some(scalar_ns) = scalar {
            notes.push_str(&format!(
                "; Scalar level p50 {} ({:.1}× slower)",
                fmt_ns(scalar_ns),
                scalar_ns as f64 / s.p50_ns.max(1) as f64
            ));
        }
        eprintln!(
            "  {:<16} {:>4}  p50 {:>9} p99 {:>9} max {:>9}  {gbps:6.1} GB/s{}",
            kernel.id(),
            size,
            fmt_ns(s.p50_ns),
            fmt_ns(s.p99_ns),
            fmt_ns(s.max_ns),
            pct.map_or_else(String::new, |p| format!(" ({p:.0}%)"))
        );
        if let (Some(pct), false) = (pct, kernel.is_baseline()) {
            verdicts.push((kernel, pct));
        }
        rows.push(Row {
            group: group.clone(),
            case: kernel.title(),
            rows: rows_count as u64 * m.iters,
            rows_per_s: Some((rows_count as u64 * m.iters) as f64 * 1e9 / m.timed_ns.max(1) as f64),
            sample: "call".into(),
            latency: Some(s),
            hgrm: Some(name),
            notes,
        });
    }
    Ok(verdicts)
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let plan = Plan::new(ctx.quick);
    let level = k::simd_level();
    eprintln!(
        "kernels suite{}: sizes {:?} rows, kernels at {level:?} (CPU supports {:?})",
        if ctx.quick { " (quick)" } else { "" },
        plan.sizes_rows,
        k::cpu_level()
    );
    let mut rows = Vec::new();
    let bw = if ctx.wants("membw") {
        Some(membw::measure(
            ctx,
            plan.bandwidth_bytes,
            plan.bandwidth_passes,
            "kernels-membw",
            &mut rows,
        )?)
    } else {
        None
    };
    let mut largest = (0, Vec::new());
    for &n in &plan.sizes_rows {
        let verdicts = run_size(ctx, &plan, n, bw, level, &mut rows)?;
        if !verdicts.is_empty() {
            largest = (n, verdicts);
        }
    }
    let (largest_rows, verdicts) = largest;
    if !verdicts.is_empty() {
        rows.push(target_row(largest_rows, &verdicts));
    }
    crate::results_json::write_rows(&ctx.out_dir, "kernels", ctx.quick, &rows)?;
    Ok(Report {
        suite: "kernels".into(),
        quick: ctx.quick,
        command: ctx.command.clone(),
        machine: ctx.machine.clone(),
        loadavg_end: crate::sys::loadavg(),
        rows,
    })
}

/// Issue 6's "scans at ≥ 50% of measured memory bandwidth", over the largest size.
fn target_row(rows_count: usize, verdicts: &[(Kernel, f64)]) -> Row {
    let (met, missed): (Vec<_>, Vec<_>) = verdicts
        .iter()
        .partition(|(_, pct)| *pct >= 100.0 * BANDWIDTH_TARGET);
    let list = |v: &[&(Kernel, f64)]| {
        v.iter()
            .map(|(kernel, pct)| format!("{} {pct:.0}%", kernel.id()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut notes = format!("met by {} of {}", met.len(), verdicts.len());
    if !met.is_empty() {
        notes.push_str(&format!(": {}", list(&met)));
    }
    if !missed.is_empty() {
        notes.push_str(&format!("; **MISSED** by {}", list(&missed)));
    }
    Row {
        group: "target (issue 6)".into(),
        case: format!(
            "kernels at ≥ {:.0}% of 1-thread memory bandwidth at p50, {} rows",
            100.0 * BANDWIDTH_TARGET,
            fmt_count(rows_count as u64)
        ),
        rows: 0,
        rows_per_s: None,
        sample: "–".into(),
        latency: None,
        hgrm: None,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_agrees_with_the_scalar_loop_at_every_supported_level() {
        let ticks = Ticks::generate(5_003, 7);
        let c = Cols {
            ts: &ticks.ts,
            price: &ticks.price,
            volume: &ticks.volume,
        };
        let r = Reference::of(c);
        let mut out = Scratch {
            bitmap: vec![0u8; k::bitmap_bytes(c.ts.len())],
            xbar: vec![0; c.ts.len()],
            runs: Vec::new(),
            bars: OhlcvBars::default(),
        };
        for level in SimdLevel::ALL.into_iter().filter(|l| l.is_supported()) {
            for kernel in Kernel::ALL {
                let got = call(kernel, level, c, &mut out);
                check(kernel, c, got, &out, &r)
                    .unwrap_or_else(|e| panic!("{kernel:?} at {level:?}: {e}"));
            }
        }
    }

    #[test]
    fn a_wrong_answer_fails_the_check() {
        let ticks = Ticks::generate(1_000, 7);
        let c = Cols {
            ts: &ticks.ts,
            price: &ticks.price,
            volume: &ticks.volume,
        };
        let r = Reference::of(c);
        let mut out = Scratch {
            bitmap: vec![0u8; k::bitmap_bytes(c.ts.len())],
            xbar: vec![0; c.ts.len()],
            runs: Vec::new(),
            bars: OhlcvBars::default(),
        };
        let wrong_sum = Answer::F64(r.price_sum * (1.0 + 1e-6));
        assert!(check(Kernel::SumPrice, c, wrong_sum, &out, &r).is_err());
        assert!(check(
            Kernel::CountAbove,
            c,
            Answer::Count(r.count_above + 1),
            &out,
            &r
        )
        .is_err());
        let got = call(Kernel::Ohlcv, SimdLevel::Scalar, c, &mut out);
        out.bars.high[0] += 0.01;
        assert!(check(Kernel::Ohlcv, c, got, &out, &r).is_err());
        let got = call(Kernel::Xbar, SimdLevel::Scalar, c, &mut out);
        out.xbar[999] += 1;
        assert!(check(Kernel::Xbar, c, got, &out, &r).is_err());
    }

    #[test]
    fn size_labels() {
        assert_eq!(size_label(10_000_000), "10M");
        assert_eq!(size_label(100_000), "100k");
        assert_eq!(size_label(1_500), "1500");
    }
}
