//! Same seed ⇒ bit-identical losses and parameters, with 1 and with 2 rayon threads.

mod common;

use common::simclr::{random_views, SimClrStep};
use common::with_threads;

fn run(threads: usize) -> (Vec<f32>, Vec<f32>) {
    with_threads(threads, || {
        let mut s = SimClrStep::<f32>::new(42);
        // Batch 128 × 2 views: large enough that every parallel kernel splits into several chunks.
        let losses = (0..3)
            .map(|i| s.step(random_views(128, 100 + i)).unwrap())
            .collect();
        (losses, s.flat_params())
    })
}

#[test]
fn simclr_steps_are_bit_identical_across_thread_counts() {
    let (l1, p1) = run(1);
    let (l2, p2) = run(2);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&l1), bits(&l2), "losses differ: {l1:?} vs {l2:?}");
    assert_eq!(bits(&p1), bits(&p2), "parameters differ");
    // And training moved the parameters (the test would be vacuous otherwise).
    assert_ne!(bits(&p1), bits(&SimClrStep::<f32>::new(42).flat_params()));
}
