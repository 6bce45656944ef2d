//! Mini-batch training of an [`Mlp`] with any [`Optimizer`] and learning-rate schedule: the
//! [`Executor`] over a [`TrainSource`].
//!
//! Each epoch cuts the samples into batches (reshuffled, seeded, as `DataLoader(shuffle=True)`,
//! or in file order); each batch is one optimizer step on the batch's mean loss with batch norm
//! in training mode (batch statistics, running statistics updated as PyTorch does). After each
//! epoch the loss and accuracy over the whole set are measured in evaluation mode.

use super::data::Dataset;
use super::layers::{BnMode, LossKind};
use super::lower::{self, Lowered};
use super::model::Mlp;
use super::objective::{checked_targets, NetLoss};
use crate::error::{Error, Result};
use crate::graph::{batch_loss_and_gradient, Graph, GraphData, GraphLoss};
use crate::objective::EvalCounts;
use crate::optim::{
    Batching, Chain, Divergence, EpochState, Evaluation, Executor, GradientSource, Observer,
    ObserverAction, Optimizer, Plateau, Rates, State, StopReason,
};
use rand::SeedableRng;

/// Mixed into the shuffling seed, so that shuffling and initialization with the same seed
/// draw different streams.
const SHUFFLE_MIX: u64 = 0x5eed_ba7c_4e55_0001;

/// Settings of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Samples per step.
    pub batch_size: usize,
    /// Passes over the data (0 leaves the model as it is).
    pub epochs: usize,
    /// Seed of the batch shuffling.
    pub seed: u64,
    /// Whether batches are reshuffled every epoch (`false`: file order, every epoch).
    pub shuffle: bool,
    /// Whether epoch `e` shuffles with seed `seed + e` afresh, as `epochs` one-epoch runs in a
    /// row would (instead of one generator continued across epochs).
    pub reseed_each_epoch: bool,
    /// `torch.nn.utils.clip_grad_norm_` on every gradient, with this maximum norm.
    pub clip_grad_norm: Option<f64>,
    /// `ReduceLROnPlateau` on the epoch's mean training loss.
    pub plateau: Option<Plateau>,
}

impl Default for TrainConfig {
    /// Batches of 32, one epoch, seed 0, shuffled, no clipping, no plateau rule.
    fn default() -> Self {
        TrainConfig {
            batch_size: 32,
            epochs: 1,
            seed: 0,
            shuffle: true,
            reseed_each_epoch: false,
            clip_grad_norm: None,
            plateau: None,
        }
    }
}

/// One epoch's measurements (whole set, evaluation mode, after the epoch).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss over the set.
    pub loss: f64,
    /// Accuracy (classification only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// The mean over samples of the epoch's batch losses (training mode).
    pub train_loss: f64,
}

/// The result of [`train()`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrainReport {
    /// Final loss over the set (evaluation mode).
    pub loss: f64,
    /// Final accuracy (classification only).
    pub accuracy: Option<f64>,
    /// Per-epoch records.
    pub epochs: Vec<EpochRecord>,
    /// Optimizer steps taken.
    pub steps: usize,
    /// The loss of each step's batch, at the parameters before the step.
    pub batch_losses: Vec<f64>,
    /// The learning rate of each step.
    pub learning_rates: Vec<f64>,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Where the run diverged, if it did.
    pub divergence: Option<Divergence>,
    /// Batch and whole-set evaluations made.
    pub counts: EvalCounts,
}

impl TrainReport {
    /// The report, or its divergence as an error.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the step and the value, when the run diverged.
    pub fn check_diverged(self) -> Result<Self> {
        match self.divergence {
            Some(d) => Err(d.to_error()),
            None => Ok(self),
        }
    }
}

/// Loss and accuracy of `model` on the whole of `data` in evaluation mode.
///
/// # Errors
/// As [`NetLoss::new`].
pub fn evaluate(model: &Mlp, data: &Dataset, kind: LossKind) -> Result<(f64, Option<f64>)> {
    let obj = NetLoss::new(model, data, kind, BnMode::Eval)?;
    let (loss, acc) = obj.loss_and_accuracy(&model.params)?;
    Ok((loss, acc.filter(|_| kind.is_classification())))
}

