//! [`WasmGuest`]: one live guest instance and the batch calls into it.
//!
//! A call that traps or hits a limit is reported as a [`GuestError::Failed`] with its kind and,
//! for panics, the guest's own message; the instance is then thrown away and the next call runs
//! on a fresh one (instantiation from the pre-linked component is cheap).

use super::TICK;
use super::error::ModuleError;
use super::guest_log::{CallSite, GuestLogLevel, GuestLogLine, GuestLogSink};
use super::limits::GuestLimits;
use super::sandbox::Sandbox;
use super::validate::{COMBINER_EXPORT, PROCESSOR_EXPORT};
use crate::guest::{FailureKind, Guest, GuestError, expect_count, expect_len};
use crate::record::{
    Combined, Emitted, FinishInput, FinishItem, GuestOutput, InputRecord, ItemError, ModuleInfo, ModuleKind,
    OutputBatch, Packed, PackedRecords, ReduceInput,
};
use std::sync::Arc;
use wasmtime::component::{ComponentNamedList, ComponentType, Func, InstancePre, Lift, Linker, Lower};
use wasmtime::{Store, Trap};

/// How large the buffers kept for packing a batch may grow and still be kept for the next one.
const PACKING_KEPT_BYTES: usize = 4 << 20;

/// Level of a guest log line, as the `log` import declares it.
#[allow(dead_code, reason = "variants are made by lifting them from the guest")]
#[derive(Debug, Clone, Copy, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
enum LogLevel {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

impl From<LogLevel> for GuestLogLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => GuestLogLevel::Trace,
            LogLevel::Debug => GuestLogLevel::Debug,
            LogLevel::Info => GuestLogLevel::Info,
            LogLevel::Warn => GuestLogLevel::Warn,
            LogLevel::Error => GuestLogLevel::Error,
        }
    }
}

/// Links `weir:processor/log` to the job's log sink, or to the host's tracing.
pub(super) fn add_log_to_linker(linker: &mut Linker<Sandbox>) -> anyhow::Result<()> {
    let mut log = linker.instance(super::validate::LOG_IMPORT)?;
    log.func_wrap("log", |mut store, (level, message): (LogLevel, String)| {
        let sandbox = store.data_mut();
        if let Some(sink) = &sandbox.log_sink {
            sink.log(GuestLogLine {
                level: level.into(),
                message,
                site: sandbox.site,
            });
            return Ok(());
        }
        if sandbox.log.admit() {
            match level {
                LogLevel::Trace => tracing::trace!(target: "weir::guest", "{message}"),
                LogLevel::Debug => tracing::debug!(target: "weir::guest", "{message}"),
                LogLevel::Info => tracing::info!(target: "weir::guest", "{message}"),
                LogLevel::Warn => tracing::warn!(target: "weir::guest", "{message}"),
                LogLevel::Error => tracing::error!(target: "weir::guest", "{message}"),
            }
        }
        Ok(())
    })?;
    Ok(())
}

// The processor interface's signatures, spelled once: checked at load, used on every call.
type DescribeResults = (ModuleInfo,);
type MapParams<'a> = (&'a [InputRecord],);
type MapResults = (Result<Emitted, ItemError>,);
type CombineParams<'a> = (&'a [InputRecord], i64);
type CombineResults = (Result<Combined, ItemError>,);
type CombinePackedParams<'a> = (&'a PackedRecords, i64);
type ReduceParams<'a> = (&'a ReduceInput,);
type ReduceResults = (Result<Packed, ItemError>,);
type FinishParams<'a> = (&'a FinishInput,);
type FinishResults = (Result<OutputBatch, ItemError>,);

/// The processor interface's functions in one instance.
struct Live {
    store: Store<Sandbox>,
    describe: Func,
    map_batch: Func,
    reduce_batch: Func,
    finish_batch: Func,
    /// `combiner#map-combine`, when the module exports it.
    map_combine: Option<Func>,
    /// `combiner#map-combine-packed`, when the module exports it (SDKs from before it do not).
    map_combine_packed: Option<Func>,
}

/// A guest instance under limits; implements [`Guest`] for the pipeline.
pub struct WasmGuest {
    engine: wasmtime::Engine,
    pre: InstancePre<Sandbox>,
    limits: GuestLimits,
    kind: ModuleKind,
    live: Option<Live>,
    instantiations: u64,
    /// Whether the module exports `combiner` (every instance of a module agrees).
    combines: bool,
    /// Whether it exports `combiner#map-combine-packed` too.
    combines_packed: bool,
    /// Where guest log lines go (every instance of this guest).
    log_sink: Option<Arc<dyn GuestLogSink>>,
    /// The records of the next call, for its log lines.
    site: CallSite,
    /// The buffers `map-combine-packed` calls pack their records into, kept between calls.
    packing: PackedRecords,
}

