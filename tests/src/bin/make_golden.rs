//! Writes the golden data directory of the current format version (run once per version).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let dir = match args.as_slice() {
        [_, dir] => PathBuf::from(dir),
        _ => {
            eprintln!("usage: ronto-make-golden <empty-or-missing-dir>   (e.g. tests/golden/v1)");
            return ExitCode::from(2);
        }
    };
    // Golden directories are written once and committed; refuse to touch an existing one.
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        eprintln!(
            "{} exists and is not empty: golden files are never regenerated (see tests/golden/README.md)",
            dir.display()
        );
        return ExitCode::from(1);
    }
    match tests::golden::write(&dir) {
        Ok(()) => {
            println!("wrote {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("writing {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}
