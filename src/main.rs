//! The `critpt` binary: parse the command line, call the library, print.
//!
//! Exit status: 0 on success (and, quietly, when the reader of stdout goes away); 1 with one
//! `error: ...` line for a user error or a failed write (a full disk); 2 for a malformed command
//! line, as clap does.

mod cli;

use clap::Parser;
use cli::out::{errln, StdoutError};
use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors exit with status 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = cli::run(parsed).and_then(|code| {
        cli::out::flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<StdoutError>() {
            // The reader went away (`critpt find | head -1`): stop without a message.
            Some(w) if w.is_broken_pipe() => ExitCode::SUCCESS,
            _ => {
                let msg = cli::flags::with_flags(&format!("{e:#}").replace('\n', " "));
                errln!("error: {msg}");
                ExitCode::from(1)
            }
        },
    }
}
