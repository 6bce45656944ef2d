//! Figure 2: the chapter's two-weight surface `(1 − w1·w2)²`: the saddle at the origin, its
//! eigenvectors, one escape step along negative curvature, and the hyperbola `w1·w2 = 1` of
//! degenerate minima.

use super::{num, write, FigureOutput, SIZE};
use crate::critical::{
    classify_point, escape_saddle, CriticalPoint, EscapeOptions, EscapeStep, Tolerances,
};
use crate::error::Result;
use crate::plot::surface::{NEGATIVE_CURVATURE_COLOR, POSITIVE_CURVATURE_COLOR};
use crate::plot::{Arrow, Levels, PlotBox, SurfacePlot, ValueScale};
use std::path::Path;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// The classification of the origin.
    pub saddle: CriticalPoint,
    /// The escape step from the origin.
    pub escape: EscapeStep,
    /// The two branches of `w1·w2 = 1` inside `[−2, 2]²`.
    pub hyperbola: Vec<Vec<[f64; 2]>>,
}

/// Classifies the origin, escapes from it, and samples the hyperbola.
///
/// # Errors
/// Errors of the classifier or the escape.
pub fn compute() -> Result<Data> {
    let f = crate::surfaces::by_name("two-weight")?.formula();
    let tol = Tolerances::dual();
    let saddle = classify_point(&f, &[0.0, 0.0], &tol)?;
    let escape = escape_saddle(&f, &[0.0, 0.0], &tol, &EscapeOptions::default())?;
    let branch = |s: f64| -> Vec<[f64; 2]> {
        (0..=200)
            .map(|k| {
                let w1 = 0.5 + 1.5 * k as f64 / 200.0;
                [s * w1, s / w1]
            })
            .collect()
    };
    Ok(Data {
        saddle,
        escape,
        hyperbola: vec![branch(1.0), branch(-1.0)],
    })
}

/// The surface with the overlays.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<SurfacePlot> {
    let f = crate::surfaces::by_name("two-weight")?.formula();
    let e = &data.escape;
    let mut p = SurfacePlot::from_loss(&f, PlotBox::new(-2.0, 2.0, -2.0, 2.0)?, 200)?
        .with_title("L = (1 − w1·w2)²: escaping the saddle along negative curvature")
        .with_scale(ValueScale::Log)
        .with_levels(Levels::Values(vec![
            0.01, 0.05, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0,
        ]))
        .with_value_label("L (log colours)")
        .with_curve("w1·w2 = 1: minima, L = 0", data.hyperbola.clone());
    let sp = &data.saddle.spectrum;
    for k in 0..2 {
        let v = sp.eigenvector(k);
        let n = (v[0] * v[0] + v[1] * v[1]).sqrt().max(f64::MIN_POSITIVE);
        let lambda = sp.eigenvalues()[k];
        let color = if lambda < 0.0 {
            NEGATIVE_CURVATURE_COLOR
        } else {
            POSITIVE_CURVATURE_COLOR
        };
        for s in [1.0, -1.0] {
            p = p.with_arrow(Arrow {
                from: [0.0, 0.0],
                to: [s * 0.6 * v[0] / n, s * 0.6 * v[1] / n],
                color,
                label: format!("eigenvector, λ = {lambda}"),
            });
        }
    }
    Ok(
        p.with_escape_step([e.from[0], e.from[1]], [e.to[0], e.to[1]])
            .with_critical_point([0.0, 0.0], data.saddle.kind),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Classification, escape, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let data = compute()?;
    write(&plot(&data)?, path, SIZE)?;
    let e = &data.escape;
    let ev = data.saddle.spectrum.eigenvalues();
    Ok(FigureOutput {
        caption: format!(
            "The origin of (1 - w1 w2)^2 is a {} (eigenvalues {} and {}); one step of length {:.3} \
             along the eigenvector of the negative eigenvalue lowers L from {} to {:.4}, towards \
             the hyperbola w1 w2 = 1 of degenerate minima",
            data.saddle.kind, ev[0], ev[1], e.step, e.value_before, e.value_after
        ),
        numbers: vec![
            num("lambda_min", ev[0]),
            num("lambda_max", ev[1]),
            num("step", e.step),
            num("L_before", e.value_before),
            num("L_after", e.value_after),
            num("predicted_change", e.predicted_change),
        ],
    })
}
