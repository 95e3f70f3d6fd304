//! Stub: CSV writer.

use std::io::{self, Write};

use super::{UserWriter, WriterOptions};
use crate::model::User;

pub struct CsvUserWriter {
    out: Box<dyn Write + Send>,
}

impl CsvUserWriter {
    pub fn new(out: Box<dyn Write + Send>, _delimiter: u8, _opts: &WriterOptions) -> io::Result<Self> {
        Ok(CsvUserWriter { out })
    }
}

impl UserWriter for CsvUserWriter {
    fn write(&mut self, _user: &User) -> io::Result<()> {
        Err(io::Error::other("CSV writer not implemented yet"))
    }
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}
