//! Atomic file writes: every file nidl writes whole (`.npy` arrays, checkpoints, `hparams.yaml`,
//! plots, pictures) goes through [`write_atomic`] or [`write_atomic_with`], so a reader sees the
//! old file or the complete new one, never a partial one, even after a crash. (The logs a run
//! appends to, the TensorBoard event file and `metrics.csv`, are written in place; the files of
//! a synthetic OpenBHB tree go into a temporary folder that is renamed as a whole.)
//!
//! The content goes to a temporary file in the destination's directory (hidden, named after the
//! destination, the process and a per-process counter, `.<name>.tmp.<pid>.<n>`, so concurrent
//! writers do not collide), which is synced to disk and then renamed over the destination. On
//! failure the temporary file is removed and the error names the destination.
//!
//! A process killed while writing (`kill -9`, a power cut) leaves its temporary behind, and a
//! killed generation of a synthetic OpenBHB its folder (`.<name>.partial-<pid>-<stamp>`, see
//! [`partial_dir_name`]). [`remove_stale_temporaries`] removes those of processes that are no
//! longer running; the first write of a process into a directory calls it there, and so do a
//! synthetic generation (in the target's parent) and a resumed training run (in its
//! checkpoint's folder).

use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Numbers the temporary files of this process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// The directories this process has swept of stale temporaries.
static SWEPT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

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
    let dir = path.parent().unwrap_or(Path::new(""));
    let first_write_here = SWEPT
        .lock()
        .map(|mut swept| swept.insert(dir.to_path_buf()))
        .unwrap_or(false);
    if first_write_here {
        remove_stale_temporaries(dir);
    }
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

/// The name of a temporary folder for building `name` whole (then renamed to it), in the same
/// parent: `.<name>.partial-<pid>-<stamp>`, `<stamp>` the time in nanoseconds.
/// [`remove_stale_temporaries`] knows the pattern.
pub fn partial_dir_name(name: &str) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(".{name}.partial-{}-{stamp}", std::process::id())
}

/// Removes from `dir` the temporaries that processes no longer running left there: files named
/// as [`write_atomic`] names its temporaries (`.<name>.tmp.<pid>.<n>`) and folders named by
/// [`partial_dir_name`] (`.<name>.partial-<pid>-<stamp>`), whose `<pid>` is neither this
/// process's nor a running process's (`/proc/<pid>` does not exist). Nothing else is touched:
/// no other name, no folder named as a temporary file or file named as a temporary folder, no
/// symbolic link. Only on Linux with `/proc` mounted; elsewhere nothing is removed. (A process
/// of another PID namespace or machine sharing the folder looks dead from here.)
///
/// Best effort: returns the paths removed; an unreadable folder or a failed removal is skipped.
/// An empty `dir` is the current folder.
pub fn remove_stale_temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let (Ok(kind), Some(name)) = (
            entry.file_type(),
            entry.file_name().to_str().map(String::from),
        ) else {
            continue;
        };
        let pid = if kind.is_file() {
            temp_file_pid(&name)
        } else if kind.is_dir() {
            partial_dir_pid(&name)
        } else {
            None
        };
        if !pid.is_some_and(is_dead) {
            continue;
        }
        let path = entry.path();
        let gone = if kind.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Whether `s` is a non-empty run of ASCII digits.
fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The process id in a temporary file's name `.<name>.tmp.<pid>.<n>`.
fn temp_file_pid(file_name: &str) -> Option<u32> {
    let (rest, n) = file_name.strip_prefix('.')?.rsplit_once('.')?;
    let (rest, pid) = rest.rsplit_once('.')?;
    let stem = rest.strip_suffix(".tmp")?;
    (!stem.is_empty() && digits(n) && digits(pid))
        .then(|| pid.parse().ok())
        .flatten()
}

/// The process id in a temporary folder's name `.<name>.partial-<pid>-<stamp>`.
fn partial_dir_pid(file_name: &str) -> Option<u32> {
    let (rest, stamp) = file_name.strip_prefix('.')?.rsplit_once('-')?;
    let (stem, pid) = rest.rsplit_once(".partial-")?;
    (!stem.is_empty() && digits(stamp) && digits(pid))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Whether no process `pid` runs (never this process).
#[cfg(target_os = "linux")]
fn is_dead(pid: u32) -> bool {
    pid != std::process::id()
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

/// Whether no process `pid` runs: not checked outside Linux, so never.
#[cfg(not(target_os = "linux"))]
fn is_dead(_pid: u32) -> bool {
    false
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

    #[test]
    fn temporary_names_parse_to_their_process_id() {
        assert_eq!(temp_file_pid(".a.txt.tmp.123.4"), Some(123));
        assert_eq!(
            temp_file_pid(".epoch=1-step=6.safetensors.tmp.77.0"),
            Some(77)
        );
        for not_ours in [
            "a.txt.tmp.123.4",
            ".a.txt.tmp.123.x",
            ".a.txt.tmp.x.4",
            ".a.txt.tmp.123.4.bak",
            "..tmp.123.4",
            ".a.txt.tmp.123",
            ".a.txt.tmp.99999999999.0",
        ] {
            assert_eq!(temp_file_pid(not_ours), None, "{not_ours}");
        }
        assert_eq!(partial_dir_pid(".out.partial-42-1700000000"), Some(42));
        assert_eq!(partial_dir_pid(".my-data.partial-42-17"), Some(42));
        for not_ours in [
            "out.partial-42-17",
            ".out.partial-42-17x",
            ".out.partial-42",
            "..partial-42-17",
            ".out.partial--17",
        ] {
            assert_eq!(partial_dir_pid(not_ours), None, "{not_ours}");
        }
        let name = partial_dir_name("d");
        assert_eq!(partial_dir_pid(&name), Some(std::process::id()), "{name}");
    }
}
