//! Integration tests: input. Every fixture in tests/fixtures/input (written by
//! LibreOffice or, for text files, byte by byte; see make.py there) read through
//! `muster::input::open`, then mapped.

use std::path::PathBuf;

use muster::input::{self, RawRow};
use muster::mapping::{self, Overrides};
use muster::model::{CellError, Field, Layout};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/input")
        .join(name)
}

/// Every table of a fixture with all its rows, and the skipped sheets.
fn read(name: &str) -> (Vec<(Layout, Vec<RawRow>)>, Vec<String>) {
    let opened = input::open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let tables = opened
        .tables
        .into_iter()
        .map(|t| {
            let rows = t
                .rows
                .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
                .collect();
            (t.layout, rows)
        })
        .collect();
    (tables, opened.skipped)
}

/// The only table of a fixture.
fn only_table(name: &str) -> (Layout, Vec<RawRow>) {
    let (mut tables, _) = read(name);
    assert_eq!(tables.len(), 1, "{name}: one table");
    tables.remove(0)
}

fn cells(row: &RawRow) -> Vec<&str> {
    row.cells.iter().collect()
}

fn lines(rows: &[RawRow]) -> Vec<u32> {
    rows.iter().map(|r| r.line).collect()
}

const ROSTER_HEADERS: [&str; 5] = ["Vorname", "Nachname", "E-Mail", "Telefon", "Firma"];
const ROSTER_ROWS: [[&str; 5]; 2] = [
    [
        "Jürgen",
        "Müller",
        "j.mueller@example.at",
        "+43 664 1234567",
        "Spedition Größl",
    ],
    [
        "Hélène",
        "Lefèvre",
        "helene@example.fr",
        "0664 7654321",
        "Crédit Agricole; Besançon",
    ],
];

#[test]
fn text_files_in_every_encoding_and_delimiter_read_the_same() {
    for name in [
        "windows1252_semicolon.csv",
        "utf16le_tab.txt",
        "utf16be_tab.txt",
        "utf8_bom.csv",
        "pipe_delimited.csv",
    ] {
        let (layout, rows) = only_table(name);
        assert_eq!(layout.file, fixture(name).display().to_string(), "{name}");
        assert_eq!(layout.sheet, name.split('.').next().unwrap(), "{name}");
        assert!(!layout.is_workbook, "{name}");
        assert_eq!(layout.header_row, 1, "{name}");
        assert_eq!(layout.headers, ROSTER_HEADERS, "{name}");
        assert_eq!(lines(&rows), [2, 3], "{name}");
        for (row, want) in rows.iter().zip(ROSTER_ROWS) {
            assert_eq!(cells(row), want, "{name}");
            assert!(row.errors.is_empty(), "{name}");
        }
    }
}

#[test]
fn german_headers_map_to_fields() {
    let (mut layout, _) = only_table("windows1252_semicolon.csv");
    mapping::map_layout(&mut layout, &Overrides::default()).unwrap();
    assert_eq!(
        layout.fields,
        [
            Some(Field::FirstName),
            Some(Field::LastName),
            Some(Field::Email),
            Some(Field::Phone),
            Some(Field::Company)
        ]
    );
}

#[test]
fn quoted_cells_keep_newlines_and_quotes_and_rows_count_as_a_spreadsheet_does() {
    let (layout, rows) = only_table("quoted_newlines.csv");
    assert_eq!(layout.headers, ["name", "email", "note"]);
    // Row 2 spans three lines in the file; row 3 is blank.
    assert_eq!(lines(&rows), [2, 4, 5]);
    assert_eq!(
        cells(&rows[0]),
        ["Jane Doe", "jane@example.com", "says \"hi\"\nand\r\nmore"]
    );
    assert_eq!(
        cells(&rows[2]),
        [
            "Ann Poe",
            "ann@example.com",
            "last line without a line break"
        ]
    );
}

#[test]
fn invalid_utf8_is_a_cell_problem_and_extra_values_are_not_dropped() {
    let (layout, rows) = only_table("invalid_utf8_in_the_middle.csv");
    assert_eq!(layout.headers, ["name", "city"]);
    assert_eq!(rows.len(), 41);
    let bad = &rows[39];
    assert_eq!(bad.line, 41);
    assert_eq!(cells(bad), ["J\u{fffd}rgen", "Graz"]);
    assert_eq!(
        bad.errors,
        [CellError {
            col: 0,
            text: "holds bytes that are not valid UTF-8".into()
        }]
    );
    let extra = &rows[40];
    assert_eq!(extra.line, 42);
    assert_eq!(cells(extra), ["Extra", "Linz"]);
    assert_eq!(
        extra.errors,
        [CellError {
            col: 2,
            text: "holds data beyond the last column of the header: \"surplus\"".into()
        }]
    );
}

