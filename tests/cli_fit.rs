//! `nidl fit EXPERIMENT.toml`: the issue's experiment on generated `.npy` files, each preset of a
//! built-in command reproducing that command's `metrics.csv` byte for byte, `--print-config`
//! read back to the same experiment, `[sweep]`, and the error messages (key, file, line).
#![cfg(feature = "cli")]

mod common;

use common::cli::{assert_fails, assert_usage_error, nidl, ok, small_openbhb, MNIST_TINY};
use common::{metrics_rows, Lcg, Scratch};
use nidl::datasets::npy::write_tensor;
use nidl::Tensor;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The experiment of issue 14, exactly as written there.
const ISSUE_TOML: &str = r#"[run]
method = "yaware"          # simclr | yaware | barlow (and the methods later issues add)
epochs = 3
batch_size = 64
seed = 7
lr = 1e-4
log_dir = "logs"

[data]
format = "npy"             # mnist | openbhb | npy | csv
train_x = "train_x.npy"    # N×D features, or N×C×H×W images (u8 or f32)
train_y = "train_y.npy"    # N, or N×K with K label columns
val_x = "val_x.npy"
val_y = "val_y.npy"
label_names = ["age", "sex"]
ssl_label = "age"          # y-Aware's auxiliary variable

[encoder]
kind = "mlp"               # mlp | lenet | convnet
hidden = [64, 16]          # the last is the latent size

[views]
tabular = [ { kind = "mask", prob = 0.8 }, { kind = "noise", std = 0.5 } ]

[[probe]]                  # probes in order: task0, task1, … as nidl's multitask probing logs them
kind = "ridge"
task = "age"

[[probe]]
kind = "logreg"
task = "sex"
"#;

/// `nidl` run in the folder `cwd`.
fn nidl_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nidl"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap()
}

/// `n` samples of 20 features whose first features carry age (20–80, continuous) and sex
/// (0/1), written as `<name>_x.npy` (`n × 20`) and `<name>_y.npy` (`n × 2`: age, sex) in `dir`.
fn write_set(dir: &Path, name: &str, n: usize, rng: &mut Lcg) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let age = 20.0 + 60.0 * (rng.below(10_000) as f64 / 10_000.0);
        let sex = rng.below(2) as f64;
        for j in 0..20 {
            let noise = rng.below(1000) as f32 / 1000.0 - 0.5;
            let signal = match j {
                0 | 1 => (age as f32 - 50.0) / 20.0,
                2 | 3 => sex as f32 * 2.0 - 1.0,
                _ => 0.0,
            };
            x.push(signal + noise);
        }
        y.extend([age, sex]);
    }
    let x = Tensor::from_vec(x, &[n, 20]).unwrap();
    let y = Tensor::from_vec(y, &[n, 2]).unwrap();
    write_tensor(dir.join(format!("{name}_x.npy")), &x).unwrap();
    write_tensor(dir.join(format!("{name}_y.npy")), &y).unwrap();
}

/// 200 training and 80 validation samples in `dir`.
fn write_npy_data(dir: &Path) {
    let mut rng = Lcg(14);
    write_set(dir, "train", 200, &mut rng);
    write_set(dir, "val", 80, &mut rng);
}

/// The tags of a run's `metrics.csv`.
fn tags(run: &Path) -> Vec<String> {
    let text = fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut tags: Vec<String> = metrics_rows(&text).into_iter().map(|r| r.2).collect();
    tags.dedup();
    tags
}

