//! Mini-batch training of an [`Mlp`] with any [`Optimizer`] and learning-rate schedule.
//!
//! Each epoch reshuffles the samples (seeded) into batches, as `DataLoader(shuffle=True)`;
//! each batch is one optimizer step on the batch's mean loss with batch norm in training mode
//! (batch statistics, running statistics updated as PyTorch does). After each epoch the loss
//! and accuracy over the whole set are measured in evaluation mode.

use super::data::{shuffled_batches, Dataset};
use super::layers::{BnMode, LossKind};
use super::model::Mlp;
use super::objective::NetLoss;
use crate::error::{Error, Result};
use crate::objective::Loss;
use crate::optim::Optimizer;
use rand::SeedableRng;

/// Settings of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Samples per step.
    pub batch_size: usize,
    /// Passes over the data.
    pub epochs: usize,
    /// Seed of the batch shuffling.
    pub seed: u64,
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
}

/// Loss and accuracy of `model` on the whole of `data` in evaluation mode.
///
/// # Errors
/// As [`NetLoss::new`].
pub fn evaluate(model: &Mlp, data: &Dataset, kind: LossKind) -> Result<(f64, Option<f64>)> {
    let obj = NetLoss::new(model, data, kind, BnMode::Eval)?;
    let loss = obj.loss(&model.params)?;
    let acc = match data.labels() {
        Some(l) if kind.is_classification() => Some(model.accuracy(&data.x, l, BnMode::Eval)?),
        _ => None,
    };
    Ok((loss, acc))
}

/// Trains `model` in place on `data`; `lr(step)` gives the learning rate of step `step`
/// (counted from 0 over the whole run, as a per-step `lr_scheduler`); `on_epoch` sees each
/// epoch's record and the model after it (for progress bars and checkpoints).
///
/// # Errors
/// A zero batch size or epoch count; data that does not fit the model; a loss that becomes
/// non-finite (divergence: lower the learning rate); the optimizer's errors.
pub fn train(
    model: &mut Mlp,
    data: &Dataset,
    kind: LossKind,
    optimizer: &mut dyn Optimizer,
    lr: &dyn Fn(usize) -> f64,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochRecord, &Mlp),
) -> Result<TrainReport> {
    if cfg.batch_size == 0 {
        return Err(Error::invalid("--batch-size", "must be at least 1, got 0"));
    }
    if cfg.epochs == 0 {
        return Err(Error::invalid("--epochs", "must be at least 1, got 0"));
    }
    // Validate the data against the model once, up front.
    NetLoss::new(model, data, kind, BnMode::Eval)?;
    let bn = model.has_batchnorm();
    if bn && cfg.batch_size < 2 {
        return Err(Error::invalid(
            "--batch-size",
            "batch norm in training mode needs at least 2 samples per batch",
        ));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed ^ 0x5eed_ba7c_4e55_0001);
    let mut grad = vec![0.0; model.n_params()];
    let mut step = 0usize;
    let mut records = Vec::with_capacity(cfg.epochs);
    let mut last_lr = lr(0);
    for epoch in 1..=cfg.epochs {
        for batch in shuffled_batches(data.n_samples(), cfg.batch_size, &mut rng) {
            if bn && batch.len() < 2 {
                continue; // PyTorch cannot normalize a batch of one either.
            }
            let (xb, tb) = data.select(&batch);
            let obj = NetLoss::from_parts(model, xb, tb, kind, BnMode::Train)?;
            let (loss, stats) = obj.loss_grad_stats(&model.params, &mut grad)?;
            if !loss.is_finite() {
                return Err(Error::NonFinite(format!(
                    "training diverged at step {step} (loss {loss}); lower the learning rate"
                )));
            }
            model.track_batch_stats(&stats, batch.len());
            last_lr = lr(step);
            optimizer.step(&mut model.params, &grad, last_lr)?;
            if let Some(i) = model.params.iter().position(|p| !p.is_finite()) {
                return Err(Error::NonFinite(format!(
                    "training diverged at step {step}: parameter {i} is {}; lower the learning rate",
                    model.params[i]
                )));
            }
            step += 1;
        }
        let (loss, accuracy) = evaluate(model, data, kind)?;
        let rec = EpochRecord {
            epoch,
            loss,
            accuracy,
            learning_rate: last_lr,
        };
        on_epoch(&rec, model);
        records.push(rec);
    }
    let last = records.last().copied().expect("at least one epoch");
    Ok(TrainReport {
        loss: last.loss,
        accuracy: last.accuracy,
        epochs: records,
        steps: step,
    })
}
