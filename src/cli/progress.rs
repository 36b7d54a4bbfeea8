//! The training commands' console: [`BarReporter`], an indicatif progress bar on stderr (the
//! epoch's steps, then validation, embedding n / N batches and the probe fits) cut to the
//! terminal's width, above the engine's epoch lines ([`summary_lines`]) narrowed to the terminal too.

use super::stdout::outln;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use nidl::train::console::{non_finite_line, start_lines, summary_lines, LINE_WIDTH};
use nidl::train::{EpochSummary, Progress, Reporter};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

/// The bar of counted steps (training: `epoch 3/10 [=====>    ] 120/469 loss 3.1234 1520/s
/// ETA 12 s`; embedding: `epoch 3/10 [==>       ] 12/40 embedding probing train set`), the
/// bar a third of the terminal wide (5 to 30 columns), the message cut at the terminal's edge.
fn counted_style(width: u16) -> ProgressStyle {
    let bar = (width / 3).clamp(5, 30);
    style(&format!(
        "{{prefix}} [{{bar:{bar}}}] {{pos}}/{{len}} {{wide_msg}}"
    ))
}

/// A stage of unknown length: `epoch 3/10 fitting LogisticRegression`, cut at the terminal's
/// edge.
fn stage_style() -> ProgressStyle {
    style("{prefix} {wide_msg}")
}

/// The style of `template` (one of the constant ones above, which parse).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Prints what [`nidl::train::ConsoleReporter`] prints — the epoch lines, narrowed to the
/// terminal (at most [`LINE_WIDTH`]) — and, when wanted and stderr is a terminal, a progress
/// bar as wide as the terminal, erased before each line is printed. What it shows never
/// changes the run.
pub struct BarReporter {
    bar: ProgressBar,
    /// The bar's terminal width, asked at each stage (the terminal may be resized).
    bar_width: Box<dyn Fn() -> u16 + Send + Sync>,
    line_width: usize,
    epoch_start: Instant,
    samples: usize,
    /// Held while a [`Progress::update`] from one of the embedding threads moves the count on, so
    /// a late smaller count never moves it back.
    counting: Mutex<()>,
}

/// The width of stdout's terminal, capped at [`LINE_WIDTH`]; [`LINE_WIDTH`] when stdout is
/// not a terminal.
fn stdout_width() -> usize {
    if !std::io::stdout().is_terminal() {
        return LINE_WIDTH;
    }
    let cols = console::Term::stdout().size_checked().map(|(_, c)| c);
    cols.map_or(LINE_WIDTH, |c| (c as usize).min(LINE_WIDTH))
}

impl BarReporter {
    /// The commands' reporter: the bar when `want_bar` (not `--no-progress`) and stderr is a
    /// terminal.
    pub fn new(want_bar: bool) -> Self {
        let target = if want_bar {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar_width = || {
            console::Term::stderr()
                .size_checked()
                .map_or(80, |(_, c)| c)
        };
        Self::with_target(target, Box::new(bar_width), stdout_width())
    }

    /// A reporter drawing on `target`, a terminal `bar_width()` columns wide, its lines
    /// `line_width` characters at most.
    pub fn with_target(
        target: ProgressDrawTarget,
        bar_width: Box<dyn Fn() -> u16 + Send + Sync>,
        line_width: usize,
    ) -> Self {
        BarReporter {
            // A run that fails leaves no stale bar above its error.
            bar: ProgressBar::with_draw_target(Some(0), target)
                .with_style(stage_style())
                .with_finish(ProgressFinish::AndClear),
            counting: Mutex::new(()),
            bar_width,
            line_width,
            epoch_start: Instant::now(),
            samples: 0,
        }
    }

    /// Erases the bar and prints `lines` on stdout.
    fn lines(&self, lines: Vec<String>) {
        self.bar.finish_and_clear();
        for line in lines {
            outln!("{line}");
        }
    }

    /// Shows stage `what` of `total` steps (0: of unknown length).
    fn stage(&self, what: &str, total: usize) {
        if self.bar.is_finished() {
            self.bar.reset();
        }
        self.bar.set_style(if total > 0 {
            counted_style((self.bar_width)())
        } else {
            stage_style()
        });
        self.bar.set_length(total as u64);
        self.bar.set_position(0);
        self.bar.set_message(what.to_string());
    }
}

impl Reporter for BarReporter {
    fn train_start(&mut self, global_step: u64, metrics: &[(String, f64)]) {
        self.lines(start_lines(global_step, metrics, self.line_width));
    }

