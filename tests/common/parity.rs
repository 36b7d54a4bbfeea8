//! nidl 0.0.1 parity of the logs: an experiment run through `nidl fit`, the `(tag, step)` rows of
//! its `metrics.csv` compared, in order, with those of a recorded nidl 0.0.1 run
//! (`tests/data/nidl_0_0_1/<scenario>.csv`, written by `scripts/nidl_parity_golden.py`; its
//! README says how), and the values of the `epoch` rows. The other values are not compared: the
//! recorded runs trained on other random data.

use super::cli::{nidl, ok};
use super::{metrics_rows, Lcg, Scratch};
use nidl::datasets::npy::write_tensor;
use nidl::Tensor;
use std::fs;
use std::path::{Path, PathBuf};

/// Features per row of the tabular scenarios (the seed's OpenBHB vbm_roi width).
pub const FEATURES: usize = 284;

/// Writes `s/<name>_x.npy`, `n × shape` uniform noise in [−1, 1) (f32), and `s/<name>_y.npy`,
/// `n × k` labels, row `i` being `labels(rng, i)` (`k` values), both drawn from `rng`.
pub fn write_set(
    s: &Scratch,
    name: &str,
    (n, shape): (usize, &[usize]),
    rng: &mut Lcg,
    labels: impl Fn(&mut Lcg, usize) -> Vec<f64>,
) {
    let width: usize = shape.iter().product();
    let x: Vec<f32> = (0..n * width)
        .map(|_| rng.below(2000) as f32 / 1000.0 - 1.0)
        .collect();
    let y: Vec<Vec<f64>> = (0..n).map(|i| labels(rng, i)).collect();
    let k = y[0].len();
    let x = Tensor::from_vec(x, &[&[n][..], shape].concat()).unwrap();
    let y = Tensor::from_vec(y.concat(), &[n, k]).unwrap();
    write_tensor(s.join(format!("{name}_x.npy")), &x).unwrap();
    write_tensor(s.join(format!("{name}_y.npy")), &y).unwrap();
}

/// One logged scalar as compared: its tag, its step, and its value when the tag is `epoch`.
pub type Logged = (String, u64, Option<f64>);

/// `(tag, step, value)` as compared: the value kept for `epoch` rows only.
fn logged(tag: &str, step: u64, value: f64) -> Logged {
    (tag.to_string(), step, (tag == "epoch").then_some(value))
}

/// The rows of the recorded nidl 0.0.1 run `scenario`, in the order it wrote them.
pub fn golden_rows(scenario: &str) -> Vec<Logged> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/nidl_0_0_1")
        .join(format!("{scenario}.csv"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("tag,step,value"), "{}", path.display());
    lines
        .map(|l| {
            // Tags hold no comma; the value is the last field, the step the one before.
            let mut f = l.rsplitn(3, ',');
            let (value, step, tag) = (f.next(), f.next(), f.next());
            let bad = || panic!("{}: bad row {l:?}", path.display());
            let (Some(value), Some(step), Some(tag)) = (value, step, tag) else {
                bad()
            };
            let (Ok(step), Ok(value)) = (step.parse(), value.parse()) else {
                bad()
            };
            logged(tag, step, value)
        })
        .collect()
}

/// The rows of the `metrics.csv` in the run folder `run`, in order.
pub fn our_rows(run: &Path) -> Vec<Logged> {
    let text = fs::read_to_string(run.join("metrics.csv")).unwrap();
    metrics_rows(&text)
        .into_iter()
        .map(|(step, _, tag, value)| logged(&tag, step, value))
        .collect()
}

/// `tag@step` (`epoch@step=value`), as the mismatch table shows a row.
fn show(row: Option<&Logged>) -> String {
    match row {
        None => "-".into(),
        Some((tag, step, Some(v))) => format!("{tag}@{step}={v}"),
        Some((tag, step, None)) => format!("{tag}@{step}"),
    }
}

/// Panics unless `ours` are `golden`'s rows exactly, in order, with a side-by-side table of both
/// (`≠` marking the rows that differ) naming `scenario`.
pub fn assert_same_rows(scenario: &str, ours: &[Logged], golden: &[Logged]) {
    if ours == golden {
        return;
    }
    let mut table = format!("{:>4}  {:<44} nidl-rs\n", "row", "nidl 0.0.1");
    for i in 0..ours.len().max(golden.len()) {
        let (g, o) = (golden.get(i), ours.get(i));
        let mark = if g == o { ' ' } else { '≠' };
        table.push_str(&format!("{i:>4}  {:<44}{mark} {}\n", show(g), show(o)));
    }
    panic!(
        "{scenario}: the (tag, step) rows of metrics.csv differ from nidl 0.0.1's \
         (tests/data/nidl_0_0_1/{scenario}.csv):\n{table}"
    );
}

/// Runs `nidl fit` on the experiment `toml`, written as `s/<scenario>.toml` (so its relative
/// paths are in `s`), without progress bar, logging into `s/logs`; the run's folder.
pub fn fit(s: &Scratch, scenario: &str, toml: &str) -> PathBuf {
    let file = s.join(format!("{scenario}.toml"));
    fs::write(&file, toml).unwrap();
    let logs = s.join("logs");
    let log_dir = format!("run.log_dir={}", logs.display());
    ok(&nidl(&[
        "fit",
        file.to_str().unwrap(),
        "--set",
        &log_dir,
        "--set",
        "run.progress=false",
    ]));
    logs.join("version_0")
}

/// Runs the experiment `toml` ([`fit`]) and compares its rows with the recorded nidl 0.0.1 run
/// `scenario` ([`assert_same_rows`]).
pub fn check_scenario(s: &Scratch, scenario: &str, toml: &str) {
    let run = fit(s, scenario, toml);
    assert_same_rows(scenario, &our_rows(&run), &golden_rows(scenario));
}
