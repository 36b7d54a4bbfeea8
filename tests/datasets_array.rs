//! In-memory array data sets: `.npy` round trips, label selection, loader batches, bad input.

mod common;

use common::Scratch;
use nidl::datasets::array::{ArrayDataset, FeatureArray, ImageArray};
use nidl::datasets::labels::LabelMatrix;
use nidl::datasets::loader::{Dataset, Loader};
use nidl::datasets::npy::{write_npy, NpyArray, NpyData};
use nidl::datasets::transforms::Identity;
use nidl::{Error, Tensor};
use std::path::PathBuf;
use std::sync::Arc;

fn write(dir: &Scratch, name: &str, shape: &[usize], data: NpyData) -> PathBuf {
    let p = dir.join(name);
    write_npy(
        &p,
        &NpyArray {
            shape: shape.to_vec(),
            data,
        },
    )
    .unwrap();
    p
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn features_round_trip_any_dtype() {
    let dir = Scratch::new("features");
    let y = write(
        &dir,
        "y.npy",
        &[3, 2],
        NpyData::F64(vec![30.0, 0.0, 41.5, 1.0, 52.0, 1.0]),
    );
    for data in [
        NpyData::F64(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        NpyData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        NpyData::I64(vec![1, 2, 3, 4, 5, 6]),
        NpyData::I32(vec![1, 2, 3, 4, 5, 6]),
        NpyData::U8(vec![1, 2, 3, 4, 5, 6]),
    ] {
        let x = write(&dir, "x.npy", &[3, 2], data);
        let set = FeatureArray::from_npy(&x, &y).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.n_features(), 2);
        assert_eq!(set.get(0).unwrap(), (vec![1.0, 2.0], vec![30.0, 0.0]));
        assert_eq!(set.get(2).unwrap(), (vec![5.0, 6.0], vec![52.0, 1.0]));
        assert!(set.get(3).is_err());
    }
    // One label column from an integer array of shape [N].
    let y1 = write(&dir, "y1.npy", &[3], NpyData::I64(vec![7, 8, 9]));
    let set = FeatureArray::from_npy(dir.join("x.npy"), &y1).unwrap();
    assert_eq!(set.get(1).unwrap().1, vec![8.0]);
    assert_eq!(set.labels().n_columns(), 1);
}

#[test]
fn label_columns_are_selected_in_order() {
    let x = Tensor::from_vec(vec![0.5f32; 6], &[2, 3]).unwrap();
    let y = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let set = FeatureArray::new(&x, &y).unwrap();
    let picked = set.select_labels(&[2, 0]).unwrap();
    assert_eq!(picked.get(1).unwrap().1, vec![6.0, 4.0]);
    // A selection of a selection indexes the current columns.
    let again = picked.select_labels(&[1]).unwrap();
    assert_eq!(again.get(0).unwrap().1, vec![1.0]);
    assert_eq!(again.labels().columns(), &[0]);
    assert_eq!(picked.labels().column(0).unwrap(), vec![3.0, 6.0]);
    assert_eq!(
        picked.labels().to_tensor().unwrap().data().unwrap(),
        &[3.0, 1.0, 6.0, 4.0]
    );
    let m = message(set.select_labels(&[3]).unwrap_err());
    assert!(
        m.contains("label column 3 out of range") && m.contains("3 columns"),
        "{m}"
    );
}

#[test]
fn loader_stacks_features_and_labels() {
    let x = Tensor::from_vec((0..10).map(|v| v as f32).collect(), &[5, 2]).unwrap();
    let y = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0], &[5]).unwrap();
    let set = Arc::new(FeatureArray::new(&x, &y).unwrap());
    let loader = Loader::new(set, Identity, 2).unwrap();
    let b = loader.batch(0, 1).unwrap();
    assert_eq!(b.views.shape(), &[2, 2]);
    assert_eq!(b.views.data().unwrap(), &[4.0, 5.0, 6.0, 7.0]);
    assert_eq!(b.labels.shape(), &[2, 1]);
    assert_eq!(b.labels.data().unwrap(), &[3.0, 4.0]);
}

