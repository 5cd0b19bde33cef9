//! Hostile and broken input files through the real binary (issue 11): each file in
//! `tests/fixtures/hostile/` (and the large ones, made here at run time in a temp dir)
//! either makes `muster validate` exit 2 with one line naming the file and the reason, or
//! gives rows (some `invalid`) — never a panic or an abort. Each run is under an address
//! space limit (`ulimit -v`), so memory that grows with the input fails the test.
//!
//! The expected outcomes are the table [`CASES`] (also in the folder's README.md). The
//! committed files are made by [`fixture`]; `MUSTER_REGENERATE_HOSTILE=1 cargo test --test
//! it hostile::` writes them again. `MUSTER_LONG=1` makes the many-rows case 5 million
//! rows (a 200,000-row stand-in otherwise).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zip::write::SimpleFileOptions;

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// The address space a run may use (KiB for `ulimit -v`): far below what the uncapped
/// cases would take (the bomb's strings alone take several GiB in memory).
const MEMORY_KIB: u64 = 3 << 20;

/// What `muster validate` must do with a file.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit 2, one line on stderr naming the file and holding this text.
    Refused(&'static str),
    /// Exit 0 or 1 with this many rows; the first `invalid` rows' error holds the text.
    Rows {
        rows: usize,
        invalid: Option<(usize, &'static str)>,
    },
}

use Expect::{Refused, Rows};

/// Every case: file name and expected outcome. Names starting with `gen_` are made at run
/// time (too large to commit); the rest are in `tests/fixtures/hostile/`.
const CASES: &[(&str, Expect)] = &[
    ("empty.csv", Refused("the file is empty")),
    ("header_only.csv", Refused("no data rows")),
    (
        "binary_garbage.csv",
        Refused("is neither a workbook nor a text file"),
    ),
    (
        "nul_bytes.csv",
        Refused("is neither a workbook nor a text file"),
    ),
    ("bom_only.csv", Refused("no data rows")),
    ("truncated.xlsx", Refused("not a readable xlsx workbook")),
    // Found by the `xlsx` fuzz target: calamine 0.38 panics on it (cfb.rs:320).
    ("calamine_cfb_panic.xls", Refused("the workbook is damaged")),
    // Found by the `xlsx` fuzz target: its directory's sector chain loops, and calamine
    // 0.38 copied it until the address space ran out (abort, exit 134).
    (
        "xls_looping_chain.xls",
        Refused("the xls file is damaged: the sector chain of its directory loops"),
    ),
    (
        "xlsx_named.csv",
        Rows {
            rows: 2,
            invalid: None,
        },
    ),
    (
        "csv_named.xlsx",
        Rows {
            rows: 2,
            invalid: None,
        },
    ),
    (
        "windows1252_named.xlsx",
        Refused("is neither a workbook nor a text file"),
    ),
    ("zip_without_workbook.xlsx", Refused("not a readable")),
    ("zip_bomb.xlsx", Refused("inflates to more than 512 MiB")),
    // Streamed, so the far cell costs nothing; it lies beyond the rows the header search
    // reads, so it is a problem on its row, not a 16,384-column table.
    (
        "far_apart_cells.xlsx",
        Rows {
            rows: 31,
            invalid: Some((1, "beyond the last column of the header")),
        },
    ),
    (
        "odd_sheet_name.xlsx",
        Rows {
            rows: 2,
            invalid: None,
        },
    ),
    ("entity_expansion.xlsx", Refused("unrecognized entity")),
    // Found while the rows stream, below the rows the header search reads.
    (
        "cell_beyond_last_row.xlsx",
        Refused("sheet Roster: it has a cell on row 1048577, beyond 1048576 rows"),
    ),
    (
        "invalid_utf8_in_the_middle.csv",
        Rows {
            rows: 3,
            invalid: Some((1, "not valid UTF-8")),
        },
    ),
    (
        "mixed_line_endings.csv",
        Rows {
            rows: 4,
            invalid: None,
        },
    ),
    (
        "lone_quote.csv",
        Rows {
            rows: 1,
            invalid: None,
        },
    ),
    (
        "nested_quotes.csv",
        Rows {
            rows: 1,
            invalid: None,
        },
    ),
    (
        "long_cell.csv",
        Rows {
            rows: 1,
            invalid: Some((1, "more than 32767")),
        },
    ),
    (
        "gen_20000_columns.csv",
        Refused("20000 columns, more than 16384"),
    ),
    (
        "gen_20000_columns.xlsx",
        Refused("columns wide, more than 16384"),
    ),
    ("gen_50mb_cell.csv", Refused("row 2 is longer than 1 MiB")),
    (
        "gen_50mb_quoted_cell.csv",
        Refused("row 2 is longer than 1 MiB"),
    ),
    (
        "gen_many_rows.csv",
        Rows {
            rows: 0,
            invalid: None,
        },
    ),
    // Every row invalid (no `@` in the email), read with `--errors-only`.
    (
        "gen_many_invalid_rows.csv",
        Rows {
            rows: 0,
            invalid: None,
        },
    ),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// Rows of the many-rows case.
fn many_rows() -> usize {
    if std::env::var_os("MUSTER_LONG").is_some() {
        5_000_000
    } else {
        200_000
    }
}

const HEADER: &str = "First name,Last name,Email,Target";

/// A minimal xlsx: one sheet named `sheet` with `sheet_xml` as its `sheetData` content,
/// and `shared` (if any) as its shared strings. Fixed timestamps, so it is reproducible.
fn xlsx(sheet: &str, sheet_data: &str, shared: Option<&[u8]>) -> Vec<u8> {
    let sheet = sheet
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    let mut parts: Vec<(&str, Vec<u8>)> = vec![
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_vec(),
        ),
        (
            "_rels/.rels",
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_vec(),
        ),
        (
            "xl/workbook.xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>"#).into_bytes(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#.to_vec(),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#).into_bytes(),
        ),
    ];
    if let Some(shared) = shared {
        parts.push(("xl/sharedStrings.xml", shared.to_vec()));
    }
    zip_of(parts.iter().map(|(n, b)| (*n, b.as_slice())))
}

fn zip_of<'a>(parts: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .large_file(true);
    for (name, bytes) in parts {
        out.start_file(name, options).expect("zip entry");
        out.write_all(bytes).expect("zip write");
    }
    out.finish().expect("zip finish").into_inner()
}

