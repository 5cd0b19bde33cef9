//! Caps that keep a hostile or broken file from taking unbounded memory or time. Each is
//! far above what a real roster reaches (Excel itself stops at 16,384 columns and 32,767
//! characters a cell); a file beyond one is refused with a message naming the cap, or, for
//! one long cell, gets a problem on that cell.
//!
//! - CSV: one row (one record, quoted line breaks included) at most [`MAX_ROW_BYTES`];
//!   at most [`MAX_COLUMNS`] columns.
//! - Workbooks (zip: xlsx, xlsm, xlsb, ods): before calamine reads the archive, each
//!   part's size is checked as its central directory declares it (the zip reader then
//!   stops a part that inflates beyond its declared size, so a lying directory does not
//!   help). Limits come from Excel's own: a sheet may hold Excel's whole grid
//!   ([`EXCEL_ROWS`] × [`MAX_COLUMNS`] cells of up to [`CELL_BYTES`] bytes of XML each,
//!   [`MAX_SHEET_BYTES`]), as calamine streams it (xlsx, xlsb); any other part, which
//!   calamine holds whole (shared strings, styles, an ods file's content), at most
//!   [`MAX_PART_BYTES`], [`MAX_TOTAL_BYTES`] together. Any part over 8 MiB may not
//!   inflate more than [`MAX_RATIO`] times its compressed size (a zip bomb), so the time
//!   a workbook takes is bounded by its size on disk.
//! - A cell beyond Excel's last row or column is refused; a table may have at most
//!   [`MAX_COLUMNS`] columns.
//! - Any cell: text longer than [`MAX_CELL_CHARS`] is cut there, with a problem on the cell.
//! - Old Excel files (xls, an OLE compound file): before calamine reads one, [`check_cfb`]
//!   walks the file's allocation tables as calamine will. calamine follows each chain of
//!   sectors until its end mark or the stream's declared length, so a damaged table that
//!   loops makes it copy the same sectors until the declared length (up to 4 GiB, or
//!   forever for the directory): a 5 KB file can take gigabytes. A file whose chains loop,
//!   whose tables list more sectors than it holds, or whose streams declare more bytes
//!   than its length is refused; what calamine then allocates is bounded by a few times
//!   the file's length.

use std::io::{Read, Seek, SeekFrom};

/// The most columns a table may have (Excel's own maximum).
pub const MAX_COLUMNS: usize = 16_384;
/// The most rows a sheet may have (Excel's own maximum).
pub const EXCEL_ROWS: u64 = 1_048_576;
/// Bytes of sheet XML allowed for each cell of Excel's grid: a cell's markup
/// (`<c r="XFD1048576" s="64000" t="s"><v>1048576</v></c>` is 49 bytes) with room for a
/// value several times as long; a long cell's text is shared among all the short ones.
pub const CELL_BYTES: u64 = 256;
/// The most bytes one worksheet part may inflate to: Excel's whole grid (4 TiB; the
/// compression ratio is what bounds a real file).
pub const MAX_SHEET_BYTES: u64 = EXCEL_ROWS * MAX_COLUMNS as u64 * CELL_BYTES;
/// The most bytes one CSV row may take.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// The most characters kept of one cell (Excel's own maximum).
pub const MAX_CELL_CHARS: usize = 32_767;
/// The most bytes one part calamine holds whole (not a worksheet: shared strings, styles,
/// an ods file's content) may inflate to: Excel's rows × 8 columns of distinct text of 64
/// bytes each (512 MiB). A roster filling Excel's rows, 12 columns with 6 of distinct
/// text, saved with shared strings as Excel saves it, has 149 MiB of them.
pub const MAX_PART_BYTES: u64 = EXCEL_ROWS * 8 * 64;
/// The most bytes the parts calamine holds whole may inflate to together.
pub const MAX_TOTAL_BYTES: u64 = 2 * MAX_PART_BYTES;
/// The highest compression ratio allowed for a part larger than [`RATIO_FROM`].
pub const MAX_RATIO: u64 = 250;
/// Parts smaller than this may have any compression ratio.
const RATIO_FROM: u64 = 8 << 20;
/// The most parts a zip workbook may hold.
pub const MAX_PARTS: usize = 10_000;

