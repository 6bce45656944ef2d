//! What a loss is: a scalar function of a flat parameter vector, and its optional derivatives.
//!
//! One trait per capability, as argmin splits `CostFunction`, `Gradient` and `Hessian`:
//! [`Loss`] (the value, always), [`Gradient`], [`Hessian`] and [`Hvp`] (Hessian-vector product).
//! An objective implements the capabilities it can give *exactly*; adapters in
//! [`crate::derivatives`] estimate the rest ([`crate::derivatives::FiniteDiff`] turns any
//! [`Loss`] into all four). Formulas ([`crate::expr::Formula`]), test surfaces and network losses
//! are all objectives, so every later stage (classifier, search, optimizers, plots) works on any of
//! them. Parameters are always `&[f64]` slices of length [`Loss::n_params`].

use crate::error::{Error, Result};
use nalgebra::DMatrix;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scalar loss over a flat parameter vector.
pub trait Loss: Sync {
    /// Number of parameters `n`; every `params` slice has this length.
    fn n_params(&self) -> usize;

    /// The loss at `params`.
    ///
    /// # Errors
    /// A wrong length, or a value that is not finite (a domain error such as `ln(-1)`).
    fn loss(&self, params: &[f64]) -> Result<f64>;

    /// Names of the parameters, for reports (`x`, `y`, `0.weight[3]`...). Defaults to `p1..pn`.
    fn param_names(&self) -> Vec<String> {
        (1..=self.n_params()).map(|i| format!("p{i}")).collect()
    }
}

/// An exact (or estimated) gradient.
pub trait Gradient: Loss {
    /// Writes the gradient at `params` into `out` (length `n`).
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()>;

    /// The loss and the gradient together (often cheaper than apart).
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.gradient(params, out)?;
        self.loss(params)
    }
}

/// A dense Hessian.
pub trait Hessian: Loss {
    /// The `n x n` Hessian at `params`, symmetric.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>>;
}

/// A Hessian-vector product `H(params) · v`: what matrix-free methods (Lanczos, gradient-norm
/// minimization) need.
pub trait Hvp: Loss {
    /// Writes `H(params) · v` into `out`.
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()>;

    /// Writes `H(params) · V` into `out` for the `k` directions stored column-major in `vs`
    /// (`n_params x k`), as `k` products.
    ///
    /// The default calls [`Hvp::hvp`] once per column. Objectives that can share work across
    /// directions override it: a network runs one blocked R pass (one GEMM for many directions)
    /// instead of `k` thin ones. Trace and density estimators call this with their probes.
    ///
    /// # Errors
    /// `vs` or `out` not `n_params·k` long, or the objective's error.
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        let n = self.n_params();
        if vs.len() != n * k || out.len() != n * k {
            return Err(Error::dim("directions", n * k, vs.len().min(out.len())));
        }
        if n == 0 {
            return Ok(());
        }
        for (v, o) in vs.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
            self.hvp(params, v, o)?;
        }
        Ok(())
    }
}

/// Checks a parameter vector's length and finiteness against an objective.
pub fn check_params<L: Loss + ?Sized>(obj: &L, params: &[f64]) -> Result<()> {
    if params.len() != obj.n_params() {
        return Err(Error::dim("point", obj.n_params(), params.len()));
    }
    crate::error::ensure_finite("point", params)
}

/// The gradient as a fresh vector.
pub fn gradient_vec<G: Gradient + ?Sized>(obj: &G, params: &[f64]) -> Result<Vec<f64>> {
    let mut g = vec![0.0; obj.n_params()];
    obj.gradient(params, &mut g)?;
    Ok(g)
}

