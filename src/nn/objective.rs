//! The training loss of an MLP over a data set as an objective over its flat parameter vector.
//!
//! [`NetLoss`] owns the MLP's op graph ([`super::lower`]) and its data, and every capability is
//! the graph's [`GraphLoss`]: [`Loss`], [`Gradient`] (backpropagation), [`Hvp`] (the exact
//! R-operator pass, many directions per pass, the primal passes of the last point cached),
//! [`Hessian`] (dense, from blocks of exact products in parallel). Batch norm runs in the mode
//! given at construction: evaluation (running statistics, samples independent) or training
//! (batch statistics of the whole data set).

use super::data::{Dataset, Targets};
use super::layers::{BnMode, LossKind};
use super::lower;
use super::model::Mlp;
use crate::error::{Error, Result};
use crate::graph::GraphLoss;
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;

/// The mean training loss of a fixed architecture on fixed data, as a function of the
/// parameters (state_dict order, row-major).
///
/// The architecture's own parameters are ignored: every call takes `params`. Batch-norm
/// running statistics are read (evaluation mode), never updated.
#[derive(Debug, Clone)]
pub struct NetLoss {
    loss: GraphLoss<'static>,
    mode: BnMode,
}

impl NetLoss {
    /// The loss of `model`'s architecture on `data`.
    ///
    /// # Errors
    /// Features that do not match the input width, labels out of range for the output width,
    /// target columns that do not match it, a loss that does not fit the targets, no samples,
    /// or training-mode batch norm with fewer than two samples.
    pub fn new(model: &Mlp, data: &Dataset, kind: LossKind, mode: BnMode) -> Result<NetLoss> {
        NetLoss::from_parts(model, data.x.clone(), data.targets.clone(), kind, mode)
    }

    /// As [`NetLoss::new`] from a feature matrix and targets.
    ///
    /// # Errors
    /// As [`NetLoss::new`].
    pub fn from_parts(
        model: &Mlp,
        x: DMatrix<f64>,
        targets: Targets,
        kind: LossKind,
        mode: BnMode,
    ) -> Result<NetLoss> {
        let targets = checked_targets(model, &x, targets, kind)?;
        if mode == BnMode::Train && model.has_batchnorm() && x.nrows() < 2 {
            return Err(Error::invalid(
                "batch",
                "batch norm in training mode needs at least 2 samples",
            ));
        }
        let graph = lower::mlp_graph(model, mode)?;
        let data = lower::graph_data(&x, &targets)?;
        Ok(NetLoss {
            loss: GraphLoss::owned(graph, data, kind)?,
            mode,
        })
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.loss.data().n_samples()
    }

    /// The loss kind.
    pub fn kind(&self) -> LossKind {
        self.loss.kind()
    }

    /// The batch-norm mode.
    pub fn mode(&self) -> BnMode {
        self.mode
    }

    /// The graph's loss this objective delegates to (the Gauss–Newton operators use it).
    pub fn graph_loss(&self) -> &GraphLoss<'static> {
        &self.loss
    }

    /// The fraction of samples whose largest logit is the label (classification only).
    ///
    /// # Errors
    /// A wrong parameter count.
    pub fn accuracy(&self, params: &[f64]) -> Result<Option<f64>> {
        self.loss.accuracy(params)
    }

    /// The loss and (classification only) the accuracy at `params` from one pass.
    ///
    /// # Errors
    /// As [`Loss::loss`].
    pub fn loss_and_accuracy(&self, params: &[f64]) -> Result<(f64, Option<f64>)> {
        self.loss.loss_and_accuracy(params)
    }

    /// `H·V` for the `k` columns of `v` (`n_params x k`) in one blocked R pass.
    ///
    /// # Errors
    /// A wrong point or block size; a non-finite loss.
    pub fn hvp_block(&self, params: &[f64], v: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        if v.nrows() != self.n_params() {
            return Err(Error::dim("directions", self.n_params(), v.nrows()));
        }
        let mut out = DMatrix::zeros(self.n_params(), v.ncols());
        self.hvp_many(params, v.as_slice(), v.ncols(), out.as_mut_slice())?;
        Ok(out)
    }

    /// Drops the passes cached for the last point of a Hessian-vector product, so the memory
    /// they held (activations of every sample) is returned.
    pub fn forget_point(&self) {
        self.loss.forget_point();
    }

    /// The loss of `model` on `data` as consecutive chunks of at most `batch_size` samples,
    /// for [`crate::curvature::Chunked`], which sums them to the whole batch's loss.
    ///
    /// # Errors
    /// A zero batch size; training-mode batch norm (its statistics couple all samples, so a
    /// chunk's loss is not a part of the whole batch's); otherwise as [`NetLoss::new`].
    pub fn chunks(
        model: &Mlp,
        data: &Dataset,
        kind: LossKind,
        mode: BnMode,
        batch_size: usize,
    ) -> Result<Vec<NetLoss>> {
        if batch_size == 0 {
            return Err(Error::invalid("batch size", "must be at least 1, got 0"));
        }
        if mode == BnMode::Train && model.has_batchnorm() {
            return Err(Error::Unsupported(
                "data in chunks with batch norm in train mode: the batch statistics couple every sample, so the loss does not split into chunks; use evaluation-mode batch norm or the whole batch".into(),
            ));
        }
        let n = data.n_samples();
        (0..n)
            .step_by(batch_size)
            .map(|start| {
                let idx: Vec<usize> = (start..(start + batch_size).min(n)).collect();
                let (x, t) = data.select(&idx);
                NetLoss::from_parts(model, x, t, kind, mode)
            })
            .collect()
    }
}

