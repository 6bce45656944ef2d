//! The one way the binary writes: `outln!` to stdout, `errln!` to stderr, progress spinners.
//!
//! `println!` panics when stdout is closed (`critpt find | head -1`) or the disk is full. Every
//! stdout write goes through [`write_line`] instead, which returns a [`StdoutError`]; `main`
//! ends quietly with status 0 on a broken pipe (as ripgrep does) and prints one `error:` line
//! with status 1 for any other write error (`> /dev/full`). Stderr writes never fail the run:
//! a closed stderr loses the message, nothing else.

use std::fmt;
use std::io::{IsTerminal, Write};

/// A failed write to stdout.
#[derive(Debug)]
pub struct StdoutError(pub std::io::Error);

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to standard output: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

impl StdoutError {
    /// Whether the reader went away (EPIPE): the conventional quiet end.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// Writes one formatted line to stdout.
///
/// # Errors
/// [`StdoutError`] when the write fails.
pub fn write_line(args: fmt::Arguments<'_>) -> Result<(), StdoutError> {
    let mut o = std::io::stdout().lock();
    o.write_fmt(args)
        .and_then(|()| o.write_all(b"\n"))
        .map_err(StdoutError)
}

/// Flushes stdout, so that a full disk is reported rather than lost at exit.
///
/// # Errors
/// [`StdoutError`] when the flush fails.
pub fn flush() -> Result<(), StdoutError> {
    std::io::stdout().flush().map_err(StdoutError)
}

/// Writes one formatted line to stderr, ignoring failure.
pub fn write_err_line(args: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

/// `println!` that returns `Result<(), StdoutError>` instead of panicking.
macro_rules! outln {
    () => {
        $crate::cli::out::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::write_err_line(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// A spinner on stderr while long work runs, shown only when stderr is a terminal (so that
/// scripts and tests see clean output); cleared when dropped.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    /// Starts a spinner with `message` and the elapsed time.
    pub fn start(message: impl Into<String>) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(message.into());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
