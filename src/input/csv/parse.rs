//! The CSV parser, in blocks: the file is cut into blocks that end at a line break, and
//! each block is parsed on its own (on the rayon pool, ahead of need) as if a record began
//! at its first byte. A sequencer takes the blocks in file order and keeps a block's parse
//! only when that guess was right, which the parse of the block before says: it ended
//! between two records. Otherwise (a quoted cell with a line break spans the cut, or a line
//! longer than a block) the unfinished record and the next block are parsed again together.
//! The first block is parsed from the file's start, so by induction every row is exactly
//! what one parse of the whole file gives.
//!
//! A block's rows are numbered from its start; the sequencer adds the lines before it.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};

use csv_core::ReadRecordResult;

use super::super::cell::trim;
use super::super::{Beyond, Error, RawRow, limits};
use super::NOT_UTF8;
use crate::model::{CellError, Cells, SharedText};

/// The bytes a block holds, before it is cut at its last line break.
pub(super) const BLOCK: usize = 1 << 20;

/// Blocks read and handed to the pool ahead of the one the sequencer needs (see
/// `CHUNKS_BEHIND` in `commands::validate` for the depth).
pub(super) const AHEAD: usize = 8;

/// Bytes [`read_plain`] may write past a record's last cell (it copies a short cell as
/// a whole 16 or 32 bytes), so the output has this much room beyond the input's length.
const OVERRUN: usize = 32;

/// Input bytes one record may take beyond [`limits::MAX_ROW_BYTES`] of cell text (its
/// delimiters and quotes) before it is refused.
const SLACK: usize = 1 << 16;

/// Bytes of the file that begin where a line begins (or, after a line longer than a block,
/// anywhere: the sequencer then finds the block before unfinished).
#[derive(Debug, Clone, Default)]
pub(super) struct Block {
    pub bytes: Vec<u8>,
    /// The byte before `bytes` is `\r`: a `\n` first ends that line, it is not a blank one.
    pub after_cr: bool,
    /// `bytes` run to the end of the file.
    pub last: bool,
    /// `bytes` begin the file (only there may a byte-order mark be dropped).
    pub first: bool,
}

impl Block {
    /// A whole file's text as one block.
    #[cfg(test)]
    pub fn whole(bytes: &[u8]) -> Block {
        Block {
            bytes: bytes.to_vec(),
            after_cr: false,
            last: true,
            first: true,
        }
    }
}

/// How records become rows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    pub delimiter: u8,
    /// Cells kept per row (padded to it), or `usize::MAX` for all of them, unpadded.
    pub width: usize,
}

/// A limit a record breaks; `line` counts from the block's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Broken {
    TooLong { line: u32 },
    TooWide { line: u32, columns: usize },
}

