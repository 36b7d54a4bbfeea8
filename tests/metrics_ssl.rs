//! nidl 0.0.2's SSL geometry metrics (`nidl.metrics.ssl`) against golden values made by nidl
//! itself (`scripts/nidl_ssl_metrics_golden.py`, tests/data/ssl_metrics/<case>/).

mod common;

use common::{golden, golden_path};
use nidl::metrics::ssl::{
    alignment_score, contrastive_accuracy_score, kruskal_similarity, procrustes_r2,
    procrustes_similarity, uniformity_score, Points, SslReport,
};
use nidl::Error;

/// The cases the script writes.
const CASES: [&str; 6] = [
    "small",
    "medium",
    "rotated",
    "widths",
    "few_samples",
    "repeated_rows",
];

/// `function[arguments]` as the script names a value: the function and its `key=value`
/// arguments (bare words are the inputs' order, `x,y` or `y,x`).
fn parse(name: &str) -> (&str, Vec<&str>) {
    let (f, rest) = name.split_once('[').expect("name[arguments]");
    (f, rest.trim_end_matches(']').split(',').collect())
}

fn arg<'a>(args: &[&'a str], key: &str) -> &'a str {
    args.iter()
        .find_map(|a| a.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("argument {key} in {args:?}"))
}

fn flag(args: &[&str], key: &str) -> bool {
    arg(args, key) == "True"
}

/// Our value of the golden entry `name` on the case's `x` and `y`.
fn ours(name: &str, x: &Points, y: &Points) -> f64 {
    let (f, args) = parse(name);
    let swapped = args.len() >= 2 && args[0] == "y" && args[1] == "x";
    let (a, b) = if swapped { (y, x) } else { (x, y) };
    let r = match f {
        "alignment" => {
            let alpha: f64 = arg(&args, "alpha").parse().unwrap();
            alignment_score(x, y, flag(&args, "normalize"), alpha)
        }
        "uniformity" => {
            let z = if args[0] == "y" { y } else { x };
            let t: f64 = arg(&args, "t").parse().unwrap();
            uniformity_score(z, flag(&args, "normalize"), t)
        }
        "contrastive_accuracy" => {
            let k: usize = arg(&args, "topk").parse().unwrap();
            contrastive_accuracy_score(x, y, flag(&args, "normalize"), k)
        }
        "procrustes_similarity" => procrustes_similarity(a, b),
        "procrustes_r2" => procrustes_r2(a, b),
        "kruskal" => kruskal_similarity(a, b, flag(&args, "spherical")),
        other => panic!("unknown golden function {other}"),
    };
    r.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every value of every case, within 1e-12 relative (absolute below 1; 1.1e-15 seen); the
/// contrastive accuracy, a fraction of hits that nidl averages in float32
/// (`.float().mean()`), within float32's rounding of it.
#[test]
fn ssl_metrics_match_nidl() {
    let mut worst = 0.0f64;
    let mut checked = 0;
    for case in CASES {
        let case = &format!("ssl_metrics/{case}");
        let xg = golden(case, "x");
        let yg = golden(case, "y");
        let (x, y) = (
            Points::new(xg.data().unwrap(), xg.shape()[0], xg.shape()[1]).unwrap(),
            Points::new(yg.data().unwrap(), yg.shape()[0], yg.shape()[1]).unwrap(),
        );
        let names_file = golden_path(case, "values").with_file_name("names.txt");
        let names = std::fs::read_to_string(&names_file).unwrap();
        let want = golden(case, "values");
        let want = want.data().unwrap();
        let names: Vec<&str> = names.lines().collect();
        assert_eq!(names.len(), want.len(), "{case}: names.txt and values.npy");
        for (name, &w) in names.iter().zip(want) {
            let v = ours(name, &x, &y);
            if name.starts_with("contrastive_accuracy") {
                assert!((v - w).abs() <= 1e-7, "{case} {name}: {v} vs nidl {w}");
                continue;
            }
            let err = (v - w).abs() / w.abs().max(1.0);
            worst = worst.max(err);
            assert!(
                err <= 1e-12,
                "{case} {name}: {v} vs nidl {w} (error {err:e})"
            );
            checked += 1;
        }
    }
    println!("ssl metrics: {checked} values, worst relative error {worst:e}");
    assert!(checked >= 100, "only {checked} values checked");
}

/// The report holds nidl's defaults: alignment α = 2, uniformity of view 1 with t = 2, top-1
/// accuracy, Euclidean Kruskal; the golden `medium` case's entries.
#[test]
fn report_uses_nidl_defaults() {
    let (xg, yg) = (
        golden("ssl_metrics/medium", "x"),
        golden("ssl_metrics/medium", "y"),
    );
    let x = Points::new(xg.data().unwrap(), 60, 8).unwrap();
    let y = Points::new(yg.data().unwrap(), 60, 8).unwrap();
    let r = SslReport::new(&x, &y).unwrap();
    let pick = |name: &str| ours(name, &x, &y);
    assert_eq!(r.alignment, pick("alignment[normalize=True,alpha=2]"));
    assert_eq!(r.uniformity, pick("uniformity[x,normalize=True,t=2.0]"));
    assert_eq!(
        r.contrastive_accuracy,
        pick("contrastive_accuracy[normalize=True,topk=1]")
    );
    assert_eq!(r.procrustes_similarity, pick("procrustes_similarity[x,y]"));
    assert_eq!(r.procrustes_r2, pick("procrustes_r2[x,y]"));
    assert_eq!(r.kruskal_similarity, pick("kruskal[x,y,spherical=False]"));
    let names: Vec<&str> = r.metrics().iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        [
            "alignment",
            "uniformity",
            "contrastive_accuracy",
            "procrustes_similarity",
            "procrustes_r2",
            "kruskal_similarity"
        ]
    );
}

