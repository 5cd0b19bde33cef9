//! Before anything is sent: the result workbook can be written where `--out` says, has
//! room, and would replace nothing the run reads or keeps.

use std::io::Write as _;
use std::path::Path;

use super::Error;

/// Fails early when the workbook could not be written where `out` says, or would replace a
/// file the run reads or keeps (`keep`: the rosters, the journal). The workbook is staged
/// beside `out` and renamed over it: so its folder must take a new file, and `out` must be
/// a regular file or nothing yet. A symbolic link at `out` is replaced by the workbook,
/// never written through.
pub fn check_writable(out: &Path, keep: &[&Path]) -> Result<(), Error> {
    let fail = |why: String| Error::Output {
        path: out.to_path_buf(),
        why,
    };
    if let Ok(meta) = std::fs::symlink_metadata(out) {
        if !meta.is_file() && !meta.file_type().is_symlink() {
            return Err(fail("it is not a regular file".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            for k in keep {
                if std::fs::metadata(k)
                    .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
                {
                    return Err(fail(format!(
                        "it is {}, which this run reads; the workbook would replace it",
                        k.display()
                    )));
                }
            }
        }
    }
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".muster-check-")
        .tempfile_in(dir)
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// Bytes the results workbook of `rows` rows may take, about: a generous 256 per row.
fn workbook_estimate(rows: usize) -> u64 {
    (64 * 1024 + 256 * rows as u64).min(64 * 1024 * 1024)
}

/// Fails early when the workbook's folder has no room for it: writes a scratch file of
/// [`workbook_estimate`] bytes beside it (where the workbook is staged) and removes it, so
/// a full disk stops the run before anything is sent, not after.
pub fn check_space(out: &Path, rows: usize) -> Result<(), Error> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| Error::Output {
        path: out.to_path_buf(),
        why: format!(
            "no room for a workbook of {rows} rows in {}: {e}",
            dir.display()
        ),
    };
    let mut probe = tempfile::Builder::new()
        .prefix(".muster-space-")
        .tempfile_in(dir)
        .map_err(fail)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut left = workbook_estimate(rows);
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        probe.write_all(&chunk[..n]).map_err(fail)?;
        left -= n as u64;
    }
    probe.flush().map_err(fail)?;
    Ok(())
}