/// Inline-string cells of one row: `<row r="n">…</row>`.
fn xml_row(n: u32, cells: &[&str]) -> String {
    let cells: String = cells
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let col = muster::model::column_letters(i);
            format!(r#"<c r="{col}{n}" t="inlineStr"><is><t>{v}</t></is></c>"#)
        })
        .collect();
    format!(r#"<row r="{n}">{cells}</row>"#)
}

fn roster_xml() -> String {
    [
        xml_row(1, &["First name", "Last name", "Email", "Target"]),
        xml_row(2, &["Anna", "Berger", "anna@example.com", "fleet"]),
        xml_row(3, &["Ben", "Cole", "ben@example.com", "fleet"]),
    ]
    .concat()
}

/// A deterministic byte stream (xorshift), for garbage.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// The bytes of a case's file.
fn fixture(name: &str) -> Vec<u8> {
    let roster =
        format!("{HEADER}\nAnna,Berger,anna@example.com,fleet\nBen,Cole,ben@example.com,fleet\n");
    match name {
        "empty.csv" => Vec::new(),
        // A fuzzer's reproducer: kept as found.
        "calamine_cfb_panic.xls" | "xls_looping_chain.xls" => {
            std::fs::read(fixtures().join(name)).expect("committed")
        }
        "header_only.csv" => format!("{HEADER}\n").into_bytes(),
        "binary_garbage.csv" => {
            // Not starting like a zip or OLE file, with zero bytes in it.
            let mut bytes = noise(4096, 11);
            bytes[0] = b'x';
            bytes[100] = 0;
            bytes
        }
        "nul_bytes.csv" => roster.replace("Berger", "Ber\0ger").into_bytes(),
        "bom_only.csv" => b"\xEF\xBB\xBF".to_vec(),
        "truncated.xlsx" => {
            let whole = xlsx("Roster", &roster_xml(), None);
            whole[..whole.len() / 2].to_vec()
        }
        "xlsx_named.csv" | "odd_sheet_name.xlsx" => {
            let sheet = if name == "xlsx_named.csv" {
                "Roster"
            } else {
                "Ro<st>er & 'Ωmega' \"😀\" %s {0} ../x"
            };
            xlsx(sheet, &roster_xml(), None)
        }
        "csv_named.xlsx" => roster.into_bytes(),
        "windows1252_named.xlsx" => {
            // `Bürger` in Windows-1252 (one byte 0xFC): not Unicode, named as a workbook.
            let mut bytes = roster.into_bytes();
            let at = bytes.windows(6).position(|w| w == b"Berger").expect("in the roster");
            bytes[at + 1] = 0xFC;
            bytes
        }
        "zip_without_workbook.xlsx" => zip_of([
            ("readme.txt", b"no workbook here".as_slice()),
            ("data/roster.csv", roster.as_bytes()),
        ]),
        "zip_bomb.xlsx" => {
            // 1 GiB of shared strings (63 million `<si>`), 2.5 MiB compressed.
            let unit = b"<si><t>x</t></si>";
            let count = (1usize << 30) / unit.len();
            let mut shared = Vec::with_capacity(count * unit.len() + 200);
            shared.extend_from_slice(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#);
            for _ in 0..count {
                shared.extend_from_slice(unit);
            }
            shared.extend_from_slice(b"</sst>");
            xlsx("Roster", &roster_xml(), Some(&shared))
        }
        "far_apart_cells.xlsx" => {
            let rows: String = (2..=31)
                .map(|n| xml_row(n, &["Anna", "Berger", &format!("a{n}@example.com"), "fleet"]))
                .collect();
            let data = format!(
                "{}{rows}{}",
                xml_row(1, &["First name", "Last name", "Email", "Target"]),
                r#"<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far</t></is></c></row>"#
            );
            xlsx("Roster", &data, None)
        }
        "cell_beyond_last_row.xlsx" => {
            let rows: String = (2..=40)
                .map(|n| xml_row(n, &["Anna", "Berger", &format!("a{n}@example.com"), "fleet"]))
                .collect();
            let data = format!(
                "{}{rows}{}",
                xml_row(1, &["First name", "Last name", "Email", "Target"]),
                r#"<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>beyond</t></is></c></row>"#
            );
            xlsx("Roster", &data, None)
        }
        "entity_expansion.xlsx" => {
            // A "billion laughs" document type: entities must not be expanded.
            let shared = br#"<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&i;</t></si></sst>"#;
            let data = format!(
                "{}{}",
                xml_row(1, &["First name", "Last name", "Email", "Target"]),
                r#"<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="inlineStr"><is><t>Laughs</t></is></c></row>"#
            );
            xlsx("Roster", &data, Some(shared))
        }
        "invalid_utf8_in_the_middle.csv" => {
            let mut bytes = format!("{HEADER}\nJürgen,Müller,j@example.com,fleet\n").into_bytes();
            bytes.extend_from_slice(b"Bad,B\xfc\xfcrger,bad@example.com,fleet\n");
            bytes.extend_from_slice("Zoë,Wörgl,z@example.com,fleet\n".as_bytes());
            bytes
        }
        "mixed_line_endings.csv" => format!(
            "{HEADER}\r\nA,One,a@example.com,fleet\nB,Two,b@example.com,fleet\rC,Three,c@example.com,fleet\r\n\nD,Four,d@example.com,fleet"
        )
        .into_bytes(),
        "lone_quote.csv" => format!("{HEADER}\n\"Anna,Berger,anna@example.com,fleet\nBen,Cole,ben@example.com,fleet\n").into_bytes(),
        "nested_quotes.csv" => {
            let mess = format!("{}x{}", "\"".repeat(1000), "\"".repeat(999));
            format!("{HEADER}\n{mess},Berger,anna@example.com,fleet\n").into_bytes()
        }
        "long_cell.csv" => format!("{HEADER}\nAnna,{},anna@example.com,fleet\n", "y".repeat(40_000)).into_bytes(),
        "gen_20000_columns.csv" => {
            let header: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
            format!("{}\n{}\n", header.join(","), vec!["v"; 20_000].join(",")).into_bytes()
        }
        "gen_20000_columns.xlsx" => {
            let header: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            xlsx("Wide", &xml_row(1, &header), None)
        }
        "gen_50mb_cell.csv" => {
            let mut bytes = format!("{HEADER}\nAnna,").into_bytes();
            bytes.resize(bytes.len() + (50 << 20), b'z');
            bytes.extend_from_slice(b",anna@example.com,fleet\n");
            bytes
        }
        "gen_50mb_quoted_cell.csv" => {
            let mut bytes = format!("{HEADER}\nAnna,\"").into_bytes();
            for _ in 0..(50 << 20) / 8 {
                bytes.extend_from_slice(b"z,\n\r\"\"zz");
            }
            bytes.extend_from_slice(b"\",anna@example.com,fleet\n");
            bytes
        }
        "gen_many_rows.csv" | "gen_many_invalid_rows.csv" => {
            let at = if name == "gen_many_rows.csv" { "@" } else { "." };
            let mut bytes = format!("{HEADER}\n").into_bytes();
            for i in 0..many_rows() {
                writeln!(bytes, "First{i},Last{i},user{i}{at}example.com,fleet").expect("vec write");
            }
            bytes
        }
        other => panic!("no fixture named {other}"),
    }
}

/// The sheet names of a workbook, in order, read from its `xl/workbook.xml` (reading the
/// sheets themselves would take as much memory as the rows).
fn sheet_names(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).expect("the workbook is written");
    let mut zip = zip::ZipArchive::new(file).expect("the workbook is a zip");
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("xl/workbook.xml").expect("xl/workbook.xml"),
        &mut xml,
    )
    .expect("read xl/workbook.xml");
    xml.split("<sheet ")
        .skip(1)
        .filter_map(|s| s.split("name=\"").nth(1)?.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Runs `muster validate` on `file` under the memory limit.
fn validate(file: &Path, out: &Path, json: bool, errors_only: bool) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .arg("validate")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        // glibc reserves 64 MiB of address space per thread arena; keep that small.
        .env("MALLOC_ARENA_MAX", "2")
        .env_remove("RUST_LOG");
    if json {
        cmd.arg("--json");
    }
    if errors_only {
        cmd.arg("--errors-only");
    }
    cmd.output().expect("muster runs")
}

