//! The Wasm engine: loads components, checks them against the Weir world, caches the compiled
//! code by sha256, and runs guest instances under per-job limits.
//!
//! One [`Engine`] per process. [`Engine::load`] validates and compiles a component once (later
//! loads of the same bytes hit the cache); [`Engine::instantiate`] makes a [`WasmGuest`] from
//! the pre-linked component, which is cheap. Deadlines use epoch interruption: a background
//! thread ticks the engine's epoch every [`TICK`]. With a [`CompileCache`] directory, compiled
//! code also outlives the process (see [`compile_cache`]). [`producers`] reads the language and
//! tools that built a component from its producers sections.

pub mod compile_cache;
mod error;
pub mod guest_log;
mod instance;
mod limits;
pub mod producers;
mod sandbox;
mod validate;

pub use compile_cache::CompileCache;
pub use error::ModuleError;
pub use instance::WasmGuest;
pub use limits::GuestLimits;
pub use producers::Producers;
pub use validate::{LOG_IMPORT, PROCESSOR_EXPORT};

use crate::record::ModuleInfo;
use anyhow::Context as _;
use sandbox::Sandbox;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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
    /// Held while a module compiles: two stages loading one module compile it once, and
    /// wasmtime already spreads one compilation over every core.
    compiling: Mutex<()>,
    disk: Option<wasmtime::Cache>,
    ticker_stop: Arc<AtomicBool>,
}

impl Engine {
    /// Creates the engine (no disk cache) and starts its epoch ticker.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_compile_cache(&CompileCache::Off)
    }

    /// Creates the engine with `cache` for compiled code, and starts its epoch ticker. Fails
    /// if the cache directory cannot be created; [`Engine::open`] falls back to no cache.
    pub fn with_compile_cache(cache: &CompileCache) -> anyhow::Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        // `WEIR_WASM_PROFILER=perfmap` names guest functions in `perf` profiles (wasmtime
        // writes /tmp/perf-PID.map), as `wasmtime run --profile=perfmap` does.
        if std::env::var_os("WEIR_WASM_PROFILER").is_some_and(|v| v == "perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let disk = match cache.dir() {
            None => None,
            Some(dir) => {
                let mut settings = wasmtime::CacheConfig::new();
                settings.with_directory(dir);
                let disk = wasmtime::Cache::new(settings)
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("cannot use {} as the compile cache", dir.display()))?;
                config.cache(Some(disk.clone()));
                Some(disk)
            }
        };
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
            compiling: Mutex::new(()),
            disk,
            ticker_stop,
        })
    }

    /// The engine a runtime uses: with `cache` if it can be used, else without one (and a
    /// warning saying why: a cache speeds restarts up, it is never required).
    pub fn open(cache: &CompileCache) -> anyhow::Result<Self> {
        match Self::with_compile_cache(cache) {
            Ok(engine) => {
                tracing::debug!("compile cache: {cache}");
                Ok(engine)
            }
            Err(err) => {
                tracing::warn!("{err:#}; modules compile in every process (set WEIR_COMPILE_CACHE)");
                Self::new()
            }
        }
    }

    /// Validates and compiles a component, or returns the cached one with the same sha256.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<Module>, ModuleError> {
        let digest = hex::encode(Sha256::digest(bytes));
        if let Some(module) = self.cached(&digest) {
            return Ok(module);
        }
        let _compiling = self.compiling.lock().unwrap_or_else(|e| e.into_inner());
        // Another thread may have compiled it while this one waited.
        if let Some(module) = self.cached(&digest) {
            return Ok(module);
        }
        crate::metrics::metrics().module_cache_misses.inc();
        validate::check_header(bytes)?;
        let (started, disk_hits) = (Instant::now(), self.disk_hits());
        let component =
            Component::new(&self.wasmtime, bytes).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?;
        let from_disk = self.disk_hits() > disk_hits;
        if from_disk {
            crate::metrics::metrics().module_disk_cache_hits.inc();
        }
        tracing::info!(
            module = %digest,
            size = bytes.len(),
            "{} in {:.2?}",
            if from_disk { "loaded compiled code from the compile cache" } else { "compiled" },
            started.elapsed()
        );
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

    /// How many loads were served from the in-memory cache of compiled modules.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// How many compilations the on-disk compile cache answered (0 without one).
    pub fn disk_hits(&self) -> usize {
        self.disk.as_ref().map_or(0, wasmtime::Cache::cache_hits)
    }

    fn cached(&self, digest: &str) -> Option<Arc<Module>> {
        let module = self.cache_lock().get(digest).cloned()?;
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
        crate::metrics::metrics().module_cache_hits.inc();
        Some(module)
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
