//! OpenBHB: the synthetic generator round-tripped through the loader, split membership, target
//! encoding, the three modalities, every class of bad input, determinism, and how decodable age and
//! sex are from the synthetic `vbm_roi` features.

mod common;

use common::{with_threads, Lcg, Scratch};
use nidl::datasets::csv::{text_from_bytes, Table};
use nidl::datasets::loader::Dataset;
use nidl::datasets::openbhb::synthetic::{
    self, generate, SyntheticConfig, README_FILE, SYNTHETIC_BANNER,
};
use nidl::datasets::openbhb::{ensure_synthetic, Modality, OpenBhb, OpenBhbSplit, Target};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

fn small(seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        seed,
        n_train: 150,
        n_internal: 30,
        n_external: 40,
    }
}

/// participants.tsv as a list of column → value maps (the generator writes no quotes).
fn participants(root: &Path) -> Vec<HashMap<String, String>> {
    let text = fs::read_to_string(root.join("participants.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(String::from))
                .collect()
        })
        .collect()
}

/// A feature table as id → values, parsed naively (the generator writes no quotes).
fn feature_rows(path: &Path) -> HashMap<String, Vec<f32>> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..2], &["participant_id", "session"]);
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[2..].iter().map(|v| v.parse().unwrap()).collect(),
            )
        })
        .collect()
}

fn split_labels(split: OpenBhbSplit) -> &'static [&'static str] {
    match split {
        OpenBhbSplit::Train => &["train"],
        OpenBhbSplit::Val => &["internal_test", "external_test"],
        OpenBhbSplit::InternalVal => &["internal_test"],
        OpenBhbSplit::ExternalVal => &["external_test"],
    }
}

#[test]
fn generator_round_trips_through_the_loader() {
    let dir = Scratch::new("roundtrip");
    let root = dir.0.join("obhb");
    let cfg = small(3);
    generate(&root, &cfg).unwrap();
    assert!(fs::read_to_string(root.join(README_FILE))
        .unwrap()
        .starts_with(SYNTHETIC_BANNER));
    let rows = participants(&root);
    assert_eq!(rows.len(), 220);
    let targets = [Target::Age, Target::Sex, Target::Site];
    for modality in Modality::ALL {
        for split in OpenBhbSplit::ALL {
            let ds = OpenBhb::new(&root, modality, &targets, split).unwrap();
            // Participants of the split, in participants.tsv order.
            let expected: Vec<&HashMap<String, String>> = rows
                .iter()
                .filter(|r| split_labels(split).contains(&r["split"].as_str()))
                .collect();
            let ids: Vec<&str> = expected
                .iter()
                .map(|r| r["participant_id"].as_str())
                .collect();
            assert_eq!(ds.participant_ids(), ids.as_slice(), "{modality} {split}");
            let d = modality.n_features();
            assert_eq!(ds.features().shape(), &[ids.len(), d]);
            assert_eq!(ds.targets().shape(), &[ids.len(), 3]);
            assert_eq!(Dataset::len(&ds), ids.len());
            let table = feature_rows(&modality.features_path(&root, split));
            for (i, r) in expected.iter().enumerate() {
                let (x, y) = ds.sample(i).unwrap();
                // Values round-trip exactly (written as shortest f32 text).
                assert_eq!(x, table[ids[i]].as_slice(), "{modality} {split} row {i}");
                assert_eq!(y[0], r["age"].parse::<f64>().unwrap());
                assert_eq!(y[1], if r["sex"] == "female" { 1.0 } else { 0.0 });
                assert_eq!(y[2], r["siteXacq"].parse::<f64>().unwrap());
                let (gx, gy) = ds.get(i).unwrap();
                assert_eq!((gx.as_slice(), gy.as_slice()), (x, y));
            }
            assert!(ds.sample(ids.len()).is_none());
            assert!(ds.get(ids.len()).is_err());
        }
    }
}

#[test]
fn modalities_and_sample_shapes() {
    assert_eq!(Modality::VbmRoi.sample_shape(), [1, 284]);
    assert_eq!(Modality::FsDesikanRoi.sample_shape(), [7, 68]);
    assert_eq!(Modality::FsDestrieuxRoi.sample_shape(), [7, 148]);
    let dir = Scratch::new("modalities");
    let root = dir.0.join("obhb");
    generate(&root, &small(4)).unwrap();
    for (m, d) in [
        (Modality::VbmRoi, 284),
        (Modality::FsDesikanRoi, 476),
        (Modality::FsDestrieuxRoi, 1036),
    ] {
        let ds = OpenBhb::new(&root, m, &[], OpenBhbSplit::Val).unwrap();
        assert_eq!(ds.features().shape(), &[70, d]);
        assert_eq!(ds.targets().shape(), &[70, 0]);
        assert!(ds
            .features()
            .data()
            .unwrap()
            .iter()
            .all(|v| v.is_finite() && *v > 0.0));
    }
    // vbm_roi: the first 142 columns are grey matter, the last 142 CSF, both volumes in cm³.
    let ds = OpenBhb::new(&root, Modality::VbmRoi, &[], OpenBhbSplit::Train).unwrap();
    let x = ds.features().data().unwrap();
    let gm: f32 = x[..142].iter().sum();
    let csf: f32 = x[142..284].iter().sum();
    assert!(
        (300.0..1200.0).contains(&gm) && (50.0..900.0).contains(&csf),
        "{gm} {csf}"
    );
}

