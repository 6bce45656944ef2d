//! Central finite differences.
//!
//! # Step rule
//! For parameter `i` the step is `h_i = c · max(1, |θ_i|)`, with
//! - `c = ε^{1/3} ≈ 6.1e-6` ([`GRADIENT_STEP_FACTOR`]) for a first derivative (gradient from values,
//!   Hessian or HVP from gradients): truncation `O(h²)` balances rounding `O(ε/h)`;
//! - `c = ε^{1/4} ≈ 1.2e-4` ([`HESSIAN_STEP_FACTOR`]) for a second derivative from values:
//!   truncation `O(h²)` balances rounding `O(ε/h²)`.
//!
//! Steps are rounded so that `θ_i + h_i` is exactly representable (`h = (θ+h) − θ`), which removes
//! one source of rounding error. Costs: gradient `2n` values; Hessian from values
//! `2n + 4·n(n−1)/2 + 1` values; Hessian from gradients `2n` gradients; one HVP two gradients.
//! The Hessians returned are exactly symmetric.

use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// `ε^{1/3}`: the relative step for first derivatives.
pub const GRADIENT_STEP_FACTOR: f64 = 6.055454452393343e-6;
/// `ε^{1/4}`: the relative step for second derivatives from values.
pub const HESSIAN_STEP_FACTOR: f64 = 1.2207031250000000e-4;

fn step(x: f64, factor: f64) -> f64 {
    let h = factor * x.abs().max(1.0);
    // Make x + h exactly representable so the divisor is the true step.
    (x + h) - x
}

/// Finite differences from values only: gradient, Hessian and HVP of any [`Loss`].
#[derive(Debug, Clone, Copy)]
pub struct FiniteDiff<L> {
    inner: L,
    grad_factor: f64,
    hess_factor: f64,
}

impl<L: Loss> FiniteDiff<L> {
    /// Wraps `inner` with the default step rule.
    pub fn new(inner: L) -> Self {
        FiniteDiff {
            inner,
            grad_factor: GRADIENT_STEP_FACTOR,
            hess_factor: HESSIAN_STEP_FACTOR,
        }
    }

    /// Overrides the relative steps (for error-order studies).
    ///
    /// # Errors
    /// A step factor that is not positive and finite.
    pub fn with_steps(mut self, grad_factor: f64, hess_factor: f64) -> Result<Self> {
        for (name, v) in [
            ("gradient step", grad_factor),
            ("Hessian step", hess_factor),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(name, format!("must be positive, got {v}")));
            }
        }
        self.grad_factor = grad_factor;
        self.hess_factor = hess_factor;
        Ok(self)
    }

    /// The wrapped objective.
    pub fn inner(&self) -> &L {
        &self.inner
    }
}

impl<L: Loss> Loss for FiniteDiff<L> {
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

impl<L: Loss> Gradient for FiniteDiff<L> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        check_params(self, params)?;
        let mut x = params.to_vec();
        for i in 0..params.len() {
            let h = step(params[i], self.grad_factor);
            x[i] = params[i] + h;
            let fp = self.inner.loss(&x)?;
            x[i] = params[i] - h;
            let fm = self.inner.loss(&x)?;
            x[i] = params[i];
            out[i] = (fp - fm) / (2.0 * h);
        }
        Ok(())
    }
}

impl<L: Loss> Hessian for FiniteDiff<L> {
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        let n = params.len();
        let f0 = self.inner.loss(params)?;
        let h: Vec<f64> = params.iter().map(|&p| step(p, self.hess_factor)).collect();
        let mut m = DMatrix::zeros(n, n);
        let mut x = params.to_vec();
        for i in 0..n {
            x[i] = params[i] + h[i];
            let fp = self.inner.loss(&x)?;
            x[i] = params[i] - h[i];
            let fm = self.inner.loss(&x)?;
            x[i] = params[i];
            m[(i, i)] = (fp - 2.0 * f0 + fm) / (h[i] * h[i]);
            for j in 0..i {
                let mut corner = |si: f64, sj: f64| -> Result<f64> {
                    x[i] = params[i] + si * h[i];
                    x[j] = params[j] + sj * h[j];
                    let v = self.inner.loss(&x);
                    x[i] = params[i];
                    x[j] = params[j];
                    v
                };
                let v = (corner(1.0, 1.0)? - corner(1.0, -1.0)? - corner(-1.0, 1.0)?
                    + corner(-1.0, -1.0)?)
                    / (4.0 * h[i] * h[j]);
                m[(i, j)] = v;
                m[(j, i)] = v;
            }
        }
        Ok(m)
    }
}

impl<L: Loss> Hvp for FiniteDiff<L> {
    /// `H v` as the central difference of the finite-difference gradient along `v`
    /// (step `ε^{1/4}·max(1, ‖θ‖)/‖v‖`); noisy, for when nothing better exists.
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        fd_hvp(self, params, v, out, self.hess_factor)
    }
}

/// Finite differences of an exact gradient: Hessian and HVP of a [`Gradient`] objective.
#[derive(Debug, Clone, Copy)]
pub struct FiniteDiffGrad<G> {
    inner: G,
}

impl<G: Gradient> FiniteDiffGrad<G> {
    /// Wraps `inner`.
    pub fn new(inner: G) -> Self {
        FiniteDiffGrad { inner }
    }
}

impl<G: Gradient> Loss for FiniteDiffGrad<G> {
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

impl<G: Gradient> Gradient for FiniteDiffGrad<G> {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.inner.gradient(params, out)
    }
}