/// Human size: `128 MiB`.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// The message for a CSV row over [`MAX_ROW_BYTES`]; `row` is its row number.
pub(crate) fn row_too_long(row: u32) -> String {
    format!(
        "row {row} is longer than {} (muster's limit for one row; is this a roster?)",
        mib(MAX_ROW_BYTES as u64)
    )
}

/// The message for a table wider than [`MAX_COLUMNS`], or `None` when `width` is within it.
pub(crate) fn check_columns(width: usize, row: u32) -> Option<String> {
    (width > MAX_COLUMNS).then(|| {
        format!(
            "row {row} has {width} columns, more than {MAX_COLUMNS} (muster's limit, as Excel's)"
        )
    })
}

/// Cuts a cell's text at [`MAX_CELL_CHARS`] characters; the problem text when it was cut.
pub(crate) fn cap_cell(text: &mut String) -> Option<String> {
    let (kept, problem) = cap_str(text);
    let cut = kept.len();
    text.truncate(cut);
    problem
}

/// The part of `text` within [`MAX_CELL_CHARS`] characters, and the problem text when
/// that is not all of it.
pub(crate) fn cap_str(text: &str) -> (&str, Option<String>) {
    // Bytes ≥ chars, so a short text needs no counting.
    if text.len() <= MAX_CELL_CHARS {
        return (text, None);
    }
    let Some((cut, _)) = text.char_indices().nth(MAX_CELL_CHARS) else {
        return (text, None);
    };
    let chars = MAX_CELL_CHARS + text[cut..].chars().count();
    (
        &text[..cut],
        Some(format!(
            "holds {chars} characters, more than {MAX_CELL_CHARS} (muster's limit, as Excel's); cut there"
        )),
    )
}

/// The message for a cell beyond Excel's last row or column (0-based `row`, `col`), or
/// `None`.
pub(crate) fn check_cell(row: u32, col: u32) -> Option<String> {
    if u64::from(col) >= MAX_COLUMNS as u64 {
        return Some(format!(
            "its used area is {} columns wide, more than {MAX_COLUMNS} (muster's limit, as Excel's)",
            u64::from(col) + 1
        ));
    }
    (u64::from(row) >= EXCEL_ROWS).then(|| {
        format!(
            "it has a cell on row {}, beyond {EXCEL_ROWS} rows (muster's limit, as Excel's)",
            u64::from(row) + 1
        )
    })
}

/// Checks every part of a zip workbook, as its central directory declares it, against the
/// size and ratio caps. `Err` is the reason to refuse the file. A file the zip reader
/// cannot read at all passes: calamine then says what is wrong with it.
pub(crate) fn check_zip(reader: impl Read + Seek) -> Result<(), String> {
    let Ok(mut archive) = zip::ZipArchive::new(reader) else {
        return Ok(());
    };
    if archive.len() > MAX_PARTS {
        return Err(format!(
            "the workbook holds {} parts, more than {MAX_PARTS} (muster's limit)",
            archive.len()
        ));
    }
    // The zip reader stops a part at its declared size (zip ≥ 9.4), so the declared
    // sizes bound what calamine inflates.
    let mut held = 0u64;
    for i in 0..archive.len() {
        let Ok(part) = archive.by_index_raw(i) else {
            continue;
        };
        let name = part.name().map(|n| n.into_owned()).unwrap_or_default();
        check_part(&name, part.size(), part.compressed_size())?;
        if !is_sheet(&name) {
            held = held.saturating_add(part.size());
            check_total(held)?;
        }
    }
    Ok(())
}

/// Whether a part is a worksheet, which calamine streams (xlsx, xlsb) rather than holds.
fn is_sheet(name: &str) -> bool {
    name.starts_with("xl/worksheets/") && !name[14..].contains('/')
}

