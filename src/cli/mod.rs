//! The command line's shared parts: option groups several commands flatten
//! (`common`), and their merge with the job file and the defaults into typed settings
//! (`settings`). The command tree and the dispatch are `commands/`'s; nothing here
//! knows the commands.

pub mod common;
pub mod settings;
