//! Input files' SHA-256 (DESIGN's Summary names each input with it). A CSV file is hashed
//! as it is read ([`Hashing`]), so its bytes are read from the disk once and hashed
//! while still in the processor's cache; other files are hashed on their own
//! ([`sha256_file`]).
//!
//! ring's assembly (the one rustls already uses) hashes about twice as fast as a portable
//! implementation on CPUs without SHA instructions; on a 1M-row file the hash costs about
//! as much as the csv crate's whole read of it.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Where a file's SHA-256 (hex) appears once a [`Hashing`] reader has read all of it.
pub type Digest = Arc<OnceLock<String>>;

/// A reader that hashes every byte read through it and, at the end of its input,
/// publishes the SHA-256 to its [`Digest`]. Nothing is published when reading stops
/// before the end.
pub struct Hashing<R> {
    inner: R,
    context: Option<ring::digest::Context>,
    digest: Digest,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            context: Some(ring::digest::Context::new(&ring::digest::SHA256)),
            digest: Digest::default(),
        }
    }

    /// Where the hash will appear.
    pub fn digest(&self) -> Digest {
        self.digest.clone()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match n {
            0 => {
                if let Some(context) = self.context.take() {
                    let _ = self.digest.set(hex::encode(context.finish()));
                }
            }
            _ => {
                if let Some(context) = &mut self.context {
                    context.update(&buf[..n]);
                }
            }
        }
        Ok(n)
    }
}

/// The SHA-256 (hex) of the file at `path`, read on its own.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = Hashing::new(std::fs::File::open(path)?);
    std::io::copy(&mut file, &mut std::io::sink())?;
    file.digest
        .get()
        .cloned()
        .ok_or_else(|| std::io::Error::other("the file was not read to its end"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_appears_only_at_the_end_whatever_the_reads() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let whole = hex::encode(ring::digest::digest(&ring::digest::SHA256, &data));
        for piece in [1, 7, 4096, 100_000, 200_000] {
            let mut reader = Hashing::new(data.as_slice());
            let digest = reader.digest();
            let mut buf = vec![0; piece];
            let mut read = 0;
            while read < data.len() {
                read += reader.read(&mut buf).expect("a slice reads");
                assert!(read == data.len() || digest.get().is_none(), "{piece}");
            }
            assert_eq!(digest.get(), None, "{piece}: not before the end is seen");
            assert_eq!(reader.read(&mut buf).expect("a slice reads"), 0);
            assert_eq!(digest.get(), Some(&whole), "{piece}");
        }
        // The hash of the empty file is known.
        let mut empty = Hashing::new(&b""[..]);
        assert_eq!(empty.read(&mut [0; 8]).expect("reads"), 0);
        assert_eq!(
            empty.digest().get().map(String::as_str),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }
}
