//! A tiny `log` backend: one line per record on stderr, `ts level core=N msg`.
//!
//! Each line is formatted into a buffer first and written with one `write` call, so lines from
//! different cores do not interleave. The core of the current thread is a thread-local set by the
//! runtime (`core=-` on other threads). Logging is a blocking syscall: keep per-request logging at
//! `debug` or below.

use std::cell::Cell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

thread_local! {
    static CORE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the current thread as the runtime of `core` in log lines.
pub fn set_core(core: usize) {
    CORE.with(|cell| cell.set(Some(core)));
}

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger at `level`. A second call only changes the level.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = String::with_capacity(128);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format_timestamp(&mut line, now.as_secs(), now.subsec_micros());
        let core = CORE.with(Cell::get);
        use std::fmt::Write as _;
        let _ = match core {
            Some(core) => write!(line, " {:<5} core={core} {}", record.level(), record.args()),
            None => write!(line, " {:<5} core=- {}", record.level(), record.args()),
        };
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Appends `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` (UTC) for a Unix time.
fn format_timestamp(out: &mut String, unix_secs: u64, micros: u32) {
    let days = (unix_secs / 86_400) as i64;
    let secs_of_day = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    );
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso8601() {
        let mut out = String::new();
        format_timestamp(&mut out, 0, 0);
        assert_eq!(out, "1970-01-01T00:00:00.000000Z");
        out.clear();
        // 2024-02-29T12:34:56Z, a leap day.
        format_timestamp(&mut out, 1_709_210_096, 42);
        assert_eq!(out, "2024-02-29T12:34:56.000042Z");
    }
}