impl Broken {
    /// The error, with `base` lines before the block.
    pub fn error(self, path: &std::path::Path, base: u32) -> Error {
        let reason = match self {
            Broken::TooLong { line } => limits::row_too_long(base.saturating_add(line)),
            Broken::TooWide { line, columns } => {
                limits::check_columns(columns, base.saturating_add(line)).unwrap_or_default()
            }
        };
        Error::Unreadable {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// What one parse of a block gave.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    /// The rows that are not blank, numbered from the block's start (its first line is 1).
    pub rows: Vec<RawRow>,
    /// Lines (rows as a spreadsheet counts them, blank ones too) before `end`.
    pub lines: u32,
    /// Where parsing stopped: the block's end, after `max_rows` rows, or where a record
    /// begins that the block does not finish (its leading blank lines included).
    pub end: usize,
    /// The limit that stopped parsing, if one did.
    pub broken: Option<Broken>,
}

/// Where a record's fields are in the block's output.
struct Record {
    line: u32,
    /// Offset of its first byte in the output.
    start: usize,
    /// Its fields' ends (relative to `start`) are `ends[from..to]`.
    from: usize,
    to: usize,
}

/// Parses `block` as if a record began at its first byte, stopping after `max_rows` rows
/// that are not blank.
pub(super) fn parse(block: &Block, shape: Shape, max_rows: usize) -> Parsed {
    SCRATCH.with_borrow_mut(|scratch| parse_with(block, shape, max_rows, true, scratch))
}

/// Whether a block with no quote character gives the same parse read by [`read_plain`]
/// and by csv_core (for the fuzz target and tests): its rows as (line, cells, problems),
/// its lines, where it stopped, and the limit it broke. A block with quotes is always
/// read by csv_core, so it agrees.
pub(super) fn plain_agrees(block: &Block, shape: Shape, max_rows: usize) -> Result<(), String> {
    let summary = |plain| {
        // Bytes an earlier parse left in the scratch must not hide a byte left out.
        let parsed = SCRATCH.with_borrow_mut(|scratch| {
            let used = scratch.out.len().min(block.bytes.len() + OVERRUN + 1);
            scratch.out[..used].fill(0);
            parse_with(block, shape, max_rows, plain, scratch)
        });
        let rows: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| (r.line, r.cells.to_vec(), r.errors.clone()))
            .collect();
        (rows, parsed.lines, parsed.end, parsed.broken)
    };
    let (plain, core) = (summary(true), summary(false));
    match plain == core {
        true => Ok(()),
        false => Err(format!("read_plain gave {plain:?}, csv_core {core:?}")),
    }
}

/// What a parse writes into, kept by each thread from one block to the next (fresh
/// buffers for each block cost more than the parse; so does building the parser).
#[derive(Default)]
struct Scratch {
    out: Vec<u8>,
    ends: Vec<usize>,
    records: Vec<Record>,
    /// The parser, with the delimiter it was built for.
    core: Option<(u8, csv_core::Reader)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// `plain_allowed`: a block with no quote character may be read by [`read_plain`]
/// (false only to compare it with csv_core).
fn parse_with(
    block: &Block,
    shape: Shape,
    max_rows: usize,
    plain_allowed: bool,
    scratch: &mut Scratch,
) -> Parsed {
    let input = block.bytes.as_slice();
    let Scratch {
        out,
        ends,
        records,
        core,
    } = scratch;
    let core = match core {
        Some((delimiter, core)) if *delimiter == shape.delimiter => {
            core.reset();
            core
        }
        _ => {
            let built = csv_core::ReaderBuilder::new()
                .delimiter(shape.delimiter)
                .build();
            &mut core.insert((shape.delimiter, built)).1
        }
    };
    if !block.first {
        // csv_core drops a byte-order mark from the first bytes it is given; only the
        // file's own start may lose one. A call with no room for output reads nothing.
        let _ = core.read_record(b"x", &mut [], &mut [0]);
    }
    let plain = plain_allowed && quote_free(block, shape.delimiter);
    // Cell text never takes more bytes than the input it comes from, plus `OVERRUN`.
    if out.len() <= input.len() + OVERRUN {
        out.resize(input.len() + OVERRUN + 1, 0);
    }
    if ends.len() < 64 {
        ends.resize(64, 0);
    }
    records.clear();
    let (mut nout, mut nend) = (0usize, 0usize);
    let mut parsed = Parsed::default();
    let mut pos = 0usize;
    let mut kept = 0usize;
    'records: loop {
        let start = pos;
        let cr = match start {
            0 => block.after_cr,
            _ => input[start - 1] == b'\r',
        };
        let (blank, skip) = blank_lines(&input[start..], cr);
        let (out_start, ends_start) = (nout, nend);
        loop {
            let rest = &input[pos..];
            if rest.is_empty() && !block.last {
                // The block ends here: between records when only line breaks are left.
                if input[start..].iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    parsed.lines = parsed.lines.saturating_add(blank);
                    parsed.end = input.len();
                } else {
                    parsed.end = start;
                }
                break 'records;
            }
            let (result, i, o, e) = match plain {
                true => read_plain(
                    rest,
                    shape.delimiter,
                    block.last,
                    &mut out[nout..],
                    &mut ends[nend..],
                ),
                false => core.read_record(rest, &mut out[nout..], &mut ends[nend..]),
            };
            pos += i;
            nout += o;
            nend += e;
            if pos - start - skip.min(pos - start) > limits::MAX_ROW_BYTES + SLACK {
                parsed.broken = Some(Broken::TooLong {
                    line: parsed.lines.saturating_add(blank).saturating_add(1),
                });
                parsed.end = start;
                break 'records;
            }
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
                ReadRecordResult::End => {
                    parsed.end = input.len();
                    break 'records;
                }
                ReadRecordResult::Record => break,
            }
        }
        let line = parsed.lines.saturating_add(blank).saturating_add(1);
        parsed.lines = line;
        parsed.end = pos;
        let columns = nend - ends_start;
        let bytes = nout - out_start;
        let broken = match limits::check_columns(columns, line) {
            Some(_) => Some(Broken::TooWide { line, columns }),
            None if bytes > limits::MAX_ROW_BYTES => Some(Broken::TooLong { line }),
            None => None,
        };
        if broken.is_some() {
            parsed.broken = broken;
            parsed.lines = line - 1;
            parsed.end = start;
            break;
        }
        // Blank when no cell has a visible ASCII character and each trims to nothing.
        let blank_row = !out[out_start..nout].iter().any(u8::is_ascii_graphic)
            && spans(out_start, &ends[ends_start..nend])
                .all(|s| std::str::from_utf8(&out[s]).is_ok_and(|s| trim(s).is_empty()));
        if !blank_row {
            records.push(Record {
                line,
                start: out_start,
                from: ends_start,
                to: nend,
            });
            kept += 1;
            if kept == max_rows {
                break;
            }
        }
    }
    parsed.rows = rows(&out[..nout], ends, records, shape.width);
    parsed
}