#[test]
fn images_u8_are_scaled_and_rank3_is_one_channel() {
    let dir = Scratch::new("images");
    let y = write(&dir, "y.npy", &[2], NpyData::F64(vec![0.0, 1.0]));
    // Two 2×3 grey images.
    let x = write(
        &dir,
        "x.npy",
        &[2, 2, 3],
        NpyData::U8(vec![0, 51, 255, 102, 0, 0, 1, 2, 3, 4, 5, 6]),
    );
    let set = ImageArray::from_npy(&x, &y).unwrap();
    assert!(set.is_u8());
    assert_eq!(set.image_shape(), [1, 2, 3]);
    let (img, label) = set.get(0).unwrap();
    assert_eq!(img.shape(), [1, 2, 3]);
    // ToTensor: v / 255 in f32.
    assert_eq!(img.data(), &[0.0, 0.2, 1.0, 0.4, 0.0, 0.0]);
    assert_eq!(label, vec![0.0]);

    // Two 3-channel 1×2 float images through the rank dispatch.
    let px: Vec<f32> = (0..12).map(|v| v as f32 / 10.0).collect();
    let x4 = write(&dir, "x4.npy", &[2, 3, 1, 2], NpyData::F32(px.clone()));
    match ArrayDataset::from_npy(&x4, &y).unwrap() {
        ArrayDataset::Images(set) => {
            let (img, _) = set.get(1).unwrap();
            assert_eq!(img.shape(), [3, 1, 2]);
            assert_eq!(img.data(), &px[6..]);
        }
        other => panic!("expected images, got {other:?}"),
    }
    let feats = write(&dir, "f.npy", &[2, 4], NpyData::F32(vec![0.0; 8]));
    let set = ArrayDataset::from_npy(&feats, &y).unwrap();
    assert!(matches!(set, ArrayDataset::Features(_)));
    assert_eq!(set.sample_shape(), vec![4]);

    // In memory.
    let lab = Tensor::from_vec(vec![3.0], &[1]).unwrap();
    let m = ImageArray::from_u8(vec![255, 0], &[1, 1, 1, 2], &lab).unwrap();
    assert_eq!(m.get(0).unwrap().0.data(), &[1.0, 0.0]);
    assert!(ImageArray::from_u8(vec![255], &[1, 1, 1, 2], &lab).is_err());
}

