//! Run logging: version directories, the TensorBoard event file (decoded back by a small
//! TFRecord + protobuf reader below), metrics.csv, hparams.yaml and metrics.png and metrics.svg.

use std::fs;
use std::path::{Path, PathBuf};

use nidl::log::plot::{LEGEND_ROW, PANEL_HEIGHT, PANEL_WIDTH, TITLE_HEIGHT};
use nidl::log::tensorboard::{crc32c, masked_crc32c, FILE_VERSION};
use nidl::log::{next_version_dir, FigureNames, RunLogger, Scalar};

/// A fresh, empty directory under the system temp dir. Set `NIDL_KEEP_TEST_LOGS=1` to keep it.
fn temp_dir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("nidl-test-log-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

fn cleanup(p: &Path) {
    if std::env::var_os("NIDL_KEEP_TEST_LOGS").is_none() {
        let _ = fs::remove_dir_all(p);
    } else {
        eprintln!("kept {}", p.display());
    }
}

// ---------------------------------------------------------------- TFRecord + protobuf reader

/// Splits a TFRecord file into payloads, checking both masked CRC-32Cs of every record.
#[allow(clippy::manual_rotate)] // the mask formula, spelled out
fn read_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        assert!(i + 12 <= bytes.len(), "truncated record header at {i}");
        let len_bytes = &bytes[i..i + 8];
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
        let len_crc = u32::from_le_bytes(bytes[i + 8..i + 12].try_into().unwrap());
        assert_eq!(len_crc, masked_crc32c(len_bytes), "length CRC at {i}");
        // The mask formula, spelled out independently of the library.
        let c = crc32c(len_bytes);
        assert_eq!(len_crc, ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8));
        let start = i + 12;
        assert!(start + len + 4 <= bytes.len(), "truncated payload at {i}");
        let payload = &bytes[start..start + len];
        let crc = u32::from_le_bytes(bytes[start + len..start + len + 4].try_into().unwrap());
        assert_eq!(crc, masked_crc32c(payload), "payload CRC at {i}");
        out.push(payload.to_vec());
        i = start + len + 4;
    }
    out
}

/// One decoded protobuf field.
#[derive(Debug, Clone)]
enum Field {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(Vec<u8>),
    Fixed32([u8; 4]),
}

fn read_varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*i];
        *i += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
        assert!(shift < 64, "varint too long");
    }
}

/// Decodes a protobuf message into `(field number, value)` pairs in order.
fn decode(b: &[u8]) -> Vec<(u64, Field)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = read_varint(b, &mut i);
        let (field, wt) = (key >> 3, key & 7);
        let f = match wt {
            0 => Field::Varint(read_varint(b, &mut i)),
            1 => {
                let v = b[i..i + 8].try_into().unwrap();
                i += 8;
                Field::Fixed64(v)
            }
            2 => {
                let n = read_varint(b, &mut i) as usize;
                let v = b[i..i + n].to_vec();
                i += n;
                Field::Bytes(v)
            }
            5 => {
                let v = b[i..i + 4].try_into().unwrap();
                i += 4;
                Field::Fixed32(v)
            }
            _ => panic!("unexpected wire type {wt}"),
        };
        out.push((field, f));
    }
    out
}

/// A decoded `Event`: wall_time, step, file_version, and the summary's (tag, simple_value)s.
#[derive(Debug, Default)]
struct Event {
    wall_time: f64,
    step: i64,
    file_version: Option<String>,
    values: Vec<(String, f32)>,
}

fn decode_event(payload: &[u8]) -> Event {
    let mut e = Event::default();
    for (field, f) in decode(payload) {
        match (field, f) {
            (1, Field::Fixed64(b)) => e.wall_time = f64::from_le_bytes(b),
            (2, Field::Varint(v)) => e.step = v as i64,
            (3, Field::Bytes(b)) => e.file_version = Some(String::from_utf8(b).unwrap()),
            (5, Field::Bytes(summary)) => {
                for (sf, sv) in decode(&summary) {
                    let (1, Field::Bytes(value)) = (sf, sv) else {
                        panic!("Summary field {sf}")
                    };
                    let (mut tag, mut simple) = (None, None);
                    for (vf, vv) in decode(&value) {
                        match (vf, vv) {
                            (1, Field::Bytes(t)) => tag = Some(String::from_utf8(t).unwrap()),
                            (2, Field::Fixed32(x)) => simple = Some(f32::from_le_bytes(x)),
                            other => panic!("Value field {other:?}"),
                        }
                    }
                    e.values.push((tag.unwrap(), simple.unwrap()));
                }
            }
            other => panic!("Event field {other:?}"),
        }
    }
    e
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("events.out.tfevents.")
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- tests

#[test]
fn crc32c_known_vectors() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    // RFC 3720 (iSCSI) B.4 vectors.
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let inc: Vec<u8> = (0u8..32).collect();
    assert_eq!(crc32c(&inc), 0x46DD_794E);
}

