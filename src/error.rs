//! The crate's one error type.
//!
//! Every variant names what is at fault: the op and the shapes for shape errors, the file and the
//! field/line for data errors. Anything a user's data or arguments can cause is an [`Error`]; a
//! panic only ever signals a broken internal invariant.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in nidl, with enough context to find the cause.
///
/// Non-exhaustive: later versions may add variants, so a `match` outside nidl needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Operand shapes do not fit the op: `op` names it, `shapes` lists every operand's shape.
    Shape {
        /// The operation that rejected its operands (e.g. `matmul`).
        op: &'static str,
        /// What was expected, in words (e.g. `inner dimensions equal`).
        expected: String,
        /// The shapes that were passed, in operand order.
        shapes: Vec<Vec<usize>>,
    },
    /// An argument is outside its valid range (a zero kernel size, a negative temperature, ...).
    InvalidArgument {
        /// The operation or constructor that rejected the argument.
        op: &'static str,
        /// What is wrong, naming the argument.
        message: String,
    },
    /// An I/O failure while reading or writing `path`.
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A path given as an input file names something else: a directory, a device, a FIFO, a
    /// socket. Checked before the file is opened, so reading never blocks or runs forever.
    NotRegularFile {
        /// The path at fault, as given.
        path: PathBuf,
        /// What it is instead (`directory`, `character device`, `FIFO (named pipe)`, ...).
        kind: &'static str,
    },
    /// A file whose content does not follow its format.
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What was expected and what was found, naming the field, line or offset.
        message: String,
    },
    /// A value that must be finite is NaN or infinite.
    NonFinite {
        /// Where the value came from (an op, a loss at a given step, a data column).
        what: String,
    },
    /// A compute device cannot be used: no GPU backend in this build, no adapter found (naming
    /// the backends looked for), or an element type the device does not compute in.
    Device(String),
    /// A training run's inputs cannot work, found before its first step (and before its log
    /// folder is created): an empty set, a batch larger than its set, samples the encoder does
    /// not take, a step too large for the machine's memory. `input` says which setting to change.
    RunInput {
        /// What is at fault.
        input: RunInput,
        /// What is wrong, naming the set, its size or shape and what was expected.
        message: String,
    },
    /// An error raised inside a named part of a model ([`Error::in_module`]): displayed as
    /// `encoder.fc2: <the error>`.
    InModule {
        /// The part's path from the outside in (`encoder.fc2`, `head.layers.1`).
        module: String,
        /// What went wrong there.
        source: Box<Error>,
    },
}

/// What an [`Error::RunInput`] is about: the setting a user changes to fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunInput {
    /// A data set: it is empty, or its samples are not what the encoder takes.
    Data,
    /// The batch size: larger than the training set, or a step too large for the memory.
    BatchSize,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape {
                op,
                expected,
                shapes,
            } => {
                write!(f, "{op}: shape mismatch, expected {expected}, got ")?;
                for (i, s) in shapes.iter().enumerate() {
                    if i > 0 {
                        write!(f, " and ")?;
                    }
                    write!(f, "{s:?}")?;
                }
                Ok(())
            }
            Error::InvalidArgument { op, message } => write!(f, "{op}: {message}"),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::NotRegularFile { path, kind } => {
                write!(f, "{}: is a {kind}, not a regular file", path.display())
            }
            Error::Format { path, message } => write!(f, "{}: {message}", path.display()),
            Error::NonFinite { what } => write!(f, "non-finite value in {what}"),
            Error::Device(message) => f.write_str(message),
            Error::RunInput { message, .. } => f.write_str(message),
            Error::InModule { module, source } => write!(f, "{module}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::InModule { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl Error {
    /// This error as raised inside the part of a model named `name` (a child module's name,
    /// e.g. `fc2`): names join outward, so `encoder` around `fc2: …` reads `encoder.fc2: …`.
    /// Composite modules wrap their children's errors with it.
    pub fn in_module(self, name: &str) -> Error {
        match self {
            Error::InModule { module, source } => Error::InModule {
                module: format!("{name}.{module}"),
                source,
            },
            e => Error::InModule {
                module: name.to_string(),
                source: Box::new(e),
            },
        }
    }

    /// The error under any [`Error::InModule`] paths: what went wrong, wherever it did.
    pub fn innermost(&self) -> &Error {
        match self {
            Error::InModule { source, .. } => source.innermost(),
            e => e,
        }
    }

    /// A shape error for `op` with the given operand shapes.
    pub fn shape(op: &'static str, expected: impl Into<String>, shapes: &[&[usize]]) -> Self {
        Error::Shape {
            op,
            expected: expected.into(),
            shapes: shapes.iter().map(|s| s.to_vec()).collect(),
        }
    }

    /// An invalid-argument error for `op`.
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            message: message.into(),
        }
    }

    /// A format error for the file at `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A run-input error about `input`.
    pub fn run_input(input: RunInput, message: impl Into<String>) -> Self {
        Error::RunInput {
            input,
            message: message.into(),
        }
    }

    /// An I/O error for the file at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// `text` taken from a file, made safe to quote in an error message: control characters and other
/// characters a terminal would not print as themselves (ESC, NUL, line breaks, bidirectional
/// overrides, ...) are written as Rust escapes (`\u{1b}`, `\0`, `\n`, `\u{202e}`); quotes and
/// backslashes stay as they are. Every message that quotes a file's text goes through it.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| !matches!(c, '\'' | '"' | '\\') && c.escape_debug().len() > 1;
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_text;

    #[test]
    fn escape_text_escapes_only_unprintable_characters() {
        assert_eq!(
            escape_text("<f8 'a' \"b\" c:\\d é"),
            "<f8 'a' \"b\" c:\\d é"
        );
        assert!(matches!(
            escape_text("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            escape_text("a\x1b[31mb\0c\nd\te\u{202e}"),
            "a\\u{1b}[31mb\\0c\\nd\\te\\u{202e}"
        );
    }
}
