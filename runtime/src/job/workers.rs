//! [`pool`]: the worker threads every stage of every job runs its partitions' tasks on, one per
//! core (`weir-worker-N`).
//!
//! A stage's thread reads its consumer, then hands each assigned partition's batch to its task
//! on this pool and waits; the tasks of different partitions run at once. One pool for the
//! process rather than threads per stage bounds the guest work to the cores however many jobs
//! run, and a stage with one partition busy and others idle leaves the cores to the stages
//! that have work.
//!
//! A dedicated rayon pool, not rayon's global one: wasmtime compiles modules on the global pool,
//! and an upload compiling must not queue behind the stages' batches (or they behind it).

use std::sync::OnceLock;

/// The pool, started on first use with one thread per core; `None` when its threads could not
/// be started (said once in the log): stages then run their tasks on their own threads.
pub fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|n| format!("weir-worker-{n}"))
            .build()
            .inspect_err(|err| {
                tracing::error!(
                    "cannot start the worker threads ({err}); each stage runs its tasks on its \
                     own thread"
                );
            })
            .ok()
    })
    .as_ref()
}