/// A network's training loss as a gradient source: batches in training mode, each folding its
/// batch-norm statistics into the model's running statistics, as a PyTorch forward pass in
/// `train()` mode does; whole-set evaluations in evaluation mode. The batches' gradients are
/// those of the model's op graph with training-mode batch norm.
pub struct TrainSource<'d> {
    model: Mlp,
    /// The graph of the model in training mode (it reads no running statistics, so it stays
    /// the model's while they change).
    train_graph: Lowered,
    data: &'d Dataset,
    kind: LossKind,
    counts: EvalCounts,
}

impl<'d> TrainSource<'d> {
    /// The source for `model` (its layers and running statistics; parameters come from the
    /// executor) on `data`.
    ///
    /// # Errors
    /// Data that does not fit the model.
    pub fn new(model: &Mlp, data: &'d Dataset, kind: LossKind) -> Result<Self> {
        NetLoss::new(model, data, kind, BnMode::Eval)?;
        Ok(TrainSource {
            model: model.clone(),
            train_graph: lower::lower(model, BnMode::Train)?,
            data,
            kind,
            counts: EvalCounts::default(),
        })
    }

    /// The network with parameters `params` and the running statistics so far.
    pub fn model_at(&self, params: &[f64]) -> Mlp {
        let mut m = self.model.clone();
        m.params.copy_from_slice(params);
        m
    }

    /// The network's layers and running statistics (its parameters are the start's).
    pub fn model(&self) -> &Mlp {
        &self.model
    }

    /// The data set.
    pub fn data(&self) -> &Dataset {
        self.data
    }
}

impl GradientSource for TrainSource<'_> {
    fn n_params(&self) -> usize {
        self.model.n_params()
    }
    fn n_samples(&self) -> usize {
        self.data.n_samples()
    }
    fn loss_and_gradient_on(
        &mut self,
        params: &[f64],
        batch: &[usize],
        grad: &mut [f64],
    ) -> Result<f64> {
        let n = self.model.n_params();
        if grad.len() != n {
            return Err(Error::dim("gradient buffer", n, grad.len()));
        }
        if self.model.has_batchnorm() && batch.len() < 2 {
            return Err(Error::invalid(
                "batch",
                "batch norm in training mode needs at least 2 samples",
            ));
        }
        let (xb, tb) = self.data.select(batch);
        let tb = checked_targets(&self.model, &xb, tb, self.kind)?;
        let graph = &self.train_graph.graph;
        self.counts.losses += 1;
        self.counts.gradients += 1;
        let data = lower::graph_data(&xb, &tb)?;
        let (loss, fw) = batch_loss_and_gradient(graph, &data, params, grad)?;
        if !loss.is_finite() {
            return Err(Error::NonFinite(format!("the loss is not finite: {loss}")));
        }
        let stats = self.train_graph.batch_stats_of(&fw);
        fw.recycle();
        self.model.track_batch_stats(&stats, batch.len());
        Ok(loss)
    }
    fn accepts(&self, len: usize) -> bool {
        len > 1 || (len == 1 && !self.model.has_batchnorm())
    }
    fn evaluate(&mut self, params: &[f64]) -> Result<Evaluation> {
        self.model.params.copy_from_slice(params);
        self.counts.losses += 1;
        let (loss, accuracy) = evaluate(&self.model, self.data, self.kind)?;
        Ok(Evaluation { loss, accuracy })
    }
    fn counts(&self) -> EvalCounts {
        self.counts
    }
}

/// Builds the [`EpochRecord`]s.
struct EpochRecorder {
    records: Vec<(EpochRecord, usize)>,
}

impl<S: ?Sized> Observer<S> for EpochRecorder {
    fn observe(&mut self, _: &State<'_, S>) -> Result<ObserverAction> {
        Ok(ObserverAction::Continue)
    }
    fn observe_epoch(&mut self, e: &EpochState<'_, S>) -> Result<ObserverAction> {
        let ev = e.evaluation.unwrap_or(Evaluation {
            loss: f64::NAN,
            accuracy: None,
        });
        let rec = EpochRecord {
            epoch: e.epoch,
            loss: ev.loss,
            accuracy: ev.accuracy,
            learning_rate: e.lr,
            train_loss: e.mean_loss,
        };
        self.records.push((rec, e.update));
        Ok(ObserverAction::Continue)
    }
}

