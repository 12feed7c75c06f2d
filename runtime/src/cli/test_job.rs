//! Tests only: one job as the API's v1 contract shows it, for every command that prints one
//! (`job list`, `job get`, `job status`), and the time the printing tests take as now.

use serde_json::{Value, json};
use std::time::SystemTime;

/// Now, for the printing tests' ages: a few minutes after the sample's last report.
pub fn now() -> SystemTime {
    humantime::parse_rfc3339("2026-11-25T10:00:00Z").expect("valid time")
}

/// The module the job runs.
pub const ID: &str = "3f2a1b9c0d12e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9";
/// The module of its first revision.
pub const OLD: &str = "aaaabbbbccccddddeeeeffff00001111222233334444555566667777888899990";

/// A job as the v1 contract shows it: two runtimes, one running both stages with every
/// figure, one starting with an error and no stage yet.
pub fn sample() -> Value {
    json!({
        "name": "wc", "revision": 2, "state": "running", "source": "api",
        "spec": {"name": "wc", "module": ID, "input": ["lines"], "output": "counts",
                 "window": "tumbling:10s"},
        "module": {"id": ID, "name": "word-count"},
        "created_at": "2026-11-25T09:00:00Z", "updated_at": "2026-11-25T09:58:00Z",
        "history": [{"revision": 1, "module": OLD, "at": "2026-11-25T09:00:00Z"},
                    {"revision": 2, "module": ID, "at": "2026-11-25T09:58:00Z"}],
        "status": {
            "lag": 12, "assigned_partitions": 6, "last_window_fired_at": "2026-11-25T09:59:50Z",
            "runtimes": [
                {"runtime": "host-a/101", "revision": 2, "module": ID, "state": "running",
                 "version": "0.1.0",
                 "stages": [
                    {"stage": "map", "assigned": ["lines/2", "lines/0", "lines/10"], "lag": 5,
                     "records_in": 1500, "records_out": 800, "dead_letters": 3,
                     "open_windows": 2, "watermark": "2026-11-25T09:59:40.000Z",
                     "last_window_fired_at": "2026-11-25T09:59:50Z"},
                    {"stage": "reduce", "assigned": ["weir.wc.repartition/1"], "lag": 0,
                     "records_in": 40, "records_out": 20, "dead_letters": 0,
                     "open_windows": 1, "watermark": "2026-11-25T09:59:30.000Z",
                     "last_window_fired_at": null}],
                 "errors": [], "updated_at": "2026-11-25T09:59:58Z"},
                {"runtime": "host-b/202", "revision": 2, "module": ID, "state": "starting",
                 "stages": [],
                 "errors": [{"at": "2026-11-25T09:59:00Z", "message": "input topic missing"}],
                 "updated_at": "2026-11-25T09:59:59Z"}]
        }
    })
}
