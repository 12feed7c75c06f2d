//! `weir serve`: one runtime of a pool. Runs the jobs of a config file and of the registry,
//! and serves the HTTP API, `/metrics` and the probes, until SIGINT or SIGTERM.
//!
//! Start as many runtimes as you like against the same brokers: they join the same consumer
//! groups and Kafka spreads the partitions among them. On SIGINT/SIGTERM each stage stops
//! polling, writes what it has, commits, and leaves its groups, within `--shutdown-grace`.

use crate::config::ServeConfig;
use crate::units::parse_bytes;
use anyhow::{Context, Result};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Arguments of `weir serve`. Every setting can also come from the config file or a `WEIR_*`
/// variable (`WEIR_BROKERS`, `WEIR_LISTEN`, `WEIR_TOKEN`, `WEIR_MAX_UPLOAD`,
/// `WEIR_SHUTDOWN_GRACE`, `WEIR_COMPILE_CACHE`...); flags win.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A config file (TOML) with settings and `[[job]]` sections; optional: jobs can come
    /// from the registry alone.
    #[arg(long, short, env = "WEIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers.
    #[arg(long, short)]
    pub brokers: Option<String>,
    /// Address of the HTTP API, /metrics and the probes (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    /// Bearer token for the API's mutating endpoints (prefer `WEIR_TOKEN`: flags show in `ps`).
    #[arg(long)]
    pub token: Option<String>,
    /// Listen beyond loopback without a token: anyone who reaches the API can then upload
    /// and run modules.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Largest module accepted by the API, e.g. `32MiB`.
    #[arg(long, value_parser = parse_bytes)]
    pub max_upload: Option<usize>,
    /// How long SIGTERM waits for the jobs to commit and leave their groups, e.g. `30s`.
    #[arg(long, value_parser = crate::units::parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// Where compiled modules are kept across restarts: a directory, or `off` (default
    /// `~/.cache/weir/compiled`; also `WEIR_COMPILE_CACHE`).
    #[arg(long, value_name = "DIR")]
    pub compile_cache: Option<String>,
    /// Kafka client properties of a secured cluster (`-X KEY=VALUE`; over the config's
    /// `[kafka]` table and `WEIR_KAFKA_*`).
    #[command(flatten)]
    pub kafka: super::kafka_properties::KafkaPropertyArgs,
}

/// Runs `weir serve`.
pub fn serve(args: &ServeArgs) -> Result<()> {
    let mut config = ServeConfig::load(args.config.as_deref())?;
    if let Some(brokers) = &args.brokers {
        config.brokers.clone_from(brokers);
    }
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    if args.token.is_some() {
        config.token.clone_from(&args.token);
    }
    config.token = config.token.filter(|t| !t.trim().is_empty());
    config.allow_unauthenticated |= args.allow_unauthenticated;
    if let Some(max) = args.max_upload {
        config.max_upload = max;
    }
    if let Some(grace) = args.shutdown_grace {
        config.shutdown_grace = grace;
    }
    if args.compile_cache.is_some() {
        config.compile_cache.clone_from(&args.compile_cache);
    }
    config.kafka = args.kafka.over(&config.kafka);
    crate::kafka::properties::install(config.kafka.clone())
        .context("cannot use the Kafka client properties")?;
    check_exposure(&config)?;
    let listener = crate::server::bind(&config.listen)?;
    let address = listener
        .local_addr()
        .map_or_else(|_| config.listen.clone(), |a| a.to_string());
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, shutdown.clone()).context("cannot handle signals")?;
    }
    exit_after_grace(shutdown.clone(), config.shutdown_grace);
    let jobs = if config.jobs.is_empty() {
        "none from a file".to_string()
    } else {
        config
            .jobs
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "weir serve: brokers {}, API on http://{} ({}), jobs: {jobs}, plus the registry's (`{}`)",
        config.brokers,
        address,
        if config.token.is_some() {
            "token required for changes"
        } else {
            "no token"
        },
        config.registry_topic,
    );
    crate::server::run(&config, Some(listener), &shutdown)
}

/// Slack after the grace period for what follows the jobs' stop: the last status, the API's
/// requests in flight, the Kafka clients' goodbyes.
const EXIT_SLACK: Duration = Duration::from_secs(10);

/// Ends the process if it is still running `grace` + [`EXIT_SLACK`] after a signal: closing
/// Kafka clients against a broker that went away can block far longer than the grace period
/// (seen once when a compose `down` stopped the broker with the runtimes), and an
/// orchestrator expects the exit. Nothing is lost: what was not committed is replayed.
fn exit_after_grace(shutdown: Arc<AtomicBool>, grace: Duration) {
    let spawned = std::thread::Builder::new()
        .name("weir-exit".into())
        .spawn(move || {
            while !shutdown.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(grace + EXIT_SLACK);
            tracing::error!(
                "still running {:?} after the signal (grace period {grace:?}): exiting now; \
                 uncommitted records are replayed by the runtime that takes the partitions",
                grace + EXIT_SLACK
            );
            std::process::exit(1);
        });
    if let Err(err) = spawned {
        tracing::warn!("no exit deadline after signals: {err}");
    }
}

/// Refuses to serve the API beyond loopback without a token, unless told to.
fn check_exposure(config: &ServeConfig) -> Result<()> {
    if config.token.is_some() || config.allow_unauthenticated {
        return Ok(());
    }
    let addresses: Vec<SocketAddr> = config
        .listen
        .to_socket_addrs()
        .with_context(|| format!("`{}` is not an address to listen on", config.listen))?
        .collect();
    if addresses.iter().all(|a| a.ip().is_loopback()) {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to serve the API on {} without a token: anyone who reaches it could run code. \
         Set WEIR_TOKEN (or --token), or pass --allow-unauthenticated",
        config.listen
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposed_api_needs_a_token() {
        let config = |listen: &str, token: Option<&str>| ServeConfig {
            listen: listen.into(),
            token: token.map(str::to_string),
            ..ServeConfig::default()
        };
        assert!(check_exposure(&config("127.0.0.1:8080", None)).is_ok());
        assert!(check_exposure(&config("0.0.0.0:8080", Some("t"))).is_ok());
        let refused = check_exposure(&config("0.0.0.0:8080", None));
        assert!(refused.is_err_and(|e| e.to_string().contains("WEIR_TOKEN")));
    }
}
