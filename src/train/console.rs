//! The console reporter and the lines it prints: an epoch's summary line and the probing
//! before training, at most a given width (the command line's progress bar reuses them).

use super::metric_table::{elide, value_text};
use super::trainer::{EpochSummary, Reporter};
use std::io::Write;

/// The widest an epoch line gets ([`summary_lines`]); the command line narrows it to the
/// terminal.
pub const LINE_WIDTH: usize = 100;

/// What a run shows without a progress bar, for a library user's runs
/// ([`Trainer::reporter`](super::Trainer::reporter)): the [summary line(s)](summary_lines) of each epoch
/// of at most [`LINE_WIDTH`] characters on stdout, a line for the probing before training, and
/// a warning on stderr the first time a metric is not finite. The full metrics are in
/// [`FitReport::metrics`](super::FitReport::metrics), a table to print at the end
/// ([`MetricTable::lines`](super::MetricTable::lines)). A line that stdout does not take (a
/// closed pipe: `… | head -1`) is dropped, and the run goes on. The command line draws a
/// progress bar besides (its own reporter, in the `cli` feature).
///
/// ```
/// use nidl::train::{ConsoleReporter, Trainer, TrainerConfig};
/// let trainer = Trainer::new(TrainerConfig::default()).reporter(Box::new(ConsoleReporter));
/// # let _ = trainer;
/// ```
pub struct ConsoleReporter;

impl Reporter for ConsoleReporter {
    fn train_start(&mut self, global_step: u64, metrics: &[(String, f64)]) {
        for line in start_lines(global_step, metrics, LINE_WIDTH) {
            out_line(format_args!("{line}"));
        }
    }

    fn epoch_end(&mut self, s: &EpochSummary) {
        for line in summary_lines(s, LINE_WIDTH) {
            out_line(format_args!("{line}"));
        }
    }

    /// One warning line on stderr per tag, the first time it is not finite.
    fn non_finite_metric(&mut self, tag: &str, value: f64, global_step: u64) {
        eprintln!("{}", non_finite_line(tag, value, global_step, LINE_WIDTH));
    }
}

/// The warning the first time `tag` is not finite, in at most `width` characters (the middle of
/// a long tag elided; the final table has it whole).
pub fn non_finite_line(tag: &str, value: f64, global_step: u64, width: usize) -> String {
    let line = |tag: &str| {
        format!("warning: non-finite metric {tag} = {value} at step {global_step} (logged as is)")
    };
    let over = line(tag).chars().count().saturating_sub(width);
    line(&elide(tag, tag.chars().count().saturating_sub(over)))
}