/// The streams of an xls file that calamine reads (the first directory entry of each
/// name, compared ignoring ASCII case).
const CFB_STREAMS: [&str; 4] = [
    "Workbook",
    "Book",
    "\u{5}SummaryInformation",
    "\u{5}DocumentSummaryInformation",
];
/// Slots for FAT sectors in an OLE header; a sloppy writer may leave them 0 instead of
/// free, so this many are allowed beyond the file's sectors.
const HEADER_DIFAT: u64 = 109;
const CFB_MAGIC: &[u8; 8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The sectors of an OLE file as calamine's `cfb::Sectors` sees them. calamine reads the
/// file forward from the end of the header and keeps what it read; a sector that crosses
/// the end of the file comes back short the first time it is read, padded with zeros
/// afterwards, and one starting beyond what was read makes it panic. The FAT is built from
/// such reads, so the guard reproduces them to see the same table.
struct Sectors<R> {
    reader: R,
    /// Sector size: 512 or 4096 (the header takes one sector).
    size: u64,
    /// Bytes of the file after its header.
    body: u64,
    /// The file's length.
    file_len: u64,
    /// The highest sector id calamine accepts: the file's length / the sector size.
    maxid: u64,
    /// How far calamine has read (bytes after the header).
    loaded: u64,
}

impl<R: Read + Seek> Sectors<R> {
    /// Sector `id` as calamine's `get` returns it, or `None` where calamine stops with an
    /// error or a panic (the file is then left to it: it allocates nothing more).
    fn get(&mut self, id: u32) -> Option<Vec<u8>> {
        if u64::from(id) > self.maxid {
            return None;
        }
        let start = u64::from(id) * self.size;
        let end = start + self.size;
        let mut len = self.size;
        if end > self.loaded {
            let old = self.loaded;
            self.loaded = end;
            if self.body < end {
                // The read stops at the end of the file: calamine returns what it holds.
                len = old.max(self.body).checked_sub(start)?;
            }
        }
        let mut bytes = vec![0; usize::try_from(len).ok()?];
        let have = usize::try_from(self.body.saturating_sub(start).min(len)).ok()?;
        self.reader.seek(SeekFrom::Start(self.size + start)).ok()?;
        self.reader.read_exact(&mut bytes[..have]).ok()?;
        Some(bytes)
    }

    /// Checks the chain from `start` that calamine copies until its end mark or `len`
    /// bytes. A chain within the file visits each sector once, so one longer than the
    /// file's sectors loops: calamine would then copy sectors until `len`, so the file is
    /// refused when `len` is more than the file holds. `what` names the chain.
    fn check_chain(&self, fats: &[u32], start: u32, len: u64, what: &str) -> Result<(), String> {
        let holds = (self.maxid + 1) * self.size;
        if len <= holds {
            // Whatever the chain, calamine copies at most `len` bytes (and one sector).
            return Ok(());
        }
        let mut id = start;
        let mut steps = 0u64;
        while id != ENDOFCHAIN {
            if u64::from(id) > self.maxid {
                return Ok(());
            }
            steps += 1;
            if steps > self.maxid + 1 {
                let declared = if len == u64::MAX {
                    "no length".to_string()
                } else {
                    format!("{len} bytes")
                };
                return Err(format!(
                    "the xls file is damaged: the sector chain of its {what} loops ({declared} declared, the file is {} bytes)",
                    self.file_len
                ));
            }
            let Some(&next) = fats.get(id as usize) else {
                return Ok(());
            };
            id = next;
        }
        Ok(())
    }
}

/// Checks an OLE compound file (xls) before calamine reads it: its FAT may list no more
/// sectors than the file holds, and no chain that calamine follows (the directory, the
/// mini stream and its table, the workbook and summary streams) may loop past what the
/// file holds. `Err` is the reason to refuse the file. What calamine would reject on its
/// own (a bad signature, a sector beyond the end) passes: calamine then says what is wrong.
pub(crate) fn check_cfb(mut reader: impl Read + Seek) -> Result<(), String> {
    let Ok(file_len) = reader.seek(SeekFrom::End(0)) else {
        return Ok(());
    };
    let mut header = [0u8; 512];
    if reader.seek(SeekFrom::Start(0)).is_err() || reader.read_exact(&mut header).is_err() {
        return Ok(());
    }
    if &header[..8] != CFB_MAGIC {
        return Ok(());
    }
    let size: u64 = match u16::from_le_bytes([header[30], header[31]]) {
        9 => 512,
        12 => 4096,
        _ => return Ok(()),
    };
    if file_len < size {
        return Ok(());
    }
    let mut sectors = Sectors {
        reader,
        size,
        body: file_len - size,
        file_len,
        maxid: file_len / size,
        loaded: 0,
    };
    let dir_start = le_u32(&header, 48);
    let mini_fat_start = le_u32(&header, 60);
    let mini_fat_len = u64::from(le_u32(&header, 64));

    // The DIFAT: the header's slots, then its own chain (calamine caps that chain).
    let mut difat: Vec<u32> = (76..512).step_by(4).map(|at| le_u32(&header, at)).collect();
    let mut id = le_u32(&header, 68);
    let mut difat_sectors = 0u64;
    while id < RESERVED_SECTORS {
        difat_sectors += 1;
        if difat_sectors > sectors.maxid + 1 {
            return Ok(());
        }
        let Some(bytes) = sectors.get(id) else {
            return Ok(());
        };
        if bytes.len() % 4 != 0 {
            return Ok(());
        }
        difat.extend(bytes.chunks_exact(4).map(|c| le_u32(c, 0)));
        let Some(next) = difat.pop() else {
            return Ok(());
        };
        id = next;
    }
    // Each FAT sector listed is read and kept: no more than the file holds.
    let fat_ids: Vec<u32> = difat.into_iter().filter(|id| *id < DIFSECT).collect();
    let fat_count = fat_ids.len() as u64;
    if fat_count > sectors.maxid + 1 + HEADER_DIFAT {
        return Err(format!(
            "the xls file is damaged: its allocation table lists {fat_count} sectors, more than the {} the file holds",
            sectors.maxid + 1
        ));
    }
    let mut fats = Vec::new();
    for id in fat_ids {
        let Some(bytes) = sectors.get(id) else {
            return Ok(());
        };
        if bytes.len() % 4 != 0 {
            return Ok(());
        }
        fats.extend(bytes.chunks_exact(4).map(|c| le_u32(c, 0)));
    }

    // The directory: calamine reads its chain to the end mark, with no length.
    sectors.check_chain(&fats, dir_start, u64::MAX, "directory")?;
    let mut dirs = Vec::new();
    let mut id = dir_start;
    while id != ENDOFCHAIN {
        let Some(bytes) = sectors.get(id) else {
            return Ok(());
        };
        dirs.extend(bytes);
        let Some(&next) = fats.get(id as usize) else {
            return Ok(());
        };
        id = next;
    }
    // (name, start, length) of each whole 128-byte entry.
    let entries: Vec<(String, u32, u64)> = dirs
        .chunks_exact(128)
        .map(|e| {
            let (name, _, _) = encoding_rs::UTF_16LE.decode(&e[..64]);
            let name = name.split('\0').next().unwrap_or_default().to_string();
            let len = if size == 512 {
                u64::from(le_u32(e, 120))
            } else {
                le_u64(e, 120)
            };
            (name, le_u32(e, 116), len)
        })
        .collect();
    let Some(root) = entries.first() else {
        return Ok(());
    };
    if mini_fat_len > 0 {
        sectors.check_chain(&fats, root.1, root.2, "mini stream")?;
        sectors.check_chain(
            &fats,
            mini_fat_start,
            mini_fat_len.saturating_mul(size),
            "mini stream table",
        )?;
    }
    for name in CFB_STREAMS {
        let Some((_, start, len)) = entries
            .iter()
            .find(|(n, _, _)| n.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
        else {
            continue;
        };
        // Shorter streams are read from the mini stream, at most 4 KiB.
        if *len >= 4096 {
            let what = format!("{} stream", name.trim_start_matches('\u{5}'));
            sectors.check_chain(&fats, *start, *len, &what)?;
        }
    }
    Ok(())
}

fn check_part(name: &str, size: u64, compressed: u64) -> Result<(), String> {
    let (cap, what) = match is_sheet(name) {
        true => (MAX_SHEET_BYTES, "one sheet, as Excel's grid"),
        false => (MAX_PART_BYTES, "one part held in memory"),
    };
    if size > cap {
        return Err(format!(
            "part {name} inflates to more than {} (muster's limit for {what}; a zip bomb?)",
            mib(cap)
        ));
    }
    if size > RATIO_FROM && size / compressed.max(1) > MAX_RATIO {
        return Err(format!(
            "part {name} inflates {} times its compressed size, more than {MAX_RATIO} (muster's limit; a zip bomb?)",
            size / compressed.max(1)
        ));
    }
    Ok(())
}

fn check_total(total: u64) -> Result<(), String> {
    if total > MAX_TOTAL_BYTES {
        return Err(format!(
            "the workbook inflates to more than {} (muster's limit; a zip bomb?)",
            mib(MAX_TOTAL_BYTES)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(parts: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for (name, bytes) in parts {
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    /// A small OLE file: header, sector 0 the FAT (`fat`, padded free), sector 1 the
    /// directory (`entries`: name, first sector, length; the first is the root), then
    /// `data` sectors of filler. `difat` replaces the header's FAT slots when given.
    fn ole(fat: &[u32], entries: &[(&str, u32, u32)], data: u32, difat: Option<&[u32]>) -> Vec<u8> {
        let mut out = vec![0u8; 512];
        out[..8].copy_from_slice(CFB_MAGIC);
        out[26..28].copy_from_slice(&3u16.to_le_bytes());
        out[28..30].copy_from_slice(&0xFFFEu16.to_le_bytes());
        out[30..32].copy_from_slice(&9u16.to_le_bytes());
        out[32..34].copy_from_slice(&6u16.to_le_bytes());
        out[44..48].copy_from_slice(&1u32.to_le_bytes());
        out[48..52].copy_from_slice(&1u32.to_le_bytes()); // directory at sector 1
        out[60..64].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        out[68..72].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        let slots = difat.map_or_else(|| vec![0], <[u32]>::to_vec);
        for i in 0..109 {
            let id = slots.get(i).copied().unwrap_or(u32::MAX);
            out[76 + 4 * i..80 + 4 * i].copy_from_slice(&id.to_le_bytes());
        }
        let mut table = [u32::MAX; 128];
        table[..fat.len()].copy_from_slice(fat);
        out.extend(table.iter().flat_map(|id| id.to_le_bytes()));
        let mut dir = vec![0u8; 512];
        for (i, (name, start, len)) in entries.iter().enumerate() {
            let e = &mut dir[128 * i..128 * (i + 1)];
            let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            e[..utf16.len()].copy_from_slice(&utf16);
            e[116..120].copy_from_slice(&start.to_le_bytes());
            e[120..124].copy_from_slice(&len.to_le_bytes());
        }
        out.extend(dir);
        out.extend(vec![b'x'; 512 * data as usize]);
        out
    }

    #[test]
    fn ole_chains_are_checked() {
        const FATSECT: u32 = 0xFFFF_FFFD;
        // Sectors 2..=9 hold the Workbook stream (4 KiB) when the chain is honest.
        let honest: Vec<u32> = [FATSECT, ENDOFCHAIN]
            .into_iter()
            .chain(3..=9)
            .chain([ENDOFCHAIN])
            .collect();
        let mut looping_stream = honest.clone();
        looping_stream[9] = 2;
        let mut looping_dir = honest.clone();
        looping_dir[1] = 1;
        let root = ("Root Entry", ENDOFCHAIN, 0);
        let book = |len| [root, ("Workbook", 2, len)];
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            ("honest", ole(&honest, &book(4096), 8, None), None),
            (
                "a looping stream declaring 4 GiB",
                ole(&looping_stream, &book(u32::MAX), 8, None),
                Some("sector chain of its Workbook stream loops (4294967295 bytes declared"),
            ),
            (
                "a looping stream declaring what the file holds",
                ole(&looping_stream, &book(5000), 8, None),
                None,
            ),
            (
                "the name compared ignoring case",
                ole(&looping_stream, &[root, ("BOOK", 2, u32::MAX)], 8, None),
                Some("its Book stream loops"),
            ),
            (
                "a stream calamine does not read",
                ole(&looping_stream, &[root, ("Other", 2, u32::MAX)], 8, None),
                None,
            ),
            (
                "a looping directory",
                ole(&looping_dir, &book(4096), 8, None),
                Some("sector chain of its directory loops (no length declared"),
            ),
            (
                "109 header slots of 0 (a sloppy writer)",
                ole(&honest, &book(4096), 8, Some(&[0; 109])),
                None,
            ),
            ("not an OLE file", b"PK\x03\x04".repeat(200), None),
            ("a short OLE file", CFB_MAGIC.to_vec(), None),
        ];
        for (name, bytes, want) in cases {
            expect(check_cfb(Cursor::new(bytes)), want, name);
        }
    }

    /// `got` is Ok when `want` is None, else an error containing `want`.
    fn expect(got: Result<(), String>, want: Option<&str>, name: &str) {
        match want {
            None => assert_eq!(got, Ok(()), "{name}"),
            Some(want) => {
                let e = got.expect_err(name);
                assert!(e.contains(want), "{name}: {e}");
            }
        }
    }

    #[test]
    fn ole_fat_is_capped() {
        // A DIFAT sector (sector 2) listing sector 0 as a FAT sector 127 times more.
        let mut bytes = ole(
            &[0xFFFF_FFFD, ENDOFCHAIN, DIFSECT],
            &[("Root Entry", ENDOFCHAIN, 0)],
            1,
            Some(&[0; 109]),
        );
        bytes[68..72].copy_from_slice(&2u32.to_le_bytes());
        let at = 512 + 2 * 512;
        bytes[at..at + 512].fill(0);
        bytes[at + 508..at + 512].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        let e = check_cfb(Cursor::new(bytes)).expect_err("refused");
        assert!(e.contains("lists 236 sectors, more than the 5"), "{e}");
    }

    #[test]
    fn ole_files_as_found() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let cases = [
            ("input/numbers_and_dates.xls", None),
            ("input/error_cells.xls", None),
            ("input/garbage.xls", None),
            ("hostile/calamine_cfb_panic.xls", None),
            (
                "hostile/xls_looping_chain.xls",
                Some("sector chain of its directory loops"),
            ),
        ];
        for (name, want) in cases {
            let bytes = std::fs::read(dir.join(name)).expect(name);
            expect(check_cfb(Cursor::new(bytes)), want, name);
        }
    }

    #[test]
    fn zip_parts_are_capped() {
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            ("small parts", zip_of(&[("a.xml", b"<a/>".to_vec())]), None),
            (
                "a high ratio over 8 MiB",
                zip_of(&[("s.xml", vec![b'x'; 9 << 20])]),
                Some("part s.xml inflates"),
            ),
            ("not a zip", b"PK\x03\x04 nothing".to_vec(), None),
        ];
        for (name, bytes, want) in cases {
            expect(check_zip(Cursor::new(bytes)), want, name);
        }
    }

    #[test]
    fn part_sizes_are_capped() {
        let cases = [
            (MAX_PART_BYTES, 4 << 20, true),
            (MAX_PART_BYTES + 1, MAX_PART_BYTES, false),
            (RATIO_FROM, 1, true),
            (RATIO_FROM + 1, 1, false),
            (100 << 20, (100 << 20) / MAX_RATIO, true),
            (100 << 20, (100 << 20) / (MAX_RATIO + 2), false),
        ];
        for (size, compressed, ok) in cases {
            assert_eq!(
                check_part("p", size, compressed).is_ok(),
                ok,
                "{size} {compressed}"
            );
        }
        assert!(check_total(MAX_TOTAL_BYTES).is_ok());
        assert!(check_total(MAX_TOTAL_BYTES + 1).is_err());
    }

    #[test]
    fn long_cells_are_cut() {
        let cases = [
            ("short", "abc".to_string(), "abc".len(), false),
            (
                "at the cap",
                "é".repeat(MAX_CELL_CHARS),
                MAX_CELL_CHARS * 2,
                false,
            ),
            ("over", "x".repeat(MAX_CELL_CHARS + 5), MAX_CELL_CHARS, true),
            (
                "multibyte over",
                "é".repeat(MAX_CELL_CHARS + 1),
                MAX_CELL_CHARS * 2,
                true,
            ),
        ];
        for (name, mut text, len, cut) in cases {
            let problem = cap_cell(&mut text);
            assert_eq!(text.len(), len, "{name}");
            assert_eq!(problem.is_some(), cut, "{name}");
        }
    }

    #[test]
    fn cells_within_excels_grid_pass() {
        assert_eq!(check_cell(1_048_575, 16_383), None);
        let e = check_cell(0, 20_000).expect("beyond XFD");
        assert!(e.contains("20001 columns wide, more than 16384"), "{e}");
        let e = check_cell(1_048_576, 0).expect("beyond row 1048576");
        assert!(e.contains("row 1048577, beyond 1048576 rows"), "{e}");
        assert_eq!(check_columns(16_384, 1), None);
        assert!(check_columns(16_385, 1).is_some());
    }

    /// The caps on a sheet come from Excel's grid: what Excel can write passes.
    #[test]
    fn sheets_excel_can_write_pass() {
        let sheet = "xl/worksheets/sheet1.xml";
        let cases = [
            // The 1,048,575-row, 12-column roster of benches/xlsx.sh as rust_xlsxwriter
            // writes it (inline strings): 749 MB of XML in 61 MB (12 times smaller).
            (sheet, 748_975_755, 60_633_892, true),
            // Excel's whole grid, at 50 bytes a cell, compressed 100 times.
            (
                sheet,
                EXCEL_ROWS * 16_384 * 50,
                EXCEL_ROWS * 16_384 / 2,
                true,
            ),
            (sheet, MAX_SHEET_BYTES, MAX_SHEET_BYTES / MAX_RATIO, true),
            (sheet, MAX_SHEET_BYTES + 1, MAX_SHEET_BYTES, false),
            // A bomb: 1 GiB in 1 MiB.
            (sheet, 1 << 30, 1 << 20, false),
            // Other parts are held whole by calamine: 512 MiB each. The shared strings of
            // benches/read.rs gen-xlsx-shared 1048575 (as Excel saves text) pass.
            ("xl/sharedStrings.xml", 156_207_620, 14_985_588, true),
            ("xl/sharedStrings.xml", MAX_PART_BYTES, 1 << 22, true),
            ("xl/sharedStrings.xml", MAX_PART_BYTES + 1, 1 << 26, false),
            (
                "xl/worksheets/_rels/sheet1.xml.rels",
                600 << 20,
                300 << 20,
                false,
            ),
        ];
        for (name, size, compressed, ok) in cases {
            assert_eq!(
                check_part(name, size, compressed).is_ok(),
                ok,
                "{name} {size} {compressed}"
            );
        }
        assert_eq!(MAX_SHEET_BYTES, 4 << 40);
    }

    /// The guard reads only declared sizes: the zip reader must stop a part that inflates
    /// beyond its declared size, or a lying directory would get a bomb through.
    #[test]
    fn a_part_inflating_beyond_its_declared_size_is_stopped() {
        let mut bytes = zip_of(&[("xl/worksheets/sheet1.xml", vec![b'x'; 100_000])]);
        // Declare 1,000 bytes in the local header (offset 22) and the central directory
        // entry (offset 24).
        let patch = |bytes: &mut Vec<u8>, magic: &[u8], at: usize| {
            let start = bytes.windows(4).position(|w| w == magic).expect("header");
            bytes[start + at..start + at + 4].copy_from_slice(&1000u32.to_le_bytes());
        };
        patch(&mut bytes, b"PK\x03\x04", 22);
        patch(&mut bytes, b"PK\x01\x02", 24);
        assert_eq!(check_zip(Cursor::new(bytes.clone())), Ok(()));
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
        let mut part = archive.by_index(0).expect("the part");
        let mut out = Vec::new();
        assert!(part.read_to_end(&mut out).is_err());
        assert!(out.len() <= 1001, "{}", out.len());
    }
}