#[test]
fn header_below_a_title_and_a_date_is_found() {
    for name in ["header_on_row_4.xlsx", "header_on_row_4.csv"] {
        let (layout, rows) = only_table(name);
        assert_eq!(layout.header_row, 4, "{name}");
        assert_eq!(layout.headers[0], "First name", "{name}");
        assert_eq!(layout.headers.len(), 4, "{name}");
        // The blank row 6 is skipped, not renumbered.
        assert_eq!(lines(&rows), [5, 7], "{name}");
        assert_eq!(
            cells(&rows[0]),
            ["Jane", "Doe", "jane@example.com", "4366412345678"],
            "{name}"
        );
        assert_eq!(
            cells(&rows[1]),
            ["John", "Roe", "john@example.com", "00436641234567"],
            "{name}"
        );
    }
    let (layout, _) = only_table("header_on_row_4.xlsx");
    assert_eq!(layout.sheet, "Drivers");
    assert!(layout.is_workbook);
}

#[test]
fn workbook_cells_become_text_as_typed() {
    let headers = [
        "Name",
        "Phone",
        "Employee ID",
        "Start date",
        "Shift start",
        "Active",
        "Devices",
        "Twice",
        "Ratio",
        "Large",
    ];
    // (fixture, TRUE, FALSE, 2^53 as stored). LibreOffice writes booleans in ODS as
    // numbers with a boolean format, which calamine reports as 1 and 0, and stores only
    // 15 significant digits of a number in xlsx and ods.
    for (name, yes, no, large) in [
        (
            "numbers_and_dates.xlsx",
            "true",
            "false",
            "9007199254740990",
        ),
        ("numbers_and_dates.xls", "true", "false", "9007199254740992"),
        ("numbers_and_dates.ods", "1", "0", "9007199254740990"),
        ("xlsx_named_csv.csv", "true", "false", "9007199254740990"),
    ] {
        let (layout, rows) = only_table(name);
        assert!(layout.is_workbook, "{name}");
        assert_eq!(layout.sheet, "Roster", "{name}");
        assert_eq!(layout.header_row, 1, "{name}");
        assert_eq!(layout.headers, headers, "{name}");
        assert_eq!(lines(&rows), [2, 3], "{name}");
        assert_eq!(
            cells(&rows[0]),
            [
                "Jane Doe",
                "4366412345678",
                "00987",
                "2026-03-01",
                "2026-03-01T08:30:00",
                yes,
                "2",
                "4",
                "12.5",
                "123456789012345"
            ],
            "{name}"
        );
        assert_eq!(
            cells(&rows[1]),
            [
                "John Roe",
                "436641234567",
                "01234",
                "2025-12-31",
                "2025-12-31T23:59:59",
                no,
                "3",
                "6",
                "0.333333333333333",
                large
            ],
            "{name}"
        );
        assert!(rows.iter().all(|r| r.errors.is_empty()), "{name}");
    }
}

#[test]
fn error_cells_are_problems_and_formulas_give_their_cached_value() {
    for name in ["error_cells.xlsx", "error_cells.xls"] {
        let (layout, rows) = only_table(name);
        assert_eq!(layout.headers, ["Name", "Email", "Lookup"], "{name}");
        let errors: Vec<(u32, Vec<CellError>)> =
            rows.iter().map(|r| (r.line, r.errors.clone())).collect();
        let error = |text: &str| {
            vec![CellError {
                col: 2,
                text: format!("holds the spreadsheet error {text}"),
            }]
        };
        assert_eq!(
            errors,
            [
                (2, error("#N/A")),
                (3, error("#DIV/0!")),
                (4, error("#REF!")),
                (5, vec![])
            ],
            "{name}"
        );
        assert_eq!(&rows[0].cells[2], "#N/A", "{name}");
        assert_eq!(
            cells(&rows[3]),
            ["Bob Loe", "bob@example.com", "ok"],
            "{name}"
        );
    }
}

#[test]
fn hidden_empty_and_headerless_sheets_are_skipped_and_said_so() {
    for name in ["hidden_sheet.xlsx", "hidden_sheet.ods"] {
        let (tables, skipped) = read(name);
        assert_eq!(
            skipped,
            [
                "Hidden (hidden sheet)",
                "Notes (no header found)",
                "Empty (empty)"
            ],
            "{name}"
        );
        let sheets: Vec<&str> = tables.iter().map(|(l, _)| l.sheet.as_str()).collect();
        assert_eq!(sheets, ["Roster", "Offset"], "{name}");
        let (roster, rows) = &tables[0];
        assert_eq!(roster.headers, ["Name", "Email"], "{name}");
        assert_eq!(cells(&rows[0]), ["Jane Doe", "jane@example.com"], "{name}");
        // The table starting at C3: columns keep their letters; the stray value in E4,
        // beyond the header, is kept under a made-up header.
        let (offset, rows) = &tables[1];
        assert_eq!(offset.header_row, 3, "{name}");
        assert_eq!(
            offset.headers,
            ["column A", "column B", "Name", "Email", "column E"],
            "{name}"
        );
        assert_eq!(lines(rows), [4], "{name}");
        assert_eq!(
            cells(&rows[0]),
            ["", "", "Ann Poe", "ann@example.com", "stray note"],
            "{name}"
        );
    }
}

