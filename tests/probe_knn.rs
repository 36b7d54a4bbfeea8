//! k-NN probes: hand-worked cases with ties, exactness against a brute-force reference (also
//! for data far from the origin, tiny and huge magnitudes, and duplicates), determinism across
//! thread counts, and bad input.

mod common;

use common::with_threads;
use nidl::probe::{Classifier, KNeighborsClassifier, KNeighborsRegressor, Probe};
use nidl::{Error, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// The k nearest by direct f64 squared distance, ties by lower index.
fn brute(train: &[f64], q: &[f64], d: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<(f64, usize)> = train
        .chunks(d)
        .enumerate()
        .map(|(j, x)| (x.iter().zip(q).map(|(a, b)| (b - a) * (b - a)).sum(), j))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all[..k].iter().map(|p| p.1).collect()
}

#[test]
fn hand_worked_ties_go_to_the_lower_index() {
    // Training x = [0, 1, 2, 3, 10]; query 1.5 has distances [1.5, 0.5, 0.5, 1.5, 8.5]:
    // k = 2 → rows 1, 2 (tied, index order); k = 3 → row 0 wins its tie with row 3.
    let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 3.0, 10.0], &[5, 1]).unwrap();
    let q = Tensor::from_vec(vec![1.5f64], &[1, 1]).unwrap();
    let mut c = KNeighborsClassifier::new(3);
    c.fit(&x, &[9, 4, 9, 4, 4]).unwrap();
    let nb = c.kneighbors(&q).unwrap();
    assert_eq!(nb.row(0).0, &[1, 2, 0]);
    assert_eq!(nb.row(0).1, &[0.5, 0.5, 1.5]);
    // Votes: labels of rows 1, 2, 0 = [4, 9, 9] → 9 (2 votes), proba [1/3, 2/3].
    assert_eq!(c.predict(&q).unwrap(), vec![9]);
    assert_eq!(c.classes(), &[4, 9]);
    let p = c.predict_proba(&q).unwrap();
    assert_eq!(p.data().unwrap(), &[1.0 / 3.0, 2.0 / 3.0]);
    // k = 2: rows 1, 2 → labels 4 and 9, one vote each → the smaller label, 4.
    let mut c2 = KNeighborsClassifier::new(2);
    c2.fit(&x, &[9, 4, 9, 4, 4]).unwrap();
    assert_eq!(c2.predict(&q).unwrap(), vec![4]);
    // Regressor: mean of targets of rows 1, 2, 0 = (10 + 20 + 0)/3 = 10.
    let y = Tensor::from_vec(vec![0.0, 10.0, 20.0, 30.0, 100.0], &[5]).unwrap();
    let mut r = KNeighborsRegressor::new(3);
    r.fit(&x, &y).unwrap();
    assert_eq!(r.predict(&q).unwrap().data().unwrap(), &[10.0]);
}