#[test]
fn the_issues_experiment_runs_on_generated_npy_files() {
    let s = Scratch::new("issue");
    write_npy_data(s.path());
    let file = s.join("experiment.toml");
    fs::write(&file, ISSUE_TOML).unwrap();
    // Run from another folder: the file's relative paths resolve against its own folder.
    let out = ok(&nidl(&["fit", file.to_str().unwrap()]));
    assert!(out.contains("done: 3 epochs"), "{out}");
    let run = s.join("logs/version_0");
    let tags = tags(&run);
    for t in [
        "task0/R2",
        "task0/MAE",
        "task1/accuracy",
        "task1/balanced_accuracy",
    ] {
        assert!(tags.iter().any(|x| x == t), "{t} missing from {tags:?}");
    }
    assert!(!tags.iter().any(|t| t.starts_with("Ridge/")), "{tags:?}");
    let text = fs::read_to_string(run.join("metrics.csv")).unwrap();
    let probed_steps: Vec<u64> = metrics_rows(&text)
        .into_iter()
        .filter(|r| r.2 == "task0/R2")
        .map(|r| r.0)
        .collect();
    assert_eq!(
        probed_steps,
        [3, 7, 11],
        "probing after every epoch of 4 steps, at its last step"
    );
}

/// A table of 120 subjects: `id`, `roi_0..roi_7`, `age`, `sex` (F/M), `split` (train/val).
fn write_table(path: &Path) {
    let mut rng = Lcg(5);
    let mut text =
        String::from("id,roi_0,roi_1,roi_2,roi_3,roi_4,roi_5,roi_6,roi_7,age,sex,split\n");
    for i in 0..120 {
        let age = 20 + rng.below(60);
        let sex = if rng.below(2) == 0 { "F" } else { "M" };
        let rois: Vec<String> = (0..8)
            .map(|j| {
                let signal = if j < 4 {
                    (age as f64 - 50.0) / 20.0
                } else {
                    0.0
                };
                format!("{:.3}", signal + rng.below(1000) as f64 / 1000.0)
            })
            .collect();
        let split = if i % 4 == 0 { "val" } else { "train" };
        text += &format!("{i},{},{age},{sex},{split}\n", rois.join(","));
    }
    fs::write(path, text).unwrap();
}

#[test]
fn a_csv_table_split_by_a_column_trains_and_probes_its_named_labels() {
    let s = Scratch::new("csv");
    write_table(&s.join("subjects.csv"));
    let file = s.join("csv.toml");
    let text = r#"
[run]
method = "yaware"
epochs = 1
batch_size = 30
log_dir = "logs"
progress = false

[data]
format = "csv"
file = "subjects.csv"
features = ["roi_*"]
labels = ["age", "sex"]
ssl_label = "age"

[encoder]
hidden = [16, 8]

[[probe]]
kind = "ridge"
task = "age"

[[probe]]
kind = "knn"
task = "sex"
group = 1
k = 3
"#;
    fs::write(&file, text).unwrap();
    let out = ok(&nidl(&["fit", file.to_str().unwrap()]));
    assert!(out.contains("done: 1 epochs, 3 steps"), "{out}");
    let tags = tags(&s.join("logs/version_0"));
    assert!(tags.iter().any(|t| t == "Ridge/R2"), "{tags:?}");
    assert!(
        tags.iter().any(|t| t == "KNeighborsClassifier/accuracy"),
        "{tags:?}"
    );
    // A key of another format is refused, naming it.
    let bad = text.replace("file = \"subjects.csv\"", "train_x = \"x.npy\"");
    fs::write(&file, bad).unwrap();
    assert_fails(
        &nidl(&["fit", file.to_str().unwrap()]),
        &["data.train_x", "does not apply to format = \"csv\""],
    );
}

#[test]
fn npy_images_train_a_convnet_with_image_views_and_an_mlp_takes_batch_norm() {
    let s = Scratch::new("images");
    let mut rng = Lcg(3);
    for (name, n) in [("train", 48), ("val", 16)] {
        // 3×12×10 u8 images: class 1 bright on the left half, class 0 on the right.
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let class = rng.below(2);
            for _c in 0..3 {
                for _h in 0..12 {
                    for w in 0..10 {
                        let bright = (w < 5) == (class == 1);
                        x.push(if bright { 200.0 } else { 20.0 } + rng.below(30) as f64);
                    }
                }
            }
            y.push(class as f64);
        }
        let x = Tensor::from_vec(x, &[n, 3, 12, 10]).unwrap();
        write_tensor(s.join(format!("{name}_x.npy")), &x).unwrap();
        let y = Tensor::from_vec(y, &[n]).unwrap();
        write_tensor(s.join(format!("{name}_y.npy")), &y).unwrap();
    }
    let text = r#"