#[test]
fn next_version_dir_numbering() {
    let root = temp_dir("versions");
    let logs = root.join("lightning_logs"); // does not exist yet: created
    assert_eq!(next_version_dir(&logs).unwrap(), logs.join("version_0"));
    assert!(logs.join("version_0").is_dir());
    assert_eq!(next_version_dir(&logs).unwrap(), logs.join("version_1"));
    // Names that are not `version_<digits>` directories do not count.
    fs::create_dir(logs.join("version_x")).unwrap();
    fs::create_dir(logs.join("version_99_old")).unwrap();
    fs::create_dir(logs.join("other_50")).unwrap();
    fs::write(logs.join("version_40"), b"a file, not a dir").unwrap();
    assert_eq!(next_version_dir(&logs).unwrap(), logs.join("version_2"));
    // Gaps: max + 1, as Lightning.
    fs::create_dir(logs.join("version_7")).unwrap();
    assert_eq!(next_version_dir(&logs).unwrap(), logs.join("version_8"));
    assert_eq!(next_version_dir(&logs).unwrap(), logs.join("version_9"));
    cleanup(&root);
}

#[test]
fn next_version_dir_is_race_safe() {
    let root = temp_dir("race");
    let logs = root.join("logs");
    fs::create_dir_all(&logs).unwrap();
    let dirs: Vec<PathBuf> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| next_version_dir(&logs).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        8,
        "every caller got its own directory: {names:?}"
    );
    cleanup(&root);
}

#[test]
fn next_version_dir_error_names_path() {
    let root = temp_dir("vererr");
    let file = root.join("not_a_dir");
    fs::write(&file, b"x").unwrap();
    let err = next_version_dir(&file).unwrap_err().to_string();
    assert!(err.contains("not_a_dir"), "{err}");
    cleanup(&root);
}

/// The scalars of a small simulated run, including awkward values.
fn sample_scalars() -> Vec<Scalar> {
    let mut v = Vec::new();
    let mut push = |tag: &str, value: f64, step: u64, epoch: usize| {
        v.push(Scalar {
            tag: tag.into(),
            value,
            step,
            epoch,
        })
    };
    for epoch in 0..3usize {
        for b in 0..4u64 {
            let step = epoch as u64 * 4 + b + 1;
            push("loss/train", 5.0 / (step as f64 + 1.0) + 0.1, step, epoch);
        }
        let step = (epoch as u64 + 1) * 4;
        push("loss/val", 4.0 / (step as f64) + 0.3, step, epoch);
        push(
            "LogisticRegression/accuracy",
            0.5 + 0.1 * epoch as f64 + 1e-17,
            step,
            epoch,
        );
        push("task0/R2", 0.1 + 0.2 * epoch as f64, step, epoch);
    }
    push("weird,tag \"quoted\"", 1.0 / 3.0, 12, 2);
    push("tiny", 1e-300, 12, 2);
    push("huge", 1.7976931348623157e308, 12, 2);
    push("negative", -0.0, 12, 2);
    v
}

fn write_run(dir: &Path, scalars: &[Scalar]) -> RunLogger {
    let mut log = RunLogger::create(dir).unwrap();
    for s in scalars {
        log.log_scalar(&s.tag, s.value, s.step, s.epoch).unwrap();
    }
    log.flush().unwrap();
    log
}

#[test]
fn event_file_decodes_back() {
    let root = temp_dir("events");
    let dir = next_version_dir(&root).unwrap();
    let scalars = sample_scalars();
    let log = write_run(&dir, &scalars);
    assert_eq!(log.scalars(), scalars.as_slice());
    assert_eq!(log.dir(), dir.as_path());

    let files = event_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].as_path(), log.event_file());
    // events.out.tfevents.<secs>.<host>.<pid>.0
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    let parts: Vec<&str> = name
        .strip_prefix("events.out.tfevents.")
        .unwrap()
        .split('.')
        .collect();
    assert!(parts[0].parse::<u64>().unwrap() > 1_600_000_000, "{name}");
    assert_eq!(
        parts[parts.len() - 2],
        std::process::id().to_string(),
        "{name}"
    );
    assert_eq!(parts[parts.len() - 1], "0", "{name}");

    let records = read_records(&fs::read(&files[0]).unwrap());
    assert_eq!(records.len(), scalars.len() + 1);
    let first = decode_event(&records[0]);
    assert_eq!(first.file_version.as_deref(), Some(FILE_VERSION));
    assert_eq!(first.file_version.as_deref(), Some("brain.Event:2"));
    assert!(first.values.is_empty());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - first.wall_time).abs() < 600.0);

    for (rec, s) in records[1..].iter().zip(&scalars) {
        let e = decode_event(rec);
        assert_eq!(e.step, s.step as i64);
        assert!(e.file_version.is_none());
        assert!(e.wall_time >= first.wall_time);
        assert_eq!(e.values.len(), 1);
        assert_eq!(e.values[0].0, s.tag);
        assert_eq!(
            e.values[0].1.to_bits(),
            (s.value as f32).to_bits(),
            "{}",
            s.tag
        );
    }
    drop(log);
    cleanup(&root);
}

