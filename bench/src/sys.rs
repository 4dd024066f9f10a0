//! The machine the benchmark runs on: CPU and kernel facts, thread CPU time, disk space, scratch dirs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{BenchError, IoAt};

/// What a result table says about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub kernel: String,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages when the run started: other work on the
    /// machine skews results, and this says how much there was.
    pub loadavg: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            loadavg: loadavg(),
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            kernel,
        }
    }
}

/// `/proc/loadavg`'s 1, 5 and 15 minute load averages, as text.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Where the calling thread's time went, from `/proc/thread-self/schedstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadTimes {
    /// Time running on a CPU.
    pub run_ns: u64,
    /// Time runnable but waiting for a CPU (other work on the machine).
    pub wait_ns: u64,
}

impl ThreadTimes {
    /// The calling thread's totals so far, if the kernel exposes them.
    pub fn now() -> Option<ThreadTimes> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut f = s.split_whitespace().map(|x| x.parse::<u64>().ok());
        Some(ThreadTimes {
            run_ns: f.next()??,
            wait_ns: f.next()??,
        })
    }

    /// `self - earlier`.
    pub fn since(self, earlier: ThreadTimes) -> ThreadTimes {
        ThreadTimes {
            run_ns: self.run_ns.saturating_sub(earlier.run_ns),
            wait_ns: self.wait_ns.saturating_sub(earlier.wait_ns),
        }
    }

    /// "on CPU x%, waiting for a CPU y%" of `wall_ns`; the rest is blocked (I/O, sleep).
    pub fn note(self, wall_ns: u64) -> String {
        let pct = |ns: u64| 100.0 * ns as f64 / wall_ns.max(1) as f64;
        format!(
            "on CPU {:.0}%, waiting for a CPU {:.0}%",
            pct(self.run_ns),
            pct(self.wait_ns)
        )
    }
}

/// Bytes available to unprivileged users on the filesystem holding `path`, from `df -Pk`.
pub fn disk_available_bytes(path: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(path)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// Bytes held by the files under `path` (recursively); 0 if it does not exist.
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// A directory for one case's data, removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates a fresh `root/<label>-<pid>-<n>`.
    pub fn new(root: &Path, label: &str) -> Result<ScratchDir, BenchError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("{label}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).at(&path)?;
        }
        std::fs::create_dir_all(&path).at(&path)?;
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("warning: could not remove {}: {e}", self.path.display());
        }
    }
}