impl<G: Gradient> Hessian for FiniteDiffGrad<G> {
    /// Columns `(g(θ + h e_j) − g(θ − h e_j)) / 2h` computed in parallel, then symmetrized.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        let n = params.len();
        let cols: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map(|j| {
                let h = step(params[j], GRADIENT_STEP_FACTOR);
                let mut x = params.to_vec();
                let mut gp = vec![0.0; n];
                let mut gm = vec![0.0; n];
                x[j] = params[j] + h;
                self.inner.gradient(&x, &mut gp)?;
                x[j] = params[j] - h;
                self.inner.gradient(&x, &mut gm)?;
                Ok(gp
                    .iter()
                    .zip(&gm)
                    .map(|(a, b)| (a - b) / (2.0 * h))
                    .collect())
            })
            .collect::<Result<_>>()?;
        let mut m = DMatrix::from_fn(n, n, |i, j| cols[j][i]);
        symmetrize(&mut m);
        Ok(m)
    }
}

impl<G: Gradient> Hvp for FiniteDiffGrad<G> {
    /// `(g(θ + h v) − g(θ − h v)) / 2h` with `h = ε^{1/3}·max(1, ‖θ‖)/‖v‖`: two gradients.
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        fd_hvp(&self.inner, params, v, out, GRADIENT_STEP_FACTOR)
    }
}

fn fd_hvp<G: Gradient + ?Sized>(
    obj: &G,
    params: &[f64],
    v: &[f64],
    out: &mut [f64],
    factor: f64,
) -> Result<()> {
    check_params(obj, params)?;
    if v.len() != params.len() {
        return Err(Error::dim("direction", params.len(), v.len()));
    }
    let vn = crate::objective::norm(v);
    if vn == 0.0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return Ok(());
    }
    let h = factor * crate::objective::norm(params).max(1.0) / vn;
    let n = params.len();
    let xp: Vec<f64> = params.iter().zip(v).map(|(p, d)| p + h * d).collect();
    let xm: Vec<f64> = params.iter().zip(v).map(|(p, d)| p - h * d).collect();
    let mut gp = vec![0.0; n];
    let mut gm = vec![0.0; n];
    obj.gradient(&xp, &mut gp)?;
    obj.gradient(&xm, &mut gm)?;
    for i in 0..n {
        out[i] = (gp[i] - gm[i]) / (2.0 * h);
    }
    Ok(())
}

/// Replaces `m` by `(m + mᵀ)/2`.
pub(crate) fn symmetrize(m: &mut DMatrix<f64>) {
    let n = m.nrows();
    for i in 0..n {
        for j in 0..i {
            let a = 0.5 * (m[(i, j)] + m[(j, i)]);
            m[(i, j)] = a;
            m[(j, i)] = a;
        }
    }
}

/// The dense Hessian from `n` Hessian-vector products with the unit vectors, in parallel, then
/// symmetrized. For objectives with an exact HVP (networks) this is the exact Hessian.
pub fn hessian_from_hvp<H: Hvp + ?Sized>(obj: &H, params: &[f64]) -> Result<DMatrix<f64>> {
    check_params(obj, params)?;
    let n = params.len();
    let cols: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|j| {
            let mut e = vec![0.0; n];
            e[j] = 1.0;
            let mut col = vec![0.0; n];
            obj.hvp(params, &e, &mut col)?;
            Ok(col)
        })
        .collect::<Result<_>>()?;
    let mut m = DMatrix::from_fn(n, n, |i, j| cols[j][i]);
    symmetrize(&mut m);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Formula;

    #[test]
    fn central_differences_are_second_order() {
        // f = sin(x) e^y: halving the step cuts the error by ~4 (O(h²)) while truncation dominates.
        let f = Formula::parse("sin(x)*exp(y)").unwrap();
        let p = [0.7, 0.3];
        let mut exact = [0.0; 2];
        f.gradient(&p, &mut exact).unwrap();
        let err = |c: f64| {
            let fd = FiniteDiff::new(&f).with_steps(c, 1e-3).unwrap();
            let mut g = [0.0; 2];
            fd.gradient(&p, &mut g).unwrap();
            ((g[0] - exact[0]).powi(2) + (g[1] - exact[1]).powi(2)).sqrt()
        };
        let (e1, e2) = (err(1e-2), err(5e-3));
        let order = (e1 / e2).log2();
        assert!((order - 2.0).abs() < 0.1, "observed order {order}");
        // Hessian from values: O(h²) as well.
        let hexact = f.hessian(&p).unwrap();
        let herr = |c: f64| {
            let fd = FiniteDiff::new(&f).with_steps(1e-6, c).unwrap();
            (fd.hessian(&p).unwrap() - &hexact).norm()
        };
        let order = (herr(1e-2) / herr(5e-3)).log2();
        assert!((order - 2.0).abs() < 0.1, "observed Hessian order {order}");
    }

    #[test]
    fn hvp_from_gradient_matches_exact() {
        let f = Formula::parse("x^3*y + exp(x*y) - y^4").unwrap();
        let p = [0.4, -0.8];
        let v = [1.5, 0.25];
        let mut exact = [0.0; 2];
        f.hvp(&p, &v, &mut exact).unwrap();
        let mut fd = [0.0; 2];
        FiniteDiffGrad::new(&f).hvp(&p, &v, &mut fd).unwrap();
        for i in 0..2 {
            assert!((fd[i] - exact[i]).abs() < 1e-8 * (1.0 + exact[i].abs()));
        }
        let h = hessian_from_hvp(&f, &p).unwrap();
        assert!((h - f.hessian(&p).unwrap()).norm() < 1e-12);
    }
}
