//! Logs: what protector does under the hood (every HTTP call with its request id, retries,
//! lost answers, failed boots tried again, lock takeovers), on stderr or in `--log-file`, never
//! on stdout, which carries the command's output. Off unless asked, as in the openstack CLI:
//! `-v` says what protector decided, `-vv` (or `--debug`) adds every HTTP call (method, path,
//! status, duration, request id), `-vvv` their bodies, with every value under a key that names
//! a secret masked. `RUST_LOG` (`debug`, `protector=trace`, ...) overrides the flags.

use std::path::Path;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// Starts logging as the flags and `RUST_LOG` ask; nothing when neither does.
pub fn init(verbose: u8, debug: bool, log_file: Option<&Path>) -> Result<(), String> {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty());
    let filter = match from_env {
        Some(directives) => directives
            .parse::<Targets>()
            .map_err(|error| format!("RUST_LOG `{directives}` is not a log filter: {error}"))?,
        None => {
            let level = match (verbose, debug) {
                (0, false) => return Ok(()),
                (1, false) => LevelFilter::INFO,
                (0..=2, _) => LevelFilter::DEBUG,
                _ => LevelFilter::TRACE,
            };
            // protector's own events: the HTTP and TLS crates below it say nothing an
            // operator can act on.
            Targets::new().with_target("protector", level)
        }
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    match log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| format!("cannot open the log file {}: {error}", path.display()))?;
            registry
                .with(layer.with_writer(std::sync::Mutex::new(file)))
                .try_init()
        }
        None => registry.with(layer.with_writer(std::io::stderr)).try_init(),
    }
    .map_err(|error| format!("cannot start logging: {error}"))
}
