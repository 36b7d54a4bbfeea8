//! Faults and bad input at the readers' door: paths that are not regular files (a character
//! device, a FIFO, a directory) for every reader, and symbolic links that cannot be followed.

mod common;

use common::Scratch;
use flate2::write::GzEncoder;
use flate2::Compression;
use nidl::datasets::mnist::{read_idx, Mnist, Split};
use nidl::datasets::npy::read_npy;
use nidl::datasets::openbhb::csv::read_text;
use nidl::datasets::openbhb::{Modality, OpenBhb, Target};
use nidl::train::Checkpoint;
use nidl::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// idx bytes: magic `0x000008DD`, then the dims (no data).
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Valid labels for `n` images, raw idx.
fn labels(n: u32) -> Vec<u8> {
    let mut l = idx_header(&[n]);
    l.extend((0..n).map(|i| (i % 10) as u8));
    l
}

/// Runs `f` on another thread and returns its result, failing the test if it takes longer than
/// `secs` (a reader blocked on a FIFO or reading a device without end would never return).
fn within<R: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("{what} did not return within {secs} s"))
}

/// The message of an error that must name `path`.
fn names(r: nidl::Result<impl std::fmt::Debug>, path: &Path) -> String {
    let msg = r.expect_err("expected an error").to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "{msg:?} does not name {}",
        path.display()
    );
    msg
}

/// A FIFO made with `mkfifo`, a directory, and `/dev/zero`: the three non-regular inputs.
struct Specials {
    _dir: Scratch,
    fifo: PathBuf,
    folder: PathBuf,
    zero: PathBuf,
}

impl Specials {
    fn new(name: &str) -> Specials {
        let dir = Scratch::new(name);
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo failed");
        let folder = dir.join("folder");
        std::fs::create_dir(&folder).unwrap();
        Specials {
            _dir: dir,
            fifo,
            folder,
            zero: PathBuf::from("/dev/zero"),
        }
    }

    /// Each path with the kind the error must name.
    fn cases(&self) -> [(PathBuf, &'static str); 3] {
        [
            (
                self.fifo.clone(),
                "is a FIFO (named pipe), not a regular file",
            ),
            (self.folder.clone(), "is a directory, not a regular file"),
            (
                self.zero.clone(),
                "is a character device, not a regular file",
            ),
        ]
    }
}

/// Asserts `read(path)` fails quickly with [`Error::NotRegularFile`] naming `path` and `kind`.
fn refuses<T: std::fmt::Debug + Send + 'static>(
    reader: &str,
    path: &Path,
    kind: &str,
    read: fn(&Path) -> nidl::Result<T>,
) {
    let owned = path.to_path_buf();
    let r = within(5, reader, move || read(&owned));
    assert!(
        matches!(r, Err(Error::NotRegularFile { .. })),
        "{reader} on {}: {r:?}",
        path.display()
    );
    let msg = names(r, path);
    assert!(msg.contains(kind), "{reader}: {msg}");
}

#[test]
fn every_reader_refuses_what_is_not_a_regular_file() {
    let s = Specials::new("specials");
    for (path, kind) in s.cases() {
        refuses("read_npy", &path, kind, |p| read_npy(p));
        refuses("read_idx", &path, kind, |p| read_idx(p));
        refuses("read_text", &path, kind, read_text);
        refuses("Checkpoint::load", &path, kind, Checkpoint::load);
        refuses("Mnist::from_files (images)", &path, kind, |p| {
            Mnist::from_files(p, "/nonexistent")
        });
    }
}

#[cfg(unix)]
#[test]
fn mnist_and_openbhb_folders_holding_special_files_fail_quickly() {
    use std::os::unix::fs::symlink;
    let s = Specials::new("special-trees");
    // An MNIST folder whose image file is a FIFO, then a link to /dev/zero.
    let mnist = Scratch::new("special-mnist");
    std::fs::write(mnist.join("train-labels-idx1-ubyte"), labels(1)).unwrap();
    let img = mnist.join("train-images-idx3-ubyte");
    symlink(&s.fifo, &img).unwrap();
    let dir = mnist.path().to_path_buf();
    let msg = names(
        within(5, "Mnist::load", move || Mnist::load(&dir, Split::Train)),
        &img,
    );
    assert!(msg.contains("FIFO"), "{msg}");
    std::fs::remove_file(&img).unwrap();
    symlink(&s.zero, &img).unwrap();
    let dir = mnist.path().to_path_buf();
    let msg = names(
        within(5, "Mnist::load", move || Mnist::load(&dir, Split::Train)),
        &img,
    );
    assert!(msg.contains("character device"), "{msg}");
    // An OpenBHB root whose participants.tsv is a FIFO.
    let root = Scratch::new("special-openbhb");
    let participants = root.join("participants.tsv");
    symlink(&s.fifo, &participants).unwrap();
    let dir = root.path().to_path_buf();
    let r = within(5, "OpenBhb::new", move || {
        OpenBhb::new(
            &dir,
            Modality::VbmRoi,
            &[Target::Age],
            nidl::datasets::openbhb::Split::Train,
        )
    });
    let msg = names(r, &participants);
    assert!(msg.contains("FIFO"), "{msg}");
}

#[cfg(unix)]
#[test]
fn dangling_and_looping_links_in_an_mnist_folder_report_the_link_and_the_os_error() {
    use std::os::unix::fs::symlink;
    let dir = Scratch::new("links");
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), labels(1)).unwrap();
    let img = dir.join("train-images-idx3-ubyte.gz");
    symlink(dir.join("gone.gz"), &img).unwrap();
    let msg = names(Mnist::load(&dir, Split::Train), &img);
    eprintln!("{msg}");
    assert!(
        msg.contains("symbolic link to")
            && msg.contains("gone.gz")
            && msg.contains("No such file or directory")
            && !msg.contains("no MNIST"),
        "{msg}"
    );
    // A loop: the labels link to each other.
    std::fs::remove_file(&img).unwrap();
    let mut images = idx_header(&[1, 1, 1]);
    images.push(0);
    std::fs::write(&img, gzip(&images)).unwrap();
    std::fs::remove_file(dir.join("train-labels-idx1-ubyte.gz")).unwrap();
    let (a, b) = (
        dir.join("train-labels-idx1-ubyte"),
        dir.join("train-labels.idx1-ubyte"),
    );
    symlink(&b, &a).unwrap();
    symlink(&a, &b).unwrap();
    let msg = names(Mnist::load(&dir, Split::Train), &a);
    eprintln!("{msg}");
    assert!(
        msg.contains("symbolic link to") && msg.contains("Too many levels of symbolic links"),
        "{msg}"
    );
}
