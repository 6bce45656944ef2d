//! The library's one error type.
//!
//! Every fallible function in critpt returns [`Result`]. Messages are lower case, carry the
//! offending values, and fit on one line, so the command line can print them as
//! `error: <message>` unchanged. Panics are reserved for bugs.

/// What went wrong, with the values that were wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A formula could not be parsed.
    #[error("formula error at column {column}: {message}")]
    Parse {
        /// 1-based column of the offending character.
        column: usize,
        /// What was expected, and what was found.
        message: String,
    },
    /// A vector had the wrong length.
    #[error("{what}: expected {expected} values, got {got}")]
    DimMismatch {
        /// Which vector.
        what: String,
        /// The length that was needed.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// A value that must be finite was NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
    /// A hyper-parameter, tolerance or option is out of its range.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name, as the user spells it.
        name: String,
        /// Why the value is rejected, including the value.
        reason: String,
    },
    /// A name (surface, optimizer, schedule, activation, ...) is not known.
    #[error("unknown {what} '{name}'; known: {known}")]
    Unknown {
        /// What kind of name.
        what: String,
        /// The name that was given.
        name: String,
        /// The names that are known, comma-separated.
        known: String,
    },
    /// An iterative method stopped before reaching its tolerance.
    #[error("{method} did not converge after {iters} iterations (residual {residual:.2e})")]
    NoConvergence {
        /// The method.
        method: String,
        /// Iterations done.
        iters: usize,
        /// The residual reached.
        residual: f64,
    },
    /// A point has no direction of negative curvature to escape along.
    #[error("the point has no direction of negative curvature (smallest eigenvalue {smallest:.6e}); it is not a saddle or maximum to escape from")]
    NoNegativeCurvature {
        /// The smallest eigenvalue found.
        smallest: f64,
    },
    /// The requested operation cannot be done, with the reason.
    #[error("{0}")]
    Unsupported(String),
    /// Malformed input data (CSV, model files, JSON).
    #[error("{0}")]
    Data(String),
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error (in the message, deliberately not a `source`, so that
        /// error chains print it once).
        cause: std::io::Error,
    },
}

/// The result type of the whole library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Builds an [`Error::InvalidParameter`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::DimMismatch`].
    pub fn dim(what: impl Into<String>, expected: usize, got: usize) -> Self {
        Error::DimMismatch {
            what: what.into(),
            expected,
            got,
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            cause,
        }
    }
}

/// A number for messages: as Rust prints it for moderate magnitudes, in exponent notation
/// beyond them (`1e300`, not 301 digits).
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-6..1e15).contains(&v.abs()) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}

/// Checks that every entry of `values` is finite, naming `what` otherwise.
pub fn ensure_finite(what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite(format!(
            "{what} has a non-finite entry at position {}: {}",
            i + 1,
            fmt_num(values[i])
        ))),
    }
}

/// Checks that `value` is positive and finite, naming `name` otherwise; returns it.
pub fn ensure_positive(name: &str, value: f64) -> Result<f64> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::invalid(
            name,
            format!("must be positive and finite, got {value}"),
        ))
    }
}

/// Checks that a count is at least 1, naming `name` otherwise; returns it.
pub fn ensure_nonzero(name: &str, value: usize) -> Result<usize> {
    if value == 0 {
        Err(Error::invalid(name, "must be at least 1, got 0"))
    } else {
        Ok(value)
    }
}
