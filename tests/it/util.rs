//! Helpers shared by the integration tests: running the real binary, and comparing numbers
//! (through `approx`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path inside the repository (fixtures, data).
pub fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Runs the `critpt` binary with `args`.
pub fn critpt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_critpt"))
        .args(args)
        .output()
        .expect("the critpt binary runs")
}

/// Runs `critpt ... --json`, asserts success, and parses stdout.
pub fn critpt_json(args: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = critpt(&all);
    assert!(
        out.status.success(),
        "critpt {:?} failed: {}",
        all,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// A JSON array of numbers as a vector.
pub fn nums(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// `|got − want| ≤ tol`, with a message naming `what`.
pub fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        approx::abs_diff_eq!(got, want, epsilon = tol),
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

/// Entry by entry, `|g − w| ≤ tol · max(1, |g|, |w|)` (approx's `relative_eq` with
/// `epsilon = max_relative = tol`): relative for large entries, absolute near zero.
pub fn assert_all_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            approx::relative_eq!(*g, *w, epsilon = tol, max_relative = tol),
            "{what}[{i}]: {g} vs {w} (diff {:e}, tolerance {tol})",
            (g - w).abs()
        );
    }
}