[run]
method = "simclr"
epochs = 1
batch_size = 16
log_dir = "logs"
progress = false

[data]
format = "npy"
train_x = "train_x.npy"
train_y = "train_y.npy"
val_x = "val_x.npy"
val_y = "val_y.npy"
label_names = ["side"]

[encoder]
kind = "convnet"
latent = 8
blocks = [ { channels = 4, kernel = 3, pool = 2 }, { channels = 8, kernel = 3, stride = 1 } ]

[views]
image = [
  { kind = "random_resized_crop", size = 12, width = 10, scale = [0.5, 1.0] },
  { kind = "horizontal_flip" },
  { kind = "brightness", strength = 0.4 },
  { kind = "contrast", strength = 0.4 },
  { kind = "gaussian_blur", kernel = 3 },
]
mean = [0.5, 0.5, 0.5]
std = [0.25, 0.25, 0.25]

[[probe]]
kind = "logreg"
"#;
    let file = s.join("images.toml");
    fs::write(&file, text).unwrap();
    let out = ok(&nidl(&["fit", file.to_str().unwrap()]));
    assert!(out.contains("done: 1 epochs, 3 steps"), "{out}");
    assert!(tags(&s.join("logs/version_0")).contains(&"LogisticRegression/accuracy".to_string()));
    // A LeNet takes 1×28×28 images only; an mlp takes feature vectors only.
    let lenet = text.replace("kind = \"convnet\"", "kind = \"lenet\"").replace(
        "blocks = [ { channels = 4, kernel = 3, pool = 2 }, { channels = 8, kernel = 3, stride = 1 } ]",
        "",
    );
    fs::write(&file, lenet).unwrap();
    assert_fails(
        &nidl(&["fit", file.to_str().unwrap()]),
        &["encoder.kind = \"lenet\"", "3×12×10 images"],
    );
    // MNIST with another list than the seed's runs it on the f32 image after ToTensor.
    let flips = s.join("flips");
    let log_set = format!("run.log_dir={}", flips.display());
    ok(&nidl(&[
        "fit",
        "--preset",
        "simclr-mnist",
        "--set",
        r#"views.image=[{kind="horizontal_flip"}, {kind="contrast", strength=0.3}]"#,
        "--set",
        &log_set,
        "--set",
        "run.epochs=1",
        "--set",
        "run.limit_train_batches=2",
        "--set",
        "run.batch_size=16",
        "--set",
        "run.limit_val_batches=1",
        "--set",
        "probing.every=0",
        "--set",
        "run.progress=false",
    ]));
    let hp = fs::read_to_string(flips.join("version_0/hparams.yaml")).unwrap();
    assert!(hp.contains("HorizontalFlip"), "{hp}");
    // The issue's tabular experiment with a batch-normed mlp.
    write_npy_data(s.path());
    let bn = ISSUE_TOML.replace("hidden = [64, 16]", "hidden = [64, 16]\nbatch_norm = true");
    let file = s.join("bn.toml");
    fs::write(&file, bn).unwrap();
    ok(&nidl(&[
        "fit",
        file.to_str().unwrap(),
        "--set",
        "run.epochs=1",
    ]));
    let hp = fs::read_to_string(s.join("logs/version_1/hparams.yaml")).unwrap();
    assert!(hp.contains("YAwareContrastiveLearning"), "{hp}");
}

