//! The control-plane client under `weir module`, `weir job` and `weir dead-letters`, one
//! concept a file:
//!
//! - [`endpoint`]: where the server URL and the token come from (flags, environment, the client
//!   config file, the default), and where each came from;
//! - [`http`]: the blocking [`Client`], one call per request, and its [`Reply`];
//! - [`error`]: the server's errors decoded into what the user reads (`error: module_in_use:
//!   ...`), and the server that could not be reached;
//! - [`upload`]: a module's bytes streamed to the server, with a progress bar.
//!
//! It knows the API's base path, its auth header and its error shape (v1); it does not know
//! modules or jobs (`module.rs`, `job.rs`).

pub mod endpoint;
pub mod error;
pub mod http;
pub mod upload;

pub use endpoint::{ClientArgs, Endpoint};
pub use error::{ApiError, Unreachable};
pub use http::{Client, Reply, segment};