#[test]
fn matches_brute_force_on_clustered_data_with_duplicates() {
    let mut rng = StdRng::seed_from_u64(7);
    let (n, m, d, k) = (3000usize, 300usize, 16usize, 5usize);
    let mut train: Vec<f64> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
    // Duplicate rows (exact ties) and a query set that includes training rows.
    for j in 0..50 {
        let (src, dst) = (j * 7, n - 1 - j);
        for i in 0..d {
            train[dst * d + i] = train[src * d + i];
        }
    }
    let mut queries: Vec<f64> = (0..m * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
    queries[..d].copy_from_slice(&train[..d]);
    queries[d..2 * d].copy_from_slice(&train[7 * d..8 * d]);
    let ytrain: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
    let mut c = KNeighborsClassifier::new(k);
    c.fit(&Tensor::from_vec(train.clone(), &[n, d]).unwrap(), &ytrain)
        .unwrap();
    let nb = c
        .kneighbors(&Tensor::from_vec(queries.clone(), &[m, d]).unwrap())
        .unwrap();
    for i in 0..m {
        assert_eq!(
            nb.row(i).0,
            brute(&train, &queries[i * d..(i + 1) * d], d, k).as_slice(),
            "query {i}"
        );
    }
    // Query 1 equals training row 7, duplicated at row n − 2: both at distance 0, 7 first.
    assert_eq!(&nb.row(1).0[..2], &[7, n - 2]);
}

#[test]
fn exact_for_offsets_tiny_and_huge_magnitudes() {
    let mut rng = StdRng::seed_from_u64(11);
    let (n, m, d, k) = (700usize, 70usize, 5usize, 4usize);
    // (offset, scale, a power of two applied before the reference so its squares stay finite).
    let cases = [
        (1e6, 1.0, 1.0),
        (0.0, 1e-30, 1.0),
        (0.0, 1e25, 1.0),
        (3e20, 1e3, 1.0),
        (0.0, 1e200, (-700f64).exp2()),
    ];
    for (offset, scale, pre) in cases {
        let train: Vec<f64> = (0..n * d)
            .map(|_| offset + scale * rng.gen_range(-1.0..1.0))
            .collect();
        // Some queries far outside the training range (the f64 screening fallback).
        let queries: Vec<f64> = (0..m * d)
            .map(|i| {
                offset + scale * rng.gen_range(-1.0..1.0) * if i % 9 == 0 { 1e22 } else { 1.0 }
            })
            .map(|v: f64| if v.is_finite() { v } else { 0.0 })
            .collect();
        let mut c = KNeighborsClassifier::new(k);
        c.fit(
            &Tensor::from_vec(train.clone(), &[n, d]).unwrap(),
            &vec![1; n],
        )
        .unwrap();
        let nb = c
            .kneighbors(&Tensor::from_vec(queries.clone(), &[m, d]).unwrap())
            .unwrap();
        let (train_p, queries_p): (Vec<f64>, Vec<f64>) = (
            train.iter().map(|v| v * pre).collect(),
            queries.iter().map(|v| v * pre).collect(),
        );
        for i in 0..m {
            assert_eq!(
                nb.row(i).0,
                brute(&train_p, &queries_p[i * d..(i + 1) * d], d, k).as_slice(),
                "offset {offset} scale {scale} query {i}"
            );
        }
    }
}

#[test]
fn exact_on_lattices_and_spheres_full_of_ties() {
    // Integer lattice points (many exactly equal distances) and points on a sphere around the
    // query (equal up to rounding): the screen must keep every tied row, the ranking must then
    // order them by (f64 distance, index) exactly as brute force does.
    let mut rng = StdRng::seed_from_u64(13);
    for (d, n, k) in [(2usize, 400usize, 7usize), (6, 900, 12), (30, 300, 5)] {
        let lattice: Vec<f64> = (0..n * d).map(|_| rng.gen_range(-3..4) as f64).collect();
        let q_lattice: Vec<f64> = (0..20 * d)
            .map(|_| rng.gen_range(-3..4) as f64 * 0.5)
            .collect();
        let mut sphere = Vec::with_capacity(n * d);
        for _ in 0..n {
            let u: Vec<f64> = (0..d).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
            sphere.extend(u.iter().map(|v| 5.0 + 2.0 * v / norm));
        }
        let q_sphere = vec![5.0; 3 * d];
        for (train, queries) in [(lattice, q_lattice), (sphere, q_sphere)] {
            let mut c = KNeighborsClassifier::new(k);
            c.fit(
                &Tensor::from_vec(train.clone(), &[n, d]).unwrap(),
                &vec![0; n],
            )
            .unwrap();
            let m = queries.len() / d;
            let nb = c
                .kneighbors(&Tensor::from_vec(queries.clone(), &[m, d]).unwrap())
                .unwrap();
            for i in 0..m {
                let q = &queries[i * d..(i + 1) * d];
                assert_eq!(
                    nb.row(i).0,
                    brute(&train, q, d, k).as_slice(),
                    "d {d} query {i}"
                );
            }
        }
    }
}

#[test]
fn f32_input_and_multi_target_regression() {
    let mut rng = StdRng::seed_from_u64(3);
    let (n, d, k) = (500usize, 8usize, 5usize);
    let x32: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
    let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let y: Vec<f64> = (0..n * 2).map(|i| (i as f64).cos()).collect();
    let mut r = KNeighborsRegressor::new(k);
    r.fit(
        &Tensor::from_vec(x32.clone(), &[n, d]).unwrap(),
        &Tensor::from_vec(y.clone(), &[n, 2]).unwrap(),
    )
    .unwrap();
    let q = Tensor::from_vec(x32[..10 * d].to_vec(), &[10, d]).unwrap();
    let pred = r.predict(&q).unwrap();
    assert_eq!(pred.shape(), &[10, 2]);
    for i in 0..10 {
        let nn = brute(&x64, &x64[i * d..(i + 1) * d], d, k);
        for t in 0..2 {
            let mean = nn.iter().map(|&j| y[j * 2 + t]).sum::<f64>() / k as f64;
            assert!((pred.data().unwrap()[i * 2 + t] - mean).abs() < 1e-15);
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = StdRng::seed_from_u64(5);
    let (n, m, d) = (5000usize, 500usize, 12usize);
    let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let q: Vec<f32> = (0..m * d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let x = Tensor::from_vec(x, &[n, d]).unwrap();
    let q = Tensor::from_vec(q, &[m, d]).unwrap();
    let y: Vec<i64> = (0..n as i64).map(|i| i % 4).collect();
    let run = |threads| {
        with_threads(threads, || {
            let mut c = KNeighborsClassifier::new(5);
            c.fit(&x, &y).unwrap();
            c.kneighbors(&q).unwrap()
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0], &[3, 1]).unwrap();
    let mut c = KNeighborsClassifier::new(5);
    // k larger than the training set, and k = 0.
    assert!(matches!(
        c.fit(&x, &[0, 1, 0]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(KNeighborsClassifier::new(0).fit(&x, &[0, 1, 0]).is_err());
    let mut c = KNeighborsClassifier::new(1);
    let nan = Tensor::from_vec(vec![0.0f64, f64::NAN, 2.0], &[3, 1]).unwrap();
    assert!(matches!(
        c.fit(&nan, &[0, 1, 0]),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(c.fit(&x, &[0, 1]), Err(Error::Shape { .. })));
    assert!(c.fit(&Tensor::<f64>::zeros(&[0, 1]), &[]).is_err());
    assert!(c.predict(&x).is_err()); // not fitted (the failed fits left it empty)
    c.fit(&x, &[0, 1, 0]).unwrap();
    assert!(matches!(
        c.predict(&Tensor::<f64>::zeros(&[1, 2])),
        Err(Error::Shape { .. })
    ));
    let inf_q = Tensor::from_vec(vec![f64::INFINITY], &[1, 1]).unwrap();
    assert!(matches!(c.predict(&inf_q), Err(Error::NonFinite { .. })));
    let mut r = KNeighborsRegressor::new(1);
    let bad_y = Tensor::from_vec(vec![1.0, f64::NAN, 2.0], &[3]).unwrap();
    assert!(matches!(r.fit(&x, &bad_y), Err(Error::NonFinite { .. })));
}