/// Byte-compares the `metrics.csv` of `command args` and of `nidl fit --preset command sets`.
fn assert_preset_matches(s: &Scratch, command: &str, args: &[&str], sets: &[&str]) {
    let cmd_logs = s.join(format!("{command}-cmd"));
    let mut a = vec![command, "--log-dir", cmd_logs.to_str().unwrap()];
    a.extend_from_slice(args);
    ok(&nidl(&a));
    let fit_logs = s.join(format!("{command}-fit"));
    let log_set = format!("run.log_dir={}", fit_logs.display());
    let file = format!("examples/experiments/{command}.toml");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let mut f = vec!["fit", file.to_str().unwrap(), "--set", &log_set];
    for set in sets {
        f.extend(["--set", set]);
    }
    ok(&nidl(&f));
    let a = fs::read(cmd_logs.join("version_0/metrics.csv")).unwrap();
    let b = fs::read(fit_logs.join("version_0/metrics.csv")).unwrap();
    assert!(a.len() > 200, "{command} logged too little");
    assert!(
        a == b,
        "{command}: the preset's metrics.csv differs from the command's"
    );
}

/// The `--set`s that mirror [`MNIST_TINY`] and `--no-progress`.
const MNIST_TINY_SETS: &[&str] = &[
    "run.epochs=2",
    "run.limit_train_batches=3",
    "run.log_every_n_steps=1",
    "run.batch_size=32",
    "run.limit_val_batches=2",
    "probing.train_limit=500",
    "probing.test_limit=200",
    "run.progress=false",
];

#[test]
fn the_mnist_presets_reproduce_their_commands_byte_for_byte() {
    let s = Scratch::new("mnist-presets");
    let mut args = vec!["--epochs", "2", "--no-progress"];
    args.extend_from_slice(MNIST_TINY);
    assert_preset_matches(&s, "simclr-mnist", &args, MNIST_TINY_SETS);
    args.extend(["--warmup-epochs", "1"]);
    let mut sets = MNIST_TINY_SETS.to_vec();
    sets.push("method.warmup_epochs=1");
    assert_preset_matches(&s, "barlow-mnist", &args, &sets);
}

#[test]
fn the_openbhb_presets_reproduce_their_commands_byte_for_byte() {
    let s = Scratch::new("openbhb-presets");
    let data = small_openbhb(&s);
    let dir = data.to_str().unwrap();
    let args = [
        "--data-dir",
        dir,
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--no-progress",
    ];
    let dir_set = format!("data.dir={dir}");
    let sets = [
        dir_set.as_str(),
        "run.epochs=2",
        "run.batch_size=32",
        "run.progress=false",
    ];
    assert_preset_matches(&s, "yaware-openbhb", &args, &sets);
    assert_preset_matches(&s, "barlow-openbhb", &args, &sets);
    // `--probe logreg,knn` is two groups of probes; the k-NN group named as the command names it.
    let mut knn_args = args.to_vec();
    knn_args.extend(["--probe", "logreg,knn"]);
    let probes = r#"probe=[{kind="ridge",task="age"},{kind="logreg",task="sex"},
        {kind="knn_regressor",task="age",group=1,name="KNeighborsRegressor"},
        {kind="knn",task="sex",group=1,name="KNeighborsClassifier"}]"#
        .replace('\n', " ");
    let mut knn_sets = sets.to_vec();
    knn_sets.push(&probes);
    let s2 = Scratch::new("openbhb-presets-knn");
    assert_preset_matches(&s2, "yaware-openbhb", &knn_args, &knn_sets);
}

/// `nidl fit FILE --print-config` with `sets`, run in `cwd`.
fn print_config(cwd: &Path, file: &Path, sets: &[&str]) -> String {
    let mut a = vec!["fit", file.to_str().unwrap(), "--print-config"];
    for set in sets {
        a.extend(["--set", set]);
    }
    ok(&nidl_in(cwd, &a))
}