/// Writes `line` and a newline to stdout; dropped if stdout does not take it (unlike `println!`,
/// which panics on a closed pipe).
fn out_line(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `epoch 3/10 step 300 loss 3.1234 val 3.2011 4.2 s (probe 0.8) | LogisticRegression
/// accuracy 0.8123 +5`, in at most `width` characters: the losses and times always, then each
/// probe's headline metric (`accuracy`, `R2`), then as many of the others as fit, `+N` counting
/// the ones left out (all are in the final table). When not even the first headline fits beside
/// the losses (narrow terminals), the metrics go on a second line, indented by two spaces.
pub fn summary_lines(s: &EpochSummary, width: usize) -> Vec<String> {
    let mut head = format!(
        "epoch {}/{} step {} loss {}",
        s.epoch + 1,
        s.max_epochs,
        s.global_step,
        value_text(s.train_loss)
    );
    if let Some(v) = s.val_loss {
        head.push_str(&format!(" val {}", value_text(v)));
    }
    head.push_str(&format!(" {:.1} s", s.seconds));
    if !s.metrics.is_empty() {
        head.push_str(&format!(" (probe {:.1})", s.callback_seconds));
    }
    lines_with_metrics(head, &s.metrics, width)
}

/// `head` and `metrics` on one line of at most `width` characters ([`with_metrics`]), or, when
/// not even the first headline fits beside `head`, `head` and then the metrics on a line of
/// their own, indented by two spaces.
fn lines_with_metrics(head: String, metrics: &[(String, f64)], width: usize) -> Vec<String> {
    let one = with_metrics(head.clone(), metrics, width);
    let shows_none = !metrics.is_empty() && one.ends_with(&more(metrics.len()));
    if !shows_none {
        return vec![elide(&one, width)];
    }
    // The metrics' leading ` | ` (3 characters) becomes the indent (2).
    let rest = with_metrics(String::new(), metrics, width + 1);
    let rest = rest.strip_prefix(" | ").unwrap_or(&rest);
    vec![elide(&head, width), elide(&format!("  {rest}"), width)]
}

/// `before training, step 0 | LogisticRegression accuracy 0.1012 +5`, in at most `width`
/// characters (the metrics on a second line when none fits on the first, as in
/// [`summary_lines`]).
pub fn start_lines(global_step: u64, metrics: &[(String, f64)], width: usize) -> Vec<String> {
    lines_with_metrics(
        format!("before training, step {global_step}"),
        metrics,
        width,
    )
}

/// The metric an epoch line shows first for a tag prefix (a probe or task): `accuracy` for a
/// classifier, `R2` for a regressor, else the first one logged.
fn headline(names: &[&str]) -> usize {
    ["accuracy", "R2"]
        .iter()
        .find_map(|h| names.iter().position(|n| n == h))
        .unwrap_or(0)
}

/// ` +3`: how many metrics a line leaves out (they are in the final table).
fn more(n: usize) -> String {
    format!(" +{n}")
}

/// One tag prefix's metrics on a line: `(prefix, [(metric name, value)])`, headline first.
type Group<'a> = (&'a str, Vec<(&'a str, f64)>);

/// `metrics` grouped by tag prefix (`LogisticRegression`, `task0`), in the order first logged,
/// each group's [headline] moved to its front.
fn groups(metrics: &[(String, f64)]) -> Vec<Group<'_>> {
    let mut out: Vec<Group> = Vec::new();
    for (tag, v) in metrics {
        let (p, m) = tag.rsplit_once('/').unwrap_or(("", tag));
        match out.iter_mut().find(|(q, _)| *q == p) {
            Some((_, ms)) => ms.push((m, *v)),
            None => out.push((p, vec![(m, *v)])),
        }
    }
    for (_, ms) in &mut out {
        let names: Vec<&str> = ms.iter().map(|(m, _)| *m).collect();
        let h = headline(&names);
        ms[..=h].rotate_right(1);
    }
    out
}

/// `head`, then ` | LogisticRegression accuracy 0.8123 f1_macro 0.8011 | task0 R2 0.61`: the
/// groups' headlines in order while they fit in `width`, then the shown groups' other metrics
/// in order while they fit, then ` +N` for the metrics left out.
fn with_metrics(head: String, metrics: &[(String, f64)], width: usize) -> String {
    let groups = groups(metrics);
    let piece = |p: &str, (m, v): (&str, f64), first: bool| {
        if first {
            format!(" | {p} {m} {}", value_text(v))
        } else {
            format!(" {m} {}", value_text(v))
        }
    };
    // How many of each group's metrics the line shows, chosen headlines first.
    let mut shown = vec![0usize; groups.len()];
    let mut len = head.len();
    let mut left = metrics.len();
    let mut take = |g: usize, shown: &mut [usize]| {
        let (p, ms) = &groups[g];
        let add = piece(p, ms[shown[g]], shown[g] == 0).len();
        let reserve = if left > 1 { more(left - 1).len() } else { 0 };
        let fits = len + add + reserve <= width;
        if fits {
            len += add;
            left -= 1;
            shown[g] += 1;
        }
        fits
    };
    // Headlines in logging order while they fit: a later group's shorter headline never
    // takes the place of an earlier one (the first probe's score stays in front).
    for g in 0..groups.len() {
        if !take(g, &mut shown) {
            break;
        }
    }
    'extra: for g in 0..groups.len() {
        while shown[g] > 0 && shown[g] < groups[g].1.len() {
            if !take(g, &mut shown) {
                break 'extra;
            }
        }
    }
    let mut line = head;
    for (g, (p, ms)) in groups.iter().enumerate() {
        for (i, &m) in ms[..shown[g]].iter().enumerate() {
            line.push_str(&piece(p, m, i == 0));
        }
    }
    if left > 0 {
        line.push_str(&more(left));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Epoch 3 of 10 with `metrics`, probed.
    fn summary(metrics: Vec<(String, f64)>) -> EpochSummary {
        EpochSummary {
            epoch: 2,
            max_epochs: 10,
            global_step: 300,
            train_loss: 3.12344,
            val_loss: Some(3.2011),
            metrics,
            seconds: 4.25,
            train_seconds: 3.0,
            val_seconds: 0.5,
            callback_seconds: 0.75,
            checkpoint: None,
        }
    }

    /// The six metrics of a classification probe, then seven of a regression probe's column.
    fn many_metrics() -> Vec<(String, f64)> {
        let classification =
            "accuracy balanced_accuracy f1_macro precision_macro recall_macro f1_weighted";
        let mut m: Vec<(String, f64)> = classification
            .split(' ')
            .map(|t| (format!("LogisticRegression/{t}"), 0.81234))
            .collect();
        for t in ["MAE", "MedAE", "RMSE", "MSE", "R2", "PCC", "EVar"] {
            m.push((format!("KNeighborsRegressor/regressor 1/{t}"), 52.5));
        }
        m
    }

    #[test]
    fn the_summary_line_groups_metrics_by_tag_prefix_as_far_as_they_fit() {
        let few = vec![
            ("LogisticRegression/accuracy".into(), 0.81234),
            ("LogisticRegression/f1_macro".into(), 0.8011),
            ("task0/R2".into(), 0.61),
        ];
        let head = "epoch 3/10 step 300 loss 3.1234 val 3.2011 4.2 s (probe 0.8)";
        assert_eq!(
            summary_lines(&summary(few.clone()), 200),
            [format!(
                "{head} | LogisticRegression accuracy 0.8123 f1_macro 0.8011 | task0 R2 0.6100"
            )]
        );
        assert_eq!(
            summary_lines(&summary(few.clone()), 120),
            [format!(
                "{head} | LogisticRegression accuracy 0.8123 | task0 R2 0.6100 +1"
            )]
        );
        assert_eq!(
            summary_lines(&summary(few.clone()), 100),
            [format!("{head} | LogisticRegression accuracy 0.8123 +2")]
        );
        // Not even the first headline fits beside the losses: the metrics get a line.
        assert_eq!(
            summary_lines(&summary(few), 80),
            [
                head.to_string(),
                "  LogisticRegression accuracy 0.8123 f1_macro 0.8011 | task0 R2 0.6100".into()
            ]
        );
        assert_eq!(
            summary_lines(&summary(Vec::new()), 100),
            ["epoch 3/10 step 300 loss 3.1234 val 3.2011 4.2 s"]
        );
    }

    /// A probe's headline too long for the line is not skipped for a later group's shorter one
    /// (the SSL metrics after the probe's): the metrics take their own line, the probe first.
    #[test]
    fn a_later_shorter_headline_does_not_jump_ahead() {
        let mut metrics = vec![("LogisticRegression/accuracy".to_string(), 0.7228)];
        metrics.push(("ssl/alignment".into(), 0.0818));
        let head = "epoch 3/10 step 300 loss 3.1234 val 3.2011 4.2 s (probe 0.8)";
        let lines = summary_lines(&summary(metrics), 95);
        assert_eq!(
            lines,
            [
                head.to_string(),
                "  LogisticRegression accuracy 0.7228 | ssl alignment 0.0818".into()
            ]
        );
    }

    #[test]
    fn each_probe_shows_its_headline_metric_first() {
        let tags = [
            ("task0/MAE", 5.7),
            ("task0/R2", 0.718),
            ("task1/f1_macro", 0.7),
            ("task1/accuracy", 0.741),
        ];
        let metrics: Vec<(String, f64)> = tags.iter().map(|(t, v)| (t.to_string(), *v)).collect();
        assert_eq!(
            start_lines(0, &metrics, 70),
            ["before training, step 0 | task0 R2 0.7180 | task1 accuracy 0.7410 +2"]
        );
        assert_eq!(
            start_lines(0, &metrics, 80),
            ["before training, step 0 | task0 R2 0.7180 MAE 5.7000 | task1 accuracy 0.7410 +1"]
        );
        assert_eq!(
            start_lines(0, &metrics, 200),
            [
                "before training, step 0 | task0 R2 0.7180 MAE 5.7000 | task1 accuracy 0.7410 \
             f1_macro 0.7000"
            ]
        );
    }

    #[test]
    fn epoch_and_start_lines_fit_their_width_and_show_a_score_from_40_columns() {
        for width in [40, 60, 80, 100] {
            let lines = summary_lines(&summary(many_metrics()), width);
            let start = start_lines(0, &many_metrics(), width);
            for line in lines.iter().chain(&start) {
                assert!(line.chars().count() <= width, "{width}: {line}");
            }
            for l in [&lines, &start] {
                assert!(l.iter().any(|l| l.contains("accuracy 0.8123")), "{l:?}");
            }
        }
        assert_eq!(
            start_lines(0, &many_metrics(), 80),
            ["before training, step 0 | LogisticRegression accuracy 0.8123 +12"]
        );
        let huge = EpochSummary {
            train_loss: -1.0e300,
            ..summary(many_metrics())
        };
        assert!(summary_lines(&huge, 100)[0].contains("loss -1.000e300"));
    }

    #[test]
    fn a_non_finite_warning_fits_its_width() {
        let tag = "KNeighborsRegressor/regressor 1/R2";
        assert_eq!(
            non_finite_line(tag, f64::NAN, 19, 100),
            "warning: non-finite metric KNeighborsRegressor/regressor 1/R2 = NaN at step 19 \
             (logged as is)"
        );
        let short = non_finite_line(tag, f64::NAN, 19, 80);
        assert_eq!(short.chars().count(), 80, "{short}");
        assert!(
            short.contains("KNeighbor...ssor 1/R2")
                && short.ends_with("R2 = NaN at step 19 (logged as is)"),
            "{short}"
        );
    }
}
