//! CSV and TSV files: delimiter sniffing, the header search over the first rows, then a
//! background thread that streams the remaining rows in chunks, so a million-row file is
//! never held whole and parsing overlaps with validation.
//!
//! Rows are numbered as a spreadsheet program shows the file: a quoted cell spanning
//! several lines is one row, a blank line is a row (skipped, but counted).
//!
//! Data beyond the header's width: the table is as wide as the header or the widest of the
//! first rows read for the header search, whichever is wider (extra columns are named
//! `column F`). A later row with non-empty values beyond that width gets a [`CellError`]
//! quoting them, on the first such column; nothing is dropped silently.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use csv::{ByteRecord, StringRecord};

use super::cell::trim;
use super::header::{self, Kind};
use super::{Error, Opened, RawRow, Table, encoding, limits};
use crate::model::{CellError, Cells, Layout};

/// Delimiters tried by the sniffer, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Rows per chunk sent by the reading thread, and chunks it may run ahead.
const CHUNK_ROWS: usize = 1024;
const CHUNKS_AHEAD: usize = 16;
/// Bytes of cell text after which a chunk is sent before it has [`CHUNK_ROWS`] rows.
const CHUNK_BYTES: usize = 4 << 20;

/// The CSV parser's read buffer.
const BUFFER: usize = 1 << 16;

/// The problem text for a cell whose bytes are not UTF-8 in a UTF-8 file.
pub(crate) const NOT_UTF8: &str = "holds bytes that are not valid UTF-8";

/// Opens a text file whose first bytes (`sample`) are already read from `file`.
pub(crate) fn open(
    path: &Path,
    file: impl Read + Send + 'static,
    sample: Vec<u8>,
    complete: bool,
    strict: bool,
) -> Result<Opened, Error> {
    let detected = encoding::detect(&sample, complete);
    let unicode = [
        encoding_rs::UTF_8,
        encoding_rs::UTF_16LE,
        encoding_rs::UTF_16BE,
    ]
    .contains(&detected.encoding);
    let is_utf16 = detected.encoding != encoding_rs::UTF_8 && unicode;
    if (!is_utf16 && sample.contains(&0)) || (strict && !unicode) {
        return Err(Error::Unreadable {
            path: path.to_path_buf(),
            reason: "is neither a workbook nor a text file".into(),
        });
    }
    let text = encoding::decode_sample(&sample, detected);
    let prefer_tab = matches!(extension(path).as_str(), "tsv" | "tab" | "txt");
    let delimiter = sniff_delimiter(&text, prefer_tab);
    let reader = encoding::utf8_reader(sample, file, detected);
    let mut records = Records::new(path, reader, delimiter);

    let mut window: Vec<RawRow> = Vec::new();
    while window.len() < header::WINDOW {
        match records.next_row(usize::MAX)? {
            Some(row) => window.push(row),
            None => break,
        }
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kinds: Vec<Vec<Kind>> = window
        .iter()
        .map(|r| r.cells.iter().map(Kind::of_text).collect())
        .collect();
    let Some(at) = header::find_header(&kinds, 1) else {
        return Ok(Opened {
            tables: Vec::new(),
            skipped: vec![format!("{stem} (no header found)")],
        });
    };
    let mut window: VecDeque<RawRow> = window.into_iter().skip(at).collect();
    let header_row = window
        .pop_front()
        .expect("find_header returns an index into the window");
    let width = window
        .iter()
        .map(|r| header::used_width(&r.cells.to_vec()))
        .chain([header::used_width(&header_row.cells.to_vec())])
        .max()
        .unwrap_or(0);
    for row in &mut window {
        row.cells.resize(width);
    }
    let layout = Layout {
        file: path.display().to_string(),
        sheet: stem,
        is_workbook: false,
        header_row: header_row.line,
        headers: header::header_names(&header_row.cells.to_vec(), width),
        ..Layout::default()
    };
    let rows = Streamed {
        path: path.to_path_buf(),
        window,
        pending: Some((records, width)),
        rx: None,
        chunk: Vec::new().into_iter(),
        done: false,
    };
    Ok(Opened {
        tables: vec![Table {
            layout,
            rows: Box::new(rows),
        }],
        skipped: Vec::new(),
    })
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The delimiter of a CSV text: the candidate whose count per line (outside quotes) is the
/// same on the most lines, then the one with more columns. Title lines above the header
/// and lines with a stray comma inside a value do not sway it. With no candidate at all
/// (a one-column file) `,`, or tab when `prefer_tab` (a `.tsv` file).
pub(crate) fn sniff_delimiter(text: &str, prefer_tab: bool) -> u8 {
    const LINES: usize = 50;
    let mut counts: Vec<[usize; 4]> = Vec::new();
    let mut line = [0usize; 4];
    let mut quoted = false;
    let mut filled = false;
    for b in text.bytes() {
        match b {
            b'"' => {
                quoted = !quoted;
                filled = true;
            }
            b'\n' | b'\r' if !quoted => {
                if filled {
                    counts.push(line);
                    if counts.len() == LINES {
                        break;
                    }
                }
                line = [0; 4];
                filled = false;
            }
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    line[i] += 1;
                }
                filled |= !b.is_ascii_whitespace();
            }
            _ => {}
        }
    }
    if filled && counts.len() < LINES {
        counts.push(line);
    }
    let mut order = DELIMITERS.to_vec();
    if prefer_tab {
        order.retain(|d| *d != b'\t');
        order.insert(0, b'\t');
    }
    let mut best: Option<((usize, usize), u8)> = None;
    for d in order {
        let i = DELIMITERS
            .iter()
            .position(|x| *x == d)
            .expect("order holds only DELIMITERS");
        let mut tally: Vec<(usize, usize)> = Vec::new(); // (count, lines)
        for line in &counts {
            let n = line[i];
            if n == 0 {
                continue;
            }
            match tally.iter_mut().find(|(c, _)| *c == n) {
                Some((_, lines)) => *lines += 1,
                None => tally.push((n, 1)),
            }
        }
        let Some(&(count, lines)) = tally.iter().max_by_key(|(c, l)| (*l, *c)) else {
            continue;
        };
        if best.is_none_or(|(score, _)| (lines, count) > score) {
            best = Some(((lines, count), d));
        }
    }
    best.map_or(if prefer_tab { b'\t' } else { b',' }, |(_, d)| d)
}

