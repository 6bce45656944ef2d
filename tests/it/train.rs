//! Training from given weights against PyTorch (fixtures/generate_torch_train.py: float64,
//! in-order batches, clip_grad_norm_, SGD with momentum, Adam, ReduceLROnPlateau), the
//! executor's observers, stopping and divergence, and schedules stepped per update.

use super::util::{assert_all_close, critpt, critpt_json, nums};
use crate::util::repo;
use critpt::nn::{
    load_model, train, Activation, BnMode, Dataset, LossKind, Mlp, NetLoss, Task, TrainConfig,
    TrainSource,
};
use critpt::objective::Gradient;
use critpt::optim::{
    clip_grad_norm, optimizer_by_name, BatchLoss, BatchSize, Batched, Batching, EpochState, Every,
    Executor, Hyper, MiniBatchRunner, ObserverAction, OnEpoch, OnUpdate, Plateau, Rates, Runner,
    Schedule, Sgd, State, StopReason,
};
use std::path::PathBuf;

/// A scratch directory removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = std::env::temp_dir().join(format!("critpt-train-{}-{k}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn runs_fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(repo("fixtures/iris_train_runs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn iris() -> Dataset {
    Dataset::from_csv(
        &repo("data/iris.csv"),
        None,
        Task::Classification { n_classes: None },
    )
    .unwrap()
}

/// The optimizer a fixture run names (its CLI flags).
fn optimizer_of(run: &serde_json::Value) -> Box<dyn critpt::optim::Optimizer> {
    let cli: Vec<&str> = run["cli"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let name = cli[1];
    let momentum = cli
        .iter()
        .position(|&a| a == "--momentum")
        .map(|i| cli[i + 1].parse().unwrap());
    optimizer_by_name(
        name,
        &Hyper {
            momentum,
            ..Hyper::default()
        },
    )
    .unwrap()
}

fn config_of(run: &serde_json::Value) -> TrainConfig {
    TrainConfig {
        batch_size: run["batch_size"].as_u64().unwrap() as usize,
        epochs: run["epochs"].as_u64().unwrap() as usize,
        shuffle: false,
        clip_grad_norm: run["clip_grad_norm"].as_f64(),
        plateau: run["plateau"].as_object().map(|p| {
            Plateau::new(
                p["factor"].as_f64().unwrap(),
                p["patience"].as_u64().unwrap() as usize,
            )
            .unwrap()
        }),
        ..TrainConfig::default()
    }
}

fn lr_of(run: &serde_json::Value) -> f64 {
    let cli = run["cli"].as_array().unwrap();
    let i = cli.iter().position(|a| a == "--lr").unwrap();
    cli[i + 1].as_str().unwrap().parse().unwrap()
}

#[test]
fn init_file_holds_the_fixtures_start() {
    let fx = runs_fixture();
    let file = load_model(&repo("fixtures/iris_train_init.safetensors"), None).unwrap();
    assert_eq!(file.model.sizes(), vec![4, 8, 3]);
    assert_eq!(file.model.activation(), Some(Activation::Tanh));
    assert_eq!(file.loss, Some(LossKind::CrossEntropy));
    // serde_json's float parsing may be one ulp off.
    assert_all_close(
        "start",
        &file.model.params,
        &nums(&fx["initial_params"]),
        1e-15,
    );
}

#[test]
fn library_training_matches_torch_at_every_step() {
    let fx = runs_fixture();
    let data = iris();
    for run in fx["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        let mut model = load_model(&repo("fixtures/iris_train_init.safetensors"), None)
            .unwrap()
            .model;
        let mut path = Vec::new();
        let mut keep = OnUpdate(|s: &State<'_, TrainSource<'_>>| {
            if s.update > 0 {
                path.push(s.params.to_vec());
            }
            Ok(ObserverAction::Continue)
        });
        let mut opt = optimizer_of(run);
        let rep = train(
            &mut model,
            &data,
            LossKind::CrossEntropy,
            opt.as_mut(),
            &Rates::constant(lr_of(run)).unwrap(),
            &config_of(run),
            &mut [&mut keep],
        )
        .unwrap();
        let steps = run["steps"].as_array().unwrap();
        assert_eq!(rep.steps, steps.len(), "{name}");
        let losses: Vec<f64> = steps.iter().map(|s| s["loss"].as_f64().unwrap()).collect();
        let lrs: Vec<f64> = steps.iter().map(|s| s["lr"].as_f64().unwrap()).collect();
        assert_all_close(name, &rep.batch_losses, &losses, 1e-10);
        assert_all_close(name, &rep.learning_rates, &lrs, 1e-15);
        for (k, s) in steps.iter().enumerate() {
            assert_all_close(
                &format!("{name} step {k}"),
                &path[k],
                &nums(&s["params"]),
                1e-10,
            );
        }
        let epoch_losses: Vec<f64> = rep.epochs.iter().map(|e| e.train_loss).collect();
        assert_all_close(name, &epoch_losses, &nums(&run["epoch_losses"]), 1e-10);
        assert_eq!(model.params, *path.last().unwrap());
        // One batch evaluation per step and one whole-set evaluation per epoch.
        assert_eq!(rep.counts.gradients, steps.len());
        assert_eq!(rep.counts.losses, steps.len() + rep.epochs.len());
    }
    // The fixtures exercise what they are for: clipping on and off, and plateau reductions.
    for run in fx["runs"].as_array().unwrap() {
        let c = run["clip_grad_norm"].as_f64().unwrap();
        let norms: Vec<f64> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["grad_norm"].as_f64().unwrap())
            .collect();
        assert!(norms.iter().any(|&g| g > c) && norms.iter().any(|&g| g < c));
    }
    let plateau = &fx["runs"][2]["steps"];
    let last_lr = plateau.as_array().unwrap().last().unwrap()["lr"]
        .as_f64()
        .unwrap();
    assert_eq!(last_lr, 0.125);
}

