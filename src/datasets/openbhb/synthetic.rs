//! A synthetic OpenBHB: simulated subjects written in the published layout, clearly labelled.
//!
//! The real OpenBHB cannot be downloaded here, so the commands that use it default to a simulated
//! data set laid out exactly like it (participants.tsv and the three ROI tables of both splits,
//! read by [`OpenBhb`](super::OpenBhb) like the real one) with a `README.txt` in its root saying,
//! first line, that it is **synthetic**. Nothing in it comes from a real person or scan.
//!
//! # What is simulated
//!
//! - **Cohorts and sites.** Ten studies modelled on OpenBHB's (child, young-adult, mixed and
//!   lifespan cohorts, each with its own age distribution and sex ratio) spread over 64
//!   site × acquisition settings (`siteXacq`), of which 6 are held out: `external_test` subjects
//!   come only from them, `train` and `internal_test` subjects only from the other 58. As in the
//!   real data, one external setting shares its physical `site` with a training one.
//! - **Demographics.** Ages 6–88 skewed young (mean ≈ 27 years), sex about balanced (≈ 47 %
//!   female); total intracranial volume larger in males (≈ 1540 vs 1380 cm³) and smaller in
//!   young children.
//! - **Brain age.** The features follow each subject's *brain* age: the chronological age plus
//!   an individual gap (standard deviation 3 + 0.08 × age years), which nothing in the data reveals
//!   — the main reason age cannot be decoded perfectly, as with real scans.
//! - **vbm_roi.** 142 grey-matter volumes that shrink with age (fast in adolescence, then
//!   steadily, faster after 60; each region with its own rate, 5–50 % of its volume per 60 years)
//!   and 142 CSF volumes that grow with age (accelerating late in life), all scaling with head
//!   size, with small sex effects beyond head size, three subject-level latent factors unrelated to
//!   age, the acquisition-site effects below, per-site noise levels and per-measurement noise.
//! - **Acquisition-site effects** (since v2), what y-Aware learning is meant to see through: each
//!   site setting scales its subjects' volumes by
//!   - a global GM offset (sd 4 %) and CSF offset (sd 6 %);
//!   - a tissue-contrast shift `c` (sd 8 %) of the GM/CSF segmentation: GM × (1 + c), CSF ×
//!     (1 − 1.5 c);
//!   - a gain on each of 12 groups of regions (lobe-like, fixed by the seed; sd 10 %, GM and CSF
//!     groups apart);
//!   - a gain on each single region (sd 3 %).
//!
//!   Among 18–30-year-olds about half of the variance of total GM, and most of that of the GM/CSF
//!   ratio, lies between sites (`tests/openbhb.rs` checks both). Sites are unevenly spread over
//!   age, as in OpenBHB: each belongs to one cohort and draws its subjects from that cohort's age
//!   profile, so child, student and lifespan sites differ in age and in acquisition at once.
//! - **FreeSurfer tables.** 7 measures (surface area, grey-matter volume, mean thickness,
//!   thickness standard deviation, mean and Gaussian curvature, curvature index) on 68 Desikan and
//!   148 Destrieux regions (left hemisphere first), channel-major as nidl reshapes them; cortex
//!   thins with age, area scales with head size, sites add offsets.
//!
//! Age and sex are therefore decodable from the features, but not trivially: with seed 42, a ridge
//! regression (α = 1, standardised features) fitted on the `vbm_roi` training split reaches R² ≈
//! 0.79 on `val` (0.83 internal, 0.74 external) for age, and a least-squares classifier ≈ 79 %
//! accuracy for sex, which is partly confounded with head size (the test suite requires
//! 0.3 < R² < 0.95).
//!
//! Version 1 (site offsets only, GM decline 2–30 % per 60 years) gave the default
//! `nidl yaware-openbhb` run probe curves that fell (`task0/R2` 0.667 → 0.650 over 10 epochs);
//! on version 2 they rise: 0.712 → 0.718, `task0/MAE` 5.92 → 5.73, `task1/accuracy` 0.721 →
//! 0.741 (README, Gallery, for the measurements and their limits).
//!
//! # Determinism
//!
//! Every random draw comes from a ChaCha generator (`rand`'s `StdRng`) seeded from the seed and
//! the draw's purpose (per site, per subject and modality), so the same seed and sizes give
//! byte-identical files for any thread count. Files are written into a temporary folder beside the
//! target, which is then renamed into place: the target is either absent or complete.

use super::{Modality, SplitLabel, PARTICIPANTS_FILE};
use crate::atomic_file::{partial_dir_name, remove_stale_temporaries};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, LogNormal, Normal};
use rayon::prelude::*;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Version of the simulation; part of [`ensure_synthetic`]'s folder name, so a changed generator
/// never reuses an old cache.
pub const GENERATOR_VERSION: u32 = 2;

/// The file in the generated root that says the data are synthetic.
pub const README_FILE: &str = "README.txt";

/// The first line of [`README_FILE`].
pub const SYNTHETIC_BANNER: &str = "SYNTHETIC DATA - simulated by nidl, NOT the OpenBHB data set.";