/// The CSV parser and the spreadsheet row numbering.
struct Records {
    path: PathBuf,
    reader: csv::Reader<Tap>,
    record: ByteRecord,
    /// Row number of the last record read.
    row: u32,
}

impl Records {
    fn new(path: &Path, reader: Box<dyn Read + Send>, delimiter: u8) -> Records {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(BUFFER)
            .from_reader(Tap {
                inner: reader,
                seen: Vec::new(),
                base: 0,
                mark: 0,
            });
        Records {
            path: path.to_path_buf(),
            reader,
            record: ByteRecord::new(),
            row: 0,
        }
    }

    /// The next non-blank row, with at most `width` cells kept (padded to `width` unless
    /// it is `usize::MAX`); values beyond `width` become a cell error.
    fn next_row(&mut self, width: usize) -> Result<Option<RawRow>, Error> {
        loop {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| self.error(e))?;
            if !more {
                return Ok(None);
            }
            // csv skips empty lines; count them as rows, as a spreadsheet shows them.
            let start = self.record.position().map_or(0, |p| p.byte());
            let blank = self.reader.get_ref().empty_lines_at(start);
            self.row = self.row.saturating_add(1).saturating_add(blank);
            if let Some(reason) = limits::check_columns(self.record.len(), self.row) {
                return Err(self.unreadable(reason));
            }
            if self.record.as_slice().len() > limits::MAX_ROW_BYTES {
                return Err(self.unreadable(limits::row_too_long(self.row)));
            }
            let after = self.reader.position().byte();
            self.reader.get_mut().forget_before(after.saturating_sub(1));
            // One UTF-8 check for the whole record (fast); per field only when it fails.
            let record = std::mem::take(&mut self.record);
            let size = record.as_slice().len();
            let (row, record) = match StringRecord::from_byte_record(record) {
                Ok(strings) => {
                    let fields = strings.iter().map(Ok);
                    let row = convert(fields, strings.len(), size, self.row, width);
                    (row, strings.into_byte_record())
                }
                Err(e) => {
                    let bytes = e.into_byte_record();
                    let fields = bytes.iter().map(|f| std::str::from_utf8(f).map_err(|_| f));
                    (convert(fields, bytes.len(), size, self.row, width), bytes)
                }
            };
            self.record = record;
            if let Some(row) = row {
                return Ok(Some(row));
            }
        }
    }

    fn unreadable(&self, reason: String) -> Error {
        Error::Unreadable {
            path: self.path.clone(),
            reason,
        }
    }

    fn error(&self, e: csv::Error) -> Error {
        let reason = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::Io(source)
                if source.get_ref().is_some_and(|e| e.is::<RowTooLong>()) =>
            {
                self.unreadable(limits::row_too_long(self.row.saturating_add(1)))
            }
            csv::ErrorKind::Io(source) => Error::Io {
                path: self.path.clone(),
                source,
            },
            _ => Error::Unreadable {
                path: self.path.clone(),
                reason,
            },
        }
    }
}

