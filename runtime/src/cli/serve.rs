//! `weir serve`: runs the jobs of a config file until SIGINT or SIGTERM.
//!
//! Start as many runtimes as you like with the same config: they join the same consumer groups
//! and Kafka spreads the partitions among them. On SIGINT/SIGTERM each stage stops polling,
//! writes what it has, commits, and leaves its groups.

use crate::config::ServeConfig;
use crate::engine::Engine;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Arguments of `weir serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The config file (TOML) listing the jobs.
    #[arg(long, short, env = "WEIR_CONFIG")]
    pub config: PathBuf,
    /// Kafka bootstrap servers (overrides the config file's `brokers`).
    #[arg(long, short)]
    pub brokers: Option<String>,
}

/// Runs `weir serve`.
pub fn serve(args: &ServeArgs) -> Result<()> {
    let mut config = ServeConfig::load(&args.config)?;
    if let Some(brokers) = &args.brokers {
        config.brokers.clone_from(brokers);
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, shutdown.clone()).context("cannot handle signals")?;
    }
    eprintln!(
        "weir serve: {} job(s) on {}: {}",
        config.jobs.len(),
        config.brokers,
        config
            .jobs
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    run_jobs(&config, &shutdown)
}

/// How long a job that could not start waits before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// Runs every job of `config` until `shutdown` is set. A job that cannot start (an input topic
/// that does not exist yet, unreachable brokers, a module that does not load) is reported and
/// retried every few seconds; the other jobs run meanwhile.
pub fn run_jobs(config: &ServeConfig, shutdown: &Arc<AtomicBool>) -> Result<()> {
    let engine = Arc::new(Engine::new()?);
    let mut starters = Vec::new();
    for job in config.jobs.clone() {
        let (engine, shutdown) = (engine.clone(), shutdown.clone());
        let (brokers, session_timeout) = (config.brokers.clone(), config.session_timeout);
        let starter = std::thread::Builder::new()
            .name(format!("weir-{}", job.name))
            .spawn(move || {
                let mut handles = Vec::new();
                while !shutdown.load(Ordering::Relaxed) {
                    match crate::job::start(&engine, &brokers, session_timeout, &job, &shutdown) {
                        Ok(started) => {
                            handles = started;
                            break;
                        }
                        Err(err) => {
                            tracing::error!(
                                job = job.name,
                                "job not started, retrying in {RETRY:?}: {err:#}"
                            );
                            sleep_unless(&shutdown, RETRY);
                        }
                    }
                }
                handles.into_iter().all(|h| h.join().is_ok())
            })
            .context("cannot start a job thread")?;
        starters.push(starter);
    }
    for starter in starters {
        if !starter.join().unwrap_or(false) {
            anyhow::bail!("a stage thread panicked");
        }
    }
    Ok(())
}

/// Sleeps for `duration`, waking early when `shutdown` is set.
fn sleep_unless(shutdown: &AtomicBool, duration: Duration) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < duration && !shutdown.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        slept += step;
    }
}
