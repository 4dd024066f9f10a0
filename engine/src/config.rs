//! Server configuration: defaults, an optional TOML file, and `ronto serve` flags (flags win).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use log::LevelFilter;
use serde::Deserialize;
use storage::FsyncPolicy;

/// Everything `ronto serve` can be told. Units are in the names; every bound has a default that
/// serves on a fresh machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Root of the on-disk state; core `i` owns `data_dir/shard-<i>`.
    pub data_dir: PathBuf,
    /// TCP port of the ClickHouse-compatible HTTP interface; 0 picks a free one (tests).
    pub http_port: u16,
    /// Address to listen on.
    pub listen: IpAddr,
    /// Cores (= shards = runtimes). Changing it for an existing data directory re-homes no data:
    /// symbols hash to shards by `cores`, so keep it fixed per data directory.
    pub cores: usize,
    /// WAL durability: `always`, `batch`, `batch(Nms)` or `never`.
    pub fsync: FsyncPolicy,
    pub log_level: LevelFilter,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: u64,
    /// Largest request head accepted (431 above it).
    pub max_header_bytes: usize,
    /// Open connections per core; the next one gets 503 and is closed.
    pub max_connections_per_core: usize,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout_ms: u64,
    /// A request whose head and body take longer than this to arrive gets 408.
    pub request_timeout_ms: u64,
    /// Rows per sealed block (`storage::ShardConfig::block_rows`).
    pub block_rows: usize,
    /// A hot buffer older than this is sealed by the periodic tick.
    pub seal_age_ms: u64,
    /// Most rows a query may return (enforced by the query layer).
    pub max_result_rows: u64,
    /// Most memory one query may hold (enforced by the query layer).
    pub max_query_memory_bytes: u64,
    /// Calls one core may have in flight to another (the SPSC queue bound).
    pub queue_depth: usize,
    /// How long a call waits for room in a full queue before failing with `MeshError::Busy`.
    pub mesh_wait_ms: u64,
    /// How long an idle mesh poller keeps polling before it parks its core.
    pub mesh_spin_us: u64,
    /// How long shutdown waits for in-flight requests before closing their connections.
    pub shutdown_grace_ms: u64,
    /// Output format for clients that name none (the query layer's `--default-format`).
    pub default_format: Option<String>,
    /// Users who may connect, (name, password). Empty: no authentication, as ClickHouse's
    /// `default` user without a password. See `auth.rs`.
    pub users: Vec<(String, String)>,
    /// The raw TCP line-protocol port (`--ilp-port`); `None`: no such listener.
    pub ilp_port: Option<u16>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("./ronto-data"),
            http_port: 8123,
            listen: IpAddr::from([127, 0, 0, 1]),
            cores: available_cores(),
            fsync: FsyncPolicy::Batch { interval_ms: 10 },
            log_level: LevelFilter::Info,
            max_body_bytes: net::Limits::DEFAULT.max_body_bytes,
            max_header_bytes: net::Limits::DEFAULT.max_header_bytes,
            max_connections_per_core: 4096,
            idle_timeout_ms: 30_000,
            request_timeout_ms: 30_000,
            block_rows: 65_536,
            seal_age_ms: 60_000,
            max_result_rows: 10_000_000,
            max_query_memory_bytes: 2 << 30,
            queue_depth: 1024,
            mesh_wait_ms: 100,
            mesh_spin_us: 50,
            shutdown_grace_ms: 10_000,
            default_format: None,
            users: Vec::new(),
            ilp_port: None,
        }
    }
}

/// CPUs this process may run on (at least 1).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A configuration the user got wrong; `ronto` prints it and exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown flag {0}")]
    UnknownFlag(String),
    #[error("flag {0} needs a value")]
    MissingValue(String),
    #[error("invalid value {value:?} for {name}: {reason}")]
    InvalidValue {
        name: String,
        value: String,
        reason: String,
    },
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ServeArgs {
    Run(Config),
    Help,
}

/// Help text of `ronto serve`.
pub const SERVE_HELP: &str = "\
Usage: ronto serve [FLAGS]