/// Whether `block` can be read by [`read_plain`]: it has no quote character (so no cell
/// is quoted, and each line break ends a record), and does not begin the file with what
/// could be a byte-order mark, which csv_core drops.
fn quote_free(block: &Block, delimiter: u8) -> bool {
    let bom = block.first && block.bytes.first() == Some(&0xEF);
    let special = matches!(delimiter, b'"' | b'\r' | b'\n');
    !bom && !special && memchr::memchr(b'"', &block.bytes).is_none()
}

/// What csv_core's `read_record` gives from the start of a record when `rest` holds no
/// quote character (see [`quote_free`]), found in one step: line breaks before the record
/// are skipped (they are blank lines), its cells are the runs between delimiters up to the
/// next line break, which is taken (a `\r` alone: the `\n` after it is skipped by the
/// next call), and its cell texts and their ends are written as csv_core writes them.
/// Without a line break the record runs to the end of `rest` when `last`; otherwise all
/// of `rest` is taken and `InputEmpty` returned, as csv_core does. When `ends` has no room
/// for every cell nothing is taken (`OutputEndsFull`), so the call can simply be repeated.
/// `out` must have room for all of `rest`.
fn read_plain(
    rest: &[u8],
    delimiter: u8,
    last: bool,
    out: &mut [u8],
    ends: &mut [usize],
) -> (ReadRecordResult, usize, usize, usize) {
    let Some(body) = rest.iter().position(|&b| b != b'\r' && b != b'\n') else {
        return match rest.is_empty() {
            true => (ReadRecordResult::End, 0, 0, 0),
            false => (ReadRecordResult::InputEmpty, rest.len(), 0, 0),
        };
    };
    let (mut o, mut e, mut from) = (0, 0, body);
    let mut cell = |from: usize, to: usize, o: &mut usize, e: &mut usize| {
        let end = ends.get_mut(*e)?;
        let len = to - from;
        // A short cell is copied as 16 or 32 bytes (a move or two, not a call); the bytes
        // past its end are overwritten by the next cell or are past the record's text.
        match (
            rest.get(from..from + OVERRUN),
            out.get_mut(*o..*o + OVERRUN),
        ) {
            (Some(src), Some(dst)) if len <= 16 => dst[..16].copy_from_slice(&src[..16]),
            (Some(src), Some(dst)) if len <= 32 => dst.copy_from_slice(src),
            _ => out[*o..*o + len].copy_from_slice(&rest[from..to]),
        }
        *o += len;
        *end = *o;
        *e += 1;
        Some(())
    };
    let mut base = body;
    while base < rest.len() {
        let (mut marks, len) = Marks::new(delimiter).find(&rest[base..]);
        while marks != 0 {
            let at = base + marks.trailing_zeros() as usize;
            marks &= marks - 1;
            if cell(from, at, &mut o, &mut e).is_none() {
                return (ReadRecordResult::OutputEndsFull, 0, 0, 0);
            }
            if rest[at] != delimiter {
                return (ReadRecordResult::Record, at + 1, o, e);
            }
            from = at + 1;
        }
        base += len;
    }
    if !last {
        return (ReadRecordResult::InputEmpty, rest.len(), 0, 0);
    }
    match cell(from, rest.len(), &mut o, &mut e) {
        Some(()) => (ReadRecordResult::Record, rest.len(), o, e),
        None => (ReadRecordResult::OutputEndsFull, 0, 0, 0),
    }
}

