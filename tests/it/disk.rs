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
