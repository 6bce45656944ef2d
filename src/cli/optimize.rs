//! `critpt optimize`: one optimizer's trajectory over a formula or surface.

use super::common::{fmt_num, parse_point, print_json, FunctionArgs};
use super::hyper::HyperArgs;
use super::out::{errln, outln, Spinner};
use anyhow::Result;
use critpt::optim::{Runner, Schedule};
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
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Stop once the gradient norm is at most this.
    #[arg(long, allow_hyphen_values = true)]
    pub grad_tol: Option<f64>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &OptimizeArgs) -> Result<ExitCode> {
    let f = a.function.formula()?;
    let start = parse_point("--start", &a.start, &f)?;
    critpt::limits::check_recorded_steps(a.steps, 1)?;
    let (mut opt, lr) = a.hyper.build(&a.optimizer, a.lr)?;
    let schedule = Schedule::parse(&a.schedule, lr)?;
    let mut runner = Runner::new(schedule, a.steps);
    if let Some(tol) = a.grad_tol {
        runner = runner.with_grad_tol(tol)?;
    }
    let spinner = Spinner::start(format!("{} steps of {}", a.steps, a.optimizer));
    let t = runner.run(&f, opt.as_mut(), &start)?;
    drop(spinner);
    if let Some(k) = t.diverged_at_step {
        errln!(
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
        outln!("function   {}", f.source())?;
        outln!("variables  {}", f.variables().join(", "))?;
        outln!(
            "optimizer  {}  (lr {lr}, schedule {})",
            t.optimizer,
            schedule.kind
        )?;
        outln!(
            "start      {}  value {}",
            fmt_point(&t.path[0]),
            fmt_num(t.values[0], 10)
        )?;
        outln!(
            "end        {}  value {}",
            fmt_point(&t.path[last]),
            fmt_num(t.values[last], 10)
        )?;
        outln!(
            "steps      {last}  (gradient norm at the end {:.3e})",
            t.gradient_norms[last]
        )?;
        match t.diverged_at_step {
            Some(k) => outln!("diverged   at step {k}")?,
            None => outln!(
                "stopped    {}",
                serde_json::to_value(t.stop)?.as_str().unwrap_or("")
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A point for the summary.
fn fmt_point(p: &[f64]) -> String {
    let parts: Vec<String> = p.iter().map(|&v| fmt_num(v, 10)).collect();
    format!("({})", parts.join(", "))
}