#[test]
fn two_loggers_in_one_dir_get_distinct_event_files() {
    let root = temp_dir("twofiles");
    let a = RunLogger::create(&root).unwrap();
    let b = RunLogger::create(&root).unwrap();
    assert_ne!(a.event_file(), b.event_file());
    drop((a, b));
    assert_eq!(event_files(&root).len(), 2);
    cleanup(&root);
}

#[test]
fn create_in_missing_dir_names_it() {
    let root = temp_dir("missing");
    let err = RunLogger::create(&root.join("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    cleanup(&root);
}

/// Minimal RFC 4180 line splitter for the checks below.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => out.push(std::mem::take(&mut cur)),
            (false, '"') => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (_, c) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn csv_rows_round_trip_exactly() {
    let root = temp_dir("csv");
    let scalars = sample_scalars();
    let log = write_run(&root, &scalars);
    let text = fs::read_to_string(root.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,epoch,tag,value"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), scalars.len());
    for (row, s) in rows.iter().zip(&scalars) {
        let f = split_csv_line(row);
        assert_eq!(f.len(), 4, "{row}");
        assert_eq!(f[0].parse::<u64>().unwrap(), s.step);
        assert_eq!(f[1].parse::<usize>().unwrap(), s.epoch);
        assert_eq!(f[2], s.tag);
        let v: f64 = f[3].parse().unwrap();
        assert_eq!(v.to_bits(), s.value.to_bits(), "{row}");
        assert_eq!(f[3], format!("{}", s.value));
    }
    assert!(text.contains("\n12,2,\"weird,tag \"\"quoted\"\"\",0.3333333333333333\n"));
    assert!(text.contains("\n12,2,negative,-0\n"));
    drop(log);

    // Same scalars, same bytes.
    let root2 = temp_dir("csv2");
    drop(write_run(&root2, &scalars));
    assert_eq!(
        fs::read(root.join("metrics.csv")).unwrap(),
        fs::read(root2.join("metrics.csv")).unwrap()
    );
    cleanup(&root);
    cleanup(&root2);
}

/// `/dev/full` takes no byte (ENOSPC, a full disk): a logger whose `metrics.csv` is it reports
/// the failed write at flush time, naming the file, instead of leaving a cut-off row behind.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error_naming_metrics_csv() {
    let root = temp_dir("full");
    std::os::unix::fs::symlink("/dev/full", root.join("metrics.csv")).unwrap();
    let mut log = RunLogger::create(&root).unwrap();
    log.log_scalar("loss/train", 1.5, 0, 0).unwrap();
    let e = log.flush().unwrap_err();
    let text = e.to_string();
    assert!(text.contains("metrics.csv"), "{text}");
    match e {
        nidl::Error::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{source}")
        }
        other => panic!("expected an I/O error, got {other}"),
    }
    drop(log);
    cleanup(&root);
}

#[test]
fn hparams_yaml_escaping() {
    let root = temp_dir("hparams");
    let mut log = RunLogger::create(&root).unwrap();
    let hp: Vec<(String, String)> = [
        ("lr", "0.0001"),
        ("epochs", "10"),
        ("weight_decay", "1e-4"),
        ("probe", "LogisticRegression"),
        ("data_dir", "data/mnist"),
        ("hidden_dims", "[64, 32]"),
        ("note", "a: b # c"),
        ("quote", "say \"hi\"\\now\nnext"),
        ("empty", ""),
        ("flag", "true"),
        ("word", "yes"),
        ("nothing", "null"),
        ("key with space", "x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    log.log_hparams(&hp).unwrap();
    let text = fs::read_to_string(root.join("hparams.yaml")).unwrap();
    let expected = "lr: 0.0001\n\
                    epochs: 10\n\
                    weight_decay: 1e-4\n\
                    probe: LogisticRegression\n\
                    data_dir: data/mnist\n\
                    hidden_dims: \"[64, 32]\"\n\
                    note: \"a: b # c\"\n\
                    quote: \"say \\\"hi\\\"\\\\now\\nnext\"\n\
                    empty: \"\"\n\
                    flag: true\n\
                    word: \"yes\"\n\
                    nothing: \"null\"\n\
                    \"key with space\": x\n";
    assert_eq!(text, expected);
    // Atomic: no temporary file left behind; rewriting replaces the file.
    log.log_hparams(&[("seed".into(), "42".into())]).unwrap();
    assert_eq!(
        fs::read_to_string(root.join("hparams.yaml")).unwrap(),
        "seed: 42\n"
    );
    let leftovers: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A repeated key is refused, naming it.
    let err = log
        .log_hparams(&[("a".into(), "1".into()), ("a".into(), "2".into())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`a`"), "{err}");
    drop(log);
    cleanup(&root);
}

// ---------------------------------------------------------------- metrics.png / metrics.svg

/// Decodes the PNG at `path` completely (with the `png` crate, not our encoder) and returns
/// (width, height, RGB bytes).
fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// The SVG beside `png`: checks it is one `<svg ...>` document of `size` and returns its text.
fn read_svg(png: &Path, size: (u32, u32)) -> String {
    let svg = fs::read_to_string(png.with_extension("svg")).unwrap();
    assert!(
        svg.trim_start().starts_with("<svg"),
        "{}",
        &svg[..80.min(svg.len())]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<svg").count(), 1);
    assert!(
        svg.contains(&format!("width=\"{}\" height=\"{}\"", size.0, size.1)),
        "{}",
        &svg[..200.min(svg.len())]
    );
    svg
}

/// The `<text>` elements of `svg`: their `y` attribute and contents.
fn svg_text_elements(svg: &str) -> Vec<(f64, String)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            let y = t.split(" y=\"").nth(1)?.split('"').next()?.parse().ok()?;
            Some((y, t[start..end].trim().to_string()))
        })
        .collect()
}

/// Texts drawn in `svg` (the contents of its `<text>` elements).
fn svg_texts(svg: &str) -> Vec<String> {
    svg_text_elements(svg).into_iter().map(|t| t.1).collect()
}

/// The `y` of the text `text` in `svg` (the first one drawn).
fn text_y(svg: &str, text: &str) -> f64 {
    svg_text_elements(svg)
        .into_iter()
        .find(|t| t.1 == text)
        .unwrap_or_else(|| panic!("no text {text:?}"))
        .0
}

/// Checks that every text of `want` is drawn (is one of `texts`).
fn has_texts(texts: &[String], want: &[&str]) {
    for w in want {
        assert!(texts.iter().any(|t| t == w), "no text {w:?} in {texts:?}");
    }
}

fn no_temporaries(dir: &Path) {
    let leftovers: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn finish_writes_png_and_svg_with_title_axes_and_legend() {
    let root = temp_dir("png");
    let dir = next_version_dir(&root).unwrap(); // version_0
                                                // SimCLR-like: a LogisticRegression panel and a loss panel, side by side.
    let scalars: Vec<Scalar> = sample_scalars()
        .into_iter()
        .filter(|s| s.tag.starts_with("loss/") || s.tag.starts_with("LogisticRegression/"))
        .collect();
    let mut log = write_run(&dir, &scalars);
    log.log_scalar("epoch", 2.0, 12, 2).unwrap();
    log.log_hparams(&[
        ("estimator".into(), "SimCLR".into()),
        ("batch_size".into(), "256".into()),
    ])
    .unwrap();
    log.set_figure_names(FigureNames {
        data: Some("MNIST".into()),
        panels: Vec::new(),
    });
    let png = log.finish().unwrap().unwrap();
    assert_eq!(png, dir.join("metrics.png"));
    let (w, h, rgb) = decode_png(&png);
    // One row of panels, each with a one-row legend band below it.
    assert_eq!(
        (w, h),
        (
            2 * PANEL_WIDTH,
            TITLE_HEIGHT + PANEL_HEIGHT + LEGEND_ROW + 10
        )
    );
    // Not blank: coloured (non-grey) pixels from the curves, and grey levels other than black
    // and white from antialiased text and lines.
    let coloured = rgb
        .chunks(3)
        .filter(|p| p[0] != p[1] || p[1] != p[2])
        .count();
    assert!(coloured > 500, "only {coloured} coloured pixels");
    let greys: std::collections::BTreeSet<u8> = rgb
        .chunks(3)
        .filter(|p| p[0] == p[1] && p[1] == p[2])
        .map(|p| p[0])
        .collect();
    assert!(
        greys.len() > 50,
        "{} grey levels: no antialiasing?",
        greys.len()
    );
    let svg = read_svg(&png, (w, h));
    // The legend sits below the x axis's description, outside the plot area.
    for entry in ["accuracy", "val"] {
        assert!(
            text_y(&svg, entry) > text_y(&svg, "step (batch size 256)") + 10.0,
            "legend entry {entry:?} is not below the plot"
        );
    }
    // No empty shapes (markers are drawn without empty parts), and the font is named.
    assert!(!svg.contains("points=\"\""), "an empty polyline/polygon");
    assert!(
        svg.contains("font-family=\"DejaVu Sans, ") && !svg.contains("font-family=\"sans-serif\""),
        "font-family should name DejaVu Sans first"
    );
    let texts = svg_texts(&svg);
    has_texts(
        &texts,
        &[
            "SimCLR · MNIST · version_0",
            "LogisticRegression",
            "loss",
            "accuracy",
            "train (smoothed; raw faint)",
            "val",
            "step (batch size 256)",
            "score",
        ],
    );
    assert!(!texts.iter().any(|t| t.contains("epoch")), "{texts:?}");
    no_temporaries(&dir);
    cleanup(&root);
}

#[test]
fn openbhb_like_run_splits_scores_from_errors_and_names_panels() {
    let root = temp_dir("png3");
    let mut log = RunLogger::create(&root).unwrap();
    for epoch in 0..10usize {
        let step = (epoch as u64 + 1) * 26;
        for b in 0..26u64 {
            let s = epoch as u64 * 26 + b + 1;
            let v = 6.0 * (-(s as f64) / 120.0).exp() + 0.05 * ((s * 7919 % 13) as f64 / 13.0);
            log.log_scalar("loss/train", v, s, epoch).unwrap();
        }
        // The last batch of each epoch is short: its loss is marked, not smoothed.
        log.mark_short_batch(step);
        let t = epoch as f64 / 9.0;
        for (m, v) in [
            ("R2", -0.3 + 0.8 * t),
            ("PCC", 0.2 + 0.6 * t),
            ("MAE", 8.0 - 3.0 * t),
            ("MSE", 60.0 - 20.0 * t),
        ] {
            log.log_scalar(&format!("task0/{m}"), v, step, epoch)
                .unwrap();
        }
        log.log_scalar("task1/accuracy", 0.55 + 0.3 * t, step, epoch)
            .unwrap();
        // Equal by definition: both curves stay visible, the second says so.
        for m in ["balanced_accuracy", "recall_macro"] {
            log.log_scalar(&format!("task1/{m}"), 0.5 + 0.3 * t, step, epoch)
                .unwrap();
        }
    }
    let names = FigureNames {
        data: None,
        panels: vec![
            ("task0".into(), "age".into()),
            ("task1".into(), "sex \"M/F\"".into()),
        ],
    };
    log.set_figure_names(names.clone());
    let png = log.finish().unwrap().unwrap();
    // figure.yaml records the names and the short batches' steps for `nidl plot`.
    let steps: Vec<u64> = (1..=10).map(|e| e * 26).collect();
    assert_eq!(
        nidl::log::compare::read_figure_yaml(&root.join("figure.yaml")).unwrap(),
        (names, steps)
    );
    let (w, h, _) = decode_png(&png);
    // age: scores, age: errors, sex, loss -> 2 columns x 2 rows.
    assert_eq!(w, 2 * PANEL_WIDTH);
    let band = (h - TITLE_HEIGHT) / 2 - PANEL_HEIGHT;
    assert_eq!(h, TITLE_HEIGHT + 2 * (PANEL_HEIGHT + band));
    assert!(
        band > 10 && (band - 10).is_multiple_of(LEGEND_ROW),
        "legend band {band}"
    );
    let texts = svg_texts(&read_svg(&png, (w, h)));
    has_texts(
        &texts,
        &[
            "age: scores",
            "age: errors",
            "sex &quot;M/F&quot;",
            "R2",
            "MSE",
            "error",
            "train: short last batch",
            "balanced_accuracy",
            "recall_macro (= balanced_accuracy)",
            "step",
        ],
    );
    assert!(!texts.iter().any(|t| t.starts_with("task")), "{texts:?}");
    cleanup(&root);
}

#[test]
fn a_run_without_scalars_gets_an_empty_state_figure() {
    let root = temp_dir("png-empty");
    let png = RunLogger::create(&root).unwrap().finish().unwrap().unwrap();
    let (w, h, _) = decode_png(&png);
    assert_eq!((w, h), (PANEL_WIDTH, TITLE_HEIGHT + PANEL_HEIGHT));
    let texts = svg_texts(&read_svg(&png, (w, h)));
    assert!(
        texts
            .iter()
            .any(|t| t == "no scalars were logged in this run"),
        "{texts:?}"
    );
    cleanup(&root);
}

#[test]
fn figure_model_kinds_short_batches_and_smoothing() {
    use nidl::log::figure::{figure, FigureLabels};
    use nidl::log::MetricKind;
    for tag in [
        "p/accuracy",
        "p/balanced_accuracy",
        "p/f1_macro",
        "p/precision_weighted",
        "p/recall_macro",
        "task0/R2",
        "task0/PCC",
        "task0/EVar",
    ] {
        assert_eq!(MetricKind::of(tag), MetricKind::Score, "{tag}");
    }
    for tag in ["task0/MAE", "task0/MedAE", "task0/RMSE", "task0/MSE"] {
        assert_eq!(MetricKind::of(tag), MetricKind::Error, "{tag}");
    }
    // A multi-output regressor's tags have three segments: the kind is the last one's.
    assert_eq!(MetricKind::of("Ridge/regressor 1/R2"), MetricKind::Score);
    assert_eq!(MetricKind::of("Ridge/average/MAE"), MetricKind::Error);
    assert_eq!(MetricKind::of("loss/val"), MetricKind::Loss);
    assert_eq!(MetricKind::of("tiny"), MetricKind::Other);
    assert_eq!(MetricKind::of("p/f1score"), MetricKind::Other);
    let scalar = |tag: &str, value: f64, step: u64| Scalar {
        tag: tag.into(),
        value,
        step,
        epoch: 0,
    };
    let scalars = [
        scalar("loss/train", 1.0, 0),
        scalar("loss/train", 2.0, 1),
        scalar("loss/train", 9.0, 2), // a short last batch
        scalar("loss/train", 3.0, 3),
        scalar("epoch", 0.0, 3),
    ];
    let fig = figure(&scalars, &FigureLabels::default(), &[2], 0.6);
    assert_eq!(fig.title, "metrics");
    assert_eq!(fig.x_label, "step");
    assert_eq!(fig.panels.len(), 1);
    let s = &fig.panels[0].series[0];
    assert_eq!(s.points, vec![(0, 1.0), (1, 2.0), (3, 3.0)]);
    assert_eq!(s.short, vec![(2, 9.0)]);
    // Smoothing of [1, 2, 3] at 0.6, by hand: 0.4/0.4 = 1; (0.24 + 0.8)/0.64 = 1.625;
    // (0.624 + 1.2)/0.784 = 2.326530612...
    let smoothed = s.smoothed.as_ref().unwrap();
    let want = [(0, 1.0), (1, 1.625), (3, 1.824 / 0.784)];
    for (got, want) in smoothed.iter().zip(want) {
        assert_eq!(got.0, want.0);
        assert!((got.1 - want.1).abs() < 1e-12, "{got:?} vs {want:?}");
    }
}

/// Columns of `rgb` (`w` wide) holding ink (any pixel darker than 128) in rows `rows`.
fn ink_columns(rgb: &[u8], w: usize, rows: std::ops::Range<usize>) -> Vec<usize> {
    (0..w)
        .filter(|&x| rows.clone().any(|y| rgb[3 * (y * w + x)] < 128))
        .collect()
}

#[test]
fn png_text_is_anchored_with_even_letter_spacing() {
    use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
    use nidl::log::raster::TextBitmap;
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let bytes = fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/fonts/DejaVuSans.ttf"
    ))
    .unwrap();
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let font = FontRef::try_from_slice(bytes).unwrap();
    let (w, h) = (200usize, 60usize);
    let mut rgb = vec![255u8; w * h * 3];
    {
        let mut backend = TextBitmap::new(&mut rgb, (w as u32, h as u32), font.clone());
        let style = ("sans-serif", 30)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        backend.draw_text("l l l l", &style, (100, 30)).unwrap();
        backend.present().unwrap();
    }
    // Four vertical strokes of `l`, one advance of "l " apart each, the whole centred on x = 100.
    let scaled = font.as_scaled(PxScale::from(30.0));
    let pitch = scaled.h_advance(font.glyph_id('l')) + scaled.h_advance(font.glyph_id(' '));
    let cols = ink_columns(&rgb, w, 0..h);
    let mut strokes: Vec<Vec<usize>> = Vec::new();
    for x in cols {
        match strokes.last_mut() {
            Some(s) if *s.last().unwrap() + 1 == x => s.push(x),
            _ => strokes.push(vec![x]),
        }
    }
    assert_eq!(strokes.len(), 4, "{strokes:?}");
    let centres: Vec<f64> = strokes
        .iter()
        .map(|s| (s[0] + s[s.len() - 1]) as f64 / 2.0)
        .collect();
    for pair in centres.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (gap - pitch as f64).abs() <= 1.0,
            "gap {gap} vs advance {pitch}: {centres:?}"
        );
    }
    let middle = (centres[0] + centres[3]) / 2.0;
    assert!((middle - 100.0).abs() <= 1.5, "{centres:?}");
    // Vertically the ink (an `l` is ascender to baseline) lies within the centred box, in no row
    // near the image's edges.
    let rows: Vec<usize> = (0..h)
        .filter(|&y| (0..w).any(|x| rgb[3 * (y * w + x)] < 128))
        .collect();
    let (top, bottom) = (rows[0], *rows.last().unwrap());
    assert!(
        top >= 30 - 15 && bottom <= 30 + 15,
        "ink rows {top}..={bottom}"
    );
    assert!(bottom - top >= 18, "ink rows {top}..={bottom}");
}

