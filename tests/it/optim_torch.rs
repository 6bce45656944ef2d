//! NAdam, RAdam, Adamax, Adadelta, Rprop and the torch.optim.lr_scheduler schedules against
//! fixtures/torch_optim_extra.json (written by fixtures/generate_torch_optim.py).

use crate::util::{critpt, critpt_json, nums};
use critpt::optim::{default_lr, optimizer_by_name, Hyper, Runner, Schedule, ScheduleKind};
use critpt::surfaces;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Every point of every path within this of torch's (absolute, coordinates are O(1)).
const PATH_TOL: f64 = 1e-10;
/// Every rate within this of torch's, relative to the schedule's largest rate.
const RATE_TOL: f64 = 1e-12;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = format!(
            "{}/fixtures/torch_optim_extra.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn points(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(nums).collect()
}

fn max_abs_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(p, q)| {
            assert_eq!(p.len(), q.len());
            p.iter().zip(q).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f64::max)
}

/// The largest deviation of `rates` from torch's `expected`, relative to the largest rate.
fn rate_deviation(rates: &[f64], expected: &[f64]) -> f64 {
    assert_eq!(rates.len(), expected.len());
    let scale = expected.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
    rates
        .iter()
        .zip(expected)
        .map(|(r, e)| (r - e).abs() / scale)
        .fold(0.0, f64::max)
}

fn pair(v: &Value) -> (f64, f64) {
    let v = nums(v);
    (v[0], v[1])
}

/// The `Hyper` for one case's torch keyword arguments (the rate aside).
fn hyper_of(kw: &Value) -> Hyper {
    let f = |k: &str| kw.get(k).and_then(Value::as_f64);
    let betas = kw.get("betas").map(pair);
    Hyper {
        beta1: betas.map(|b| b.0),
        beta2: betas.map(|b| b.1),
        eps: f("eps"),
        weight_decay: f("weight_decay"),
        rho: f("rho"),
        momentum_decay: f("momentum_decay"),
        decoupled_weight_decay: kw.get("decoupled_weight_decay").and_then(Value::as_bool)
            == Some(true),
        etas: kw.get("etas").map(pair),
        step_sizes: kw.get("step_sizes").map(pair),
        initial_accumulator_value: f("initial_accumulator_value"),
        ..Hyper::default()
    }
}

/// The command-line flags for one case's torch keyword arguments (with `--lr` only where torch
/// was given one, so the defaults are checked too).
fn flags_of(kw: &Value) -> Vec<String> {
    let mut args = Vec::new();
    for (key, value) in kw.as_object().unwrap() {
        let list = |v: &Value| {
            let (a, b) = pair(v);
            format!("{a},{b}")
        };
        match key.as_str() {
            "betas" => {
                let (b1, b2) = pair(value);
                args.extend(["--beta1".into(), b1.to_string()]);
                args.extend(["--beta2".into(), b2.to_string()]);
            }
            "etas" | "step_sizes" => {
                args.extend([format!("--{}", key.replace('_', "-")), list(value)]);
            }
            "decoupled_weight_decay" => {
                assert_eq!(value, &Value::Bool(true));
                args.push("--decoupled-weight-decay".into());
            }
            _ => args.extend([format!("--{}", key.replace('_', "-")), value.to_string()]),
        }
    }
    args
}

fn start_arg(case: &Value) -> String {
    let s = nums(&case["start"]);
    format!("{},{}", s[0], s[1])
}

fn steps() -> usize {
    fixture()["steps"].as_u64().unwrap() as usize
}

#[test]
fn optimizer_paths_match_torch_through_the_library() {
    let mut worst: BTreeMap<String, f64> = BTreeMap::new();
    let cases = fixture()["optimizers"].as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let name = case["optimizer"].as_str().unwrap();
        let kw = &case["torch_kwargs"];
        let lr = match kw.get("lr") {
            Some(lr) => lr.as_f64().unwrap(),
            None => default_lr(name).unwrap().unwrap(),
        };
        let f = surfaces::by_name(case["surface"].as_str().unwrap())
            .unwrap()
            .formula();
        let expected = points(&case["path"]);
        assert_eq!(expected.len(), steps() + 1);
        let mut opt = optimizer_by_name(name, &hyper_of(kw)).unwrap();
        let run = Runner::new(Schedule::constant(lr).unwrap(), steps())
            .run(&f, opt.as_mut(), &nums(&case["start"]))
            .unwrap();
        assert!(!run.diverged, "{}", case["torch"]);
        let err = max_abs_diff(&run.path, &expected);
        assert!(
            err <= PATH_TOL,
            "{} on {}: max deviation from torch {err:e}",
            case["torch"],
            case["surface"]
        );
        let w = worst.entry(name.to_string()).or_default();
        *w = w.max(err);
    }
    // The five new optimizers and adagrad's initial accumulator value are all covered.
    let names: Vec<&str> = worst.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["adadelta", "adagrad", "adamax", "nadam", "radam", "rprop"]
    );
    eprintln!("max deviation from torch per optimizer: {worst:?}");
}

