//! Stub: JSON Lines writer.

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
        serde_json::to_writer(&mut self.out, user)?;
        self.out.write_all(b"\n")
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}
