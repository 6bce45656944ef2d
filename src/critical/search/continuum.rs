//! The continuum test: whether a degenerate critical point is one sample of a curve or surface
//! of critical points rather than an isolated point.

use super::newton::{newton_solve, Recorder};
use super::{SearchBox, SearchOptions};
use crate::critical::classify::CriticalPoint;
use crate::error::Result;
use crate::objective::{norm, Gradient, Hessian};

/// Whether a degenerate critical point lies on a continuum of critical points: step along each
/// null eigenvector and polish; landing on another critical point away from `p` says yes.
pub(super) fn on_continuum<O: Gradient + Hessian + ?Sized>(
    obj: &O,
    p: &CriticalPoint,
    bx: &SearchBox,
    opts: &SearchOptions,
) -> Result<bool> {
    let zero = p.zero_threshold;
    let delta = 1e-3 * bx.diameter();
    for (k, &l) in p.spectrum.eigenvalues().iter().enumerate() {
        if l.abs() > zero {
            continue;
        }
        let u = p.spectrum.eigenvector(k);
        for sign in [1.0, -1.0] {
            let x1: Vec<f64> = p
                .point
                .iter()
                .zip(&u)
                .map(|(a, b)| a + sign * delta * b)
                .collect();
            let mut scratch = Vec::new();
            let mut rec = Recorder {
                path: &mut scratch,
                keep_all: false,
            };
            let end = newton_solve(obj, &x1, bx, opts.max_newton_iters, &mut rec)?;
            let dist: f64 = norm(
                &end.point
                    .iter()
                    .zip(&p.point)
                    .map(|(a, b)| a - b)
                    .collect::<Vec<_>>(),
            );
            if end.grad_norm <= opts.tol.grad && dist >= 0.5 * delta {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
