//! Analyses a small CNN exported from PyTorch to ONNX (`fixtures/onnx/lenet_digits`: Conv,
//! ReLU, MaxPool, Conv, ReLU, Flatten, Linear; 300 digits as 1×8×8 images) through the library,
//! and prints what `critpt analyze --model … --data …` prints:
//! `cargo run --release --example onnx_cnn`.

use critpt::critical::{classify_point, Tolerances};
use critpt::graph::{load_onnx, GraphData, GraphLoss};
use critpt::nn::LossKind;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx/lenet_digits");
    let graph = load_onnx(&dir.join("model.onnx"))?;
    let data = GraphData::load(&dir.join("data.safetensors"))?;
    let obj = GraphLoss::new(&graph, &data, LossKind::CrossEntropy)?;
    let params = graph.initial_params();
    let start = std::time::Instant::now();
    // The exact Hessian (R-operator columns) and its full spectrum.
    let cp = classify_point(&obj, params, &Tolerances::dual())?;
    let seconds = start.elapsed().as_secs_f64();
    let ev = cp.spectrum.eigenvalues();
    println!(
        "model lenet_digits ({} parameters in {} tensors, onnx), {} samples, loss cross-entropy",
        graph.n_params(),
        graph.params().len(),
        data.n_samples()
    );
    for p in graph.params() {
        println!("  {:<14} {:?}", p.name, p.shape);
    }
    println!("loss           {:.10}", cp.value);
    if let Some(acc) = obj.accuracy(params)? {
        println!("accuracy       {acc:.4}");
    }
    println!("gradient norm  {:.3e}", cp.gradient_norm);
    println!(
        "eigenvalues    min {:.6e}  max {:.6e}  trace {:.6e}",
        ev.first().copied().unwrap_or(f64::NAN),
        ev.last().copied().unwrap_or(f64::NAN),
        ev.iter().sum::<f64>()
    );
    println!(
        "kind {}   index {}   minimum ratio {:.6e}   ({seconds:.2} s, dense)",
        cp.kind.name(),
        cp.index,
        cp.minimum_ratio
    );
    Ok(())
}