/// The targets of `x` for `model` under `kind`, checked against the model's widths: labels for
/// cross-entropy, values for MSE (labels become one-hot rows: MSELoss against one-hot labels is
/// the chapter's comparison with cross-entropy).
///
/// # Errors
/// As [`NetLoss::new`].
pub(crate) fn checked_targets(
    model: &Mlp,
    x: &DMatrix<f64>,
    targets: Targets,
    kind: LossKind,
) -> Result<Targets> {
    let n_out = model.n_outputs();
    if x.nrows() == 0 {
        return Err(Error::Data("the data set has no samples".into()));
    }
    if x.ncols() != model.n_inputs() {
        return Err(Error::Data(format!(
            "the data has {} feature columns but the model takes {} inputs",
            x.ncols(),
            model.n_inputs()
        )));
    }
    if targets.len() != x.nrows() {
        return Err(Error::dim("targets", x.nrows(), targets.len()));
    }
    let label_range = |l: &[usize]| match l.iter().enumerate().find(|(_, &y)| y >= n_out) {
        Some((s, &y)) => Err(Error::Data(format!(
            "sample {}: class label {y} is out of range for a model with {n_out} outputs",
            s + 1
        ))),
        None => Ok(()),
    };
    match (targets, kind) {
        (Targets::Labels(l), LossKind::CrossEntropy) => {
            label_range(&l)?;
            Ok(Targets::Labels(l))
        }
        (Targets::Values(v), LossKind::Mse) => {
            if v.ncols() != n_out {
                return Err(Error::Data(format!(
                    "the data has {} target columns but the model has {n_out} outputs",
                    v.ncols()
                )));
            }
            Ok(Targets::Values(v))
        }
        (Targets::Labels(l), LossKind::Mse) => {
            label_range(&l)?;
            let mut t = DMatrix::zeros(l.len(), n_out);
            for (s, &y) in l.iter().enumerate() {
                t[(s, y)] = 1.0;
            }
            Ok(Targets::Values(t))
        }
        (Targets::Values(_), LossKind::CrossEntropy) => Err(Error::Data(
            "cross-entropy needs class labels, the data has numeric targets".into(),
        )),
    }
}

impl Loss for NetLoss {
    fn n_params(&self) -> usize {
        self.loss.n_params()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        self.loss.loss(params)
    }
    fn param_names(&self) -> Vec<String> {
        self.loss.param_names()
    }
}

impl Gradient for NetLoss {
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss.gradient(params, out)
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        self.loss.loss_and_gradient(params, out)
    }
}

impl Hvp for NetLoss {
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss.hvp(params, v, out)
    }

    /// The graph's blocked R passes (see [`GraphLoss`]).
    fn hvp_many(&self, params: &[f64], vs: &[f64], k: usize, out: &mut [f64]) -> Result<()> {
        self.loss.hvp_many(params, vs, k, out)
    }
}

impl Hessian for NetLoss {
    /// The graph's dense Hessian: blocks of unit-direction R passes in parallel, symmetrized.
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        self.loss.hessian(params)
    }
}

impl crate::curvature::Chunk for NetLoss {
    fn n_samples(&self) -> usize {
        NetLoss::n_samples(self)
    }
    fn forget_point(&self) {
        NetLoss::forget_point(self)
    }
}
