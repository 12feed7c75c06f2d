//! Checks a component against the Weir world before anything runs: what it is, what it imports,
//! what it exports. Each refusal names the offending item.

use super::error::ModuleError;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The interface every module exports.
pub const PROCESSOR_EXPORT: &str = "weir:processor/processor@0.1.0";
/// The optional interface of modules that combine their pairs before returning them.
pub const COMBINER_EXPORT: &str = "weir:processor/combiner@0.1.0";
/// The logging interface a module may import.
pub const LOG_IMPORT: &str = "weir:processor/log@0.1.0";
/// The types-only interface a module imports (it has no functions).
pub const TYPES_IMPORT: &str = "weir:processor/types@0.1.0";
/// The functions of the processor interface.
pub const PROCESSOR_FUNCTIONS: [&str; 4] = ["describe", "map-batch", "reduce-batch", "finish-batch"];

/// WASI 0.2 interfaces that are linked with nothing behind them (see `sandbox.rs`).
const INERT_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
];

/// Tells a core module, a component and garbage apart from the header.
pub fn check_header(bytes: &[u8]) -> Result<(), ModuleError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        let head: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(ModuleError::NotWasm {
            head: if head.is_empty() {
                "nothing: the file is empty".into()
            } else {
                format!("0x{head}")
            },
        });
    }
    // Bytes 6..8 are the layer: 0 for core modules, 1 for components.
    match bytes[6..8] {
        [0, 0] => Err(ModuleError::CoreModule),
        _ => Ok(()),
    }
}

/// Splits `ns:pkg/iface@1.2.3` into (`ns:pkg/iface`, Some(`1.2.3`)).
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Refuses any import outside the Weir log interface and the inert WASI 0.2 set.
pub fn check_imports(engine: &wasmtime::Engine, component: &Component) -> Result<(), ModuleError> {
    for (name, _) in component.component_type().imports(engine) {
        let (base, version) = split_version(name);
        if base == "weir:processor/log" || base == "weir:processor/types" {
            if name != LOG_IMPORT && name != TYPES_IMPORT {
                return Err(ModuleError::WorldVersion {
                    found: name.to_string(),
                    expected: format!("{base}@0.1.0"),
                });
            }
            continue;
        }
        if INERT_WASI.contains(&base) {
            if version.is_some_and(|v| v.starts_with("0.2.")) {
                continue;
            }
            return Err(ModuleError::ForbiddenImport {
                import: name.to_string(),
                why: "only WASI 0.2 interfaces are linked".into(),
            });
        }
        let why = if base.starts_with("wasi:http/") {
            "modules get no network access".to_string()
        } else if base.starts_with("wasi:") {
            "this WASI interface is not available to modules".to_string()
        } else {
            "the sandbox provides only the `weir:processor/log` interface and inert WASI".to_string()
        };
        return Err(ModuleError::ForbiddenImport {
            import: name.to_string(),
            why,
        });
    }
    Ok(())
}

/// Checks that the component exports the processor interface of this world version with all of
/// its functions. Signatures are checked when the functions are looked up at instantiation.
pub fn check_exports(engine: &wasmtime::Engine, component: &Component) -> Result<(), ModuleError> {
    let ty = component.component_type();
    let exports: Vec<(String, ComponentItem)> = ty
        .exports(engine)
        .map(|(name, item)| (name.to_string(), item.ty))
        .collect();
    let names = || {
        let list: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        if list.is_empty() {
            "nothing".to_string()
        } else {
            list.join(", ")
        }
    };
    let Some((_, item)) = exports.iter().find(|(name, _)| name == PROCESSOR_EXPORT) else {
        let (expected_base, _) = split_version(PROCESSOR_EXPORT);
        if let Some((found, _)) = exports.iter().find(|(n, _)| split_version(n).0 == expected_base) {
            return Err(ModuleError::WorldVersion {
                found: found.clone(),
                expected: PROCESSOR_EXPORT.to_string(),
            });
        }
        return Err(ModuleError::MissingExport {
            missing: PROCESSOR_EXPORT.to_string(),
            exports: names(),
        });
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(ModuleError::MissingExport {
            missing: format!("{PROCESSOR_EXPORT} (as an interface)"),
            exports: names(),
        });
    };
    let functions: Vec<String> = instance.exports(engine).map(|(n, _)| n.to_string()).collect();
    for function in PROCESSOR_FUNCTIONS {
        if !functions.iter().any(|f| f == function) {
            return Err(ModuleError::MissingExport {
                missing: format!("{PROCESSOR_EXPORT}#{function}"),
                exports: format!("{PROCESSOR_EXPORT} with {}", functions.join(", ")),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tells_garbage_core_and_component_apart() {
        assert!(matches!(check_header(b""), Err(ModuleError::NotWasm { .. })));
        assert!(matches!(
            check_header(b"hello world"),
            Err(ModuleError::NotWasm { .. })
        ));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(ModuleError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn versions_split_off() {
        assert_eq!(
            split_version("wasi:io/streams@0.2.6"),
            ("wasi:io/streams", Some("0.2.6"))
        );
        assert_eq!(split_version("plain"), ("plain", None));
    }
}
