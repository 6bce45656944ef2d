//! Gradient-norm minimization: argmin's L-BFGS on `½‖∇f‖²`, whose gradient is `H ∇f` (one
//! Hessian-vector product), with every iterate recorded, then a Newton polish.

use super::newton::{newton_solve, Recorder, RunEnd};
use super::{SearchBox, SearchOptions};
use crate::error::{Error, Result};
use crate::objective::{Gradient, Hessian, Hvp};
use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Executor, IterState, State, KV};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use nalgebra::DVector;
use std::sync::{Arc, Mutex};

/// `½‖∇f‖²` as an argmin problem; its gradient is `H ∇f`. The line search asks for the cost and
/// the gradient at the same point, so the last `∇f` is cached.
struct HalfGradNormSq<'a, O: ?Sized> {
    obj: &'a O,
    cache: std::cell::RefCell<Option<(DVector<f64>, Vec<f64>)>>,
}

impl<O: Gradient + ?Sized> HalfGradNormSq<'_, O> {
    fn grad(&self, p: &DVector<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        if let Some((q, g)) = self.cache.borrow().as_ref() {
            if q == p {
                return Ok(g.clone());
            }
        }
        let mut g = vec![0.0; p.len()];
        self.obj.gradient(p.as_slice(), &mut g)?;
        *self.cache.borrow_mut() = Some((p.clone(), g.clone()));
        Ok(g)
    }
}

impl<O: Gradient + Hvp + ?Sized> CostFunction for HalfGradNormSq<'_, O> {
    type Param = DVector<f64>;
    type Output = f64;
    fn cost(&self, p: &DVector<f64>) -> std::result::Result<f64, argmin::core::Error> {
        let g = self.grad(p)?;
        Ok(0.5 * g.iter().map(|v| v * v).sum::<f64>())
    }
}

impl<O: Gradient + Hvp + ?Sized> argmin::core::Gradient for HalfGradNormSq<'_, O> {
    type Param = DVector<f64>;
    type Gradient = DVector<f64>;
    fn gradient(&self, p: &DVector<f64>) -> std::result::Result<DVector<f64>, argmin::core::Error> {
        let g = self.grad(p)?;
        let mut hg = vec![0.0; p.len()];
        self.obj.hvp(p.as_slice(), &g, &mut hg)?;
        Ok(DVector::from_vec(hg))
    }
}

type LbfgsState = IterState<DVector<f64>, DVector<f64>, (), (), (), f64>;

/// An argmin observer that records every iterate (or only the latest).
struct PathObserver {
    path: Arc<Mutex<Vec<Vec<f64>>>>,
    keep_all: bool,
}

impl PathObserver {
    fn record(&self, state: &LbfgsState) {
        if let Some(p) = state.get_param() {
            if let Ok(mut path) = self.path.lock() {
                if !self.keep_all {
                    path.clear();
                }
                path.push(p.iter().copied().collect());
            }
        }
    }
}

impl Observe<LbfgsState> for PathObserver {
    fn observe_init(
        &mut self,
        _name: &str,
        state: &LbfgsState,
        _kv: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        self.record(state);
        Ok(())
    }
    fn observe_iter(
        &mut self,
        state: &LbfgsState,
        _kv: &KV,
    ) -> std::result::Result<(), argmin::core::Error> {
        self.record(state);
        Ok(())
    }
}

/// L-BFGS on `½‖∇f‖²` through argmin's executor, then a Newton polish.
pub(super) fn grad_norm_solve<O: Gradient + Hessian + Hvp + ?Sized>(
    obj: &O,
    x0: &[f64],
    bx: &SearchBox,
    opts: &SearchOptions,
    path: &mut Vec<Vec<f64>>,
) -> Result<RunEnd> {
    let shared = Arc::new(Mutex::new(Vec::new()));
    let observer = PathObserver {
        path: Arc::clone(&shared),
        keep_all: opts.record_paths,
    };
    let target = 0.5 * (1e-3 * opts.tol.grad).powi(2);
    let run = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(0.0)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| Error::Unsupported(format!("l-bfgs setup failed: {e}")))
        .map(|solver| {
            Executor::new(
                HalfGradNormSq {
                    obj,
                    cache: std::cell::RefCell::new(None),
                },
                solver,
            )
            .configure(|st| {
                st.param(DVector::from_column_slice(x0))
                    .max_iters(opts.max_lbfgs_iters)
                    .target_cost(target)
            })
            .timer(false)
            .add_observer(observer, ObserverMode::Always)
            .run()
        })?;
    let recorded = std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner()));
    // The lowest-cost parameter when the run finished; the last recorded iterate when argmin
    // stopped on an error (a line search into a non-finite region, a failed line search).
    let end: Vec<f64> = match &run {
        Ok(res) => res
            .state()
            .get_best_param()
            .map(|p| p.iter().copied().collect())
            .or_else(|| recorded.last().cloned())
            .unwrap_or_else(|| x0.to_vec()),
        Err(_) => recorded.last().cloned().unwrap_or_else(|| x0.to_vec()),
    };
    *path = recorded;
    if path.is_empty() || !opts.record_paths {
        path.clear();
        path.push(x0.to_vec());
    }
    if opts.record_paths && path.last().map(|p| p.as_slice()) != Some(end.as_slice()) {
        path.push(end.clone());
    }
    let mut rec = Recorder {
        path,
        keep_all: opts.record_paths,
    };
    newton_solve(obj, &end, bx, opts.max_newton_iters, &mut rec)
}