#[test]
fn bad_inputs_name_the_file_and_the_shapes() {
    let dir = Scratch::new("bad");
    let y3 = write(&dir, "y3.npy", &[3], NpyData::F64(vec![1.0, 2.0, 3.0]));
    let x4 = write(&dir, "x4.npy", &[4, 2], NpyData::F32(vec![0.0; 8]));
    let m = message(FeatureArray::from_npy(&x4, &y3).unwrap_err());
    assert!(
        m.contains("y3.npy")
            && m.contains("3 labels (shape [3])")
            && m.contains("x4.npy")
            && m.contains("[4, 2]"),
        "{m}"
    );

    let x3d = write(&dir, "x3d.npy", &[3, 2, 2], NpyData::F32(vec![0.0; 12]));
    let m = message(FeatureArray::from_npy(&x3d, &y3).unwrap_err());
    assert!(
        m.contains("x3d.npy") && m.contains("[N, D]") && m.contains("[3, 2, 2]"),
        "{m}"
    );
    let x1d = write(&dir, "x1d.npy", &[3], NpyData::F32(vec![0.0; 3]));
    let m = message(ImageArray::from_npy(&x1d, &y3).unwrap_err());
    assert!(
        m.contains("x1d.npy") && m.contains("[N, C, H, W]") && m.contains("[3]"),
        "{m}"
    );
    let m = message(ArrayDataset::from_npy(&x1d, &y3).unwrap_err());
    assert!(m.contains("x1d.npy") && m.contains("got shape [3]"), "{m}");

    let y_bad_rank = write(&dir, "yr.npy", &[3, 1, 1], NpyData::F64(vec![0.0; 3]));
    let x3 = write(&dir, "x3.npy", &[3, 2], NpyData::F32(vec![0.0; 6]));
    let m = message(FeatureArray::from_npy(&x3, &y_bad_rank).unwrap_err());
    assert!(
        m.contains("yr.npy") && m.contains("[N] or [N, K]") && m.contains("[3, 1, 1]"),
        "{m}"
    );

    let mut vals = vec![0.0f32; 6];
    vals[3] = f32::NAN;
    let xnan = write(&dir, "xnan.npy", &[3, 2], NpyData::F32(vals));
    let m = message(FeatureArray::from_npy(&xnan, &y3).unwrap_err());
    assert!(
        m.contains("xnan.npy") && m.contains("sample 1, value 1 is NaN") && m.contains("[3, 2]"),
        "{m}"
    );
    // f64 values beyond f32's range become infinite: refused too.
    let xbig = write(&dir, "xbig.npy", &[3, 2], NpyData::F64(vec![1e300; 6]));
    let m = message(FeatureArray::from_npy(&xbig, &y3).unwrap_err());
    assert!(m.contains("sample 0, value 0 is inf"), "{m}");
    let yinf = write(
        &dir,
        "yinf.npy",
        &[3, 2],
        NpyData::F64(vec![0.0, 1.0, 2.0, f64::INFINITY, 0.0, 0.0]),
    );
    let m = message(FeatureArray::from_npy(&x3, &yinf).unwrap_err());
    assert!(
        m.contains("yinf.npy") && m.contains("sample 1, column 1 is inf") && m.contains("[3, 2]"),
        "{m}"
    );

    let y0 = write(&dir, "y0.npy", &[0], NpyData::F64(vec![]));
    let x0 = write(&dir, "x0.npy", &[0, 2], NpyData::F32(vec![]));
    let m = message(FeatureArray::from_npy(&x0, &y0).unwrap_err());
    assert!(
        m.contains("x0.npy") && m.contains("at least one sample") && m.contains("[0, 2]"),
        "{m}"
    );
    let xe = write(&dir, "xe.npy", &[3, 0, 4], NpyData::U8(vec![]));
    let m = message(ImageArray::from_npy(&xe, &y3).unwrap_err());
    assert!(m.contains("xe.npy") && m.contains("[3, 0, 4]"), "{m}");

    let xi = write(&dir, "xi.npy", &[3, 1, 1], NpyData::I32(vec![0; 3]));
    let m = message(ImageArray::from_npy(&xi, &y3).unwrap_err());
    assert!(
        m.contains("xi.npy") && m.contains("<i4") && m.contains("|u1"),
        "{m}"
    );

    let missing = dir.join("nope.npy");
    assert!(matches!(
        FeatureArray::from_npy(&missing, &y3),
        Err(Error::Io { .. })
    ));

    // In memory: the same checks, naming the constructor.
    let x = Tensor::from_vec(vec![0.0f32; 4], &[2, 2]).unwrap();
    let y = Tensor::from_vec(vec![0.0; 3], &[3]).unwrap();
    let m = message(FeatureArray::new(&x, &y).unwrap_err());
    assert!(
        m.contains("FeatureArray::new") && m.contains("2 samples (shape [2, 2]) but 3 labels"),
        "{m}"
    );
    let m = message(LabelMatrix::new(vec![1.0, f64::NAN], 1, 2).unwrap_err());
    assert!(m.contains("row 0, column 1 is NaN"), "{m}");
    assert!(LabelMatrix::new(vec![1.0], 1, 2).is_err());
}
