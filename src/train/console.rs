//! The console reporter: what the `nidl` training commands print while a run trains, for a
//! library user's runs too ([`Trainer::reporter`](super::Trainer::reporter)).

use super::trainer::{EpochSummary, Reporter};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraw the bar at most this often (a terminal write per step would cost more than it shows).
const REDRAW: Duration = Duration::from_millis(100);
/// Width of the bar itself, in characters.
const BAR_WIDTH: usize = 24;

/// What the `nidl` training commands show, for any run: a progress bar on stderr (step, loss,
/// samples/s, ETA; drawn only on a terminal), one [summary line](summary_line) per epoch on
/// stdout, a line for the probing before training, and a warning on stderr the first time a
/// metric is not finite. A line that stdout does not take (a closed pipe: `nidl … | head -1`) is
/// dropped, and the run goes on.
///
/// ```
/// use nidl::train::{ConsoleReporter, Trainer, TrainerConfig};
/// let trainer = Trainer::new(TrainerConfig::default()).reporter(Box::new(ConsoleReporter::new(true)));
/// # let _ = trainer;
/// ```
pub struct ConsoleReporter {
    bar: bool,
    epoch_start: Instant,
    last_draw: Option<Instant>,
    n_batches: usize,
    samples: usize,
    loss_sum: f64,
    steps: usize,
    epoch: usize,
    max_epochs: usize,
}

impl ConsoleReporter {
    /// A reporter; the bar is drawn only when `want_bar` and stderr is a terminal (the summary
    /// lines always are).
    pub fn new(want_bar: bool) -> Self {
        ConsoleReporter {
            bar: want_bar && std::io::stderr().is_terminal(),
            epoch_start: Instant::now(),
            last_draw: None,
            n_batches: 0,
            samples: 0,
            loss_sum: 0.0,
            steps: 0,
            epoch: 0,
            max_epochs: 0,
        }
    }

    fn draw(&mut self, done: usize, loss: f64) {
        let elapsed = self.epoch_start.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            self.samples as f64 / elapsed
        } else {
            0.0
        };
        let eta = if done > 0 {
            elapsed / done as f64 * (self.n_batches.saturating_sub(done)) as f64
        } else {
            0.0
        };
        let filled = (done * BAR_WIDTH)
            .checked_div(self.n_batches)
            .unwrap_or(BAR_WIDTH);
        let bar: String = (0..BAR_WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kepoch {}/{} [{bar}] {done}/{} loss {loss:.4} (avg {:.4}) {rate:.0} samples/s ETA {eta:.0} s",
            self.epoch + 1,
            self.max_epochs,
            self.n_batches,
            self.loss_sum / self.steps.max(1) as f64,
        );
        let _ = err.flush();
    }

    fn clear(&self) {
        if self.bar {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Reporter for ConsoleReporter {
    fn train_start(&mut self, global_step: u64, metrics: &[(String, f64)]) {
        out_line(format_args!(
            "before training, step {global_step}:{}",
            metrics_text(metrics)
        ));
    }

    fn epoch_start(&mut self, epoch: usize, max_epochs: usize, n_batches: usize) {
        self.epoch_start = Instant::now();
        self.last_draw = None;
        self.n_batches = n_batches;
        self.samples = 0;
        self.loss_sum = 0.0;
        self.steps = 0;
        self.epoch = epoch;
        self.max_epochs = max_epochs;
    }

    fn batch_end(&mut self, _epoch: usize, index: usize, loss: f64, samples: usize) {
        self.samples += samples;
        self.loss_sum += loss;
        self.steps += 1;
        let due = match self.last_draw {
            None => true,
            Some(t) => t.elapsed() >= REDRAW,
        };
        if self.bar && (due || index + 1 == self.n_batches) {
            self.last_draw = Some(Instant::now());
            self.draw(index + 1, loss);
        }
    }

    fn evaluating(&mut self, epoch: usize) {
        if self.bar {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2Kepoch {}/{}: validation and probing...",
                epoch + 1,
                self.max_epochs
            );
            let _ = err.flush();
        }
    }

    fn epoch_end(&mut self, s: &EpochSummary) {
        self.clear();
        out_line(format_args!("{}", summary_line(s)));
    }

    /// One warning line on stderr per tag, the first time it is not finite.
    fn non_finite_metric(&mut self, tag: &str, value: f64, global_step: u64) {
        self.clear();
        eprintln!(
            "warning: non-finite metric {tag} = {value} at step {global_step} (logged as is)"
        );
    }
}

/// Writes `line` and a newline to stdout; dropped if stdout does not take it (unlike `println!`,
/// which panics on a closed pipe).
fn out_line(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `epoch 3/10 step 300: loss/train 3.1234 loss/val 3.2011 | LogisticRegression accuracy 0.8123 ... (4.2 s)`.
pub fn summary_line(s: &EpochSummary) -> String {
    let mut line = format!(
        "epoch {}/{} step {}: loss/train {:.4}",
        s.epoch + 1,
        s.max_epochs,
        s.global_step,
        s.train_loss
    );
    if let Some(v) = s.val_loss {
        line.push_str(&format!(" loss/val {v:.4}"));
    }
    line.push_str(&metrics_text(&s.metrics));
    line.push_str(&format!(
        " ({:.1} s: train {:.1}, val {:.1}, probe {:.1})",
        s.seconds, s.train_seconds, s.val_seconds, s.callback_seconds
    ));
    line
}

/// ` | LogisticRegression accuracy 0.8123 f1_macro 0.8011 | task0 R2 0.61 ...`: metrics grouped
/// by tag prefix, in order.
fn metrics_text(metrics: &[(String, f64)]) -> String {
    let mut text = String::new();
    let mut prefix = "";
    for (tag, v) in metrics {
        let (p, m) = tag.split_once('/').unwrap_or(("", tag));
        if p != prefix {
            text.push_str(&format!(" | {p}"));
            prefix = p;
        }
        text.push_str(&format!(" {m} {v:.4}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_groups_metrics_by_tag_prefix() {
        let s = EpochSummary {
            epoch: 2,
            max_epochs: 10,
            global_step: 300,
            train_loss: 3.12344,
            val_loss: Some(3.2011),
            metrics: vec![
                ("LogisticRegression/accuracy".into(), 0.81234),
                ("LogisticRegression/f1_macro".into(), 0.8011),
                ("task0/R2".into(), 0.61),
            ],
            seconds: 4.25,
            train_seconds: 3.0,
            val_seconds: 0.5,
            callback_seconds: 0.75,
            checkpoint: None,
        };
        assert_eq!(
            summary_line(&s),
            "epoch 3/10 step 300: loss/train 3.1234 loss/val 3.2011 | LogisticRegression \
             accuracy 0.8123 f1_macro 0.8011 | task0 R2 0.6100 (4.2 s: train 3.0, val 0.5, \
             probe 0.8)"
        );
    }
}
