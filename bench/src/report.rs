//! A suite's results: rows of one markdown table, with number formatting that keeps units explicit.

use std::fmt::Write as _;

use crate::hist::Summary;
use crate::sys::Machine;

/// One measured case.
#[derive(Debug, Clone)]
pub struct Row {
    /// Table section this row belongs to (rows are grouped under it in order of first use).
    pub group: String,
    pub case: String,
    /// Rows (ticks) the case processed while timed.
    pub rows: u64,
    /// Rows per second of timed wall-clock time, on one thread (= one core's shard).
    pub rows_per_s: Option<f64>,
    /// What one histogram sample is (e.g. "append+commit"), and its percentiles.
    pub sample: String,
    pub latency: Option<Summary>,
    /// Name of the `.hgrm` file (without extension), if one was written.
    pub hgrm: Option<String>,
    pub notes: String,
}

/// Everything a suite measured, plus where and how.
#[derive(Debug, Clone)]
pub struct Report {
    pub suite: String,
    pub quick: bool,
    pub command: String,
    pub machine: Machine,
    /// Load averages when the suite finished (the start's are in `machine`).
    pub loadavg_end: String,
    pub rows: Vec<Row>,
}

impl Report {
    /// The results as markdown: a short header (machine, command) and one table.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mode = if self.quick { " (--quick)" } else { "" };
        let _ = writeln!(out, "## `{}` suite{mode}\n", self.suite);
        let _ = writeln!(
            out,
            "Machine: {} × {}, kernel {}; load average {} at start, {} at end. Command: `{}`.\n",
            self.machine.nproc,
            self.machine.cpu_model,
            self.machine.kernel,
            self.machine.loadavg,
            self.loadavg_end,
            self.command
        );
        out.push_str(
            "| case | rows | rows/s (1 core) | sample | p50 | p90 | p99 | p99.9 | p99.99 | max | notes |\n\
             |---|--:|--:|---|--:|--:|--:|--:|--:|--:|---|\n",
        );
        let mut groups: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !groups.contains(&r.group.as_str()) {
                groups.push(&r.group);
            }
        }
        for g in groups {
            let _ = writeln!(out, "| **{g}** | | | | | | | | | | |");
            for r in self.rows.iter().filter(|r| r.group == g) {
                let rate = r.rows_per_s.map_or_else(|| "–".to_string(), fmt_rate);
                let lat = match &r.latency {
                    Some(s) => [
                        s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.p9999_ns, s.max_ns,
                    ]
                    .map(fmt_ns)
                    .join(" | "),
                    None => "– | – | – | – | – | –".to_string(),
                };
                let sample = match &r.latency {
                    Some(s) => format!("{} ×{}", r.sample, fmt_count(s.count)),
                    None => r.sample.clone(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {rate} | {sample} | {lat} | {} |",
                    r.case,
                    if r.rows == 0 {
                        "–".to_string()
                    } else {
                        fmt_count(r.rows)
                    },
                    r.notes
                );
            }
        }
        out
    }
}

/// A duration in ns with a unit that keeps 3 significant digits: `812 ns`, `4.12 µs`, `1.30 s`.
pub fn fmt_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{} µs", sig3(v / 1e3))
    } else if ns < 1_000_000_000 {
        format!("{} ms", sig3(v / 1e6))
    } else {
        format!("{} s", sig3(v / 1e9))
    }
}

/// A count: exact below 10,000, else with a k/M/G suffix.
pub fn fmt_count(n: u64) -> String {
    let v = n as f64;
    if n < 10_000 {
        n.to_string()
    } else if n < 1_000_000 {
        format!("{}k", sig3(v / 1e3))
    } else if n < 1_000_000_000 {
        format!("{}M", sig3(v / 1e6))
    } else {
        format!("{}G", sig3(v / 1e9))
    }
}

/// An integer with thousands separators: `65,536`.
pub fn fmt_int(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).expect("ASCII digits"))
        .collect();
    groups.join(",")
}

/// A rate per second with a k/M/G suffix.
pub fn fmt_rate(per_s: f64) -> String {
    if per_s < 1e3 {
        format!("{}/s", sig3(per_s))
    } else if per_s < 1e6 {
        format!("{}k/s", sig3(per_s / 1e3))
    } else if per_s < 1e9 {
        format!("{}M/s", sig3(per_s / 1e6))
    } else {
        format!("{}G/s", sig3(per_s / 1e9))
    }
}

/// Bytes with a binary unit.
pub fn fmt_bytes(b: u64) -> String {
    let v = b as f64;
    if b < 1 << 10 {
        format!("{b} B")
    } else if b < 1 << 20 {
        format!("{} KiB", sig3(v / 1024.0))
    } else if b < 1 << 30 {
        format!("{} MiB", sig3(v / (1u64 << 20) as f64))
    } else {
        format!("{} GiB", sig3(v / (1u64 << 30) as f64))
    }
}

/// Three significant digits, no exponent (values here are >= 1 and < 1000 by construction).
fn sig3(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_explicit_and_three_digits() {
        assert_eq!(fmt_ns(812), "812 ns");
        assert_eq!(fmt_ns(4_123), "4.12 µs");
        assert_eq!(fmt_ns(1_300_000_000), "1.30 s");
        assert_eq!(fmt_count(1_000), "1000");
        assert_eq!(fmt_count(65_536), "65.5k");
        assert_eq!(fmt_count(100_000_000), "100M");
        assert_eq!(fmt_rate(12_345_678.0), "12.3M/s");
        assert_eq!(fmt_int(65_536), "65,536");
        assert_eq!(fmt_int(100_000_000), "100,000,000");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_bytes(3 << 30), "3.00 GiB");
    }
}
