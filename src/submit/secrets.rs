//! `--secrets-out FILE`: passwords muster generated, one `target,identity,password` line
//! each, in a file only its owner can read (mode 0600). The only place they are ever written.
//!
//! The file is made new (`O_EXCL`, so never through a link and never into a file someone
//! else can read); `--secrets-append` adds to one only when it is a regular file of this
//! user's with mode 0600.

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

/// Why the secrets file cannot be used: exit 2, before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "--secrets-out {0}: the file exists; passwords go only to a new file (or pass --secrets-append to add to a regular file of yours with mode 0600)"
    )]
    Exists(PathBuf),
    #[error(
        "--secrets-append {path}: {why}; passwords are added only to a regular file of yours with mode 0600"
    )]
    Unsafe { path: PathBuf, why: String },
    #[error("--secrets-out {path}: cannot open it")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SecretsFile {
    /// Checks, before anything is sent, that [`SecretsFile::open`] will succeed as far as
    /// the path goes: a new file must not exist yet; a file to append to must be safe.
    pub fn check(path: &Path, append: bool) -> Result<(), SecretsError> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SecretsError::Open {
                path: path.to_path_buf(),
                source,
            }),
            Ok(_) if !append => Err(SecretsError::Exists(path.to_path_buf())),
            Ok(meta) => safe_to_append(path, &meta),
        }
    }

    /// Creates `path` as a new file with mode 0600, never through a link (`O_EXCL`:
    /// an existing path, a symbolic link included, is refused). With `append`, adds to an
    /// existing file instead, only when it is a regular file owned by this user with mode
    /// 0600, opened without following a link.
    pub fn open(path: &Path, append: bool) -> Result<SecretsFile, SecretsError> {
        let opened = || -> Result<std::fs::File, SecretsError> {
            let fail = |source| SecretsError::Open {
                path: path.to_path_buf(),
                source,
            };
            let mut opts = std::fs::OpenOptions::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
            }
            if !append || !path.exists() {
                return match opts.write(true).create_new(true).open(path) {
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Err(SecretsError::Exists(path.to_path_buf()))
                    }
                    other => other.map_err(fail),
                };
            }
            let file = opts.append(true).open(path).map_err(|e| {
                // O_NOFOLLOW on a link: ELOOP.
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                    SecretsError::Unsafe {
                        path: path.to_path_buf(),
                        why: "it is a symbolic link".into(),
                    }
                } else {
                    fail(e)
                }
            })?;
            // The file opened, not the path: nothing can swap it in between.
            let meta = file.metadata().map_err(fail)?;
            safe_to_append(path, &meta)?;
            Ok(file)
        };
        Ok(SecretsFile {
            path: path.to_path_buf(),
            file: Mutex::new(opened()?),
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

/// A file passwords may be added to: a regular file (not a link, a device or a FIFO) owned
/// by this user, with mode 0600.
fn safe_to_append(path: &Path, meta: &std::fs::Metadata) -> Result<(), SecretsError> {
    let unsafe_ = |why: String| SecretsError::Unsafe {
        path: path.to_path_buf(),
        why,
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_("it is a symbolic link".into()));
    }
    if !meta.is_file() {
        return Err(unsafe_("it is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(unsafe_(format!(
                "it belongs to user {}, not to you",
                meta.uid()
            )));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode != 0o600 {
            return Err(unsafe_(format!("its mode is {mode:o}, not 600")));
        }
    }
    Ok(())
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
        let f = SecretsFile::open(&path, false).unwrap();
        f.append("t", "a@x", &Secret::new("p,w")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "t,a@x,\"p,w\"\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn an_existing_path_or_a_link_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "theirs\n").unwrap();
        // A new file only: an existing file is refused, and so is a link to one.
        assert!(matches!(
            SecretsFile::open(&victim, false),
            Err(SecretsError::Exists(_))
        ));
        assert!(matches!(
            SecretsFile::check(&victim, false),
            Err(SecretsError::Exists(_))
        ));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&victim, &link).unwrap();
            assert!(SecretsFile::open(&link, false).is_err());
            assert!(SecretsFile::check(&link, true).is_err());
            let err = SecretsFile::open(&link, true).unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
            // A dangling link is not created through either.
            let dangling = dir.path().join("dangling.csv");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
            assert!(SecretsFile::open(&dangling, false).is_err());
            assert!(!dir.path().join("nowhere").exists());
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "theirs\n");
    }

    #[cfg(unix)]
    #[test]
    fn append_takes_only_a_private_regular_file_of_ones_own() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.csv");
        SecretsFile::open(&path, false)
            .unwrap()
            .append("t", "a", &Secret::new("1"))
            .unwrap();
        SecretsFile::open(&path, true)
            .unwrap()
            .append("t", "b", &Secret::new("2"))
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "t,a,1\nt,b,2\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretsFile::open(&path, true).unwrap_err().to_string();
        assert!(err.contains("mode is 644"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Another user's file: only root can make one here.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            let err = SecretsFile::open(&path, true).unwrap_err().to_string();
            assert!(err.contains("belongs to user 65534"), "{err}");
        }
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = SecretsFile::check(&fifo, true).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }
}