    fn epoch_start(&mut self, epoch: usize, max_epochs: usize, n_batches: usize) {
        self.epoch_start = Instant::now();
        self.samples = 0;
        self.bar
            .set_prefix(format!("epoch {}/{max_epochs}", epoch + 1));
        self.stage("", n_batches);
    }

    fn batch_end(&mut self, _epoch: usize, index: usize, loss: f64, samples: usize) {
        self.samples += samples;
        let elapsed = self.epoch_start.elapsed().as_secs_f64();
        let done = index as u64 + 1;
        let len = self.bar.length().unwrap_or(done);
        let (rate, eta) = if elapsed > 0.0 {
            let eta = elapsed / done as f64 * len.saturating_sub(done) as f64;
            (self.samples as f64 / elapsed, eta)
        } else {
            (0.0, 0.0)
        };
        self.bar.set_position(done);
        self.bar
            .set_message(format!("loss {loss:.4} {rate:.0}/s ETA {eta:.0} s"));
    }

    fn evaluating(&mut self, _epoch: usize) {
        self.stage("validation loss", 0);
    }

    fn epoch_end(&mut self, s: &EpochSummary) {
        self.lines(summary_lines(s, self.line_width));
    }

    fn non_finite_metric(&mut self, tag: &str, value: f64, global_step: u64) {
        self.bar.suspend(|| {
            eprintln!(
                "{}",
                non_finite_line(tag, value, global_step, self.line_width)
            )
        });
    }

    fn progress(&self) -> &dyn Progress {
        self
    }
}

impl Progress for BarReporter {
    /// A new stage when `done` is 0 or 1 (each thread then only moves the count on).
    fn update(&self, what: &str, done: usize, total: usize) {
        if self.bar.prefix().is_empty() {
            self.bar.set_prefix("before training");
        }
        if total == 0 || done <= 1 {
            self.stage(what, total);
        }
        let _moving = self.counting.lock().unwrap_or_else(|e| e.into_inner());
        let done = done as u64;
        if done > self.bar.position() {
            self.bar.set_position(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::{Arc, Mutex};

    /// A terminal of `width` columns that keeps every line drawn on it.
    #[derive(Debug, Clone)]
    struct Recorder {
        width: u16,
        drawn: Arc<Mutex<Vec<String>>>,
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            if !s.is_empty() {
                self.drawn.lock().unwrap().push(s.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Drives a reporter through an epoch of 469 steps and its probing on a terminal of
    /// `width` columns; returns what was drawn.
    fn drawn_at(width: u16) -> Vec<String> {
        let term = Recorder {
            width,
            drawn: Arc::default(),
        };
        // 255 Hz, the most: most updates are drawn (the default 20 Hz would skip nearly all).
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(term.clone()), 255);
        let mut r = BarReporter::with_target(target, Box::new(move || width), 80);
        r.epoch_start(9, 10, 469);
        for i in 0..469 {
            std::thread::sleep(std::time::Duration::from_micros(100));
            r.batch_end(9, i, 123.45678, 128);
        }
        let pause = || std::thread::sleep(std::time::Duration::from_millis(10));
        pause();
        r.evaluating(9);
        let p = r.progress();
        for done in 1..=118 {
            pause();
            p.update("embedding probing train set", done, 118);
        }
        pause();
        p.update("fitting KNeighborsRegressor, KNeighborsClassifier", 0, 0);
        pause();
        p.update("fitting KNeighborsRegressor, KNeighborsClassifier", 0, 0);
        let drawn = term.drawn.lock().unwrap().clone();
        drawn
    }

    #[test]
    fn the_bar_fits_the_terminal_and_shows_probing() {
        for width in [40u16, 80, 120] {
            let drawn = drawn_at(width);
            assert!(drawn.len() > 3, "{drawn:?}");
            for line in &drawn {
                let cols = line.chars().count();
                assert!(cols <= width as usize, "{width}: {cols} columns: {line:?}");
            }
            if width == 80 {
                let has = |s: &str| drawn.iter().any(|l| l.contains(s));
                assert!(has("epoch 10/10 ["), "{drawn:?}");
                assert!(has("/469 loss 123.4568 "), "{drawn:?}");
                assert!(has("] 118/118 embedding probing train set"), "{drawn:?}");
                assert!(has("fitting KNeighborsRegressor"), "{drawn:?}");
            }
        }
    }
}
