//! Stub: LDIF writer.

use std::io::{self, Write};

use super::{UserWriter, WriterOptions};
use crate::model::User;

pub struct LdifUserWriter {
    out: Box<dyn Write + Send>,
}

impl LdifUserWriter {
    pub fn new(out: Box<dyn Write + Send>, _opts: &WriterOptions) -> io::Result<Self> {
        Ok(LdifUserWriter { out })
    }
}

impl UserWriter for LdifUserWriter {
    fn write(&mut self, _user: &User) -> io::Result<()> {
        Err(io::Error::other("LDIF writer not implemented yet"))
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}
