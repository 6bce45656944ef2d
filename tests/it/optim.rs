//! Optimizers, schedules and runners against PyTorch fixtures and docs/reference.md §3.

use crate::util::critpt;
use critpt::objective::{Gradient, Loss};
use critpt::optim::{
    optimizer_by_name, Adagrad, Adam, AdamW, BatchLoss, BatchSize, Hyper, MiniBatchRunner,
    Momentum, Nesterov, Optimizer, RmsProp, Runner, Schedule, Sgd,
};
use critpt::surfaces::{self, VALLEY_X, VALLEY_Y};
use critpt::{Error, Result};
use serde_json::Value;
use std::sync::Mutex;

const TORCH_NAMES: [&str; 7] = [
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
];

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn points(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

/// The lr and the `Hyper` for one fixture entry's torch keyword arguments.
fn torch_kwargs(name: &str, kw: &Value) -> (f64, Hyper) {
    let f = |k: &str| kw.get(k).and_then(Value::as_f64);
    let betas = kw.get("betas").map(|b| {
        let b = b.as_array().unwrap();
        (b[0].as_f64().unwrap(), b[1].as_f64().unwrap())
    });
    let hyper = Hyper {
        momentum: f("momentum"),
        dampening: f("dampening"),
        alpha: f("alpha"),
        beta1: betas.map(|b| b.0),
        beta2: betas.map(|b| b.1),
        eps: f("eps"),
        weight_decay: f("weight_decay"),
        // The `nesterov` optimizer has Nesterov momentum always; the flag is for `sgd`.
        nesterov: name == "sgd" && kw.get("nesterov").and_then(Value::as_bool) == Some(true),
        ..Hyper::default()
    };
    (f("lr").unwrap(), hyper)
}

fn max_abs_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(p, q)| p.iter().zip(q).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn himmelblau_trajectories_match_torch_through_the_library() {
    let fx = fixture("himmelblau_trajectories.json");
    let f = surfaces::by_name("himmelblau").unwrap().formula();
    for name in TORCH_NAMES {
        let entry = &fx[name];
        let (lr, hyper) = torch_kwargs(name, &entry["torch_kwargs"]);
        let expected = points(&entry["path"]);
        assert_eq!(expected.len(), 41);
        let mut opt = optimizer_by_name(name, &hyper).unwrap();
        let run = Runner::new(Schedule::constant(lr).unwrap(), 40)
            .run(&f, opt.as_mut(), &[-1.0, 1.0])
            .unwrap();
        assert!(!run.diverged);
        assert_eq!(run.learning_rates, vec![lr; 40]);
        let err = max_abs_diff(&run.path, &expected);
        assert!(err <= 1e-10, "{name}: max deviation from torch {err:e}");
    }
}

#[test]
fn himmelblau_trajectories_match_torch_through_the_cli() {
    let fx = fixture("himmelblau_trajectories.json");
    for name in TORCH_NAMES {
        let kw = &fx[name]["torch_kwargs"];
        let mut args: Vec<String> = [
            "optimize",
            "--fn",
            "himmelblau",
            "--start",
            "-1,1",
            "--steps",
            "40",
            "--json",
            "--optimizer",
            name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (key, value) in kw.as_object().unwrap() {
            match key.as_str() {
                "betas" => {
                    let b = value.as_array().unwrap();
                    args.extend([
                        "--beta1".into(),
                        b[0].to_string(),
                        "--beta2".into(),
                        b[1].to_string(),
                    ]);
                }
                "nesterov" => {} // The optimizer's name says it.
                _ => args.extend([format!("--{}", key.replace('_', "-")), value.to_string()]),
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = critpt(&args);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["optimizer"], name);
        assert_eq!(json["diverged"], false);
        assert!(json["diverged_at_step"].is_null());
        assert_eq!(json["values"].as_array().unwrap().len(), 41);
        assert_eq!(json["learning_rates"].as_array().unwrap().len(), 40);
        let err = max_abs_diff(&points(&json["path"]), &points(&fx[name]["path"]));
        assert!(err <= 1e-10, "{name}: max deviation from torch {err:e}");
    }
}

#[test]
fn schedules_match_torch_lr_scheduler() {
    let fx = fixture("schedules.json");
    let cases = [
        ("StepLR(step_size=5, gamma=0.1)", "step:5:0.1"),
        ("ExponentialLR(gamma=0.8)", "exponential:0.8"),
        ("CosineAnnealingLR(T_max=20, eta_min=0.0)", "cosine:20:0"),
        (
            "LinearLR(start_factor=0.25, end_factor=1.0, total_iters=4)",
            "linear-warmup:4:0.25",
        ),
    ];
    for (key, spec) in cases {
        let expected: Vec<f64> = fx[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(expected.len(), 25);
        let rates = Schedule::parse(spec, 1.0).unwrap().rates(25);
        for (k, (r, e)) in rates.iter().zip(&expected).enumerate() {
            assert!((r - e).abs() <= 1e-12, "{spec} step {k}: {r} vs torch {e}");
        }
    }
}

#[test]
fn transformer_schedule_matches_reference() {
    let s = Schedule::parse("transformer:512:4000", 1.0).unwrap();
    // docs/reference.md §3 (7 significant digits), with s = step + 1.
    for (step, published) in [(0, 1.746928e-7), (3999, 6.987712e-4), (15999, 3.493856e-4)] {
        let lr = s.lr(step);
        assert!(
            ((lr - published) / published).abs() < 1e-6,
            "step {step}: {lr}"
        );
    }
    // The closed form d^-1/2 min(s^-1/2, s w^-3/2), evaluated independently.
    let closed =
        |s: f64| (1.0 / 512f64.sqrt()) * (1.0 / s.sqrt()).min(s / (4000f64 * 4000f64.sqrt()));
    for step in [0u64, 1, 10, 3998, 3999, 4000, 15999, 100_000] {
        let want = closed(step as f64 + 1.0);
        assert!(((s.lr(step) - want) / want).abs() < 1e-12, "step {step}");
    }
    // Times the base rate; the peak is at s = warmup.
    let s2 = Schedule::parse("transformer:512:4000", 2.0).unwrap();
    assert!((s2.lr(3999) - 2.0 * s.lr(3999)).abs() < 1e-18);
    assert!(s.lr(3999) > s.lr(3998) && s.lr(3999) > s.lr(4000));
}

#[test]
fn other_schedules_follow_their_closed_forms() {
    let s = Schedule::parse("inverse-time:0.5", 2.0).unwrap();
    assert!((s.lr(4) - 2.0 / 3.0).abs() < 1e-15);
    let s = Schedule::parse("warmup-cosine:4:14:0.1", 1.0).unwrap();
    assert!((s.lr(0) - 0.25).abs() < 1e-15);
    assert!((s.lr(3) - 1.0).abs() < 1e-15);
    assert!((s.lr(4) - 1.0).abs() < 1e-15);
    assert!((s.lr(9) - 0.55).abs() < 1e-15); // Half-way down the cosine.
    assert!((s.lr(14) - 0.1).abs() < 1e-15);
    assert!((s.lr(1000) - 0.1).abs() < 1e-15);
    let s = Schedule::parse("constant", 0.3).unwrap();
    assert_eq!(s.rates(3), vec![0.3; 3]);
    // torch's LinearLR default start factor is 1/3.
    let s = Schedule::parse("linear-warmup:5", 1.0).unwrap();
    assert!((s.lr(0) - 1.0 / 3.0).abs() < 1e-15);
    // The spec prints back in the grammar.
    let kind: critpt::optim::ScheduleKind = "cosine:20:0.5".parse().unwrap();
    assert_eq!(
        kind.to_string()
            .parse::<critpt::optim::ScheduleKind>()
            .unwrap(),
        kind
    );
}

#[test]
fn bad_schedules_name_the_field() {
    let cases = [
        ("step:0:0.1", "SIZE"),
        ("step:5", "step:SIZE:GAMMA"),
        ("step:5:-1", "GAMMA"),
        ("exponential:abc", "GAMMA"),
        ("cosine:20:-1", "ETA_MIN"),
        ("linear-warmup:4:0", "START_FACTOR"),
        ("warmup-cosine:10:5", "TOTAL"),
        ("transformer:512", "transformer:D_MODEL:WARMUP"),
        ("transformer:0:4000", "D_MODEL"),
        ("inverse-time:-1", "DECAY"),
    ];
    for (spec, field) in cases {
        let msg = Schedule::parse(spec, 1.0).unwrap_err().to_string();
        assert!(msg.contains(field) && msg.contains(spec), "{spec}: {msg}");
    }
    assert!(matches!(
        Schedule::parse("sawtooth:3", 1.0),
        Err(Error::Unknown { .. })
    ));
    assert!(Schedule::parse("constant", 0.0).is_err());
    assert!(Schedule::parse("constant", f64::INFINITY).is_err());
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let bad = |name: &str, h: Hyper, what: &str| {
        let msg = match optimizer_by_name(name, &h) {
            Ok(_) => panic!("{name} accepted {h:?}"),
            Err(e) => e.to_string(),
        };
        assert!(msg.contains(what), "{name}: {msg}");
    };
    bad(
        "adam",
        Hyper {
            beta1: Some(1.0),
            ..Hyper::default()
        },
        "beta1",
    );
    bad(
        "adam",
        Hyper {
            beta2: Some(-0.1),
            ..Hyper::default()
        },
        "beta2",
    );
    bad(
        "adamw",
        Hyper {
            eps: Some(0.0),
            ..Hyper::default()
        },
        "eps",
    );
    bad(
        "adam",
        Hyper {
            weight_decay: Some(-1.0),
            ..Hyper::default()
        },
        "weight decay",
    );
    bad(
        "rmsprop",
        Hyper {
            alpha: Some(1.5),
            ..Hyper::default()
        },
        "alpha",
    );
    bad(
        "rmsprop",
        Hyper {
            momentum: Some(-0.5),
            ..Hyper::default()
        },
        "momentum",
    );
    bad(
        "sgd",
        Hyper {
            momentum: Some(f64::NAN),
            ..Hyper::default()
        },
        "momentum",
    );
    bad(
        "momentum",
        Hyper {
            dampening: Some(1.5),
            ..Hyper::default()
        },
        "dampening",
    );
    bad(
        "momentum",
        Hyper {
            momentum: Some(0.0),
            ..Hyper::default()
        },
        "momentum",
    );
    bad(
        "adagrad",
        Hyper {
            lr_decay: Some(-1.0),
            ..Hyper::default()
        },
        "lr decay",
    );
    // torch: "Nesterov momentum requires a momentum and zero dampening".
    bad(
        "sgd",
        Hyper {
            nesterov: true,
            ..Hyper::default()
        },
        "nesterov",
    );
    bad(
        "nesterov",
        Hyper {
            dampening: Some(0.1),
            ..Hyper::default()
        },
        "dampening",
    );
    bad(
        "rmsprop-book",
        Hyper {
            alpha: Some(1.0),
            ..Hyper::default()
        },
        "alpha",
    );
    assert!(matches!(
        optimizer_by_name("lbfgs", &Hyper::default()),
        Err(Error::Unknown { .. })
    ));
    // The builders validate too.
    assert!(Adam::new().with_betas(0.9, 1.0).is_err());
    assert!(AdamW::new().with_weight_decay(f64::INFINITY).is_err());
    assert!(Adagrad::new().with_eps(-1e-10).is_err());
    assert!(RmsProp::new().with_alpha(-0.1).is_err());
    assert!(Nesterov::try_new(0.0, 0.0).is_err());
    assert!(Momentum::try_new(0.9, -0.1, 0.0).is_err());
    assert!(Sgd::try_new(0.9, 0.5, 0.0, true).is_err());
}

#[test]
fn cli_rejects_bad_optimizer_input_with_one_line() {
    let cases: [&[&str]; 5] = [
        &["--optimizer", "sgd"],
        &["--optimizer", "adam", "--beta1", "1.2"],
        &["--optimizer", "sgd", "--lr", "0.1", "--beta2", "0.9"],
        &["--optimizer", "adam", "--schedule", "cosine:0"],
        &["--optimizer", "sgd", "--lr", "-1"],
    ];
    for extra in cases {
        let mut args = vec!["optimize", "--fn", "himmelblau", "--start", "-1,1"];
        args.extend_from_slice(extra);
        let out = critpt(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{err}"
        );
    }
}

// ---- docs/reference.md §3: the long narrow valley ----------------------------------------------

fn valley() -> critpt::expr::Formula {
    surfaces::by_name("valley").unwrap().formula()
}

/// The least-squares optimum (b*, w*) and its loss, from the normal equations.
fn valley_optimum() -> (f64, f64, f64) {
    let n = VALLEY_X.len() as f64;
    let sx: f64 = VALLEY_X.iter().sum();
    let sy: f64 = VALLEY_Y.iter().sum();
    let sxx: f64 = VALLEY_X.iter().map(|x| x * x).sum();
    let sxy: f64 = VALLEY_X.iter().zip(VALLEY_Y).map(|(x, y)| x * y).sum();
    let w = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    let b = (sy - w * sx) / n;
    let loss = VALLEY_X
        .iter()
        .zip(VALLEY_Y)
        .map(|(x, y)| (y - b - w * x).powi(2))
        .sum();
    (b, w, loss)
}

fn valley_run(name: &str, lr: f64, steps: usize) -> critpt::optim::Trajectory {
    let f = valley();
    assert_eq!(f.variables(), ["b", "w"]);
    let mut opt = optimizer_by_name(name, &Hyper::default()).unwrap();
    Runner::new(Schedule::constant(lr).unwrap(), steps)
        .run(&f, opt.as_mut(), &[-120.0, -4.0])
        .unwrap()
}

#[test]
fn valley_plain_gd_stalls_on_the_valley_floor() {
    let run = valley_run("sgd", 1e-7, 100_000);
    assert!(!run.diverged);
    let end = run.last();
    assert!(
        (end[0] + 123.69).abs() < 0.01 && (end[1] - 2.483).abs() < 0.01,
        "{end:?}"
    );
    // Still far from the optimum (−188.433, 2.669).
    let (b, _, _) = valley_optimum();
    assert!(end[0] - b > 60.0);
}

#[test]
fn valley_plain_gd_diverges_above_two_over_lambda_max() {
    let run = valley_run("sgd", 2e-6, 100_000);
    assert!(run.diverged);
    // The loss (a sum of squares) overflows first: the residuals pass 1e154 at step 379
    // (recomputed independently in Python).
    assert_eq!(run.diverged_at_step, Some(379));
    assert_eq!(run.path.len(), 379);
    let run = valley_run("sgd", 1e-5, 100_000);
    assert_eq!(run.diverged_at_step, Some(124));
    // docs/reference.md's "step 761" (and 249 for η = 1e-5) counts gradient evaluations until the
    // gradient itself is no longer finite, with the closed-form gradient (no loss evaluated).
    let grad_evals_until_overflow = |lr: f64| {
        let mut opt = Sgd::new();
        let mut params = vec![-120.0, -4.0];
        for evals in 1..100_000 {
            let (mut gb, mut gw) = (0.0, 0.0);
            for (x, y) in VALLEY_X.iter().zip(VALLEY_Y) {
                let r = y - params[0] - params[1] * x;
                gb -= 2.0 * r;
                gw -= 2.0 * r * x;
            }
            if !(gb.is_finite() && gw.is_finite()) {
                return evals;
            }
            opt.step(&mut params, &[gb, gw], lr).unwrap();
        }
        0
    };
    assert_eq!(grad_evals_until_overflow(2e-6), 761);
    assert_eq!(grad_evals_until_overflow(1e-5), 249);
    // Below 2/λmax ≈ 1.145e-6 it does not diverge.
    assert!(!valley_run("sgd", 1e-6, 20_000).diverged);
}

#[test]
fn valley_gd_diverges_with_a_warning_and_exit_zero() {
    let out = critpt(&[
        "optimize",
        "--fn",
        "valley",
        "--start",
        "-120,-4",
        "--optimizer",
        "sgd",
        "--lr",
        "2e-6",
        "--steps",
        "1000",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("warning: "));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["diverged"], true);
    assert_eq!(json["diverged_at_step"], 379);
}

#[test]
fn valley_classic_adagrad_reaches_the_optimum() {
    let run = valley_run("adagrad", 1.0, 100_000);
    assert!(!run.diverged);
    let end = run.last();
    assert!(
        (end[0] + 188.367).abs() < 1e-3 && (end[1] - 2.669).abs() < 1e-3,
        "{end:?}"
    );
}

#[test]
fn valley_adagrad_book_spikes_but_classic_adagrad_does_not() {
    let (_, _, best) = valley_optimum();
    // Once a run has come within 10% of the optimal loss, does it later shoot above 100x it?
    let spikes = |values: &[f64]| -> Option<usize> {
        let near = values.iter().position(|&v| v < 1.1 * best)?;
        values[near..]
            .iter()
            .position(|&v| v > 100.0 * best)
            .map(|k| near + k)
    };
    let book = valley_run("adagrad-book", 1.0, 100_000);
    assert!(!book.diverged);
    let first = spikes(&book.values).expect("adagrad-book spikes on the valley");
    // The root mean square lets the effective step grow like sqrt(t) on the valley floor: the
    // first spike comes within the first thousand steps.
    assert!((500..1000).contains(&first), "first spike at {first}");
    let classic = valley_run("adagrad", 1.0, 100_000);
    assert_eq!(spikes(&classic.values), None);
}

// ---- The chapter's forms ------------------------------------------------------------------

#[test]
fn momentum_book_equals_torch_momentum_at_a_constant_rate() {
    let f = surfaces::by_name("himmelblau").unwrap().formula();
    let runner = Runner::new(Schedule::constant(0.005).unwrap(), 40);
    let hyper = Hyper {
        momentum: Some(0.8),
        ..Hyper::default()
    };
    let book = runner
        .run(
            &f,
            optimizer_by_name("momentum-book", &hyper).unwrap().as_mut(),
            &[-1.0, 1.0],
        )
        .unwrap();
    let torch = runner
        .run(
            &f,
            optimizer_by_name("momentum", &hyper).unwrap().as_mut(),
            &[-1.0, 1.0],
        )
        .unwrap();
    assert!(max_abs_diff(&book.path, &torch.path) < 1e-12);
}

#[test]
fn book_forms_follow_reference_formulas() {
    // adagrad-book: σ^t is the root mean square of g^0..g^t.
    let mut opt = optimizer_by_name("adagrad-book", &Hyper::default()).unwrap();
    let mut p = vec![0.0];
    opt.step(&mut p, &[3.0], 1.0).unwrap(); // σ = 3
    opt.step(&mut p, &[4.0], 1.0).unwrap(); // σ = sqrt((9 + 16)/2)
    let want = -1.0 - 4.0 / (12.5f64).sqrt();
    assert!((p[0] - want).abs() < 1e-9);
    // rmsprop-book: σ^0 = |g^0|, then sqrt(α σ² + (1−α) g²).
    let h = Hyper {
        alpha: Some(0.5),
        ..Hyper::default()
    };
    let mut opt = optimizer_by_name("rmsprop-book", &h).unwrap();
    let mut p = vec![0.0];
    opt.step(&mut p, &[-2.0], 0.1).unwrap(); // Moves by exactly η.
    assert!((p[0] - 0.1).abs() < 1e-9);
    opt.step(&mut p, &[4.0], 0.1).unwrap(); // σ = sqrt(0.5·4 + 0.5·16) = sqrt(10)
    assert!((p[0] - (0.1 - 0.4 / 10f64.sqrt())).abs() < 1e-9);
}

// ---- Runner ---------------------------------------------------------------------------------

#[test]
fn runner_stops_on_gradient_norm_and_calls_the_observer() {
    let f = critpt::expr::Formula::parse("x^2 + y^2").unwrap();
    let mut seen = Vec::new();
    let mut watch = critpt::optim::OnUpdate(|s: &critpt::optim::State<'_, _>| {
        seen.push((s.update, s.value.unwrap()));
        Ok(critpt::optim::ObserverAction::Continue)
    });
    let (run, report) = Runner::new(Schedule::constant(0.25).unwrap(), 1000)
        .with_grad_tol(1e-6)
        .unwrap()
        .run_observed(&f, &mut Sgd::new(), &[1.0, 1.0], &mut [&mut watch])
        .unwrap();
    // Each step halves the point: gradient norm 2·sqrt(2)·2^-k <= 1e-6 first at k = 22.
    assert_eq!(run.steps, 22);
    // One evaluation per point: the start and 22 steps.
    assert_eq!((report.counts.losses, report.counts.gradients), (23, 23));
    assert_eq!(run.stop, critpt::optim::StopReason::GradientTolerance);
    assert_eq!(seen.len(), 23);
    assert_eq!(seen[3].0, 3);
    assert!((seen[3].1 - 2.0 / 64.0).abs() < 1e-15);
    assert!(Runner::new(Schedule::constant(0.1).unwrap(), 5)
        .with_grad_tol(-1.0)
        .is_err());
    assert!(Runner::new(Schedule::constant(0.1).unwrap(), 5)
        .run(&f, &mut Sgd::new(), &[1.0])
        .is_err());
}

#[test]
fn runner_records_the_schedule() {
    let f = critpt::expr::Formula::parse("x^2").unwrap();
    let s = Schedule::parse("step:2:0.5", 0.1).unwrap();
    let run = Runner::new(s, 5).run(&f, &mut Sgd::new(), &[1.0]).unwrap();
    assert_eq!(run.learning_rates, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
    // x ← x(1 − 2η) at each step.
    let want: f64 = [0.1, 0.1, 0.05, 0.05, 0.025]
        .iter()
        .map(|lr| 1.0 - 2.0 * lr)
        .product();
    assert!((run.last()[0] - want).abs() < 1e-15);
}

// ---- Mini-batch runner ----------------------------------------------------------------------

/// Least squares y ≈ a + c·x over data points, mean over the batch; remembers the batches.
struct LineFit {
    x: Vec<f64>,
    y: Vec<f64>,
    batches: Mutex<Vec<Vec<usize>>>,
}

impl LineFit {
    fn new(n: usize) -> Self {
        let x: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        let y = x
            .iter()
            .map(|x| 1.0 - 2.0 * x + (7.0 * x).sin() * 0.1)
            .collect();
        LineFit {
            x,
            y,
            batches: Mutex::new(Vec::new()),
        }
    }
}

impl BatchLoss for LineFit {
    fn n_samples(&self) -> usize {
        self.x.len()
    }
    fn n_params(&self) -> usize {
        2
    }
    fn loss_and_gradient_on(&self, p: &[f64], idx: &[usize], g: &mut [f64]) -> Result<f64> {
        self.batches.lock().unwrap().push(idx.to_vec());
        let m = idx.len() as f64;
        let (mut loss, mut ga, mut gc) = (0.0, 0.0, 0.0);
        for &i in idx {
            let r = p[0] + p[1] * self.x[i] - self.y[i];
            loss += r * r;
            ga += 2.0 * r;
            gc += 2.0 * r * self.x[i];
        }
        g[0] = ga / m;
        g[1] = gc / m;
        Ok(loss / m)
    }
}

/// The same loss over all samples as a full-gradient objective.
impl Loss for LineFit {
    fn n_params(&self) -> usize {
        2
    }
    fn loss(&self, p: &[f64]) -> Result<f64> {
        let mut g = [0.0; 2];
        self.loss_and_gradient(p, &mut g)
    }
}
impl Gradient for LineFit {
    fn gradient(&self, p: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(p, out).map(|_| ())
    }
    fn loss_and_gradient(&self, p: &[f64], out: &mut [f64]) -> Result<f64> {
        let all: Vec<usize> = (0..self.x.len()).collect();
        self.loss_and_gradient_on(p, &all, out)
    }
}
#[test]
fn full_batch_equals_gradient_descent_exactly() {
    let n = 37;
    let schedule = Schedule::constant(0.3).unwrap();
    let epochs = 50;
    let gd = Runner::new(schedule, epochs)
        .run(&LineFit::new(n), &mut Sgd::new(), &[0.0, 0.0])
        .unwrap();
    for batch in [
        BatchSize::Full,
        BatchSize::Fixed(n),
        BatchSize::Fixed(10 * n),
    ] {
        let mb = MiniBatchRunner::new(schedule, batch, epochs)
            .unwrap()
            .with_seed(7);
        let run = mb
            .run(&LineFit::new(n), &mut Sgd::new(), &[0.0, 0.0])
            .unwrap();
        assert_eq!(run.updates, epochs);
        assert_eq!(run.path, gd.path); // Bit for bit.
        assert_eq!(run.batch_losses, gd.values[..epochs].to_vec());
        assert_eq!(run.epoch_losses, run.batch_losses);
    }
}

#[test]
fn every_epoch_visits_every_sample_once() {
    let n = 23;
    for b in [1, 5, 23 - 1] {
        let data = LineFit::new(n);
        let run = MiniBatchRunner::new(Schedule::constant(0.05).unwrap(), BatchSize::Fixed(b), 4)
            .unwrap()
            .with_seed(3)
            .run(&data, &mut Sgd::new(), &[0.0, 0.0])
            .unwrap();
        let per_epoch = n.div_ceil(b);
        assert_eq!(run.updates, 4 * per_epoch);
        assert_eq!(run.path.len(), run.updates + 1);
        assert_eq!(run.epoch_losses.len(), 4);
        let batches = data.batches.lock().unwrap();
        let mut orders = Vec::new();
        for epoch in batches.chunks(per_epoch) {
            assert!(epoch[..per_epoch - 1].iter().all(|batch| batch.len() == b));
            let mut seen: Vec<usize> = epoch.concat();
            orders.push(seen.clone());
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "batch size {b}");
        }
        // Reshuffled every epoch.
        assert_ne!(orders[0], orders[1]);
        // Epoch loss: the sample-weighted mean of the epoch's batch losses.
        let first: f64 = batches[..per_epoch]
            .iter()
            .zip(&run.batch_losses)
            .map(|(batch, l)| l * batch.len() as f64)
            .sum::<f64>()
            / n as f64;
        assert!((run.epoch_losses[0] - first).abs() < 1e-15);
    }
}

#[test]
fn seeded_minibatch_runs_repeat_and_seeds_differ() {
    let runner = |seed| {
        MiniBatchRunner::new(Schedule::constant(0.1).unwrap(), BatchSize::Fixed(4), 5)
            .unwrap()
            .with_seed(seed)
            .with_full_loss(true)
            .run(&LineFit::new(30), &mut Adam::new(), &[0.5, 0.5])
            .unwrap()
    };
    let (a, b, c) = (runner(11), runner(11), runner(12));
    assert_eq!(a, b);
    assert_ne!(a.path, c.path);
    assert_eq!(a.epoch_full_losses.len(), 5);
    assert!(a.epoch_full_losses[4] < a.epoch_full_losses[0]);
    assert!(
        MiniBatchRunner::new(Schedule::constant(0.1).unwrap(), BatchSize::Fixed(0), 1).is_err()
    );
}

#[test]
fn minibatch_divergence_is_reported() {
    let run = MiniBatchRunner::new(Schedule::constant(1e3).unwrap(), BatchSize::Fixed(3), 1000)
        .unwrap()
        .run(&LineFit::new(12), &mut Sgd::new(), &[0.0, 0.0])
        .unwrap();
    assert!(run.diverged);
    let k = run.diverged_at_update.unwrap();
    assert!(k > 0 && k == run.updates);
    assert!(run.path.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn optimizers_are_send_and_runners_clone() {
    fn send<T: Send>() {}
    fn clone<T: Clone>() {}
    send::<Box<dyn Optimizer>>();
    clone::<Runner>();
    clone::<MiniBatchRunner>();
    clone::<Adam>();
}

// ---- Options without a torch fixture: torch's documented algorithms, by hand ---------------

#[test]
fn amsgrad_keeps_the_largest_second_moment() {
    let (lr, b1, b2, eps): (f64, f64, f64, f64) = (0.1, 0.9, 0.999, 1e-8);
    let grads = [10.0, 0.1];
    let mut opt = Adam::new().with_amsgrad(true);
    let mut plain = Adam::new();
    let (mut p, mut q) = (vec![0.0], vec![0.0]);
    for g in grads {
        opt.step(&mut p, &[g], lr).unwrap();
        plain.step(&mut q, &[g], lr).unwrap();
    }
    // Step 1 moves by lr·g/(|g| + eps); step 2 divides by max(v1, v2).
    let m2 = b1 * (1.0 - b1) * 10.0 + (1.0 - b1) * 0.1;
    let v1 = (1.0 - b2) * 100.0;
    let v2 = b2 * v1 + (1.0 - b2) * 0.01;
    assert!(v2 < v1);
    let step2 = |v: f64| lr / (1.0 - b1 * b1) * m2 / (v.sqrt() / (1.0 - b2 * b2).sqrt() + eps);
    let first = -lr * 10.0 / (10.0 + eps);
    assert!((p[0] - (first - step2(v1))).abs() < 1e-12);
    assert!((q[0] - (first - step2(v2))).abs() < 1e-12);
}

#[test]
fn adam_l2_and_adamw_decoupled_weight_decay_differ_as_torch_documents() {
    let (lr, wd, eps) = (0.1, 0.5, 1e-8);
    // Adam: g + wd·θ enters the moments; first step moves by lr·sign.
    let mut adam = Adam::new().with_weight_decay(wd).unwrap();
    let mut p = vec![2.0];
    adam.step(&mut p, &[-0.5], lr).unwrap(); // g' = -0.5 + 1.0 = 0.5
    assert!((p[0] - (2.0 - lr * 0.5 / (0.5 + eps))).abs() < 1e-12);
    // AdamW: θ ← θ(1 − lr·wd), then Adam on the raw gradient.
    let mut adamw = AdamW::new().with_weight_decay(wd).unwrap();
    let mut q = vec![2.0];
    adamw.step(&mut q, &[-0.5], lr).unwrap();
    assert!((q[0] - (2.0 * (1.0 - lr * wd) + lr * 0.5 / (0.5 + eps))).abs() < 1e-12);
}

#[test]
fn centered_rmsprop_with_momentum_by_hand() {
    let (lr, a, mu, eps) = (0.01, 0.9, 0.5, 1e-8);
    let mut opt = RmsProp::new()
        .with_alpha(a)
        .unwrap()
        .with_momentum(mu)
        .unwrap()
        .with_centered(true);
    let mut p = vec![1.0];
    let (g1, g2) = (2.0, -1.0);
    opt.step(&mut p, &[g1], lr).unwrap();
    opt.step(&mut p, &[g2], lr).unwrap();
    let (v1, ga1) = ((1.0 - a) * g1 * g1, (1.0 - a) * g1);
    let b1 = g1 / ((v1 - ga1 * ga1).sqrt() + eps);
    let (v2, ga2) = (a * v1 + (1.0 - a) * g2 * g2, a * ga1 + (1.0 - a) * g2);
    let b2 = mu * b1 + g2 / ((v2 - ga2 * ga2).sqrt() + eps);
    assert!((p[0] - (1.0 - lr * b1 - lr * b2)).abs() < 1e-12);
}

#[test]
fn adagrad_lr_decay_and_initial_accumulator_by_hand() {
    let (lr, decay, s0) = (0.5, 0.25, 4.0);
    let mut opt = Adagrad::new()
        .with_lr_decay(decay)
        .unwrap()
        .with_initial_accumulator_value(s0)
        .unwrap();
    let mut p = vec![0.0];
    opt.step(&mut p, &[3.0], lr).unwrap(); // s = 13, rate lr
    opt.step(&mut p, &[1.0], lr).unwrap(); // s = 14, rate lr/(1 + decay)
    let want = -lr * 3.0 / (13f64.sqrt() + 1e-10) - lr / (1.0 + decay) / (14f64.sqrt() + 1e-10);
    assert!((p[0] - want).abs() < 1e-12);
}

// ---- L2 weight decay: torch's formulas, two steps by hand ---------------------------------
//
// torch.optim (SGD, Adagrad, RMSprop) adds the decay to the gradient before anything else:
// g ← g + wd·θ. Two parameters of opposite sign and two steps, so the decay acts on a moved θ and
// on the optimizer's state.

const WD: f64 = 0.3;
const LR: f64 = 0.1;
const P0: [f64; 2] = [2.0, -1.5];
const G: [[f64; 2]; 2] = [[-0.5, 0.25], [0.75, -1.0]];

fn two_steps(opt: &mut dyn Optimizer) -> Vec<f64> {
    let mut p = P0.to_vec();
    for g in G {
        opt.step(&mut p, &g, LR).unwrap();
    }
    p
}

fn assert_all_close(got: &[f64], want: &[f64], what: &str) {
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() < 1e-14, "{what}: got {got:?}, want {want:?}");
    }
}

#[test]
fn sgd_weight_decay_follows_torch() {
    let want: Vec<f64> = (0..2)
        .map(|i| {
            let p1 = P0[i] - LR * (G[0][i] + WD * P0[i]);
            p1 - LR * (G[1][i] + WD * p1)
        })
        .collect();
    let mut opt = Sgd::try_new(0.0, 0.0, WD, false).unwrap();
    assert_all_close(&two_steps(&mut opt), &want, "sgd");
}

#[test]
fn momentum_weight_decay_follows_torch() {
    // buf₁ = g₁' (no dampening on the first step), buf₂ = μ buf₁ + (1 − d) g₂'.
    let (mu, damp) = (0.9, 0.25);
    let want: Vec<f64> = (0..2)
        .map(|i| {
            let g1 = G[0][i] + WD * P0[i];
            let p1 = P0[i] - LR * g1;
            let g2 = G[1][i] + WD * p1;
            p1 - LR * (mu * g1 + (1.0 - damp) * g2)
        })
        .collect();
    let mut opt = Momentum::try_new(mu, damp, WD).unwrap();
    assert_all_close(&two_steps(&mut opt), &want, "momentum");
}

#[test]
fn nesterov_weight_decay_follows_torch() {
    // buf as momentum (no dampening); the step uses g' + μ buf.
    let mu = 0.9;
    let want: Vec<f64> = (0..2)
        .map(|i| {
            let g1 = G[0][i] + WD * P0[i];
            let p1 = P0[i] - LR * (g1 + mu * g1);
            let g2 = G[1][i] + WD * p1;
            let b2 = mu * g1 + g2;
            p1 - LR * (g2 + mu * b2)
        })
        .collect();
    let mut opt = Nesterov::try_new(mu, WD).unwrap();
    assert_all_close(&two_steps(&mut opt), &want, "nesterov");
}

#[test]
fn adagrad_weight_decay_follows_torch() {
    // sum += g'², θ −= lr g' / (√sum + eps), eps = 1e-10, no lr decay.
    let eps = 1e-10;
    let want: Vec<f64> = (0..2)
        .map(|i| {
            let g1 = G[0][i] + WD * P0[i];
            let p1 = P0[i] - LR * g1 / ((g1 * g1).sqrt() + eps);
            let g2 = G[1][i] + WD * p1;
            p1 - LR * g2 / ((g1 * g1 + g2 * g2).sqrt() + eps)
        })
        .collect();
    let mut opt = Adagrad::new().with_weight_decay(WD).unwrap();
    assert_all_close(&two_steps(&mut opt), &want, "adagrad");
}

#[test]
fn rmsprop_weight_decay_follows_torch() {
    // v = α v + (1 − α) g'², θ −= lr g' / (√v + eps), α = 0.99, eps = 1e-8.
    let (a, eps) = (0.99, 1e-8);
    let want: Vec<f64> = (0..2)
        .map(|i| {
            let g1 = G[0][i] + WD * P0[i];
            let v1 = (1.0 - a) * g1 * g1;
            let p1 = P0[i] - LR * g1 / (v1.sqrt() + eps);
            let g2 = G[1][i] + WD * p1;
            let v2 = a * v1 + (1.0 - a) * g2 * g2;
            p1 - LR * g2 / (v2.sqrt() + eps)
        })
        .collect();
    let mut opt = RmsProp::new().with_weight_decay(WD).unwrap();
    assert_all_close(&two_steps(&mut opt), &want, "rmsprop");
}

/// Adam over 2^18 + 777 parameters takes its parallel branch; a sequential recomputation from
/// torch's formulas (L2 weight decay, bias corrections) must match every element after three
/// steps.
#[test]
fn adam_parallel_branch_matches_a_sequential_recomputation() {
    let n = (1usize << 18) + 777;
    let (lr, b1, b2, eps, wd) = (0.01, 0.9, 0.999, 1e-8, 0.02);
    let p0: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.001).sin() * 2.0).collect();
    let grad = |t: usize, i: usize| ((i as f64) * 0.37 + t as f64).cos() + 0.1 * t as f64;
    let mut opt = Adam::new().with_weight_decay(wd).unwrap();
    let mut p = p0.clone();
    for t in 0..3 {
        let g: Vec<f64> = (0..n).map(|i| grad(t, i)).collect();
        opt.step(&mut p, &g, lr).unwrap();
    }
    let mut worst = 0.0f64;
    for i in 0..n {
        let (mut q, mut m, mut v) = (p0[i], 0.0, 0.0);
        for t in 0..3 {
            let g = grad(t, i) + wd * q;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let k = (t + 1) as i32;
            let (bc1, bc2) = (1.0 - b1.powi(k), 1.0 - b2.powi(k));
            q -= lr / bc1 * m / (v.sqrt() / bc2.sqrt() + eps);
        }
        worst = worst.max((p[i] - q).abs());
    }
    assert!(worst < 1e-13, "largest difference {worst:e}");
}
