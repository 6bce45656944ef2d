//! The optimizer flags `optimize` and `train` share: the hyper-parameters of every optimizer, the
//! check that each given flag applies to the chosen optimizer, and the torch default rate.

use super::common::parse_list;
use anyhow::{bail, Result};
use critpt::optim::{default_lr, optimizer_by_name, Hyper, Optimizer, OptimizerKind};

/// Hyper-parameter flags (flattened into a subcommand's flags).
#[derive(Debug, Clone, clap::Args)]
pub struct HyperArgs {
    /// Momentum (sgd, momentum, nesterov, rmsprop, momentum-book).
    #[arg(long, allow_hyphen_values = true)]
    pub momentum: Option<f64>,
    /// Dampening of the momentum buffer (sgd, momentum).
    #[arg(long, allow_hyphen_values = true)]
    pub dampening: Option<f64>,
    /// Smoothing constant (rmsprop, rmsprop-book; default 0.99).
    #[arg(long, allow_hyphen_values = true)]
    pub alpha: Option<f64>,
    /// beta1 (adam, adamw, nadam, radam, adamax; default 0.9).
    #[arg(long, allow_hyphen_values = true)]
    pub beta1: Option<f64>,
    /// beta2 (adam, adamw, nadam, radam, adamax; default 0.999).
    #[arg(long, allow_hyphen_values = true)]
    pub beta2: Option<f64>,
    /// Epsilon (adagrad 1e-10; rmsprop, adam, adamw, nadam, radam, adamax 1e-8; adadelta 1e-6).
    #[arg(long, allow_hyphen_values = true)]
    pub eps: Option<f64>,
    /// Weight decay (L2; decoupled for adamw, default 0.01 there, and for nadam and radam with
    /// --decoupled-weight-decay).
    #[arg(long, allow_hyphen_values = true)]
    pub weight_decay: Option<f64>,
    /// Adagrad's lr_decay.
    #[arg(long, allow_hyphen_values = true)]
    pub lr_decay: Option<f64>,
    /// Adagrad's initial accumulator value (default 0).
    #[arg(long, allow_hyphen_values = true)]
    pub initial_accumulator_value: Option<f64>,
    /// Adadelta's rho, the decay of both running averages (default 0.9).
    #[arg(long, allow_hyphen_values = true)]
    pub rho: Option<f64>,
    /// NAdam's momentum_decay (default 0.004).
    #[arg(long, allow_hyphen_values = true)]
    pub momentum_decay: Option<f64>,
    /// Decoupled (AdamW-style) weight decay for nadam and radam.
    #[arg(long)]
    pub decoupled_weight_decay: bool,
    /// Rprop's etas: the step-size factors after a sign flip and after a kept sign,
    /// 0 < A < 1 < B (default 0.5,1.2).
    #[arg(long, value_name = "A,B", allow_hyphen_values = true)]
    pub etas: Option<String>,
    /// Rprop's step-size bounds, 0 < MIN <= MAX (default 1e-6,50). Rprop's first step size is
    /// the learning rate; later rates (a schedule's) are ignored, as in torch.
    #[arg(long, value_name = "MIN,MAX", allow_hyphen_values = true)]
    pub step_sizes: Option<String>,
    /// Centered RMSProp.
    #[arg(long)]
    pub centered: bool,
    /// AMSGrad (adam, adamw).
    #[arg(long)]
    pub amsgrad: bool,
    /// Nesterov momentum for sgd.
    #[arg(long)]
    pub nesterov: bool,
}

impl HyperArgs {
    /// The library's hyper-parameters.
    pub fn hyper(&self) -> Result<Hyper> {
        Ok(Hyper {
            momentum: self.momentum,
            dampening: self.dampening,
            alpha: self.alpha,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            lr_decay: self.lr_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            rho: self.rho,
            momentum_decay: self.momentum_decay,
            decoupled_weight_decay: self.decoupled_weight_decay,
            etas: pair("--etas", "A,B", self.etas.as_deref())?,
            step_sizes: pair("--step-sizes", "MIN,MAX", self.step_sizes.as_deref())?,
            centered: self.centered,
            amsgrad: self.amsgrad,
            nesterov: self.nesterov,
        })
    }

    /// The optimizer `name` with these hyper-parameters and its learning rate (`lr`, else the
    /// torch default). Flags that do not apply to it are an error, not silently ignored.
    pub fn build(&self, kind: OptimizerKind, lr: Option<f64>) -> Result<(Box<dyn Optimizer>, f64)> {
        let name = kind.name();
        let hyper = self.hyper()?;
        let unused = hyper.unused_for(name)?;
        if !unused.is_empty() {
            let flags: Vec<String> = unused
                .iter()
                .map(|u| format!("--{}", u.replace('_', "-")))
                .collect();
            bail!(
                "{} does not apply to the {name} optimizer",
                flags.join(", ")
            );
        }
        let lr = match (lr, default_lr(name)?) {
            (Some(lr), _) | (None, Some(lr)) => lr,
            (None, None) => {
                bail!("--lr is required for {name} (torch.optim.SGD has no default learning rate)")
            }
        };
        Ok((optimizer_by_name(name, &hyper)?, lr))
    }
}

/// Parses an optional two-number flag such as `--etas 0.5,1.2`.
fn pair(flag: &str, form: &str, text: Option<&str>) -> Result<Option<(f64, f64)>> {
    let Some(text) = text else { return Ok(None) };
    match parse_list(flag, text)?[..] {
        [a, b] => Ok(Some((a, b))),
        ref v => bail!(
            "{flag}: expected two numbers {form}, got {} in '{text}'",
            v.len()
        ),
    }
}
