//! The fuzzed entry points, shared by the cargo-fuzz targets (`fuzz_targets/`) and the
//! stable-toolchain corpus replay test (`tests/it/fuzz_corpus.rs`). Each takes arbitrary bytes
//! and must return without panicking, whatever they are; errors are the expected outcome.

#![allow(dead_code)]

use critpt::critical::SearchBox;
use critpt::expr::Formula;
use critpt::nn::{load_model_bytes, Activation, BnMode, Dataset, Task};
use critpt::objective::{Gradient, Hessian, Hvp, Loss};
use critpt::optim::Schedule;
use critpt::plot::PlotBox;

/// Coordinates the formula target evaluates at: zeros (kinks, `0^x`), saturation (±400, -800),
/// a subnormal, and ordinary values.
const COORDS: [f64; 8] = [0.0, 1.0, -1.5, 0.5, 400.0, -800.0, 1e-310, 3.0];

/// Parses the bytes as a formula and evaluates its value, gradient, Hessian (up to 16
/// variables, which bounds the fuzzer's time per input) and a Hessian-vector product.
pub fn formula(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(f) = Formula::parse(text) else {
        return;
    };
    let n = f.n_params();
    let points = [
        vec![0.0; n],
        (0..n)
            .map(|i| COORDS[(i + data.len()) % COORDS.len()])
            .collect::<Vec<f64>>(),
    ];
    for x in &points {
        let _ = f.loss(x);
        let mut g = vec![0.0; n];
        if let Ok(value) = f.loss_and_gradient(x, &mut g) {
            assert!(value.is_finite() && g.iter().all(|v| v.is_finite()));
        }
        if n <= 16 {
            if let Ok(h) = f.hessian(x) {
                assert!(h.iter().all(|v| v.is_finite()));
            }
        }
        let v: Vec<f64> = (0..n).map(|i| 1.0 / (i + 1) as f64).collect();
        let _ = f.hvp(x, &v, &mut g);
    }
}

/// Reads the bytes as CSV text under each kind of task, and runs a loaded set's
/// standardization.
pub fn csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let target = ["y".to_string()];
    for task in [
        Task::Classification { n_classes: None },
        Task::Classification { n_classes: Some(3) },
        Task::Regression { n_outputs: 1 },
        Task::Regression { n_outputs: 2 },
    ] {
        for t in [None, Some(&target[..])] {
            if let Ok(mut d) = Dataset::from_csv_str(text, "fuzz.csv", t, task) {
                let _ = d.n_classes();
                let _ = d.standardize();
            }
        }
    }
}

/// Reads the bytes as a safetensors model with and without an activation, and runs a loaded
/// model forward on a zero batch of the input width it declares (when that is small).
pub fn safetensors(data: &[u8]) {
    for act in [None, Some(Activation::Relu)] {
        if let Ok(m) = load_model_bytes(data, "fuzz.safetensors", act) {
            let n_in = m.model.n_inputs();
            if n_in > 0 && n_in <= 4096 && m.model.n_params() <= 1 << 20 {
                let x = nalgebra::DMatrix::<f64>::zeros(2, n_in);
                let _ = m.model.forward(&x, BnMode::Eval);
            }
        }
    }
}

/// Splits the bytes at the first newline into a base rate and a `--schedule` spec, parses it,
/// and asks for rates at the first steps and at huge step counts.
pub fn schedule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (base, spec) = text.split_once('\n').unwrap_or(("0.1", text));
    let base: f64 = base.trim().parse().unwrap_or(0.1);
    if let Ok(s) = Schedule::parse(spec, base) {
        let _ = s.rates(64);
        for k in [1_000, 1 << 20, 1 << 40, u64::MAX / 2, u64::MAX] {
            let _ = s.lr(k);
        }
    }
}

/// Reads the bytes as a `--box` list (the command line's comma-separated numbers) and builds
/// the search box and the plotting box from it.
pub fn box_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values: Result<Vec<f64>, _> = text.split(',').map(|s| s.trim().parse::<f64>()).collect();
    let Ok(values) = values else {
        return;
    };
    if let Ok(b) = SearchBox::from_flat(&values) {
        let _ = (b.n_dims(), b.bounds());
    }
    if let Ok(b) = PlotBox::from_flat(&values) {
        let _ = b.contains([0.0, 0.0]);
    }
}

/// Reads the bytes as an ONNX model (protobuf parse, op mapping, shape inference) and lists
/// its parameters.
pub fn onnx(data: &[u8]) {
    if let Ok(g) = critpt::graph::onnx_from_bytes(data) {
        let total: usize = g.params().iter().map(|p| p.len()).sum();
        assert_eq!(total, g.n_params());
        assert_eq!(g.initial_params().len(), g.n_params());
        if g.n_params() <= 1 << 16 {
            assert_eq!(g.param_names().len(), g.n_params());
        }
    }
}
