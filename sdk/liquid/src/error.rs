//! The one error type of the crate: what went wrong, of which kind, and at which line.
//!
//! Depends on nothing else in the crate.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template does not parse: fix its source.
    Syntax,
    /// Strict mode met a variable that is not set.
    Undefined,
    /// A filter or tag failed on the values it got (a division by zero, a snippet not found).
    Render,
    /// A limit stopped the render (output size, nesting, range size).
    Limit,
}

/// A template that cannot be parsed or rendered, with the line at fault where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// What failed and, where it helps, what to change.
    pub message: String,
    /// The template line (1-based) of the tag or output at fault.
    pub line: Option<usize>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: String, line: Option<usize>) -> Error {
        Error { kind, message, line }
    }

    pub(crate) fn syntax(message: impl Into<String>, line: usize) -> Error {
        Error::new(ErrorKind::Syntax, message.into(), Some(line))
    }

    /// Sets the line when the error does not know it yet.
    pub(crate) fn at(mut self, line: usize) -> Error {
        self.line.get_or_insert(line);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}