#[test]
fn print_config_fills_the_defaults_and_reads_back_to_the_same_experiment() {
    let s = Scratch::new("print-config");
    write_npy_data(s.path());
    let file = s.join("experiment.toml");
    fs::write(&file, ISSUE_TOML).unwrap();
    let printed = print_config(s.path(), &file, &["run.epochs=2", "probing.every=2"]);
    for line in [
        "epochs = 2",
        "every = 2",
        "weight_decay = 0.00005",
        "sigma = 4.0",
        "temperature = 0.1",
        "kernel = \"gaussian\"",
        "alpha = 1.0",
        "max_iter = 200",
    ] {
        assert!(printed.contains(line), "{line:?} missing from\n{printed}");
    }
    let train_x = s.join("train_x.npy");
    assert!(printed.contains(&format!("train_x = \"{}\"", train_x.display())));
    // Another folder: the printed paths are absolute.
    let elsewhere = Scratch::new("print-config-2");
    let copy = elsewhere.join("resolved.toml");
    fs::write(&copy, &printed).unwrap();
    assert_eq!(print_config(s.path(), &copy, &[]), printed);
    for preset in [
        "simclr-mnist",
        "yaware-openbhb",
        "barlow-mnist",
        "barlow-openbhb",
        "dcl-mnist",
    ] {
        let p = ok(&nidl_in(
            s.path(),
            &["fit", "--preset", preset, "--print-config"],
        ));
        let f = elsewhere.join(format!("{preset}.toml"));
        fs::write(&f, &p).unwrap();
        assert_eq!(print_config(s.path(), &f, &[]), p, "{preset}");
    }
}

#[test]
fn a_sweep_runs_every_combination_and_prints_the_final_scores() {
    let s = Scratch::new("sweep");
    write_npy_data(s.path());
    let file = s.join("sweep.toml");
    let text =
        ISSUE_TOML.replace("epochs = 3", "epochs = 1") + "\n[sweep]\n\"run.lr\" = [1e-3, 3e-3]\n";
    fs::write(&file, text).unwrap();
    let out = ok(&nidl(&["fit", file.to_str().unwrap()]));
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("sweep results"))
        .skip(1)
        .collect();
    assert_eq!(table.len(), 3, "header + 2 rows:\n{out}");
    let header: Vec<&str> = table[0].split_whitespace().collect();
    assert_eq!(
        header[..3],
        ["version", "run.lr", "task0/MAE"],
        "{}",
        table[0]
    );
    assert!(table[0].contains("task1/accuracy"), "{}", table[0]);
    for (i, lr) in ["0.001", "0.003"].iter().enumerate() {
        let run = s.join(format!("logs/version_{i}"));
        let hp = fs::read_to_string(run.join("hparams.yaml")).unwrap();
        assert!(hp.contains(&format!("run.lr: {lr}\n")), "{hp}");
        assert!(hp.contains(&format!("\nlearning_rate: {lr}\n")), "{hp}");
        let row: Vec<&str> = table[i + 1].split_whitespace().collect();
        assert_eq!(row[..2], [format!("version_{i}").as_str(), lr]);
        // The last task0/R2 of the run's metrics.csv.
        let csv = fs::read_to_string(run.join("metrics.csv")).unwrap();
        let r2 = metrics_rows(&csv)
            .into_iter()
            .rfind(|r| r.2 == "task0/R2")
            .unwrap()
            .3;
        let col = table[0]
            .split_whitespace()
            .position(|c| c == "task0/R2")
            .unwrap();
        assert_eq!(row[col].parse::<f64>().unwrap(), r2);
    }
    assert!(!s.join("logs/version_2").exists());
    // nidl 0.0.1's `cv|[…]` values sweep the same way, to the same scores.
    let cv = ISSUE_TOML
        .replace("epochs = 3", "epochs = 1")
        .replace("lr = 1e-4", "lr = \"cv|[1e-3, 3e-3]\"")
        .replace("log_dir = \"logs\"", "log_dir = \"logs_cv\"");
    fs::write(&file, cv).unwrap();
    let out_cv = ok(&nidl(&["fit", file.to_str().unwrap()]));
    let table_cv: Vec<&str> = out_cv
        .lines()
        .skip_while(|l| !l.starts_with("sweep results"))
        .collect();
    let table_all: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("sweep results"))
        .collect();
    assert_eq!(table_cv, table_all);
    let hp = fs::read_to_string(s.join("logs_cv/version_1/hparams.yaml")).unwrap();
    assert!(hp.contains("run.lr: 0.003\n"), "{hp}");
}

