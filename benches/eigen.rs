//! Dense symmetric eigen-decomposition, n = 500, 1500, 3000, every backend in this build.
//!
//! Baseline: `benches/compare/numpy_eigh.py` (numpy.linalg.eigh, LAPACK dsyevd) on the same
//! matrices' distribution, run in the same sitting. Run with
//! `cargo bench --bench eigen` (add `--features lapack` for the LAPACK backend).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use critpt::curvature::{symmetric_eigen, EigenBackend};
use nalgebra::DMatrix;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::time::Duration;

fn random_symmetric(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = DMatrix::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    (&g + g.transpose()) * 0.5
}

fn bench_eigen(c: &mut Criterion) {
    let mut group = c.benchmark_group("symmetric_eigen");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    let sizes: Vec<usize> = std::env::var("CRITPT_EIGEN_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![500, 1500, 3000]);
    for &n in &sizes {
        let a = random_symmetric(n, 7);
        for backend in EigenBackend::available() {
            group.bench_with_input(BenchmarkId::new(backend.name(), n), &a, |b, a| {
                b.iter(|| symmetric_eigen(a, backend).expect("eigen"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_eigen);
criterion_main!(benches);
