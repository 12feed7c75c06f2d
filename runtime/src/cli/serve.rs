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
use std::sync::atomic::AtomicBool;

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
    run_jobs(&config, &shutdown)
}

/// Starts every job of `config` and waits until they stop (after `shutdown` is set).
pub fn run_jobs(config: &ServeConfig, shutdown: &Arc<AtomicBool>) -> Result<()> {
    let engine = Arc::new(Engine::new()?);
    let mut handles = Vec::new();
    for job in &config.jobs {
        handles.extend(crate::job::start(
            &engine,
            &config.brokers,
            config.session_timeout,
            job,
            shutdown,
        )?);
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
    for handle in handles {
        if handle.join().is_err() {
            anyhow::bail!("a stage thread panicked");
        }
    }
    Ok(())
}