#[test]
fn split_membership_and_sites() {
    let dir = Scratch::new("splits");
    let root = dir.0.join("obhb");
    generate(&root, &small(5)).unwrap();
    let t = [Target::Site];
    let load = |s| OpenBhb::new(&root, Modality::VbmRoi, &t, s).unwrap();
    let (train, val, internal, external) = (
        load(OpenBhbSplit::Train),
        load(OpenBhbSplit::Val),
        load(OpenBhbSplit::InternalVal),
        load(OpenBhbSplit::ExternalVal),
    );
    assert_eq!(
        (train.len(), val.len(), internal.len(), external.len()),
        (150, 70, 30, 40)
    );
    let set = |d: &OpenBhb| d.participant_ids().iter().cloned().collect::<HashSet<_>>();
    assert!(set(&train).is_disjoint(&set(&val)));
    assert!(set(&internal).is_disjoint(&set(&external)));
    let union: HashSet<_> = set(&internal).union(&set(&external)).cloned().collect();
    assert_eq!(union, set(&val));
    // val keeps participants.tsv order, interleaving the two test splits.
    let pos: HashMap<&String, usize> = val
        .participant_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    for part in [&internal, &external] {
        let p: Vec<usize> = part.participant_ids().iter().map(|id| pos[id]).collect();
        assert!(p.windows(2).all(|w| w[0] < w[1]));
    }
    // External sites are unseen in training; internal ones are training sites.
    let sites = |d: &OpenBhb| {
        d.target(Target::Site)
            .unwrap()
            .into_iter()
            .map(|s| s as i64)
            .collect::<HashSet<_>>()
    };
    assert!(sites(&external).is_disjoint(&sites(&train)));
    assert!(sites(&internal).is_subset(&sites(&train)));
    assert!(train.target(Target::Age).is_none());
}

#[test]
fn same_seed_same_bytes_for_any_thread_count() {
    let dir = Scratch::new("determinism");
    let a = dir.0.join("a");
    let b = dir.0.join("b");
    let c = dir.0.join("c");
    generate(&a, &small(11)).unwrap();
    with_threads(1, || generate(&b, &small(11))).unwrap();
    generate(&c, &small(12)).unwrap();
    let files = [
        "README.txt",
        "participants.tsv",
        "train/derivatives/cat12vbm_roi/cat12vbm_roi_features.csv",
        "val/derivatives/cat12vbm_roi/cat12vbm_roi_features.csv",
        "train/derivatives/freesurfer_roi/desikan_roi_features.csv",
        "val/derivatives/freesurfer_roi/desikan_roi_features.csv",
        "train/derivatives/freesurfer_roi/destrieux_roi_features.csv",
        "val/derivatives/freesurfer_roi/destrieux_roi_features.csv",
    ];
    for f in files {
        assert_eq!(
            fs::read(a.join(f)).unwrap(),
            fs::read(b.join(f)).unwrap(),
            "{f}"
        );
        assert_ne!(
            fs::read(a.join(f)).unwrap(),
            fs::read(c.join(f)).unwrap(),
            "{f}"
        );
    }
    // Nothing else was written: no temporary folder left beside the targets.
    let mut names: Vec<String> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    // A non-empty target is refused and left alone; an empty one is filled.
    let e = generate(&a, &small(11)).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    let empty = dir.0.join("empty");
    fs::create_dir(&empty).unwrap();
    generate(&empty, &small(11)).unwrap();
    assert_eq!(
        fs::read(empty.join("participants.tsv")).unwrap(),
        fs::read(a.join("participants.tsv")).unwrap()
    );
    assert!(generate(
        &dir.0.join("z"),
        &SyntheticConfig {
            n_train: 0,
            ..small(1)
        }
    )
    .is_err());
    assert!(!dir.0.join("z").exists());
}

// ---------------------------------------------------------------------------------------------
// Decodability: a closed-form ridge fit (probes are a separate module; this keeps the test
// self-contained).

