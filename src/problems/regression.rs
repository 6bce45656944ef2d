//! [`LinearRegression`]: a seeded linear regression, the workhorse of the batch-size and
//! normalization figures.
//!
//! The model is `ŷ = Σ_j w_j x_j (+ b)`, the loss the mean squared error
//! `L(θ) = (1/N) Σ_i (y_i − ŷ_i)²`, so the Hessian is the constant `(2/N) X̃ᵀX̃` (`X̃` = the inputs
//! with a column of ones when there is a bias). It implements [`Loss`], [`Gradient`], [`Hessian`]
//! (exact) and [`BatchLoss`] (mean over any subset of samples).

use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Loss};
use crate::optim::BatchLoss;
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};

/// Linear regression data: `n` samples of `d` features (row-major), targets, and whether the
/// model has a bias (the last parameter).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    /// Number of features `d`.
    pub d: usize,
    /// Inputs, `n × d` row-major.
    pub x: Vec<f64>,
    /// Targets, `n`.
    pub y: Vec<f64>,
    /// Whether the model has a bias `b` (parameter `d`).
    pub bias: bool,
}

impl LinearRegression {
    /// Data from rows.
    ///
    /// # Errors
    /// No samples, rows of different lengths, a target count that differs, or non-finite data.
    pub fn new(rows: &[Vec<f64>], y: &[f64], bias: bool) -> Result<Self> {
        let d = rows.first().map(Vec::len).unwrap_or(0);
        if rows.is_empty() || d == 0 {
            return Err(Error::invalid(
                "data",
                "needs at least one sample and one feature",
            ));
        }
        if y.len() != rows.len() {
            return Err(Error::dim("targets", rows.len(), y.len()));
        }
        let mut x = Vec::with_capacity(rows.len() * d);
        for r in rows {
            if r.len() != d {
                return Err(Error::dim("features per sample", d, r.len()));
            }
            x.extend_from_slice(r);
        }
        crate::error::ensure_finite("inputs", &x)?;
        crate::error::ensure_finite("targets", y)?;
        Ok(LinearRegression {
            d,
            x,
            y: y.to_vec(),
            bias,
        })
    }

    /// `n` samples of `y = Σ_j w_j x_j + noise`, feature `j` drawn from `N(0, scales_j²)` and the
    /// noise from `N(0, noise²)`, seeded; a model without bias.
    ///
    /// # Errors
    /// Mismatched lengths, `n = 0`, or a negative scale or noise.
    pub fn gaussian(
        n: usize,
        scales: &[f64],
        true_w: &[f64],
        noise: f64,
        seed: u64,
    ) -> Result<Self> {
        if true_w.len() != scales.len() {
            return Err(Error::dim("true weights", scales.len(), true_w.len()));
        }
        if !noise.is_finite() || noise < 0.0 || scales.iter().any(|s| !s.is_finite() || *s < 0.0) {
            return Err(Error::invalid("scales", "must be finite and not negative"));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let nz = Normal::new(0.0, 1.0).map_err(|e| Error::invalid("noise", e.to_string()))?;
        let mut rows = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let r: Vec<f64> = scales.iter().map(|s| s * nz.sample(&mut rng)).collect();
            let t =
                r.iter().zip(true_w).map(|(a, w)| a * w).sum::<f64>() + noise * nz.sample(&mut rng);
            rows.push(r);
            y.push(t);
        }
        LinearRegression::new(&rows, &y, false)
    }

    /// `n` samples with one feature uniform in `[lo, hi]`: `y = w x + b + noise`, a model with
    /// bias (parameters `(w, b)`).
    ///
    /// # Errors
    /// `n = 0` or an empty interval.
    pub fn uniform_1d(
        n: usize,
        lo: f64,
        hi: f64,
        w: f64,
        b: f64,
        noise: f64,
        seed: u64,
    ) -> Result<Self> {
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(Error::invalid("interval", format!("[{lo}, {hi}] is empty")));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let u = Uniform::new(lo, hi).map_err(|e| Error::invalid("interval", e.to_string()))?;
        let nz = Normal::new(0.0, 1.0).map_err(|e| Error::invalid("noise", e.to_string()))?;
        let mut rows = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let x = u.sample(&mut rng);
            rows.push(vec![x]);
            y.push(w * x + b + noise * nz.sample(&mut rng));
        }
        LinearRegression::new(&rows, &y, true)
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// The design matrix `X̃` (`n × n_params`, ones in the last column when there is a bias).
    pub fn design(&self) -> DMatrix<f64> {
        let p = Loss::n_params(self);
        DMatrix::from_fn(self.n(), p, |i, j| {
            if j < self.d {
                self.x[i * self.d + j]
            } else {
                1.0
            }
        })
    }

