//! Paths of the guest components built from this repository (see `build.rs`): the examples and
//! the hostile guests the engine's tests run.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The bundled example module called `name` (`word-count`, `sensor-stats`, `filter`).
pub fn bundled(name: &str) -> Option<&'static [u8]> {
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// Reads a component built here.
pub fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read guest component {path}: {e}"))
}
