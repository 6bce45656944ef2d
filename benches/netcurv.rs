//! Curvature of a 64-128-128-10 tanh MLP on data/digits.csv (26 122 parameters): the five
//! largest eigenvalues by block Lanczos at relative residual 1e-8 (as `analyze --method lanczos
//! --which largest --top 5`, whose products are counted per sample), one Hessian-vector product
//! alone, 5 and 16 in one blocked call, and a 1-D filter-normalized loss slice (21 points).
//! The group `curvature_operators` times 5 products in one blocked call with each of the
//! Hessian, the Gauss–Newton matrix and the empirical Fisher (benches/compare/
//! curvature_operators.py times curvlinops' on the same weights).
//! `CRITPT_BENCH_MODEL=M.safetensors` benches a trained model (benches/compare/anchors.sh sets
//! it), so the figures can be set beside PyHessian, JAX and curvlinops on the same weights.

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::curvature::{Curvature, Lanczos, Which};
use critpt::landscape::slice_1d;
use critpt::nn::curvature::filter_normalized_direction;
use critpt::nn::{
    load_model, Activation, BnMode, Dataset, LossKind, Mlp, NetGaussNewton, NetLoss, Task,
};
use critpt::objective::Hvp;
use std::hint::black_box;
use std::path::Path;

fn setup() -> (Mlp, Dataset) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv");
    let mut data = Dataset::from_csv(
        &path,
        None,
        Task::Classification {
            n_classes: Some(10),
        },
    )
    .expect("data/digits.csv");
    data.standardize();
    // A trained model (as benches/compare/anchors.sh writes it) when CRITPT_BENCH_MODEL names
    // one; the seed-0 initialization otherwise (same product cost, other Lanczos counts).
    let model = match std::env::var_os("CRITPT_BENCH_MODEL") {
        Some(p) => {
            let file = load_model(Path::new(&p), None).expect("CRITPT_BENCH_MODEL");
            if let Some(st) = &file.standardization {
                let mut raw = Dataset::from_csv(
                    &Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv"),
                    None,
                    Task::Classification {
                        n_classes: Some(10),
                    },
                )
                .expect("data/digits.csv");
                raw.apply_standardization(st);
                data = raw;
            }
            file.model
        }
        None => Mlp::new(&[64, 128, 128, 10], Activation::Tanh, false, 0).expect("model"),
    };
    (model, data)
}

fn bench(c: &mut Criterion) {
    let (model, data) = setup();
    let obj = NetLoss::new(&model, &data, LossKind::CrossEntropy, BnMode::Eval).expect("loss");
    let mut g = c.benchmark_group("netcurv_digits_26k");
    g.sample_size(10);
    let lanczos = Lanczos::new(5, Which::Largest);
    let r = lanczos.run(&obj, &model.params).expect("lanczos");
    eprintln!(
        "lanczos_top5: {} products in {} blocks, top {:?}",
        r.n_hvps,
        r.iterations,
        r.spectrum.eigenvalues()
    );
    g.bench_function("lanczos_top5", |b| {
        b.iter(|| {
            lanczos
                .run(black_box(&obj), &model.params)
                .expect("lanczos")
        })
    });
    // One product, and 16 products through one call (the blocked R pass): per-product cost.
    let n = model.params.len();
    let v: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect();
    let mut out = vec![0.0; n];
    g.bench_function("hvp_single", |b| {
        b.iter(|| {
            obj.hvp(&model.params, black_box(&v), &mut out)
                .expect("hvp")
        })
    });
    let vs5: Vec<f64> = (0..5).flat_map(|_| v.iter().copied()).collect();
    let mut outs5 = vec![0.0; 5 * n];
    g.bench_function("hvp_many_5", |b| {
        b.iter(|| {
            obj.hvp_many(&model.params, black_box(&vs5), 5, &mut outs5)
                .expect("hvp_many")
        })
    });
    let vs: Vec<f64> = (0..16).flat_map(|_| v.iter().copied()).collect();
    let mut outs = vec![0.0; 16 * n];
    g.bench_function("hvp_many_16", |b| {
        b.iter(|| {
            obj.hvp_many(&model.params, black_box(&vs), 16, &mut outs)
                .expect("hvp_many")
        })
    });
    let d = filter_normalized_direction(&model, 0).expect("direction");
    let alphas: Vec<f64> = (-10..=10).map(|i| i as f64 * 0.1).collect();
    g.bench_function("slice_1d_21", |b| {
        b.iter(|| slice_1d(black_box(&obj), &model.params, &d, &alphas).expect("slice"))
    });
    g.finish();
}

/// Five products in one call with each operator: the per-product cost of the Hessian's R pass
/// against the GGN's and the empirical Fisher's first-order passes.
fn operators(c: &mut Criterion) {
    let (model, data) = setup();
    let obj = NetLoss::new(&model, &data, LossKind::CrossEntropy, BnMode::Eval).expect("loss");
    let ggn = NetGaussNewton::new(&obj, Curvature::GaussNewton).expect("ggn");
    let ef = NetGaussNewton::new(&obj, Curvature::EmpiricalFisher).expect("ef");
    let n = model.params.len();
    let vs: Vec<f64> = (0..5 * n)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect();
    let mut out = vec![0.0; 5 * n];
    let mut g = c.benchmark_group("curvature_operators");
    g.sample_size(10);
    let ops: [(&str, &dyn Hvp); 3] = [
        ("hessian_5", &obj),
        ("ggn_5", &ggn),
        ("empirical_fisher_5", &ef),
    ];
    for (name, op) in ops {
        g.bench_function(name, |b| {
            b.iter(|| {
                op.hvp_many(&model.params, black_box(&vs), 5, &mut out)
                    .expect("product")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, operators);
criterion_main!(benches);
