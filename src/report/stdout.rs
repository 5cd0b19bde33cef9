//! Standard output for the commands' JSON lines and tables.
//!
//! A reader may stop early (`muster validate --json roster.csv | head`) and close the
//! pipe. What is left to print is then dropped, and the command still finishes its real
//! work (the result workbook, the journal) and exits with its own status, instead of
//! stopping half-way with "Broken pipe" (or, through `println!`, a panic).

use std::io::{self, BufWriter, ErrorKind, Write};

/// Buffered standard output that drops its writes once the reader has gone.
pub struct Stdout {
    /// `None` once a write found the pipe closed.
    inner: Option<BufWriter<io::Stdout>>,
}

impl Stdout {
    pub fn new() -> Stdout {
        Stdout {
            inner: Some(BufWriter::new(io::stdout())),
        }
    }

    /// `result` of a write to `inner`, unless it failed because the reader has gone: then
    /// `gone` (what to report instead) and no more writes are tried.
    fn unless_gone<T>(&mut self, result: io::Result<T>, gone: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                // Dropping the buffer tries a last flush, which fails the same way, unseen.
                self.inner = None;
                Ok(gone)
            }
            other => other,
        }
    }
}

impl Default for Stdout {
    fn default() -> Stdout {
        Stdout::new()
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(buf.len());
        };
        let result = inner.write(buf);
        self.unless_gone(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let result = inner.flush();
        self.unless_gone(result, ())
    }
}
