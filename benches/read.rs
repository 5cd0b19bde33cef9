//! Reading and validating vs the crates underneath (issue 2's speed goals, issue 10's first
//! two rows). One binary, one job per run, so `benches/read.sh` can time each side under
//! `/usr/bin/time` and take the peak memory of each:
//!
//! - `gen-csv ROWS PATH` / `gen-xlsx ROWS PATH`: a Motive roster (12 columns, headers that
//!   map through the usual aliases, every 100th row with a bad email so Errors is not
//!   empty); the xlsx is written with rust_xlsxwriter. `gen-xlsx-shared ROWS PATH`: the
//!   same xlsx with its text in a shared-strings table, as Excel writes it.
//! - `csv PATH`: the baseline, an idiomatic `csv::Reader` loop over `records()` into
//!   `StringRecord`.
//! - `calamine PATH`: the baseline, `open_workbook_auto` + `worksheet_range` + every cell.
//! - `calamine-stream PATH`: the baseline for a large xlsx, `Xlsx::worksheet_cells_reader`
//!   + every cell (calamine's streaming read, which muster's reader uses).
//! - `muster-read PATH`: muster's reader and mapping (`roster`), every row.
//! - `csv-xlsx PATH OUT`: the csv read plus rust_xlsxwriter writing every row to one sheet
//!   in constant-memory mode (what the default `muster validate`, with Results, is up
//!   against).
//!
//! - `muster-bin`: the path of the `muster` binary cargo built beside this bench.
//!
//! Each prints a count so that nothing is optimised away.

// Tools of our own, run by hand or by CI: std's print macros are fine here.
#![allow(clippy::disallowed_macros)]

use std::error::Error;
use std::io::{BufWriter, Write};
use std::path::Path;

use calamine::{Data, DataRef, Reader, Xlsx, open_workbook, open_workbook_auto};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const HEADERS: [&str; 12] = [
    "Target",
    "First name",
    "Last name",
    "E-Mail",
    "Username",
    "Phone",
    "Role",
    "Driver ID",
    "ELD mode",
    "Time tracking mode",
    "License number",
    "License state",
];

const FIRST: [&str; 8] = [
    "Anna", "Bernd", "Chloé", "Dmitri", "Eva", "Florin", "Greta", "Hélène",
];
const LAST: [&str; 8] = [
    "Müller", "Ionescu", "Smith", "Novák", "García", "Kowalski", "Dubois", "Rossi",
];
const STATES: [&str; 5] = ["CA", "TX", "NY", "WA", "ON"];

/// Row `i` of the roster (0-based), as cell texts.
fn roster_row(i: usize) -> [String; 12] {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / 8) % LAST.len()];
    let email = if i % 100 == 99 {
        format!("driver{i}-at-fleet.example")
    } else {
        format!("driver{i}@fleet.example")
    };
    let (eld, ttm) = if i % 3 == 0 {
        ("exempt", "timecards")
    } else {
        ("logs", "logs")
    };
    [
        "motive".to_string(),
        first.to_string(),
        last.to_string(),
        email,
        format!("drv{i:07}"),
        format!("+1 415 {:03} {:04}", (i / 10_000) % 1000, i % 10_000),
        "driver".to_string(),
        format!("D-{i:07}"),
        eld.to_string(),
        ttm.to_string(),
        format!("L{:08}", i * 7 % 100_000_000),
        STATES[i % STATES.len()].to_string(),
    ]
}

fn gen_csv(rows: usize, path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_writer(BufWriter::new(std::fs::File::create(path)?));
    w.write_record(HEADERS)?;
    for i in 0..rows {
        w.write_record(roster_row(i))?;
    }
    w.flush()?;
    Ok(())
}

fn gen_xlsx(rows: usize, path: &Path, shared: bool) -> Result<()> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = match shared {
        true => book.add_worksheet_with_low_memory(),
        false => book.add_worksheet_with_constant_memory(),
    }?;
    sheet.set_name("Roster")?;
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    for i in 0..rows {
        for (c, v) in roster_row(i).iter().enumerate() {
            sheet.write_string(i as u32 + 1, c as u16, v)?;
        }
    }
    book.save(path)?;
    Ok(())
}