/// Solves `(XᵀX + αI) w = Xᵀy` for column-standardised `x` (`n × d`, row-major) and centred
/// `y` by Cholesky; returns (column means, column scales, y mean, weights).
fn ridge(
    x: &[f64],
    n: usize,
    d: usize,
    y: &[f64],
    alpha: f64,
) -> (Vec<f64>, Vec<f64>, f64, Vec<f64>) {
    let mut mean = vec![0.0; d];
    for row in x.chunks(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v / n as f64;
        }
    }
    let mut scale = vec![0.0; d];
    for row in x.chunks(d) {
        for j in 0..d {
            scale[j] += (row[j] - mean[j]).powi(2) / n as f64;
        }
    }
    for s in &mut scale {
        *s = s.sqrt().max(1e-12);
    }
    let ym = y.iter().sum::<f64>() / n as f64;
    let mut a = vec![0.0; d * d];
    let mut b = vec![0.0; d];
    let mut z = vec![0.0; d];
    for (row, &yi) in x.chunks(d).zip(y) {
        for j in 0..d {
            z[j] = (row[j] - mean[j]) / scale[j];
        }
        for j in 0..d {
            b[j] += z[j] * (yi - ym);
            for k in 0..=j {
                a[j * d + k] += z[j] * z[k];
            }
        }
    }
    for j in 0..d {
        a[j * d + j] += alpha;
    }
    // Cholesky A = L Lᵀ in the lower triangle, then two triangular solves.
    for j in 0..d {
        for k in 0..j {
            a[j * d + j] -= a[j * d + k] * a[j * d + k];
        }
        a[j * d + j] = a[j * d + j].sqrt();
        for i in j + 1..d {
            for k in 0..j {
                a[i * d + j] -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] /= a[j * d + j];
        }
    }
    for i in 0..d {
        for k in 0..i {
            b[i] -= a[i * d + k] * b[k];
        }
        b[i] /= a[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            b[i] -= a[k * d + i] * b[k];
        }
        b[i] /= a[i * d + i];
    }
    (mean, scale, ym, b)
}

fn predict(x: &[f64], d: usize, fit: &(Vec<f64>, Vec<f64>, f64, Vec<f64>)) -> Vec<f64> {
    let (mean, scale, ym, w) = fit;
    x.chunks(d)
        .map(|row| {
            ym + (0..d)
                .map(|j| (row[j] - mean[j]) / scale[j] * w[j])
                .sum::<f64>()
        })
        .collect()
}

fn r2(y: &[f64], p: &[f64]) -> f64 {
    let m = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - m).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