#[test]
fn damaged_files_are_unreadable_with_a_one_line_reason() {
    for (name, reason) in [
        (
            "truncated.xlsx",
            "not a readable xlsx workbook: Zip error: invalid Zip archive",
        ),
        ("garbage.xls", "not a readable xls workbook: Cfb error"),
    ] {
        let err = match input::open(&fixture(name)) {
            Err(e) => e,
            Ok(_) => panic!("{name} opened"),
        };
        assert!(
            matches!(err, input::Error::Unreadable { .. }),
            "{name}: {err:?}"
        );
        let text = err.to_string();
        let want = format!("{}: {reason}", fixture(name).display());
        assert!(text.starts_with(&want), "{name}: {text}");
        assert!(!text.contains('\n'), "{name}: {text}");
    }
}

#[test]
fn empty_missing_and_binary_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, b"").unwrap();
    let binary = dir.path().join("photo.csv");
    std::fs::write(&binary, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0").unwrap();
    let text_as_xlsx = dir.path().join("roster.xlsx");
    std::fs::write(&text_as_xlsx, b"name;email\n\xe9;x\n").unwrap();
    let missing = dir.path().join("missing.csv");
    for (path, reason) in [
        (&empty, "the file is empty"),
        (&binary, "is neither a workbook nor a text file"),
        (&text_as_xlsx, "is neither a workbook nor a text file"),
        (&missing, "cannot read: "),
    ] {
        let text = match input::open(path) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{} opened", path.display()),
        };
        assert!(
            text.starts_with(&format!("{}: {reason}", path.display())),
            "{text}"
        );
    }
}

#[test]
fn a_utf8_csv_named_xls_is_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xls");
    std::fs::write(&path, "name,email\nJürgen,j@x.at\n").unwrap();
    let opened = input::open(&path).unwrap();
    let table = opened.tables.into_iter().next().unwrap();
    assert_eq!(table.layout.headers, ["name", "email"]);
    let rows: Vec<RawRow> = table.rows.map(Result::unwrap).collect();
    assert_eq!(cells(&rows[0]), ["Jürgen", "j@x.at"]);
}

#[test]
fn a_large_csv_streams_every_row_in_order() {
    // Far more rows than the header window and several reading-thread chunks, with the
    // encoding and delimiter decided from the first 64 KiB only.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = String::from("id;name;email\r\n");
    for i in 1..=50_000 {
        text.push_str(&format!("{i:05};Name {i};user{i}@example.com\r\n"));
    }
    text.push_str("50001;Zoë;zoe@example.com\r\n");
    std::fs::write(&path, text).unwrap();
    let (layout, rows) = {
        let opened = input::open(&path).unwrap();
        let table = opened.tables.into_iter().next().unwrap();
        let rows: Vec<RawRow> = table.rows.map(Result::unwrap).collect();
        (table.layout, rows)
    };
    assert_eq!(layout.headers, ["id", "name", "email"]);
    assert_eq!(rows.len(), 50_001);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| r.line as usize == i + 2)
    );
    assert_eq!(cells(&rows[0]), ["00001", "Name 1", "user1@example.com"]);
    assert_eq!(cells(&rows[50_000]), ["50001", "Zoë", "zoe@example.com"]);
}

#[test]
fn a_table_dropped_early_stops_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = String::from("id,name\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},n{i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    let opened = input::open(&path).unwrap();
    let mut rows = opened.tables.into_iter().next().unwrap().rows;
    for _ in 0..100 {
        rows.next().unwrap().unwrap();
    }
    // Dropping the rows must not hang or panic the reading thread's sender.
    drop(rows);
}

#[test]
fn csv_columns_beyond_the_header_in_the_first_rows_get_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, "name,,email\nAnn,x,a@x,note\nBob,,b@x\n").unwrap();
    let opened = input::open(&path).unwrap();
    let table = opened.tables.into_iter().next().unwrap();
    assert_eq!(
        table.layout.headers,
        ["name", "column B", "email", "column D"]
    );
    let rows: Vec<RawRow> = table.rows.map(Result::unwrap).collect();
    assert_eq!(cells(&rows[0]), ["Ann", "x", "a@x", "note"]);
    assert_eq!(cells(&rows[1]), ["Bob", "", "b@x", ""]);
    assert!(rows.iter().all(|r| r.errors.is_empty()));
}

