//! The progress display as an operator sees it: the real binary on a pseudo-terminal
//! (issue 29). The ETA itself is tested against a test clock in `progress::tests`.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// A pseudo-terminal of 40 rows and 200 columns: (controller, terminal).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut controller, mut terminal) = (-1, -1);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 200,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors it opened into the ints it is given and reads
    // only the size; a null name and termios are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nothing else.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// `text` without terminal escapes (`ESC [ … letter`), carriage returns made line breaks.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

#[test]
fn finished_targets_keep_their_lines_and_arobs_shows_its_manual_rows() {
    let dir = tempfile::tempdir().unwrap();
    let roster = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/fleet.xlsx");
    let (controller, terminal) = pty();
    let mut command = Command::new(BIN);
    command
        .args(["demo", "--roster", roster, "--out"])
        .arg(dir.path().join("r.xlsx"))
        .current_dir(dir.path())
        .env("COLUMNS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal));
    let mut child = command.spawn().expect("muster demo starts");
    // The terminal's last copies are the child's: reading ends (EIO) once it exits.
    drop(command);
    let mut seen = Vec::new();
    let _ = std::fs::File::from(controller).read_to_end(&mut seen);
    let status = child.wait().expect("muster demo ends");
    let seen = plain(&String::from_utf8_lossy(&seen));
    assert!(status.success(), "{seen}");
    for target in ["traccar", "motive", "pegasus", "drtrack"] {
        let last = seen
            .rsplit_once(&format!("{target} ["))
            .map(|(_, line)| line)
            .unwrap_or_else(|| panic!("no line of {target}: {seen}"));
        assert!(
            last.starts_with(&format!("{}] 8/8 8 done in ", "=".repeat(30))),
            "{target}'s last line: {}",
            last.lines().next().unwrap_or_default()
        );
    }
    let arobs = seen.rsplit_once("arobs [").map(|(_, l)| l).unwrap_or("");
    assert!(
        arobs.starts_with(&format!("{}] 8/8 8 manual", "=".repeat(30))),
        "arobs' last line: {}",
        arobs.lines().next().unwrap_or_default()
    );
    // Rates read `25 rows/s` or `20 rows/min`, never `24.9876/s`.
    for (at, _) in seen.match_indices(" rows/") {
        let number = seen[..at].rsplit(' ').next().unwrap_or_default();
        let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 1, "a rate of {number}: {seen}");
    }
    assert!(!seen.contains("/s ETA"), "indicatif's own rate: {seen}");
}
