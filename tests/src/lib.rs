//! Shared helpers for Ronto's cross-crate integration, crash and golden-file tests.
//!
//! This crate holds the tests that span crates or processes: the SIGKILL crash test (its child
//! binary `ronto-crash-child` ingests under `--fsync always` and acknowledges durable batches on
//! stdout), the golden-file test that reads data directories written by earlier format versions
//! (generated once by `ronto-make-golden` and committed under `golden/`), and the corruption
//! tests. The library part holds what those share: a seeded, version-stable PRNG, a fixed clock,
//! a whole-table reader that turns scans into comparable rows, and the deterministic row
//! generators of the crash and golden data sets, so that expected contents are always computed
//! by the same function that produced them.
//!
//! Nothing here may read the wall clock or an unseeded random source when producing data that a
//! test compares: every failure must be reproducible from the seed it prints.

pub mod crash;
pub mod golden;
pub mod read;
pub mod rng;

pub use read::{read_table, symbol_names, Value};
pub use rng::{mix64, SplitMix64};

/// A clock that always reads the same instant, so generated data directories do not depend on
/// when they were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl storage::Clock for FixedClock {
    fn now_ns(&self) -> i64 {
        self.0
    }
}

/// Copies the directory tree `src` to `dst` (created), so a test can open committed files
/// without changing them. Symlinks and special files are not expected and are rejected.
pub fn copy_dir(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    const DEPTH_MAX: usize = 16;
    fn copy(src: &std::path::Path, dst: &std::path::Path, depth: usize) -> std::io::Result<()> {
        assert!(
            depth < DEPTH_MAX,
            "directory tree deeper than {DEPTH_MAX} at {}",
            src.display()
        );
        std::fs::create_dir_all(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let to = dst.join(entry.file_name());
            if kind.is_dir() {
                copy(&entry.path(), &to, depth + 1)?;
            } else if kind.is_file() {
                std::fs::copy(entry.path(), &to)?;
            } else {
                return Err(std::io::Error::other(format!(
                    "{} is not a file or directory",
                    entry.path().display()
                )));
            }
        }
        Ok(())
    }
    copy(src, dst, 0)
}
