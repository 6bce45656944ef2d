//! Hessian-vector products through the op graph (`critpt::graph`), compared with JAX and torch
//! by `benches/compare/graph_vs_jax.py` on the same weights and data:
//!
//! - `graph_cnn20k_digits`: the 21 546-parameter CNN of fixtures/onnx/cnn20k_digits on all 1797
//!   digits as 1x8x8 images: one product (`hvp_single`) and a block of 16 directions in one call
//!   (`hvp_many_16`; divide by 16 for the per-direction cost).
//! - `graph_vs_netloss_mlp_digits`: the 64-128-128-10 tanh MLP of fixtures/onnx/mlp_digits
//!   through the graph (its ONNX export) and through the MLP engine `NetLoss` (its
//!   nn.Sequential safetensors file), same weights and data: one product (`*_hvp`), blocks of 5
//!   and 16 directions (`*_hvp_many_{5,16}`), and the gradient at a new point each time
//!   (`*_gradient`: forward and backward, training's cost).
//! - `graph_dense_hessian`: the dense Hessian (`Hessian::hessian`) through the graph and
//!   through `NetLoss` on tanh MLPs over the 1797 digits (`mlp2410`: 64-32-10; `mlp5059`:
//!   64-33-66-10, the size of `benches/compare/dense_vs_jax.py`, seeded initial weights: the
//!   cost does not depend on their values), and through the graph alone on the ONNX fixtures
//!   `lenet_digits` (a CNN, 666 parameters) and `resblock_digits` (residual block with
//!   LayerNorm, 1514). Run: `cargo bench --bench graph -- graph_dense_hessian`.
//!
//! The primal passes are cached at the point, as in Lanczos, so each product is the R passes.
//! Run: `cargo bench --bench graph` (JAX and torch: `benches/compare/graph_vs_jax.py`).
//!
//! Measured on the shared 2-core machine, criterion, before and after the blocked-op
//! rewrite in the same minute, load average 1.3–2 (other agents building; ±10% noise):
//! MLP one product 11.1 → 7.0–7.7 ms (`NetLoss` 6.1–6.9), block of 5 59.7 → 33.6 ms
//! (`NetLoss` 37.1), block of 16 151 → 99 ms (`NetLoss` 108), gradient 17.4 → 16.4 ms
//! (`NetLoss` 11.9–14.4: two thirds of it is `tanh`); CNN one product 326 → 194 ms.
//! `graph_vs_jax.py` in the same minutes: JAX `jit(jvp(grad))` 13.0 ms per MLP product and
//! 635 ms per CNN product, torch double backward 15.2 ms and 573 ms. So per product the graph
//! takes 0.54–0.59× JAX's time on the MLP (0.48× per direction in blocks of 16) and 0.31× on
//! the CNN.
//!
//! `graph_dense_hessian`, before and after the graph's dense build took blocks of unit
//! directions inside one tensor (rows of later tensors only, the rest by symmetry, the unit
//! terms of products and convolutions as copies), criterion back to back on the shared
//! machine at load 4.6–5.8 (±15% noise; `NetLoss` is the same code in both runs):
//! `mlp2410` graph 2.95 s → 2.30 s (`NetLoss` 2.36 s, 2.75 s: 1.25× → 0.84× of it);
//! `mlp5059` graph 23.0 s → 13.6 s (`NetLoss` 10.7 s, 13.7 s: 2.2× → 0.99×); `lenet_digits`
//! 2.13 s → 72 ms; `resblock_digits` 2.67 s → 1.18 s.

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::graph::{load_onnx, GraphData, GraphLoss, GraphTargets, Tensor};
use critpt::nn::lower::{graph_data, mlp_graph};
use critpt::nn::{load_model, Activation, BnMode, LossKind, Mlp, NetLoss, Targets};
use critpt::objective::{Gradient, Hessian, Hvp, Loss};
use nalgebra::DMatrix;
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn fixture(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/onnx")
        .join(name)
        .join(file)
}

/// The direction the comparison script and the fixtures use: `((i·7919) mod 1000)/1000 − 0.5`.
fn direction(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect()
}

fn cnn(c: &mut Criterion) {
    let g = load_onnx(&fixture("cnn20k_digits", "model.onnx")).expect("cnn20k model");
    let data = GraphData::load(&fixture("cnn20k_digits", "data.safetensors")).expect("data");
    let obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).expect("loss");
    let p = g.initial_params().to_vec();
    let n = p.len();
    let v = direction(n);
    let mut out = vec![0.0; n];
    let mut group = c.benchmark_group("graph_cnn20k_digits");
    group.sample_size(10);
    group.bench_function("hvp_single", |b| {
        b.iter(|| obj.hvp(&p, black_box(&v), &mut out).expect("hvp"))
    });
    let vs: Vec<f64> = (0..16)
        .flat_map(|d| v.iter().map(move |x| x * (1.0 + d as f64 / 16.0)))
        .collect();
    let mut outs = vec![0.0; 16 * n];
    group.bench_function("hvp_many_16", |b| {
        b.iter(|| {
            obj.hvp_many(&p, black_box(&vs), 16, &mut outs)
                .expect("hvp_many")
        })
    });
    group.finish();
}

