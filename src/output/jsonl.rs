//! JSON Lines writer: the canonical `User` JSON, one object per line, `\n` line ends.
//! `User` never serializes its password (nor its origin), so neither is written.

use std::io::{self, Write};

use super::UserWriter;
use crate::model::User;

pub struct JsonlUserWriter {
    out: Box<dyn Write + Send>,
}

impl JsonlUserWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonlUserWriter { out }
    }
}

impl UserWriter for JsonlUserWriter {
    fn write(&mut self, user: &User) -> io::Result<()> {
        // Compact form: serde_json escapes newlines inside strings, so one user is one line.
        serde_json::to_writer(&mut self.out, user)?;
        self.out.write_all(b"\n")
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}