/// Keeps the bytes the CSV parser has read but not yet finished with, so that the empty
/// lines it skips before a record can be counted (it reports neither them nor a line
/// number that works for `\r\n`, `\n` and `\r` endings alike).
struct Tap {
    inner: Box<dyn Read + Send>,
    /// Bytes from offset `base` of the stream on.
    seen: Vec<u8>,
    base: u64,
    /// Where the last record read ended.
    mark: u64,
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Bytes past the end of the last record are the unfinished one (and the parser's
        // read-ahead): a record longer than the cap stops the reading here.
        let unfinished = (self.base + self.seen.len() as u64).saturating_sub(self.mark);
        if unfinished > (limits::MAX_ROW_BYTES + BUFFER) as u64 {
            return Err(std::io::Error::other(RowTooLong));
        }
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// A record longer than [`limits::MAX_ROW_BYTES`] (the message is made with the row number).
#[derive(Debug)]
struct RowTooLong;

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a row is too long")
    }
}

impl std::error::Error for RowTooLong {}

impl Tap {
    fn byte_at(&self, offset: u64) -> Option<u8> {
        let i = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        self.seen.get(i).copied()
    }

    /// The number of empty lines starting at `offset` (where a record's read began): the
    /// run of line breaks there, less the `\n` that completes a `\r\n` before it.
    fn empty_lines_at(&self, offset: u64) -> u32 {
        let mut at = offset;
        if offset > 0 && self.byte_at(offset - 1) == Some(b'\r') && self.byte_at(at) == Some(b'\n')
        {
            at += 1;
        }
        let mut lines = 0u32;
        while let Some(b) = self.byte_at(at) {
            match b {
                b'\r' => {
                    at += if self.byte_at(at + 1) == Some(b'\n') {
                        2
                    } else {
                        1
                    };
                }
                b'\n' => at += 1,
                _ => break,
            }
            lines = lines.saturating_add(1);
        }
        lines
    }

    /// Drops what lies before `offset` (the end of a record), in large steps so that it
    /// stays cheap.
    fn forget_before(&mut self, offset: u64) {
        self.mark = offset;
        let drop = offset.saturating_sub(self.base);
        if drop >= 1 << 20 {
            let drop = usize::try_from(drop)
                .unwrap_or(usize::MAX)
                .min(self.seen.len());
            self.seen.drain(..drop);
            self.base += drop as u64;
        }
    }
}