#[test]
fn y_axis_ranges_by_metric_kind() {
    use nidl::log::plot::{y_range, MIN_SCORE_SPAN};
    use nidl::log::MetricKind;
    // Six accuracies within 0.02: the axis is fitted (0.745..0.765 padded by 5 %: 0.001).
    for kind in [MetricKind::Score, MetricKind::Error, MetricKind::Other] {
        let (lo, hi) = y_range(kind, -1e308, 1e308);
        assert!(
            lo.is_finite() && hi.is_finite() && lo < hi,
            "{kind:?}: {lo} {hi}"
        );
    }
    let (lo, hi) = y_range(MetricKind::Score, 0.745, 0.765);
    assert!(
        (lo - 0.744).abs() < 1e-12 && (hi - 0.766).abs() < 1e-12,
        "{lo} {hi}"
    );
    // A constant score gets the minimal span around it.
    let (lo, hi) = y_range(MetricKind::Score, 0.5, 0.5);
    assert!((hi - lo - 1.1 * MIN_SCORE_SPAN).abs() < 1e-12, "{lo} {hi}");
    // Near 1 the window is moved down to end at 1 (plus its padding).
    let (lo, hi) = y_range(MetricKind::Score, 0.995, 1.0);
    assert!(
        (hi - 1.001).abs() < 1e-12 && (lo - 0.979).abs() < 1e-12,
        "{lo} {hi}"
    );
    // Negative R2 is kept in view.
    let (lo, _) = y_range(MetricKind::Score, -0.3, 0.5);
    assert!(lo < -0.3);
    // Errors start at 0.
    let (lo, hi) = y_range(MetricKind::Error, 40.0, 60.0);
    assert_eq!(lo, 0.0);
    assert!((hi - 63.0).abs() < 1e-12, "{hi}");
}

