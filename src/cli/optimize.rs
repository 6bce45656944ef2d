//! `critpt optimize`: one optimizer's trajectory over a formula or surface.

use super::common::{parse_point, print_json, FunctionArgs};
use anyhow::{bail, Result};
use critpt::optim::{default_lr, optimizer_by_name, Hyper, Runner, Schedule};
use serde_json::json;
use std::process::ExitCode;

/// Flags of `critpt optimize`.
#[derive(Debug, clap::Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The start, comma-separated (e.g. -1,1).
    #[arg(long, allow_hyphen_values = true)]
    pub start: String,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw (as torch.optim), or the
    /// chapter's momentum-book, adagrad-book, rmsprop-book.
    #[arg(long)]
    pub optimizer: String,
    /// Base learning rate. Defaults: adagrad, rmsprop, adagrad-book, rmsprop-book 0.01;
    /// adam, adamw 0.001; required for sgd, momentum, nesterov, momentum-book.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Number of steps.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Learning-rate schedule: constant, step:SIZE:GAMMA, exponential:GAMMA,
    /// cosine:T_MAX[:ETA_MIN], linear-warmup:ITERS[:START_FACTOR],
    /// warmup-cosine:WARMUP:TOTAL[:ETA_MIN], transformer:D_MODEL:WARMUP, inverse-time:DECAY.
    #[arg(long, default_value = "constant")]
    pub schedule: String,
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
    /// Stop once the gradient norm is at most this.
    #[arg(long, allow_hyphen_values = true)]
    pub grad_tol: Option<f64>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl OptimizeArgs {
    fn hyper(&self) -> Hyper {
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
}

/// Runs `critpt optimize`.
pub fn run(a: &OptimizeArgs) -> Result<ExitCode> {
    let f = a.function.formula()?;
    let start = parse_point("--start", &a.start, &f)?;
    let hyper = a.hyper();
    let unused = hyper.unused_for(&a.optimizer)?;
    if !unused.is_empty() {
        let flags: Vec<String> = unused
            .iter()
            .map(|u| format!("--{}", u.replace('_', "-")))
            .collect();
        bail!(
            "{} does not apply to the {} optimizer",
            flags.join(", "),
            a.optimizer
        );
    }
    let lr = match (a.lr, default_lr(&a.optimizer)?) {
        (Some(lr), _) | (None, Some(lr)) => lr,
        (None, None) => bail!(
            "--lr is required for {} (torch.optim.SGD has no default learning rate)",
            a.optimizer
        ),
    };
    let schedule = Schedule::parse(&a.schedule, lr)?;
    let mut opt = optimizer_by_name(&a.optimizer, &hyper)?;
    let mut runner = Runner::new(schedule, a.steps);
    if let Some(tol) = a.grad_tol {
        runner = runner.with_grad_tol(tol)?;
    }
    let t = runner.run(&f, opt.as_mut(), &start)?;
    if let Some(k) = t.diverged_at_step {
        eprintln!(
            "warning: {} diverged at step {k} (a non-finite parameter, value or gradient); the path stops at step {}",
            t.optimizer,
            k - 1
        );
    }
    if a.json {
        print_json(&json!({
            "variables": f.variables(),
            "optimizer": t.optimizer,
            "lr": lr,
            "schedule": schedule.kind.to_string(),
            "path": t.path,
            "values": t.values,
            "gradient_norms": t.gradient_norms,
            "learning_rates": t.learning_rates,
            "diverged": t.diverged,
            "diverged_at_step": t.diverged_at_step,
            "stop": t.stop,
        }))?;
    } else {
        let last = t.path.len() - 1;
        println!("function   {}", f.source());
        println!("variables  {}", f.variables().join(", "));
        println!(
            "optimizer  {}  (lr {lr}, schedule {})",
            t.optimizer, schedule.kind
        );
        println!(
            "start      {}  value {}",
            fmt_point(&t.path[0]),
            fmt_num(t.values[0])
        );
        println!(
            "end        {}  value {}",
            fmt_point(&t.path[last]),
            fmt_num(t.values[last])
        );
        println!(
            "steps      {last}  (gradient norm at the end {:.3e})",
            t.gradient_norms[last]
        );
        match t.diverged_at_step {
            Some(k) => println!("diverged   at step {k}"),
            None => println!(
                "stopped    {}",
                serde_json::to_value(t.stop)?.as_str().unwrap_or("")
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A number for the summary: fixed for moderate sizes, scientific otherwise.
fn fmt_num(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v:.10}")
    } else {
        format!("{v:.6e}")
    }
}

/// A point for the summary.
fn fmt_point(p: &[f64]) -> String {
    let parts: Vec<String> = p.iter().map(|&v| fmt_num(v)).collect();
    format!("({})", parts.join(", "))
}