/// Euclidean norm of a slice, without overflow or underflow for finite entries: the plain sum
/// of squares when it is a normal number, else the same sum scaled by the largest magnitude (so
/// a gradient of 1e200s has a finite norm, and a non-finite entry gives a non-finite norm).
pub fn norm(v: &[f64]) -> f64 {
    let plain = v.iter().map(|x| x * x).sum::<f64>();
    if plain.is_normal() || plain == 0.0 && v.iter().all(|&x| x == 0.0) {
        return plain.sqrt();
    }
    let scale = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return scale;
    }
    scale * v.iter().map(|x| (x / scale).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod norm_tests {
    use super::norm;

    #[test]
    fn norm_neither_overflows_nor_underflows() {
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        assert_eq!(norm(&[]), 0.0);
        assert!((norm(&[3e200, 4e200]) / 5e200 - 1.0).abs() < 1e-15);
        assert!((norm(&[3e-200, 4e-200]) / 5e-200 - 1.0).abs() < 1e-15);
        assert!(norm(&[1.0, f64::NAN]).is_nan());
        assert_eq!(norm(&[1.0, f64::INFINITY]), f64::INFINITY);
    }
}

/// Counts the evaluations made through it, as argmin's `Problem` does: every report can say what
/// a result cost.
pub struct Counted<O> {
    inner: O,
    losses: AtomicUsize,
    gradients: AtomicUsize,
    hessians: AtomicUsize,
    hvps: AtomicUsize,
}

/// Evaluation counts of a [`Counted`] objective.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EvalCounts {
    /// Loss evaluations.
    pub losses: usize,
    /// Gradient evaluations.
    pub gradients: usize,
    /// Dense Hessians.
    pub hessians: usize,
    /// Hessian-vector products.
    pub hvps: usize,
}

impl<O> Counted<O> {
    /// Wraps `inner` with all counts at zero.
    pub fn new(inner: O) -> Self {
        Counted {
            inner,
            losses: AtomicUsize::new(0),
            gradients: AtomicUsize::new(0),
            hessians: AtomicUsize::new(0),
            hvps: AtomicUsize::new(0),
        }
    }
    /// The counts so far.
    pub fn counts(&self) -> EvalCounts {
        EvalCounts {
            losses: self.losses.load(Ordering::Relaxed),
            gradients: self.gradients.load(Ordering::Relaxed),
            hessians: self.hessians.load(Ordering::Relaxed),
            hvps: self.hvps.load(Ordering::Relaxed),
        }
    }
    /// The wrapped objective.
    pub fn inner(&self) -> &O {
        &self.inner
    }
}

impl<O: Loss> Loss for Counted<O> {
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        self.losses.fetch_add(1, Ordering::Relaxed);
        self.inner.loss(params)
    }
    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }
}
impl<O: Gradient> Gradient for Counted<O> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.gradients.fetch_add(1, Ordering::Relaxed);
        self.inner.gradient(params, out)
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.gradients.fetch_add(1, Ordering::Relaxed);
        self.losses.fetch_add(1, Ordering::Relaxed);
        self.inner.loss_and_gradient(params, out)
    }
}
impl<O: crate::optim::BatchLoss> crate::optim::BatchLoss for Counted<O> {
    fn n_samples(&self) -> usize {
        self.inner.n_samples()
    }
    fn n_params(&self) -> usize {
        self.inner.n_params()
    }
    fn loss_and_gradient_on(&self, p: &[f64], idx: &[usize], g: &mut [f64]) -> Result<f64> {
        self.gradients.fetch_add(1, Ordering::Relaxed);
        self.losses.fetch_add(1, Ordering::Relaxed);
        self.inner.loss_and_gradient_on(p, idx, g)
    }
}
impl<O: Hessian> Hessian for Counted<O> {
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        self.hessians.fetch_add(1, Ordering::Relaxed);
        self.inner.hessian(params)
    }
}
impl<O: Hvp> Hvp for Counted<O> {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.hvps.fetch_add(1, Ordering::Relaxed);
        self.inner.hvp(params, v, out)
    }
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        self.hvps.fetch_add(k, Ordering::Relaxed);
        self.inner.hvp_many(params, vs, k, out)
    }
}

macro_rules! forward_ref {
    ($($t:ident),*) => {$(
        impl<O: $t + ?Sized> $t for &O {
            forward_ref!(@body $t);
        }
    )*};
    (@body Loss) => {
        fn n_params(&self) -> usize { (**self).n_params() }
        fn loss(&self, params: &[f64]) -> Result<f64> { (**self).loss(params) }
        fn param_names(&self) -> Vec<String> { (**self).param_names() }
    };
    (@body Gradient) => {
        fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> { (**self).gradient(params, out) }
        fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> { (**self).loss_and_gradient(params, out) }
    };
    (@body Hessian) => {
        fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> { (**self).hessian(params) }
    };
    (@body Hvp) => {
        fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> { (**self).hvp(params, v, out) }
        fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> { (**self).hvp_many(params, vs, k, out) }
    };
}
forward_ref!(Loss, Gradient, Hessian, Hvp);
