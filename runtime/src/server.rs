//! One runtime of the pool (`weir serve`, and `weir dev` on its embedded broker): the HTTP
//! API, the registry, and the [`Supervisor`] that runs the jobs.
//!
//! ```text
//! listener ──► API (axum, its own threads) ──► registry topic ◄── every runtime follows it
//!                                                   │
//! config-file jobs ──────────────────────────► Supervisor ──► job stages (job::start)
//!                                                   └──► status topic ──► API: GET /v1/jobs/{name}
//!                                 (job statuses, and this runtime's heartbeat: GET /v1/runtimes)
//! ```
//! The API answers `/healthz` at once; the rest waits for Kafka (503 `registry_unavailable`
//! until then). On shutdown the jobs commit and leave their groups within the grace period.

use crate::api::{self, ApiState, Services};
use crate::config::ServeConfig;
use crate::engine::{CompileCache, Engine};
use crate::job::Host;
use crate::kafka::admin::Admin;
use crate::registry::{Registry, RuntimeIdentity, StatusBoard};
use crate::supervisor::{Supervisor, sleep_unless};
use anyhow::{Context, Result};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// How long to wait before trying the brokers again.
const RETRY: Duration = Duration::from_secs(5);

/// Runs the runtime until `shutdown` is set; serves the API on `listener` when given.
pub fn run(config: &ServeConfig, listener: Option<TcpListener>, shutdown: &Arc<AtomicBool>) -> Result<()> {
    let host = host_name();
    let identity = RuntimeIdentity {
        runtime: runtime_id(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: crate::units::rfc3339(SystemTime::now()),
        api: listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|address| api_url(address, &host)),
        host,
    };
    let cache = CompileCache::from_setting(config.compile_cache.as_deref());
    let engine = Arc::new(Engine::open(&cache)?);
    let ready = Arc::new(AtomicBool::new(false));
    let state = Arc::new(ApiState {
        services: OnceLock::new(),
        engine: Arc::clone(&engine),
        auth: api::auth::Auth::new(config.token.as_deref()),
        max_upload: config.max_upload,
        max_limits: config.max_limits,
        file_jobs: config.jobs.clone(),
        ready: Arc::clone(&ready),
    });
    let server = listener
        .map(|listener| serve_http(listener, Arc::clone(&state), Arc::clone(shutdown)))
        .transpose()?;
    if let Some((registry, board, admin)) = open_services(config, shutdown) {
        let _ = state.services.set(Services {
            registry: Arc::clone(&registry),
            board: Arc::clone(&board),
            admin,
        });
        let host = Host {
            engine,
            brokers: config.brokers.clone(),
            session_timeout: config.session_timeout,
            auto_create_topics: config.auto_create_topics,
        };
        Supervisor::new(host, identity, registry, board, config.jobs.clone()).run(
            shutdown,
            &ready,
            config.shutdown_grace,
        );
    }
    if let Some(server) = server
        && server.join().is_err()
    {
        anyhow::bail!("the HTTP server thread panicked");
    }
    Ok(())
}

/// Opens the registry and the status board, retrying while the brokers cannot be reached;
/// `None` if `shutdown` came first.
fn open_services(
    config: &ServeConfig,
    shutdown: &Arc<AtomicBool>,
) -> Option<(Arc<Registry>, Arc<StatusBoard>, Admin)> {
    while !shutdown.load(Ordering::Relaxed) {
        let opened = Registry::open(&config.brokers, &config.registry_topic, shutdown).and_then(|registry| {
            let board = StatusBoard::open(&config.brokers, &config.status_topic, shutdown)?;
            Ok((registry, Arc::new(board), Admin::new(&config.brokers)?))
        });
        match opened {
            Ok(services) => return Some(services),
            Err(err) => {
                tracing::error!("cannot open the registry, retrying in {RETRY:?}: {err:#}");
                sleep_unless(shutdown, RETRY);
            }
        }
    }
    None
}

/// Serves the API on its own threads until `shutdown`, letting requests in flight finish.
fn serve_http(
    listener: TcpListener,
    state: Arc<ApiState>,
    shutdown: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    listener
        .set_nonblocking(true)
        .context("cannot configure the API listener")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weir-http")
        .enable_all()
        .build()
        .context("cannot start the API's threads")?;
    std::thread::Builder::new()
        .name("weir-http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::error!("cannot serve the API: {err}");
                        return;
                    }
                };
                let stopped = async move {
                    while !shutdown.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                };
                if let Err(err) = axum::serve(listener, api::router(state))
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::error!("the API server stopped: {err}");
                }
            });
        })
        .context("cannot start the API thread")
}

/// Binds the API's address, saying what to do when it cannot.
pub fn bind(listen: &str) -> Result<TcpListener> {
    TcpListener::bind(listen).with_context(|| {
        format!("cannot listen on {listen} (is another weir running? choose another with --listen)")
    })
}

/// This runtime's name in job statuses: `host/pid`.
pub fn runtime_id() -> String {
    format!("{}/{}", host_name(), std::process::id())
}

/// The host's name (`$HOSTNAME`, else the kernel's), or `weir` when neither is known. Read once
/// per process: the API names the runtime that answers on every `GET /v1/runtimes`.
pub fn host_name() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "weir".into())
    })
    .clone()
}

/// The URL of an API listening on `address`: an address on every interface (`0.0.0.0`, `::`)
/// is reached through the host's name.
fn api_url(address: SocketAddr, host: &str) -> String {
    if address.ip().is_unspecified() {
        format!("http://{host}:{}", address.port())
    } else {
        format!("http://{address}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_names_the_host_for_an_api_on_every_interface() {
        let url = |a: &str| api_url(a.parse().expect("an address"), "node-1");
        assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(url("0.0.0.0:8080"), "http://node-1:8080");
        assert_eq!(url("[::]:9000"), "http://node-1:9000");
        assert_eq!(url("[::1]:9000"), "http://[::1]:9000");
    }
}