fn mlp(c: &mut Criterion) {
    let g = load_onnx(&fixture("mlp_digits", "model.onnx")).expect("mlp model");
    let images = GraphData::load(&fixture("cnn20k_digits", "data.safetensors")).expect("data");
    let n_samples = images.n_samples();
    let labels = match &images.y {
        GraphTargets::Labels(l) => l.clone(),
        GraphTargets::Values(_) => panic!("the digits have labels"),
    };
    let flat = Tensor::new(vec![n_samples, 64], images.x.data.clone()).expect("x");
    let data = GraphData::new(flat, GraphTargets::Labels(labels.clone())).expect("data");
    let graph_obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).expect("loss");
    let file = load_model(&fixture("mlp_digits", "model.safetensors"), None).expect("mlp");
    let x = DMatrix::from_row_slice(n_samples, 64, &images.x.data);
    let net_obj = NetLoss::from_parts(
        &file.model,
        x,
        Targets::Labels(labels),
        LossKind::CrossEntropy,
        BnMode::Eval,
    )
    .expect("netloss");
    let p = file.model.params.clone();
    assert_eq!(p, g.initial_params(), "the two files hold the same weights");
    let (lg, ln) = (
        graph_obj.loss(&p).expect("loss"),
        net_obj.loss(&p).expect("loss"),
    );
    assert!((lg - ln).abs() < 1e-12, "graph {lg} vs NetLoss {ln}");
    let v = direction(p.len());
    let mut out = vec![0.0; p.len()];
    let mut group = c.benchmark_group("graph_vs_netloss_mlp_digits");
    group.bench_function("graph_hvp", |b| {
        b.iter(|| graph_obj.hvp(&p, black_box(&v), &mut out).expect("hvp"))
    });
    group.bench_function("netloss_hvp", |b| {
        b.iter(|| net_obj.hvp(&p, black_box(&v), &mut out).expect("hvp"))
    });
    for k in [5usize, 16] {
        let vs: Vec<f64> = (0..k)
            .flat_map(|d| v.iter().map(move |x| x * (1.0 + d as f64 / k as f64)))
            .collect();
        let mut outs = vec![0.0; k * p.len()];
        group.bench_function(format!("graph_hvp_many_{k}"), |b| {
            b.iter(|| {
                graph_obj
                    .hvp_many(&p, black_box(&vs), k, &mut outs)
                    .expect("hvp_many")
            })
        });
        group.bench_function(format!("netloss_hvp_many_{k}"), |b| {
            b.iter(|| {
                net_obj
                    .hvp_many(&p, black_box(&vs), k, &mut outs)
                    .expect("hvp_many")
            })
        });
    }
    // The gradient: a forward and a backward pass at a new point each time (training's cost).
    let mut q = p.clone();
    let mut g = vec![0.0; p.len()];
    let mut step = 0u64;
    group.bench_function("graph_gradient", |b| {
        b.iter(|| {
            step += 1;
            q[0] = p[0] + step as f64 * 1e-12;
            graph_obj.gradient(black_box(&q), &mut g).expect("gradient")
        })
    });
    group.bench_function("netloss_gradient", |b| {
        b.iter(|| {
            step += 1;
            q[0] = p[0] + step as f64 * 1e-12;
            net_obj.gradient(black_box(&q), &mut g).expect("gradient")
        })
    });
    group.finish();
}

/// The digits (all 1797, pixels / 16) as `N x 64` features and their labels.
fn digits() -> (DMatrix<f64>, Vec<usize>) {
    let images = GraphData::load(&fixture("cnn20k_digits", "data.safetensors")).expect("data");
    let labels = match &images.y {
        GraphTargets::Labels(l) => l.clone(),
        GraphTargets::Values(_) => panic!("the digits have labels"),
    };
    let x = DMatrix::from_row_slice(images.n_samples(), 64, &images.x.data);
    (x, labels)
}

/// The dense Hessian through the graph and through `NetLoss`, same model and data: tanh MLPs
/// on the digits (64-32-10, 2410 parameters; 64-33-66-10, 5059, the size of
/// `benches/compare/dense_vs_jax.py`), and the ONNX fixtures `lenet_digits` (a CNN, 666) and
/// `resblock_digits` (a residual block with LayerNorm, 1514) through the graph alone.
fn dense(c: &mut Criterion) {
    let mut group = c.benchmark_group("graph_dense_hessian");
    group.sample_size(10);
    let (x, labels) = digits();
    for sizes in [&[64usize, 32, 10][..], &[64, 33, 66, 10]] {
        let model = Mlp::new(sizes, Activation::Tanh, false, 0).expect("mlp");
        let targets = Targets::Labels(labels.clone());
        let g = mlp_graph(&model, BnMode::Eval).expect("graph");
        let data = graph_data(&x, &targets).expect("data");
        let graph_obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).expect("loss");
        let net_obj = NetLoss::from_parts(
            &model,
            x.clone(),
            targets,
            LossKind::CrossEntropy,
            BnMode::Eval,
        )
        .expect("netloss");
        let p = model.params.clone();
        let name = format!("mlp{}", model.params.len());
        group.bench_function(format!("{name}_graph"), |b| {
            b.iter(|| graph_obj.hessian(black_box(&p)).expect("hessian"))
        });
        group.bench_function(format!("{name}_netloss"), |b| {
            b.iter(|| net_obj.hessian(black_box(&p)).expect("hessian"))
        });
    }
    for name in ["lenet_digits", "resblock_digits"] {
        let g = load_onnx(&fixture(name, "model.onnx")).expect("model");
        let data = GraphData::load(&fixture(name, "data.safetensors")).expect("data");
        let obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).expect("loss");
        let p = g.initial_params().to_vec();
        group.bench_function(format!("{name}_graph"), |b| {
            b.iter(|| obj.hessian(black_box(&p)).expect("hessian"))
        });
    }
    group.finish();
}

criterion_group!(benches, cnn, mlp, dense);
criterion_main!(benches);
