//! Latency histograms: the one histogram shape every suite uses, its summary, and `.hgrm` output.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::{BenchError, IoAt};

/// Significant digits every histogram keeps.
pub const SIGNIFICANT_DIGITS: u8 = 3;
/// Largest recordable latency: one hour. Larger values saturate (and show as the max).
pub const LATENCY_NS_MAX: u64 = 3_600_000_000_000;
/// `.hgrm` files are written in microseconds (HdrHistogram's "output value unit scaling ratio").
pub const HGRM_NS_PER_UNIT: f64 = 1_000.0;

/// A latency histogram in nanoseconds, 1 ns .. 1 h, 3 significant digits. Never resizes, so
/// recording does not allocate.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, SIGNIFICANT_DIGITS)
        .expect("valid histogram bounds")
}

/// The percentiles a report prints, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub p9999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Summary {
        Summary {
            count: h.len(),
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
            mean_ns: h.mean(),
        }
    }
}

/// Renders `h` in HdrHistogram's classic percentile-distribution format (Java's
/// `outputPercentileDistribution` with 5 ticks per half distance), values divided by
/// `ns_per_unit`. The HdrHistogram plotter reads these files.
pub fn percentile_distribution(h: &Histogram<u64>, ns_per_unit: f64) -> String {
    let digits = SIGNIFICANT_DIGITS as usize;
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if h.is_empty() {
        return out;
    }
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let value = v.value_iterated_to() as f64 / ns_per_unit;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value:12.digits$} {q:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(out, "{value:12.digits$} {q:2.12} {total:10}");
        }
    }
    // The sub-bucket count is private to the crate; it follows from the precision.
    let single_unit = 2 * 10u64.pow(SIGNIFICANT_DIGITS as u32);
    let sub_buckets = single_unit.next_power_of_two();
    let _ = writeln!(
        out,
        "#[Mean    = {:12.digits$}, StdDeviation   = {:12.digits$}]",
        h.mean() / ns_per_unit,
        h.stdev() / ns_per_unit
    );
    let _ = writeln!(
        out,
        "#[Max     = {:12.digits$}, Total count    = {:12}]",
        h.max() as f64 / ns_per_unit,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    );
    out
}

/// Writes `h` as `dir/<name>.hgrm` (microseconds).
pub fn write_hgrm(h: &Histogram<u64>, dir: &Path, name: &str) -> Result<(), BenchError> {
    let path = dir.join(format!("{name}.hgrm"));
    std::fs::write(&path, percentile_distribution(h, HGRM_NS_PER_UNIT)).at(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_ends_at_the_max_and_counts_everything() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v * 100).unwrap();
        }
        let text = percentile_distribution(&h, 1_000.0);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("Value"))
            .collect();
        let last: Vec<&str> = rows.last().unwrap().split_whitespace().collect();
        assert_eq!(last.len(), 3, "the 100% line has no 1/(1-p) column");
        assert_eq!(last[1], "1.000000000000");
        assert_eq!(last[2], "10000");
        assert!((last[0].parse::<f64>().unwrap() - 1_000.0).abs() < 1.0);
        assert!(text.contains("Total count    =        10000"));
        let s = Summary::of(&h);
        assert!(s.p50_ns <= s.p90_ns && s.p90_ns <= s.p99_ns && s.p9999_ns <= s.max_ns);
    }

    #[test]
    fn empty_histogram_has_only_the_header() {
        assert_eq!(
            percentile_distribution(&new_histogram(), 1.0)
                .lines()
                .count(),
            2
        );
    }
}
