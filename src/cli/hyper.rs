//! The optimizer flags `optimize` and `train` share: the hyper-parameters of every optimizer, the
//! check that each given flag applies to the chosen optimizer, and the torch default rate.

use anyhow::{bail, Result};
use critpt::optim::{default_lr, optimizer_by_name, Hyper, Optimizer};

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
    /// Adam's beta1 (default 0.9).
    #[arg(long, allow_hyphen_values = true)]
    pub beta1: Option<f64>,
    /// Adam's beta2 (default 0.999).
    #[arg(long, allow_hyphen_values = true)]
    pub beta2: Option<f64>,
    /// Epsilon (adagrad 1e-10, rmsprop and adam 1e-8).
    #[arg(long, allow_hyphen_values = true)]
    pub eps: Option<f64>,
    /// Weight decay (L2; decoupled for adamw, default 0.01 there).
    #[arg(long, allow_hyphen_values = true)]
    pub weight_decay: Option<f64>,
    /// Adagrad's lr_decay.
    #[arg(long, allow_hyphen_values = true)]
    pub lr_decay: Option<f64>,
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
    pub fn hyper(&self) -> Hyper {
        Hyper {
            momentum: self.momentum,
            dampening: self.dampening,
            alpha: self.alpha,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            lr_decay: self.lr_decay,
            initial_accumulator_value: None,
            centered: self.centered,
            amsgrad: self.amsgrad,
            nesterov: self.nesterov,
        }
    }

    /// The optimizer `name` with these hyper-parameters and its learning rate (`lr`, else the
    /// torch default). Flags that do not apply to it are an error, not silently ignored.
    pub fn build(&self, name: &str, lr: Option<f64>) -> Result<(Box<dyn Optimizer>, f64)> {
        let hyper = self.hyper();
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
