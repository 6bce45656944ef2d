//! `critpt classify`: the verdict at one point.

use super::common::{fmt_num, fmt_vec, parse_point, print_json, FunctionArgs};
use super::out::{outln, Spinner};
use anyhow::Result;
use critpt::critical::{classify_point_with, CriticalKind, CriticalPoint, Tolerances};
use critpt::curvature::EigenBackend;
use critpt::derivatives::{FiniteDiff, Method};
use std::process::ExitCode;

/// Flags of `critpt classify`.
#[derive(Debug, clap::Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The point, comma-separated (e.g. 0,0).
    #[arg(long, allow_hyphen_values = true)]
    pub at: String,
    /// Derivatives: dual (exact, default) or fd (central finite differences).
    #[arg(long, default_value = "dual")]
    pub method: Method,
    /// Gradient-norm tolerance (default 1e-6 dual, 1e-5 fd).
    #[arg(long, allow_hyphen_values = true)]
    pub tol_grad: Option<f64>,
    /// Relative eigenvalue tolerance (default 1e-8 dual, 1e-6 fd).
    #[arg(long, allow_hyphen_values = true)]
    pub tol_eig: Option<f64>,
    /// Dense eigen backend: faer (default), nalgebra, lapack.
    #[arg(long, default_value = "faer")]
    pub backend: EigenBackend,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Tolerances from the method's defaults and the overrides.
pub fn tolerances(method: Method, grad: Option<f64>, eig: Option<f64>) -> Result<Tolerances> {
    let mut t = Tolerances::for_method(method);
    if let Some(g) = grad {
        t = t.with_grad(g)?;
    }
    if let Some(e) = eig {
        t = t.with_eig(e)?;
    }
    Ok(t)
}

/// The JSON object of a classified point: `variables`, `point`, `value`, `gradient`,
/// `gradient_norm`, `eigenvalues` (ascending), `eigenvectors` (one list per eigenvalue, same
/// order), `kind`, `index`, `minimum_ratio`, `zero_threshold`, `method`.
#[derive(serde::Serialize)]
pub struct PointJson<'a> {
    variables: &'a [String],
    point: &'a [f64],
    value: f64,
    gradient: &'a [f64],
    gradient_norm: f64,
    eigenvalues: &'a [f64],
    eigenvectors: Vec<Vec<f64>>,
    kind: CriticalKind,
    index: usize,
    minimum_ratio: f64,
    zero_threshold: f64,
    method: &'static str,
}

impl<'a> PointJson<'a> {
    /// The JSON of `p`, a point of a function of `variables` classified with `method`.
    pub fn new(variables: &'a [String], p: &'a CriticalPoint, method: Method) -> Self {
        PointJson {
            variables,
            point: &p.point,
            value: p.value,
            gradient: &p.gradient,
            gradient_norm: p.gradient_norm,
            eigenvalues: p.spectrum.eigenvalues(),
            eigenvectors: (0..p.spectrum.eigenvalues().len())
                .map(|k| p.spectrum.eigenvector(k))
                .collect(),
            kind: p.kind,
            index: p.index,
            minimum_ratio: p.minimum_ratio,
            zero_threshold: p.zero_threshold,
            method: method.name(),
        }
    }
}

/// Runs `critpt classify`.
pub fn run(a: &ClassifyArgs) -> Result<ExitCode> {
    let f = a.function.formula()?;
    critpt::limits::check_dense_variables(f.variables().len())?;
    let at = parse_point("--at", &a.at, &f)?;
    let (method, backend) = (a.method, a.backend);
    let tol = tolerances(method, a.tol_grad, a.tol_eig)?;
    let spinner = Spinner::start("forming the Hessian and its eigenvalues");
    let p = match method {
        Method::Dual => classify_point_with(&f, &at, &tol, backend)?,
        Method::FiniteDiff => classify_point_with(&FiniteDiff::new(&f), &at, &tol, backend)?,
    };
    drop(spinner);
    if a.json {
        print_json(&serde_json::to_value(PointJson::new(
            f.variables(),
            &p,
            method,
        ))?)?;
    } else {
        outln!("function   {}", f.source())?;
        outln!("variables  {}", f.variables().join(", "))?;
        outln!("point      {}", fmt_vec(&p.point))?;
        outln!("value      {}", fmt_num(p.value, 10))?;
        outln!(
            "gradient   {}  (norm {:.3e}, tolerance {:.1e})",
            fmt_vec(&p.gradient),
            p.gradient_norm,
            tol.grad
        )?;
        outln!("method     {}", method.name())?;
        outln!()?;
        outln!("  eigenvalue        eigenvector")?;
        for (k, l) in p.spectrum.eigenvalues().iter().enumerate() {
            outln!("  {l:>16.8e}  {}", fmt_vec(&p.spectrum.eigenvector(k)))?;
        }
        outln!()?;
        outln!(
            "kind {}   index {}   minimum ratio {:.4}   (eigenvalues within {:.3e} count as zero)",
            p.kind,
            p.index,
            p.minimum_ratio,
            p.zero_threshold
        )?;
        if p.kind == critpt::critical::CriticalKind::NotCritical {
            outln!(
                "(the gradient norm {:.3e} exceeds the tolerance {:.1e}: not a critical point)",
                p.gradient_norm,
                tol.grad
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