#[test]
fn age_and_sex_are_decodable_but_not_trivially() {
    let dir = Scratch::new("decode");
    let root = ensure_synthetic(&dir.0, 42).unwrap();
    assert_eq!(root, synthetic::synthetic_root(&dir.0, 42));
    // A second call reuses the cache.
    let stamp = fs::metadata(root.join("participants.tsv"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(ensure_synthetic(&dir.0, 42).unwrap(), root);
    assert_eq!(
        fs::metadata(root.join("participants.tsv"))
            .unwrap()
            .modified()
            .unwrap(),
        stamp
    );

    let t = [Target::Age, Target::Sex];
    let train = OpenBhb::new(&root, Modality::VbmRoi, &t, OpenBhbSplit::Train).unwrap();
    let val = OpenBhb::new(&root, Modality::VbmRoi, &t, OpenBhbSplit::Val).unwrap();
    assert_eq!((train.len(), val.len()), (3227, 757));
    let ages = train.target(Target::Age).unwrap();
    let mean_age = ages.iter().sum::<f64>() / ages.len() as f64;
    let mut sorted = ages.clone();
    sorted.sort_by(f64::total_cmp);
    let median_age = sorted[sorted.len() / 2];
    let female = train.target(Target::Sex).unwrap().iter().sum::<f64>() / train.len() as f64;
    eprintln!(
        "synthetic OpenBHB train: age {:.1}–{:.1}, mean {mean_age:.1}, median {median_age:.1}; \
         female {:.1}%",
        sorted[0],
        sorted[sorted.len() - 1],
        100.0 * female
    );
    assert!(sorted[0] >= 6.0 && sorted[sorted.len() - 1] <= 88.0);
    assert!(
        median_age < mean_age && (20.0..32.0).contains(&mean_age),
        "skewed young"
    );
    assert!((0.4..0.6).contains(&female), "balanced sex");

    let d = 284;
    let xt: Vec<f64> = train
        .features()
        .data()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let xv: Vec<f64> = val
        .features()
        .data()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let age_fit = ridge(&xt, train.len(), d, &ages, 1.0);
    let val_ages = val.target(Target::Age).unwrap();
    let r2_val = r2(&val_ages, &predict(&xv, d, &age_fit));
    let r2_train = r2(&ages, &predict(&xt, d, &age_fit));
    let sex_t = train.target(Target::Sex).unwrap();
    let sex_v = val.target(Target::Sex).unwrap();
    let sex_fit = ridge(&xt, train.len(), d, &sex_t, 1.0);
    let acc = |x: &[f64], y: &[f64]| {
        let p = predict(x, d, &sex_fit);
        p.iter()
            .zip(y)
            .filter(|(p, y)| (**p > 0.5) == (**y > 0.5))
            .count() as f64
            / y.len() as f64
    };
    let (acc_train, acc_val) = (acc(&xt, &sex_t), acc(&xv, &sex_v));
    // Internal vs external validation: unseen sites should be harder.
    let ext = OpenBhb::new(&root, Modality::VbmRoi, &t, OpenBhbSplit::ExternalVal).unwrap();
    let int = OpenBhb::new(&root, Modality::VbmRoi, &t, OpenBhbSplit::InternalVal).unwrap();
    let r2_of = |ds: &OpenBhb| {
        let x: Vec<f64> = ds
            .features()
            .data()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        r2(&ds.target(Target::Age).unwrap(), &predict(&x, d, &age_fit))
    };
    let (r2_int, r2_ext) = (r2_of(&int), r2_of(&ext));
    eprintln!(
        "ridge(alpha=1) on vbm_roi: age R2 train {r2_train:.3}, val {r2_val:.3} (internal \
         {r2_int:.3}, external {r2_ext:.3}); sex least-squares accuracy train {acc_train:.3}, \
         val {acc_val:.3}"
    );
    assert!(r2_val > 0.3 && r2_val < 0.95, "age R2 {r2_val}");
    assert!(acc_val > 0.65 && acc_val < 0.97, "sex accuracy {acc_val}");
}

/// The share of the variance of `values` that lies between the groups of `groups` (one-way
/// ANOVA's η²), over groups of at least `min_size` members.
fn between_group_share(values: &[f64], groups: &[f64], min_size: usize) -> f64 {
    let mut by: HashMap<i64, Vec<f64>> = HashMap::new();
    for (&v, &g) in values.iter().zip(groups) {
        by.entry(g as i64).or_default().push(v);
    }
    let kept: Vec<Vec<f64>> = by.into_values().filter(|g| g.len() >= min_size).collect();
    let all: Vec<f64> = kept.iter().flatten().copied().collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let total: f64 = all.iter().map(|v| (v - mean).powi(2)).sum();
    let between: f64 = kept
        .iter()
        .map(|g| {
            let m = g.iter().sum::<f64>() / g.len() as f64;
            g.len() as f64 * (m - mean).powi(2)
        })
        .sum();
    between / total
}

/// Site effects of the synthetic `vbm_roi` at `root`, among training subjects aged 18–30 (a band
/// in which age moves the volumes little): the between-site share of the variance of
/// log(total GM) and of log(total GM / total CSF), over sites with at least 15 such subjects.
fn site_shares(root: &Path) -> (f64, f64) {
    let t = [Target::Age, Target::Site];
    let train = OpenBhb::new(root, Modality::VbmRoi, &t, OpenBhbSplit::Train).unwrap();
    let ages = train.target(Target::Age).unwrap();
    let sites = train.target(Target::Site).unwrap();
    let x = train.features().data().unwrap();
    let (mut gm, mut ratio, mut site) = (Vec::new(), Vec::new(), Vec::new());
    for (i, row) in x.chunks(284).enumerate() {
        if (18.0..30.0).contains(&ages[i]) {
            let g: f64 = row[..142].iter().map(|&v| v as f64).sum();
            let c: f64 = row[142..].iter().map(|&v| v as f64).sum();
            gm.push(g.ln());
            ratio.push((g / c).ln());
            site.push(sites[i]);
        }
    }
    (
        between_group_share(&gm, &site, 15),
        between_group_share(&ratio, &site, 15),
    )
}

#[test]
fn site_effects_are_as_strong_as_simulated() {
    // What the generator puts in (src/datasets/openbhb/synthetic.rs): per site, a global GM
    // offset (sd 0.04) plus a tissue-contrast shift c (sd 0.08) that scales GM by 1 + c and CSF
    // by 1 − 1.5c, and a gain on each of 12 region groups (sd 0.10, GM and CSF apart). Expected,
    // in log(total GM): between-site variance ≈ 0.04² + 0.08² + 0.10²/12 ≈ 0.0089 against
    // within-site ≈ head size (≈ 0.08² · 0.9² ≈ 0.0052) + latent factors and noise, so a share ≈
    // 0.6; the GM/CSF ratio moves by ≈ 2.5c + offsets per site (sd ≈ 0.21), most of its variance.
    // v1 of the generator (offsets only) measured 0.09 and 0.35: these bounds tell them apart.
    let dir = Scratch::new("sites");
    let root = ensure_synthetic(&dir.0, 42).unwrap();
    let (gm, ratio) = site_shares(&root);
    eprintln!("between-site share, 18–30 year-olds: log GM {gm:.3}, log GM/CSF {ratio:.3}");
    assert!((0.4..0.85).contains(&gm), "log GM between-site share {gm}");
    assert!(
        (0.6..0.98).contains(&ratio),
        "log GM/CSF between-site share {ratio}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hand-written trees: the dialect the reader accepts, and every class of bad input.

const VBM: &str = "train/derivatives/cat12vbm_roi/cat12vbm_roi_features.csv";
const VBM_VAL: &str = "val/derivatives/cat12vbm_roi/cat12vbm_roi_features.csv";

/// A tiny valid tree: participants 101 (train), 102 (internal_test), 103 (external_test) and
/// 104 (train), with the participants.tsv columns in an unusual order plus an extra one.
struct Tree {
    participants: String,
    train: String,
    val: String,
}

fn feature_header() -> String {
    let mut h = String::from("participant_id,session");
    for j in 0..284 {
        h.push_str(&format!(",f{j}"));
    }
    h
}

fn feature_line(id: &str) -> String {
    let mut l = format!("{id},1");
    for j in 0..284 {
        l.push_str(&format!(",{}.5", j + id.len()));
    }
    l
}

impl Tree {
    fn valid() -> Tree {
        Tree {
            participants: "split\tage\tnote\tparticipant_id\tsex\tsiteXacq\n\
                           train\t20.5\tx\t101\tfemale\t3\n\
                           internal_test\t30\tx\t102\tmale\t3\n\
                           external_test\t40.25\tx\t103\tfemale\t7\n\
                           train\t8\tx\t104\tmale\t4\n"
                .to_string(),
            train: format!(
                "{}\n{}\n{}\n",
                feature_header(),
                feature_line("104"),
                feature_line("101")
            ),
            val: format!(
                "{}\n{}\n{}\n",
                feature_header(),
                feature_line("103"),
                feature_line("102")
            ),
        }
    }

    fn write(&self, root: &Path) {
        let _ = fs::remove_dir_all(root);
        for (rel, text) in [
            ("participants.tsv", &self.participants),
            (VBM, &self.train),
            (VBM_VAL, &self.val),
        ] {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
    }
}

fn load(root: &Path, split: OpenBhbSplit) -> nidl::Result<OpenBhb> {
    OpenBhb::new(
        root,
        Modality::VbmRoi,
        &[Target::Age, Target::Sex, Target::Site],
        split,
    )
}

#[test]
fn reads_a_hand_written_tree() {
    let dir = Scratch::new("handwritten");
    Tree::valid().write(&dir.0);
    let train = load(&dir.0, OpenBhbSplit::Train).unwrap();
    assert_eq!(train.participant_ids(), ["101", "104"]);
    assert_eq!(
        train.targets().data().unwrap(),
        &[20.5, 1.0, 3.0, 8.0, 0.0, 4.0]
    );
    assert_eq!(train.sample(0).unwrap().0[..3], [3.5, 4.5, 5.5]);
    let val = load(&dir.0, OpenBhbSplit::Val).unwrap();
    assert_eq!(val.participant_ids(), ["102", "103"]);
    assert_eq!(
        val.targets().data().unwrap(),
        &[30.0, 0.0, 3.0, 40.25, 1.0, 7.0]
    );
    // Only the requested targets' columns are needed.
    let mut t = Tree::valid();
    t.participants = t.participants.replace("age", "years");
    t.write(&dir.0);
    let ds = OpenBhb::new(
        &dir.0,
        Modality::VbmRoi,
        &[Target::Sex],
        OpenBhbSplit::Train,
    )
    .unwrap();
    assert_eq!(ds.targets().data().unwrap(), &[1.0, 0.0]);
}

#[test]
fn accepts_crlf_bom_quotes_free_column_order_and_integer_ids() {
    let dir = Scratch::new("dialect");
    let mut t = Tree::valid();
    // participants.tsv: BOM, CRLF, a quoted multi-line field holding a tab and an escaped quote,
    // quoted values, sex in capitals, a trailing blank line.
    t.participants = format!(
        "\u{feff}{}\r\n",
        t.participants
            .replace(
                "\tx\t101\tfemale",
                "\t\"a \"\"note\"\"\twith\r\nbreaks\"\t101\t\"FEMALE\""
            )
            .replace('\n', "\r\n")
    );
    // Feature table: participant_id last, session first, ids with leading zeros, a quoted value.
    let swap = |line: &str| {
        let mut f: Vec<&str> = line.split(',').collect();
        let id = f.remove(0);
        let id = if id == "participant_id" {
            id.to_string()
        } else {
            format!("00{id}")
        };
        format!("{},{id}", f.join(","))
    };
    let lines: Vec<String> = t.train.lines().map(swap).collect();
    t.train = format!("\u{feff}{}\r\n\r\n", lines.join("\r\n")).replacen(",3.5,", ",\"3.5\",", 1);
    t.write(&dir.0);
    let train = load(&dir.0, OpenBhbSplit::Train).unwrap();
    assert_eq!(train.participant_ids(), ["101", "104"]);
    assert_eq!(
        train.targets().data().unwrap(),
        &[20.5, 1.0, 3.0, 8.0, 0.0, 4.0]
    );
    // The features are every column but participant_id and session, in file order, wherever
    // those two sit: the same values as the plain tree.
    let reference = {
        Tree::valid().write(&dir.0.join("ref"));
        load(&dir.0.join("ref"), OpenBhbSplit::Train).unwrap()
    };
    assert_eq!(train.features(), reference.features());
}

/// Writes `tree` after `edit`, loads `split` and returns the error text.
fn error_of(dir: &Path, split: OpenBhbSplit, edit: impl FnOnce(&mut Tree)) -> String {
    let mut t = Tree::valid();
    edit(&mut t);
    t.write(dir);
    match load(dir, split) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(e: &str, parts: &[&str]) {
    for p in parts {
        assert!(e.contains(p), "error {e:?} should mention {p:?}");
    }
    assert!(!e.contains('\n'), "one line: {e:?}");
}

#[test]
fn every_bad_input_is_an_error_naming_file_line_and_column() {
    let dir = Scratch::new("bad");
    let d = &dir.0;
    let tr = OpenBhbSplit::Train;

    // Missing files.
    Tree::valid().write(d);
    fs::remove_file(d.join("participants.tsv")).unwrap();
    assert_mentions(&load(d, tr).unwrap_err().to_string(), &["participants.tsv"]);
    Tree::valid().write(d);
    fs::remove_file(d.join(VBM)).unwrap();
    assert_mentions(
        &load(d, tr).unwrap_err().to_string(),
        &["cat12vbm_roi_features.csv"],
    );

    // Missing columns.
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("siteXacq", "site")
    });
    assert_mentions(
        &e,
        &["participants.tsv", "line 1", "missing column 'siteXacq'"],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("split", "fold")
    });
    assert_mentions(&e, &["participants.tsv", "missing column 'split'"]);
    let e = error_of(d, tr, |t| {
        t.train = t.train.replacen("participant_id", "id", 1)
    });
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 1",
            "missing column 'participant_id'",
        ],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("note", "age")
    });
    assert_mentions(&e, &["participants.tsv", "line 1", "'age' appears twice"]);

    // A participant without a feature row.
    let e = error_of(d, tr, |t| {
        t.train = t.train.replace(&format!("{}\n", feature_line("104")), "")
    });
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "'104'",
            "participants.tsv line 5",
        ],
    );

    // Duplicate ids.
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("\t104\t", "\t0101\t")
    });
    assert_mentions(
        &e,
        &[
            "participants.tsv",
            "line 5",
            "column 'participant_id'",
            "duplicate",
            "line 2",
        ],
    );
    let e = error_of(d, tr, |t| {
        t.train.push_str(&format!("{}\n", feature_line("104")))
    });
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 4",
            "duplicate participant_id '104'",
            "line 2",
        ],
    );

    // Missing and non-numeric values.
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("20.5", "twenty")
    });
    assert_mentions(
        &e,
        &[
            "participants.tsv",
            "line 2",
            "column 'age' (#2)",
            "'twenty' is not a number",
        ],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("20.5", "")
    });
    assert_mentions(
        &e,
        &[
            "participants.tsv",
            "line 2",
            "column 'age'",
            "missing value",
        ],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("20.5", "NaN")
    });
    assert_mentions(&e, &["line 2", "column 'age'", "missing value"]);
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("\t101\t", "\t\t")
    });
    assert_mentions(
        &e,
        &[
            "participants.tsv",
            "line 2",
            "column 'participant_id'",
            "missing value",
        ],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("male\t4", "unknown\t4")
    });
    assert_mentions(
        &e,
        &["line 5", "column 'sex'", "neither 'female' nor 'male'"],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("male\t4", "male\t4.5")
    });
    assert_mentions(&e, &["line 5", "column 'siteXacq'", "not an integer"]);
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("internal_test", "internal")
    });
    assert_mentions(
        &e,
        &[
            "participants.tsv",
            "line 3",
            "column 'split'",
            "unknown split 'internal'",
        ],
    );
    let e = error_of(d, tr, |t| t.train = t.train.replacen(",7.5,", ",seven,", 1));
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 2",
            "column 'f4' (#7)",
            "'seven' is not a number",
        ],
    );
    let e = error_of(d, tr, |t| t.train = t.train.replacen(",7.5,", ",,", 1));
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 2",
            "column 'f4'",
            "missing value",
        ],
    );
    let e = error_of(d, tr, |t| t.train = t.train.replacen(",7.5,", ",1e999,", 1));
    assert_mentions(&e, &["line 2", "column 'f4'", "non-finite"]);

    // Wrong column counts.
    let e = error_of(d, tr, |t| t.train = t.train.replacen(",7.5,", ",7.5,8,", 1));
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 2",
            "expected 286 fields",
            "found 287",
        ],
    );
    let e = error_of(d, tr, |t| t.train = t.train.replacen(",7.5,", ",", 1));
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 2",
            "expected 286 fields",
            "found 285",
        ],
    );
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("\t8\t", "\t8\t\t")
    });
    assert_mentions(
        &e,
        &["participants.tsv", "line 5", "expected 6 fields", "found 7"],
    );
    let e = error_of(d, tr, |t| t.train = t.train.replacen(",f283", "", 1));
    assert_mentions(
        &e,
        &[
            "cat12vbm_roi_features.csv",
            "line 1",
            "283 feature columns",
            "expected 284",
        ],
    );

    // Malformed text.
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("\tx\t104", "\t\"x\t104")
    });
    assert_mentions(&e, &["participants.tsv", "line 5", "never closed"]);
    let e = error_of(d, tr, |t| {
        t.participants = t.participants.replace("\tx\t104", "\t\"x\"y\t104")
    });
    assert_mentions(
        &e,
        &[
            "participants.tsv",
            "line 5",
            "column 3",
            "after the closing quote",
        ],
    );
    let e = error_of(d, tr, |t| t.participants = String::new());
    assert_mentions(&e, &["participants.tsv", "empty file"]);
    let mut t = Tree::valid();
    t.write(d);
    let mut bytes = t.participants.clone().into_bytes();
    bytes[60] = 0xFF;
    fs::write(d.join("participants.tsv"), bytes).unwrap();
    t.participants.clear();
    assert_mentions(
        &load(d, tr).unwrap_err().to_string(),
        &["participants.tsv", "invalid UTF-8"],
    );

    // Bad arguments.
    Tree::valid().write(d);
    let e = OpenBhb::new(d, Modality::VbmRoi, &[Target::Age, Target::Age], tr).unwrap_err();
    assert_mentions(&e.to_string(), &["'age' requested twice"]);
    assert!("quasiraw".parse::<Modality>().is_err());
    assert!("test".parse::<OpenBhbSplit>().is_err());
    assert!("diagnosis".parse::<Target>().is_err());
    // The wrong modality's table is missing.
    let e = OpenBhb::new(d, Modality::FsDesikanRoi, &[], tr)
        .unwrap_err()
        .to_string();
    assert_mentions(&e, &["desikan_roi_features.csv"]);
}

