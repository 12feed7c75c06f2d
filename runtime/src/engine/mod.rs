//! The Wasm engine: loads components, checks them against the Weir world, caches the compiled
//! code by sha256, and runs guest instances under per-job limits.
//!
//! One [`Engine`] per process. [`Engine::load`] validates and compiles a component once (later
//! loads of the same bytes hit the cache); [`Engine::instantiate`] makes a [`WasmGuest`] from
//! the pre-linked component, which is cheap. Deadlines use epoch interruption: a background
//! thread ticks the engine's epoch every [`TICK`].

mod error;
mod instance;
mod limits;
mod sandbox;
mod validate;

pub use error::ModuleError;
pub use instance::WasmGuest;
pub use limits::GuestLimits;
pub use validate::{LOG_IMPORT, PROCESSOR_EXPORT};

use crate::record::ModuleInfo;
use anyhow::Context as _;
use sandbox::Sandbox;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker};

/// How often the epoch advances; call deadlines are measured in these ticks.
pub const TICK: Duration = Duration::from_millis(10);

/// A validated, compiled module, ready to instantiate.
pub struct Module {
    digest: String,
    size: usize,
    info: ModuleInfo,
    pre: InstancePre<Sandbox>,
}

impl Module {
    /// The sha256 of the component bytes, in hex: the module's id.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// What the module says it is.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }
}

/// The process-wide Wasm engine.
pub struct Engine {
    wasmtime: wasmtime::Engine,
    linker: Linker<Sandbox>,
    cache: Mutex<HashMap<String, Arc<Module>>>,
    cache_hits: AtomicU64,
    ticker_stop: Arc<AtomicBool>,
}

impl Engine {
    /// Creates the engine and starts its epoch ticker.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let wasmtime = wasmtime::Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("configure the wasmtime engine")?;
        let mut linker = Linker::new(&wasmtime);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("link the sandboxed WASI")?;
        instance::add_log_to_linker(&mut linker).context("link the log import")?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let weak = wasmtime.weak();
        let stop = Arc::clone(&ticker_stop);
        std::thread::Builder::new()
            .name("weir-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .context("start the epoch ticker thread")?;
        Ok(Engine {
            wasmtime,
            linker,
            cache: Mutex::new(HashMap::new()),
            cache_hits: AtomicU64::new(0),
            ticker_stop,
        })
    }

    /// Validates and compiles a component, or returns the cached one with the same sha256.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<Module>, ModuleError> {
        let digest = hex::encode(Sha256::digest(bytes));
        if let Some(module) = self.cache_lock().get(&digest) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            crate::metrics::metrics().module_cache_hits.inc();
            return Ok(Arc::clone(module));
        }
        crate::metrics::metrics().module_cache_misses.inc();
        validate::check_header(bytes)?;
        let component =
            Component::new(&self.wasmtime, bytes).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?;
        validate::check_imports(&self.wasmtime, &component)?;
        validate::check_exports(&self.wasmtime, &component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| ModuleError::Invalid(format!("cannot link the module: {e:#}")))?;
        let mut probe = WasmGuest::start(self.wasmtime.clone(), pre.clone(), GuestLimits::default())?;
        let info = probe.describe()?;
        let module = Arc::new(Module {
            digest: digest.clone(),
            size: bytes.len(),
            info,
            pre,
        });
        self.cache_lock().insert(digest, Arc::clone(&module));
        Ok(module)
    }

    /// A fresh guest instance of `module` under `limits`.
    pub fn instantiate(&self, module: &Module, limits: GuestLimits) -> Result<WasmGuest, ModuleError> {
        let mut guest = WasmGuest::start(self.wasmtime.clone(), module.pre.clone(), limits)?;
        guest.set_kind(module.info.kind);
        Ok(guest)
    }

    /// How many loads were served from the compile cache.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Module>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// Reads a module file, or a bundled example by name when no such file exists.
pub fn read_module(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if !path.exists()
        && let Some(bytes) = path.to_str().and_then(weir_guest_artifacts::bundled)
    {
        return Ok(bytes.to_vec());
    }
    anyhow::Context::with_context(std::fs::read(path), || {
        let names: Vec<&str> = weir_guest_artifacts::BUNDLED.iter().map(|(n, _)| *n).collect();
        format!(
            "cannot read the module {} (the bundled examples are: {})",
            path.display(),
            names.join(", ")
        )
    })
}
