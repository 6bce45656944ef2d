//! Helpers shared by the integration tests: running the real binary.

use std::process::{Command, Output};

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
