//! Faults and bad input at the readers' door: paths that are not regular files (a character
//! device, a FIFO, a directory) for every reader, symbolic links that cannot be followed, gzip
//! bombs and trailing data in MNIST files, and control bytes from a file quoted in messages.

mod common;

use common::Scratch;
use flate2::write::GzEncoder;
use flate2::Compression;
use nidl::datasets::csv::{read_text, Table};
use nidl::datasets::mnist::{read_idx, Mnist, MnistSplit};
use nidl::datasets::npy::{read_npy, read_npy_bytes};
use nidl::datasets::openbhb::{Modality, OpenBhb, Target};
use nidl::train::Checkpoint;
use nidl::Error;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
        within(5, "Mnist::load", move || {
            Mnist::load(&dir, MnistSplit::Train)
        }),
        &img,
    );
    assert!(msg.contains("FIFO"), "{msg}");
    std::fs::remove_file(&img).unwrap();
    symlink(&s.zero, &img).unwrap();
    let dir = mnist.path().to_path_buf();
    let msg = names(
        within(5, "Mnist::load", move || {
            Mnist::load(&dir, MnistSplit::Train)
        }),
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
            nidl::datasets::openbhb::OpenBhbSplit::Train,
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
    let msg = names(Mnist::load(&dir, MnistSplit::Train), &img);
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
    let msg = names(Mnist::load(&dir, MnistSplit::Train), &a);
    eprintln!("{msg}");
    assert!(
        msg.contains("symbolic link to") && msg.contains("Too many levels of symbolic links"),
        "{msg}"
    );
}

/// Writes, as a stream (never holding it in memory), a gzip file whose idx header declares 10
/// images of 28 × 28 followed by 64 MiB of zeros — about 65 KB on disk. The CRC in its trailer is
/// wrong, so a reader that inflated the whole stream would report a corrupt stream instead of
/// stopping after the declared size.
fn write_bomb(path: &Path, header: &[u8]) {
    let mut gz = GzEncoder::new(
        BufWriter::new(File::create(path).unwrap()),
        Compression::best(),
    );
    gz.write_all(header).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    gz.finish().unwrap().flush().unwrap();
    let len = std::fs::metadata(path).unwrap().len();
    assert!(len < 200_000, "the bomb is {len} bytes on disk");
    // Flip the CRC's first byte (the trailer is CRC32 then ISIZE, 4 bytes each).
    let mut bytes = std::fs::read(path).unwrap();
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn gzip_bomb_stops_after_the_declared_size() {
    let dir = Scratch::new("bomb");
    let img = dir.join("train-images-idx3-ubyte.gz");
    write_bomb(&img, &idx_header(&[10, 28, 28]));
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels(10)).unwrap();
    let start = Instant::now();
    let msg = names(Mnist::load(&dir, MnistSplit::Train), &img);
    let elapsed = start.elapsed();
    eprintln!("{msg} ({elapsed:?})");
    assert!(
        msg.contains("holds more data than its header declares")
            && msg.contains("(7856 bytes: 16 of header, 10 × 28 × 28 = 7840 of data)"),
        "{msg}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    // The generic reader stops there too; so does the label file.
    let msg = names(read_idx(&img), &img);
    assert!(msg.contains("holds more data"), "{msg}");
    let lbl = dir.join("bomb-labels.gz");
    write_bomb(&lbl, &idx_header(&[10]));
    let raw_img = dir.join("images");
    let mut images = idx_header(&[10, 28, 28]);
    images.resize(images.len() + 7840, 7);
    std::fs::write(&raw_img, images).unwrap();
    let msg = names(Mnist::from_files(&raw_img, &lbl), &lbl);
    assert!(
        msg.contains("(18 bytes: 8 of header, 10 = 10 of data)"),
        "{msg}"
    );
}

#[test]
fn gzip_members_read_in_turn_and_trailing_data_is_named() {
    let dir = Scratch::new("trailing");
    let mut images = idx_header(&[3, 2, 2]);
    images.extend(0..12u8);
    let lbl = dir.join("lbl");
    std::fs::write(&lbl, labels(3)).unwrap();
    // Two members (header, then data) read as one stream, as gunzip does.
    let mut two = gzip(&images[..10]);
    two.extend(gzip(&images[10..]));
    let img = dir.join("two.gz");
    std::fs::write(&img, &two).unwrap();
    assert_eq!(
        Mnist::from_files(&img, &lbl).unwrap().pixels(),
        &images[16..]
    );
    // Garbage after a valid stream.
    for (tail, n) in [
        (&b"garbage!!"[..], 9),
        (&[0u8; 512][..], 512),
        (&[0x1f][..], 1),
    ] {
        let mut bytes = gzip(&images);
        bytes.extend_from_slice(tail);
        let img = dir.join("tail.gz");
        std::fs::write(&img, &bytes).unwrap();
        let msg = names(Mnist::from_files(&img, &lbl), &img);
        assert!(
            msg.contains(&format!("{n} bytes of trailing data after the gzip stream")),
            "{msg}"
        );
        assert!(!msg.contains("truncated"), "{msg}");
    }
}

#[test]
fn control_bytes_from_a_file_are_escaped_in_messages() {
    // An ESC (a terminal colour sequence) and a NUL in a .npy dtype string.
    let header = "{'descr': '<f\x1b[31m\x00', 'fortran_order': False, 'shape': (1,), }";
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend_from_slice(&[0; 8]);
    let msg = read_npy_bytes(&npy, Path::new("esc.npy"))
        .unwrap_err()
        .to_string();
    eprintln!("{msg}");
    assert!(msg.contains(r"unsupported dtype '<f\u{1b}[31m\0'"), "{msg}");
    assert!(!msg.contains(['\x1b', '\0']), "{msg:?}");
    // The same in a key and in a string value.
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x\x1b\x00': 1}";
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    let msg = read_npy_bytes(&npy, Path::new("key.npy"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains(r"unexpected key 'x\u{1b}\0'"), "{msg}");

    // A CSV cell and a column name holding an ESC and a NUL.
    let text = "id,a\x1bge\n1,4\x1b2\x00\n";
    let t = Table::parse(text, b',', "cells.csv").unwrap();
    let rec = &t.records()[0];
    let fields = t.fields(rec).unwrap();
    let msg = t.number(rec, 1, &fields[1]).unwrap_err().to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains(r"column 'a\u{1b}ge' (#2)") && msg.contains(r"'4\u{1b}2\0' is not a number"),
        "{msg}"
    );
    assert!(!msg.contains(['\x1b', '\0']), "{msg:?}");

    // A safetensors tensor name and dtype holding an ESC and a NUL (JSON escapes).
    let json = r#"{"w\u001b\u0000":{"dtype":"F\u001b","shape":[],"data_offsets":[0,0]}}"#;
    let mut st = (json.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(json.as_bytes());
    let msg = Checkpoint::from_bytes(&st, Path::new("esc.safetensors"))
        .unwrap_err()
        .to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains(r"tensor 'w\u{1b}\0': unsupported dtype 'F\u{1b}'"),
        "{msg}"
    );
    assert!(!msg.contains(['\x1b', '\0']), "{msg:?}");
}
