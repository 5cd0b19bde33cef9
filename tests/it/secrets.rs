//! No configured token or password, and no password muster generated, appears in anything
//! a run leaves behind but `--secrets-out` (issue 11): the real binary with
//! `RUST_LOG=trace` (the tracing subscriber of `main.rs` honours it) imports rows of every
//! vendor with a connector, once with progress lines and the summary table, once with
//! `--json`; stdout, stderr, every part of the workbook (unzipped XML), the journal's
//! bytes (with its WAL) and openpyxl's reading of the workbook are searched for each
//! secret, and for each session token the Pegasus and DRTrack simulators handed out
//! (AROBS's are checked in `arobs.rs`).

use std::io::Read;
use std::path::Path;
use std::process::Command;

use muster::sandbox::pegasus::PegasusSim;
use muster::sandbox::{Options, Sandbox};

use crate::faults::VENDORS;
use crate::support::{FAST_APPS, World, check_workbook, fast_pegasus, vendor_roster};

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// Rows per vendor.
const ROWS: usize = 12;

/// The password the Pegasus roster gives its users.
const ROSTER_PASSWORD: &str = "Secret-Pass-1";

/// Every part of an xlsx file, unzipped, concatenated.
fn unzipped(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).expect("the workbook exists");
    let mut zip = zip::ZipArchive::new(file).expect("the workbook is a zip");
    let mut all = Vec::new();
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).expect("a part");
        part.read_to_end(&mut all).expect("the part reads");
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn no_secret_appears_in_any_output_with_trace_logging() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime for the sandbox");
    for mode in ["progress", "json"] {
        let w = rt.block_on(World::start(Options {
            pegasus: fast_pegasus(),
            ..Options::default()
        }));
        let config = w.config(&format!("rate = \"none\"\nconcurrency = 4\n{FAST_APPS}"));
        let rosters: Vec<_> = VENDORS
            .iter()
            .map(|v| w.write(&format!("{v}.csv"), &vendor_roster(v, ROWS)))
            .collect();
        let journal = w.path("j.db");
        let out = w.path("r.xlsx");
        let secrets_out = w.path("secrets.csv");
        let mut cmd = Command::new(BIN);
        cmd.arg("import")
            .args(&rosters)
            .arg("--config")
            .arg(&config)
            .arg("--journal")
            .arg(&journal)
            .arg("--out")
            .arg(&out)
            .arg("--secrets-out")
            .arg(&secrets_out)
            .env("RUST_LOG", "trace");
        if mode == "json" {
            cmd.arg("--json");
        }
        for (k, v) in Sandbox::credentials() {
            cmd.env(k, v);
        }
        let run = cmd.output().expect("import runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{mode}: {stderr}");
        assert!(
            stderr.contains("TRACE"),
            "{mode}: RUST_LOG=trace gives trace lines"
        );

        // What must not leak: the configured credentials (not the user names), the
        // roster's password, every password muster generated.
        let mut secrets: Vec<String> = Sandbox::credentials()
            .into_iter()
            .filter(|(k, _)| !k.ends_with("_USER"))
            .map(|(_, v)| v)
            .collect();
        secrets.push(ROSTER_PASSWORD.into());
        let generated: Vec<String> = std::fs::read_to_string(&secrets_out)
            .expect("the secrets file")
            .lines()
            .filter_map(|l| l.rsplit(',').next().map(str::to_string))
            .collect();
        assert!(
            generated.len() >= ROWS,
            "{mode}: passwords were generated: {}",
            generated.len()
        );
        secrets.extend(generated);
        let pegasus = w
            .sandbox
            .platform("pegasus")
            .and_then(|p| p.state::<PegasusSim>())
            .expect("the pegasus simulator is mounted")
            .issued_tokens();
        let drtrack = w.sandbox.drtrack().issued_tokens();
        assert!(
            !pegasus.is_empty() && !drtrack.is_empty(),
            "{mode}: muster logged in to Pegasus ({}) and DRTrack ({})",
            pegasus.len(),
            drtrack.len()
        );
        let tokens = pegasus.len() + drtrack.len();
        secrets.extend(pegasus);
        secrets.extend(drtrack);

        let mut places: Vec<(String, Vec<u8>)> = vec![
            ("stdout".into(), run.stdout.clone()),
            ("stderr".into(), run.stderr.clone()),
            ("the workbook's XML".into(), unzipped(&out)),
        ];
        for suffix in ["", "-wal", "-shm"] {
            let p = w.path(&format!("j.db{suffix}"));
            if let Ok(bytes) = std::fs::read(&p) {
                places.push((p.display().to_string(), bytes));
            }
        }
        let mut bytes_searched = 0;
        for (place, bytes) in &places {
            bytes_searched += bytes.len();
            for (i, s) in secrets.iter().enumerate() {
                assert!(
                    !contains(bytes, s),
                    "{mode}: secret #{i} (of {}) appears in {place}",
                    secrets.len()
                );
            }
        }
        check_workbook(&out, &secrets);
        eprintln!(
            "secrets {mode}: {} rows, {} secrets ({} session tokens, {} generated passwords) searched in {} bytes of output; none found",
            ROWS * VENDORS.len(),
            secrets.len(),
            tokens,
            secrets.len() - 5 - tokens,
            bytes_searched
        );
    }
}

/// `--secrets-out` never writes into a file that exists, nor through a link (issue 25,
/// item 6): the run stops (exit 2) before anything is sent, and the file is as it was.
#[tokio::test]
async fn secrets_out_refuses_an_existing_file_or_a_link_before_anything_is_sent() {
    let w = World::start(Options::default()).await;
    let config = w.config("rate = \"none\"");
    let roster = w.write("traccar.csv", &vendor_roster("traccar", 3));
    let (journal, out) = (w.path("j.db"), w.path("r.xlsx"));
    let victim = w.write("victim.txt", "someone else's\n");
    let link = w.path("link.csv");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for target in [&victim, &link] {
        for append in [false, true] {
            let path = target.display().to_string();
            let mut extra = vec!["--secrets-out", path.as_str()];
            if append {
                extra.push("--secrets-append");
            }
            let err = w
                .import(&roster, &config, &journal, &out, &extra)
                .await
                .expect_err("an unsafe --secrets-out cannot run");
            assert!(err.to_string().starts_with("--secrets-"), "{err}");
        }
    }
    assert_eq!(w.stat("traccar", "requests"), 0, "nothing was sent");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "someone else's\n"
    );
    // A new file works, and --secrets-append adds to it on the next run.
    let fresh = w.path("fresh.csv").display().to_string();
    let run = w
        .import(&roster, &config, &journal, &out, &["--secrets-out", &fresh])
        .await;
    assert!(run.is_ok(), "{run:?}");
    let more = w.write("more.csv", &vendor_roster("traccar", 5));
    let run = w
        .import(
            &more,
            &config,
            &journal,
            &out,
            &["--secrets-out", &fresh, "--secrets-append"],
        )
        .await;
    assert!(run.is_ok(), "{run:?}");
    let lines = std::fs::read_to_string(&fresh).unwrap().lines().count();
    assert_eq!(lines, 5, "three passwords, then two more");
}
