//! A table's rows read on a thread of their own and handed over in chunks through a
//! bounded channel, so a table costs a few chunks of memory, never its file (CSV blocks,
//! workbook sheets). The thread starts on the first call to `next` and stops when the
//! table is dropped.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{Error, RawRow};

/// Chunks the reading thread may send ahead of the reader (see `CHUNKS_BEHIND` in
/// `commands::validate` for the depth).
const CHUNKS_AHEAD: usize = 8;

/// What the reading thread sends.
enum Message {
    Rows(Vec<RawRow>),
    Failed(Error),
    End,
}

/// The reading thread's end of the channel.
pub(crate) struct Feed(SyncSender<Message>);

impl Feed {
    /// Hands over `rows`; `false` when the table was dropped (reading should stop).
    pub(crate) fn rows(&self, rows: Vec<RawRow>) -> bool {
        rows.is_empty() || self.0.send(Message::Rows(rows)).is_ok()
    }

    /// Ends the table with an error.
    pub(crate) fn failed(self, e: Error) {
        let _ = self.0.send(Message::Failed(e));
    }

    /// Ends the table: every row was sent.
    pub(crate) fn end(self) {
        let _ = self.0.send(Message::End);
    }
}

/// What the reading thread runs: it sends rows, then ends with [`Feed::end`] or
/// [`Feed::failed`] (a thread that ends saying neither is reported as an error).
pub(crate) type Reading = Box<dyn FnOnce(Feed) + Send>;

/// The rows of a table: first `window` (read on the caller's thread, for the header
/// search), then those the reading thread sends.
pub(crate) struct Streamed {
    path: PathBuf,
    thread_name: &'static str,
    window: VecDeque<RawRow>,
    pending: Option<Reading>,
    rx: Option<Receiver<Message>>,
    chunk: std::vec::IntoIter<RawRow>,
    done: bool,
}

impl Streamed {
    /// Rows of the file `path`: `window`, then what `reading` sends from a thread named
    /// `thread_name`.
    pub(crate) fn new(
        path: PathBuf,
        thread_name: &'static str,
        window: VecDeque<RawRow>,
        reading: Reading,
    ) -> Streamed {
        Streamed {
            path,
            thread_name,
            window,
            pending: Some(reading),
            rx: None,
            chunk: Vec::new().into_iter(),
            done: false,
        }
    }
}

impl Iterator for Streamed {
    type Item = Result<RawRow, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.window.pop_front() {
            return Some(Ok(row));
        }
        loop {
            if let Some(row) = self.chunk.next() {
                return Some(Ok(row));
            }
            if self.done {
                return None;
            }
            if let Some(reading) = self.pending.take() {
                let (tx, rx) = sync_channel(CHUNKS_AHEAD);
                let spawned = std::thread::Builder::new()
                    .name(self.thread_name.into())
                    .spawn(move || reading(Feed(tx)));
                if let Err(source) = spawned {
                    self.done = true;
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
                self.rx = Some(rx);
            }
            let message = self.rx.as_ref().map(|rx| rx.recv());
            match message {
                Some(Ok(Message::Rows(rows))) => self.chunk = rows.into_iter(),
                Some(Ok(Message::Failed(e))) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(Message::End)) | None => {
                    self.done = true;
                    return None;
                }
                Some(Err(_)) => {
                    // The thread ended without saying so: never pass that off as the end.
                    self.done = true;
                    return Some(Err(Error::Unreadable {
                        path: self.path.clone(),
                        reason: "reading stopped unexpectedly".into(),
                    }));
                }
            }
        }
    }
}