/// Random edits biased towards the characters the parser cares about.
fn mutate(rng: &mut Lcg, text: &[u8]) -> Vec<u8> {
    const SPECIAL: &[u8] = b"\"\",\t\n\r0123456789.-e \xFF\xC3\xA9\xEF\xBB\xBFx";
    let mut b = text.to_vec();
    for _ in 0..1 + rng.below(6) {
        let pos = rng.below(b.len() + 1);
        let c = SPECIAL[rng.below(SPECIAL.len())];
        match rng.below(5) {
            0 if pos < b.len() => b[pos] = c,
            1 => b.insert(pos, c),
            2 if pos < b.len() => {
                b.remove(pos);
            }
            3 => b.truncate(pos),
            _ => {
                let len = rng.below(8);
                let from = rng.below(b.len() + 1);
                let chunk: Vec<u8> = b[from..(from + len).min(b.len())].to_vec();
                b.splice(pos..pos, chunk);
            }
        }
    }
    b
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    let dir = Scratch::new("fuzz");
    let mut rng = Lcg(0x5EED);
    let valid = Tree::valid();
    let (mut ok, mut err) = (0, 0);
    for i in 0..1500 {
        valid.write(&dir.0);
        let which = rng.below(3);
        if which != 1 {
            fs::write(
                dir.0.join("participants.tsv"),
                mutate(&mut rng, valid.participants.as_bytes()),
            )
            .unwrap();
        }
        if which != 0 {
            fs::write(dir.0.join(VBM), mutate(&mut rng, valid.train.as_bytes())).unwrap();
        }
        let split = OpenBhbSplit::ALL[rng.below(4)];
        let targets = [Target::Age, Target::Sex, Target::Site];
        let targets = &targets[..rng.below(4)];
        match OpenBhb::new(&dir.0, Modality::VbmRoi, targets, split) {
            Ok(d) => {
                check_loaded(&d, targets);
                ok += 1
            }
            Err(e) => {
                assert!(!e.to_string().is_empty(), "iteration {i}");
                err += 1;
            }
        }
    }
    // Pure noise and edited valid tables through the table reader, both delimiters.
    let (mut rows_ok, mut rows_err) = (0, 0);
    for round in 0..4000 {
        let bytes: Vec<u8> = match round % 3 {
            0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            1 => {
                let noise: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                mutate(&mut rng, &noise)
            }
            _ => mutate(&mut rng, valid.participants.as_bytes()),
        };
        let Some(t) = check_table(&bytes, &mut rng) else {
            continue;
        };
        rows_ok += t.0;
        rows_err += t.1;
    }
    eprintln!(
        "fuzzed loads: {ok} succeeded, {err} failed cleanly; table rows: {rows_ok} read, \
         {rows_err} refused"
    );
    assert!(ok > 0 && err > 0, "{ok} loads succeeded, {err} failed");
    assert!(
        rows_ok > 0 && rows_err > 0,
        "{rows_ok} rows read, {rows_err} refused"
    );
}

