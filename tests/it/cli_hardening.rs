//! Hostile input through the real binary: closed pipes, full disks, sizes beyond the documented
//! limits, data a model was not trained on, headerless CSVs, blank figures, negative flags.
//! Each case checks the exit status and the first stderr line.

use crate::util::critpt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("critpt-hardening-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

fn first_stderr_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Asserts exit status 1 and a one-line `error:` whose text contains `needle`.
fn assert_user_error(args: &[&str], needle: &str) {
    let o = critpt(args);
    let line = first_stderr_line(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {line}");
    assert!(
        line.starts_with("error: ") && line.contains(needle),
        "{args:?}: expected '{needle}' in: {line}"
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().count(),
        1,
        "{args:?}: more than one stderr line"
    );
}

/// Trains a small model into `dir/name`, returning its path.
fn train(dir: &Path, name: &str, extra: &[&str]) -> String {
    let out = dir.join(name).display().to_string();
    let mut args = vec!["train", "--epochs", "2", "--out", &out];
    args.extend_from_slice(extra);
    let o = critpt(&args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        &["find", "--fn", "two-weight", "--json"][..],
        &["find", "--fn", "himmelblau"][..],
        &["classify", "--fn", "himmelblau", "--at", "3,2"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_critpt"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the binary writes anything.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(o.status.code(), Some(101), "{args:?}: {stderr}");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("error:"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_full_disk_is_a_one_line_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // Not Linux.
    };
    let o = Command::new(env!("CARGO_BIN_EXE_critpt"))
        .args(["classify", "--fn", "himmelblau", "--at", "3,2"])
        .stdout(full)
        .output()
        .unwrap();
    let line = first_stderr_line(&o);
    assert_eq!(o.status.code(), Some(1), "{line}");
    assert!(
        line.starts_with("error: cannot write to standard output")
            && line.contains("No space left on device"),
        "{line}"
    );
}

#[test]
fn sizes_beyond_the_limits_are_refused_before_allocating() {
    let dir = scratch("limits");
    let out = dir.join("m.safetensors").display().to_string();
    assert_user_error(
        &[
            "train",
            "--data",
            "moons",
            "--layers",
            "2,4,2",
            "--epochs",
            "1000000000000",
            "--out",
            &out,
        ],
        "at most 1000000 epochs",
    );
    assert_user_error(
        &[
            "train",
            "--data",
            "moons",
            "--layers",
            "4,1000000000,3",
            "--out",
            &out,
        ],
        "at most 100000 wide",
    );
    assert_user_error(
        &[
            "train",
            "--data",
            "moons",
            "--layers",
            "2,50000,50000,2",
            "--out",
            &out,
        ],
        "at most 10000000",
    );
    assert_user_error(
        &[
            "train",
            "--data",
            "moons:1000000000",
            "--layers",
            "2,4,2",
            "--out",
            &out,
        ],
        "at most 10000000",
    );
    assert_user_error(
        &[
            "optimize",
            "--fn",
            "himmelblau",
            "--start",
            "0,0",
            "--optimizer",
            "adam",
            "--steps",
            "1000000000000",
        ],
        "at most 10000000 steps are recorded; use --record-every K",
    );
    assert_user_error(
        &[
            "plot",
            "--fn",
            "himmelblau",
            "--optimizers",
            "sgd",
            "--start",
            "0,0",
            "--steps",
            "1000000000",
            "--out",
            &dir.join("p.png").display().to_string(),
        ],
        "at most 1000000 steps are drawn",
    );
    assert_user_error(
        &["find", "--fn", "himmelblau", "--starts", "10000000"],
        "at most 1000000 starts",
    );
    let n = 1001;
    let expr: Vec<String> = (0..n).map(|i| format!("x{i}^2")).collect();
    let at = vec!["1"; n].join(",");
    assert_user_error(
        &["classify", "--expr", &expr.join("+"), "--at", &at],
        "the function has 1001 variables; a dense Hessian is formed for at most 1000",
    );
    let model = train(
        &dir,
        "small.safetensors",
        &["--data", "moons:40", "--layers", "2,3,2"],
    );
    assert_user_error(
        &[
            "analyze",
            "--model",
            &model,
            "--density",
            "--density-grid",
            "1000000000",
        ],
        "at most 1000000 grid points",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seeded_training_writes_the_same_bytes() {
    let dir = scratch("bytes");
    let args = [
        "--data",
        "moons:80",
        "--layers",
        "2,5,2",
        "--batchnorm",
        "--standardize",
        "--seed",
        "7",
    ];
    let a = train(&dir, "a.safetensors", &args);
    let b = train(&dir, "b.safetensors", &args);
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(a == b, "two seeded runs wrote different bytes");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn analyze_uses_the_data_the_model_was_trained_on() {
    let dir = scratch("origin");
    let model = train(
        &dir,
        "m.safetensors",
        &["--data", "moons:60", "--layers", "2,4,2", "--seed", "3"],
    );
    let json = |args: &[&str]| -> (serde_json::Value, String) {
        let mut all = vec!["analyze", "--model", model.as_str(), "--json"];
        all.extend_from_slice(args);
        let o = critpt(&all);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            serde_json::from_slice(&o.stdout).unwrap(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    // Without --data: the recorded generator and seed, the same as naming them.
    let (recorded, warn) = json(&[]);
    assert!(warn.is_empty(), "{warn}");
    let (named, warn) = json(&["--data", "moons:60", "--seed", "3"]);
    assert!(warn.is_empty(), "{warn}");
    assert_eq!(recorded["samples"], 60);
    assert_eq!(recorded["loss"], named["loss"]);
    // Other data (seed 0) is used as asked, with a warning.
    let (other, warn) = json(&["--data", "moons:60"]);
    assert!(
        warn.starts_with("warning: the model was trained on moons:60 (seed 3)"),
        "{warn}"
    );
    assert_ne!(other["loss"], recorded["loss"]);
    // A file: recorded by path and fingerprint; a changed file is noticed.
    let csv = dir.join("d.csv");
    std::fs::write(&csv, "a,b,label\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n").unwrap();
    let out = dir.join("f.safetensors").display().to_string();
    let o = critpt(&[
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--layers",
        "2,2",
        "--epochs",
        "1",
        "--out",
        &out,
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(t["data"]["spec"], csv.to_str().unwrap());
    let analyze = || critpt(&["analyze", "--model", &out, "--json"]);
    let o = analyze();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(&csv, "a,b,label\n0,1,0\n1,0,1\n1,1,0\n0,0,0\n").unwrap();
    let o = analyze();
    assert!(o.status.success());
    assert!(
        first_stderr_line(&o).ends_with("has changed since training)"),
        "{}",
        first_stderr_line(&o)
    );
    // A model without the record needs --data.
    let bare = dir.join("bare.safetensors");
    let m = critpt::nn::Mlp::new(&[2, 2], critpt::nn::Activation::Tanh, false, 0).unwrap();
    critpt::nn::save_model(&bare, &m, None, None).unwrap();
    assert_user_error(
        &["analyze", "--model", bare.to_str().unwrap()],
        "give --data",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn data_that_does_not_fit_the_model_is_named() {
    let dir = scratch("fit");
    let iris = repo("data/iris.csv");
    let model = train(
        &dir,
        "iris.safetensors",
        &["--data", &iris, "--layers", "4,8,3"],
    );
    assert_user_error(
        &[
            "analyze",
            "--model",
            &model,
            "--data",
            &repo("data/digits.csv"),
        ],
        "has 64 feature columns but the model takes 4 inputs",
    );
    // MSE on iris takes the last 3 columns (two measurements and the label) as targets.
    let out = dir.join("mse.safetensors").display().to_string();
    assert_user_error(
        &[
            "train", "--data", &iris, "--layers", "4,8,3", "--loss", "mse", "--out", &out,
        ],
        "2 feature columns but the model takes 4 inputs (target column(s): petal_length, petal_width, label",
    );
    let o = critpt(&[
        "train", "--data", &iris, "--layers", "2,3", "--loss", "mse", "--epochs", "1", "--out",
        &out,
    ]);
    assert!(o.status.success());
    assert_eq!(
        first_stderr_line(&o),
        "warning: --loss mse takes the last 3 column(s) of ".to_string()
            + &iris
            + " (petal_length, petal_width, label) as targets; name them with --target"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_headerless_csv_is_refused() {
    let dir = scratch("headerless");
    let csv = dir.join("d.csv");
    std::fs::write(&csv, "1,2,0\n3,4,1\n5,6,0\n").unwrap();
    let out = dir.join("m.safetensors").display().to_string();
    assert_user_error(
        &[
            "train",
            "--data",
            csv.to_str().unwrap(),
            "--layers",
            "2,2",
            "--out",
            &out,
        ],
        "the first row (1,2,0) is numbers, not a header",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_negative_running_variance_is_refused_at_load() {
    let dir = scratch("bnvar");
    let mut m = critpt::nn::Mlp::new(&[2, 3, 2], critpt::nn::Activation::Tanh, true, 0).unwrap();
    for l in &mut m.layers {
        if let critpt::nn::Layer::BatchNorm { state, .. } = l {
            state.running_var[1] = -0.5;
        }
    }
    let p = dir.join("bad.safetensors");
    critpt::nn::save_model(&p, &m, None, None).unwrap();
    assert_user_error(
        &["analyze", "--model", p.to_str().unwrap(), "--data", "moons"],
        "'1.running_var' entry 2 is -0.5; a running variance must be finite and non-negative",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_blank_figure_is_an_error() {
    let dir = scratch("blank");
    assert_user_error(
        &[
            "plot",
            "--expr",
            "ln(-x^2-y^2-1)",
            "--box",
            "-1,1,-1,1",
            "--out",
            &dir.join("p.png").display().to_string(),
        ],
        "no finite value",
    );
    assert!(!dir.join("p.png").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn negative_flag_values_are_user_errors() {
    let dir = scratch("negative");
    assert_user_error(
        &[
            "plot",
            "--fn",
            "himmelblau",
            "--lr",
            "-1",
            "--out",
            &dir.join("p.png").display().to_string(),
        ],
        "--lr must be positive and finite, got -1",
    );
    let model = train(
        &dir,
        "m.safetensors",
        &["--data", "moons:30", "--layers", "2,2"],
    );
    assert_user_error(
        &["analyze", "--model", &model, "--tol-grad", "-1"],
        "invalid --tol-grad",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn huge_numbers_print_in_exponent_notation() {
    let o = critpt(&["classify", "--fn", "himmelblau", "--at", "1e300,1"]);
    let line = first_stderr_line(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(line.contains("(1e300, 1)") && line.len() < 200, "{line}");
    let o = critpt(&["classify", "--expr", "x^2+y^2", "--at", "1e150,0"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        stdout.contains("1.000000e150") && stdout.lines().all(|l| l.len() < 200),
        "{stdout}"
    );
}

#[test]
fn plot_and_gallery_report_json() {
    let dir = scratch("json");
    let png = dir.join("h.png").display().to_string();
    let o = critpt(&[
        "plot",
        "--fn",
        "himmelblau",
        "--critical",
        "--optimizers",
        "sgd,adam",
        "--start",
        "0,0",
        "--steps",
        "20",
        "--resolution",
        "40",
        "--out",
        &png,
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["out"], png.as_str());
    // Himmelblau: 4 minima, 1 maximum, 4 saddles (docs/reference.md).
    assert_eq!(v["critical_points"].as_array().unwrap().len(), 9);
    let t = v["trajectories"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0]["steps"], 20);
    assert_eq!(t[0]["start"], serde_json::json!([0.0, 0.0]));
    assert!(Path::new(&png).exists());

    // The gallery from a directory that is not the repository: no data/ there.
    let out = dir.join("plots");
    let o = Command::new(env!("CARGO_BIN_EXE_critpt"))
        .args([
            "gallery",
            "--only",
            "schedules,hessian-spectrum",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // hessian-spectrum trains on the digits set, which it finds without data/ here.
    assert_eq!(v["written"], 2, "{v}");
    assert_eq!(v["failed"], 0);
    let names: Vec<&str> = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["schedules", "hessian-spectrum"]);
    for f in v["figures"].as_array().unwrap() {
        assert_eq!(f["ok"], true);
        assert!(f["numbers"].is_object() && Path::new(f["path"].as_str().unwrap()).exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_gallery_digits_are_embedded() {
    // data/README.md: 1797 rows, 64 pixel columns, labels 0..9.
    let d = critpt::gallery::digits_dataset().unwrap();
    assert_eq!((d.n_samples(), d.n_features()), (1797, 64));
    assert_eq!(d.n_classes(), Some(10));
}

#[test]
fn data_origins_compare_by_generator_seed_and_file_bytes() {
    use critpt::nn::data::fingerprint;
    use critpt::nn::DataOrigin;
    // FNV-1a 64 test vectors (Fowler, Noll, Vo: the reference test suite).
    assert_eq!(fingerprint(b""), "fnv1a64:cbf29ce484222325");
    assert_eq!(fingerprint(b"a"), "fnv1a64:af63dc4c8601ec8c");
    assert_eq!(fingerprint(b"foobar"), "fnv1a64:85944171f73967e8");
    let generated = |spec: &str, seed| DataOrigin {
        spec: spec.into(),
        seed: Some(seed),
        fingerprint: None,
        target: None,
    };
    let file = |spec: &str, bytes: &[u8]| DataOrigin {
        spec: spec.into(),
        seed: None,
        fingerprint: Some(fingerprint(bytes)),
        target: None,
    };
    assert_eq!(
        generated("moons:60", 3).difference(&generated("moons:60", 3)),
        None
    );
    assert!(generated("moons:60", 3)
        .difference(&generated("moons:60", 0))
        .is_some());
    assert!(generated("moons:60", 3)
        .difference(&generated("moons:61", 3))
        .is_some());
    // The same bytes under another path are the same data; changed bytes are not.
    assert_eq!(
        file("a.csv", b"x,y\n1,0\n").difference(&file("./a.csv", b"x,y\n1,0\n")),
        None
    );
    let changed = file("a.csv", b"x,y\n1,0\n").difference(&file("a.csv", b"x,y\n2,0\n"));
    assert_eq!(changed.as_deref(), Some("a.csv has changed since training"));
    assert!(generated("moons", 0)
        .difference(&file("moons", b""))
        .is_some());
}
