//! Machine-readable results: a suite's report rows as `<out>/<suite>.json`, read by `bench/plot/plot.py`.
//!
//! The markdown table is for people; this file carries the same rows with numbers left as
//! numbers (latencies in ns, rates per second), so scripts need not parse formatted units.
//! Shape: `{"suite", "quick", "rows": [{"group", "case", "sample", "hgrm", "rows",
//! "rows_per_s", "notes", "latency_ns": {"count", "p50", "p90", "p99", "p99_9", "p99_99",
//! "max", "mean"} | null}]}`.

use std::path::Path;

use serde_json::{json, Value};

use crate::report::Row;
use crate::{BenchError, IoAt};

fn row_json(r: &Row) -> Value {
    json!({
        "group": r.group,
        "case": r.case,
        "sample": r.sample,
        "hgrm": r.hgrm,
        "rows": r.rows,
        "rows_per_s": r.rows_per_s,
        "notes": r.notes,
        "latency_ns": r.latency.map(|s| json!({
            "count": s.count,
            "p50": s.p50_ns,
            "p90": s.p90_ns,
            "p99": s.p99_ns,
            "p99_9": s.p999_ns,
            "p99_99": s.p9999_ns,
            "max": s.max_ns,
            "mean": s.mean_ns,
        })),
    })
}

/// Writes `rows` as `dir/<suite>.json`.
pub fn write_rows(dir: &Path, suite: &str, quick: bool, rows: &[Row]) -> Result<(), BenchError> {
    let doc = json!({
        "suite": suite,
        "quick": quick,
        "rows": rows.iter().map(row_json).collect::<Vec<_>>(),
    });
    let path = dir.join(format!("{suite}.json"));
    let text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    std::fs::write(&path, text).at(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::{new_histogram, Summary};

    #[test]
    fn rows_round_trip_with_numbers_as_numbers() {
        let mut h = new_histogram();
        h.record(1_500).unwrap();
        let rows = vec![
            Row {
                group: "g".into(),
                case: "c".into(),
                rows: 10,
                rows_per_s: Some(2.5e9),
                sample: "call".into(),
                latency: Some(Summary::of(&h)),
                hgrm: Some("kernels-x".into()),
                notes: "n".into(),
            },
            Row {
                group: "g".into(),
                case: "no latency".into(),
                rows: 0,
                rows_per_s: None,
                sample: "–".into(),
                latency: None,
                hgrm: None,
                notes: String::new(),
            },
        ];
        let dir = std::env::temp_dir().join(format!("ronto-results-json-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_rows(&dir, "kernels", true, &rows).unwrap();
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("kernels.json")).unwrap())
                .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(v["suite"], "kernels");
        assert_eq!(v["rows"][0]["hgrm"], "kernels-x");
        assert_eq!(v["rows"][0]["rows_per_s"], 2.5e9);
        let p50 = v["rows"][0]["latency_ns"]["p50"].as_u64().unwrap();
        assert!((1_499..=1_501).contains(&p50), "{p50}");
        assert!(v["rows"][1]["latency_ns"].is_null());
    }
}