/// Largest total number of participants [`generate`] accepts.
pub const MAX_PARTICIPANTS: usize = 1_000_000;

/// What to generate: the seed and the size of each split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Participants with `split` = `train` (OpenBHB: 3 227).
    pub n_train: usize,
    /// Participants with `split` = `internal_test` (OpenBHB: 362).
    pub n_internal: usize,
    /// Participants with `split` = `external_test` (OpenBHB: 395).
    pub n_external: usize,
}

impl Default for SyntheticConfig {
    /// OpenBHB's sizes (3 227 / 362 / 395) with seed 42.
    fn default() -> Self {
        SyntheticConfig {
            seed: 42,
            n_train: 3227,
            n_internal: 362,
            n_external: 395,
        }
    }
}

impl SyntheticConfig {
    /// OpenBHB's sizes with the given seed.
    pub fn with_seed(seed: u64) -> Self {
        SyntheticConfig {
            seed,
            ..SyntheticConfig::default()
        }
    }

    /// The total number of participants.
    pub fn total(&self) -> usize {
        self.n_train
            .saturating_add(self.n_internal)
            .saturating_add(self.n_external)
    }

    /// Checks the sizes: at least one training participant, at most [`MAX_PARTICIPANTS`] in all.
    pub fn validate(&self) -> Result<()> {
        if self.n_train == 0 {
            return Err(Error::invalid(
                "SyntheticConfig",
                "n_train (--train) must be at least 1",
            ));
        }
        if self.total() > MAX_PARTICIPANTS {
            return Err(Error::invalid(
                "SyntheticConfig",
                format!(
                    "{} participants in all, at most {MAX_PARTICIPANTS} are supported",
                    self.total()
                ),
            ));
        }
        Ok(())
    }

    /// The text of the generated `README.txt`.
    pub fn readme(&self) -> String {
        format!(
            "{SYNTHETIC_BANNER}\n\n\
             Every value in this folder is simulated; no real person or scan is behind any row.\n\
             Do not report results computed on it as OpenBHB results.\n\n\
             Generator: nidl synthetic OpenBHB v{GENERATOR_VERSION}, seed {seed}.\n\
             Participants: {t} train, {i} internal_test, {e} external_test.\n\n\
             The layout is that of the published OpenBHB (Dufumier et al., NeuroImage 2022):\n  \
             participants.tsv\n      \
             participant_id, study, sex, age, site, diagnosis, tiv, csfv, gmv, wmv,\n      \
             magnetic_field_strength, acquisition_setting, siteXacq, split\n  \
             {{train,val}}/{vbm}\n      \
             participant_id, session, 142 grey-matter then 142 CSF volumes (cm3)\n  \
             {{train,val}}/{desikan}\n      \
             participant_id, session, 7 measures x 68 regions (channel-major)\n  \
             {{train,val}}/{destrieux}\n      \
             participant_id, session, 7 measures x 148 regions (channel-major)\n\n\
             Simulated structure: 64 site x acquisition settings (6 only in external_test), ages\n\
             6-88 skewed young, balanced sex, head size larger in males, grey matter shrinking and\n\
             CSF growing with age, cortex thinning with age; per site: GM and CSF offsets, a\n\
             GM/CSF contrast shift, gains on 12 region groups and on each region, noise level.\n",
            seed = self.seed,
            t = self.n_train,
            i = self.n_internal,
            e = self.n_external,
            vbm = Modality::VbmRoi.relative_path(),
            desikan = Modality::FsDesikanRoi.relative_path(),
            destrieux = Modality::FsDestrieuxRoi.relative_path(),
        )
    }
}

/// The folder [`ensure_synthetic`] caches data sets under by default: `$XDG_CACHE_HOME/nidl`,
/// else `$HOME/.cache/nidl`, else `nidl-cache` in the system's temporary folder.
pub fn synthetic_cache_dir() -> PathBuf {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(x) = non_empty("XDG_CACHE_HOME") {
        return x.join("nidl");
    }
    if let Some(h) = non_empty("HOME") {
        return h.join(".cache").join("nidl");
    }
    std::env::temp_dir().join("nidl-cache")
}

/// The folder [`ensure_synthetic`] uses for `seed` under `dir`:
/// `dir/openbhb-synthetic-v<GENERATOR_VERSION>-seed<seed>`.
pub fn synthetic_root(dir: &Path, seed: u64) -> PathBuf {
    dir.join(format!("openbhb-synthetic-v{GENERATOR_VERSION}-seed{seed}"))
}

/// Whether `root` holds a complete synthetic data set generated with `config` (its README matches).
pub fn is_generated(root: &Path, config: &SyntheticConfig) -> bool {
    match fs::read_to_string(root.join(README_FILE)) {
        Ok(text) => text == config.readme() && root.join(PARTICIPANTS_FILE).is_file(),
        Err(_) => false,
    }
}

