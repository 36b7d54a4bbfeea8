//! Faults and bad input around checkpoints: files with bytes inserted or appended in the tensor
//! data, non-finite values (never written, never read), a seeded mutation test of the
//! safetensors reader (no panic; whatever it accepts is consistent), and the temporaries that
//! killed writers leave behind.

mod common;

use common::Scratch;
use nidl::train::{Checkpoint, StoredTensor};
use nidl::{Error, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ffi::OsString;
use std::fs;
use std::path::Path;

/// A small checkpoint with every dtype, a zero-size tensor and metadata needing escapes.
fn sample() -> Checkpoint {
    let mut ck = Checkpoint::new();
    ck.insert(
        "encoder.fc.weight",
        StoredTensor::F32(
            Tensor::from_vec(vec![0.5, -1.25, 3.0, 1e-3, -7.5, 2.0], &[2, 3]).unwrap(),
        ),
    );
    ck.insert(
        "head.0.bias",
        StoredTensor::F64(Tensor::from_vec(vec![0.1, -0.2], &[2]).unwrap()),
    );
    ck.insert(
        "optimizer.step",
        StoredTensor::I64 {
            shape: vec![3],
            data: vec![1, -2, 3],
        },
    );
    ck.insert(
        "empty",
        StoredTensor::F32(Tensor::from_vec(vec![], &[0, 4]).unwrap()),
    );
    ck.metadata.insert("epoch".into(), "2".into());
    ck.metadata
        .insert("note".into(), "a \"quoted\"\n\\ value".into());
    ck
}

/// The header length a file's first 8 bytes announce.
fn header_len(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

#[test]
fn bytes_inserted_or_appended_in_the_tensor_data_are_refused_naming_the_file() {
    let s = Scratch::new("coverage");
    let ck = sample();
    let path = s.join("good.safetensors");
    ck.save(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let data_start = 8 + header_len(&bytes) as usize;
    for (what, at) in [("inserted", data_start + 8), ("appended", bytes.len())] {
        let mut b = bytes.clone();
        b.splice(at..at, [1, 2, 3, 4]);
        let bad = s.join(format!("{what}.safetensors"));
        fs::write(&bad, &b).unwrap();
        let e = Checkpoint::load(&bad).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e}");
        let e = e.to_string();
        assert!(
            e.contains(&format!("{what}.safetensors")) && e.contains("not fully covered"),
            "{what}: {e}"
        );
    }
}

#[test]
fn a_checkpoint_with_a_nan_weight_is_not_written_and_not_read() {
    let s = Scratch::new("nan");
    let mut ck = sample();
    ck.insert(
        "encoder.fc.weight",
        StoredTensor::F32(Tensor::from_vec(vec![0.5, f32::NAN, 3.0, 1.0], &[2, 2]).unwrap()),
    );
    let path = s.join("nan.safetensors");
    let e = ck.save(&path).unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }), "{e}");
    assert!(e.to_string().contains("tensor 'encoder.fc.weight'"), "{e}");
    let left: Vec<_> = fs::read_dir(s.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing on disk: {left:?}");
    // Written by another tool (here: a good file with one weight's bytes replaced by a NaN's).
    let good = s.join("good.safetensors");
    sample().save(&good).unwrap();
    let mut bytes = fs::read(&good).unwrap();
    let data_start = 8 + header_len(&bytes) as usize;
    // "encoder.fc.weight" is the first tensor: element 4 at bytes 16..20 of the data.
    bytes[data_start + 16..data_start + 20].copy_from_slice(&f32::NAN.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(
        e.contains("nan.safetensors")
            && e.contains(
                "tensor 'encoder.fc.weight' holds a non-finite value (NaN at element 4 of 6"
            ),
        "{e}"
    );
}

/// One seeded mutation of `good`, and its name for failure messages.
fn mutate(good: &[u8], rng: &mut StdRng) -> (Vec<u8>, &'static str) {
    let mut b = good.to_vec();
    let n = header_len(good) as usize;
    let kind = rng.gen_range(0..8);
    let name = match kind {
        0 => {
            for _ in 0..rng.gen_range(1..=3) {
                let i = rng.gen_range(0..b.len());
                b[i] ^= 1 << rng.gen_range(0..8);
            }
            "bit flips anywhere"
        }
        1 => {
            let i = rng.gen_range(8..8 + n);
            b[i] ^= 1 << rng.gen_range(0..8);
            "a bit flip in the header"
        }
        2 => {
            b.truncate(rng.gen_range(0..good.len()));
            "a truncation"
        }
        3 => {
            let at = rng.gen_range(0..=b.len());
            let extra: Vec<u8> = (0..rng.gen_range(1..=8)).map(|_| rng.gen()).collect();
            b.splice(at..at, extra);
            "an insertion"
        }
        4 => {
            let at = rng.gen_range(0..b.len());
            let end = (at + rng.gen_range(1..=8)).min(b.len());
            b.drain(at..end);
            "a deletion"
        }
        5 => {
            let len: u64 = match rng.gen_range(0..5) {
                0 => (n as u64).wrapping_add(rng.gen_range(1..=16)),
                1 => (n as u64).saturating_sub(rng.gen_range(1..=16)),
                2 => 0,
                3 => u64::MAX - rng.gen_range(0..16),
                _ => rng.gen(),
            };
            b[..8].copy_from_slice(&len.to_le_bytes());
            "a header length change"
        }
        6 => {
            const JSON: &[u8] = b"{}[]\":,0123456789-+.eE \\u";
            let i = rng.gen_range(8..8 + n);
            b[i] = JSON[rng.gen_range(0..JSON.len())];
            "a JSON character in the header"
        }
        _ => {
            for _ in 0..rng.gen_range(1..=4) {
                let i = rng.gen_range(8 + n..b.len());
                b[i] = rng.gen();
            }
            "random data bytes"
        }
    };
    (b, name)
}

/// Checks what the reader accepted from `bytes`: every tensor's elements match its shape, the
/// tensors' byte lengths add up to the data section, floats are finite, and saving and reading
/// it again gives the same checkpoint.
fn assert_consistent(ck: &Checkpoint, bytes: &[u8], case: usize, what: &str) {
    let data_len = bytes.len() - 8 - header_len(bytes) as usize;
    let mut total = 0;
    for (name, t) in &ck.tensors {
        let (shape, len, elem) = match t {
            StoredTensor::F32(t) => {
                assert!(
                    t.all_finite().unwrap(),
                    "case {case} ({what}): '{name}' finite"
                );
                (t.shape().to_vec(), t.len(), 4)
            }
            StoredTensor::F64(t) => {
                assert!(
                    t.all_finite().unwrap(),
                    "case {case} ({what}): '{name}' finite"
                );
                (t.shape().to_vec(), t.len(), 8)
            }
            StoredTensor::I64 { shape, data } => (shape.clone(), data.len(), 8),
        };
        assert_eq!(
            shape.iter().product::<usize>(),
            len,
            "case {case} ({what}): '{name}'"
        );
        total += len * elem;
    }
    assert_eq!(total, data_len, "case {case} ({what}): data covered");
    let again = ck.to_bytes().unwrap();
    let back = Checkpoint::from_bytes(&again, Path::new("again")).unwrap();
    assert_eq!(&back, ck, "case {case} ({what}): save and read again");
}

#[test]
fn seeded_mutations_never_panic_and_accepted_files_are_consistent() {
    let good = sample().to_bytes().unwrap();
    let p = Path::new("fuzz.safetensors");
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..4000 {
        let mut rng = StdRng::seed_from_u64(case as u64);
        let (bytes, what) = mutate(&good, &mut rng);
        let parsed = std::panic::catch_unwind(|| Checkpoint::from_bytes(&bytes, p))
            .unwrap_or_else(|_| panic!("case {case} ({what}) panicked"));
        match parsed {
            Ok(ck) => {
                accepted += 1;
                assert_consistent(&ck, &bytes, case, what);
            }
            Err(e) => {
                refused += 1;
                assert!(
                    e.to_string().contains("fuzz.safetensors"),
                    "case {case} ({what}): the error names the file: {e}"
                );
            }
        }
    }
    // Both outcomes occur (flipped data bits or metadata characters can leave a valid file), so
    // the consistency checks above run.
    assert!(
        accepted > 100 && refused > 1000,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn the_first_write_into_a_folder_removes_dead_processes_temporaries_only() {
    // What `kill -9` during a write leaves: `.<name>.tmp.<pid>.<n>` files and (synthetic
    // OpenBHB) `.<name>.partial-<pid>-<stamp>` folders. Faked here with a surely dead process id
    // and a live one (this test's), among names that only look alike.
    let s = Scratch::new("stale");
    let dir = s.path();
    let (dead, live) = (common::dead_pid(), std::process::id());
    let files = [
        format!(".a.bin.tmp.{dead}.0"),
        format!(".a.bin.tmp.{live}.0"),
        format!("a.bin.tmp.{dead}.0"),
        format!(".a.bin.tmp.{dead}.0.bak"),
        format!(".x.partial-{dead}-5"),
        "notes.txt".to_string(),
    ];
    for f in &files {
        fs::write(dir.join(f), b"x").unwrap();
    }
    let dirs = [
        format!(".out.partial-{dead}-123"),
        format!(".out.partial-{live}-123"),
        format!(".d.tmp.{dead}.1"),
    ];
    for d in &dirs {
        fs::create_dir(dir.join(d)).unwrap();
        fs::write(dir.join(d).join("inside"), b"x").unwrap();
    }
    let link = format!(".l.tmp.{dead}.0");
    std::os::unix::fs::symlink(dir.join("notes.txt"), dir.join(&link)).unwrap();
    nidl::atomic_file::write_atomic(&dir.join("new.txt"), b"new").unwrap();
    let mut left: Vec<OsString> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    // Only the dead process's temporary file and temporary folder are gone.
    let mut expected: Vec<OsString> = files[1..]
        .iter()
        .chain(&dirs[1..])
        .chain([&link, &"new.txt".to_string()])
        .map(OsString::from)
        .collect();
    expected.sort();
    assert_eq!(left, expected);
}
