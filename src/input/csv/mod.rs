//! CSV and TSV files: delimiter sniffing, the header search over the first rows, then a
//! background thread that streams the remaining rows in chunks, so a million-row file is
//! never held whole. The file is parsed in blocks on the rayon pool (see `parse`), so
//! parsing uses every core and overlaps with validation.
//!
//! Rows are numbered as a spreadsheet program shows the file: a quoted cell spanning
//! several lines is one row, a blank line is a row (skipped, but counted).
//!
//! Data beyond the header's width: the table is as wide as the header or the widest of the
//! first rows read for the header search, whichever is wider (extra columns are named
//! `column F`). A later row with non-empty values beyond that width gets a [`CellError`]
//! quoting them, on the first such column; nothing is dropped silently.

mod parse;

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;

use super::header::{self, Kind};
use super::stream::{Feed, Streamed};
use super::{Error, Opened, RawRow, Table, encoding};
use crate::model::Layout;
use parse::{Ahead, Block, Blocks, Sequencer, Shape};

/// Delimiters tried by the sniffer, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

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
    open_blocks(path, Blocks::new(reader, parse::BLOCK), delimiter)
}

/// A row as [`rows_in_blocks`] gives it: line, cells, problems.
pub(crate) type ReadRow = (u32, Vec<String>, Vec<crate::model::CellError>);

/// Every row of a UTF-8 text cut into blocks of `size` bytes, as (line, cells, problems),
/// or the error: for the fuzz target, which checks that any block size gives the rows of
/// one block.
pub(crate) fn rows_in_blocks(
    bytes: &[u8],
    size: usize,
    delimiter: u8,
) -> Result<Vec<ReadRow>, String> {
    let reader = Box::new(std::io::Cursor::new(bytes.to_vec()));
    let opened = open_blocks(Path::new("f.csv"), Blocks::new(reader, size), delimiter)
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for table in opened.tables {
        for row in table.rows {
            let row = row.map_err(|e| e.to_string())?;
            rows.push((row.line, row.cells.to_vec(), row.errors));
        }
    }
    Ok(rows)
}

/// Whether `bytes`, as a block (see [`parse::Block`]: `first`, `last`, `after_cr`), gives
/// the same parse read the fast way for text with no quote character and read by
/// csv_core (for the fuzz target). Quote characters in `bytes` are replaced, so the fast
/// way is taken.
pub(crate) fn plain_agrees(
    bytes: &[u8],
    delimiter: u8,
    width: usize,
    max_rows: usize,
    (first, last, after_cr): (bool, bool, bool),
) -> Result<(), String> {
    let block = Block {
        bytes: bytes
            .iter()
            .map(|&b| if b == b'"' { b'q' } else { b })
            .collect(),
        after_cr,
        last,
        first,
    };
    parse::plain_agrees(&block, Shape { delimiter, width }, max_rows)
}

/// Finds the header in the first rows of `blocks` and streams the rest.
fn open_blocks(path: &Path, mut blocks: Blocks, delimiter: u8) -> Result<Opened, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    // The first rows, for the header search: blocks are added until they hold enough,
    // doubling the text each time, so long rows are parsed a few times, not once a block.
    let mut head = blocks.next_block().map_err(io)?.unwrap_or_default();
    let shape = Shape {
        delimiter,
        width: usize::MAX,
    };
    let first = loop {
        let parsed = parse::parse(&head, shape, header::WINDOW);
        if let Some(broken) = parsed.broken {
            return Err(broken.error(path, 0));
        }
        if parsed.rows.len() == header::WINDOW || head.last {
            break parsed;
        }
        let twice = head.bytes.len().saturating_mul(2).max(1);
        while head.bytes.len() < twice && !head.last {
            match blocks.next_block().map_err(io)? {
                Some(more) => {
                    head.bytes.extend_from_slice(&more.bytes);
                    head.last = more.last;
                }
                None => head.last = true,
            }
        }
    };
    let window = first.rows;
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
    let end = first.end;
    let rest = Block {
        after_cr: end > 0 && head.bytes[end - 1] == b'\r',
        first: end == 0,
        last: head.last,
        bytes: head.bytes.split_off(end),
    };
    let shape = Shape { delimiter, width };
    let reading = Reading {
        ahead: Ahead::new(rest, blocks, shape),
        sequencer: Sequencer::new(path, shape, first.lines),
    };
    let rows = Streamed::new(
        path.to_path_buf(),
        "muster-csv",
        window,
        Box::new(move |feed| read_rows(reading, feed)),
    );
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

/// What the reading thread works with: the blocks parsed ahead and the sequencer.
struct Reading {
    ahead: Ahead,
    sequencer: Sequencer,
}

/// The reading thread: reads blocks, has them parsed ahead, and sends each block's rows
/// in file order until the end, an error, or the table is dropped.
fn read_rows(mut reading: Reading, feed: Feed) {
    while let Some((rows, failed)) = reading.ahead.next(&mut reading.sequencer) {
        if !feed.rows(rows) {
            return;
        }
        if let Some(e) = failed {
            return feed.failed(e);
        }
    }
    feed.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CellError;

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
        let block = Block::whole(bytes);
        let shape = Shape {
            delimiter: b',',
            width: 3,
        };
        let parsed = parse::parse(&block, shape, usize::MAX);
        assert_eq!(parsed.broken, None);
        parsed.rows
    }

    #[test]
    fn any_block_size_gives_the_rows_of_one_block() {
        let mut long = String::from("Fleet roster\n\nfirst,last,email\n");
        for i in 0..40 {
            long.push_str(&format!("A{i},\"B\n{i}\",a{i}@x.at\r\n\n"));
        }
        let inputs = [
            long.as_str(),
            "h,i\n\"unclosed\n,\n",
            "\u{feff}a,b\n1,2\r3,4",
        ];
        for text in inputs {
            let whole = rows_in_blocks(text.as_bytes(), usize::MAX, b',');
            assert!(
                whole.as_ref().is_ok_and(|rows| !rows.is_empty()),
                "{text:?}"
            );
            for size in 1..=24 {
                let cut = rows_in_blocks(text.as_bytes(), size, b',');
                assert_eq!(cut, whole, "{text:?} in blocks of {size}");
            }
        }
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
            let block = Block::whole((fields.join(",") + "\n").as_bytes());
            let shape = Shape {
                delimiter: b',',
                width: *width,
            };
            let rows = parse::parse(&block, shape, usize::MAX).rows;
            let got: Option<Vec<&str>> = rows.first().map(|r| r.cells.iter().collect());
            assert_eq!(got.as_deref(), *want, "{fields:?} {width}");
        }
    }
}
