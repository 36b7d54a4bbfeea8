//! The `.npy` reader against the golden files every parity test relies on.

mod common;

use common::{assert_close, golden, golden_path};
use nidl::datasets::npy::{read_npy, write_npy, NpyData};

#[test]
fn golden_shapes() {
    assert_eq!(golden("conv2d_pad2", "x").shape(), &[3, 1, 28, 28]);
    assert_eq!(golden("conv2d_pad2", "w").shape(), &[6, 1, 5, 5]);
    assert_eq!(golden("info_nce", "z1").shape(), &[8, 5]);
    assert_eq!(golden("adamw", "grads").shape(), &[6, 4, 3]);
    assert_eq!(golden("cosine_lr", "lrs").shape(), &[12]);
}

#[test]
fn golden_files_are_f64_and_rewrite_byte_for_byte() {
    let data = golden_path("info_nce", "z1");
    let root = data.parent().unwrap().parent().unwrap();
    let out_dir = std::env::temp_dir().join(format!("nidl-npy-it-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut n = 0;
    for case in std::fs::read_dir(root).unwrap() {
        let case = case.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&case).unwrap() {
            let file = file.unwrap().path();
            if file.extension().and_then(|e| e.to_str()) != Some("npy") {
                continue;
            }
            let a = read_npy(&file).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(a.data, NpyData::F64(_)), "{}", file.display());
            let copy = out_dir.join("copy.npy");
            write_npy(&copy, &a).unwrap();
            assert_eq!(
                std::fs::read(&copy).unwrap(),
                std::fs::read(&file).unwrap(),
                "{} rewritten differs",
                file.display()
            );
            n += 1;
        }
    }
    std::fs::remove_dir_all(&out_dir).unwrap();
    assert!(
        n > 100,
        "only {n} golden files found under {}",
        root.display()
    );
}

#[test]
fn assert_close_accepts_and_rejects() {
    let lrs = golden("cosine_lr", "lrs");
    assert_close("lrs", lrs.data().unwrap(), lrs.data().unwrap(), 0.0, 0.0);
    let shifted: Vec<f64> = lrs
        .data()
        .unwrap()
        .iter()
        .map(|v| v * (1.0 + 1e-12))
        .collect();
    assert_close("lrs", &shifted, lrs.data().unwrap(), 1e-10, 1e-300);
    let r = std::panic::catch_unwind(|| assert_close("x", &[1.0, 2.5], &[1.0, 2.0], 1e-3, 0.0));
    assert!(r.is_err());
    let r = std::panic::catch_unwind(|| assert_close("x", &[f64::NAN], &[1.0], 1e-3, 1.0));
    assert!(r.is_err());
}
