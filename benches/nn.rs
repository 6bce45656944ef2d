//! The reference case: a 10-64-64-3 tanh MLP (5059 parameters), 512 samples of 10
//! standard-normal features, 3 classes, cross-entropy. Gradient, one Hessian-vector product,
//! and the full dense Hessian (compare with `jax.hessian` under jit and x64 on the same machine).
//!
//! The JAX baseline, same shapes (`jax_enable_x64`; `flat` is the raveled parameter list in
//! state_dict order, `loss` the tanh MLP's mean cross-entropy via `logsumexp`):
//! `H = jax.jit(jax.hessian(loss)); H(flat).block_until_ready()` timed after one warm-up call;
//! `jax.jit(jax.grad(loss))` and `jax.jvp(jax.grad(loss), (flat,), (v,))` for the other two.

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::nn::{Activation, BnMode, LossKind, Mlp, NetLoss, Targets};
use critpt::objective::{Gradient, Hessian, Hvp};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

fn reference_case() -> (NetLoss, Vec<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let model = Mlp::new(&[10, 64, 64, 3], Activation::Tanh, false, 0).unwrap();
    let x = DMatrix::from_fn(512, 10, |_, _| rng.sample::<f64, _>(StandardNormal));
    let y = Targets::Labels((0..512).map(|_| rng.random_range(0..3)).collect());
    let obj = NetLoss::from_parts(&model, x, y, LossKind::CrossEntropy, BnMode::Eval).unwrap();
    (obj, model.params)
}

fn bench(c: &mut Criterion) {
    let (obj, p) = reference_case();
    assert_eq!(p.len(), 5059);
    let n = p.len();
    let v: Vec<f64> = (0..n)
        .map(|i| ((i * 37) % 11) as f64 / 11.0 - 0.5)
        .collect();
    let mut out = vec![0.0; n];
    let mut g = c.benchmark_group("nn_10_64_64_3_tanh_512");
    g.bench_function("gradient", |b| {
        b.iter(|| obj.gradient(&p, &mut out).unwrap())
    });
    g.bench_function("hvp", |b| b.iter(|| obj.hvp(&p, &v, &mut out).unwrap()));
    g.sample_size(10);
    g.bench_function("hessian_dense", |b| b.iter(|| obj.hessian(&p).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