fn csv_records(path: &Path) -> Result<usize> {
    let mut reader = csv::Reader::from_path(path)?;
    let mut bytes = 0;
    for record in reader.records() {
        let record = record?;
        bytes += record.iter().map(str::len).sum::<usize>();
    }
    Ok(bytes)
}

fn calamine_cells(path: &Path) -> Result<usize> {
    let mut book = open_workbook_auto(path)?;
    let mut count = 0;
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name)?;
        for row in range.rows() {
            for cell in row {
                count += match cell {
                    Data::String(s) => s.len(),
                    Data::Empty => 0,
                    _ => 1,
                };
            }
        }
    }
    Ok(count)
}

fn calamine_stream(path: &Path) -> Result<usize> {
    let mut book: Xlsx<_> = open_workbook(path)?;
    let mut count = 0;
    for name in book.sheet_names() {
        let mut cells = book.worksheet_cells_reader(&name)?;
        while let Some(cell) = cells.next_cell()? {
            count += match cell.get_value() {
                DataRef::String(s) => s.len(),
                DataRef::SharedString(s) => s.len(),
                DataRef::Empty => 0,
                _ => 1,
            };
        }
    }
    Ok(count)
}

fn muster_read(path: &Path) -> Result<usize> {
    let files = [path.to_path_buf()];
    let input = muster::settings::Input {
        files: &files,
        target: None,
        mapping: None,
        sheets: &[],
    };
    let mut roster = muster::roster::open(input, &muster::config::Config::default())?;
    let mut bytes = 0;
    loop {
        let chunk = roster.next_chunk(32_768)?;
        if chunk.is_empty() {
            // As muster does, the file's SHA-256 (hashed meanwhile on its own thread).
            roster.hashes()?;
            return Ok(bytes);
        }
        for row in &chunk {
            bytes += (0..row.layout.headers.len())
                .filter_map(|c| row.cell(c))
                .map(str::len)
                .sum::<usize>();
        }
    }
}

fn csv_then_xlsx(path: &Path, out: &Path) -> Result<usize> {
    let mut reader = csv::Reader::from_path(path)?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    sheet.set_name("Results")?;
    let mut n = 0u32;
    for record in reader.records() {
        let record = record?;
        n += 1;
        for (c, v) in record.iter().enumerate() {
            sheet.write_string(n, c as u16, v)?;
        }
    }
    book.save(out)?;
    Ok(n as usize)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; ignore flags.
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.as_slice() == ["muster-bin"] {
        println!("{}", env!("CARGO_BIN_EXE_muster"));
        return Ok(());
    }
    let count = match args.as_slice() {
        ["gen-csv", rows, path] => gen_csv(rows.parse()?, Path::new(path)).map(|_| 0)?,
        ["gen-xlsx", rows, path] => gen_xlsx(rows.parse()?, Path::new(path), false).map(|_| 0)?,
        ["gen-xlsx-shared", rows, path] => {
            gen_xlsx(rows.parse()?, Path::new(path), true).map(|_| 0)?
        }
        ["csv", path] => csv_records(Path::new(path))?,
        ["calamine", path] => calamine_cells(Path::new(path))?,
        ["calamine-stream", path] => calamine_stream(Path::new(path))?,
        ["muster-read", path] => muster_read(Path::new(path))?,
        ["csv-xlsx", path, out] => csv_then_xlsx(Path::new(path), Path::new(out))?,
        _ => {
            eprintln!(
                "usage: read gen-csv|gen-xlsx|gen-xlsx-shared ROWS PATH | csv|calamine|calamine-stream|muster-read PATH | csv-xlsx PATH OUT"
            );
            std::process::exit(2);
        }
    };
    writeln!(std::io::stdout(), "{count}")?;
    Ok(())
}
