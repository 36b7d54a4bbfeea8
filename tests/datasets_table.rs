//! CSV table data sets: named and globbed columns, splits by a column or by files, categorical
//! labels, and errors naming the file, line and column.

mod common;

use common::Scratch;
use nidl::datasets::loader::Dataset;
use nidl::datasets::table::{Categories, SplitBy, TableColumns, TableDataset};
use std::path::PathBuf;

const TABLE: &str = "\
id,roi_1,other,roi_2,age,sex,split
s1,0.5,9,1.5,30,M,train
s2,2,9,3,40.5,F,val
s3,4,9,5,50,F,train
s4,6,9,7,60,X,val
";

fn write(dir: &Scratch, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn columns(features: &[&str], labels: &[&str], split: Option<&str>) -> TableColumns {
    TableColumns {
        features: features.iter().map(|s| s.to_string()).collect(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        split: split.map(|v| SplitBy {
            column: "split".into(),
            value: v.into(),
        }),
        categories: None,
    }
}

#[test]
fn split_by_column_with_globbed_features_and_categories() {
    let dir = Scratch::new("split");
    let path = write(&dir, "t.csv", TABLE);
    let cols = columns(&["roi_*"], &["age", "sex"], Some("train"));
    let train = TableDataset::read(&path, &cols).unwrap();
    assert_eq!(train.feature_names(), ["roi_1", "roi_2"]);
    assert_eq!(train.label_names(), ["age", "sex"]);
    assert_eq!(train.len(), 2);
    // Categories over every row of the file, sorted: F → 0, M → 1, X → 2.
    assert_eq!(
        train.categories(),
        [Categories {
            column: "sex".into(),
            values: vec!["F".into(), "M".into(), "X".into()]
        }]
    );
    assert_eq!(
        train.categories()[0].to_string(),
        "sex: F → 0, M → 1, X → 2"
    );
    assert_eq!(train.get(0).unwrap(), (vec![0.5, 1.5], vec![30.0, 1.0]));
    assert_eq!(train.get(1).unwrap(), (vec![4.0, 5.0], vec![50.0, 0.0]));

    let val =
        TableDataset::read(&path, &columns(&["roi_*"], &["age", "sex"], Some("val"))).unwrap();
    assert_eq!(val.get(0).unwrap(), (vec![2.0, 3.0], vec![40.5, 0.0]));
    assert_eq!(val.get(1).unwrap().1, vec![60.0, 2.0]);

    // One label column, y-Aware's auxiliary variable.
    let sex = train.select_labels(&[1]).unwrap();
    assert_eq!(sex.label_names(), ["sex"]);
    assert_eq!(sex.get(0).unwrap().1, vec![1.0]);

    // Explicit names in the given order, patterns after; each column once; no split keeps all.
    let all = TableDataset::read(
        &path,
        &columns(&["other", "roi_2", "roi_?"], &["age"], None),
    )
    .unwrap();
    assert_eq!(all.feature_names(), ["other", "roi_2", "roi_1"]);
    assert_eq!(all.len(), 4);
    assert_eq!(all.get(3).unwrap(), (vec![9.0, 7.0, 6.0], vec![60.0]));
    // `*` never picks the label or split columns (nor a text id column when excluded by name).
    let star = columns(&["*"], &["age", "sex"], Some("train"));
    let m = TableDataset::read(&path, &star).unwrap_err().to_string();
    assert!(
        m.contains("line 2, column 'id' (#1)") && m.contains("'s1' is not a number"),
        "{m}"
    );
}

#[test]
fn separate_files_share_the_training_coding() {
    let dir = Scratch::new("files");
    let train_p = write(&dir, "train.tsv", "a\tb\tsex\n1\t2\tM\n3\t4\tF\n");
    let val_p = write(&dir, "val.tsv", "b\ta\tsex\n5\t6\tM\n");
    let cols = columns(&["a", "b"], &["sex"], None);
    let train = TableDataset::read(&train_p, &cols).unwrap();
    assert_eq!(train.get(0).unwrap(), (vec![1.0, 2.0], vec![1.0]));
    // Read alone, the validation file would code M as 0; with the training coding it is 1.
    let alone = TableDataset::read(&val_p, &cols).unwrap();
    assert_eq!(alone.get(0).unwrap().1, vec![0.0]);
    let fixed = TableColumns {
        categories: Some(train.categories().to_vec()),
        ..cols.clone()
    };
    let val = TableDataset::read(&val_p, &fixed).unwrap();
    assert_eq!(val.get(0).unwrap(), (vec![6.0, 5.0], vec![1.0]));

    let other = write(&dir, "other.tsv", "a\tb\tsex\n1\t2\tU\n");
    let m = TableDataset::read(&other, &fixed).unwrap_err().to_string();
    assert!(
        m.contains("other.tsv")
            && m.contains("line 2, column 'sex' (#3)")
            && m.contains("'U' is not one of the categories (F, M)"),
        "{m}"
    );
    // With a fixed coding, unlisted columns must be numeric.
    let no_sex = TableColumns {
        categories: Some(vec![]),
        ..cols
    };
    let m = TableDataset::read(&train_p, &no_sex)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("line 2, column 'sex'") && m.contains("'M' is not a number"),
        "{m}"
    );
}

#[test]
fn bad_tables_name_file_line_and_column() {
    let dir = Scratch::new("bad");
    let path = write(&dir, "t.csv", TABLE);
    let check = |cols: TableColumns, needles: &[&str]| {
        let m = TableDataset::read(&path, &cols).unwrap_err().to_string();
        assert!(m.contains("t.csv"), "{m}");
        for n in needles {
            assert!(m.contains(n), "{n}: {m}");
        }
    };
    check(
        columns(&["roi_*"], &["weight"], None),
        &["line 1", "missing column 'weight'"],
    );
    check(
        columns(&["nope_*"], &["age"], None),
        &["line 1", "'nope_*' matches no column", "roi_1"],
    );
    check(columns(&[], &["age"], None), &["no feature columns"]);
    check(
        columns(&["roi_1"], &["age"], Some("test")),
        &["no row has split = 'test'", "train, val"],
    );

    let bad = write(&dir, "bad.csv", "f,age\n1,20\n2,NA\n");
    let m = TableDataset::read(&bad, &columns(&["f"], &["age"], None))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("bad.csv") && m.contains("line 3, column 'age' (#2): missing value 'NA'"),
        "{m}"
    );
    let short = write(&dir, "short.csv", "f,age\n1,20\n3\n");
    let m = TableDataset::read(&short, &columns(&["f"], &["age"], None))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("line 3") && m.contains("expected 2 fields"),
        "{m}"
    );
    let text = write(&dir, "text.csv", "f,age\n1,20\nx,30\n");
    let m = TableDataset::read(&text, &columns(&["f"], &["age"], None))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("line 3, column 'f' (#1): 'x' is not a number"),
        "{m}"
    );
    let inf = write(&dir, "inf.csv", "f,age\n1,inf\n");
    let m = TableDataset::read(&inf, &columns(&["f"], &["age"], None))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("line 2, column 'age' (#2): non-finite value 'inf'"),
        "{m}"
    );
    let missing_cat = write(&dir, "cat.csv", "f,sex\n1,F\n2,\n");
    let m = TableDataset::read(&missing_cat, &columns(&["f"], &["sex"], None))
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("line 3, column 'sex' (#2): missing value (empty field)"),
        "{m}"
    );
    let dup = write(&dir, "dup.csv", "r_1,r_1,age\n1,2,3\n");
    let m = TableDataset::read(&dup, &columns(&["r_*"], &["age"], None))
        .unwrap_err()
        .to_string();
    assert!(m.contains("column 'r_1' appears twice"), "{m}");
    let header_only = write(&dir, "empty.csv", "f,age\n");
    let m = TableDataset::read(&header_only, &columns(&["f"], &["age"], None))
        .unwrap_err()
        .to_string();
    assert!(m.contains("empty.csv") && m.contains("no data rows"), "{m}");
}