/// Writes `text` as `bad.toml` in `s` and runs `nidl fit` on it with `sets`.
fn fit_text(s: &Scratch, text: &str, sets: &[&str]) -> Output {
    let file = s.join("bad.toml");
    fs::write(&file, text).unwrap();
    let mut a = vec!["fit".to_string(), file.display().to_string()];
    for set in sets {
        a.extend(["--set".to_string(), set.to_string()]);
    }
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    nidl(&a)
}

#[test]
fn errors_name_the_key_the_file_and_the_line() {
    let s = Scratch::new("errors");
    write_npy_data(s.path());
    let file = s.join("bad.toml");
    let f = file.to_str().unwrap();
    // An unknown key: line 3 of the file.
    let unknown = ISSUE_TOML.replace("epochs = 3", "epoch = 3");
    let out = fit_text(&s, &unknown, &[]);
    assert_fails(
        &out,
        &[&format!("{f}:3:1:"), "run.epoch", "unknown field `epoch`"],
    );
    // A wrong type: line 6, the value.
    let wrong = ISSUE_TOML.replace("lr = 1e-4", "lr = \"fast\"");
    let out = fit_text(&s, &wrong, &[]);
    assert_fails(
        &out,
        &[
            &format!("{f}:6:6:"),
            "run.lr",
            "invalid type: string \"fast\"",
        ],
    );
    // A wrong type inside an inline table of a list.
    let wrong = ISSUE_TOML.replace("prob = 0.8", "prob = \"high\"");
    let out = fit_text(&s, &wrong, &[]);
    assert_fails(
        &out,
        &[&format!("{f}:23:11:"), "views.tabular", "expected f64"],
    );
    // A missing file: the key and the path.
    let missing = ISSUE_TOML.replace("val_x.npy", "nowhere.npy");
    let out = fit_text(&s, &missing, &[]);
    let path = s.join("nowhere.npy");
    assert_fails(
        &out,
        &["data.val_x", "no such file", path.to_str().unwrap()],
    );
    // A label not in label_names: the key and the allowed names.
    let label = ISSUE_TOML.replace("task = \"sex\"", "task = \"gender\"");
    let out = fit_text(&s, &label, &[]);
    assert_fails(
        &out,
        &[
            f,
            "probe[1].task",
            "'gender'",
            "data.label_names (age, sex)",
        ],
    );
    let ssl = ISSUE_TOML.replace("ssl_label = \"age\"", "ssl_label = \"agee\"");
    assert_fails(&fit_text(&s, &ssl, &[]), &["data.ssl_label", "'agee'"]);
    // Bad --set arguments name the argument.
    let out = fit_text(&s, ISSUE_TOML, &["run.epoch=2"]);
    assert_fails(&out, &["--set run.epoch=2", "unknown field `epoch`"]);
    let out = fit_text(&s, ISSUE_TOML, &["run.epochs=two"]);
    assert_fails(
        &out,
        &["--set run.epochs=two", "invalid type: string \"two\""],
    );
    let out = fit_text(&s, ISSUE_TOML, &["run.epochs"]);
    assert_fails(&out, &["--set run.epochs", "expected key=value"]);
    let out = fit_text(&s, ISSUE_TOML, &["probe.5.kind=knn"]);
    assert_fails(
        &out,
        &["--set probe.5.kind=knn", "no item 5 in a list of 2"],
    );
    // A value out of range names the key; a missing experiment file names the path.
    let out = fit_text(&s, ISSUE_TOML, &["run.epochs=0"]);
    assert_fails(&out, &[f, "run.epochs: must be at least 1, got 0"]);
    let out = fit_text(&s, ISSUE_TOML, &["run.log_every_n_steps=0"]);
    assert_fails(
        &out,
        &[f, "run.log_every_n_steps: must be at least 1, got 0"],
    );
    let out = nidl(&["fit", "/nonexistent/experiment.toml"]);
    assert_fails(&out, &["/nonexistent/experiment.toml"]);
    // A misspelled option of `nidl fit`: a usage error as every command's (clap's message with
    // its suggestion, exit status 2).
    let out = nidl(&["fit", f, "--print-confg"]);
    assert_usage_error(
        &out,
        &[
            "'--print-confg'",
            "a similar argument exists: '--print-config'",
        ],
    );
    // A method option of another method.
    let out = fit_text(&s, ISSUE_TOML, &["method.lambda=0.1"]);
    assert_fails(
        &out,
        &["method.lambda", "does not apply to run.method = \"yaware\""],
    );
}