    /// The same data with every feature z-scored (mean 0, population standard deviation 1).
    ///
    /// # Errors
    /// A constant feature (zero standard deviation).
    pub fn z_scored(&self) -> Result<Self> {
        let n = self.n() as f64;
        let mut x = self.x.clone();
        for j in 0..self.d {
            let col: Vec<f64> = (0..self.n()).map(|i| self.x[i * self.d + j]).collect();
            let m = col.iter().sum::<f64>() / n;
            let s = (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
            if s.is_nan() || s <= 0.0 {
                return Err(Error::invalid(
                    "feature",
                    format!("{j} is constant; cannot z-score"),
                ));
            }
            for i in 0..self.n() {
                x[i * self.d + j] = (self.x[i * self.d + j] - m) / s;
            }
        }
        Ok(LinearRegression { x, ..self.clone() })
    }

    /// The least-squares optimum (normal equations).
    ///
    /// # Errors
    /// A singular `X̃ᵀX̃`.
    pub fn optimum(&self) -> Result<Vec<f64>> {
        let a = self.design();
        let ata = a.transpose() * &a;
        let aty = a.transpose() * nalgebra::DVector::from_column_slice(&self.y);
        ata.lu()
            .solve(&aty)
            .map(|v| v.as_slice().to_vec())
            .ok_or_else(|| Error::Unsupported("the normal equations are singular".into()))
    }

    fn residual(&self, p: &[f64], i: usize) -> f64 {
        let row = &self.x[i * self.d..(i + 1) * self.d];
        let mut pred: f64 = row.iter().zip(p).map(|(a, w)| a * w).sum();
        if self.bias {
            pred += p[self.d];
        }
        pred - self.y[i]
    }

    fn mean_on(&self, p: &[f64], idx: &mut dyn Iterator<Item = usize>, g: &mut [f64]) -> f64 {
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        let mut m = 0usize;
        for i in idx {
            let r = self.residual(p, i);
            loss += r * r;
            let row = &self.x[i * self.d..(i + 1) * self.d];
            for (gj, a) in g.iter_mut().zip(row) {
                *gj += 2.0 * r * a;
            }
            if self.bias {
                g[self.d] += 2.0 * r;
            }
            m += 1;
        }
        let m = m.max(1) as f64;
        g.iter_mut().for_each(|v| *v /= m);
        loss / m
    }
}

impl Loss for LinearRegression {
    fn n_params(&self) -> usize {
        self.d + usize::from(self.bias)
    }

    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let s: f64 = (0..self.n())
            .map(|i| self.residual(params, i).powi(2))
            .sum();
        Ok(s / self.n() as f64)
    }

    fn param_names(&self) -> Vec<String> {
        let mut v: Vec<String> = (1..=self.d).map(|j| format!("w{j}")).collect();
        if self.d == 1 {
            v[0] = "w".into();
        }
        if self.bias {
            v.push("b".into());
        }
        v
    }
}

impl Gradient for LinearRegression {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }

    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        check_params(self, params)?;
        if out.len() != params.len() {
            return Err(Error::dim("gradient", params.len(), out.len()));
        }
        Ok(self.mean_on(params, &mut (0..self.n()), out))
    }
}

impl Hessian for LinearRegression {
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        let a = self.design();
        Ok(a.transpose() * a * (2.0 / self.n() as f64))
    }
}

impl BatchLoss for LinearRegression {
    fn n_samples(&self) -> usize {
        self.n()
    }

    fn n_params(&self) -> usize {
        Loss::n_params(self)
    }

    fn loss_and_gradient_on(
        &self,
        params: &[f64],
        indices: &[usize],
        grad_out: &mut [f64],
    ) -> Result<f64> {
        check_params(self, params)?;
        if grad_out.len() != params.len() {
            return Err(Error::dim("gradient", params.len(), grad_out.len()));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n()) {
            return Err(Error::invalid(
                "sample index",
                format!("{bad} >= {}", self.n()),
            ));
        }
        Ok(self.mean_on(params, &mut indices.iter().copied(), grad_out))
    }
}
