//! LDIF block framing: physical lines, folding, comments and record boundaries.
//!
//! The input is read one *block* at a time (the lines up to the next blank line), so memory
//! depends on the largest record, never on the file. A block is unfolded into logical lines
//! (a line starting with one space continues the previous one; `#` lines, folded or not, are
//! comments). What the lines mean is for [`super::record`].

use std::io::{self, BufRead, BufReader, Read};

use crate::source::encoding::UTF8_BOM;

const READ_BUFFER: usize = 256 << 10;

/// One logical (unfolded) line of the current block.
#[derive(Clone, Copy, Debug)]
pub(super) struct LLine {
    /// 1-based physical line number of its first line.
    pub(super) line: u64,
    /// Its bytes in `Blocks::text`.
    pub(super) start: usize,
    pub(super) end: usize,
    /// Index of its first physical line in `Blocks::starts`, and one past its last.
    pub(super) phys: usize,
    pub(super) phys_end: usize,
}

/// How a block ended.
pub(super) struct BlockEnd {
    /// Line number of the blank line that ended it (`None` at end of input).
    pub(super) blank: Option<u64>,
    /// The block exceeded `--max-record-size`; its text was not kept.
    pub(super) oversize: bool,
}

/// The reader and the current block, raw and unfolded.
pub(super) struct Blocks {
    reader: BufReader<Box<dyn Read + Send>>,
    /// Physical lines consumed so far.
    pub(super) line_no: u64,
    /// The current block, CR stripped, every line ending in `\n`.
    pub(super) raw: Vec<u8>,
    /// Offset in `raw` of each physical line of the block.
    pub(super) starts: Vec<usize>,
    /// Line number of the block's first line.
    pub(super) block_first: u64,
    /// The block's logical lines, unfolded, comments dropped.
    pub(super) text: Vec<u8>,
    pub(super) lines: Vec<LLine>,
    /// A block that starts with a continuation line: its line number.
    pub(super) stray: Option<u64>,
    /// Lines after the first that started with a UTF-8 byte order mark, skipped before a
    /// block (concatenated files): for a warning.
    pub(super) boms: Vec<u64>,
    /// Largest record kept in memory (`--max-record-size`); a bigger one is skipped and
    /// reported.
    pub(super) max_record: usize,
}

impl Blocks {
    pub(super) fn new(reader: Box<dyn Read + Send>, max_record: usize) -> Self {
        Blocks {
            max_record,
            reader: BufReader::with_capacity(READ_BUFFER, reader),
            line_no: 0,
            raw: Vec::with_capacity(4096),
            starts: Vec::with_capacity(64),
            block_first: 1,
            text: Vec::with_capacity(4096),
            lines: Vec::with_capacity(64),
            stray: None,
            boms: Vec::new(),
        }
    }

    /// The text of a logical line.
    pub(super) fn line(&self, l: &LLine) -> &[u8] {
        &self.text[l.start..l.end]
    }

