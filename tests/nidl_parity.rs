//! The logs of nidl 0.0.1, step for step: short `nidl fit` runs with the settings of the recorded
//! nidl 0.0.1 runs in `tests/data/nidl_0_0_1/` (`scripts/nidl_parity_golden.py`: the same
//! epochs, batch size, training batches, `log_every_n_steps` and probe schedule) write the same
//! `(tag, step)` rows in the same order, and the same `epoch` values ([`common::parity`]). The
//! validation and probing sets are small: the steps do not depend on them.
#![cfg(feature = "cli")]

mod common;

use common::parity::{check_scenario, write_set, FEATURES};
use common::{Lcg, Scratch};

/// An integer class in `0..10` as the one label of a row.
fn digit(rng: &mut Lcg, _: usize) -> Vec<f64> {
    vec![rng.below(10) as f64]
}

/// An experiment on the `.npy` sets the test wrote (`train_*.npy`, `val_*.npy`) with the MLP
/// 284 → 64 → 32 of the recorded runs: `run` (the `[run]` table), `data` (more `[data]` keys) and
/// `rest` (`[probing]` and the probes).
fn npy_mlp(run: &str, data: &str, rest: &str) -> String {
    format!(
        r#"{run}
[data]
format = "npy"
train_x = "train_x.npy"
train_y = "train_y.npy"
val_x = "val_x.npy"
val_y = "val_y.npy"
{data}
[encoder]
kind = "mlp"
hidden = [64, 32]
{rest}"#
    )
}

/// The issue's table: SimCLR with the seed's LeNet on MNIST (the embedded copy), 2 epochs of 60
/// batches of 128, a logistic-regression probe after every training epoch.
#[test]
fn simclr_classification_logs_as_nidl() {
    let s = Scratch::new("parity-simclr");
    let toml = r#"
[run]
method = "simclr"
epochs = 2
batch_size = 128
limit_train_batches = 60
limit_val_batches = 2

[data]
format = "mnist"

[encoder]
kind = "lenet"

[probing]
every = 1
train_limit = 300
test_limit = 100

[[probe]]
kind = "logreg"
max_iter = 200
"#;
    check_scenario(&s, "simclr_classification", toml);
}

/// The multitask callback: y-Aware, MLP 284 → 64 → 32, 3227 training rows (26 batches of 128,
/// the last short), 3 epochs, Ridge on age and a logistic regression on sex as one group
/// (`task0/…`, `task1/…`).
#[test]
fn yaware_multitask_logs_as_nidl() {
    let s = Scratch::new("parity-yaware");
    let mut rng = Lcg(15);
    let age_sex = |rng: &mut Lcg, _: usize| {
        let age = 6.0 + 80.0 * rng.below(10_000) as f64 / 10_000.0;
        vec![age, rng.below(2) as f64]
    };
    write_set(&s, "train", (3227, &[FEATURES]), &mut rng, age_sex);
    write_set(&s, "val", (200, &[FEATURES]), &mut rng, age_sex);
    let toml = npy_mlp(
        r#"
[run]
method = "yaware"
epochs = 3
batch_size = 128
"#,
        r#"label_names = ["age", "sex"]
ssl_label = "age"
"#,
        r#"
[probing]
train_limit = 400
test_limit = 100

[[probe]]
kind = "ridge"
task = "age"

[[probe]]
kind = "logreg"
task = "sex"
max_iter = 200
"#,
    );
    check_scenario(&s, "yaware_multitask", &toml);
}

/// Probing after every validation epoch and not after training epochs, `loss/train` every 10
/// steps: SimCLR, MLP 284 → 64 → 32, 2 epochs of 25 batches of 128.
#[test]
fn val_epoch_probing_logs_as_nidl() {
    let s = Scratch::new("parity-val-epoch");
    let mut rng = Lcg(16);
    write_set(&s, "train", (25 * 128, &[FEATURES]), &mut rng, digit);
    write_set(&s, "val", (200, &[FEATURES]), &mut rng, digit);
    let toml = npy_mlp(
        r#"
[run]
method = "simclr"
epochs = 2
batch_size = 128
limit_train_batches = 25
log_every_n_steps = 10
"#,
        "",
        r#"
[probing]
every = 0
every_val = 1
train_limit = 300
test_limit = 100

[[probe]]
kind = "logreg"
max_iter = 200
"#,
    );
    check_scenario(&s, "val_epoch_probing", &toml);
}

/// A two-column regression probe: SimCLR, MLP 284 → 64 → 32, 3 epochs of 40 batches of 128, a
/// Ridge on both label columns after every 2nd training epoch (`Ridge/regressor <i>/…`, then
/// `Ridge/average/…`), and none after the last epoch.
#[test]
fn regression_two_columns_logs_as_nidl() {
    let s = Scratch::new("parity-regression-two");
    let mut rng = Lcg(17);
    let two = |rng: &mut Lcg, _: usize| {
        vec![
            rng.below(10_000) as f64 / 1_000.0,
            rng.below(10_000) as f64 / 5_000.0,
        ]
    };
    write_set(&s, "train", (40 * 128, &[FEATURES]), &mut rng, two);
    write_set(&s, "val", (200, &[FEATURES]), &mut rng, two);
    let toml = npy_mlp(
        r#"
[run]
method = "simclr"
epochs = 3
batch_size = 128
limit_train_batches = 40
"#,
        "",
        r#"
[probing]
every = 2
train_limit = 400
test_limit = 100

[[probe]]
kind = "ridge"
tasks = ["y0", "y1"]
"#,
    );
    check_scenario(&s, "regression_two_columns", &toml);
}