fn check(name: &str, expect: Expect) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = if name.starts_with("gen_") {
        let path = dir.path().join(name);
        std::fs::write(&path, fixture(name)).expect("write the generated file");
        path
    } else {
        fixtures().join(name)
    };
    let out = dir.path().join("validation.xlsx");
    let many = name.starts_with("gen_many_");
    let errors_only = name == "gen_many_invalid_rows.csv";
    let output = validate(&path, &out, !many, errors_only);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(
        code.is_some(),
        "{name}: muster ended by a signal ({:?}); stderr: {stderr}",
        output.status
    );
    assert!(
        !stderr.contains("panicked"),
        "{name}: muster panicked: {stderr}"
    );
    match expect {
        Refused(reason) => {
            assert_eq!(code, Some(2), "{name}: exit code; stderr: {stderr}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{name}: one line on stderr, got: {stderr}");
            assert!(
                lines[0].contains(name) && lines[0].contains(reason),
                "{name}: the line names the file and says {reason:?}: {stderr}"
            );
        }
        Rows { rows, invalid } => {
            assert!(
                matches!(code, Some(0 | 1)),
                "{name}: exit {code:?}; stderr: {stderr}"
            );
            if many {
                // Excel's sheet holds 1,048,575 rows under its header: the rest go on
                // `Results (2)`, ... (or `Errors (2)`, ...).
                let pages = many_rows().div_ceil(1_048_575);
                let (sheet, other) = if errors_only {
                    ("Errors", "Results")
                } else {
                    ("Results", "Errors")
                };
                let names = sheet_names(&out);
                let want: Vec<String> = (1..=pages)
                    .map(|n| match n {
                        1 => sheet.to_string(),
                        n => format!("{sheet} ({n})"),
                    })
                    .collect();
                let got: Vec<&String> = names.iter().filter(|n| n.starts_with(sheet)).collect();
                assert_eq!(got, want.iter().collect::<Vec<_>>(), "{name}: {names:?}");
                if errors_only {
                    assert!(!names.iter().any(|n| n.starts_with(other)), "{names:?}");
                }
                assert_eq!(names[0], "Summary");
                return;
            }
            let rows_out: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .filter(|v: &serde_json::Value| v.get("status").is_some())
                .collect();
            assert_eq!(rows_out.len(), rows, "{name}: rows read");
            let bad: Vec<&serde_json::Value> = rows_out
                .iter()
                .filter(|r| {
                    r["status"] == "invalid"
                        && invalid.is_some_and(|(_, text)| {
                            r["error"].as_str().is_some_and(|e| e.contains(text))
                        })
                })
                .collect();
            assert_eq!(
                bad.len(),
                invalid.map_or(0, |(n, _)| n),
                "{name}: invalid rows with the expected error: {rows_out:?}"
            );
        }
    }
}

