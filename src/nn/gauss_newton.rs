//! The Gauss–Newton matrix and the empirical Fisher of an MLP's loss as matrix-free operators
//! ([`NetGaussNewton`]): those of the MLP's op graph ([`GraphGaussNewton`]), with exact,
//! blocked products.
//!
//! - GGN: `Jᵀ (∂²L/∂z²) J`; for cross-entropy, per sample `(diag p − p pᵀ) / N` between the
//!   Jacobians; for MSE `2 / (N·C)`.
//! - Empirical Fisher: `(1/N) Σ_n ∇ℓ_n ∇ℓ_nᵀ`, `ℓ_n` the sample's loss under the same
//!   reduction.
//!
//! Training-mode batch norm couples the samples: `J` is then the Jacobian of all `N` outputs,
//! the couplings included.

use super::objective::NetLoss;
use crate::curvature::{Chunk, Curvature};
use crate::error::{Error, Result};
use crate::graph::GraphGaussNewton;
use crate::objective::{Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;

/// The GGN or the empirical Fisher of a [`NetLoss`], as an operator: [`Hvp`] multiplies by the
/// chosen matrix, [`Hessian`] forms it densely (from blocked products), [`Loss`] and
/// [`Gradient`] are the loss's own.
#[derive(Debug)]
pub struct NetGaussNewton<'a> {
    inner: GraphGaussNewton<'a, 'static>,
}

impl<'a> NetGaussNewton<'a> {
    /// The `curvature` (GGN or empirical Fisher) of `loss`.
    ///
    /// # Errors
    /// [`Curvature::Hessian`]: the Hessian is [`NetLoss`]'s own product.
    pub fn new(loss: &'a NetLoss, curvature: Curvature) -> Result<Self> {
        if curvature == Curvature::Hessian {
            return Err(Error::invalid(
                "curvature",
                "the Hessian is the loss's own product; NetGaussNewton gives ggn or empirical-fisher",
            ));
        }
        Ok(NetGaussNewton {
            inner: GraphGaussNewton::new(loss.graph_loss(), curvature)?,
        })
    }

    /// Which matrix the products are with.
    pub fn curvature(&self) -> Curvature {
        self.inner.curvature()
    }
}

impl Loss for NetGaussNewton<'_> {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        self.inner.loss(params)
    }
    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }
}

impl Gradient for NetGaussNewton<'_> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.inner.gradient(params, out)
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.inner.loss_and_gradient(params, out)
    }
}

impl Hvp for NetGaussNewton<'_> {
    /// The product with the GGN or the empirical Fisher (the trait's name is the Hessian's,
    /// so every consumer of products takes this operator unchanged).
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.inner.hvp(params, v, out)
    }

    /// The graph's blocked products (see [`GraphGaussNewton`]).
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        self.inner.hvp_many(params, vs, k, out)
    }
}

impl Hessian for NetGaussNewton<'_> {
    /// The dense GGN or empirical Fisher from blocked products with the unit vectors.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        self.inner.hessian(params)
    }
}

impl Chunk for NetGaussNewton<'_> {
    fn n_samples(&self) -> usize {
        self.inner.n_samples()
    }
    fn forget_point(&self) {
        self.inner.forget_point();
    }
}

/// The `curvature` operator of an MLP's loss over `parts`: one part is the whole batch (its
/// products cache the passes at the point), several are chunks of the data summed by
/// [`crate::curvature::Chunked`].
///
/// # Errors
/// No parts.
pub fn net_operator(
    parts: &[NetLoss],
    curvature: Curvature,
) -> Result<Box<dyn crate::curvature::CurvatureOperator + '_>> {
    use crate::curvature::Chunked;
    Ok(match (parts, curvature) {
        ([], _) => return Err(Error::invalid("batch size", "no data")),
        ([one], Curvature::Hessian) => Box::new(one),
        ([one], c) => Box::new(NetGaussNewton::new(one, c)?),
        (many, Curvature::Hessian) => Box::new(Chunked::new(many.iter().collect())?),
        (many, c) => Box::new(Chunked::new(
            many.iter()
                .map(|l| NetGaussNewton::new(l, c))
                .collect::<Result<Vec<_>>>()?,
        )?),
    })
}