#[test]
fn an_ole_file_named_xlsx_says_it_may_be_password_protected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.xlsx");
    std::fs::copy(fixture("garbage.xls"), &path).unwrap();
    let text = match input::open(&path) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened"),
    };
    assert_eq!(
        text,
        format!(
            "{}: not a readable xlsx workbook: it is password-protected or not a workbook",
            path.display()
        )
    );
}

#[test]
fn each_file_s_sha256_is_that_of_its_bytes_however_it_is_read() {
    use muster::roster;
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    // Text files are hashed as they are read: across blocks (1 MiB), a file that ends
    // exactly at a block's end, one shorter than the encoding sample (64 KiB); a
    // workbook and re-encoded text are hashed as files.
    let row = "1,Name,user@example.com\n";
    let mut files = vec![fixture("numbers_and_dates.xlsx")];
    for name in [
        "utf16le_tab.txt",
        "windows1252_semicolon.csv",
        "utf8_bom.csv",
    ] {
        let copy = dir.path().join(name);
        std::fs::copy(fixture(name), &copy).unwrap();
        files.push(copy);
    }
    for (name, size) in [
        ("small.csv", 100),
        ("blocks.csv", 3 << 20),
        ("exact.csv", 2 << 20),
    ] {
        let mut text = String::from("id,name,email\n");
        while text.len() + row.len() <= size {
            text.push_str(row);
        }
        if name == "exact.csv" {
            text.push_str(&"x".repeat(size - text.len() - 1));
            text.push('\n');
            assert_eq!(text.len(), size);
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let want: Vec<String> = files
        .iter()
        .map(|p| hex::encode(Sha256::digest(std::fs::read(p).unwrap())))
        .collect();
    // Hashes asked for before the rows are read (each file is then read again), and after
    // (the text files are gone by then: their hashes come from reading their rows).
    let hashes = |roster: &mut roster::Roster| -> Vec<String> {
        let inputs = roster.hashes().unwrap();
        inputs.iter().map(|f| f.sha256.clone()).collect()
    };
    let args = muster::cli::InputArgs {
        files: files.clone(),
        ..Default::default()
    };
    let config = muster::config::Config::default();
    let before = hashes(&mut roster::open((&args).into(), &config).unwrap());
    let mut roster = roster::open((&args).into(), &config).unwrap();
    roster.read_all().unwrap();
    for text in &files[1..] {
        std::fs::remove_file(text).unwrap();
    }
    let after = hashes(&mut roster);
    assert_eq!(after, want);
    assert_eq!(before, want);
}

/// An xlsx sheet is streamed (issue 30): every row comes, in order, across many chunks; a
/// blank row is skipped; a value beyond the header's width below the rows read for the
/// header search is a problem on its row, as in a CSV; dropping the rows early stops the
/// sheet's reading thread.
#[test]
fn a_large_xlsx_streams_every_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Roster").unwrap();
    sheet.write_string(0, 0, "Fleet roster").unwrap();
    sheet.write_string(2, 0, "Name").unwrap();
    sheet.write_string(2, 1, "Email").unwrap();
    for row in 3..5003u32 {
        if row == 2000 {
            continue;
        }
        sheet.write_string(row, 0, format!(" n{row} ")).unwrap();
        sheet.write_number(row, 1, f64::from(row)).unwrap();
    }
    sheet.write_string(4500, 3, "stray").unwrap();
    book.save(&path).unwrap();

    let opened = input::open(&path).unwrap();
    let table = opened.tables.into_iter().next().unwrap();
    assert_eq!(
        (table.layout.header_row, table.layout.sheet.as_str()),
        (3, "Roster")
    );
    assert_eq!(table.layout.headers, ["Name", "Email"]);
    let rows: Vec<RawRow> = table.rows.map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4999);
    let want: Vec<u32> = (4..=5003).filter(|l| *l != 2001).collect();
    assert_eq!(lines(&rows), want);
    assert_eq!(cells(&rows[0]), ["n3", "3"]);
    let stray = rows.iter().find(|r| r.line == 4501).unwrap();
    assert_eq!(cells(stray), ["n4500", "4500"]);
    assert_eq!(
        stray.errors,
        [CellError {
            col: 3,
            text: "holds data beyond the last column of the header: \"stray\"".into()
        }]
    );
    assert!(
        rows.iter()
            .filter(|r| r.line != 4501)
            .all(|r| r.errors.is_empty())
    );

    let opened = input::open(&path).unwrap();
    let mut rows = opened.tables.into_iter().next().unwrap().rows;
    for _ in 0..100 {
        rows.next().unwrap().unwrap();
    }
    // Dropping the rows must not hang or panic the sheet's reading thread.
    drop(rows);
}
