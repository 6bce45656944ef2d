//! Newton's method on the gradient system `∇f = 0`, with a trust radius, backtracking on
//! `‖∇f‖` and a Levenberg–Marquardt fallback where the Hessian is singular: it converges to
//! critical points of every kind, and polishes the ends of the other solver.

use super::levenberg_marquardt::LmSteps;
use super::SearchBox;
use crate::error::{Error, Result};
use crate::objective::{norm, Gradient, Hessian};
use nalgebra::DVector;

/// Whether an error is a "not finite here" error (skip) rather than a real failure.
pub(super) fn is_non_finite(e: &Error) -> bool {
    matches!(e, Error::NonFinite(_))
}

/// The gradient at `x`, or `None` where it is not finite.
pub(super) fn grad_at<O: Gradient + ?Sized>(obj: &O, x: &[f64]) -> Result<Option<Vec<f64>>> {
    let mut g = vec![0.0; x.len()];
    match obj.gradient(x, &mut g) {
        Ok(()) if g.iter().all(|v| v.is_finite()) => Ok(Some(g)),
        Ok(()) => Ok(None),
        Err(e) if is_non_finite(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Collects iterates: every one, or only the last.
pub(super) struct Recorder<'a> {
    pub(super) path: &'a mut Vec<Vec<f64>>,
    pub(super) keep_all: bool,
}

impl Recorder<'_> {
    pub(super) fn push(&mut self, x: &[f64]) {
        if !self.keep_all {
            self.path.clear();
        }
        self.path.push(x.to_vec());
    }
}

/// Where a run ended.
pub(super) struct RunEnd {
    pub(super) point: Vec<f64>,
    pub(super) grad_norm: f64,
}

/// Newton on `∇f = 0` with a trust radius, backtracking on `‖∇f‖`, and a Levenberg–Marquardt
/// fallback where `H` is singular. Records the iterates after the start.
pub(super) fn newton_solve<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    x0: &[f64],
    bx: &SearchBox,
    max_iters: usize,
    rec: &mut Recorder<'_>,
) -> Result<RunEnd> {
    let scale = bx.diameter();
    let xtol = 1e-13 * scale;
    let mut x = x0.to_vec();
    let Some(mut g) = grad_at(obj, &x)? else {
        return Ok(RunEnd {
            point: x,
            grad_norm: f64::INFINITY,
        });
    };
    let mut r = norm(&g);
    let mut radius = 0.1 * scale;
    for _ in 0..max_iters {
        if r == 0.0 {
            break;
        }
        let h = match obj.hessian(&x) {
            Ok(h) if h.iter().all(|v| v.is_finite()) => h,
            Ok(_) => break,
            Err(e) if is_non_finite(&e) => break,
            Err(e) => return Err(e),
        };
        let gv = DVector::from_column_slice(&g);
        let newton = h
            .clone()
            .lu()
            .solve(&(-&gv))
            .filter(|s| s.iter().all(|v| v.is_finite()));
        // A Newton step below the resolution is the answer: take it and stop.
        if let Some(s) = &newton {
            if s.norm() <= xtol {
                let xt: Vec<f64> = x.iter().zip(s.iter()).map(|(a, b)| a + b).collect();
                if let Some(gt) = grad_at(obj, &xt)? {
                    let rt = norm(&gt);
                    if rt <= r {
                        x = xt;
                        r = rt;
                        rec.push(&x);
                    }
                }
                break;
            }
        }
        let mut moved = false;
        // Attempt 0 is Newton (when solvable); then Levenberg–Marquardt with growing damping,
        // its steps from one decomposition made on the first attempt that needs it.
        let mut lm: Option<LmSteps> = None;
        for attempt in 0..4 {
            let (s_full, is_newton) = match (&newton, attempt) {
                (Some(s), 0) => (s.clone(), true),
                (None, 0) => continue,
                _ => {
                    let steps = lm.get_or_insert_with(|| LmSteps::new(h.clone(), &g));
                    let mu0 = 1e-10 * steps.frobenius_norm_of_square().max(1e-300);
                    (steps.step(mu0 * 1e3f64.powi(attempt - 1)), false)
                }
            };
            let full_len = s_full.norm();
            if !full_len.is_finite() || full_len == 0.0 {
                continue;
            }
            let kappa = (radius / full_len).min(1.0);
            let s = &s_full * kappa;
            let mut t = 1.0;
            for _ in 0..20 {
                let xt: Vec<f64> = x.iter().zip(s.iter()).map(|(a, b)| a + t * b).collect();
                if let Some(gt) = grad_at(obj, &xt)? {
                    let rt = norm(&gt);
                    let target = if is_newton {
                        r * (1.0 - 1e-4 * t * kappa)
                    } else {
                        r
                    };
                    if rt < target {
                        let step_len = t * kappa * full_len;
                        if t == 1.0 && kappa < 1.0 {
                            radius = (2.0 * radius).min(scale);
                        } else if t < 1.0 {
                            radius = step_len.max(xtol);
                        }
                        x = xt;
                        g = gt;
                        r = rt;
                        rec.push(&x);
                        moved = true;
                        break;
                    }
                }
                t *= 0.5;
            }
            if moved {
                break;
            }
        }
        if !moved || !bx.contains(&x, 1.0) {
            break;
        }
    }
    Ok(RunEnd {
        point: x,
        grad_norm: r,
    })
}
