//! Library-wide error helpers. Each stage has its own `thiserror` type next to its code
//! (`SourceError`, `MappingError`, `ConfigError`, ...); this module re-exports them.

pub use crate::config::ConfigError;
pub use crate::mapping::MappingError;
pub use crate::secret::SecretError;
pub use crate::source::SourceError;
