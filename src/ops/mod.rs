//! Operations: one function per command, as cargo's `ops` (`ops::import`, `ops::sync`,
//! …). The binary's command files resolve their arguments into [`crate::settings`]
//! and make one call here; this layer opens the input, connects, runs the executor and
//! turns how a run ended (summary, fatal error, interruption, refusal) into an exit code.

mod act;
mod apply;
mod export;
mod import;
mod input;
mod lookups;
mod offline;
mod outputs;
mod plan;
mod progress;
mod sync;

pub use act::{ActSettings, act};
pub use apply::{ApplySettings, apply};
pub use export::{ExportSettings, export};
pub use import::{demo_import, import};
pub use offline::{ConvertSettings, convert, mapping, validate};
pub use outputs::output_format;
pub use plan::plan;
pub use sync::{SyncRun, sync};

/// A password for an account the demo creates.
pub use crate::client::rocketchat::random_password;
