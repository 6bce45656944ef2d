//! `critpt escape`: one step along the most negative curvature.

use super::classify::tolerances;
use super::common::{fmt_num, fmt_vec, parse_point, print_json, FunctionArgs};
use super::out::{errln, outln};
use anyhow::Result;
use critpt::critical::{escape_saddle, EscapeOptions, EscapeStep};
use critpt::derivatives::{FiniteDiff, Method};
use std::process::ExitCode;

/// Flags of `critpt escape`.
#[derive(Debug, clap::Args)]
pub struct EscapeArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The point to escape from, comma-separated.
    #[arg(long, allow_hyphen_values = true)]
    pub at: String,
    /// First trial step length (default 1, then doubled while the loss keeps falling).
    #[arg(long, allow_hyphen_values = true)]
    pub step: Option<f64>,
    /// Derivatives: dual (default) or fd.
    #[arg(long, default_value = "dual")]
    pub method: Method,
    /// Relative eigenvalue tolerance.
    #[arg(long, allow_hyphen_values = true)]
    pub tol_eig: Option<f64>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The JSON of `critpt escape`: the step's fields, the function's variables and the
/// derivative method.
#[derive(serde::Serialize)]
struct EscapeJson<'a> {
    #[serde(flatten)]
    step: &'a EscapeStep,
    variables: &'a [String],
    method: &'static str,
}

/// Runs `critpt escape`.
pub fn run(a: &EscapeArgs) -> Result<ExitCode> {
    let f = a.function.formula()?;
    critpt::limits::check_dense_variables(f.variables().len())?;
    let at = parse_point("--at", &a.at, &f)?;
    let method = a.method;
    let tol = tolerances(method, None, a.tol_eig)?;
    let opts = match a.step {
        Some(s) => EscapeOptions::with_step(s)?,
        None => EscapeOptions::default(),
    };
    let e = match method {
        Method::Dual => escape_saddle(&f, &at, &tol, &opts)?,
        Method::FiniteDiff => escape_saddle(&FiniteDiff::new(&f), &at, &tol, &opts)?,
    };
    for w in &e.warnings {
        errln!("warning: {}", super::flags::with_flags(w));
    }
    if a.json {
        print_json(&serde_json::to_value(EscapeJson {
            step: &e,
            variables: f.variables(),
            method: method.name(),
        })?)?;
    } else {
        outln!(
            "from        {}  value {}",
            fmt_vec(&e.from),
            fmt_num(e.value_before, 10)
        )?;
        outln!(
            "eigenvalue  {:.8e}  direction {}",
            e.eigenvalue,
            fmt_vec(&e.direction)
        )?;
        outln!("step        {}", e.step)?;
        outln!(
            "to          {}  value {}",
            fmt_vec(&e.to),
            fmt_num(e.value_after, 10)
        )?;
        outln!(
            "change      {:+.6e} (second-order prediction ½λα² = {:+.6e})",
            e.value_after - e.value_before,
            e.predicted_change
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