/// Finds a delimiter and the line breaks 64 bytes at a time, 8 bytes to a word
/// (a portable SIMD-within-a-register search; the memchr crate finds one place at a time,
/// which costs more when a cell is a few bytes long).
#[derive(Clone, Copy)]
struct Marks {
    delimiter: u64,
}

impl Marks {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

    fn new(delimiter: u8) -> Marks {
        Marks {
            delimiter: Marks::ONES * u64::from(delimiter),
        }
    }

    /// Bit `i` is set when `bytes[i]` is the delimiter, `\r` or `\n`, for the first
    /// 64 bytes (or fewer, their number given too).
    fn find(self, bytes: &[u8]) -> (u64, usize) {
        let len = bytes.len().min(64);
        let mut chunk = [0u8; 64];
        let chunk = match bytes.first_chunk::<64>() {
            Some(whole) => whole,
            None => {
                chunk[..len].copy_from_slice(&bytes[..len]);
                &chunk
            }
        };
        let mut marks = 0u64;
        for (k, word) in chunk.chunks_exact(8).enumerate() {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            let hits = Marks::zero_bytes(word ^ self.delimiter)
                | Marks::zero_bytes(word ^ (Marks::ONES * u64::from(b'\n')))
                | Marks::zero_bytes(word ^ (Marks::ONES * u64::from(b'\r')));
            // The top bit of each byte, gathered into 8 bits in byte order.
            let bits = ((hits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
            marks |= bits << (8 * k);
        }
        match len {
            64 => (marks, 64),
            _ => (marks & ((1 << len) - 1), len),
        }
    }

    /// The top bit of each byte of `x` that is zero, exactly (no borrow between bytes).
    fn zero_bytes(x: u64) -> u64 {
        !(((x & Marks::LOW7) + Marks::LOW7) | x | Marks::LOW7)
    }
}

/// The rows of the parsed records: one UTF-8 check for the whole block's text (the usual
/// case); per cell only when it fails. Rows that need no change share one copy of the
/// block's text ([`SharedText`]): two allocations a block instead of two a row.
fn rows(out: &[u8], ends: &[usize], records: &[Record], width: usize) -> Vec<RawRow> {
    let text = std::str::from_utf8(out);
    let mut shared = None;
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        let fields = &ends[r.from..r.to];
        if let Ok(text) = text
            && is_plain(text, r, fields, width)
        {
            let shared = shared.get_or_insert_with(|| {
                let used = records.last().map_or(0, |last| last.to);
                SharedText::new(text.to_string(), &ends[..used])
            });
            let len = match width {
                usize::MAX => fields.len(),
                w => w,
            };
            if let Some(shared) = shared
                && let Some(cells) = Cells::shared(shared, r.start, r.from, fields.len(), len)
            {
                rows.push(RawRow {
                    line: r.line,
                    cells,
                    errors: Vec::new(),
                });
                continue;
            }
        }
        let spans = spans(r.start, fields);
        let size = fields.last().copied().unwrap_or(0);
        let row = match text {
            Ok(text) => {
                let fields = spans.map(|s| text.get(s.clone()).ok_or(&text.as_bytes()[s]));
                convert(fields, r.to - r.from, size, r.line, width)
            }
            Err(_) => {
                let bytes = out;
                let fields =
                    spans.map(|s| std::str::from_utf8(&bytes[s.clone()]).map_err(|_| &bytes[s]));
                convert(fields, r.to - r.from, size, r.line, width)
            }
        };
        rows.push(row);
    }
    rows
}

/// Each cell's byte range in the output, from the record's `start` and its cells' ends
/// (relative to `start`).
fn spans(start: usize, ends: &[usize]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    ends.iter().scan(0, move |from, &to| {
        let span = start + *from..start + to;
        *from = to;
        Some(span)
    })
}

/// Whether a record's cells need no change (the usual case): each is text that starts and
/// ends with a visible ASCII character (nothing to trim) or is empty, none is too long,
/// and there are no more than `width`. Its row then shares the block's text as it is; its
/// cells' ends lie on character boundaries, since each is next to an ASCII byte.
fn is_plain(text: &str, r: &Record, fields: &[usize], width: usize) -> bool {
    if fields.len() > width {
        return false;
    }
    let bytes = text.as_bytes();
    spans(r.start, fields).all(|span| {
        let Some(cell) = bytes.get(span) else {
            return false;
        };
        let plain = match (cell.first(), cell.last()) {
            (Some(a), Some(b)) => a.is_ascii_graphic() && b.is_ascii_graphic(),
            _ => true,
        };
        plain && cell.len() <= limits::MAX_CELL_CHARS
    })
}

/// The number of blank lines at the start of `bytes` (where a record's read begins), and
/// their bytes: the run of line breaks there, less a `\n` that completes a `\r\n` before
/// it (`after_cr`).
pub(super) fn blank_lines(bytes: &[u8], after_cr: bool) -> (u32, usize) {
    let mut at = usize::from(after_cr && bytes.first() == Some(&b'\n'));
    let mut lines = 0u32;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'\r' => {
                at += if bytes.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                }
            }
            b'\n' => at += 1,
            _ => break,
        }
        lines = lines.saturating_add(1);
    }
    (lines, at)
}

