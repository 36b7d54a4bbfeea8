//! Reading OpenBHB's tabular data: the full-size `vbm_roi` tables (train 3 227 + val 757 = 3 984
//! participants × 284 values, with participants.tsv and the targets), from a synthetic tree laid
//! out like the real one. Throughput "elements" are participants, so criterion's elem/s is
//! samples/s. The FreeSurfer tables (476 and 1 036 values per participant) are read too, and the
//! generator is timed once per sample.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nidl::datasets::openbhb::synthetic::{generate, SyntheticConfig};
use nidl::datasets::openbhb::{ensure_synthetic, Modality, OpenBhb, OpenBhbSplit, Target};
use std::path::{Path, PathBuf};

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nidl-bench-openbhb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn read_both(root: &Path, modality: Modality) -> usize {
    let t = [Target::Age, Target::Sex];
    let train = OpenBhb::new(root, modality, &t, OpenBhbSplit::Train).expect("train split");
    let val = OpenBhb::new(root, modality, &t, OpenBhbSplit::Val).expect("val split");
    train.len() + val.len()
}

fn openbhb_benches(c: &mut Criterion) {
    let dir = scratch();
    let root = ensure_synthetic(&dir, 42).expect("synthetic OpenBHB");
    let n = read_both(&root, Modality::VbmRoi) as u64;
    assert_eq!(n, 3984);

    let mut group = c.benchmark_group("openbhb_read");
    group.throughput(Throughput::Elements(n));
    for m in Modality::ALL {
        group.bench_function(m.name(), |b| b.iter(|| read_both(&root, m)));
    }
    group.finish();

    let mut group = c.benchmark_group("openbhb_generate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    let mut i = 0;
    group.bench_function("full_size", |b| {
        b.iter(|| {
            i += 1;
            let out = dir.join(format!("gen{i}"));
            generate(&out, &SyntheticConfig::default()).expect("generate");
            let _ = std::fs::remove_dir_all(&out);
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, openbhb_benches);
criterion_main!(benches);
