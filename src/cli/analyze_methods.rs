//! `critpt analyze`'s methods on any model: the operator and point come from the MLP or the
//! ONNX path, the measurement, the estimates and the report are the same for both.

use super::analyze::{AnalyzeArgs, AnalyzeMethod};
use super::analyze_report::{self, Analysis, Converged, Extras, LanczosRun, Subject, Verdict};
use super::out::{errln, Spinner};
use anyhow::{bail, Result};
use critpt::critical::{
    classify_extremes, classify_point_eigenvalues, classify_point_inertia, escape_saddle,
    EscapeOptions, EscapeStep, Tolerances,
};
use critpt::curvature::{
    hutch_plus_plus, slq_density, CurvatureOperator, EigenBackend, Lanczos, Restricted, Slq,
};
use critpt::objective::{Gradient, Hessian, Hvp};
use std::time::Instant;

/// Runs the chosen method on `full` at `full_point` (the operator over every parameter), or on
/// its `--params` block, with the estimates beside it, and prints the report of `subject`.
pub(super) fn analyze_and_report(
    a: &AnalyzeArgs,
    subject: &Subject<'_>,
    full: &dyn CurvatureOperator,
    full_point: &[f64],
) -> Result<()> {
    let scope = subject.scope;
    let restricted;
    let (obj, point): (&dyn CurvatureOperator, Vec<f64>) = match scope.indices() {
        Some(idx) => {
            restricted = Restricted::new(full, full_point, idx)?;
            let p = restricted.point();
            (&restricted, p)
        }
        None => (full, full_point.to_vec()),
    };
    let point = point.as_slice();
    let dim = point.len();
    let method = a.method_for(dim);
    let tol = a.tolerances()?;
    if method != AnalyzeMethod::Lanczos {
        critpt::limits::check_dense_params(dim)?;
    }
    if method == AnalyzeMethod::Lanczos && a.escape {
        bail!("--escape needs the dense Hessian; use --method dense");
    }
    let spinner = Spinner::start(format!(
        "{} {} of {dim} parameters",
        method.name(),
        scope.curvature.name()
    ));
    let extras = extras(a, obj, point, method != AnalyzeMethod::Lanczos)?;
    let mut analysis = match method {
        AnalyzeMethod::Dense => dense(a, obj, point, &tol)?,
        AnalyzeMethod::Inertia => inertia(a, obj, point, &tol)?,
        AnalyzeMethod::Lanczos => lanczos(a, obj, point, &tol)?,
    };
    if scope.selected.is_some() {
        let g = critpt::objective::gradient_vec(full, full_point)?;
        analysis.gradient_norm = critpt::objective::norm(&g);
    }
    drop(spinner);
    analyze_report::print(a.json, subject, &analysis, &extras)
}

/// The result of `f` and the seconds it took.
fn timed<T>(f: impl FnOnce() -> critpt::Result<T>) -> Result<(T, f64)> {
    let start = Instant::now();
    let value = f()?;
    Ok((value, start.elapsed().as_secs_f64()))
}

/// The `--backend` of a dense method, or `default`, the fastest in this build.
fn dense_backend(a: &AnalyzeArgs, default: EigenBackend) -> Result<EigenBackend> {
    let Some(b) = a.backend else {
        return Ok(default);
    };
    if !EigenBackend::available().contains(&b) {
        let name = b.name();
        bail!("--backend {name} needs critpt built with `--features {name}`");
    }
    Ok(b)
}

/// `--escape`: one step along the most negative curvature (only that eigenpair is computed);
/// `Some(None)`, after a warning saying why, when there is none.
fn escape<O: Gradient + Hessian + ?Sized>(
    a: &AnalyzeArgs,
    obj: &O,
    point: &[f64],
    tol: &Tolerances,
) -> Option<Option<EscapeStep>> {
    if !a.escape {
        return None;
    }
    match escape_saddle(obj, point, tol, &EscapeOptions::default()) {
        Ok(e) => Some(Some(e)),
        Err(e) => {
            errln!("warning: no escape step: {e}");
            Some(None)
        }
    }
}

/// `--method dense`: every eigenvalue of the dense matrix (no eigenvectors).
fn dense(
    a: &AnalyzeArgs,
    obj: &dyn CurvatureOperator,
    point: &[f64],
    tol: &Tolerances,
) -> Result<Analysis> {
    let backend = dense_backend(a, EigenBackend::fastest_eigenvalues())?;
    let (cp, seconds) = timed(|| classify_point_eigenvalues(obj, point, tol, backend))?;
    let c = cp.classification;
    let ev = cp.eigenvalues;
    let reported = a.top.map_or(ev.len(), |k| k.min(ev.len()));
    Ok(Analysis {
        method: AnalyzeMethod::Dense,
        dim: point.len(),
        loss: cp.value,
        gradient_norm: cp.gradient_norm,
        reported,
        residuals: None,
        end_residuals: None,
        converged: None,
        lambda_min: ev.first().copied(),
        lambda_max: ev.last().copied(),
        counts: None,
        trace: Some(ev.iter().sum()),
        eigenvalues: ev,
        verdict: Verdict::exact(&c, cp.zero_threshold),
        lanczos: None,
        backend: Some(backend),
        escape: escape(a, obj, point, tol),
        seconds,
    })
}

