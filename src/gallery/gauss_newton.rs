//! Figure 15: the Hessian and the Gauss–Newton spectra of the trained digits MLP of figure 12,
//! side by side. The Hessian is the GGN plus the network-curvature term `Σ ∂L/∂z · ∇²z`; near a
//! minimum that term is small, so the outliers (about C = 10) agree, while only the Hessian has
//! negative eigenvalues: the GGN is positive semi-definite by construction.

use super::hessian_spectrum::{trained, SIZES};
use super::{num, write, FigureOutput, WIDE_SIZE};
use crate::curvature::{symmetric_eigenvalues, Curvature, EigenBackend};
use crate::error::Result;
use crate::nn::{BnMode, LossKind, NetGaussNewton, NetLoss};
use crate::objective::Hessian;
use crate::plot::{Panels, SpectrumPlot, SpectrumScale};
use std::path::Path;

/// The outliers compared: the largest this many eigenvalues of each matrix.
pub const TOP: usize = 10;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// Training accuracy.
    pub accuracy: f64,
    /// Training loss.
    pub loss: f64,
    /// Every Hessian eigenvalue, ascending.
    pub hessian: Vec<f64>,
    /// Every GGN eigenvalue, ascending.
    pub ggn: Vec<f64>,
}

impl Data {
    /// The zero threshold of a spectrum: `1e-8 · max|λ|` (the classifier's default).
    fn threshold(ev: &[f64]) -> f64 {
        1e-8 * ev.iter().fold(0.0f64, |m, l| m.max(l.abs()))
    }
    /// Hessian eigenvalues below minus the zero threshold.
    pub fn hessian_negatives(&self) -> usize {
        let t = Self::threshold(&self.hessian);
        self.hessian.iter().filter(|&&l| l < -t).count()
    }
    /// GGN eigenvalues below minus the zero threshold (none but rounding).
    pub fn ggn_negatives(&self) -> usize {
        let t = Self::threshold(&self.ggn);
        self.ggn.iter().filter(|&&l| l < -t).count()
    }
    /// The largest relative gap between the [`TOP`] largest eigenvalues of the two matrices,
    /// paired in order.
    pub fn outlier_gap(&self) -> f64 {
        self.hessian
            .iter()
            .rev()
            .zip(self.ggn.iter().rev())
            .take(TOP)
            .map(|(h, g)| (h - g).abs() / h.abs().max(f64::MIN_POSITIVE))
            .fold(0.0, f64::max)
    }
    /// The bulk's scale: the median `|λ|` of the Hessian.
    pub fn bulk_scale(&self) -> f64 {
        let mut a: Vec<f64> = self.hessian.iter().map(|l| l.abs()).collect();
        a.sort_by(f64::total_cmp);
        a.get(a.len() / 2).copied().unwrap_or(0.0)
    }
}

/// Trains figure 12's model (the same seed and epochs, so the same weights) and computes both
/// dense spectra.
///
/// # Errors
/// Data, training or eigen errors.
pub fn compute() -> Result<Data> {
    let (model, d, loss, accuracy) = trained(&SIZES, 20)?;
    let obj = NetLoss::new(&model, &d, LossKind::CrossEntropy, BnMode::Eval)?;
    let hessian = symmetric_eigenvalues(&obj.hessian(&model.params)?, EigenBackend::Faer)?;
    let ggn_op = NetGaussNewton::new(&obj, Curvature::GaussNewton)?;
    let ggn = symmetric_eigenvalues(&ggn_op.hessian(&model.params)?, EigenBackend::Faer)?;
    Ok(Data {
        accuracy,
        loss,
        hessian,
        ggn,
    })
}

/// Two symlog histograms with the Hessian's bulk scale, eigenvalues within the zero threshold
/// drawn at zero.
///
/// # Errors
/// None in practice (two panels).
pub fn plot(d: &Data) -> Result<Panels<SpectrumPlot>> {
    let scale = SpectrumScale::SymLog {
        linthresh: d.bulk_scale().max(1e-12),
    };
    // Eigenvalues inside the zero threshold are drawn at zero, so the colours count what the
    // titles count (the GGN's rounding-level negatives are not negative curvature).
    let panel = |ev: &[f64], title: String| {
        let t = Data::threshold(ev);
        let shown: Vec<f64> = ev
            .iter()
            .map(|&l| if l.abs() <= t { 0.0 } else { l })
            .collect();
        SpectrumPlot::new(&shown)
            .with_scale(scale)
            .with_bins(60)
            .with_log_counts(true)
            .with_title(title)
    };
    Ok(Panels::new(vec![
        panel(
            &d.hessian,
            format!("Hessian: {} negative eigenvalues", d.hessian_negatives()),
        ),
        panel(
            &d.ggn,
            format!("Gauss–Newton: {} negative (PSD)", d.ggn_negatives()),
        ),
    ])?
    .with_title(format!(
        "Hessian vs Gauss–Newton of a trained 64-16-10 tanh MLP on digits ({} parameters)",
        d.hessian.len()
    )))
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// As [`compute`], plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let d = compute()?;
    write(&plot(&d)?, path, WIDE_SIZE)?;
    let first = |v: &[f64]| v.first().copied().unwrap_or(f64::NAN);
    let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
    Ok(FigureOutput {
        caption: format!(
            "The Hessian and the Gauss–Newton matrix of figure 12's digits MLP (accuracy {:.3}, \
             loss {:.4}): λmax {:.4e} vs {:.4e}, the {TOP} largest within {:.2e} relative of each \
             other (the outliers are the GGN's); the Hessian has {} negative eigenvalues down to \
             {:.3e}, the GGN {} (its smallest {:.1e}, rounding): the negative part is the \
             network-curvature term only the Hessian has",
            d.accuracy,
            d.loss,
            last(&d.hessian),
            last(&d.ggn),
            d.outlier_gap(),
            d.hessian_negatives(),
            first(&d.hessian),
            d.ggn_negatives(),
            first(&d.ggn),
        ),
        numbers: vec![
            num("hessian_lambda_max", last(&d.hessian)),
            num("ggn_lambda_max", last(&d.ggn)),
            num("hessian_lambda_min", first(&d.hessian)),
            num("ggn_lambda_min", first(&d.ggn)),
            num("hessian_negatives", d.hessian_negatives() as f64),
            num("ggn_negatives", d.ggn_negatives() as f64),
            num("outlier_gap", d.outlier_gap()),
            num("accuracy", d.accuracy),
        ],
    })
}