#[test]
fn optimizer_paths_match_torch_through_the_cli() {
    for case in fixture()["optimizers"].as_array().unwrap() {
        let name = case["optimizer"].as_str().unwrap();
        let steps = steps().to_string();
        let start = start_arg(case);
        let mut args: Vec<String> = [
            "optimize",
            "--fn",
            case["surface"].as_str().unwrap(),
            "--start",
            &start,
            "--steps",
            &steps,
            "--optimizer",
            name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(flags_of(&case["torch_kwargs"]));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let json = critpt_json(&args);
        assert_eq!(json["optimizer"], name);
        assert_eq!(json["diverged"], false);
        let err = max_abs_diff(&points(&json["path"]), &points(&case["path"]));
        assert!(
            err <= PATH_TOL,
            "{}: max deviation from torch {err:e}",
            case["torch"]
        );
    }
}

/// Distance in units of the last place between two finite rates of the same sign.
fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
}

#[test]
fn schedules_match_torch_get_last_lr() {
    let mut worst: Vec<(String, u64)> = Vec::new();
    let cases = fixture()["schedules"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        // torch's values exactly, from their bit patterns.
        let expected: Vec<f64> = case["lrs_bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| f64::from_bits(b.as_u64().unwrap()))
            .collect();
        // The bit patterns are the decimal values (to serde_json's parsing).
        assert!(
            rate_deviation(&nums(&case["lrs"]), &expected) <= 1e-15,
            "{spec}"
        );
        let rates = Schedule::parse(spec, case["base_lr"].as_f64().unwrap())
            .unwrap()
            .rates(expected.len());
        let dev = rate_deviation(&rates, &expected);
        assert!(dev <= RATE_TOL, "{spec}: deviation from torch {dev:e}");
        let max_ulps = rates
            .iter()
            .zip(&expected)
            .map(|(&r, &e)| ulps(r, e))
            .max()
            .unwrap();
        // Where torch evaluates a closed form (or the same products), the rate is torch's to
        // the bit; where it multiplies the last rate by a ratio (LinearLR, PolynomialLR), its
        // rounding accumulates and the closed form is a few units of the last place away.
        let recursive = spec.starts_with("linear:") || spec.starts_with("polynomial:");
        if !recursive {
            assert_eq!(max_ulps, 0, "{spec}: {rates:?}");
        } else {
            assert!(max_ulps <= 8, "{spec}: {max_ulps} ulps");
        }
        worst.push((spec.to_string(), max_ulps));
    }
    eprintln!("max distance from torch per schedule (ulps): {worst:?}");
}

/// The paths under SGD and Adam with each new schedule, and the rates each step used.
#[test]
fn scheduled_paths_match_torch_through_the_library_and_the_cli() {
    let f = surfaces::by_name("himmelblau").unwrap().formula();
    for case in fixture()["schedules"].as_array().unwrap() {
        let spec = case["spec"].as_str().unwrap();
        for name in ["sgd", "adam"] {
            let torch = &case["paths"][name];
            let lr = torch["lr"].as_f64().unwrap();
            let expected = points(&torch["path"]);
            let expected_rates = nums(&torch["learning_rates"]);
            let mut opt = optimizer_by_name(name, &Hyper::default()).unwrap();
            let run = Runner::new(Schedule::parse(spec, lr).unwrap(), steps())
                .run(&f, opt.as_mut(), &nums(&torch["start"]))
                .unwrap();
            let dev = rate_deviation(&run.learning_rates, &expected_rates);
            assert!(dev <= RATE_TOL, "{spec} {name}: rates {dev:e}");
            let err = max_abs_diff(&run.path, &expected);
            assert!(err <= PATH_TOL, "{spec} {name}: path {err:e}");

            let (lr_text, steps, start) = (lr.to_string(), steps().to_string(), start_arg(torch));
            let json = critpt_json(&[
                "optimize",
                "--fn",
                "himmelblau",
                "--start",
                &start,
                "--steps",
                &steps,
                "--optimizer",
                name,
                "--lr",
                &lr_text,
                "--schedule",
                spec,
            ]);
            let dev = rate_deviation(&nums(&json["learning_rates"]), &expected_rates);
            assert!(dev <= RATE_TOL, "{spec} {name} (cli): rates {dev:e}");
            let err = max_abs_diff(&points(&json["path"]), &expected);
            assert!(err <= PATH_TOL, "{spec} {name} (cli): path {err:e}");
        }
    }
}

#[test]
fn onecycle_and_cyclic_need_no_base_rate() {
    // SGD has no default rate, but these schedules set their own.
    let json = critpt_json(&[
        "optimize",
        "--fn",
        "himmelblau",
        "--start",
        "-1,1",
        "--steps",
        "5",
        "--optimizer",
        "sgd",
        "--schedule",
        "onecycle:0.02:60",
    ]);
    // OneCycleLR starts at MAX_LR / div_factor 25.
    let rates = nums(&json["learning_rates"]);
    assert!((rates[0] - 0.02 / 25.0).abs() < 1e-17);
    assert_eq!(json["lr"].as_f64().unwrap(), rates[0]);
    // Any base rate gives the same rates.
    let a = Schedule::parse("cyclic:0.001:0.02:7:triangular2", 0.5).unwrap();
    let b = Schedule::parse("cyclic:0.001:0.02:7:triangular2", 3.0).unwrap();
    assert_eq!(a.rates(50), b.rates(50));
}

#[test]
fn onecycle_holds_its_last_rate_beyond_total_steps() {
    // torch raises past TOTAL_STEPS; critpt keeps step TOTAL_STEPS's rate.
    let s = Schedule::parse("onecycle:0.02:60", 1.0).unwrap();
    let last = s.lr(60);
    for k in [61, 62, 100, 10_000, u64::MAX] {
        assert_eq!(s.lr(k), last, "step {k}");
    }
    // Step TOTAL_STEPS - 1 is the end of the annealing: MAX_LR / 25 / 1e4.
    assert!((s.lr(59) - 0.02 / 25.0 / 1e4).abs() < 1e-18);
}

#[test]
fn new_schedules_follow_their_definitions() {
    // Independent evaluations of each definition at a few steps.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs().max(1e-3);
    // SGDR with T_0 = 5, T_mult = 2 restarts at steps 0, 5, 15, 35; mid-period is the mean.
    let s = Schedule::parse("cosine-restarts:5:2:0.1", 1.0).unwrap();
    for k in [0, 5, 15, 35] {
        assert!(close(s.lr(k), 1.0), "restart at {k}: {}", s.lr(k));
    }
    assert!(close(s.lr(10), 0.55), "{}", s.lr(10));
    assert!(close(s.lr(25), 0.55), "{}", s.lr(25));
    // Triangles: the peak at STEP_SIZE_UP, the base at 2 STEP_SIZE_UP; halved with triangular2.
    let s = Schedule::parse("cyclic:0.1:1.1:4", 1.0).unwrap();
    assert!(close(s.lr(4), 1.1) && close(s.lr(8), 0.1) && close(s.lr(12), 1.1));
    assert!(close(s.lr(2), 0.6));
    let s = Schedule::parse("cyclic:0.1:1.1:4:triangular2", 1.0).unwrap();
    assert!(close(s.lr(12), 0.6) && close(s.lr(20), 0.35));
    // Milestones counted up to and including k.
    let s = Schedule::parse("multistep:0.5:3,5", 2.0).unwrap();
    assert_eq!(s.rates(7), vec![2.0, 2.0, 2.0, 1.0, 1.0, 0.5, 0.5]);
    // Polynomial: (1 - k/T)^p, zero from T.
    let s = Schedule::parse("polynomial:4:2", 1.0).unwrap();
    assert!(close(s.lr(1), 0.5625) && s.lr(4) == 0.0 && s.lr(9) == 0.0);
    // Linear: from START_FACTOR to END_FACTOR over TOTAL_ITERS, constant after.
    let s = Schedule::parse("linear:1:0.2:4", 0.5).unwrap();
    assert!(close(s.lr(0), 0.5) && close(s.lr(2), 0.3) && close(s.lr(4), 0.1));
    assert!(close(s.lr(40), 0.1));
    // Every spec prints back in the grammar and parses to the same kind.
    for case in fixture()["schedules"].as_array().unwrap() {
        let kind: ScheduleKind = case["spec"].as_str().unwrap().parse().unwrap();
        assert_eq!(kind.to_string().parse::<ScheduleKind>().unwrap(), kind);
    }
}

#[test]
fn malformed_schedules_show_the_expected_form() {
    let cases = [
        ("multistep:0.1", "multistep:GAMMA:M1,M2,..."),
        ("multistep:0.1:10,5", "strictly increasing"),
        ("multistep:0.1:10,10", "strictly increasing"),
        ("multistep:0.1:10,x", "'x'"),
        ("multistep:0.1:", "milestones"),
        ("multistep:-0.1:10", "GAMMA"),
        ("polynomial", "polynomial:TOTAL_ITERS[:POWER]"),
        ("polynomial:0", "TOTAL_ITERS"),
        ("polynomial:10:-1", "POWER"),
        ("polynomial:10:2:3", "polynomial:TOTAL_ITERS[:POWER]"),
        ("cosine-restarts", "cosine-restarts:T_0[:T_MULT[:ETA_MIN]]"),
        ("cosine-restarts:0", "T_0"),
        ("cosine-restarts:5:0", "T_MULT"),
        ("cosine-restarts:5:1.5", "T_MULT"),
        ("cosine-restarts:5:2:-1", "ETA_MIN"),
        ("onecycle:0.1", "onecycle:MAX_LR:TOTAL_STEPS[:PCT_START]"),
        ("onecycle:0:100", "MAX_LR"),
        ("onecycle:0.1:0", "TOTAL_STEPS"),
        ("onecycle:0.1:100:1", "PCT_START"),
        ("onecycle:0.1:100:-0.1", "PCT_START"),
        ("onecycle:0.1:10:0.1", "length 0"),
        ("cyclic:0.1:1", "cyclic:BASE_LR:MAX_LR:STEP_SIZE_UP[:MODE]"),
        ("cyclic:-0.1:1:5", "BASE_LR"),
        ("cyclic:0.5:0.1:5", "MAX_LR"),
        ("cyclic:0.1:1:0", "STEP_SIZE_UP"),
        ("cyclic:0.1:1:5:exp_range", "MODE"),
        ("linear:0.1:1", "linear:START_FACTOR:END_FACTOR:TOTAL_ITERS"),
        ("linear:0:1:10", "START_FACTOR"),
        ("linear:1.5:1:10", "START_FACTOR"),
        ("linear:0.5:1.5:10", "END_FACTOR"),
        ("linear:0.5:1:0", "TOTAL_ITERS"),
        ("linear:nan:1:10", "START_FACTOR"),
    ];
    let milestones = |n: u64| {
        let list: Vec<String> = (1..=n).map(|m| m.to_string()).collect();
        format!("multistep:0.5:{}", list.join(","))
    };
    assert!(Schedule::parse(&milestones(16), 1.0).is_ok());
    let too_many = milestones(17);
    let mut all: Vec<(&str, &str)> = cases.to_vec();
    all.push((&too_many, "at most 16"));
    for (spec, want) in all {
        let msg = Schedule::parse(spec, 1.0).unwrap_err().to_string();
        assert!(msg.contains(want) && msg.contains(spec), "{spec}: {msg}");
        let out = critpt(&[
            "optimize",
            "--fn",
            "himmelblau",
            "--start",
            "0,0",
            "--optimizer",
            "adam",
            "--schedule",
            spec,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{spec}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{spec}: {err}"
        );
    }
}

#[test]
fn invalid_hyper_parameters_give_one_line_errors() {
    // (optimizer, flags, what the message names); torch's own checks and the flag forms.
    let cases: &[(&str, &[&str], &str)] = &[
        ("nadam", &["--beta1", "1"], "beta1"),
        ("nadam", &["--beta2", "-0.1"], "beta2"),
        (
            "nadam",
            &["--momentum-decay", "-1"],
            "invalid --momentum-decay",
        ),
        ("nadam", &["--eps", "0"], "eps"),
        ("nadam", &["--weight-decay", "-1"], "invalid --weight-decay"),
        ("radam", &["--beta1", "1.5"], "beta1"),
        (
            "radam",
            &["--weight-decay", "nan"],
            "invalid --weight-decay",
        ),
        ("adamax", &["--beta2", "1"], "beta2"),
        ("adamax", &["--eps", "-1e-8"], "eps"),
        ("adadelta", &["--rho", "1.5"], "rho"),
        ("adadelta", &["--rho", "-0.1"], "rho"),
        ("adadelta", &["--eps", "0"], "eps"),
        ("rprop", &["--etas", "0.5,0.9"], "etas"),
        ("rprop", &["--etas", "1,1.2"], "etas"),
        ("rprop", &["--etas", "0,1.2"], "etas"),
        ("rprop", &["--etas", "0.5"], "--etas"),
        ("rprop", &["--etas", "0.5,1.2,2"], "--etas"),
        ("rprop", &["--etas", "a,b"], "'a' is not a number"),
        ("rprop", &["--step-sizes", "0,1"], "step sizes"),
        ("rprop", &["--step-sizes", "2,1"], "step sizes"),
        ("rprop", &["--step-sizes", "1e-6,inf"], "--step-sizes"),
        (
            "adagrad",
            &["--initial-accumulator-value", "-1"],
            "accumulator",
        ),
        (
            "adam",
            &["--decoupled-weight-decay"],
            "--decoupled-weight-decay",
        ),
        ("adam", &["--rho", "0.9"], "--rho"),
        ("rprop", &["--weight-decay", "0.1"], "--weight-decay"),
        ("adamax", &["--momentum-decay", "0.1"], "--momentum-decay"),
        ("nadam", &["--etas", "0.5,1.2"], "--etas"),
        ("adadelta", &["--step-sizes", "1,2"], "--step-sizes"),
    ];
    for (name, flags, want) in cases {
        let mut args = vec![
            "optimize",
            "--fn",
            "himmelblau",
            "--start",
            "0,0",
            "--optimizer",
            name,
        ];
        args.extend_from_slice(flags);
        let out = critpt(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name} {flags:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1 && err.contains(want),
            "{name} {flags:?}: {err}"
        );
    }
    // The library's own checks, without the command line.
    let bad = |name: &str, h: Hyper| optimizer_by_name(name, &h).is_err();
    assert!(bad(
        "rprop",
        Hyper {
            etas: Some((0.5, f64::INFINITY)),
            ..Hyper::default()
        }
    ));
    assert!(bad(
        "adadelta",
        Hyper {
            rho: Some(f64::NAN),
            ..Hyper::default()
        }
    ));
    assert!(bad(
        "nadam",
        Hyper {
            momentum_decay: Some(f64::INFINITY),
            ..Hyper::default()
        }
    ));
    // The bounds themselves are accepted, as in torch.
    for (name, h) in [
        (
            "adadelta",
            Hyper {
                rho: Some(1.0),
                ..Hyper::default()
            },
        ),
        (
            "adadelta",
            Hyper {
                rho: Some(0.0),
                ..Hyper::default()
            },
        ),
        (
            "rprop",
            Hyper {
                step_sizes: Some((0.5, 0.5)),
                ..Hyper::default()
            },
        ),
        (
            "nadam",
            Hyper {
                beta1: Some(0.0),
                momentum_decay: Some(0.0),
                ..Hyper::default()
            },
        ),
    ] {
        assert!(optimizer_by_name(name, &h).is_ok(), "{name} {h:?}");
    }
}

#[test]
fn defaults_are_torchs() {
    // torch.optim's default learning rates.
    for (name, lr) in [
        ("nadam", 2e-3),
        ("radam", 1e-3),
        ("adamax", 2e-3),
        ("adadelta", 1.0),
        ("rprop", 1e-2),
    ] {
        assert_eq!(default_lr(name).unwrap(), Some(lr), "{name}");
    }
}

#[test]
fn rprop_reads_the_rate_only_at_its_first_step() {
    // torch's Rprop sets its step sizes from lr once; a schedule changes nothing after that.
    let f = surfaces::by_name("himmelblau").unwrap().formula();
    let run = |spec: &str| {
        let mut opt = optimizer_by_name("rprop", &Hyper::default()).unwrap();
        Runner::new(Schedule::parse(spec, 0.05).unwrap(), 30)
            .run(&f, opt.as_mut(), &[-1.0, 1.0])
            .unwrap()
    };
    let constant = run("constant");
    let decayed = run("exponential:0.5");
    assert_ne!(constant.learning_rates, decayed.learning_rates);
    assert_eq!(constant.path, decayed.path);
}
