//! The `ronto` command line: `serve`, `--version`, `help`; returns the process exit status.

use crate::config::{Config, ServeArgs, SERVE_HELP};
use crate::runtime::ServerHandle;
use crate::{logger, signal};

const HELP: &str = "\
Usage: ronto <COMMAND>

Commands:
  serve [FLAGS]   run the server (`ronto serve --help` lists the flags)
  help            this text
  --version       print the version
";

/// Runs the command line given without the program name; returns the exit status (0 ok,
/// 1 runtime failure, 2 usage error).
pub fn run<S: AsRef<str>>(args: &[S]) -> i32 {
    let Some(command) = args.first().map(AsRef::as_ref) else {
        eprint!("{HELP}");
        return 2;
    };
    match command {
        "serve" => serve(&args[1..]),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            0
        }
        "--version" | "-V" | "version" => {
            println!("ronto {}", crate::VERSION);
            0
        }
        other => {
            eprintln!("error: unknown command {other:?}\n\n{HELP}");
            2
        }
    }
}

fn serve<S: AsRef<str>>(args: &[S]) -> i32 {
    let config = match Config::from_args(args) {
        Ok(ServeArgs::Run(config)) => config,
        Ok(ServeArgs::Help) => {
            print!("{SERVE_HELP}");
            return 0;
        }
        Err(error) => {
            eprintln!("error: {error}\n(see `ronto serve --help`)");
            return 2;
        }
    };
    logger::init(config.log_level);
    let signals = match signal::block_termination_signals() {
        Ok(signals) => signals,
        Err(error) => {
            log::error!("cannot block termination signals: {error}");
            return 1;
        }
    };
    let handle = match ServerHandle::start(config) {
        Ok(handle) => handle,
        Err(error) => {
            log::error!("{error}");
            return 1;
        }
    };
    let trigger = handle.shutdown_trigger();
    let waiter = signal::spawn_waiter(signals, move |received, count| {
        if count == 1 {
            log::info!(
                "{}: shutting down (send it again to exit at once)",
                signal::name(received)
            );
            trigger();
        } else {
            log::warn!(
                "{} again: exiting without a clean shutdown",
                signal::name(received)
            );
            std::process::exit(1);
        }
    });
    if let Err(error) = waiter {
        log::error!("cannot start the signal thread: {error}");
        handle.shutdown();
    }
    match handle.wait() {
        Ok(()) => {
            log::info!("stopped cleanly");
            0
        }
        Err(_) => 1,
    }
}