/// A record's fields (text, or bytes that are not UTF-8) as a row, or `None` when every
/// cell is blank. `len` is the number of fields and `size` their bytes, so the row's
/// buffer is allocated once; a cell is copied only once, trimmed.
fn convert<'a>(
    fields: impl Iterator<Item = Result<&'a str, &'a [u8]>>,
    len: usize,
    size: usize,
    line: u32,
    width: usize,
) -> Option<RawRow> {
    let mut cells = Cells::with_capacity(len.min(width), size);
    let mut errors = Vec::new();
    let mut beyond: Option<(usize, Vec<String>)> = None;
    let mut blank = true;
    for (col, field) in fields.enumerate() {
        let lossy;
        let text = match field {
            Ok(s) => trim(s),
            Err(bytes) => {
                errors.push(CellError {
                    col,
                    text: NOT_UTF8.to_string(),
                });
                lossy = String::from_utf8_lossy(bytes);
                trim(&lossy)
            }
        };
        let (text, cut) = match text.len() <= limits::MAX_CELL_CHARS {
            true => (text, None),
            false => limits::cap_str(text),
        };
        if let Some(text) = cut {
            errors.push(CellError { col, text });
        }
        blank &= text.is_empty();
        if col < width {
            cells.push(text);
        } else if !text.is_empty() {
            beyond
                .get_or_insert_with(|| (col, Vec::new()))
                .1
                .push(format!("\"{text}\""));
        }
    }
    if blank {
        return None;
    }
    if width != usize::MAX {
        cells.resize(width);
        errors.retain(|e| e.col < width);
    }
    if let Some((col, values)) = beyond {
        errors.push(CellError {
            col,
            text: format!(
                "holds data beyond the last column of the header: {}",
                values.join(", ")
            ),
        });
    }
    Some(RawRow {
        line,
        cells,
        errors,
    })
}

/// What the reading thread sends.
enum Message {
    Rows(Vec<RawRow>),
    Failed(Error),
    End,
}