Starts the Ronto server: one pinned runtime and one shard per core, ClickHouse-compatible HTTP.
Flags override the file given with --config; both override the defaults shown.

  --config PATH                   TOML file with any of the keys below (snake_case names)
  --data-dir PATH                 data directory [./ronto-data]
  --http-port PORT                HTTP port [8123]
  --listen ADDR                   listen address [127.0.0.1]
  --cores N                       cores, shards and runtimes [all available]
  --fsync POLICY                  always | batch | batch(Nms) | never [batch = batch(10ms)]
  --log-level LEVEL               off | error | warn | info | debug | trace [info]
  --max-body-bytes N              largest request body, 413 above [268435456]
  --max-header-bytes N            largest request head, 431 above [65536]
  --max-connections-per-core N    open connections per core, 503 above [4096]
  --idle-timeout-ms N             close keep-alive connections idle this long [30000]
  --request-timeout-ms N          408 when a request takes longer to arrive [30000]
  --block-rows N                  rows per sealed block [65536]
  --seal-age-ms N                 seal hot buffers older than this [60000]
  --max-result-rows N             most rows a query returns [10000000]
  --max-query-memory-bytes N      most memory one query holds [2147483648]
  --queue-depth N                 in-flight calls per pair of cores [1024]
  --mesh-wait-ms N                wait for a full queue before 503 [100]
  --mesh-spin-us N                idle mesh polling before a core parks [50]
  --shutdown-grace-ms N           wait for in-flight requests on shutdown [10000]
  --default-format NAME           output format when a request names none [query layer's]
  --ilp-port N                    also take InfluxDB line protocol over raw TCP on this port,
                                  unacknowledged (QuestDB's 9009 style) [off]
  --user NAME:PASSWORD            a user who may connect (repeatable; none: no authentication;
                                  prefer `users = [...]` in the --config file, argv is visible)
  -h, --help                      this text
";

/// The TOML file: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    http_port: Option<u16>,
    listen: Option<String>,
    cores: Option<usize>,
    fsync: Option<String>,
    log_level: Option<String>,
    max_body_bytes: Option<u64>,
    max_header_bytes: Option<usize>,
    max_connections_per_core: Option<usize>,
    idle_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    block_rows: Option<usize>,
    seal_age_ms: Option<u64>,
    max_result_rows: Option<u64>,
    max_query_memory_bytes: Option<u64>,
    queue_depth: Option<usize>,
    mesh_wait_ms: Option<u64>,
    mesh_spin_us: Option<u64>,
    shutdown_grace_ms: Option<u64>,
    default_format: Option<String>,
    /// `["name:password", ...]`.
    users: Option<Vec<String>>,
    ilp_port: Option<u16>,
}

impl Config {
    /// Parses the arguments after `serve`: flags as `--name value` or `--name=value`.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<ServeArgs, ConfigError> {
        let mut flags: Vec<(String, String)> = Vec::new();
        let mut config_path: Option<PathBuf> = None;
        let mut index = 0;
        while index < args.len() {
            let arg = args[index].as_ref();
            index += 1;
            if arg == "-h" || arg == "--help" {
                return Ok(ServeArgs::Help);
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(ConfigError::UnknownFlag(arg.to_owned()));
            };
            let (name, inline_value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (flag, None),
            };
            let key = name.replace('-', "_");
            if !FLAG_KEYS.contains(&key.as_str()) && key != "config" {
                return Err(ConfigError::UnknownFlag(arg.to_owned()));
            }
            let value = match inline_value {
                Some(value) => value,
                None => {
                    let Some(value) = args.get(index) else {
                        return Err(ConfigError::MissingValue(format!("--{name}")));
                    };
                    index += 1;
                    value.as_ref().to_owned()
                }
            };
            if key == "config" {
                config_path = Some(PathBuf::from(value));
            } else {
                flags.push((key, value));
            }
        }
        let mut config = Config::default();
        if let Some(path) = config_path {
            config.apply_file(&path)?;
        }
        for (key, value) in flags {
            config.set(&key, &value, &format!("--{}", key.replace('_', "-")))?;
        }
        config.validate()?;
        Ok(ServeArgs::Run(config))
    }

    /// Applies a TOML file over the current values.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        self.apply_toml(&text)
            .map_err(|message| ConfigError::ParseFile {
                path: path.to_owned(),
                message,
            })
    }

    fn apply_toml(&mut self, toml_text: &str) -> Result<(), String> {
        fn text(value: Option<impl ToString>) -> Option<String> {
            value.map(|v| v.to_string())
        }
        let file: FileConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        let mut set = |key: &str, value: Option<String>| -> Result<(), String> {
            match value {
                Some(value) => self.set(key, &value, key).map_err(|e| e.to_string()),
                None => Ok(()),
            }
        };
        set(
            "data_dir",
            file.data_dir.map(|p| p.to_string_lossy().into_owned()),
        )?;
        set("http_port", text(file.http_port))?;
        set("listen", file.listen)?;
        set("cores", text(file.cores))?;
        set("fsync", file.fsync)?;
        set("log_level", file.log_level)?;
        set("max_body_bytes", text(file.max_body_bytes))?;
        set("max_header_bytes", text(file.max_header_bytes))?;
        set(
            "max_connections_per_core",
            text(file.max_connections_per_core),
        )?;
        set("idle_timeout_ms", text(file.idle_timeout_ms))?;
        set("request_timeout_ms", text(file.request_timeout_ms))?;
        set("block_rows", text(file.block_rows))?;
        set("seal_age_ms", text(file.seal_age_ms))?;
        set("max_result_rows", text(file.max_result_rows))?;
        set("max_query_memory_bytes", text(file.max_query_memory_bytes))?;
        set("queue_depth", text(file.queue_depth))?;
        set("mesh_wait_ms", text(file.mesh_wait_ms))?;
        set("mesh_spin_us", text(file.mesh_spin_us))?;
        set("shutdown_grace_ms", text(file.shutdown_grace_ms))?;
        set("default_format", file.default_format)?;
        set("ilp_port", text(file.ilp_port))?;
        for user in file.users.unwrap_or_default() {
            set("user", Some(user))?;
        }
        Ok(())
    }

    /// Sets one field from its text form; `shown` names it in errors (`--flag` or file key).
    fn set(&mut self, key: &str, value: &str, shown: &str) -> Result<(), ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidValue {
            name: shown.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        fn number<T: std::str::FromStr>(value: &str) -> Option<T> {
            value.replace('_', "").parse().ok()
        }
        macro_rules! num {
            ($field:ident) => {
                self.$field =
                    number(value).ok_or_else(|| invalid("expected a non-negative integer"))?
            };
        }
        match key {
            "data_dir" => self.data_dir = PathBuf::from(value),
            "http_port" => num!(http_port),
            "listen" => {
                self.listen = value
                    .parse()
                    .map_err(|_| invalid("expected an IP address"))?
            }
            "cores" => num!(cores),
            "fsync" => {
                self.fsync = FsyncPolicy::parse(value)
                    .ok_or_else(|| invalid("expected always, batch, batch(Nms) or never"))?
            }
            "log_level" => {
                self.log_level = value
                    .parse()
                    .map_err(|_| invalid("expected off, error, warn, info, debug or trace"))?
            }
            "max_body_bytes" => num!(max_body_bytes),
            "max_header_bytes" => num!(max_header_bytes),
            "max_connections_per_core" => num!(max_connections_per_core),
            "idle_timeout_ms" => num!(idle_timeout_ms),
            "request_timeout_ms" => num!(request_timeout_ms),
            "block_rows" => num!(block_rows),
            "seal_age_ms" => num!(seal_age_ms),
            "max_result_rows" => num!(max_result_rows),
            "max_query_memory_bytes" => num!(max_query_memory_bytes),
            "queue_depth" => num!(queue_depth),
            "mesh_wait_ms" => num!(mesh_wait_ms),
            "mesh_spin_us" => num!(mesh_spin_us),
            "shutdown_grace_ms" => num!(shutdown_grace_ms),
            "default_format" => self.default_format = Some(value.to_owned()),
            "ilp_port" => {
                self.ilp_port =
                    Some(number(value).ok_or_else(|| invalid("expected a port number"))?)
            }
            "user" => {
                let (name, password) = value
                    .split_once(':')
                    .filter(|(name, _)| !name.is_empty())
                    .ok_or_else(|| invalid("expected NAME:PASSWORD"))?;
                if self.users.iter().any(|(n, _)| n == name) {
                    return Err(invalid("this user is given twice"));
                }
                self.users.push((name.to_owned(), password.to_owned()));
            }
            _ => return Err(ConfigError::UnknownFlag(shown.to_owned())),
        }
        Ok(())
    }

    /// Rejects values no server can run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |name: &str, value: u64| {
            if value == 0 {
                Err(ConfigError::InvalidValue {
                    name: name.to_owned(),
                    value: "0".to_owned(),
                    reason: "must be at least 1".to_owned(),
                })
            } else {
                Ok(())
            }
        };
        positive("cores", self.cores as u64)?;
        positive("queue_depth", self.queue_depth as u64)?;
        positive("block_rows", self.block_rows as u64)?;
        positive(
            "max_connections_per_core",
            self.max_connections_per_core as u64,
        )?;
        positive("max_header_bytes", self.max_header_bytes as u64)?;
        positive("idle_timeout_ms", self.idle_timeout_ms)?;
        positive("request_timeout_ms", self.request_timeout_ms)?;
        if self.ilp_port.is_some() && !self.users.is_empty() {
            return Err(ConfigError::InvalidValue {
                name: "ilp_port".to_owned(),
                value: self.ilp_port.unwrap_or(0).to_string(),
                reason: "the raw TCP line-protocol listener has no authentication, so it \
                         cannot be combined with --user"
                    .to_owned(),
            });
        }
        if self.cores > 1024 {
            return Err(ConfigError::InvalidValue {
                name: "cores".to_owned(),
                value: self.cores.to_string(),
                reason: "at most 1024".to_owned(),
            });
        }
        Ok(())
    }

    /// The parser bounds this configuration implies.
    pub fn limits(&self) -> net::Limits {
        net::Limits {
            max_header_bytes: self.max_header_bytes,
            max_body_bytes: self.max_body_bytes,
            max_target_bytes: net::Limits::DEFAULT
                .max_target_bytes
                .min(self.max_header_bytes),
            ..net::Limits::DEFAULT
        }
    }

    /// The directory of shard `index`.
    pub fn shard_dir(&self, index: usize) -> PathBuf {
        self.data_dir.join(format!("shard-{index}"))
    }

    /// Storage settings of one shard.
    pub fn shard_config(&self) -> storage::ShardConfig {
        storage::ShardConfig {
            fsync: self.fsync,
            block_rows: self.block_rows,
            seal_age_ns: (self.seal_age_ms as i64).saturating_mul(1_000_000),
            ..storage::ShardConfig::default()
        }
    }
}

