//! Matrix-free curvature at n = 5000: Lanczos top-5 and bottom-5 (residual-driven blocks with
//! soft locking), both ends (block Krylov steps), SLQ density, Hutch++, and the power-iteration
//! baseline, on a low-rank-plus-diagonal quadratic whose HVP costs O(n·r), so that the figures
//! are the solvers' own overhead.
//!
//! Run: `cargo bench --bench lanczos`. The HVP counts are printed once to stderr.

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::curvature::{hutch_plus_plus, slq_density, Lanczos, PowerIteration, Slq, Which};
use critpt::objective::{Hvp, Loss};
use critpt::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// `H = diag(d) + U diag(c) Uᵀ`, `U` an `n×r` Gaussian matrix scaled by `1/√n`.
struct LowRankPlusDiagonal {
    d: Vec<f64>,
    u: Vec<Vec<f64>>,
    c: Vec<f64>,
}

impl LowRankPlusDiagonal {
    fn new(n: usize, r: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let s = 1.0 / (n as f64).sqrt();
        let u = (0..r)
            .map(|_| {
                (0..n)
                    .map(|_| s * rng.sample::<f64, _>(StandardNormal))
                    .collect()
            })
            .collect();
        // Outliers at both ends, the negative ones larger.
        let c = (0..r)
            .map(|i| {
                if i % 2 == 0 {
                    8.0 + 2.0 * i as f64
                } else {
                    -10.0 - 3.0 * i as f64
                }
            })
            .collect();
        LowRankPlusDiagonal { d, u, c }
    }
}

impl Loss for LowRankPlusDiagonal {
    fn n_params(&self) -> usize {
        self.d.len()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        let mut hv = vec![0.0; params.len()];
        self.hvp(params, params, &mut hv)?;
        Ok(0.5 * params.iter().zip(&hv).map(|(a, b)| a * b).sum::<f64>())
    }
}

impl Hvp for LowRankPlusDiagonal {
    fn hvp(&self, _params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        for ((o, d), x) in out.iter_mut().zip(&self.d).zip(v) {
            *o = d * x;
        }
        for (u, c) in self.u.iter().zip(&self.c) {
            let coef = c * u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
            for (o, ui) in out.iter_mut().zip(u) {
                *o += coef * ui;
            }
        }
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let n = 5000;
    let op = LowRankPlusDiagonal::new(n, 20, 1);
    let p = vec![0.0; n];
    let top5 = Lanczos::new(5, Which::Largest).with_seed(2);
    let bottom5 = Lanczos::new(5, Which::Smallest).with_seed(2);
    let both5 = Lanczos::new(5, Which::Both).with_seed(2);
    let slq = Slq::new().with_seed(3);
    let power = PowerIteration::new().with_seed(4).with_tol(1e-6).unwrap();

    let r = top5.run(&op, &p).unwrap();
    eprintln!(
        "lanczos top-5: {} steps, {} hvps, eigenvalues {:?}, max residual {:.1e}",
        r.iterations,
        r.n_hvps,
        r.spectrum.eigenvalues(),
        r.residuals.iter().fold(0.0f64, |a, &b| a.max(b))
    );
    let r = bottom5.run(&op, &p).unwrap();
    eprintln!(
        "lanczos bottom-5: {} steps, {} hvps",
        r.iterations, r.n_hvps
    );
    let r = both5.run(&op, &p).unwrap();
    eprintln!("lanczos both-5: {} steps, {} hvps", r.iterations, r.n_hvps);
    let d = slq_density(&op, &p, &slq).unwrap();
    eprintln!(
        "slq: {} hvps, tr/n = {:.4} ± {:.4}",
        d.n_hvps, d.first_moment.mean, d.first_moment.std_error
    );
    match power.run(&op, &p) {
        Ok(r) => eprintln!(
            "power (tol 1e-6): {} hvps, eigenvalue {:.6}",
            r.n_hvps, r.eigenvalue
        ),
        Err(e) => eprintln!("power: {e}"),
    }

    let mut g = c.benchmark_group("n5000");
    g.sample_size(10);
    g.bench_function("lanczos_top5", |b| b.iter(|| top5.run(&op, &p).unwrap()));
    g.bench_function("lanczos_bottom5", |b| {
        b.iter(|| bottom5.run(&op, &p).unwrap())
    });
    g.bench_function("lanczos_both5", |b| b.iter(|| both5.run(&op, &p).unwrap()));
    g.bench_function("slq_10x80", |b| {
        b.iter(|| slq_density(&op, &p, &slq).unwrap())
    });
    g.bench_function("hutchpp_300", |b| {
        b.iter(|| hutch_plus_plus(&op, &p, 300, 5).unwrap())
    });
    g.bench_function("power_dominant_1e-6", |b| b.iter(|| power.run(&op, &p)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
