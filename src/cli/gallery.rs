//! `critpt gallery`: regenerate the teaching figures and print a one-screen report.

use super::common::print_json;
use super::out::{outln, Spinner};
use critpt::gallery::{run_all, GalleryReport};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `critpt gallery [--out DIR] [--only NAME,...]`.
#[derive(Debug, clap::Args)]
pub struct GalleryArgs {
    /// Output directory (created if missing).
    #[arg(long, default_value = "plots")]
    pub out: PathBuf,
    /// Only these figures (comma-separated names, e.g. `momentum,schedules`).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Print one JSON object: every figure's name, path, status, seconds and numbers.
    #[arg(long)]
    pub json: bool,
}

/// Runs the gallery; exit status 1 when any figure failed.
pub fn run(a: &GalleryArgs) -> anyhow::Result<ExitCode> {
    let only: Vec<String> = a
        .only
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let spinner = Spinner::start("drawing the teaching figures");
    let report = run_all(&a.out, &only)?;
    drop(spinner);
    if a.json {
        print_json(&serde_json::to_value(GalleryJson::new(&report))?)?;
    } else {
        print_report(&report)?;
    }
    Ok(if report.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v == v.trunc() && v.abs() < 1e9 {
        format!("{v}")
    } else if v.abs() >= 1e-3 && v.abs() < 1e5 {
        format!("{v:.6}")
    } else {
        format!("{v:.4e}")
    }
}

/// The JSON of `critpt gallery`: every figure, how many were written and failed, the time.
#[derive(serde::Serialize)]
struct GalleryJson<'a> {
    figures: Vec<FigureJson<'a>>,
    written: usize,
    failed: usize,
    seconds: f64,
}

/// One figure of [`GalleryJson`]: its numbers when it was drawn, its error when not; a NaN
/// number becomes null.
#[derive(serde::Serialize)]
struct FigureJson<'a> {
    name: &'a str,
    path: String,
    ok: bool,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    numbers: Option<BTreeMap<&'a str, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> GalleryJson<'a> {
    fn new(r: &'a GalleryReport) -> Self {
        let figures = r
            .figures
            .iter()
            .map(|f| FigureJson {
                name: &f.name,
                path: f.path.display().to_string(),
                ok: f.outcome.is_ok(),
                seconds: f.seconds,
                numbers: f
                    .outcome
                    .as_ref()
                    .ok()
                    .map(|out| out.numbers.iter().map(|(k, x)| (k.as_str(), *x)).collect()),
                error: f.outcome.as_ref().err().map(String::as_str),
            })
            .collect();
        let failed = r.failed().len();
        GalleryJson {
            figures,
            written: r.figures.len() - failed,
            failed,
            seconds: r.seconds,
        }
    }
}

fn print_report(r: &GalleryReport) -> anyhow::Result<()> {
    for f in &r.figures {
        match &f.outcome {
            Ok(out) => {
                outln!(
                    "OK      {:<18} {} ({:.1} s)",
                    f.name,
                    f.path.display(),
                    f.seconds
                )?;
                let nums: Vec<String> = out
                    .numbers
                    .iter()
                    .map(|(k, v)| format!("{k}={}", fmt_value(*v)))
                    .collect();
                outln!("        {}", nums.join("  "))?;
            }
            Err(e) => outln!("FAILED  {:<18} {}: {e}", f.name, f.path.display())?,
        }
    }
    let failed = r.failed().len();
    outln!(
        "{} of {} figures written in {:.1} s{}",
        r.figures.len() - failed,
        r.figures.len(),
        r.seconds,
        if failed > 0 {
            format!("; {failed} FAILED")
        } else {
            String::new()
        }
    )?;
    Ok(())
}