#[test]
fn tensorboard_smoothing_values_by_hand() {
    use nidl::log::smoothing::{tensorboard_smoothing, DEFAULT_SMOOTHING};
    assert_eq!(DEFAULT_SMOOTHING, 0.6);
    let close = |got: &[f64], want: &[f64]| {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() < 1e-12 || (g.is_nan() && w.is_nan()),
                "{got:?} vs {want:?}"
            );
        }
    };
    // last = 0.4, 1.04, 1.824; debias 0.4, 0.64, 0.784.
    close(
        &tensorboard_smoothing(&[1.0, 2.0, 3.0], 0.6),
        &[1.0, 1.625, 2.326_530_612_244_898],
    );
    // w = 0.9 on [10, 0]: 1/0.1 = 10; 0.9/0.19 = 4.736842105263158.
    close(
        &tensorboard_smoothing(&[10.0, 0.0], 0.9),
        &[10.0, 0.9 / 0.19],
    );
    // A NaN passes through and does not count: [1, NaN, 3] -> 1, NaN, (0.24 + 1.2)/0.64 = 2.25.
    close(
        &tensorboard_smoothing(&[1.0, f64::NAN, 3.0], 0.6),
        &[1.0, f64::NAN, 2.25],
    );
    // Constant series unchanged; weight 0 is the identity; weight 1 stays at 0 (no debiasing).
    close(&tensorboard_smoothing(&[0.3; 4], 0.6), &[0.3; 4]);
    close(
        &tensorboard_smoothing(&[4.0, 1.0, 7.0], 0.0),
        &[4.0, 1.0, 7.0],
    );
    close(&tensorboard_smoothing(&[4.0, 1.0], 1.0), &[0.0, 0.0]);
    assert!(tensorboard_smoothing(&[], 0.6).is_empty());
}

