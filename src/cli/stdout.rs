//! The command line's standard output, safe on a closed pipe: `nidl … | head -1` must not panic
//! (Rust's `println!` does when the reader has gone). Everything the subcommands print goes
//! through [`outln!`] or the [`Stdout`] writer; once stdout is a broken pipe, what follows is
//! dropped and the command goes on to its normal end (a training run still completes and writes
//! its log folder whole), exiting as it would have.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout cannot be written: the rest of the output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output as an [`io::Write`] that never fails: once a write fails (a closed pipe, or
/// any other error, which is said once on stderr), it and every later write are dropped.
pub struct Stdout;

impl Stdout {
    /// Runs `op` on the locked stdout unless it is closed; a failure closes it.
    fn guarded(&mut self, op: impl FnOnce(&mut io::StdoutLock) -> io::Result<()>) {
        if CLOSED.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = op(&mut io::stdout().lock()) {
            if !CLOSED.swap(true, Ordering::Relaxed) && e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("warning: cannot write to standard output ({e}); the rest is dropped");
            }
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.guarded(|out| out.write_all(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.guarded(|out| out.flush());
        Ok(())
    }
}

/// Writes `args` and a newline to stdout through [`Stdout`].
pub fn line(args: fmt::Arguments) {
    let mut out = Stdout;
    // `Stdout` never fails: the line is written, or dropped on a closed stdout.
    let _ = writeln!(out, "{args}");
}

/// `println!` for the command line: the same arguments, written through [`line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