/// Keys settable by flag (and by file), in `--help` order.
const FLAG_KEYS: &[&str] = &[
    "data_dir",
    "http_port",
    "listen",
    "cores",
    "fsync",
    "log_level",
    "max_body_bytes",
    "max_header_bytes",
    "max_connections_per_core",
    "idle_timeout_ms",
    "request_timeout_ms",
    "block_rows",
    "seal_age_ms",
    "max_result_rows",
    "max_query_memory_bytes",
    "queue_depth",
    "mesh_wait_ms",
    "mesh_spin_us",
    "shutdown_grace_ms",
    "default_format",
    "user",
    "ilp_port",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        match Config::from_args(args).unwrap() {
            ServeArgs::Run(config) => config,
            ServeArgs::Help => panic!("unexpected help"),
        }
    }

    #[test]
    fn users_come_from_flags_and_the_file() {
        let c = run(&["--user", "alice:a:b", "--user=bob:"]);
        assert_eq!(
            c.users,
            vec![
                ("alice".to_string(), "a:b".to_string()),
                ("bob".to_string(), String::new())
            ]
        );
        assert!(Config::default().users.is_empty());
        for bad in [
            &["--user", "nocolon"][..],
            &["--user", ":pw"],
            &["--user", "a:1", "--user", "a:2"],
        ] {
            assert!(Config::from_args(bad).is_err(), "{bad:?}");
        }
        let mut c = Config::default();
        c.apply_toml("users = [\"carol:x\"]").unwrap();
        assert_eq!(c.users, vec![("carol".to_string(), "x".to_string())]);
    }

    #[test]
    fn defaults_serve_on_a_fresh_machine() {
        let config = run(&[]);
        assert_eq!(config.data_dir, PathBuf::from("./ronto-data"));
        assert_eq!(config.http_port, 8123);
        assert_eq!(config.listen.to_string(), "127.0.0.1");
        assert_eq!(config.fsync, FsyncPolicy::Batch { interval_ms: 10 });
        assert!(config.cores >= 1);
    }

    #[test]
    fn flags_take_both_forms() {
        let config = run(&[
            "--http-port",
            "9000",
            "--fsync=batch(5ms)",
            "--cores",
            "3",
            "--log-level=debug",
            "--listen",
            "::1",
        ]);
        assert_eq!(config.http_port, 9000);
        assert_eq!(config.fsync, FsyncPolicy::Batch { interval_ms: 5 });
        assert_eq!(config.cores, 3);
        assert_eq!(config.log_level, LevelFilter::Debug);
        assert_eq!(config.listen.to_string(), "::1");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ronto.toml");
        std::fs::write(
            &path,
            "http_port = 9100\nfsync = \"never\"\ndata_dir = \"/tmp/x\"\nqueue_depth = 8\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let config = run(&["--http-port", "9200", "--config", path]);
        assert_eq!(config.http_port, 9200);
        assert_eq!(config.fsync, FsyncPolicy::Never);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.queue_depth, 8);
    }

    #[test]
    fn mistakes_are_clear_errors() {
        let error = Config::from_args(&["--bogus", "1"]).unwrap_err();
        assert_eq!(error.to_string(), "unknown flag --bogus");
        let error = Config::from_args(&["--http-port"]).unwrap_err();
        assert_eq!(error.to_string(), "flag --http-port needs a value");
        let error = Config::from_args(&["--fsync", "sometimes"]).unwrap_err();
        assert!(error.to_string().contains("expected always"), "{error}");
        let error = Config::from_args(&["--cores", "0"]).unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
        let error = Config::from_args(&["serve"]).unwrap_err();
        assert_eq!(error.to_string(), "unknown flag serve");
        let mut config = Config::default();
        let error = config.apply_toml("nope = 1").unwrap_err();
        assert!(error.contains("unknown field"), "{error}");
        assert_eq!(Config::from_args(&["--help"]).unwrap(), ServeArgs::Help);
    }
}