#[test]
fn a_regression_probe_on_several_tasks_scores_each_column_and_their_average() {
    let s = Scratch::new("tasks");
    write_npy_data(s.path());
    let probes = r#"[[probe]]                  # probes in order: task0, task1, … as nidl's multitask probing logs them
kind = "ridge"
task = "age"

[[probe]]
kind = "logreg"
task = "sex"
"#;
    assert!(ISSUE_TOML.ends_with(probes));
    let base = ISSUE_TOML
        .replace(probes, "")
        .replace("epochs = 3", "epochs = 1");
    let two = format!("{base}[[probe]]\nkind = \"ridge\"\ntasks = [\"age\", \"sex\"]\n");
    ok(&fit_text(&s, &two, &[]));
    let tags = tags(&s.join("logs/version_0"));
    let probe_tags: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| t.starts_with("Ridge/"))
        .collect();
    let want: Vec<String> = ["regressor 0", "regressor 1", "average"]
        .iter()
        .flat_map(|r| {
            ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"].map(|m| format!("Ridge/{r}/{m}"))
        })
        .collect();
    assert_eq!(probe_tags, want);
    // --print-config keeps `tasks` (and sets no `task`).
    let file = s.join("bad.toml");
    let printed = print_config(s.path(), &file, &[]);
    assert!(printed.contains("tasks = [\"age\", \"sex\"]"), "{printed}");
    assert!(!printed.contains("task = "), "{printed}");
    // Refused, naming the key: both keys, tasks on a classifier, an unknown or repeated
    // column, no column, and a probe on several columns in a group with others.
    let f = file.to_str().unwrap();
    let both = two.replace("tasks =", "task = \"age\"\ntasks =");
    assert_fails(
        &fit_text(&s, &both, &[]),
        &[f, "probe[0]: set task", "not both"],
    );
    let logreg = two.replace("kind = \"ridge\"", "kind = \"logreg\"");
    assert_fails(
        &fit_text(&s, &logreg, &[]),
        &[
            "probe[0].tasks",
            "kind = \"logreg\" predicts one label column",
        ],
    );
    let tasks = "tasks = [\"age\", \"sex\"]";
    let unknown = two.replace(tasks, "tasks = [\"age\", \"gender\"]");
    assert_fails(
        &fit_text(&s, &unknown, &[]),
        &["probe[0].tasks", "'gender'", "data.label_names (age, sex)"],
    );
    let twice = two.replace(tasks, "tasks = [\"age\", \"age\"]");
    assert_fails(
        &fit_text(&s, &twice, &[]),
        &["probe[0].tasks", "'age' given twice"],
    );
    let empty = two.replace(tasks, "tasks = []");
    assert_fails(
        &fit_text(&s, &empty, &[]),
        &["probe[0].tasks", "at least one"],
    );
    let grouped = format!("{two}[[probe]]\nkind = \"logreg\"\ntask = \"sex\"\n");
    assert_fails(
        &fit_text(&s, &grouped, &[]),
        &["probe[0].tasks", "alone in its group", "probe[1]"],
    );
}
