//! `critpt optimize`: one optimizer's trajectory over a formula or surface.

use super::common::{fmt_num, parse_point, print_json, FunctionArgs};
use super::hyper::HyperArgs;
use super::out::{errln, outln, Spinner};
use anyhow::Result;
use critpt::optim::{OptimizerKind, Runner, Schedule, ScheduleKind};
use std::process::ExitCode;

/// The JSON of `critpt optimize`: the recorded trajectory (optimizer, path, values, gradient
/// norms, recorded steps, learning rates, counts, divergence, stop) and what produced it.
#[derive(serde::Serialize)]
struct OptimizeReport<'a> {
    variables: &'a [String],
    /// The base learning rate (a cyclic schedule's first rate).
    lr: f64,
    schedule: String,
    #[serde(flatten)]
    trajectory: &'a critpt::optim::Trajectory,
}

/// Flags of `critpt optimize`.
#[derive(Debug, clap::Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The start, comma-separated (e.g. -1,1).
    #[arg(long, allow_hyphen_values = true)]
    pub start: String,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, nadam, radam, adamax,
    /// adadelta, rprop (as torch.optim), or the chapter's momentum-book, adagrad-book,
    /// rmsprop-book.
    #[arg(long)]
    pub optimizer: OptimizerKind,
    /// Base learning rate. Defaults (torch's): adagrad, rmsprop, rprop, adagrad-book,
    /// rmsprop-book 0.01; adam, adamw, radam 0.001; nadam, adamax 0.002; adadelta 1.0;
    /// required for sgd, momentum, nesterov, momentum-book. Not used with the onecycle and
    /// cyclic schedules, which set their own rates.
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Number of steps.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Learning-rate schedule, step k from 0, as torch.optim.lr_scheduler: constant,
    /// step:SIZE:GAMMA, exponential:GAMMA, cosine:T_MAX[:ETA_MIN],
    /// linear-warmup:ITERS[:START_FACTOR], warmup-cosine:WARMUP:TOTAL[:ETA_MIN],
    /// transformer:D_MODEL:WARMUP, inverse-time:DECAY, multistep:GAMMA:M1,M2,... (MultiStepLR),
    /// polynomial:TOTAL_ITERS[:POWER] (PolynomialLR, power 1),
    /// cosine-restarts:T_0[:T_MULT[:ETA_MIN]] (CosineAnnealingWarmRestarts),
    /// onecycle:MAX_LR:TOTAL_STEPS[:PCT_START] (OneCycleLR, cosine, div factor 25, final div
    /// factor 1e4, pct_start 0.3; beyond TOTAL_STEPS, where torch raises, the rate holds),
    /// cyclic:BASE_LR:MAX_LR:STEP_SIZE_UP[:MODE] (CyclicLR, MODE triangular|triangular2),
    /// linear:START_FACTOR:END_FACTOR:TOTAL_ITERS (LinearLR). onecycle and cyclic ignore --lr.
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Keep one point in K of the path (the start and the last point always); the JSON's
    /// recorded_steps says which steps were kept.
    #[arg(long, default_value_t = 1)]
    pub record_every: usize,
    /// Stop once the gradient norm is at most this.
    #[arg(long, allow_hyphen_values = true)]
    pub grad_tol: Option<f64>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `critpt optimize`.
pub fn run(a: &OptimizeArgs) -> Result<ExitCode> {
    let f = a.function.formula()?;
    let start = parse_point("--start", &a.start, &f)?;
    let kind: ScheduleKind = a.schedule.parse()?;
    // onecycle and cyclic set their own rates: the base rate is a placeholder, and the rate
    // reported is the schedule's first.
    let base = if kind.ignores_base_rate() {
        Some(1.0)
    } else {
        a.lr
    };
    let (mut opt, base) = a.hyper.build(a.optimizer, base)?;
    let schedule = Schedule::new(kind, base)?;
    let lr = if kind.ignores_base_rate() {
        schedule.lr(0)
    } else {
        base
    };
    let mut runner = Runner::new(schedule, a.steps).with_record_every(a.record_every)?;
    if let Some(tol) = a.grad_tol {
        runner = runner.with_grad_tol(tol)?;
    }
    let spinner = Spinner::start(format!("{} steps of {}", a.steps, a.optimizer.name()));
    let (t, run) = runner.run_observed(&f, opt.as_mut(), &start, &mut [])?;
    drop(spinner);
    if let Some(k) = t.diverged_at_step {
        errln!(
            "warning: {} diverged at step {k} (a non-finite parameter, value or gradient); the path stops at step {}",
            t.optimizer,
            k - 1
        );
    }
    if a.json {
        print_json(&serde_json::to_value(OptimizeReport {
            variables: f.variables(),
            lr,
            schedule: schedule.kind.to_string(),
            trajectory: &t,
        })?)?;
    } else {
        let last = t.path.len() - 1;
        let steps = t.steps;
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
            "steps      {steps}  (gradient norm at the end {:.3e}; {} gradient evaluations)",
            t.gradient_norms[last],
            run.counts.gradients
        )?;
        match t.diverged_at_step {
            Some(k) => outln!("diverged   at step {k}")?,
            None => outln!(
                "stopped    {}",
                serde_json::to_value(&t.stop)?.as_str().unwrap_or("")
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