/// Returns the synthetic OpenBHB for `seed` (full OpenBHB sizes) under `dir`, generating it there
/// first if it is not already: the root is [`synthetic_root`]`(dir, seed)`. Safe to call from
/// several processes at once (one generation wins the atomic rename, the others use it). A folder
/// of that name that is not a complete data set from this generator is an error, not overwritten.
pub fn ensure_synthetic(dir: &Path, seed: u64) -> Result<PathBuf> {
    let config = SyntheticConfig::with_seed(seed);
    let root = synthetic_root(dir, seed);
    if is_generated(&root, &config) {
        return Ok(root);
    }
    if root.exists() {
        return Err(Error::invalid(
            "ensure_synthetic",
            format!(
                "{} exists but is not a complete synthetic OpenBHB from this generator \
                 ({README_FILE} missing or different); remove it to regenerate",
                root.display()
            ),
        ));
    }
    match generate(&root, &config) {
        Ok(()) => Ok(root),
        Err(_) if is_generated(&root, &config) => Ok(root),
        Err(e) => Err(e),
    }
}

/// Writes a synthetic OpenBHB described by `config` to `out` (which must not exist, or be an empty
/// folder), atomically: everything is written into a temporary folder beside `out`, then renamed.
pub fn generate(out: &Path, config: &SyntheticConfig) -> Result<()> {
    config.validate()?;
    if let Ok(mut entries) = fs::read_dir(out) {
        if entries.next().is_some() {
            return Err(Error::invalid(
                "synthetic::generate",
                format!(
                    "{} exists and is not empty; refusing to overwrite it",
                    out.display()
                ),
            ));
        }
    } else if out.exists() {
        return Err(Error::invalid(
            "synthetic::generate",
            format!("{} exists and is not a folder", out.display()),
        ));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "openbhb".to_string());
    // Partial folders of generations that were killed: no process will finish them.
    remove_stale_temporaries(&parent);
    let tmp = TempDir(parent.join(partial_dir_name(&name)), false);
    fs::create_dir(&tmp.0).map_err(|e| Error::io(&tmp.0, e))?;

    write_tree(&tmp.0, config)?;

    // An empty target folder is replaced (rename cannot replace a folder everywhere).
    if out.is_dir() {
        fs::remove_dir(out).map_err(|e| Error::io(out, e))?;
    }
    fs::rename(&tmp.0, out).map_err(|e| Error::io(out, e))?;
    tmp.keep();
    Ok(())
}

/// A folder removed on drop unless kept.
struct TempDir(PathBuf, bool);