/// A record's fields (text, or bytes that are not UTF-8) as a row (the caller has found
/// it not blank). `len` is the number of fields and `size` their bytes, so the row's
/// buffer is allocated once; a cell is copied only once, trimmed.
pub(super) fn convert<'a>(
    fields: impl Iterator<Item = Result<&'a str, &'a [u8]>>,
    len: usize,
    size: usize,
    line: u32,
    width: usize,
) -> RawRow {
    let mut cells = Cells::with_capacity(len.min(width), size);
    let mut errors = Vec::new();
    let mut beyond = Beyond::default();
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
        if col < width {
            cells.push(text);
        } else {
            beyond.add(col, text);
        }
    }
    if width != usize::MAX {
        cells.resize(width);
        errors.retain(|e| e.col < width);
    }
    errors.extend(beyond.error());
    RawRow {
        line,
        cells,
        errors,
    }
}

/// A text stream cut into [`Block`]s of about `size` bytes, each ending at a line break
/// (a `\r\n` is never cut in two).
pub(super) struct Blocks {
    reader: Box<dyn Read + Send>,
    size: usize,
    tail: Vec<u8>,
    /// Buffers of blocks done with, to read the next ones into (fresh memory for every
    /// block costs page faults).
    spare: Vec<Vec<u8>>,
    after_cr: bool,
    first: bool,
    done: bool,
}

impl Blocks {
    pub fn new(reader: Box<dyn Read + Send>, size: usize) -> Blocks {
        Blocks {
            reader,
            size: size.max(1),
            tail: Vec::new(),
            spare: Vec::new(),
            after_cr: false,
            first: true,
            done: false,
        }
    }