/// The committed files are what [`fixture`] makes (regenerated on request), and the
/// folder holds nothing the table does not name.
#[test]
fn committed_fixtures_are_the_cases() {
    let dir = fixtures();
    let regenerate = std::env::var_os("MUSTER_REGENERATE_HOSTILE").is_some();
    let committed: Vec<&str> = CASES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !n.starts_with("gen_"))
        .collect();
    for name in &committed {
        if regenerate {
            std::fs::write(dir.join(name), fixture(name)).expect("write fixture");
        }
        assert!(dir.join(name).exists(), "{name} is committed");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README.md");
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            name == "README.md" || committed.contains(&name.as_str()),
            "{name} is in the table of cases"
        );
    }
    for (name, _) in CASES {
        assert!(readme.contains(name), "README.md lists {name}");
    }
}

macro_rules! cases {
    ($($test:ident => $name:literal,)*) => {$(
        #[test]
        fn $test() {
            let expect = CASES
                .iter()
                .find(|(n, _)| *n == $name)
                .map(|(_, e)| *e)
                .expect("the case is in CASES");
            check($name, expect);
        }
    )*};
}

cases! {
    empty => "empty.csv",
    header_only => "header_only.csv",
    binary_garbage => "binary_garbage.csv",
    nul_bytes => "nul_bytes.csv",
    bom_only => "bom_only.csv",
    truncated_xlsx => "truncated.xlsx",
    calamine_cfb_panic => "calamine_cfb_panic.xls",
    xls_looping_chain => "xls_looping_chain.xls",
    xlsx_named_csv => "xlsx_named.csv",
    csv_named_xlsx => "csv_named.xlsx",
    windows1252_named_xlsx => "windows1252_named.xlsx",
    zip_without_workbook => "zip_without_workbook.xlsx",
    zip_bomb => "zip_bomb.xlsx",
    far_apart_cells => "far_apart_cells.xlsx",
    odd_sheet_name => "odd_sheet_name.xlsx",
    entity_expansion => "entity_expansion.xlsx",
    cell_beyond_last_row => "cell_beyond_last_row.xlsx",
    invalid_utf8_in_the_middle => "invalid_utf8_in_the_middle.csv",
    mixed_line_endings => "mixed_line_endings.csv",
    lone_quote => "lone_quote.csv",
    nested_quotes => "nested_quotes.csv",
    long_cell => "long_cell.csv",
    columns_20000_csv => "gen_20000_columns.csv",
    columns_20000_xlsx => "gen_20000_columns.xlsx",
    cell_50mb => "gen_50mb_cell.csv",
    quoted_cell_50mb => "gen_50mb_quoted_cell.csv",
    rows_many => "gen_many_rows.csv",
    invalid_rows_many => "gen_many_invalid_rows.csv",
}

/// Every case is run by one test above.
#[test]
fn every_case_has_a_test() {
    let source = include_str!("hostile.rs");
    for (name, _) in CASES {
        assert!(
            source.contains(&format!("=> \"{name}\",")),
            "{name} has a test"
        );
    }
}
