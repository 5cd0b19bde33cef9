//! `--secrets-out FILE`: passwords muster generated, one `target,identity,password` line
//! each, in a file only its owner can read (mode 0600). The only place they are ever written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::secret::Secret;

/// The open secrets file.
#[derive(Debug)]
pub struct SecretsFile {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl SecretsFile {
    /// Opens `path` for appending, creating it with mode 0600 (and tightening an existing one).
    pub fn open(path: &Path) -> std::io::Result<SecretsFile> {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            opts.mode(0o600);
            let file = opts.open(path)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            return Ok(SecretsFile {
                path: path.to_path_buf(),
                file: Mutex::new(file),
            });
        }
        #[allow(unreachable_code)]
        Ok(SecretsFile {
            path: path.to_path_buf(),
            file: Mutex::new(opts.open(path)?),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and flushes it to disk before returning.
    pub fn append(&self, target: &str, key: &str, password: &Secret) -> std::io::Result<()> {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(
            f,
            "{},{},{}",
            csv_field(target),
            csv_field(key),
            csv_field(password.expose())
        )?;
        f.sync_data()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_private_and_lines_are_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.csv");
        let f = SecretsFile::open(&path).unwrap();
        f.append("t", "a@x", &Secret::new("p,w")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "t,a@x,\"p,w\"\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
