//! Flags and helpers shared by the subcommands: choosing a function, parsing points, printing.

use super::out::{errln, outln};
use anyhow::{anyhow, bail, Result};
use critpt::expr::Formula;

/// `--expr F | --fn NAME`, with an optional `--vars` order.
#[derive(Debug, Clone, clap::Args)]
pub struct FunctionArgs {
    /// A formula, e.g. "(1-w1*w2)^2".
    #[arg(long, value_name = "FORMULA", allow_hyphen_values = true)]
    pub expr: Option<String>,
    /// A built-in surface (himmelblau, rosenbrock, two-weight, valley, ...).
    #[arg(long = "fn", value_name = "NAME")]
    pub surface: Option<String>,
    /// Variable order, comma-separated (default: by name, x2 before x10).
    #[arg(long, value_name = "A,B,...")]
    pub vars: Option<String>,
}

impl FunctionArgs {
    /// The `--vars` list, trimmed.
    fn vars(&self) -> Option<Vec<String>> {
        self.vars
            .as_ref()
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
    }

    /// The formula the flags name.
    pub fn formula(&self) -> Result<Formula> {
        let vars = self.vars();
        match (&self.expr, &self.surface) {
            (Some(_), Some(_)) => bail!("give either --expr or --fn, not both"),
            (None, None) => bail!("give a function: --expr \"FORMULA\" or --fn NAME"),
            (Some(e), None) => Ok(Formula::parse_with_vars(e, vars.as_deref())?),
            (None, Some(name)) => {
                let s = critpt::surfaces::by_name(name)?;
                Ok(Formula::parse_with_vars(&s.formula, vars.as_deref())
                    .map_err(|e| anyhow!("--vars: {e}"))?)
            }
        }
    }

    /// The named surface (`--fn`), with its box and known points in the `--vars` order.
    pub fn surface(&self) -> Result<Option<critpt::surfaces::Surface>> {
        let Some(name) = &self.surface else {
            return Ok(None);
        };
        let s = critpt::surfaces::by_name(name)?;
        Ok(Some(match self.vars() {
            Some(vars) => s.reordered(&vars).map_err(|e| anyhow!("--vars: {e}"))?,
            None => s,
        }))
    }
}

/// Parses a comma list of finite numbers (`--at 0,0`), naming the flag in errors.
pub fn parse_list(flag: &str, text: &str) -> Result<Vec<f64>> {
    if text.trim().is_empty() {
        bail!("{flag}: empty list; expected comma-separated numbers such as 0,0");
    }
    text.split(',')
        .enumerate()
        .map(|(i, s)| {
            let s = s.trim();
            let v: f64 = s
                .parse()
                .map_err(|_| anyhow!("{flag}: entry {} '{s}' is not a number", i + 1))?;
            if !v.is_finite() {
                bail!("{flag}: entry {} is {v}; coordinates must be finite", i + 1);
            }
            Ok(v)
        })
        .collect()
}

/// Parses a point and checks its length against the formula's variables.
pub fn parse_point(flag: &str, text: &str, f: &Formula) -> Result<Vec<f64>> {
    let p = parse_list(flag, text)?;
    if p.len() != f.variables().len() {
        bail!(
            "{flag}: the function has {} variables ({}), the point has {} coordinates",
            f.variables().len(),
            f.variables().join(", "),
            p.len()
        );
    }
    Ok(p)
}

/// Warns when `--loss mse` takes the last columns of a CSV file as targets by default: with a
/// classification file (iris) that would silently treat features and labels as targets.
pub fn warn_default_mse_targets(
    kind: critpt::nn::LossKind,
    target: &Option<String>,
    data: &critpt::nn::Dataset,
    origin: &critpt::nn::DataOrigin,
) {
    if kind == critpt::nn::LossKind::Mse && target.is_none() && !origin.is_generator() {
        errln!(
            "warning: --loss mse takes the last {} column(s) of {} ({}) as targets; name them with --target",
            data.target_names.len(),
            origin.spec,
            data.target_names.join(", ")
        );
    }
}

/// Prints one JSON object on stdout.
pub fn print_json(v: &serde_json::Value) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// A number for tables: fixed-point for moderate magnitudes, exponent notation beyond them, so
/// that `1e300` prints as `1.000000e300`, not as 301 digits.
pub fn fmt_num(v: f64, decimals: usize) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e6).contains(&v.abs()) {
        format!("{v:.decimals$}")
    } else {
        format!("{v:.decimals$e}")
    }
}

/// Formats a vector compactly for tables (see [`fmt_num`]).
pub fn fmt_vec(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|&x| fmt_num(x, 6)).collect();
    format!("({})", parts.join(", "))
}