/// The rows of a CSV table: first those read for the header search, then those the
/// reading thread sends. The thread starts on the first call to `next`.
struct Streamed {
    path: PathBuf,
    window: VecDeque<RawRow>,
    pending: Option<(Records, usize)>,
    rx: Option<Receiver<Message>>,
    chunk: std::vec::IntoIter<RawRow>,
    done: bool,
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
            if let Some((records, width)) = self.pending.take() {
                let (tx, rx) = sync_channel(CHUNKS_AHEAD);
                let spawned = std::thread::Builder::new()
                    .name("muster-csv".into())
                    .spawn(move || read_rows(records, width, tx));
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

/// The reading thread: parses rows and sends them in chunks until the end, an error, or
/// the receiver is gone (the table was dropped).
fn read_rows(mut records: Records, width: usize, tx: SyncSender<Message>) {
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    // Long rows make a chunk go early, so the chunks in flight stay small in bytes too.
    let mut bytes = 0usize;
    loop {
        match records.next_row(width) {
            Ok(Some(row)) => {
                bytes += row.cells.text_len();
                chunk.push(row);
                if chunk.len() == CHUNK_ROWS || bytes >= CHUNK_BYTES {
                    bytes = 0;
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
                    if tx.send(Message::Rows(full)).is_err() {
                        return;
                    }
                }
            }
            Ok(None) => {
                if !chunk.is_empty() && tx.send(Message::Rows(chunk)).is_err() {
                    return;
                }
                let _ = tx.send(Message::End);
                return;
            }
            Err(e) => {
                if !chunk.is_empty() && tx.send(Message::Rows(chunk)).is_err() {
                    return;
                }
                let _ = tx.send(Message::Failed(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_sniffed() {
        let cases: Vec<(&str, &str, bool, u8)> = vec![
            ("comma", "a,b,c\n1,2,3\n", false, b','),
            (
                "semicolon with decimal commas",
                "a;b;c\n1,5;2;3\n4,5;6;7\n",
                false,
                b';',
            ),
            ("tab", "a\tb\tc\n1\t2\t3\n", false, b'\t'),
            ("pipe", "a|b|c\n1|2|3\n", false, b'|'),
            (
                "commas inside quotes",
                "name;note\n\"Doe, Jane\";\"a, b, c\"\n\"Roe, Rick\";x\n",
                false,
                b';',
            ),
            (
                "quoted newline",
                "a;b\n\"line1\nline2, with comma\";2\nc;d\n",
                false,
                b';',
            ),
            (
                "title rows above",
                "Fleet roster\nExported 2026-03-01\n\nfirst;last;email\nA;B;c\nD;E;f\n",
                false,
                b';',
            ),
            ("one column", "email\na@x\nb@x\n", false, b','),
            ("one column tsv", "email\na@x\n", true, b'\t'),
            ("crlf", "a;b\r\n1;2\r\n", false, b';'),
        ];
        for (name, text, tab, want) in cases {
            assert_eq!(sniff_delimiter(text, tab) as char, want as char, "{name}");
        }
    }

    fn rows_of(bytes: &[u8]) -> Vec<RawRow> {
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
        let mut records = Records::new(Path::new("x.csv"), reader, b',');
        let mut rows = Vec::new();
        while let Some(row) = records.next_row(3).unwrap() {
            rows.push(row);
        }
        rows
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_shows_them() {
        let cases: [(&[u8], &[u32]); 6] = [
            // a,b=1; blank=2; quoted x\ny=3; last=4; mac=5 (lone CR); ",": blank 6; end=7
            (
                b"a,b\n\n\"x\ny\",1\r\nlast,2\rmac,3\n,\nend,4",
                &[1, 3, 4, 5, 7],
            ),
            (b"a\r\n\r\nb\r\n\r\n", &[1, 3]),
            (b"\n\na\n\n\nend", &[3, 6]),
            (b"a\r\rb\rc", &[1, 3, 4]),
            (b"\"q\r\n\r\nq\"\r\n\r\nb", &[1, 3]),
            (b"a\n  \nb\n", &[1, 3]),
        ];
        for (bytes, want) in cases {
            let lines: Vec<u32> = rows_of(bytes).iter().map(|r| r.line).collect();
            assert_eq!(lines, want, "{:?}", String::from_utf8_lossy(bytes));
        }
        let rows = rows_of(b"a,b\n\"x\ny\",1\n");
        assert_eq!(rows[1].cells, ["x\ny", "1", ""]);
    }

    #[test]
    fn invalid_utf8_is_a_cell_error_not_a_failure() {
        let rows = rows_of(b"name,city\nJ\xfcrgen,Wien\n");
        assert_eq!(&rows[1].cells[0], "J\u{fffd}rgen");
        assert_eq!(
            rows[1].errors,
            [CellError {
                col: 0,
                text: NOT_UTF8.into()
            }]
        );
    }

    #[test]
    fn data_beyond_the_width_is_reported() {
        let rows = rows_of(b"a,b,c,, x ,y\n");
        assert_eq!(rows[0].cells, ["a", "b", "c"]);
        assert_eq!(
            rows[0].errors,
            [CellError {
                col: 4,
                text: "holds data beyond the last column of the header: \"x\", \"y\"".into()
            }]
        );
    }

    #[test]
    fn records_become_trimmed_padded_rows() {
        // (fields, width, the row's cells; None when the row is blank)
        type Case = (
            &'static [&'static str],
            usize,
            Option<&'static [&'static str]>,
        );
        let cases: &[Case] = &[
            (&["a", "b"], 3, Some(&["a", "b", ""])),
            (&[" a ", "\u{a0}b\u{a0}", "c"], 3, Some(&["a", "b", "c"])),
            (&["Müller ", " Jürgen"], 2, Some(&["Müller", "Jürgen"])),
            (&["", " ", "\u{a0}"], 3, None),
            (&["a", "b", "c", ""], 3, Some(&["a", "b", "c"])),
            (&["x"], usize::MAX, Some(&["x"])),
            (&["", "y"], 1, Some(&[""])),
        ];
        for (fields, width, want) in cases {
            let size = fields.iter().map(|f| f.len()).sum();
            let row = convert(fields.iter().map(|f| Ok(*f)), fields.len(), size, 9, *width);
            let got: Option<Vec<&str>> = row.as_ref().map(|r| r.cells.iter().collect());
            assert_eq!(got.as_deref(), *want, "{fields:?} {width}");
            if let Some(r) = &row {
                assert_eq!(r.line, 9);
            }
        }
    }
}
