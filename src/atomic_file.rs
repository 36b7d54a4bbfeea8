//! Atomic file writes: every file nidl writes whole (`.npy` arrays, checkpoints, `hparams.yaml`,
//! plots, pictures) goes through [`write_atomic`] or [`write_atomic_with`], so a reader sees the
//! old file or the complete new one, never a partial one, even after a crash. (The logs a run
//! appends to, the TensorBoard event file and `metrics.csv`, are written in place; the files of
//! a synthetic OpenBHB tree go into a temporary folder that is renamed as a whole.)
//!
//! The content goes to a temporary file in the destination's directory (hidden, named after the
//! destination, the process and a per-process counter, so concurrent writers do not collide),
//! which is synced to disk and then renamed over the destination. On failure the temporary file
//! is removed and the error names the destination.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers the temporary files of this process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically (see the [module docs](self)).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// Writes to `path` atomically what `write` streams into a buffered writer of the temporary file
/// (see the [module docs](self)); an error from `write` abandons the write.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let Some(name) = path.file_name() else {
        return Err(Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        ));
    };
    let mut temp_name = OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = path.with_file_name(temp_name);
    let written = write_synced(&temp, write).and_then(|()| fs::rename(&temp, path));
    written.map_err(|e| {
        // Best effort: the temporary may not exist (create failed) or may already be gone.
        let _ = fs::remove_file(&temp);
        Error::io(path, e)
    })
}

/// Creates `temp`, lets `write` fill it through a buffer, and syncs it to disk.
fn write_synced(
    temp: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::new(File::create(temp)?);
    write(&mut out)?;
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh empty directory under the system temp dir.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "nidl-atomic-{name}-{}-{}",
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<OsString> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    }

    #[test]
    fn replaces_the_file_and_leaves_nothing_behind() {
        let dir = scratch("ok");
        let path = dir.join("a.txt");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(names(&dir), [OsString::from("a.txt")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_names_the_path() {
        let dir = scratch("fail");
        let path = dir.join("a.bin");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |out| {
            out.write_all(b"partial")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::Io { path: p, .. } if *p == path),
            "{err}"
        );
        assert!(err.to_string().contains("encoder failed"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(&dir), [OsString::from("a.bin")]);
        // A missing directory and a path without a file name are I/O errors naming the path.
        let missing = dir.join("no/such/dir/x");
        let err = write_atomic(&missing, b"x").unwrap_err();
        assert!(
            matches!(&err, Error::Io { path: p, .. } if *p == missing),
            "{err}"
        );
        assert!(matches!(
            write_atomic(Path::new("/"), b"x"),
            Err(Error::Io { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