impl WasmGuest {
    pub(super) fn start(
        engine: wasmtime::Engine,
        pre: InstancePre<Sandbox>,
        limits: GuestLimits,
    ) -> Result<Self, ModuleError> {
        let mut guest = WasmGuest {
            engine,
            pre,
            limits,
            kind: ModuleKind::MapReduce,
            live: None,
            instantiations: 0,
            combines: false,
            combines_packed: false,
            log_sink: None,
            site: CallSite::default(),
            packing: PackedRecords::default(),
        };
        guest.live = Some(
            guest
                .instantiate()
                .map_err(|e| ModuleError::Start(format!("{e:#}")))?,
        );
        Ok(guest)
    }

    pub(super) fn set_kind(&mut self, kind: ModuleKind) {
        self.kind = kind;
    }

    /// Sends the guest's log lines to `sink` (this instance's and every later one's).
    pub fn set_log_sink(&mut self, sink: Arc<dyn GuestLogSink>) {
        if let Some(live) = &mut self.live {
            live.store.data_mut().log_sink = Some(Arc::clone(&sink));
        }
        self.log_sink = Some(sink);
    }

    /// How many instances this guest has started (1 + one per failed call).
    pub fn instantiations(&self) -> u64 {
        self.instantiations
    }

    fn instantiate(&mut self) -> anyhow::Result<Live> {
        let mut sandbox = Sandbox::new(&self.limits);
        sandbox.log_sink = self.log_sink.clone();
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|sandbox| &mut sandbox.limiter);
        store.set_epoch_deadline(deadline_ticks(&self.limits));
        store.epoch_deadline_trap();
        let instance = self.pre.instantiate(&mut store)?;
        let interface = instance
            .get_export_index(&mut store, None, PROCESSOR_EXPORT)
            .ok_or_else(|| anyhow::anyhow!("missing export {PROCESSOR_EXPORT}"))?;
        let mut func = |name: &str| -> anyhow::Result<Func> {
            let index = instance
                .get_export_index(&mut store, Some(&interface), name)
                .ok_or_else(|| anyhow::anyhow!("missing export {PROCESSOR_EXPORT}#{name}"))?;
            instance
                .get_func(&mut store, index)
                .ok_or_else(|| anyhow::anyhow!("{PROCESSOR_EXPORT}#{name} is not a function"))
        };
        let describe = func("describe")?;
        let map_batch = func("map-batch")?;
        let reduce_batch = func("reduce-batch")?;
        let finish_batch = func("finish-batch")?;
        let combiner = instance.get_export_index(&mut store, None, COMBINER_EXPORT);
        let mut combiner_func = |name: &str| {
            let index = instance.get_export_index(&mut store, Some(combiner.as_ref()?), name)?;
            instance.get_func(&mut store, index)
        };
        let map_combine = combiner_func("map-combine");
        let map_combine_packed = combiner_func("map-combine-packed");
        self.instantiations += 1;
        self.combines = map_combine.is_some();
        self.combines_packed = map_combine_packed.is_some();
        Ok(Live {
            store,
            describe,
            map_batch,
            reduce_batch,
            finish_batch,
            map_combine,
            map_combine_packed,
        })
    }

    /// Checks every export's signature, then calls `describe`.
    pub(super) fn describe(&mut self) -> Result<ModuleInfo, ModuleError> {
        self.check_signatures()?;
        let (info,) = self
            .call::<(), DescribeResults>(|l| l.describe, (), "describe")
            .map_err(|e| ModuleError::Start(e.to_string()))?;
        Ok(info)
    }

    /// Type-checks the four functions, so a mismatch is a load error rather than a batch failure.
    fn check_signatures(&self) -> Result<(), ModuleError> {
        let live = self
            .live
            .as_ref()
            .ok_or_else(|| ModuleError::Start("no live instance".into()))?;
        let store = &live.store;
        live.describe
            .typed::<(), DescribeResults>(store)
            .map_err(|e| signature_error("describe", &e))?;
        live.map_batch
            .typed::<MapParams<'_>, MapResults>(store)
            .map_err(|e| signature_error("map-batch", &e))?;
        live.reduce_batch
            .typed::<ReduceParams<'_>, ReduceResults>(store)
            .map_err(|e| signature_error("reduce-batch", &e))?;
        live.finish_batch
            .typed::<FinishParams<'_>, FinishResults>(store)
            .map_err(|e| signature_error("finish-batch", &e))?;
        if let Some(map_combine) = live.map_combine {
            map_combine
                .typed::<CombineParams<'_>, CombineResults>(store)
                .map_err(|e| signature_error("map-combine", &e))?;
        }
        if let Some(map_combine_packed) = live.map_combine_packed {
            map_combine_packed
                .typed::<CombinePackedParams<'_>, CombineResults>(store)
                .map_err(|e| signature_error("map-combine-packed", &e))?;
        }
        Ok(())
    }

    /// Runs one call with a fresh deadline; on any failure, classifies it and drops the instance.
    fn call<P, R>(
        &mut self,
        which: impl Fn(&Live) -> Func,
        params: P,
        name: &'static str,
    ) -> Result<R, GuestError>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        // The records of this call only: a call that sets none (reduce, finish) has none.
        let site = std::mem::take(&mut self.site);
        if self.live.is_none() {
            self.live = Some(self.instantiate().map_err(|e| GuestError::Failed {
                kind: FailureKind::Trap,
                message: format!("cannot restart the module: {e:#}"),
            })?);
        }
        let live = self.live.as_mut().expect("an instance was just ensured above");
        let func = which(live)
            .typed::<P, R>(&live.store)
            .map_err(|e| GuestError::Failed {
                kind: FailureKind::Contract,
                message: format!("{name}: {e:#}"),
            })?;
        live.store.set_epoch_deadline(deadline_ticks(&self.limits));
        live.store.data_mut().site = CallSite { call: name, ..site };
        let result = func.call(&mut live.store, params);
        let captured = live.store.data().output.take();
        match result {
            Ok(value) => Ok(value),
            Err(err) => {
                let failure = classify(&err, &live.store, &self.limits, &captured, name);
                self.live = None;
                Err(failure)
            }
        }
    }
}

