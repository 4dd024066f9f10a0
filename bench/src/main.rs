//! `ronto-bench`: runs benchmark suites, prints their tables and writes results to `--out`.

use std::process::ExitCode;

use bench::cli::{Args, CliError};
use bench::suites::Ctx;
use bench::sys::Machine;

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(CliError::Help) => {
            println!("{}", bench::cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ronto-bench: {e}");
            return ExitCode::from(2);
        }
    };
    for dir in [&args.out_dir, &args.data_dir] {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("ronto-bench: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let quick = if args.quick { " --quick" } else { "" };
    let ctx = Ctx {
        quick: args.quick,
        out_dir: args.out_dir.clone(),
        data_dir: args.data_dir.clone(),
        command: format!("cargo run -p bench --release -- {}{quick}", args.suite_arg),
        machine: Machine::detect(),
        only: args.only.clone(),
    };
    for suite in &args.suites {
        let started = std::time::Instant::now();
        let report = match suite.run(&ctx) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("ronto-bench: suite {} failed: {e}", suite.name());
                return ExitCode::FAILURE;
            }
        };
        let md = report.markdown();
        println!("\n{md}");
        let path = args.out_dir.join(format!("{}.md", suite.name()));
        if let Err(e) = std::fs::write(&path, &md) {
            eprintln!("ronto-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!(
            "suite {} done in {:.1} s; results in {}",
            suite.name(),
            started.elapsed().as_secs_f64(),
            args.out_dir.display()
        );
    }
    ExitCode::SUCCESS
}