/// `--method inertia`: exact counts from two `LBLᵀ` factorizations, the extremes by block
/// Lanczos on the dense matrix.
fn inertia(
    a: &AnalyzeArgs,
    obj: &dyn CurvatureOperator,
    point: &[f64],
    tol: &Tolerances,
) -> Result<Analysis> {
    let backend = dense_backend(a, EigenBackend::fastest_factorization())?;
    let (p, seconds) = timed(|| classify_point_inertia(obj, point, tol, a.seed, backend))?;
    let c = p.classification;
    let ext = &p.inertia.extremes;
    let (eigenvalues, residuals) = if point.len() == 1 {
        (vec![ext.smallest.value], vec![ext.smallest.residual])
    } else {
        (
            vec![ext.smallest.value, ext.largest.value],
            vec![ext.smallest.residual, ext.largest.residual],
        )
    };
    Ok(Analysis {
        method: AnalyzeMethod::Inertia,
        dim: point.len(),
        loss: p.value,
        gradient_norm: p.gradient_norm,
        reported: eigenvalues.len(),
        eigenvalues,
        residuals: Some(residuals),
        end_residuals: Some((ext.smallest.residual, ext.largest.residual)),
        converged: Some(Converged::Both(ext.converged)),
        lambda_min: Some(ext.smallest.value),
        lambda_max: Some(ext.largest.value),
        counts: Some(p.inertia.counts),
        trace: Some(p.inertia.trace),
        verdict: Verdict::exact(&c, p.inertia.tau),
        lanczos: None,
        backend: Some(backend),
        escape: escape(a, obj, point, tol),
        seconds,
    })
}

/// `--method lanczos`: the extreme eigenpairs by block Lanczos, matrix-free; the verdict from
/// them only where they prove it.
fn lanczos(
    a: &AnalyzeArgs,
    obj: &dyn CurvatureOperator,
    point: &[f64],
    tol: &Tolerances,
) -> Result<Analysis> {
    let k = a.top.unwrap_or(5);
    let start = Instant::now();
    let which = a.which;
    let mut lanczos = Lanczos::new(k, which);
    if let Some(b) = a.block_size {
        lanczos = lanczos.with_block_size(b)?;
    }
    if let Some(m) = a.basis_size {
        lanczos = lanczos.with_basis_size(m)?;
    }
    let r = lanczos
        .with_tol(a.lanczos_tol)?
        .with_max_iters(a.max_iters)?
        .with_seed(a.seed)
        .run(obj, point)?;
    // After the products, whose forward and backward passes at the point a network keeps:
    // the gradient then costs no pass of its own.
    let mut grad = vec![0.0; point.len()];
    let loss = obj.loss_and_gradient(point, &mut grad)?;
    let gradient_norm = critpt::objective::norm(&grad);
    drop(grad);
    let seconds = start.elapsed().as_secs_f64();
    let n = point.len();
    let v = classify_extremes(&r, which, k, n, gradient_norm, loss, tol);
    let ev = r.spectrum.eigenvalues().to_vec();
    Ok(Analysis {
        method: AnalyzeMethod::Lanczos,
        dim: n,
        loss,
        gradient_norm,
        reported: ev.len(),
        lambda_min: ev.first().copied(),
        lambda_max: ev.last().copied(),
        eigenvalues: ev,
        residuals: Some(r.residuals),
        end_residuals: None,
        converged: Some(Converged::Each(r.converged)),
        counts: None,
        trace: None,
        verdict: Verdict {
            kind: v.kind,
            index: v.index,
            minimum_ratio: v.minimum_ratio,
            index_at_least: Some(v.index_at_least),
            note: Some(v.note),
            zero_threshold: v.zero_threshold,
        },
        lanczos: Some(LanczosRun {
            top: k,
            which: which.name(),
            hvps: r.n_hvps,
            product_seconds: r.product_seconds,
            iterations: r.iterations,
            restarts: r.restarts,
            block_size: r.block_size,
            basis_size: r.basis_size,
            seed: r.seed,
        }),
        backend: None,
        escape: None,
        seconds,
    })
}

/// `--trace` (Hutch++, only where the trace is not exact) and `--density` (SLQ).
fn extras<O: Hvp + ?Sized>(
    a: &AnalyzeArgs,
    obj: &O,
    point: &[f64],
    exact_trace: bool,
) -> Result<Extras> {
    if a.density {
        critpt::limits::check_density_grid(a.density_grid)?;
    }
    let trace = if a.trace && !exact_trace {
        Some(timed(|| hutch_plus_plus(obj, point, a.hvps, a.seed))?)
    } else {
        None
    };
    let density = if a.density {
        let cfg = Slq::new()
            .with_runs(a.density_runs)?
            .with_steps(a.density_steps)?
            .with_grid_points(a.density_grid)?
            .with_seed(a.seed);
        let (d, seconds) = timed(|| slq_density(obj, point, &cfg))?;
        Some((d, a.density_runs, a.density_steps, seconds))
    } else {
        None
    };
    Ok(Extras { trace, density })
}
