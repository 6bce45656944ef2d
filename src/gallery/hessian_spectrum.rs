//! Figure 12: the full Hessian spectrum of a 64-16-10 tanh MLP trained on `data/digits.csv`
//! (standardized; Adam, mini-batches of 64): a bulk near zero and about C = 10 outliers
//! (Sagun et al.; Papyan). A hidden layer of 16 (1210 parameters) keeps the dense Hessian
//! within the figure's time budget.

use super::nn_common::digits;
use super::{num, write, FigureOutput, SIZE};
use crate::curvature::{symmetric_eigen, EigenBackend};
use crate::error::Result;
use crate::nn::{train, Activation, BnMode, LossKind, Mlp, NetLoss, TrainConfig};
use crate::objective::Hessian;
use crate::optim::{Adam, Rates};
use crate::plot::{SpectrumPlot, SpectrumScale};
use std::path::Path;

/// Widths of the network.
pub const SIZES: [usize; 3] = [64, 16, 10];
/// An eigenvalue is a clear outlier when it exceeds this multiple of the bulk's scale (the
/// median of `|λ|`).
pub const OUTLIER_FACTOR: f64 = 100.0;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// The trained model.
    pub model: Mlp,
    /// Training accuracy (evaluation mode).
    pub accuracy: f64,
    /// Training loss.
    pub loss: f64,
    /// All eigenvalues of the Hessian of the training loss, ascending.
    pub eigenvalues: Vec<f64>,
}

impl Data {
    /// The bulk's scale: the median of `|λ|`.
    pub fn bulk_scale(&self) -> f64 {
        let mut a: Vec<f64> = self.eigenvalues.iter().map(|l| l.abs()).collect();
        a.sort_by(f64::total_cmp);
        a.get(a.len() / 2).copied().unwrap_or(0.0)
    }
    /// Eigenvalues above `OUTLIER_FACTOR ×` [`Data::bulk_scale`].
    pub fn outliers(&self) -> usize {
        let t = OUTLIER_FACTOR * self.bulk_scale();
        self.eigenvalues.iter().filter(|&&l| l > t).count()
    }
}

/// Trains a `sizes` tanh MLP on digits with Adam (η = 0.01, batches of 64, `epochs`, seed 0).
///
/// # Errors
/// Data or training errors.
pub fn trained(sizes: &[usize], epochs: usize) -> Result<(Mlp, crate::nn::Dataset, f64, f64)> {
    let d = digits()?;
    let mut m = Mlp::new(sizes, Activation::Tanh, false, 0)?;
    let cfg = TrainConfig {
        batch_size: 64,
        epochs,
        ..TrainConfig::default()
    };
    let rep = train(
        &mut m,
        &d,
        LossKind::CrossEntropy,
        &mut Adam::new(),
        &Rates::constant(0.01)?,
        &cfg,
        &mut [],
    )?
    .check_diverged()?;
    Ok((m, d, rep.loss, rep.accuracy.unwrap_or(f64::NAN)))
}

/// Trains the model and computes its spectrum.
///
/// # Errors
/// Data, training or eigen errors.
pub fn compute_with(sizes: &[usize], epochs: usize) -> Result<Data> {
    let (model, d, loss, accuracy) = trained(sizes, epochs)?;
    let obj = NetLoss::new(&model, &d, LossKind::CrossEntropy, BnMode::Eval)?;
    let h = obj.hessian(&model.params)?;
    let eigenvalues = symmetric_eigen(&h, EigenBackend::Faer)?.into_parts().0;
    Ok(Data {
        model,
        accuracy,
        loss,
        eigenvalues,
    })
}

/// The figure's data with [`SIZES`] and 20 epochs.
///
/// # Errors
/// As [`compute_with`].
pub fn compute() -> Result<Data> {
    compute_with(&SIZES, 20)
}

/// The symlog histogram.
pub fn plot(d: &Data) -> SpectrumPlot {
    SpectrumPlot::new(&d.eigenvalues)
        .with_scale(SpectrumScale::SymLog {
            linthresh: d.bulk_scale().max(1e-12),
        })
        .with_bins(60)
        .with_log_counts(true)
        .with_title(format!(
            "Hessian of a trained 64-16-10 tanh MLP on digits ({} parameters): bulk + {} outliers",
            d.eigenvalues.len(),
            d.outliers()
        ))
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// As [`compute`], plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d), path, SIZE)?;
    let (lo, hi) = (
        d.eigenvalues.first().copied().unwrap_or(f64::NAN),
        d.eigenvalues.last().copied().unwrap_or(f64::NAN),
    );
    Ok(FigureOutput {
        caption: format!(
            "The dense Hessian of a 64-16-10 tanh MLP trained on digits (accuracy {:.3}, loss \
             {:.4}): λ from {lo:.3e} to {hi:.3e}; the bulk sits near zero (median |λ| = {:.2e}) and \
             {} eigenvalues exceed {OUTLIER_FACTOR} × that scale (the outliers; C = 10 classes)",
            d.accuracy,
            d.loss,
            d.bulk_scale(),
            d.outliers()
        ),
        numbers: vec![
            num("lambda_min", lo),
            num("lambda_max", hi),
            num("outliers", d.outliers() as f64),
            num("bulk_scale", d.bulk_scale()),
            num("accuracy", d.accuracy),
        ],
    })
}