fn deadline_ticks(limits: &GuestLimits) -> u64 {
    let ticks = limits.call_timeout.as_nanos() / TICK.as_nanos();
    u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
}

fn signature_error(function: &str, err: &wasmtime::Error) -> ModuleError {
    ModuleError::ExportSignature {
        function: function.to_string(),
        detail: format!("{err:#}"),
    }
}

/// Names what stopped a call: deadline, memory limit, panic (with the guest's message) or trap.
fn classify(
    err: &wasmtime::Error,
    store: &Store<Sandbox>,
    limits: &GuestLimits,
    captured: &str,
    name: &str,
) -> GuestError {
    if let Some(desired) = store.data().limiter.exceeded {
        return GuestError::Failed {
            kind: FailureKind::MemoryLimit,
            message: format!(
                "{name} tried to grow linear memory to {} MiB; the limit is {} MiB",
                desired >> 20,
                store.data().limiter.limit() >> 20
            ),
        };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => GuestError::Failed {
            kind: FailureKind::Timeout,
            message: format!("{name} ran longer than its {:?} deadline", limits.call_timeout),
        },
        Some(Trap::UnreachableCodeReached) => GuestError::Failed {
            kind: FailureKind::Panic,
            message: match panic_message(captured) {
                Some(panic) => format!("{name} panicked: {panic}"),
                None => format!("{name} trapped: unreachable code reached (a panic or abort)"),
            },
        },
        Some(trap) => GuestError::Failed {
            kind: FailureKind::Trap,
            message: format!("{name} trapped: {trap}"),
        },
        None => GuestError::Failed {
            kind: FailureKind::Trap,
            message: format!("{name} failed: {err:#}"),
        },
    }
}

/// Picks the panic line and message out of what a Rust guest printed on stderr.
fn panic_message(captured: &str) -> Option<String> {
    let start = captured.rfind("panicked at ")?;
    let text: Vec<&str> = captured[start..]
        .lines()
        .take_while(|l| !l.starts_with("note: run with"))
        .collect();
    Some(text.join(" ").trim().to_string())
}