#[test]
fn cli_training_from_given_weights_matches_torch() {
    let fx = runs_fixture();
    let dir = TempDir::new();
    for run in fx["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        let out = dir.0.as_path().join(format!("{name}.safetensors"));
        let batch = run["batch_size"].to_string();
        let epochs = run["epochs"].to_string();
        let clip = run["clip_grad_norm"].to_string();
        let mut args = vec![
            "train",
            "--data",
            "data/iris.csv",
            "--init",
            "fixtures/iris_train_init.safetensors",
            "--no-shuffle",
            "--clip-grad-norm",
            &clip,
            "--batch-size",
            &batch,
            "--epochs",
            &epochs,
            "--out",
            out.to_str().unwrap(),
        ];
        let plateau = run["plateau"]
            .as_object()
            .map(|p| format!("{}:{}", p["factor"].as_f64().unwrap(), p["patience"]));
        if let Some(p) = &plateau {
            args.extend(["--lr-plateau", p.as_str()]);
        }
        let cli: Vec<&str> = run["cli"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        args.extend(cli);
        let v = critpt_json(&args);
        let steps = run["steps"].as_array().unwrap();
        let losses: Vec<f64> = steps.iter().map(|s| s["loss"].as_f64().unwrap()).collect();
        let lrs: Vec<f64> = steps.iter().map(|s| s["lr"].as_f64().unwrap()).collect();
        assert_all_close(name, &nums(&v["batch_losses"]), &losses, 1e-10);
        assert_all_close(name, &nums(&v["learning_rates"]), &lrs, 1e-15);
        let saved = load_model(&out, None).unwrap();
        let last = nums(&steps.last().unwrap()["params"]);
        assert_all_close(name, &saved.model.params, &last, 1e-10);
        assert_eq!(saved.loss, Some(LossKind::CrossEntropy));
        assert_eq!(saved.model.activation(), Some(Activation::Tanh));
    }
}

#[test]
fn zero_epochs_write_the_initial_model_unchanged() {
    let dir = TempDir::new();
    let out = dir.0.as_path().join("same.safetensors");
    let v = critpt_json(&[
        "train",
        "--data",
        "data/iris.csv",
        "--init",
        "fixtures/iris_train_init.safetensors",
        "--epochs",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(v["steps"], 0);
    let init = load_model(&repo("fixtures/iris_train_init.safetensors"), None).unwrap();
    let saved = load_model(&out, None).unwrap();
    assert_eq!(saved.model.params, init.model.params);
    assert_eq!(saved.model.sizes(), init.model.sizes());
    // The reported loss is the initial model's, computed independently here.
    let data = iris();
    let obj = NetLoss::new(&init.model, &data, LossKind::CrossEntropy, BnMode::Eval).unwrap();
    let want = critpt::objective::Loss::loss(&obj, &init.model.params).unwrap();
    let got = v["loss"].as_f64().unwrap();
    assert_eq!(got.to_bits(), want.to_bits(), "{got} vs {want}");
}

/// The binary prints the same bytes and writes the same model on one thread and on two:
/// shuffled mini-batches with batch norm, then the loss and accuracy over the whole set.
#[test]
fn cli_training_is_the_same_bytes_on_one_and_two_threads() {
    let dir = TempDir::new();
    let run = |threads: &str| {
        let out = dir.0.join(format!("t{threads}.safetensors"));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_critpt"))
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "train",
                "--data",
                "data/digits.csv",
                "--layers",
                "64,64,10",
                "--batchnorm",
                "--epochs",
                "2",
                "--batch-size",
                "128",
                "--seed",
                "5",
                "--json",
                "--out",
                out.to_str().unwrap(),
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json = String::from_utf8(o.stdout).unwrap();
        // The output path names the thread count and the wall time differs; every other line
        // must be the same.
        let json: Vec<String> = json
            .replace(&format!("t{threads}.safetensors"), "t.safetensors")
            .lines()
            .filter(|l| !l.trim_start().starts_with("\"seconds\""))
            .map(str::to_string)
            .collect();
        (json, std::fs::read(&out).unwrap())
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one.0, two.0);
    assert!(one.1 == two.1, "the saved models differ");
}

#[test]
fn init_conflicts_are_one_line_errors() {
    let dir = TempDir::new();
    let out = dir.0.as_path().join("x.safetensors");
    let base = [
        "train",
        "--data",
        "data/iris.csv",
        "--init",
        "fixtures/iris_train_init.safetensors",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    for extra in [
        &["--layers", "4,16,3"][..],
        &["--activation", "relu"],
        &["--loss", "mse"],
        &["--batchnorm"],
        &["--clip-grad-norm", "0"],
        &["--clip-grad-norm", "-1"],
        &["--lr-plateau", "2:1"],
        &["--lr-plateau", "0.5"],
        &["--lr-plateau", "0.5:x"],
    ] {
        let mut args = base.to_vec();
        args.extend(extra);
        let o = critpt(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.trim_end().lines().count() == 1,
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // Matching flags are not a conflict.
    let mut args = base.to_vec();
    args.extend([
        "--layers",
        "4,8,3",
        "--activation",
        "tanh",
        "--loss",
        "cross-entropy",
    ]);
    assert!(critpt(&args).status.success());
    // Neither --layers nor --init.
    let o = critpt(&[
        "train",
        "--data",
        "data/iris.csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn divergence_in_train_is_reported_and_the_cli_makes_it_an_error() {
    let data = iris();
    let mut model = Mlp::new(&[4, 8, 3], Activation::Relu, false, 0).unwrap();
    let rep = train(
        &mut model,
        &data,
        LossKind::Mse,
        &mut Sgd::new(),
        &Rates::constant(1e6).unwrap(),
        &TrainConfig {
            batch_size: 10,
            epochs: 50,
            ..TrainConfig::default()
        },
        &mut [],
    )
    .unwrap();
    let d = rep.divergence.expect("diverges");
    assert_eq!(rep.stop, StopReason::Diverged);
    assert!(!d.value.is_finite());
    assert!(d.step <= rep.steps && d.step >= 1);
    assert!(rep.clone().check_diverged().is_err());
    let dir = TempDir::new();
    let o = critpt(&[
        "train",
        "--data",
        "data/iris.csv",
        "--layers",
        "4,8,1",
        "--activation",
        "relu",
        "--loss",
        "mse",
        "--target",
        "label",
        "--optimizer",
        "sgd",
        "--lr",
        "1e6",
        "--batch-size",
        "10",
        "--epochs",
        "50",
        "--out",
        dir.0.as_path().join("d.safetensors").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: training diverged at step"), "{err}");
}

/// `θ ← θ − η·2(θ − c)` for every sample equal to `c`: the same update whatever the batch, so
/// the path depends only on the rates, and the rates on whether the schedule is stepped per
/// update or per epoch.
struct Constant;

impl BatchLoss for Constant {
    fn n_samples(&self) -> usize {
        12
    }
    fn n_params(&self) -> usize {
        1
    }
    fn loss_and_gradient_on(&self, p: &[f64], _: &[usize], g: &mut [f64]) -> critpt::Result<f64> {
        g[0] = 2.0 * (p[0] - 3.0);
        Ok((p[0] - 3.0).powi(2))
    }
}

#[test]
fn minibatch_schedule_is_stepped_per_update() {
    // step:1:0.5 halves the rate after every step: 4 updates per epoch, 3 epochs.
    let s = Schedule::parse("step:1:0.5", 0.2).unwrap();
    let run = MiniBatchRunner::new(s, BatchSize::Fixed(3), 3)
        .unwrap()
        .run(&Constant, &mut Sgd::new(), &[1.0])
        .unwrap();
    assert_eq!(run.updates, 12);
    let want: Vec<f64> = (0..12).map(|u| 0.2 * 0.5f64.powi(u)).collect();
    assert_all_close("rates", &run.learning_rates, &want, 1e-15);
    let x = 3.0 - 2.0 * want.iter().map(|lr| 1.0 - 2.0 * lr).product::<f64>();
    assert!((run.params[0] - x).abs() < 1e-15);
    // Per epoch (a figure's deliberate choice) gives the epoch's rate to its 4 updates.
    let per_epoch = MiniBatchRunner::new(s, BatchSize::Fixed(3), 3)
        .unwrap()
        .with_schedule_per_epoch(true)
        .run(&Constant, &mut Sgd::new(), &[1.0])
        .unwrap();
    let want: Vec<f64> = (0..12).map(|u| 0.2 * 0.5f64.powi(u / 4)).collect();
    assert_all_close("per-epoch rates", &per_epoch.learning_rates, &want, 1e-15);
}

#[test]
fn train_schedule_is_stepped_per_update() {
    // In file order, recomputed here step by step with plain SGD on each batch's mean loss.
    let data = iris();
    let start = Mlp::new(&[4, 5, 3], Activation::Tanh, false, 2).unwrap();
    let s = Schedule::parse("exponential:0.8", 0.1).unwrap();
    let cfg = TrainConfig {
        batch_size: 40,
        epochs: 3,
        shuffle: false,
        ..TrainConfig::default()
    };
    let mut model = start.clone();
    let rep = train(
        &mut model,
        &data,
        LossKind::CrossEntropy,
        &mut Sgd::new(),
        &Rates::Schedule(s),
        &cfg,
        &mut [],
    )
    .unwrap();
    assert_eq!(rep.steps, 12);
    let mut p = start.params.clone();
    let mut g = vec![0.0; p.len()];
    let mut u = 0u64;
    for _ in 0..3 {
        for lo in (0..150).step_by(40) {
            let idx: Vec<usize> = (lo..(lo + 40).min(150)).collect();
            let (x, t) = data.select(&idx);
            let obj =
                NetLoss::from_parts(&start, x, t, LossKind::CrossEntropy, BnMode::Train).unwrap();
            obj.gradient(&p, &mut g).unwrap();
            let lr = 0.1 * 0.8f64.powi(u as i32);
            for (pi, gi) in p.iter_mut().zip(&g) {
                *pi -= lr * gi;
            }
            u += 1;
        }
    }
    assert_all_close("params", &model.params, &p, 1e-13);
    let want: Vec<f64> = (0..12).map(|k| 0.1 * 0.8f64.powi(k)).collect();
    assert_all_close("rates", &rep.learning_rates, &want, 1e-15);
}

#[test]
fn observers_stop_the_run_every_k_and_see_the_counts() {
    let f = critpt::expr::Formula::parse("x^2 + 4*y^2").unwrap();
    let mut seen = Vec::new();
    let mut every = Every::new(
        5,
        OnUpdate(|s: &State<'_, _>| {
            seen.push((s.update, s.counts.gradients));
            Ok(if s.update == 15 {
                ObserverAction::Stop("enough".into())
            } else {
                ObserverAction::Continue
            })
        }),
    );
    let (t, run) = Runner::new(Schedule::constant(0.1).unwrap(), 100)
        .run_observed(&f, &mut Sgd::new(), &[1.0, 1.0], &mut [&mut every])
        .unwrap();
    // Full batch: point k has been evaluated k + 1 times.
    assert_eq!(seen, vec![(0, 1), (5, 6), (10, 11), (15, 16)]);
    assert_eq!(run.stop, StopReason::Observer("enough".into()));
    assert_eq!(t.steps, 15);
    assert_eq!(run.counts.gradients, 16);
    assert_eq!(t.counts, run.counts);
    // An observer's error ends the run with that error.
    let mut fail = OnUpdate(|s: &State<'_, _>| {
        if s.update == 3 {
            Err(critpt::Error::invalid("observer", "fails at 3"))
        } else {
            Ok(ObserverAction::Continue)
        }
    });
    let err = Runner::new(Schedule::constant(0.1).unwrap(), 100)
        .run_observed(&f, &mut Sgd::new(), &[1.0, 1.0], &mut [&mut fail])
        .unwrap_err();
    assert!(err.to_string().contains("fails at 3"));
}

#[test]
fn record_every_keeps_the_start_every_kth_and_the_last_point() {
    let f = critpt::expr::Formula::parse("x^2 + 4*y^2").unwrap();
    let s = Schedule::constant(0.05).unwrap();
    let full = Runner::new(s, 20)
        .run(&f, &mut Sgd::new(), &[1.0, -1.0])
        .unwrap();
    let thin = Runner::new(s, 20)
        .with_record_every(7)
        .unwrap()
        .run(&f, &mut Sgd::new(), &[1.0, -1.0])
        .unwrap();
    assert_eq!(thin.recorded_steps, vec![0, 7, 14, 20]);
    for (i, &k) in thin.recorded_steps.iter().enumerate() {
        assert_eq!(thin.path[i], full.path[k]);
        assert_eq!(thin.values[i], full.values[k]);
        assert_eq!(thin.gradient_norms[i], full.gradient_norms[k]);
    }
    assert_eq!(thin.learning_rates, full.learning_rates);
    assert_eq!(thin.steps, 20);
    assert!(Runner::new(s, 20).with_record_every(0).is_err());
    // The CLI reports the kept steps.
    let v = critpt_json(&[
        "optimize",
        "--expr",
        "x^2 + 4*y^2",
        "--start",
        "1,-1",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--steps",
        "20",
        "--record-every",
        "7",
    ]);
    assert_eq!(nums(&v["recorded_steps"]), vec![0.0, 7.0, 14.0, 20.0]);
    assert_eq!(v["path"].as_array().unwrap().len(), 4);
    assert_all_close("last point", &nums(&v["path"][3]), &full.path[20], 0.0);
    assert_eq!(v["counts"]["gradients"], 21);
    let o = critpt(&[
        "optimize",
        "--expr",
        "x^2",
        "--start",
        "1",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--record-every",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn clip_grad_norm_scales_as_torch() {
    // ‖(3, 4)‖ = 5: scaled by 1/(5 + 1e-6); a norm under the maximum is left alone.
    let mut g = vec![3.0, 4.0];
    clip_grad_norm(&mut g, 1.0);
    let c = 1.0 / (5.0 + 1e-6);
    assert_eq!(g, vec![3.0 * c, 4.0 * c]);
    let mut g = vec![0.3, 0.4];
    clip_grad_norm(&mut g, 1.0);
    assert_eq!(g, vec![0.3, 0.4]);
}

#[test]
fn executor_reports_divergence_with_step_and_value() {
    // x ← x − η·2x with η = 10: |x| grows 19× per step until it overflows.
    let f = critpt::expr::Formula::parse("x^2").unwrap();
    let t = Runner::new(Schedule::constant(10.0).unwrap(), 1000)
        .run(&f, &mut Sgd::new(), &[1.0])
        .unwrap();
    assert!(t.diverged);
    let k = t.diverged_at_step.unwrap();
    // 19^k overflows f64 (or its square does) first near k = 241 / 2.
    assert!((115..=245).contains(&k), "{k}");
    assert_eq!(t.steps, k - 1);
    assert!(t.path.iter().flatten().all(|v| v.is_finite()));
    // The same through the executor with in-order batches of a mean loss.
    let run = Executor::new(Rates::constant(1e3).unwrap(), Batching::InOrder(5), 1000)
        .run(
            &mut Batched::new(&Constant),
            &mut Sgd::new(),
            &[1.0],
            &mut [],
        )
        .unwrap();
    let d = run.divergence.unwrap();
    assert_eq!(run.stop, StopReason::Diverged);
    assert!(!d.value.is_finite());
    assert!(run.check_diverged().is_err());
}

#[test]
fn epoch_observers_see_the_mean_training_loss() {
    // Constant's loss at the start of each of the 4 batches of an epoch, weighted by batch
    // size (3, 3, 3, 3), is the epoch's mean loss.
    let mut means = Vec::new();
    let mut watch = OnEpoch(|e: &EpochState<'_, _>| {
        means.push(e.mean_loss);
        Ok(ObserverAction::Continue)
    });
    let run = Executor::new(Rates::constant(0.1).unwrap(), Batching::InOrder(3), 2)
        .run(
            &mut Batched::new(&Constant),
            &mut Sgd::new(),
            &[1.0],
            &mut [&mut watch],
        )
        .unwrap();
    let want: Vec<f64> = run
        .batch_losses
        .chunks(4)
        .map(|c| c.iter().sum::<f64>() / 4.0)
        .collect();
    assert_all_close("means", &means, &want, 1e-15);
    // x − 3 shrinks by 0.8 per update: the loss of update u is 4·0.64^u.
    let closed: Vec<f64> = (0..8).map(|u| 4.0 * 0.64f64.powi(u)).collect();
    assert_all_close("batch losses", &run.batch_losses, &closed, 1e-14);
}