#[test]
fn metrics_reader_reads_back_what_the_writer_logged() {
    let root = std::env::temp_dir().join(format!("nidl-metrics-read-{}", std::process::id()));
    let dir = nidl::log::next_version_dir(&root).unwrap();
    let mut logger = nidl::log::RunLogger::create(&dir).unwrap();
    let logged: [(&str, f64, u64, usize); 6] = [
        ("loss/train", 5.4321, 0, 0),
        ("loss/train", 0.1 + 0.2, 1, 0),
        ("task0/R2", f64::NAN, 2, 0),
        ("odd, \"quoted\" tag", f64::NEG_INFINITY, 2, 0),
        ("loss/train", 1e-300, 2, 1),
        ("task0/R2", 0.25, 3, 1),
    ];
    for (tag, v, step, epoch) in logged {
        logger.log_scalar(tag, v, step, epoch).unwrap();
    }
    logger.flush().unwrap();
    let m = nidl::log::Metrics::read(dir.join("metrics.csv")).unwrap();
    assert_eq!(m.tags(), ["loss/train", "task0/R2", "odd, \"quoted\" tag"]);
    // Exact values: the writer's shortest round-trip text parses back to the same f64.
    assert_eq!(
        m.tag("loss/train"),
        [(0, 0, 5.4321), (1, 0, 0.1 + 0.2), (2, 1, 1e-300)]
    );
    assert!(m.tag("task0/R2")[0].2.is_nan());
    assert_eq!(m.last("task0/R2"), Some(0.25));
    assert_eq!(m.tag("odd, \"quoted\" tag"), [(2, 0, f64::NEG_INFINITY)]);
    assert_eq!(m.tag("never logged"), []);
    assert_eq!(m.last("never logged"), None);
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn metrics_reader_names_file_and_line_of_a_malformed_file() {
    let dir = std::env::temp_dir().join(format!("nidl-metrics-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("metrics.csv");
    let error_of = |text: &str| -> String {
        std::fs::write(&path, text).unwrap();
        let e = nidl::log::Metrics::read(&path).unwrap_err();
        assert!(matches!(e, nidl::Error::Format { .. }), "{e}");
        e.to_string()
    };
    let h = "step,epoch,tag,value\n";
    let cases = [
        (
            "",
            "line 1: empty file, expected the header 'step,epoch,tag,value'",
        ),
        (
            "step,tag,value\n0,a,1\n",
            "line 1: header \"step,tag,value\"",
        ),
        (
            &format!("{h}0,0,a,1\n1,0,a\n") as &str,
            "line 3: 3 fields, expected 4",
        ),
        (
            &format!("{h}0,0,a,1\n\n-1,0,a,2\n"),
            "line 4: step '-1' is not a number",
        ),
        (
            &format!("{h}0,x,a,1\n"),
            "line 2: epoch 'x' is not a number",
        ),
        (
            &format!("{h}0,0,a,1.2.3\n"),
            "line 2: value '1.2.3' is not a number",
        ),
        (
            &format!("{h}0,0,\"open,1\n1,0,a,2\n"),
            "line 2: a quote is not closed",
        ),
    ];
    for (text, want) in cases {
        let e = error_of(text);
        assert!(
            e.starts_with(&path.display().to_string()) && e.contains(want),
            "{text:?}: {e}"
        );
    }
    // A directory is not a metrics file; a missing file names itself.
    let e = nidl::log::Metrics::read(&dir).unwrap_err().to_string();
    assert!(e.contains("directory"), "{e}");
    let e = nidl::log::Metrics::read(dir.join("none.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("none.csv"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[cfg(feature = "plot")]
#[test]
fn a_short_step_axis_asks_for_no_more_ticks_than_whole_steps() {
    use nidl::log::plot::x_tick_count;
    // Steps 2..5 of a 2-epoch run: 4 whole steps, so rounding to integers repeats none.
    assert_eq!(x_tick_count(2.0, 5.0), 4);
    assert_eq!(x_tick_count(1.0, 2.0), 2);
    // A single step is widened to [s - 1, s + 1] by the panel: 3 ticks.
    assert_eq!(x_tick_count(4.0, 6.0), 3);
    assert_eq!(x_tick_count(0.0, 999.0), 7);
}