impl WasmGuest {
    /// `map-combine-packed` over `records`, packed into the buffers kept for it.
    fn map_combine_packed(
        &mut self,
        records: &[InputRecord],
        pane_size: i64,
    ) -> Result<CombineResults, GuestError> {
        let mut packing = std::mem::take(&mut self.packing);
        packing.pack(records);
        let result = self.call::<CombinePackedParams<'_>, CombineResults>(
            |l| l.map_combine_packed.unwrap_or(l.map_batch),
            (&packing, pane_size),
            "map",
        );
        // Kept for the next batch unless a large record grew it well past a batch's usual size.
        if packing.capacity_bytes() <= PACKING_KEPT_BYTES {
            self.packing = packing;
        }
        result
    }

    fn check_output(&mut self, bytes: usize, name: &str) -> Result<(), GuestError> {
        if bytes > self.limits.output_bytes {
            return Err(GuestError::Failed {
                kind: FailureKind::OutputLimit,
                message: format!(
                    "{name} returned {} bytes; the per-call output limit is {} bytes",
                    bytes, self.limits.output_bytes
                ),
            });
        }
        Ok(())
    }
}

fn contract(message: String) -> GuestError {
    GuestError::Failed {
        kind: FailureKind::Contract,
        message,
    }
}

fn rejected(err: ItemError) -> GuestError {
    GuestError::Rejected {
        index: err.index,
        message: err.message,
    }
}

impl Guest for WasmGuest {
    fn kind(&self) -> ModuleKind {
        self.kind
    }

    fn map_batch(&mut self, records: &[InputRecord]) -> Result<Emitted, GuestError> {
        self.site = CallSite::over("map", records);
        let (result,) = self.call::<MapParams<'_>, MapResults>(|l| l.map_batch, (records,), "map")?;
        let emitted = result.map_err(rejected)?;
        self.check_output(emitted.data.len(), "map")?;
        if !emitted.is_consistent() {
            return Err(contract(
                "map returned pair lengths that do not add up to its data".into(),
            ));
        }
        if let Some(bad) = emitted.pairs.iter().find(|p| p.source as usize >= records.len()) {
            return Err(contract(format!(
                "map named source record {} in a batch of {}",
                bad.source,
                records.len()
            )));
        }
        Ok(emitted)
    }

    fn map_combine(
        &mut self,
        records: &[InputRecord],
        pane_size: i64,
    ) -> Option<Result<Combined, GuestError>> {
        if !self.combines || self.kind != ModuleKind::MapReduce {
            return None;
        }
        self.site = CallSite::over("map", records);
        let result = if self.combines_packed {
            self.map_combine_packed(records, pane_size)
        } else {
            self.call::<CombineParams<'_>, CombineResults>(
                |l| l.map_combine.unwrap_or(l.map_batch),
                (records, pane_size),
                "map",
            )
        };
        let result = result
            .and_then(|(result,)| result.map_err(rejected))
            .and_then(|combined| {
                self.check_output(combined.data.len(), "map")?;
                combined.checked(records.len()).map_err(contract)?;
                Ok(combined)
            });
        Some(result)
    }

    fn reduce_batch(&mut self, input: &ReduceInput) -> Result<Vec<Vec<u8>>, GuestError> {
        let packed = self.reduce_packed(input)?;
        Ok(packed.iter().map(<[u8]>::to_vec).collect())
    }

    fn reduce_packed(&mut self, input: &ReduceInput) -> Result<Packed, GuestError> {
        let (result,) =
            self.call::<ReduceParams<'_>, ReduceResults>(|l| l.reduce_batch, (input,), "reduce")?;
        let packed = result.map_err(rejected)?;
        self.check_output(packed.data.len(), "reduce")?;
        if !packed.is_whole() {
            return Err(contract(
                "reduce returned lengths that do not add up to its data".into(),
            ));
        }
        expect_count("reduce", packed.len(), input.len())?;
        Ok(packed)
    }

    fn finish_batch(&mut self, items: &[FinishItem]) -> Result<Vec<GuestOutput>, GuestError> {
        let input = FinishInput::pack(items);
        let (result,) =
            self.call::<FinishParams<'_>, FinishResults>(|l| l.finish_batch, (&input,), "finish")?;
        let batch = result.map_err(rejected)?;
        self.check_output(batch.data.len(), "finish")?;
        let outputs = batch
            .unpack()
            .ok_or_else(|| contract("finish returned lengths that do not add up to its data".into()))?;
        expect_len("finish", outputs, items.len())
    }
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn finds_the_panic_in_stderr() {
        let stderr = "hello\nthread '<unnamed>' panicked at src/lib.rs:20:29:\nmap was told to panic\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("panicked at src/lib.rs:20:29: map was told to panic")
        );
        assert_eq!(panic_message("nothing here"), None);
    }
}
