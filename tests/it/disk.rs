//! An output that cannot be written stops the run with a clear error before anything is
//! sent (issue 11): a folder that does not exist, a path below a regular file, a path that
//! is a folder, and a full filesystem (a 64 KiB tmpfs, mounted when the test may mount;
//! it says so and skips that case otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;

use muster::sandbox::Options;

use crate::support::{World, traccar_roster};

/// A tmpfs of `size` mounted at a temp folder, unmounted when dropped.
struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    fn mount(size: &str) -> Result<TinyFs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(TinyFs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Runs an import of 200 Traccar rows writing to `out`; returns the error text and checks
/// that the sandbox saw no request.
async fn refused(w: &World, out: &Path) -> String {
    let config = w.config("");
    let roster = w.write("roster.csv", &traccar_roster(200));
    let err = w
        .import(&roster, &config, &w.path("j.db"), out, &[])
        .await
        .expect_err("the run must stop");
    assert_eq!(
        w.stat("traccar", "requests"),
        0,
        "nothing is sent when the results cannot be written"
    );
    format!("{err:#}")
}

#[tokio::test]
async fn an_unwritable_output_stops_the_run_before_anything_is_sent() {
    let w = World::start(Options::default()).await;
    let file = w.write("plain.txt", "a file, not a folder");
    let folder = w.path("a-folder.xlsx");
    std::fs::create_dir(&folder).unwrap();
    let cases: [(&str, PathBuf); 3] = [
        ("missing folder", w.path("no/such/folder/r.xlsx")),
        ("below a file", file.join("r.xlsx")),
        ("a folder", folder),
    ];
    for (what, out) in cases {
        let text = refused(&w, &out).await;
        assert!(
            text.starts_with(&format!("cannot write the results to {}", out.display())),
            "{what}: {text}"
        );
    }
}

#[tokio::test]
async fn a_full_disk_stops_the_run_before_anything_is_sent() {
    let fs = match TinyFs::mount("64k") {
        Ok(fs) => fs,
        Err(why) => {
            // Mounting needs a privilege no tool install can give, so even CI skips here.
            eprintln!("skipped: cannot mount a tmpfs here ({why})");
            return;
        }
    };
    // Fill it: what is left is less than a workbook needs.
    let filler = fs.path().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 60 * 1024]);
    let w = World::start(Options::default()).await;
    let out = fs.path().join("r.xlsx");
    let text = refused(&w, &out).await;
    assert!(
        text.starts_with(&format!(
            "cannot write the results to {}: no room for a workbook of 200 rows",
            out.display()
        )),
        "{text}"
    );
    assert!(!out.exists(), "no half-written workbook left behind");
    let left: Vec<_> = std::fs::read_dir(fs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["filler"], "the scratch file is removed");
}

/// `--out` never replaces what the run reads or keeps, nor writes into a FIFO or device;
/// a symbolic link at `--out` is replaced by the workbook, not written through (issue 25,
/// item 11).
#[tokio::test]
async fn the_output_never_replaces_an_input_the_journal_or_a_special_file() {
    let w = World::start(Options::default()).await;
    let roster = w.write("roster.csv", &traccar_roster(200));
    let journal = w.path("j.db");
    muster::journal::Journal::open(&journal).unwrap();
    let fifo = w.path("out.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (what, out, why) in [
        ("the roster", roster.clone(), "which this run reads"),
        ("the journal", journal.clone(), "which this run reads"),
        ("a FIFO", fifo.clone(), "not a regular file"),
        ("a device", PathBuf::from("/dev/null"), "not a regular file"),
    ] {
        let text = refused(&w, &out).await;
        assert!(
            text.starts_with(&format!("cannot write the results to {}", out.display())),
            "{what}: {text}"
        );
        assert!(text.contains(why), "{what}: {text}");
    }
    assert_eq!(
        std::fs::read_to_string(&roster).unwrap(),
        traccar_roster(200)
    );
    // A link at --out: the workbook takes the link's place; what it pointed at is kept.
    let kept = w.write("kept.txt", "not a workbook\n");
    let link = w.path("link.xlsx");
    std::os::unix::fs::symlink(&kept, &link).unwrap();
    let config = w.config("rate = \"none\"");
    let small = w.write("small.csv", &traccar_roster(2));
    w.import(&small, &config, &journal, &link, &[])
        .await
        .unwrap();
    assert!(
        !std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "not a workbook\n");
}

/// A FIFO given as the roster is refused at once instead of hanging for a writer.
#[tokio::test]
async fn a_fifo_roster_is_refused_without_waiting() {
    let w = World::start(Options::default()).await;
    let fifo = w.path("roster.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f = fifo.display().to_string();
    let err = w
        .muster(&[
            "validate",
            &f,
            "--quiet",
            "--out",
            &w.path("v.xlsx").display().to_string(),
        ])
        .await
        .expect_err("a FIFO is no roster");
    let text = format!("{err:#}");
    assert!(text.contains("not a regular file"), "{text}");
}
