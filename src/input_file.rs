//! Opening the files a user names as input: regular files only.
//!
//! Every reader of a user-given path (`.npy` arrays, MNIST idx files, OpenBHB tables, checkpoints)
//! opens it through [`open_regular`] or [`read_regular`]. The path's metadata is checked *before*
//! the file is opened (following symbolic links), so a FIFO never blocks the reader and a device
//! such as `/dev/zero` is never read without end: anything but a regular file is an
//! [`Error::NotRegularFile`] saying what it is. A symbolic link that cannot be followed (dangling,
//! or part of a loop) is an [`Error::Io`] naming the link, its target and the OS error.

use crate::error::{Error, Result};
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading if it is a regular file (after following symbolic links).
pub fn open_regular(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| unfollowable(path, e))?;
    check_regular(path, &meta)?;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // The path may have been replaced between the check and the open: check what was opened.
    check_regular(path, &file.metadata().map_err(|e| Error::io(path, e))?)?;
    Ok(file)
}

/// The whole content of the regular file at `path` (see [`open_regular`]).
pub fn read_regular(path: &Path) -> Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let size = file.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// An error for `path` when it is not a regular file.
fn check_regular(path: &Path, meta: &Metadata) -> Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    Err(Error::NotRegularFile {
        path: path.to_path_buf(),
        kind: kind_of(meta),
    })
}

/// What a file that is not a regular file is, in words.
fn kind_of(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_fifo() {
            return "FIFO (named pipe)";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if meta.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// The error for a failed `metadata(path)`: when `path` is a symbolic link that cannot be
/// followed, it says so and names the target, keeping the OS error.
fn unfollowable(path: &Path, e: io::Error) -> Error {
    match std::fs::read_link(path) {
        Ok(target) => Error::io(
            path,
            io::Error::new(
                e.kind(),
                format!(
                    "symbolic link to {} cannot be followed: {e}",
                    target.display()
                ),
            ),
        ),
        Err(_) => Error::io(path, e),
    }
}