    /// Reads the lines up to the next blank line into `raw`/`starts`. `None` at end of input.
    ///
    /// Scans the reader's buffer directly rather than calling `read_until` per line: this
    /// loop is most of the reader's cost on large files.
    pub(super) fn read_block(&mut self) -> io::Result<Option<BlockEnd>> {
        self.raw.clear();
        self.starts.clear();
        let mut in_block = false;
        let mut oversize = false;
        // The line being read: where it starts in `raw`, its length so far, its first byte.
        let mut pending = false;
        let mut line_start = 0;
        let mut cur_len = 0usize;
        let mut cur_first = 0u8;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let eof = buf.is_empty();
            if eof && !pending {
                return Ok(in_block.then_some(BlockEnd {
                    blank: None,
                    oversize,
                }));
            }
            let (chunk_len, found) = match find_newline(buf) {
                Some(p) => (p, true),
                None => (buf.len(), eof),
            };
            let chunk = &buf[..chunk_len];
            if !pending {
                pending = true;
                line_start = self.raw.len();
                cur_len = 0;
            }
            if cur_len == 0
                && let Some(&b) = chunk.first()
            {
                cur_first = b;
            }
            cur_len += chunk_len;
            // What the record keeps of this piece: a CR before the line end is dropped,
            // and a blank line (the record's end) adds nothing.
            let kept = chunk_len - usize::from(found && chunk.last() == Some(&b'\r'));
            if !oversize {
                if kept > 0 && self.raw.len() + kept > self.max_record {
                    // Too big to keep: drop the block's text and skip to its end.
                    oversize = true;
                    self.raw.clear();
                    self.starts.clear();
                    if !in_block {
                        in_block = true;
                        self.block_first = self.line_no + 1;
                    }
                } else {
                    self.raw.extend_from_slice(chunk);
                }
            }
            let used = chunk_len + usize::from(found && !eof);
            self.reader.consume(used);
            if !found {
                continue;
            }
            pending = false;
            self.line_no += 1;
            let mut blank = cur_len == 0 || (cur_len == 1 && cur_first == b'\r');
            // A byte order mark before a block: Windows editors start UTF-8 files with one
            // (the CSV reader skips it too), and concatenated files bring more. Dropped
            // here, so the line reads as what follows it.
            if !in_block && !oversize && self.raw[line_start..].starts_with(UTF8_BOM) {
                self.raw.drain(line_start..line_start + UTF8_BOM.len());
                let rest = &self.raw[line_start..];
                blank = rest.is_empty() || rest == b"\r";
                if self.line_no > 1 {
                    self.boms.push(self.line_no);
                }
            }
            if blank {
                if !oversize {
                    self.raw.truncate(line_start);
                }
                if !in_block {
                    continue;
                }
                return Ok(Some(BlockEnd {
                    blank: Some(self.line_no),
                    oversize,
                }));
            }
            if !in_block {
                in_block = true;
                self.block_first = self.line_no;
            }
            if !oversize {
                if self.raw.last() == Some(&b'\r') {
                    self.raw.pop();
                }
                self.raw.push(b'\n');
                self.starts.push(line_start);
            }
            if eof {
                return Ok(Some(BlockEnd {
                    blank: None,
                    oversize,
                }));
            }
        }
    }

    /// Unfolds the block into `text`/`lines`, dropping comments.
    pub(super) fn unfold(&mut self) {
        self.text.clear();
        self.lines.clear();
        self.stray = None;
        let mut in_comment = false;
        let n = self.starts.len();
        for i in 0..n {
            let s = self.starts[i];
            let e = if i + 1 < n {
                self.starts[i + 1]
            } else {
                self.raw.len()
            } - 1;
            let line = &self.raw[s..e];
            match line.first() {
                Some(b' ') => {
                    if in_comment || self.stray.is_some() {
                        continue;
                    }
                    match self.lines.last_mut() {
                        Some(last) => {
                            self.text.extend_from_slice(&line[1..]);
                            last.end = self.text.len();
                            last.phys_end = i + 1;
                        }
                        None => self.stray = Some(self.block_first + i as u64),
                    }
                }
                Some(b'#') => in_comment = true,
                _ => {
                    in_comment = false;
                    if self.stray.is_some() {
                        continue;
                    }
                    let start = self.text.len();
                    self.text.extend_from_slice(line);
                    self.lines.push(LLine {
                        line: self.block_first + i as u64,
                        start,
                        end: self.text.len(),
                        phys: i,
                        phys_end: i + 1,
                    });
                }
            }
        }
    }
}

/// Position of the first `\n`, eight bytes at a time (std keeps its memchr private).
fn find_newline(h: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut chunks = h.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ NL;
        // A zero byte in x is a newline; the lowest flagged byte is always a true one.
        let t = x.wrapping_sub(LO) & !x & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| i + p)
}
