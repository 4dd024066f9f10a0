//! Throwaway timings, ignored by default and asserting nothing about speed: `cargo test -p sql --release -- --ignored --nocapture timing`.

use super::*;
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROWS: usize = 1_000_000;
const MINUTE_NS: i64 = 60_000_000_000;

/// xorshift64*: deterministic data without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bitmap(&mut self, rows: usize, keep_per_256: u64) -> Vec<u8> {
        let mut bits = vec![0u8; bitmap_bytes(rows)];
        for row in 0..rows {
            if self.next() % 256 < keep_per_256 {
                bits[row / 8] |= 1 << (row % 8);
            }
        }
        bits
    }
}

/// Best of several runs (the least disturbed), after a warm-up.
fn best(mut f: impl FnMut()) -> Duration {
    f();
    (0..30)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn report(name: &str, level: SimdLevel, rows: usize, bytes: usize, elapsed: Duration) {
    let seconds = elapsed.as_secs_f64();
    println!(
        "{name:<44} {level:<7?} {:>9.1} µs {:>7.3} ns/row {:>8.0} Mrows/s {:>6.1} GB/s",
        seconds * 1e6,
        seconds * 1e9 / rows as f64,
        rows as f64 / seconds / 1e6,
        bytes as f64 / seconds / 1e9,
    );
}

fn levels() -> Vec<SimdLevel> {
    SimdLevel::ALL
        .into_iter()
        .filter(|level| level.is_supported())
        .collect()
}

/// Ticks: 1M rows, starting at a real epoch, with random gaps averaging `mean_gap_ns`.
fn ticks(rng: &mut Rng, mean_gap_ns: u64) -> (Vec<i64>, Vec<f64>, Vec<i64>) {
    let mut t = 1_700_000_000_000_000_000i64;
    let ts = (0..ROWS)
        .map(|_| {
            t += (rng.next() % (2 * mean_gap_ns)) as i64;
            t
        })
        .collect();
    let price = (0..ROWS)
        .map(|_| 100.0 + (rng.next() % 10_000) as f64 / 100.0)
        .collect();
    let volume = (0..ROWS).map(|_| (rng.next() % 1_000) as i64).collect();
    (ts, price, volume)
}

#[test]
#[ignore = "timing, run by hand with --release"]
fn timing() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let floats: Vec<f64> = (0..ROWS)
        .map(|_| (rng.next() % 1_000_000) as f64 * 0.5)
        .collect();
    let ints: Vec<i64> = (0..ROWS).map(|_| rng.next() as i64 >> 8).collect();
    let validity = rng.bitmap(ROWS, 250);
    let selection = rng.bitmap(ROWS, 128);
    let (ts_day, price, volume) = ticks(&mut rng, 86_400_000_000_000 / ROWS as u64);
    let (ts_hour, _, _) = ticks(&mut rng, 3_600_000_000_000 / ROWS as u64);
    let (ts_sparse, _, _) = ticks(&mut rng, MINUTE_NS as u64); // about one row per bar
    let mut out_bits = vec![0u8; bitmap_bytes(ROWS)];
    let mut out_ints = vec![0i64; ROWS];
    let mut selection_vector = Vec::with_capacity(ROWS + 16);
    let mut runs = Vec::with_capacity(ROWS);
    let mut bars = OhlcvBars::default();

    for level in levels() {
        let bytes8 = ROWS * 8;
        report(
            "sum f64",
            level,
            ROWS,
            bytes8,
            best(|| {
                black_box(sum_with(level, black_box(&floats), None, None));
            }),
        );
        report(
            "sum i64",
            level,
            ROWS,
            bytes8,
            best(|| {
                black_box(sum_with(level, black_box(&ints), None, None));
            }),
        );
        report(
            "sum f64, validity + selection",
            level,
            ROWS,
            bytes8,
            best(|| {
                black_box(sum_with(
                    level,
                    black_box(&floats),
                    Some(&validity),
                    Some(&selection),
                ));
            }),
        );
        report(
            "min f64",
            level,
            ROWS,
            bytes8,
            best(|| {
                black_box(min_with(level, black_box(&floats), None, None));
            }),
        );
        report(
            "max i64, validity",
            level,
            ROWS,
            bytes8,
            best(|| {
                black_box(max_with(level, black_box(&ints), Some(&validity), None));
            }),
        );
        report(
            "count validity & selection",
            level,
            ROWS,
            ROWS / 4,
            best(|| {
                black_box(count_with(level, ROWS, Some(&validity), Some(&selection)));
            }),
        );
        report(
            "vwap f64 × i64",
            level,
            ROWS,
            2 * bytes8,
            best(|| {
                black_box(vwap_with(
                    level,
                    black_box(&price),
                    None,
                    &volume,
                    None,
                    None,
                ));
            }),
        );
        report(
            "vwap f64 × i64, validity + selection",
            level,
            ROWS,
            2 * bytes8,
            best(|| {
                black_box(vwap_with(
                    level,
                    black_box(&price),
                    Some(&validity),
                    &volume,
                    None,
                    Some(&selection),
                ));
            }),
        );
        report(
            "cmp i64 < scalar",
            level,
            ROWS,
            bytes8,
            best(|| {
                cmp_with(level, black_box(&ints), CmpOp::Lt, 0, &mut out_bits);
            }),
        );
        report(
            "cmp f64 >= scalar",
            level,
            ROWS,
            bytes8,
            best(|| {
                cmp_with(
                    level,
                    black_box(&floats),
                    CmpOp::Ge,
                    250_000.0,
                    &mut out_bits,
                );
            }),
        );
        report(
            "between i64 (ts_between)",
            level,
            ROWS,
            bytes8,
            best(|| {
                between_with(
                    level,
                    black_box(&ts_day),
                    ts_day[1000],
                    ts_day[900_000],
                    &mut out_bits,
                );
            }),
        );
        report(
            "bitmap → selection vector (50%)",
            level,
            ROWS,
            ROWS / 8,
            best(|| {
                bitmap_to_selection_vector_with(
                    level,
                    black_box(&selection),
                    ROWS,
                    &mut selection_vector,
                );
            }),
        );
        report(
            "xbar 1 min",
            level,
            ROWS,
            2 * bytes8,
            best(|| {
                xbar_with(level, black_box(&ts_day), MINUTE_NS, &mut out_ints);
            }),
        );
        report(
            "xbar 1 min, 32k rows (in L2)",
            level,
            32_768,
            16 * 32_768,
            best(|| {
                xbar_with(
                    level,
                    black_box(&ts_day[..32_768]),
                    MINUTE_NS,
                    &mut out_ints[..32_768],
                );
            }),
        );
        report(
            "bucket_runs 1 min, 1 day",
            level,
            ROWS,
            bytes8,
            best(|| {
                bucket_runs_with(level, black_box(&ts_day), MINUTE_NS, &mut runs);
            }),
        );
        report(
            "bucket_runs 1 min, ~1 row per bar",
            level,
            ROWS,
            bytes8,
            best(|| {
                bucket_runs_with(level, black_box(&ts_sparse), MINUTE_NS, &mut runs);
            }),
        );
        for (name, ts) in [
            ("ohlcv 1 min, 1 day (~700 rows/bar)", &ts_day),
            ("ohlcv 1 min, 1 hour (~17k rows/bar)", &ts_hour),
            ("ohlcv 1 min, ~1 row per bar", &ts_sparse),
        ] {
            let ticks = Ticks::new(ts, &price, &volume);
            report(
                name,
                level,
                ROWS,
                3 * bytes8,
                best(|| {
                    ohlcv_with(level, black_box(&ticks), MINUTE_NS, &mut bars);
                }),
            );
        }
        let masked = Ticks {
            price_validity: Some(&validity),
            ..Ticks::new(&ts_day, &price, &volume)
        };
        report(
            "ohlcv 1 min, 1 day, price validity",
            level,
            ROWS,
            3 * bytes8,
            best(|| {
                ohlcv_with(level, black_box(&masked), MINUTE_NS, &mut bars);
            }),
        );
        report(
            "first_row_by_ts (unsorted)",
            level,
            ROWS,
            bytes8,
            best(|| {
                black_box(first_row_by_ts_with(level, black_box(&ints), None, None));
            }),
        );
        println!();
    }
}