/// Trains `model` in place on `data` with the rates `rates` of each step (counted from 0 over
/// the whole run, as a per-step `lr_scheduler`); `observers` see every step and every epoch
/// (progress bars, checkpoints, stopping rules; [`TrainSource::model_at`] gives the network).
///
/// A diverging run is reported ([`TrainReport::divergence`]), not an error: the model is left
/// at the last parameters.
///
/// # Errors
/// A zero batch size; data that does not fit the model; batch norm with batches of one; the
/// optimizer's and the observers' errors.
pub fn train<'d>(
    model: &mut Mlp,
    data: &'d Dataset,
    kind: LossKind,
    optimizer: &mut dyn Optimizer,
    rates: &Rates,
    cfg: &TrainConfig,
    observers: &mut [&mut dyn Observer<TrainSource<'d>>],
) -> Result<TrainReport> {
    if cfg.batch_size == 0 {
        return Err(Error::invalid("batch size", "must be at least 1, got 0"));
    }
    crate::limits::check_epochs(cfg.epochs)?;
    let mut source = TrainSource::new(model, data, kind)?;
    if model.has_batchnorm() && cfg.batch_size < 2 {
        return Err(Error::invalid(
            "batch size",
            "batch norm in training mode needs at least 2 samples per batch",
        ));
    }
    let (run, records) = execute(&mut source, &model.params, optimizer, rates, cfg, observers)?;
    model.layers = source.model.layers.clone();
    model.params.clone_from(&run.params);
    let counts = source.counts;
    report(run, records, counts, || evaluate(model, data, kind))
}

/// The executor over `source` from `start`, with `cfg`'s batching, clipping and plateau, and an
/// evaluation after every epoch; returns the run and the epochs' records.
fn execute<S: GradientSource>(
    source: &mut S,
    start: &[f64],
    optimizer: &mut dyn Optimizer,
    rates: &Rates,
    cfg: &TrainConfig,
    observers: &mut [&mut dyn Observer<S>],
) -> Result<(crate::optim::Run, Vec<(EpochRecord, usize)>)> {
    let size = cfg.batch_size;
    let batching = match (cfg.shuffle, cfg.reseed_each_epoch) {
        (false, _) => Batching::InOrder(size),
        (true, false) => Batching::Permuted {
            size,
            rng: Box::new(rand::rngs::StdRng::seed_from_u64(cfg.seed ^ SHUFFLE_MIX)),
        },
        (true, true) => Batching::PermutedPerEpoch {
            size,
            seed: cfg.seed,
            mix: SHUFFLE_MIX,
        },
    };
    let mut executor = Executor::new(rates.clone(), batching, cfg.epochs).with_evaluation(true);
    if let Some(c) = cfg.clip_grad_norm {
        executor = executor.with_clip_grad_norm(c)?;
    }
    if let Some(p) = cfg.plateau {
        executor = executor.with_plateau(p);
    }
    let mut recorder = EpochRecorder {
        records: Vec::new(),
    };
    let mut chain = Chain {
        first: &mut recorder,
        rest: observers,
    };
    let run = executor.run(source, optimizer, start, &mut [&mut chain])?;
    Ok((run, recorder.records))
}

/// The report of a run: the final loss and accuracy from the last epoch's evaluation when it
/// was made at the final parameters, else from `evaluate_final`.
fn report(
    run: crate::optim::Run,
    records: Vec<(EpochRecord, usize)>,
    counts: EvalCounts,
    evaluate_final: impl FnOnce() -> Result<(f64, Option<f64>)>,
) -> Result<TrainReport> {
    let (loss, accuracy) = match records.last() {
        Some((r, updates)) if *updates == run.updates => (r.loss, r.accuracy),
        _ if run.divergence.is_some() => (f64::NAN, None),
        _ => evaluate_final()?,
    };
    Ok(TrainReport {
        loss,
        accuracy,
        epochs: records.into_iter().map(|(r, _)| r).collect(),
        steps: run.updates,
        batch_losses: run.batch_losses,
        learning_rates: run.learning_rates,
        stop: run.stop,
        divergence: run.divergence,
        counts,
    })
}

