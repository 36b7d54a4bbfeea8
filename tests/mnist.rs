//! The MNIST idx reader: round trips (raw and gzip), every bad-input class, arbitrary bytes, and
//! the shipped data.

mod common;

use common::{Lcg, Scratch};
use flate2::write::GzEncoder;
use flate2::Compression;
use nidl::datasets::loader::Dataset;
use nidl::datasets::mnist::{decode, parse_idx, read_idx, Mnist, MnistSplit};
use nidl::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

/// idx bytes: magic `0x000008DD`, the dims, the data.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `n` images of `r × c` with pixel `(k + i) mod 256` and labels `k mod 10`.
fn tiny(n: u32, r: u32, c: u32) -> (Vec<u8>, Vec<u8>) {
    let px = (r * c) as usize;
    let data: Vec<u8> = (0..n as usize * px).map(|i| (i * 7 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|k| (k % 10) as u8).collect();
    (idx(&[n, r, c], &data), idx(&[n], &labels))
}

fn write(dir: impl AsRef<Path>, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.as_ref().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The error's text, asserting it is a format error naming `file`.
fn format_error(r: nidl::Result<Mnist>, file: &Path) -> String {
    match r {
        Err(e @ Error::Format { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&file.display().to_string()),
                "{msg} does not name {}",
                file.display()
            );
            msg
        }
        Err(e) => panic!("expected a format error, got {e}"),
        Ok(_) => panic!("expected a format error, got a data set"),
    }
}

#[test]
fn round_trip_raw_and_gzip_with_both_spellings() {
    let (images, labels) = tiny(13, 5, 4);
    for (gz, img_name, lbl_name) in [
        (false, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        (
            true,
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
        ),
        (false, "train-images.idx3-ubyte", "train-labels.idx1-ubyte"),
        // Gzip decided by content, not by name: compressed bytes without `.gz`.
        (true, "train-images.idx3-ubyte", "train-labels.idx1-ubyte"),
    ] {
        let dir = Scratch::new(&format!("rt-{gz}-{img_name}"));
        let enc = |b: &[u8]| if gz { gzip(b) } else { b.to_vec() };
        write(&dir, img_name, &enc(&images));
        write(&dir, lbl_name, &enc(&labels));
        let m = Mnist::load(&dir, MnistSplit::Train).unwrap();
        assert_eq!((m.len(), m.rows(), m.cols()), (13, 5, 4));
        assert_eq!(m.pixels(), &images[16..]);
        assert_eq!(m.labels(), &labels[8..]);
        let (img, label) = m.get(12).unwrap();
        assert_eq!(img.shape(), [1, 5, 4]);
        assert_eq!(img.data(), m.image(12).unwrap());
        assert_eq!(label, 2);
        assert!(m.get(13).is_err());
        assert!(m.image(13).is_none());
        // The generic reader sees the same arrays.
        let a = read_idx(dir.join(img_name)).unwrap();
        assert_eq!(a.dims, vec![13, 5, 4]);
        assert_eq!(a.data, images[16..]);
    }
    // Uncompressed raw idx in a `.gz`-named file also reads.
    let dir = Scratch::new("raw-named-gz");
    let (images, labels) = tiny(3, 2, 2);
    write(&dir, "t10k-images-idx3-ubyte.gz", &images);
    write(&dir, "t10k-labels-idx1-ubyte.gz", &labels);
    assert_eq!(Mnist::load(&dir, MnistSplit::Test).unwrap().len(), 3);
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = Scratch::new("missing");
    let err = Mnist::load(&dir, MnistSplit::Train).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte.gz") && msg.contains("train-images.idx3-ubyte"),
        "{msg}"
    );
    let (images, _) = tiny(2, 2, 2);
    let img = write(&dir, "train-images-idx3-ubyte", &images);
    let err = Mnist::from_files(&img, dir.join("nope")).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("nope"),
        "{err}"
    );
}

#[test]
fn empty_file() {
    let dir = Scratch::new("empty");
    let (_, labels) = tiny(2, 2, 2);
    let img = write(&dir, "img", &[]);
    let lbl = write(&dir, "lbl", &labels);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    assert!(msg.contains("empty file"), "{msg}");
    let msg = format_error(Mnist::from_files(&lbl, &img), &lbl);
    assert!(
        msg.contains("wrong magic") && msg.contains("0x00000801"),
        "{msg}"
    );
}

#[test]
fn wrong_magic() {
    let dir = Scratch::new("magic");
    let (images, labels) = tiny(2, 2, 2);
    let img = write(&dir, "img", &images);
    let lbl = write(&dir, "lbl", &labels);
    // Labels where images are expected: says what it found.
    let msg = format_error(Mnist::from_files(&lbl, &img), &lbl);
    eprintln!("{msg}");
    assert!(
        msg.contains("expected idx images, magic 0x00000803") && msg.contains("found 0x00000801"),
        "{msg}"
    );
    let mut bad = labels.clone();
    bad[2] = 0x0d; // float elements
    let bad_lbl = write(&dir, "bad_lbl", &bad);
    let msg = format_error(Mnist::from_files(&img, &bad_lbl), &bad_lbl);
    assert!(msg.contains("found 0x00000d01"), "{msg}");
    let not_idx = write(&dir, "png", b"\x89PNG\r\n\x1a\n0000000000");
    let msg = format_error(Mnist::from_files(&not_idx, &lbl), &not_idx);
    assert!(msg.contains("wrong magic"), "{msg}");
}