    /// The next block, or `None` after the last one.
    pub fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        if self.done {
            return Ok(None);
        }
        // A spare buffer's old bytes are read over, not zeroed first: a read needs
        // initialised memory, and only what the buffer never held is zeroed.
        let mut bytes = self.spare.pop().unwrap_or_default();
        let tail = std::mem::take(&mut self.tail);
        let want = self.size.saturating_sub(tail.len());
        let end = tail.len().saturating_add(want);
        bytes.resize(bytes.len().max(tail.len() + want.min(BLOCK)), 0);
        bytes[..tail.len()].copy_from_slice(&tail);
        let mut filled = tail.len();
        while filled < end {
            if filled == bytes.len() {
                let more = bytes.len().max(BLOCK).min(end - filled);
                bytes.resize(bytes.len() + more, 0);
            }
            let stop = bytes.len().min(end);
            match self.reader.read(&mut bytes[filled..stop]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        bytes.truncate(filled);
        let last = filled - tail.len() < want;
        if !last {
            // After the last line break, but never between a `\r` and its `\n`: the last
            // byte is not looked at, as the byte after it is not known yet.
            let search = &bytes[..bytes.len().saturating_sub(1)];
            if let Some(i) = memchr::memrchr2(b'\n', b'\r', search) {
                let cut = match (bytes[i], bytes.get(i + 1)) {
                    (b'\r', Some(b'\n')) => i + 2,
                    _ => i + 1,
                };
                self.tail = bytes.split_off(cut);
            }
        }
        let block = Block {
            after_cr: self.after_cr,
            last,
            first: self.first,
            bytes,
        };
        self.after_cr = block.bytes.last() == Some(&b'\r');
        self.first = false;
        self.done = last;
        Ok(Some(block))
    }

    /// Takes back the buffer of a block done with.
    pub fn recycle(&mut self, bytes: Vec<u8>) {
        if self.spare.len() <= AHEAD {
            self.spare.push(bytes);
        }
    }
}

/// Takes parsed blocks in file order and gives their rows, numbered from the file's start.
pub(super) struct Sequencer {
    shape: Shape,
    path: std::path::PathBuf,
    /// Lines before the next block.
    base: u32,
    /// The unfinished record at the end of the block before, to be parsed again with the
    /// next block.
    carry: Option<Block>,
}

impl Sequencer {
    /// `base` lines come before the first block it is given.
    pub fn new(path: &std::path::Path, shape: Shape, base: u32) -> Sequencer {
        Sequencer {
            shape,
            path: path.to_path_buf(),
            base,
            carry: None,
        }
    }

    /// The rows of `block` (which follows the block given before), using `guess` (its
    /// parse as if a record began at its start) when that is right; then the error that
    /// ends the file's reading, if any.
    pub fn next(
        &mut self,
        block: &Block,
        guess: impl FnOnce() -> Parsed,
    ) -> (Vec<RawRow>, Option<Error>) {
        let (parsed, joined) = match self.carry.take() {
            None => (guess(), None),
            Some(mut carry) => {
                carry.bytes.extend_from_slice(&block.bytes);
                carry.last = block.last;
                (parse(&carry, self.shape, usize::MAX), Some(carry))
            }
        };
        let parsed_block = joined.as_ref().unwrap_or(block);
        let mut rows = parsed.rows;
        for row in &mut rows {
            row.line = row.line.saturating_add(self.base);
        }
        if let Some(broken) = parsed.broken {
            return (rows, Some(broken.error(&self.path, self.base)));
        }
        if parsed.end < parsed_block.bytes.len() {
            let end = parsed.end;
            self.carry = Some(Block {
                after_cr: match end {
                    0 => parsed_block.after_cr,
                    _ => parsed_block.bytes[end - 1] == b'\r',
                },
                bytes: parsed_block.bytes[end..].to_vec(),
                last: false,
                first: parsed_block.first && end == 0,
            });
        }
        self.base = self.base.saturating_add(parsed.lines);
        (rows, None)
    }
}

/// A block parsed by whichever thread gets to it first: a pool thread ahead of need, or
/// the sequencer when it needs the block before the pool has begun it (so the sequencer
/// never waits on a pool busy with other work).
struct Job {
    block: Block,
    shape: Shape,
    parsed: OnceLock<Mutex<Option<Parsed>>>,
}

impl Job {
    fn parsed(&self) -> &Mutex<Option<Parsed>> {
        self.parsed
            .get_or_init(|| Mutex::new(Some(parse(&self.block, self.shape, usize::MAX))))
    }

    fn take(&self) -> Parsed {
        self.parsed()
            .lock()
            .map(|mut p| p.take())
            .ok()
            .flatten()
            .unwrap_or_else(|| parse(&self.block, self.shape, usize::MAX))
    }
}

/// Blocks being parsed ahead, in file order, and a read error after them.
pub(super) struct Ahead {
    blocks: Blocks,
    shape: Shape,
    jobs: VecDeque<Arc<Job>>,
    failed: Option<std::io::Error>,
}

impl Ahead {
    /// Parses `first` and then the blocks `blocks` gives, up to [`AHEAD`] at a time.
    pub fn new(first: Block, blocks: Blocks, shape: Shape) -> Ahead {
        let mut ahead = Ahead {
            blocks,
            shape,
            jobs: VecDeque::new(),
            failed: None,
        };
        ahead.push(first);
        ahead
    }

