//! The dense path, piece by piece, on the Hessian of a 64-33-66-10 tanh MLP on data/digits.csv
//! (5059 parameters, Glorot initialization, seed 0) and on its leading principal submatrices of
//! 1500 and 3000 rows (a real Hessian's spectrum at smaller sizes):
//!
//! - `eigenvalues/<backend>`: [`symmetric_eigenvalues`] for every backend in this build
//!   (nalgebra only at 1500);
//! - `full_eigen/faer`: [`symmetric_eigen`], eigenvectors included;
//! - `inertia/<backend>`: the two LBLᵀ factorizations of [`inertia_with`] at the classifier's
//!   threshold (faer's `LBLᵀ`; LAPACK's `dsytrf` with `--features lapack`);
//! - `extremes`: [`extreme_eigenpairs`] (the library's block Lanczos over the dense matrix,
//!   relative residual 1e-8, what `--method inertia` uses);
//! - `hessian` (5059 only): the dense Hessian itself, for scale.
//!
//! Baselines, same sitting: `benches/compare/dense_vs_jax.py` (whole process: JAX's
//! `jax.jit(jax.hessian)` plus `numpy.linalg.eigvalsh` against `critpt analyze --method dense`
//! and `--method inertia`) and `benches/compare/numpy_eigh.py`. Run with
//! `cargo bench --bench dense` (add `--features lapack` for LAPACK's dsyevd_2stage and dsytrf);
//! choose sizes with `CRITPT_DENSE_SIZES=1500,3000,5059` (the default). One sample at 5059 takes 2–15 s, so the
//! group takes minutes: run it on a quiet machine.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use critpt::curvature::{
    extreme_eigenpairs, inertia_with, symmetric_eigen, symmetric_eigenvalues, EigenBackend,
};
use critpt::nn::{Activation, BnMode, Dataset, LossKind, Mlp, NetLoss, Task};
use critpt::objective::Hessian;
use nalgebra::DMatrix;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

fn digits_hessian() -> (NetLoss, Vec<f64>, DMatrix<f64>) {
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
    let model = Mlp::new(&[64, 33, 66, 10], Activation::Tanh, false, 0).expect("model");
    assert_eq!(model.n_params(), 5059);
    let obj = NetLoss::new(&model, &data, LossKind::CrossEntropy, BnMode::Eval).expect("loss");
    let h = obj.hessian(&model.params).expect("hessian");
    (obj, model.params.clone(), h)
}

fn bench(c: &mut Criterion) {
    let sizes: Vec<usize> = std::env::var("CRITPT_DENSE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![1500, 3000, 5059]);
    let (obj, params, h_full) = digits_hessian();
    let mut g = c.benchmark_group("dense_digits");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(20));
    for &n in &sizes {
        let n = n.min(h_full.nrows());
        let h = h_full.view((0, 0), (n, n)).into_owned();
        for backend in EigenBackend::available() {
            if backend == EigenBackend::Nalgebra && n > 1500 {
                continue;
            }
            g.bench_with_input(
                BenchmarkId::new(format!("eigenvalues/{}", backend.name()), n),
                &h,
                |b, h| b.iter(|| symmetric_eigenvalues(black_box(h), backend).expect("eig")),
            );
        }
        g.bench_with_input(BenchmarkId::new("full_eigen/faer", n), &h, |b, h| {
            b.iter(|| symmetric_eigen(black_box(h), EigenBackend::Faer).expect("eigen"))
        });
        let tau = 1e-8 * extreme_eigenpairs(&h, 1e-8, 0).expect("extremes").max_abs();
        for backend in EigenBackend::available() {
            if backend == EigenBackend::Nalgebra {
                continue;
            }
            g.bench_with_input(
                BenchmarkId::new(format!("inertia/{}", backend.name()), n),
                &h,
                |b, h| b.iter(|| inertia_with(black_box(h), tau, backend).expect("inertia")),
            );
        }
        g.bench_with_input(BenchmarkId::new("extremes", n), &h, |b, h| {
            b.iter(|| extreme_eigenpairs(black_box(h), 1e-8, 0).expect("extremes"))
        });
        if n == h_full.nrows() {
            g.bench_function(BenchmarkId::new("hessian", n), |b| {
                b.iter(|| obj.hessian(black_box(&params)).expect("hessian"))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