/// The training loss of an op graph (a model imported from ONNX) as a gradient source:
/// mini-batches through one forward and one backward pass each, whole-set evaluations through
/// a [`GraphLoss`] kept for the run. A graph with batch normalization is refused: its running
/// statistics are buffers that training in PyTorch's `train()` mode would update.
pub struct GraphTrainSource<'d> {
    graph: &'d Graph,
    data: &'d GraphData,
    eval: GraphLoss<'d>,
    counts: EvalCounts,
}

impl<'d> GraphTrainSource<'d> {
    /// The source for `graph` on `data` with the loss `kind`.
    ///
    /// # Errors
    /// A graph with batch normalization (buffers or batch statistics); data that does not fit
    /// the graph.
    pub fn new(graph: &'d Graph, data: &'d GraphData, kind: LossKind) -> Result<Self> {
        let buffers = graph.buffer_names();
        if !buffers.is_empty() || graph.has_batch_statistics() {
            return Err(Error::Unsupported(format!(
                "training a graph with batch normalization (buffers {}) is not supported: its \
                 running statistics would not follow the batches; train it in PyTorch, or \
                 export it without batch norm",
                buffers.join(", ")
            )));
        }
        Ok(GraphTrainSource {
            graph,
            data,
            eval: GraphLoss::new(graph, data, kind)?,
            counts: EvalCounts::default(),
        })
    }
}

impl GradientSource for GraphTrainSource<'_> {
    fn n_params(&self) -> usize {
        self.graph.n_params()
    }
    fn n_samples(&self) -> usize {
        self.data.n_samples()
    }
    fn loss_and_gradient_on(
        &mut self,
        params: &[f64],
        batch: &[usize],
        grad: &mut [f64],
    ) -> Result<f64> {
        let data = self.data.select(batch)?;
        self.counts.losses += 1;
        self.counts.gradients += 1;
        let (loss, fw) = batch_loss_and_gradient(self.graph, &data, params, grad)?;
        fw.recycle();
        if !loss.is_finite() {
            return Err(Error::NonFinite(format!("the loss is not finite: {loss}")));
        }
        Ok(loss)
    }
    fn evaluate(&mut self, params: &[f64]) -> Result<Evaluation> {
        self.counts.losses += 1;
        let (loss, accuracy) = self.eval.loss_and_accuracy(params)?;
        Ok(Evaluation { loss, accuracy })
    }
    fn counts(&self) -> EvalCounts {
        self.counts
    }
}

/// Trains the parameters of `graph` on `data`, from its initializers, as [`train()`] trains an
/// MLP: the same executor, batching, schedules, clipping and report. Returns the trained
/// parameters (flat, in the graph's order) and the report.
///
/// # Errors
/// A zero batch size; a graph with batch normalization; data that does not fit the graph;
/// the optimizer's and the observers' errors.
pub fn train_graph<'d>(
    graph: &'d Graph,
    data: &'d GraphData,
    kind: LossKind,
    optimizer: &mut dyn Optimizer,
    rates: &Rates,
    cfg: &TrainConfig,
    observers: &mut [&mut dyn Observer<GraphTrainSource<'d>>],
) -> Result<(Vec<f64>, TrainReport)> {
    if cfg.batch_size == 0 {
        return Err(Error::invalid("batch size", "must be at least 1, got 0"));
    }
    crate::limits::check_epochs(cfg.epochs)?;
    let mut source = GraphTrainSource::new(graph, data, kind)?;
    let (run, records) = execute(
        &mut source,
        graph.initial_params(),
        optimizer,
        rates,
        cfg,
        observers,
    )?;
    let mut run = run;
    let params = std::mem::take(&mut run.params);
    let eval = &source.eval;
    let rep = report(run, records, source.counts, || {
        eval.loss_and_accuracy(&params)
    })?;
    Ok((params, rep))
}