/// Bad input: typed errors naming the function and the shapes.
#[test]
fn bad_input_is_a_typed_error() {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.5];
    let x = Points::new(&a, 3, 2).unwrap();
    let y = Points::new(&a[..4], 2, 2).unwrap();
    let w = Points::new(&a, 2, 3).unwrap();
    for (e, op) in [
        (
            alignment_score(&x, &y, true, 2.0).unwrap_err(),
            "alignment_score",
        ),
        (
            contrastive_accuracy_score(&x, &w, true, 1).unwrap_err(),
            "contrastive_accuracy_score",
        ),
        (
            procrustes_similarity(&x, &y).unwrap_err(),
            "procrustes_similarity",
        ),
        (procrustes_r2(&w, &x).unwrap_err(), "procrustes_r2"),
        (
            kruskal_similarity(&x, &y, false).unwrap_err(),
            "kruskal_similarity",
        ),
    ] {
        assert!(matches!(&e, Error::Shape { op: o, .. } if *o == op), "{e}");
        let text = e.to_string();
        assert!(text.contains(op) && text.contains('3'), "{text}");
    }
    let one = Points::new(&a[..2], 1, 2).unwrap();
    let e = uniformity_score(&one, true, 2.0).unwrap_err();
    assert!(e.to_string().contains("uniformity_score"), "{e}");
    let inf = [1.0, f64::INFINITY, 0.0, 1.0, 2.0, 2.0];
    let e = procrustes_r2(&Points::new(&inf, 3, 2).unwrap(), &x).unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { .. }) && e.to_string().contains("row 0"),
        "{e}"
    );
    let zero = [0.0, 0.0, 1.0, 2.0, 3.0, 1.0];
    let e = alignment_score(&Points::new(&zero, 3, 2).unwrap(), &x, true, 2.0).unwrap_err();
    assert!(e.to_string().contains("zero"), "{e}");
    // Without normalisation a zero row is a point like any other.
    assert!(alignment_score(&Points::new(&zero, 3, 2).unwrap(), &x, false, 2.0).is_ok());
}
