//! What `metrics.png` / `metrics.svg` show, before any drawing: the run's title, the x-axis label
//! and the panels, each with one kind of metric on its y axis ([`MetricKind`]).
//!
//! Tags are grouped by their prefix (the text before the first `/`: `LogisticRegression`,
//! `task0`, `loss`, ...). A prefix whose metrics are of two kinds gets one panel per kind, so
//! bounded scores (accuracy, R2, ...) never share an axis with errors (MSE ~50). A panel is titled
//! by its prefix, or by the name [`FigureLabels::panel_names`] gives it (`task0` → `age`). The
//! `loss` panel comes last and draws `loss/train` raw (faint) under its TensorBoard smoothing;
//! losses of short last batches are kept apart ([`Series::short`]) and left out of the smoothing.
//! The [`EPOCH_TAG`] is never drawn.

use super::metric_kind::MetricKind;
use super::smoothing::tensorboard_smoothing;
use super::{Scalar, EPOCH_TAG};

/// The tag whose raw values are drawn faint under a smoothed line.
pub const TRAIN_LOSS_TAG: &str = "loss/train";

/// What the run logger knows about a run beyond its scalars, for the figure's title and panels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FigureLabels {
    /// The method (e.g. `SimCLR`; the `estimator` hyper-parameter).
    pub method: Option<String>,
    /// The data (e.g. `MNIST`, `synthetic OpenBHB`).
    pub data: Option<String>,
    /// The run's version directory name (e.g. `version_3`).
    pub version: Option<String>,
    /// Training batch size B, for the x-axis label `step (batch size B)`.
    pub batch_size: Option<usize>,
    /// Panel titles by tag prefix (e.g. `("task0", "age")`); other prefixes are their own title.
    pub panel_names: Vec<(String, String)>,
}

/// Order of the panels of one prefix: scores, errors, then the rest.
fn kind_rank(kind: MetricKind) -> u8 {
    match kind {
        MetricKind::Score => 0,
        MetricKind::Error => 1,
        MetricKind::Other => 2,
        MetricKind::Loss => 3,
    }
}

/// `(prefix, name)` of a tag: the text before and after the first `/` (`("", tag)` without one).
fn split_tag(tag: &str) -> (&str, &str) {
    tag.split_once('/').unwrap_or(("", tag))
}

/// One curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label: the tag without its panel prefix (e.g. `R2`).
    pub label: String,
    /// `(step, value)` in logging order (short-batch losses excluded).
    pub points: Vec<(u64, f64)>,
    /// TensorBoard-smoothed `points` ([`TRAIN_LOSS_TAG`] only; then `points` are drawn faint).
    pub smoothed: Option<Vec<(u64, f64)>>,
    /// Losses of short last batches of an epoch, drawn as separate open marks.
    pub short: Vec<(u64, f64)>,
}

/// One panel: a title, the kind of metric on its y axis, its curves in first-logged order.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Title: the label name for the tag prefix, or the prefix; with the kind when the prefix
    /// has two panels (e.g. `age: scores`).
    pub title: String,
    /// What its y axis shows.
    pub kind: MetricKind,
    /// The curves.
    pub series: Vec<Series>,
}

/// A whole figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Title naming the run (method · data · version).
    pub title: String,
    /// X-axis label (`step (batch size B)`).
    pub x_label: String,
    /// Panels, loss last; empty for a run that logged no scalars (an empty-state figure).
    pub panels: Vec<Panel>,
}

/// The figure for `scalars`: panels by tag prefix and metric kind (first-logged order, `loss`
/// last), `short_steps` the steps whose `loss/train` came from a short last batch, smoothing
/// weight `smoothing` (see [`tensorboard_smoothing`]).
pub fn figure(
    scalars: &[Scalar],
    labels: &FigureLabels,
    short_steps: &[u64],
    smoothing: f64,
) -> Figure {
    let mut panels: Vec<(String, Panel)> = Vec::new();
    for s in scalars.iter().filter(|s| s.tag != EPOCH_TAG) {
        let (prefix, name) = split_tag(&s.tag);
        let kind = MetricKind::of(&s.tag);
        let at = match panels
            .iter()
            .position(|(p, panel)| p == prefix && panel.kind == kind)
        {
            Some(i) => i,
            None => {
                panels.push((
                    prefix.to_string(),
                    Panel {
                        title: String::new(),
                        kind,
                        series: Vec::new(),
                    },
                ));
                panels.len() - 1
            }
        };
        let panel = &mut panels[at].1;
        let series = match panel.series.iter().position(|x| x.label == name) {
            Some(i) => &mut panel.series[i],
            None => {
                panel.series.push(Series {
                    label: name.to_string(),
                    points: Vec::new(),
                    smoothed: None,
                    short: Vec::new(),
                });
                panel.series.last_mut().expect("just pushed")
            }
        };
        if s.tag == TRAIN_LOSS_TAG && short_steps.contains(&s.step) {
            series.short.push((s.step, s.value));
        } else {
            series.points.push((s.step, s.value));
        }
    }
    // Prefixes in first-logged order, `loss` last; within a prefix scores before errors; in
    // the loss panel `train` first.
    let first_seen: Vec<String> = panels.iter().map(|(p, _)| p.clone()).collect();
    let rank = |p: &String| first_seen.iter().position(|q| q == p);
    panels.sort_by_key(|(p, panel)| (p == "loss", rank(p), kind_rank(panel.kind)));
    for (_, panel) in &mut panels {
        panel
            .series
            .sort_by_key(|s| s.label != "train" || panel.kind != MetricKind::Loss);
    }
    let n_kinds = |prefix: &str| panels.iter().filter(|(p, _)| p == prefix).count();
    let titles: Vec<String> = panels
        .iter()
        .map(|(prefix, panel)| {
            let name = labels
                .panel_names
                .iter()
                .find(|(p, _)| p == prefix)
                .map_or(prefix.as_str(), |(_, n)| n.as_str());
            let name = if name.is_empty() { "metrics" } else { name };
            if n_kinds(prefix) > 1 {
                format!("{name}: {}s", panel.kind.axis_label())
            } else {
                name.to_string()
            }
        })
        .collect();
    let panels = panels
        .into_iter()
        .zip(titles)
        .map(|((prefix, mut panel), title)| {
            panel.title = title;
            if prefix == "loss" {
                for s in &mut panel.series {
                    if format!("loss/{}", s.label) == TRAIN_LOSS_TAG {
                        s.smoothed = smoothed(&s.points, smoothing);
                    }
                }
            }
            panel
        })
        .collect();
    Figure {
        title: title(labels),
        x_label: match labels.batch_size {
            Some(b) => format!("step (batch size {b})"),
            None => "step".to_string(),
        },
        panels,
    }
}

/// `points` with their values TensorBoard-smoothed by weight `w` ([`tensorboard_smoothing`]),
/// for [`Series::smoothed`]; `None` for fewer than two points (nothing to smooth).
pub fn smoothed(points: &[(u64, f64)], w: f64) -> Option<Vec<(u64, f64)>> {
    if points.len() < 2 {
        return None;
    }
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let smooth = tensorboard_smoothing(&values, w);
    Some(points.iter().map(|p| p.0).zip(smooth).collect())
}

/// `method · data · version`, leaving out what is unknown (`metrics` if all are).
fn title(labels: &FigureLabels) -> String {
    let parts: Vec<&str> = [&labels.method, &labels.data, &labels.version]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        "metrics".to_string()
    } else {
        parts.join(" · ")
    }
}
