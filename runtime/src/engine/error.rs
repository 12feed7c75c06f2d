//! [`ModuleError`]: why a module cannot be loaded, said so that its author knows what to fix.

use thiserror::Error;

/// Why a module was refused. Each variant names what is wrong and what to do about it.
#[derive(Debug, Error)]
pub enum ModuleError {
    /// The bytes are not WebAssembly at all.
    #[error(
        "not a WebAssembly file (it starts with {head}); upload the .wasm component that `cargo build --target wasm32-wasip2` writes"
    )]
    NotWasm {
        /// The first bytes, in hex.
        head: String,
    },
    /// A core WebAssembly module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build it for the `wasm32-wasip2` target with the Weir SDK (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// The component does not parse or validate.
    #[error("invalid WebAssembly component: {0}")]
    Invalid(String),
    /// The component imports something Weir does not grant.
    #[error("the module imports `{import}`, which Weir does not grant: {why}")]
    ForbiddenImport {
        /// The import's name.
        import: String,
        /// Why it is refused.
        why: String,
    },
    /// The component exports a different version of the Weir world.
    #[error(
        "the module implements `{found}`, but this runtime implements `{expected}`; rebuild it with a matching weir-sdk"
    )]
    WorldVersion {
        /// What the module exports.
        found: String,
        /// What the runtime expects.
        expected: String,
    },
    /// The component is not a Weir module: the processor interface or one of its functions is
    /// missing.
    #[error(
        "the module does not export `{missing}`, so it is not a Weir processor (it exports: {exports}); build it with weir-sdk and `#[weir_sdk::processor]`"
    )]
    MissingExport {
        /// What is missing.
        missing: String,
        /// What the component does export.
        exports: String,
    },
    /// An export exists with the wrong type.
    #[error(
        "the module's `{function}` has the wrong signature ({detail}); rebuild it with a weir-sdk matching this runtime"
    )]
    ExportSignature {
        /// The function.
        function: String,
        /// The type checker's message.
        detail: String,
    },
    /// The module failed while instantiating or describing itself.
    #[error("the module failed to start: {0}")]
    Start(String),
}

impl ModuleError {
    /// A short stable code for API errors and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ModuleError::NotWasm { .. } => "not_wasm",
            ModuleError::CoreModule => "core_module",
            ModuleError::Invalid(_) => "invalid_component",
            ModuleError::ForbiddenImport { .. } => "forbidden_import",
            ModuleError::WorldVersion { .. } => "world_version",
            ModuleError::MissingExport { .. } => "missing_export",
            ModuleError::ExportSignature { .. } => "export_signature",
            ModuleError::Start(_) => "start_failed",
        }
    }
}