/// A loaded split is consistent: one id, one feature row and one target row per participant,
/// ids unique, targets finite and sex 0 or 1.
fn check_loaded(d: &OpenBhb, targets: &[Target]) {
    let n = d.len();
    assert_eq!(d.participant_ids().len(), n);
    assert_eq!(d.features().shape(), &[n, 284]);
    assert_eq!(d.targets().shape(), &[n, targets.len()]);
    assert_eq!(d.target_kinds(), targets);
    let ids: HashSet<&String> = d.participant_ids().iter().collect();
    assert_eq!(ids.len(), n, "duplicate ids in {:?}", d.participant_ids());
    assert!(d.features().data().unwrap().iter().all(|v| v.is_finite()));
    assert!(d.targets().data().unwrap().iter().all(|v| v.is_finite()));
    if let Some(sex) = d.target(Target::Sex) {
        assert!(sex.iter().all(|&s| s == 0.0 || s == 1.0), "{sex:?}");
    }
}

/// Parses `bytes` as a table (either delimiter); when accepted, checks every record read has the
/// header's width and column lookups agree with the header. Returns the records read and
/// refused, or `None` when the text or the table was refused (with a format error).
fn check_table(bytes: &[u8], rng: &mut Lcg) -> Option<(usize, usize)> {
    let path = Path::new("noise.csv");
    let text = match text_from_bytes(bytes.to_vec(), path) {
        Ok(text) => text,
        Err(e) => {
            assert!(matches!(e, nidl::Error::Format { .. }), "{e:?}");
            return None;
        }
    };
    let delimiter = if rng.below(2) == 0 { b',' } else { b'\t' };
    let t = match Table::parse(&text, delimiter, path) {
        Ok(t) => t,
        Err(e) => {
            assert!(matches!(e, nidl::Error::Format { .. }), "{e:?}");
            return None;
        }
    };
    let width = t.header().len();
    assert!(width >= 1);
    let (mut read, mut refused) = (0, 0);
    let mut last_line = 1;
    for r in t.records() {
        assert!(r.line > last_line, "record lines go forward");
        last_line = r.line;
        match t.fields(r) {
            Ok(fields) => {
                assert_eq!(fields.len(), width, "line {}", r.line);
                let again: Vec<_> = t.field_iter(r).map(Result::unwrap).collect();
                assert_eq!(again, fields, "line {}", r.line);
                read += 1;
            }
            Err(e) => {
                assert!(matches!(e, nidl::Error::Format { .. }), "{e:?}");
                refused += 1;
            }
        }
    }
    for name in ["a", "participant_id", "age"] {
        let count = t.header().iter().filter(|h| *h == name).count();
        match t.optional_column(name) {
            Ok(Some(i)) => assert!(t.header()[i] == name && count == 1),
            Ok(None) => assert_eq!(count, 0),
            Err(_) => assert!(count > 1),
        }
    }
    Some((read, refused))
}
