//! Command-line arguments of `ronto-bench`: `<suite> [--quick] [--out DIR] [--data DIR] [--only TEXT]`.

use std::fmt;
use std::path::PathBuf;

use crate::suites::Suite;

pub const USAGE: &str =
    "usage: ronto-bench <suite> [--quick] [--out DIR] [--data DIR] [--only TEXT]

suites: storage, kernels, query, http, ingest, peers, all (runs every implemented suite)

  --quick     small sizes, for CI smoke runs (~30 s per suite; peers may first spend ~30 s
              installing chDB and DuckDB into target/bench-venv, and skips if it cannot)
              http, ingest and peers start the `ronto` binary ($RONTO_BIN, else the one beside
              ronto-bench: cargo build -p engine --bin ronto with the same profile); http also
              needs ronto-ping-baseline (cargo build -p bench --bins)
  --out DIR   where results go (default target/bench-results)
  --data DIR  where scratch data directories go (default target/bench-data); removed afterwards
  --only TEXT run only the cases whose id (the .hgrm file name) contains TEXT (for profiling)";

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub suites: Vec<Suite>,
    /// As typed (`all` or a suite name), for the report header.
    pub suite_arg: String,
    pub quick: bool,
    pub out_dir: PathBuf,
    pub data_dir: PathBuf,
    pub only: Option<String>,
}

/// Why the arguments were rejected (the caller's fault: print it with the usage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    Help,
    MissingSuite,
    UnknownSuite(String),
    NotImplemented(Suite),
    UnknownFlag(String),
    MissingValue(&'static str),
    ExtraArgument(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help => write!(f, "{USAGE}"),
            CliError::MissingSuite => write!(f, "no suite given\n{USAGE}"),
            CliError::UnknownSuite(s) => write!(f, "unknown suite '{s}'\n{USAGE}"),
            CliError::NotImplemented(s) => {
                write!(f, "suite '{}' is planned but not implemented yet", s.name())
            }
            CliError::UnknownFlag(s) => write!(f, "unknown option '{s}'\n{USAGE}"),
            CliError::MissingValue(flag) => write!(f, "{flag} needs a value\n{USAGE}"),
            CliError::ExtraArgument(s) => write!(f, "unexpected argument '{s}'\n{USAGE}"),
        }
    }
}

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, CliError> {
        let mut suite_arg: Option<String> = None;
        let mut quick = false;
        let mut out_dir = PathBuf::from("target/bench-results");
        let mut data_dir = PathBuf::from("target/bench-data");
        let mut only = None;
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-h" | "--help" => return Err(CliError::Help),
                "--quick" => quick = true,
                "--out" => out_dir = it.next().ok_or(CliError::MissingValue("--out"))?.into(),
                "--data" => data_dir = it.next().ok_or(CliError::MissingValue("--data"))?.into(),
                "--only" => only = Some(it.next().ok_or(CliError::MissingValue("--only"))?),
                flag if flag.starts_with('-') => return Err(CliError::UnknownFlag(a)),
                _ if suite_arg.is_none() => suite_arg = Some(a),
                _ => return Err(CliError::ExtraArgument(a)),
            }
        }
        let suite_arg = suite_arg.ok_or(CliError::MissingSuite)?;
        let suites = if suite_arg == "all" {
            Suite::ALL
                .iter()
                .copied()
                .filter(|s| s.is_implemented())
                .collect()
        } else {
            let s = Suite::parse(&suite_arg)
                .ok_or_else(|| CliError::UnknownSuite(suite_arg.clone()))?;
            if !s.is_implemented() {
                return Err(CliError::NotImplemented(s));
            }
            vec![s]
        };
        Ok(Args {
            suites,
            suite_arg,
            quick,
            out_dir,
            data_dir,
            only,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, CliError> {
        Args::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_suite_and_flags() {
        let a = parse("storage --quick --out /x").unwrap();
        assert_eq!(a.suites, vec![Suite::Storage]);
        assert!(a.quick);
        assert_eq!(a.out_dir, PathBuf::from("/x"));
        assert_eq!(
            parse("storage --only seal").unwrap().only.as_deref(),
            Some("seal")
        );
        assert_eq!(
            parse("all").unwrap().suites,
            vec![
                Suite::Storage,
                Suite::Kernels,
                Suite::Query,
                Suite::Http,
                Suite::Ingest,
                Suite::Peers
            ]
        );
        assert_eq!(parse("query").unwrap().suites, vec![Suite::Query]);
        assert_eq!(
            parse("kernels --quick").unwrap().suites,
            vec![Suite::Kernels]
        );
        assert_eq!(parse("http").unwrap().suites, vec![Suite::Http]);
        assert_eq!(parse("ingest").unwrap().suites, vec![Suite::Ingest]);
        assert_eq!(parse("nope"), Err(CliError::UnknownSuite("nope".into())));
        assert_eq!(parse("--quick"), Err(CliError::MissingSuite));
        assert_eq!(parse("storage --out"), Err(CliError::MissingValue("--out")));
        assert_eq!(
            parse("storage extra"),
            Err(CliError::ExtraArgument("extra".into()))
        );
    }
}