    fn push(&mut self, block: Block) {
        let job = Arc::new(Job {
            block,
            shape: self.shape,
            parsed: OnceLock::new(),
        });
        let pool = job.clone();
        rayon::spawn(move || {
            // A panic here (a bug) must not abort the process, as a panic in a pool task
            // does: the sequencer then parses the block on the reading thread, where a
            // panic ends the reading and the table says so ("reading stopped unexpectedly").
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.parsed()));
        });
        self.jobs.push_back(job);
    }

    /// The rows of the next block in file order (the sequencer checks its parse) and the
    /// error that ends the reading, if any: a limit broken in it, or a read error after
    /// it. `None` after the last block.
    pub fn next(&mut self, sequencer: &mut Sequencer) -> Option<(Vec<RawRow>, Option<Error>)> {
        while self.jobs.len() < AHEAD && self.failed.is_none() {
            match self.blocks.next_block() {
                Ok(Some(block)) => self.push(block),
                Ok(None) => break,
                Err(e) => self.failed = Some(e),
            }
        }
        match self.jobs.pop_front() {
            Some(job) => {
                let rows = sequencer.next(&job.block, || job.take());
                // Unless a pool thread still holds the job (it was parsed here first).
                if let Some(job) = Arc::into_inner(job) {
                    self.blocks.recycle(job.block.bytes);
                }
                Some(rows)
            }
            None => self.failed.take().map(|source| {
                let error = Error::Io {
                    path: sequencer.path.clone(),
                    source,
                };
                (Vec::new(), Some(error))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        delimiter: b',',
        width: 3,
    };

    fn whole(bytes: &[u8]) -> Vec<RawRow> {
        parse(&Block::whole(bytes), SHAPE, usize::MAX).rows
    }

    /// The rows of `bytes` cut into blocks at `cuts`, through the sequencer.
    fn in_blocks(bytes: &[u8], cuts: &[usize]) -> Vec<RawRow> {
        let mut sequencer = Sequencer::new(std::path::Path::new("x.csv"), SHAPE, 0);
        let mut rows = Vec::new();
        let mut from = 0;
        let bounds: Vec<usize> = cuts.iter().copied().chain([bytes.len()]).collect();
        for (k, &to) in bounds.iter().enumerate() {
            let block = Block {
                bytes: bytes[from..to].to_vec(),
                after_cr: from > 0 && bytes[from - 1] == b'\r',
                last: k + 1 == bounds.len(),
                first: from == 0,
            };
            let (got, error) = sequencer.next(&block, || parse(&block, SHAPE, usize::MAX));
            assert!(error.is_none());
            rows.extend(got);
            from = to;
        }
        rows
    }

    fn summary(rows: &[RawRow]) -> Vec<(u32, Vec<String>, usize)> {
        rows.iter()
            .map(|r| (r.line, r.cells.to_vec(), r.errors.len()))
            .collect()
    }

    #[test]
    fn any_cuts_give_the_rows_of_one_parse() {
        let inputs: [&[u8]; 6] = [
            b"a,b\n\n\"x\ny\",1\r\nlast,2\rmac,3\n,\nend,4",
            b"\"q\r\n\r\nq\"\r\n\r\nb\r\n\"a,\"\"b\"\"\n\",c\n",
            b"\xef\xbb\xbfh,i\n\xef\xbb\xbfj,k\nJ\xfcrgen,x\n",
            b"a\r\rb\rc\r\n\r\n\n",
            b"1,2,3,4,5\n\"unclosed\n,\n",
            "Müller,Jürgen,\u{a0}x\u{a0}\n  ,\u{a0}\nÖ,ä,ß\n".as_bytes(),
        ];
        for bytes in inputs {
            let want = summary(&whole(bytes));
            for i in 0..=bytes.len() {
                for j in i..=bytes.len() {
                    let got = summary(&in_blocks(bytes, &[i, j]));
                    assert_eq!(
                        got,
                        want,
                        "{:?} cut at {i}, {j}",
                        String::from_utf8_lossy(bytes)
                    );
                }
            }
        }
    }

    #[test]
    fn text_without_quotes_parses_the_same_the_fast_way_and_by_csv_core() {
        // Every short text over an alphabet of the bytes that matter, with cells past 16
        // bytes and past a 64-byte search window, rows of 64+ cells, and the limits.
        let alphabet: &[u8] = b"a,;\r\n \xc3\xa9\xef\xff";
        let mut texts: Vec<Vec<u8>> = vec![
            b"x".repeat(70),
            [
                b"a".repeat(20),
                b",".to_vec(),
                b"b".repeat(100),
                b"\r\n".to_vec(),
            ]
            .concat(),
            b",".repeat(200),
            [b"a,".repeat(100), b"\n".to_vec()].concat().repeat(3),
            b"y".repeat(limits::MAX_ROW_BYTES + SLACK + 1),
            [b"x\n".to_vec(), b",".repeat(limits::MAX_COLUMNS + 1)].concat(),
            b"\xef\xbb\xbfh,i\n".to_vec(),
        ];
        // Cells of each length from 0 to 40 bytes, in one row and one a row.
        let cells: Vec<Vec<u8>> = (0..=40u8).map(|n| vec![b'a' + n % 26; n.into()]).collect();
        texts.push(cells.join(&b","[..]));
        texts.push(cells.join(&b"\n"[..]));
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 58) as usize;
            texts.push(
                (0..len)
                    .map(|k| alphabet[(seed >> (k % 50)) as usize % alphabet.len()])
                    .collect(),
            );
        }
        for text in &texts {
            for flags in 0..8u8 {
                let block = Block {
                    bytes: text.clone(),
                    first: flags & 1 != 0,
                    last: flags & 2 != 0,
                    after_cr: flags & 4 != 0,
                };
                for (width, max_rows) in [(usize::MAX, usize::MAX), (2, 1), (3, 2)] {
                    let shape = Shape {
                        delimiter: b',',
                        width,
                    };
                    let agreed = plain_agrees(&block, shape, max_rows);
                    assert!(
                        agreed.is_ok(),
                        "{:?}: {agreed:?}",
                        &text[..text.len().min(80)]
                    );
                }
            }
        }
    }

    #[test]
    fn blocks_end_at_line_breaks() {
        let text = b"ab\r\ncd\ref\ngh";
        for size in 1..=text.len() + 1 {
            let mut blocks = Blocks::new(Box::new(std::io::Cursor::new(text.to_vec())), size);
            let mut joined = Vec::new();
            let mut after_cr = false;
            while let Some(block) = blocks.next_block().unwrap() {
                assert_eq!(block.after_cr, after_cr, "size {size}");
                // A block with a line break ends at one, never inside a `\r\n`.
                let body = &block.bytes[..block.bytes.len().saturating_sub(1)];
                if !block.last && body.iter().any(|b| matches!(b, b'\r' | b'\n')) {
                    let end = *block.bytes.last().unwrap();
                    let next = text.get(joined.len() + block.bytes.len());
                    assert!(
                        matches!(end, b'\r' | b'\n'),
                        "size {size}: {:?}",
                        block.bytes
                    );
                    assert!(!(end == b'\r' && next == Some(&b'\n')), "size {size}");
                }
                after_cr = block.bytes.last() == Some(&b'\r');
                joined.extend_from_slice(&block.bytes);
            }
            assert_eq!(joined, text, "size {size}");
        }
    }

    #[test]
    fn a_limit_names_the_row_across_blocks() {
        let mut bytes = b"a\n\nb\n".to_vec();
        bytes.extend(std::iter::repeat_n(
            b'x',
            limits::MAX_ROW_BYTES + SLACK + 10,
        ));
        let mut sequencer = Sequencer::new(std::path::Path::new("x.csv"), SHAPE, 0);
        let mut blocks = Blocks::new(Box::new(std::io::Cursor::new(bytes)), 1 << 16);
        let mut error = None;
        while let Some(block) = blocks.next_block().unwrap() {
            let (_, e) = sequencer.next(&block, || parse(&block, SHAPE, usize::MAX));
            if e.is_some() {
                error = e;
                break;
            }
        }
        let error = error.expect("the long row is refused").to_string();
        assert!(error.contains("row 4 is longer than 1 MiB"), "{error}");
    }
}
