//! `critpt gallery`: regenerate the teaching figures and print a one-screen report.

use critpt::gallery::{run_all, GalleryReport};
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
}

/// Runs the gallery; exit status 1 when any figure failed.
pub fn run(a: &GalleryArgs) -> anyhow::Result<ExitCode> {
    let only: Vec<String> = a
        .only
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let report = run_all(&a.out, &only)?;
    print_report(&report);
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

fn print_report(r: &GalleryReport) {
    for f in &r.figures {
        match &f.outcome {
            Ok(out) => {
                println!(
                    "OK      {:<18} {} ({:.1} s)",
                    f.name,
                    f.path.display(),
                    f.seconds
                );
                let nums: Vec<String> = out
                    .numbers
                    .iter()
                    .map(|(k, v)| format!("{k}={}", fmt_value(*v)))
                    .collect();
                println!("        {}", nums.join("  "));
            }
            Err(e) => println!("FAILED  {:<18} {}: {e}", f.name, f.path.display()),
        }
    }
    let failed = r.failed().len();
    println!(
        "{} of {} figures written in {:.1} s{}",
        r.figures.len() - failed,
        r.figures.len(),
        r.seconds,
        if failed > 0 {
            format!("; {failed} FAILED")
        } else {
            String::new()
        }
    );
}
