//! Helpers shared by the network figures (3, 11–14): a plot enum that mixes chart kinds in one
//! row of panels, the standardized digits set, the
//! filters of a plain MLP, and a gradient-norm minimizer that drives a network to `‖∇L‖ ≈ 0`.

use crate::error::Result;
use crate::nn::{Dataset, Layer, Mlp};
use crate::objective::{norm, Gradient, Hessian};
use crate::plot::{LinePlot, Plot, ScatterPlot, SpectrumPlot, SurfacePlot};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Any chart a network figure's panel can be.
#[derive(Debug, Clone)]
pub enum NnPlot {
    /// A line chart.
    Line(LinePlot),
    /// A scatter chart.
    Scatter(ScatterPlot),
    /// A spectrum histogram.
    Spectrum(SpectrumPlot),
    /// A contour surface.
    Surface(SurfacePlot),
}

impl Plot for NnPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        match self {
            NnPlot::Line(p) => p.draw(area),
            NnPlot::Scatter(p) => p.draw(area),
            NnPlot::Spectrum(p) => p.draw(area),
            NnPlot::Surface(p) => p.draw(area),
        }
    }
}

/// `data/digits.csv` (1797 8×8 images, 10 classes; embedded), features standardized.
///
/// # Errors
/// The file is missing or malformed.
pub fn digits() -> Result<Dataset> {
    let mut d = super::digits_dataset()?;
    d.standardize();
    Ok(d)
}

/// The filters of a plain MLP for [`filter_normalize`](crate::curvature::filter_normalize):
/// each row of each `Linear` weight, as `(offset, len)`.
pub fn weight_rows(model: &Mlp) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    for l in &model.layers {
        if let Layer::Linear { n_in, n_out } = l {
            for r in 0..*n_out {
                out.push((off + r * n_in, *n_in));
            }
        }
        off += l.n_params();
    }
    out
}

/// The result of [`minimize_gradient_norm`].
#[derive(Debug, Clone)]
pub struct GradNormRun {
    /// The final point.
    pub params: Vec<f64>,
    /// `‖∇L‖` there.
    pub gradient_norm: f64,
    /// Iterations used.
    pub iterations: usize,
}

/// Drives `params` towards a critical point of `obj` by minimizing `φ = ½‖∇L‖²`.
///
/// `∇φ = H·∇L`. Each iteration takes the Levenberg–Marquardt step of the residual `∇L` (whose
/// Jacobian is `H`): `d = −(H² + μ‖H‖²I)⁻¹ H ∇L`, which interpolates between Newton's step
/// (`μ → 0`) and a short step along `−∇φ` (large `μ`); `μ` shrinks after a step that lowers
/// `‖∇L‖` and grows until one does. Stops when `‖∇L‖ ≤ tol`, after `max_iters`, or when no
/// damping lowers `‖∇L‖`.
/// Newton-type steps can stall where `φ` is flat without `∇L = 0`; the caller must check
/// [`GradNormRun::gradient_norm`].
///
/// # Errors
/// Non-finite derivatives.
pub fn minimize_gradient_norm<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    start: &[f64],
    tol: f64,
    max_iters: usize,
) -> Result<GradNormRun> {
    let n = start.len();
    let mut p = start.to_vec();
    let mut g = vec![0.0; n];
    obj.gradient(&p, &mut g)?;
    let mut gn = norm(&g);
    let mut it = 0;
    let mut trial_g = vec![0.0; n];
    let mut mu = 1e-3;
    while gn > tol && it < max_iters {
        it += 1;
        let h = obj.hessian(&p)?;
        let eig = nalgebra::SymmetricEigen::new(h);
        let q = &eig.eigenvectors;
        let qg = q.transpose() * nalgebra::DVector::from_column_slice(&g);
        let scale = eig.eigenvalues.iter().fold(0.0f64, |m, l| m.max(l.abs()));
        let mut accepted = false;
        for _ in 0..30 {
            let damp = mu * scale * scale;
            let coef = nalgebra::DVector::from_iterator(
                n,
                eig.eigenvalues
                    .iter()
                    .zip(qg.iter())
                    .map(|(l, c)| -l * c / (l * l + damp)),
            );
            let d = q * coef;
            let trial: Vec<f64> = p.iter().zip(d.iter()).map(|(a, b)| a + b).collect();
            obj.gradient(&trial, &mut trial_g)?;
            let tn = norm(&trial_g);
            if tn.is_finite() && tn < gn {
                p = trial;
                g.copy_from_slice(&trial_g);
                gn = tn;
                mu = (mu / 4.0).max(1e-16);
                accepted = true;
                break;
            }
            mu *= 4.0;
        }
        if !accepted {
            break;
        }
    }
    Ok(GradNormRun {
        params: p,
        gradient_norm: gn,
        iterations: it,
    })
}

/// `L(θ) + ½·α‖θ‖²`: weight decay, which keeps the critical points of a tanh network at finite
/// parameters (without it the loss can keep falling along directions to infinity, where
/// `‖∇L‖ → 0` only asymptotically).
#[derive(Debug, Clone)]
pub struct Ridge<O> {
    /// The unregularized objective.
    pub inner: O,
    /// The weight-decay coefficient `α`.
    pub alpha: f64,
}

impl<O: crate::objective::Loss> crate::objective::Loss for Ridge<O> {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        Ok(self.inner.loss(params)? + 0.5 * self.alpha * params.iter().map(|p| p * p).sum::<f64>())
    }
}

impl<O: Gradient> Gradient for Ridge<O> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.inner.gradient(params, out)?;
        for (o, p) in out.iter_mut().zip(params) {
            *o += self.alpha * p;
        }
        Ok(())
    }
}

impl<O: Hessian> Hessian for Ridge<O> {
    fn hessian(&self, params: &[f64]) -> Result<nalgebra::DMatrix<f64>> {
        let mut h = self.inner.hessian(params)?;
        for i in 0..h.nrows() {
            h[(i, i)] += self.alpha;
        }
        Ok(h)
    }
}