#[test]
fn truncated_header_and_data() {
    let dir = Scratch::new("truncated");
    let (images, labels) = tiny(4, 3, 3);
    let lbl = write(&dir, "lbl", &labels);
    for cut in [2, 7, 15] {
        let img = write(&dir, &format!("img{cut}"), &images[..cut]);
        let msg = format_error(Mnist::from_files(&img, &lbl), &img);
        assert!(msg.contains("truncated header"), "{cut}: {msg}");
    }
    let img = write(&dir, "img_data", &images[..images.len() - 1]);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    eprintln!("{msg}");
    assert!(
        msg.contains("truncated data")
            && msg.contains("4 × 3 × 3 = 36")
            && msg.contains("found 35"),
        "{msg}"
    );
    let mut long = images.clone();
    long.push(0);
    let img = write(&dir, "img_long", &long);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    assert!(
        msg.contains("trailing bytes") && msg.contains("found 37"),
        "{msg}"
    );
    // A header claiming more than memory can hold.
    let huge = idx(&[u32::MAX, u32::MAX, u32::MAX], &[]);
    let img = write(&dir, "img_huge", &huge);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    assert!(msg.contains("truncated data"), "{msg}");
}

#[test]
fn count_mismatch_names_both_files() {
    let dir = Scratch::new("count");
    let (images, _) = tiny(5, 2, 2);
    let (_, labels) = tiny(4, 2, 2);
    let img = write(&dir, "img", &images);
    let lbl = write(&dir, "lbl", &labels);
    let msg = format_error(Mnist::from_files(&img, &lbl), &lbl);
    eprintln!("{msg}");
    assert!(
        msg.contains("expected 5 labels")
            && msg.contains("found 4")
            && msg.contains(&img.display().to_string()),
        "{msg}"
    );
    // Zero images is not a data set.
    let img0 = write(&dir, "img0", &idx(&[0, 28, 28], &[]));
    let lbl0 = write(&dir, "lbl0", &idx(&[0], &[]));
    let msg = format_error(Mnist::from_files(&img0, &lbl0), &img0);
    assert!(msg.contains("at least one image"), "{msg}");
}

#[test]
fn labels_out_of_range() {
    let dir = Scratch::new("labels");
    let (images, _) = tiny(3, 2, 2);
    let img = write(&dir, "img", &images);
    let lbl = write(&dir, "lbl", &idx(&[3], &[1, 9, 10]));
    let msg = format_error(Mnist::from_files(&img, &lbl), &lbl);
    assert!(
        msg.contains("label 2 is 10") && msg.contains("0..=9"),
        "{msg}"
    );
}

#[test]
fn corrupt_and_truncated_gzip() {
    let dir = Scratch::new("gzip");
    let (images, labels) = tiny(50, 8, 8);
    let lbl = write(&dir, "lbl", &labels);
    let gz = gzip(&images);
    // Flipped bytes in the deflate stream.
    let mut corrupt = gz.clone();
    for b in &mut corrupt[12..30] {
        *b ^= 0x5a;
    }
    let img = write(&dir, "corrupt.gz", &corrupt);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    eprintln!("{msg}");
    assert!(msg.contains("gzip"), "{msg}");
    // A bad CRC in the trailer.
    let mut crc = gz.clone();
    let n = crc.len();
    crc[n - 8] ^= 1;
    let img = write(&dir, "crc.gz", &crc);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    assert!(msg.contains("corrupt gzip"), "{msg}");
    // Cut short.
    let img = write(&dir, "short.gz", &gz[..gz.len() / 2]);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    eprintln!("{msg}");
    assert!(msg.contains("gzip"), "{msg}");
    // Just the magic.
    let img = write(&dir, "magic.gz", &[0x1f, 0x8b]);
    let msg = format_error(Mnist::from_files(&img, &lbl), &img);
    assert!(msg.contains("gzip"), "{msg}");
}

/// One random edit of an idx file or gzip stream: a bit flip, a byte replaced, bytes inserted,
/// removed or appended, a truncation, or (on an idx header) a dimension size changed.
fn mutate(rng: &mut Lcg, b: &mut Vec<u8>, idx_header: bool) {
    let at = rng.below(b.len());
    match rng.below(7) {
        0 if !b.is_empty() => b[at] ^= 1 << rng.below(8),
        1 if !b.is_empty() => b[at] = rng.next() as u8,
        2 => {
            let n = 1 + rng.below(6);
            let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            b.splice(at..at, fill);
        }
        3 => {
            let end = (at + 1 + rng.below(6)).min(b.len());
            b.drain(at.min(end)..end);
        }
        4 => b.truncate(at),
        5 => b.extend((0..1 + rng.below(20)).map(|_| rng.next() as u8)),
        _ if idx_header && b.len() >= 8 => {
            // A dimension size: one more or less, or anything.
            let ndim = usize::from(b[3]).min((b.len() - 4) / 4).max(1);
            let field = 4 + 4 * rng.below(ndim);
            let old = u32::from_be_bytes([b[field], b[field + 1], b[field + 2], b[field + 3]]);
            let new = match rng.below(3) {
                0 => old.wrapping_add(1),
                1 => old.wrapping_sub(1),
                _ => rng.next() as u32,
            };
            b[field..field + 4].copy_from_slice(&new.to_be_bytes());
        }
        _ => {}
    }
}