impl TempDir {
    fn keep(mut self) {
        self.1 = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.1 {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulation.

/// Grey-matter (and CSF) regions of the Neuromorphometrics atlas in `vbm_roi`.
const N_VBM_REGIONS: usize = 142;
/// Subject-level latent factors (individual variation unrelated to age).
const N_LATENT: usize = 3;
/// Region groups (lobe-like sets of regions) that a site's acquisition scales together.
const N_GROUPS: usize = 12;
/// Standard deviation of a site's tissue-contrast shift ([`Site::contrast`]).
const SITE_CONTRAST_SD: f64 = 0.08;
/// How much more a contrast shift moves CSF volumes than GM ones, in the other direction.
const CONTRAST_CSF: f64 = 1.5;
/// Standard deviation of a site's gain on each region group ([`Site::group_gain`]).
const SITE_GROUP_SD: f64 = 0.10;
/// The seven FreeSurfer measures, in channel order.
const FS_CHANNELS: [&str; 7] = [
    "area",
    "volume",
    "thickness",
    "thickness_std",
    "mean_curv",
    "gauss_curv",
    "curv_index",
];
/// Rows formatted per rayon task, and rows per block written to disk (bounded memory).
const ROWS_PER_TASK: usize = 32;
const ROWS_PER_BLOCK: usize = 1024;

/// Purposes of the random streams (mixed into each generator's seed).
const STREAM_ATLAS: u64 = 1;
const STREAM_SITES: u64 = 2;
const STREAM_SUBJECTS: u64 = 3;
const STREAM_VBM: u64 = 4;
const STREAM_DESIKAN: u64 = 5;
const STREAM_DESTRIEUX: u64 = 6;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for `purpose` and `index` under `seed`.
fn stream(seed: u64, purpose: u64, index: u64) -> StdRng {
    StdRng::seed_from_u64(mix(seed ^ mix(purpose ^ mix(index))))
}

/// Shape of a cohort's age distribution.
#[derive(Clone, Copy)]
enum AgeProfile {
    /// 6 + Gamma(2.2, 4.5), up to 64 (ABIDE-like: mostly children and adolescents).
    Child,
    /// 18 + Gamma(1.6, 3.5), up to 45 (GSP-like: students).
    YoungAdult,
    /// 6 + Gamma(1.2, 20), up to 88 (CoRR-like).
    Mixed,
    /// Uniform on 20–86 (IXI-like).
    Lifespan,
}

/// A cohort: name, age profile, probability of a female participant, number of site settings and
/// share of the participants.
struct Study {
    profile: AgeProfile,
    female: f64,
    n_sites: usize,
    share: f64,
}

/// Ten cohorts modelled on OpenBHB's (ABIDE I, ABIDE II, CoRR, GSP, IXI, Localizer, MPI-Leipzig,
/// NAR, NPC, RBP); 64 site settings in all.
const STUDIES: [Study; 10] = [
    Study {
        profile: AgeProfile::Child,
        female: 0.25,
        n_sites: 14,
        share: 0.14,
    },
    Study {
        profile: AgeProfile::Child,
        female: 0.35,
        n_sites: 14,
        share: 0.14,
    },
    Study {
        profile: AgeProfile::Mixed,
        female: 0.50,
        n_sites: 14,
        share: 0.16,
    },
    Study {
        profile: AgeProfile::YoungAdult,
        female: 0.58,
        n_sites: 4,
        share: 0.30,
    },
    Study {
        profile: AgeProfile::Lifespan,
        female: 0.55,
        n_sites: 3,
        share: 0.10,
    },
    Study {
        profile: AgeProfile::YoungAdult,
        female: 0.50,
        n_sites: 4,
        share: 0.03,
    },
    Study {
        profile: AgeProfile::Lifespan,
        female: 0.45,
        n_sites: 2,
        share: 0.05,
    },
    Study {
        profile: AgeProfile::YoungAdult,
        female: 0.55,
        n_sites: 3,
        share: 0.03,
    },
    Study {
        profile: AgeProfile::YoungAdult,
        female: 0.50,
        n_sites: 3,
        share: 0.02,
    },
    Study {
        profile: AgeProfile::Lifespan,
        female: 0.50,
        n_sites: 3,
        share: 0.03,
    },
];
/// Site settings only seen in `external_test`.
const N_EXTERNAL_SITES: usize = 6;

/// One site × acquisition setting and its measurement effects.
struct Site {
    /// `siteXacq`.
    code: u32,
    /// Physical `site` code.
    physical: u32,
    study: usize,
    acquisition: u32,
    field_strength: f64,
    weight: f64,
    external: bool,
    /// Global relative offsets of GM and CSF volumes.
    gm_bias: f64,
    csf_bias: f64,
    /// Relative offset of each vbm_roi feature.
    region_bias: Vec<f64>,
    /// Tissue-contrast shift of the segmentation: GM volumes scaled by `1 + contrast`, CSF by
    /// `1 − CONTRAST_CSF · contrast`.
    contrast: f64,
    /// Relative gain of each region group, GM groups then CSF groups (`2 × N_GROUPS`).
    group_gain: Vec<f64>,
    /// Noise multiplier (scanner quality).
    noise: f64,
    /// FreeSurfer: thickness offset (mm) and relative area offset.
    thickness_bias: f64,
    area_bias: f64,
}

/// Region parameters of one FreeSurfer atlas.
struct FsAtlas {
    n_regions: usize,
    area: Vec<f64>,
    thickness: Vec<f64>,
    thinning: Vec<f64>,
    thickness_std: Vec<f64>,
    mean_curv: Vec<f64>,
    gauss_curv: Vec<f64>,
    curv_index: Vec<f64>,
}

/// Region parameters of the simulation.
struct Atlas {
    gm_base: Vec<f64>,
    csf_base: Vec<f64>,
    /// Weight of the adolescent GM decline and of the adult one, per region.
    gm_young: Vec<f64>,
    gm_aging: Vec<f64>,
    csf_aging: Vec<f64>,
    /// Exponent of head size per GM region.
    head_exp: Vec<f64>,
    /// Relative female effect beyond head size, per vbm_roi feature.
    sex_effect: Vec<f64>,
    /// Loadings of the latent factors, per vbm_roi feature.
    loadings: Vec<[f64; N_LATENT]>,
    /// The group (`0..N_GROUPS`) of each region.
    group: Vec<usize>,
    desikan: FsAtlas,
    destrieux: FsAtlas,
}

/// One simulated participant.
struct Subject {
    index: usize,
    id: u64,
    label: SplitLabel,
    site: usize,
    age: f64,
    /// Age as the features show it (age plus an individual brain-age gap).
    brain_age: f64,
    female: bool,
    tiv: f64,
    latent: [f64; N_LATENT],
}

fn normal(mean: f64, sd: f64) -> Normal<f64> {
    // Constant, finite, non-negative parameters: construction cannot fail.
    Normal::new(mean, sd).unwrap_or_else(|_| unreachable!("valid normal parameters"))
}

fn lognormal(mu: f64, sigma: f64) -> LogNormal<f64> {
    LogNormal::new(mu, sigma).unwrap_or_else(|_| unreachable!("valid log-normal parameters"))
}

fn gamma(shape: f64, scale: f64) -> Gamma<f64> {
    Gamma::new(shape, scale).unwrap_or_else(|_| unreachable!("valid gamma parameters"))
}

/// Relative GM change of childhood and adolescence: 1 at age 6, fading by the twenties.
fn young(age: f64) -> f64 {
    (-(age - 6.0) / 6.0).exp()
}

/// Relative change of adulthood: 0 at 25, linear, steeper after 60.
fn aging(age: f64) -> f64 {
    let late = (age - 60.0).max(0.0) / 30.0;
    (age - 25.0) / 60.0 + 0.5 * late * late
}

/// CSF growth: 0 at 25, accelerating after 50.
fn csf_growth(age: f64) -> f64 {
    let late = (age - 50.0).max(0.0) / 30.0;
    (age - 25.0) / 60.0 + 0.8 * late * late
}

fn fs_atlas(rng: &mut StdRng, n_regions: usize, mean_area: f64) -> FsAtlas {
    let half = n_regions / 2;
    // Bilateral regions share their parameters up to a small asymmetry.
    let mut bilateral = |dist: &dyn Fn(&mut StdRng) -> f64, asym: f64| -> Vec<f64> {
        let base: Vec<f64> = (0..half).map(|_| dist(rng)).collect();
        (0..n_regions)
            .map(|r| base[r % half] * (1.0 + asym * normal(0.0, 1.0).sample(rng)))
            .collect()
    };
    FsAtlas {
        n_regions,
        area: bilateral(&|r| lognormal(mean_area.ln(), 0.5).sample(r), 0.05),
        thickness: bilateral(&|r| r.gen_range(2.0..3.3), 0.02),
        thinning: bilateral(&|r| r.gen_range(0.3..1.5), 0.1),
        thickness_std: bilateral(&|r| r.gen_range(0.45..0.8), 0.03),
        mean_curv: bilateral(&|r| r.gen_range(0.10..0.17), 0.03),
        gauss_curv: bilateral(&|r| r.gen_range(0.12..0.32), 0.05),
        curv_index: bilateral(&|r| r.gen_range(0.8..3.5), 0.05),
    }
}

fn atlas(seed: u64) -> Atlas {
    let mut rng = stream(seed, STREAM_ATLAS, 0);
    let n = N_VBM_REGIONS;
    let gm_base: Vec<f64> = (0..n)
        .map(|_| lognormal(1.2, 0.7).sample(&mut rng))
        .collect();
    let csf_base: Vec<f64> = (0..n)
        .map(|_| lognormal(0.2, 0.8).sample(&mut rng))
        .collect();
    let gm_young = (0..n).map(|_| rng.gen_range(0.0..0.2)).collect();
    let gm_aging = (0..n).map(|_| rng.gen_range(0.05..0.5)).collect();
    let csf_aging = (0..n)
        .map(|_| lognormal(-1.2, 0.6).sample(&mut rng))
        .collect();
    let head_exp = (0..n).map(|_| rng.gen_range(0.8..1.1)).collect();
    let sex_effect = (0..2 * n)
        .map(|_| normal(0.0, 0.006).sample(&mut rng))
        .collect();
    let loadings = (0..2 * n)
        .map(|_| {
            let mut l = [0.0; N_LATENT];
            for v in &mut l {
                *v = normal(0.0, 0.05).sample(&mut rng);
            }
            l
        })
        .collect();
    let group = (0..n).map(|_| rng.gen_range(0..N_GROUPS)).collect();
    let desikan = fs_atlas(&mut rng, 68, 2500.0);
    let destrieux = fs_atlas(&mut rng, 148, 1100.0);
    Atlas {
        gm_base,
        csf_base,
        gm_young,
        gm_aging,
        csf_aging,
        head_exp,
        sex_effect,
        loadings,
        group,
        desikan,
        destrieux,
    }
}

fn sites(seed: u64) -> Vec<Site> {
    let mut rng = stream(seed, STREAM_SITES, 0);
    let total: usize = STUDIES.iter().map(|s| s.n_sites).sum();
    let mut codes: Vec<u32> = (0..total as u32).collect();
    codes.shuffle(&mut rng);
    let mut out = Vec::with_capacity(total);
    for (study_index, study) in STUDIES.iter().enumerate() {
        for _ in 0..study.n_sites {
            let i = out.len();
            out.push(Site {
                code: codes[i],
                physical: codes[i],
                study: study_index,
                acquisition: 1,
                field_strength: if rng.gen_bool(0.7) { 3.0 } else { 1.5 },
                weight: study.share / study.n_sites as f64 * lognormal(0.0, 0.5).sample(&mut rng),
                external: false,
                gm_bias: normal(0.0, 0.04).sample(&mut rng),
                csf_bias: normal(0.0, 0.06).sample(&mut rng),
                region_bias: (0..2 * N_VBM_REGIONS)
                    .map(|_| normal(0.0, 0.03).sample(&mut rng))
                    .collect(),
                contrast: normal(0.0, SITE_CONTRAST_SD).sample(&mut rng),
                group_gain: (0..2 * N_GROUPS)
                    .map(|_| normal(0.0, SITE_GROUP_SD).sample(&mut rng))
                    .collect(),
                noise: rng.gen_range(0.8..1.3),
                thickness_bias: normal(0.0, 0.06).sample(&mut rng),
                area_bias: normal(0.0, 0.04).sample(&mut rng),
            });
        }
    }
    // Held-out settings: never the only setting of a study, so every cohort stays in training.
    let mut order: Vec<usize> = (0..total).collect();
    order.shuffle(&mut rng);
    let mut external = Vec::new();
    for i in order {
        if external.len() == N_EXTERNAL_SITES {
            break;
        }
        let study = out[i].study;
        let left = out
            .iter()
            .filter(|s| s.study == study && !s.external)
            .count();
        if left > 1 {
            out[i].external = true;
            external.push(i);
        }
    }
    // One held-out setting is a new acquisition at a training site, as in OpenBHB; so is one
    // training setting of each of the first two studies.
    let share = |a: usize, b: usize, sites: &mut [Site]| {
        sites[b].physical = sites[a].physical;
        sites[b].acquisition = sites[a].acquisition + 1;
    };
    if let Some(&e) = external.first() {
        let study = out[e].study;
        if let Some(t) = (0..total).find(|&t| out[t].study == study && !out[t].external) {
            share(t, e, &mut out);
        }
    }
    for study in 0..2 {
        let train: Vec<usize> = (0..total)
            .filter(|&t| out[t].study == study && !out[t].external)
            .collect();
        if train.len() >= 2 {
            share(train[0], train[1], &mut out);
        }
    }
    out
}

/// Draws from `weights` (not all zero).
fn pick(rng: &mut StdRng, candidates: &[usize], weights: &[f64]) -> usize {
    let total: f64 = candidates.iter().map(|&i| weights[i]).sum();
    let mut u = rng.gen::<f64>() * total;
    for &i in candidates {
        u -= weights[i];
        if u < 0.0 {
            return i;
        }
    }
    candidates[candidates.len() - 1]
}

fn draw_age(rng: &mut StdRng, profile: AgeProfile) -> f64 {
    for _ in 0..64 {
        let (age, max) = match profile {
            AgeProfile::Child => (6.0 + gamma(2.2, 4.5).sample(rng), 64.0),
            AgeProfile::YoungAdult => (18.0 + gamma(1.6, 3.5).sample(rng), 45.0),
            AgeProfile::Mixed => (6.0 + gamma(1.2, 20.0).sample(rng), 88.0),
            AgeProfile::Lifespan => (rng.gen_range(20.0..86.0), 88.0),
        };
        if age <= max {
            return (age * 100.0).round() / 100.0;
        }
    }
    30.0
}

fn subjects(config: &SyntheticConfig, sites: &[Site]) -> Vec<Subject> {
    let mut rng = stream(config.seed, STREAM_SUBJECTS, 0);
    let weights: Vec<f64> = sites.iter().map(|s| s.weight).collect();
    let mut internal: Vec<usize> = (0..sites.len()).filter(|&i| !sites[i].external).collect();
    let external: Vec<usize> = (0..sites.len()).filter(|&i| sites[i].external).collect();
    let mut train_sites = vec![false; sites.len()];
    let labels = std::iter::repeat_n(SplitLabel::Train, config.n_train)
        .chain(std::iter::repeat_n(
            SplitLabel::InternalTest,
            config.n_internal,
        ))
        .chain(std::iter::repeat_n(
            SplitLabel::ExternalTest,
            config.n_external,
        ));
    let mut ids = HashSet::with_capacity(config.total());
    let mut out = Vec::with_capacity(config.total());
    for (index, label) in labels.enumerate() {
        if index == config.n_train {
            // internal_test comes from the settings training has seen.
            internal.retain(|&i| train_sites[i]);
        }
        let candidates = if label == SplitLabel::ExternalTest {
            &external
        } else {
            &internal
        };
        let site = pick(&mut rng, candidates, &weights);
        if label == SplitLabel::Train {
            train_sites[site] = true;
        }
        let study = &STUDIES[sites[site].study];
        let age = draw_age(&mut rng, study.profile);
        let female = rng.gen_bool(study.female);
        let (mean, sd) = if female {
            (1380.0, 110.0)
        } else {
            (1540.0, 120.0)
        };
        let growth = if age < 12.0 {
            0.93 + 0.07 * (age - 6.0) / 6.0
        } else {
            1.0
        };
        let tiv = (normal(mean, sd).sample(&mut rng) * growth).max(900.0);
        // The brain's apparent age: chronological age plus an individual gap that no feature
        // can tell from age (its spread grows with age, as brain-age studies report).
        let brain_age = (age + normal(0.0, 3.0 + 0.08 * age).sample(&mut rng)).max(4.0);
        let mut latent = [0.0; N_LATENT];
        for v in &mut latent {
            *v = normal(0.0, 1.0).sample(&mut rng);
        }
        // Anonymised 12-digit ids, as in OpenBHB.
        let id = loop {
            let id = rng.gen_range(100_000_000_000u64..1_000_000_000_000);
            if ids.insert(id) {
                break id;
            }
        };
        out.push(Subject {
            index,
            id,
            label,
            site,
            age,
            brain_age,
            female,
            tiv,
            latent,
        });
    }
    out
}

/// The 284 vbm_roi volumes (cm³) of one subject: 142 GM then 142 CSF.
fn vbm_row(seed: u64, atlas: &Atlas, site: &Site, s: &Subject, out: &mut Vec<f64>) {
    let mut rng = stream(seed, STREAM_VBM, s.index as u64);
    let noise = normal(0.0, 0.06 * site.noise);
    let head = s.tiv / 1460.0;
    let sex = if s.female { 1.0 } else { 0.0 };
    out.clear();
    for j in 0..2 * N_VBM_REGIONS {
        let r = j % N_VBM_REGIONS;
        let latent: f64 = (0..N_LATENT)
            .map(|k| atlas.loadings[j][k] * s.latent[k])
            .sum();
        let common = (1.0 + sex * atlas.sex_effect[j])
            * (1.0 + site.region_bias[j])
            * (1.0 + latent)
            * (1.0 + noise.sample(&mut rng));
        let v = if j < N_VBM_REGIONS {
            let trend = 1.0 + atlas.gm_young[r] * young(s.brain_age)
                - atlas.gm_aging[r] * aging(s.brain_age);
            let acquisition =
                (1.0 + site.gm_bias + site.contrast) * (1.0 + site.group_gain[atlas.group[r]]);
            atlas.gm_base[r] * head.powf(atlas.head_exp[r]) * trend * acquisition * common
        } else {
            let trend = 1.0 + atlas.csf_aging[r] * csf_growth(s.brain_age);
            let acquisition = (1.0 + site.csf_bias - CONTRAST_CSF * site.contrast)
                * (1.0 + site.group_gain[N_GROUPS + atlas.group[r]]);
            atlas.csf_base[r] * head.powf(1.1) * trend * acquisition * common
        };
        out.push(v.max(0.01));
    }
}

/// The 7 × R FreeSurfer measures of one subject, channel-major.
fn fs_row(seed: u64, purpose: u64, fs: &FsAtlas, site: &Site, s: &Subject, out: &mut Vec<f64>) {
    let mut rng = stream(seed, purpose, s.index as u64);
    let n = fs.n_regions;
    let head = (s.tiv / 1460.0).powf(0.8);
    let rel = normal(0.0, site.noise);
    let mut thickness = vec![0.0; n];
    let mut area = vec![0.0; n];
    for r in 0..n {
        let trend = 1.0 + 0.06 * young(s.brain_age) - 0.08 * fs.thinning[r] * aging(s.brain_age);
        thickness[r] =
            (fs.thickness[r] * trend + site.thickness_bias + 0.08 * rel.sample(&mut rng)).max(0.8);
        area[r] = fs.area[r]
            * head
            * (1.0 - 0.02 * aging(s.brain_age))
            * (1.0 + site.area_bias)
            * (1.0 + 0.06 * rel.sample(&mut rng)).max(0.3);
    }
    out.clear();
    out.extend_from_slice(&area);
    for r in 0..n {
        out.push(area[r] * thickness[r] * (1.0 + 0.03 * rel.sample(&mut rng)).max(0.3));
    }
    out.extend_from_slice(&thickness);
    for r in 0..n {
        let v =
            fs.thickness_std[r] * (1.0 + 0.04 * aging(s.brain_age)) + 0.04 * rel.sample(&mut rng);
        out.push(v.max(0.1));
    }
    for r in 0..n {
        let v = fs.mean_curv[r] * (1.0 + 0.05 * aging(s.brain_age)) + 0.006 * rel.sample(&mut rng);
        out.push(v.max(0.01));
    }
    for r in 0..n {
        out.push((fs.gauss_curv[r] + 0.015 * rel.sample(&mut rng)).max(0.01));
    }
    for r in 0..n {
        out.push((fs.curv_index[r] * (1.0 + 0.1 * rel.sample(&mut rng))).max(0.05));
    }
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let f = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn finish(path: &Path, w: BufWriter<File>) -> Result<()> {
    let f = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Writes a feature table: header, then one row per subject (formatted in parallel, in blocks).
fn write_features(
    path: &Path,
    header: &str,
    rows: &[&Subject],
    row: &(dyn Fn(&Subject, &mut Vec<f64>) + Sync),
) -> Result<()> {
    let mut w = create(path)?;
    w.write_all(header.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    for block in rows.chunks(ROWS_PER_BLOCK) {
        let parts: Vec<String> = block
            .par_chunks(ROWS_PER_TASK)
            .map(|chunk| {
                let mut text = String::new();
                let mut values = Vec::new();
                for s in chunk {
                    row(s, &mut values);
                    // `write!` into a String cannot fail.
                    let _ = write!(text, "{},1", s.id);
                    for &v in &values {
                        let _ = write!(text, ",{}", v as f32);
                    }
                    text.push('\n');
                }
                text
            })
            .collect();
        for p in parts {
            w.write_all(p.as_bytes()).map_err(|e| Error::io(path, e))?;
        }
    }
    finish(path, w)
}

fn vbm_header() -> String {
    let mut h = String::from("participant_id,session");
    for tissue in ["GM", "CSF"] {
        for r in 1..=N_VBM_REGIONS {
            let _ = write!(h, ",roi{r:03}_{tissue}_Vol");
        }
    }
    h.push('\n');
    h
}

fn fs_header(n_regions: usize) -> String {
    let mut h = String::from("participant_id,session");
    let half = n_regions / 2;
    for channel in FS_CHANNELS {
        for r in 0..n_regions {
            let hemi = if r < half { "lh" } else { "rh" };
            let _ = write!(h, ",{channel}_{hemi}-roi{:03}", r % half + 1);
        }
    }
    h.push('\n');
    h
}

/// Writes the whole tree under `root` (an empty folder).
fn write_tree(root: &Path, config: &SyntheticConfig) -> Result<()> {
    let seed = config.seed;
    let atlas = atlas(seed);
    let sites = sites(seed);
    let subjects = subjects(config, &sites);

    // participants.tsv, in a random order mixing the splits.
    let mut order: Vec<&Subject> = subjects.iter().collect();
    order.shuffle(&mut stream(seed, STREAM_SUBJECTS, 1));
    let path = root.join(PARTICIPANTS_FILE);
    let mut w = create(&path)?;
    let mut text = String::from(
        "participant_id\tstudy\tsex\tage\tsite\tdiagnosis\ttiv\tcsfv\tgmv\twmv\t\
         magnetic_field_strength\tacquisition_setting\tsiteXacq\tsplit\n",
    );
    let mut values = Vec::new();
    for s in &order {
        let site = &sites[s.site];
        vbm_row(seed, &atlas, site, s, &mut values);
        let gmv = values[..N_VBM_REGIONS].iter().sum::<f64>() * 1.12;
        let csfv = values[N_VBM_REGIONS..].iter().sum::<f64>() * 1.05;
        let wmv = (s.tiv - gmv - csfv).max(100.0);
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{:.2}\t{}\tcontrol\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.1}\t{}\t{}\t{}",
            s.id,
            site.study + 1,
            if s.female { "female" } else { "male" },
            s.age,
            site.physical,
            s.tiv,
            csfv,
            gmv,
            wmv,
            site.field_strength,
            site.acquisition,
            site.code,
            s.label.as_str()
        );
    }
    w.write_all(text.as_bytes())
        .map_err(|e| Error::io(&path, e))?;
    finish(&path, w)?;

    // Feature tables, rows sorted by participant_id (an order unrelated to participants.tsv).
    let vbm_header = vbm_header();
    let desikan_header = fs_header(atlas.desikan.n_regions);
    let destrieux_header = fs_header(atlas.destrieux.n_regions);
    for folder in ["train", "val"] {
        let mut rows: Vec<&Subject> = subjects
            .iter()
            .filter(|s| (s.label == SplitLabel::Train) == (folder == "train"))
            .collect();
        rows.sort_by_key(|s| s.id);
        let dir = root.join(folder);
        write_features(
            &dir.join(Modality::VbmRoi.relative_path()),
            &vbm_header,
            &rows,
            &|s, out| vbm_row(seed, &atlas, &sites[s.site], s, out),
        )?;
        write_features(
            &dir.join(Modality::FsDesikanRoi.relative_path()),
            &desikan_header,
            &rows,
            &|s, out| fs_row(seed, STREAM_DESIKAN, &atlas.desikan, &sites[s.site], s, out),
        )?;
        write_features(
            &dir.join(Modality::FsDestrieuxRoi.relative_path()),
            &destrieux_header,
            &rows,
            &|s, out| {
                fs_row(
                    seed,
                    STREAM_DESTRIEUX,
                    &atlas.destrieux,
                    &sites[s.site],
                    s,
                    out,
                )
            },
        )?;
    }

    // Last, the label: a tree with a README is complete (and the rename makes it visible at once).
    let path = root.join(README_FILE);
    let mut w = create(&path)?;
    w.write_all(config.readme().as_bytes())
        .map_err(|e| Error::io(&path, e))?;
    finish(&path, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_hold_out_six_settings_and_keep_every_study() {
        let s = sites(7);
        assert_eq!(s.len(), 64);
        assert_eq!(s.iter().filter(|x| x.external).count(), N_EXTERNAL_SITES);
        for study in 0..STUDIES.len() {
            assert!(s.iter().any(|x| x.study == study && !x.external));
        }
        let mut codes: Vec<u32> = s.iter().map(|x| x.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 64);
    }

    #[test]
    fn ages_stay_in_range() {
        let mut rng = stream(1, 99, 0);
        for p in [
            AgeProfile::Child,
            AgeProfile::YoungAdult,
            AgeProfile::Mixed,
            AgeProfile::Lifespan,
        ] {
            for _ in 0..2000 {
                let a = draw_age(&mut rng, p);
                assert!((6.0..=88.0).contains(&a), "{a}");
            }
        }
    }
}