/// Checks what the readers make of `bytes`: either a format error, or arrays consistent with
/// the bytes and with each other.
fn check_idx_bytes(bytes: &[u8], images: &[u8], labels: &[u8]) -> bool {
    let path = Path::new("fuzz");
    let decoded = match decode(bytes.to_vec(), path) {
        Ok(d) => d,
        Err(Error::Format { .. }) => return false,
        Err(e) => panic!("unexpected error kind: {e:?}"),
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(decoded, bytes, "raw bytes come back unchanged");
    }
    let mut accepted = false;
    match parse_idx(&decoded, path) {
        Ok(a) => {
            assert_eq!(a.dims.len(), usize::from(decoded[3]));
            assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
            assert_eq!(a.data, decoded[4 + 4 * a.dims.len()..]);
            accepted = true;
        }
        Err(Error::Format { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
    for (img, lbl) in [(&decoded[..], labels), (images, &decoded[..])] {
        match Mnist::from_idx(img.to_vec(), path, lbl.to_vec(), path) {
            Ok(m) => {
                let px = m.rows() * m.cols();
                assert!(!m.is_empty() && px > 0);
                assert_eq!(m.labels().len(), m.len());
                assert_eq!(m.pixels().len(), m.len() * px);
                assert_eq!(m.pixels(), &img[img.len() - m.len() * px..]);
                assert_eq!(m.labels(), &lbl[lbl.len() - m.len()..]);
                assert!(m.labels().iter().all(|&l| l < 10));
                let (image, label) = m.get(m.len() - 1).unwrap();
                assert_eq!(
                    (image.data(), Some(label)),
                    (m.image(m.len() - 1).unwrap(), m.label(m.len() - 1))
                );
                assert!(m.get(m.len()).is_err() && m.image(m.len()).is_none());
                accepted = true;
            }
            Err(Error::Format { .. }) => {}
            Err(e) => panic!("unexpected error kind: {e:?}"),
        }
    }
    accepted
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Lcg(12345);
    let (images, labels) = tiny(6, 3, 3);
    let gz = gzip(&images);
    let mut accepted = 0;
    for round in 0..8_000 {
        let bytes: Vec<u8> = match round % 5 {
            // Pure noise, short.
            0 => (0..rng.next() % 40).map(|_| rng.next() as u8).collect(),
            // A valid image or label file with one to three edits.
            1 | 2 => {
                let mut b = if round % 5 == 1 {
                    images.clone()
                } else {
                    labels.clone()
                };
                for _ in 0..1 + rng.below(3) {
                    mutate(&mut rng, &mut b, true);
                }
                b
            }
            // A gzip stream (one member, or two) with an edit.
            3 => {
                let mut b = if rng.below(4) == 0 {
                    let mut two = gzip(&images[..rng.below(images.len())]);
                    two.extend(gzip(&[]));
                    two
                } else {
                    gz.clone()
                };
                mutate(&mut rng, &mut b, false);
                b
            }
            // A gzip stream of an edited file.
            _ => {
                let mut b = if rng.below(2) == 0 {
                    images.clone()
                } else {
                    labels.clone()
                };
                mutate(&mut rng, &mut b, true);
                gzip(&b)
            }
        };
        accepted += usize::from(check_idx_bytes(&bytes, &images, &labels));
    }
    assert!(accepted > 100, "only {accepted} mutated files accepted");
}

#[test]
fn parse_idx_accepts_any_unsigned_byte_rank() {
    let p = Path::new("x");
    let a = parse_idx(&idx(&[2, 1, 3, 1], &[1, 2, 3, 4, 5, 6]), p).unwrap();
    assert_eq!(a.dims, vec![2, 1, 3, 1]);
    assert!(parse_idx(&[0, 0, 8, 0], p).is_err()); // rank 0
    assert!(parse_idx(&[0, 0, 9, 1, 0, 0, 0, 0], p).is_err()); // signed bytes
}

#[test]
fn shipped_mnist_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let train = Mnist::load(&dir, MnistSplit::Train).unwrap();
    let test = Mnist::load(&dir, MnistSplit::Test).unwrap();
    assert_eq!((train.len(), train.rows(), train.cols()), (60_000, 28, 28));
    assert_eq!(test.len(), 10_000);
    // The well-known first labels: a 5 in train, a 7 in test.
    assert_eq!((train.label(0), test.label(0)), (Some(5), Some(7)));
    let mut counts = [0usize; 10];
    for &l in train.labels() {
        counts[l as usize] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert!(nidl::datasets::mnist::default_dir()
        .join("train-images-idx3-ubyte.gz")
        .is_file());
}
