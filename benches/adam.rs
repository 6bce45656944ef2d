//! One Adam step on 10^6 and 10^7 parameters against a memory-bandwidth bound.
//!
//! An Adam step must read params, grad, m, v and write params, m, v: 7 x 8 = 56 bytes per
//! parameter. The bound is those bytes divided by the bandwidth of `copy_from_slice` of the same
//! length measured here (16 bytes per element moved: one read, one write), so
//! `ratio = time(adam) / (56/16 · time(copy))`; 1.0 means the step runs at copy speed.
//! Both the default step (parallel chunks from 2^18 parameters) and a one-thread step are
//! measured; after the runs the bench prints ns per parameter and the ratios from criterion's
//! estimates.
//!
//! Run: `cargo bench --bench adam -- --warm-up-time 1 --measurement-time 5`.

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use critpt::optim::{Adam, Optimizer};

const SIZES: [usize; 2] = [1_000_000, 10_000_000];

fn inputs(n: usize) -> (Vec<f64>, Vec<f64>) {
    let params: Vec<f64> = (0..n).map(|i| ((i % 1000) as f64 - 500.0) * 1e-3).collect();
    let grad: Vec<f64> = (0..n).map(|i| ((i % 777) as f64 - 388.0) * 1e-4).collect();
    (params, grad)
}

fn bench_adam(c: &mut Criterion) {
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("adam_step");
    group.sample_size(10);
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let (mut params, grad) = inputs(n);
        let mut opt = Adam::new();
        opt.step(&mut params, &grad, 1e-3).unwrap(); // Allocate the state outside the timing.
        group.bench_function(BenchmarkId::new("default", n), |b| {
            b.iter(|| {
                opt.step(black_box(&mut params), black_box(&grad), 1e-3)
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("one_thread", n), |b| {
            one_thread.install(|| {
                b.iter(|| {
                    opt.step(black_box(&mut params), black_box(&grad), 1e-3)
                        .unwrap()
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("copy");
    group.sample_size(10);
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let (src, _) = inputs(n);
        let mut dst = vec![0.0; n];
        group.bench_function(BenchmarkId::new("copy_from_slice", n), |b| {
            b.iter(|| dst.copy_from_slice(black_box(&src)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_adam);

/// Criterion's point estimate of the mean time (ns) of one benchmark, if it ran.
fn mean_ns(group: &str, function: &str, n: usize) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{dir}/criterion/{group}/{function}/{n}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    println!("\nadam step vs the bandwidth bound (56 bytes/param at copy_from_slice's 16 bytes/element speed)");
    for n in SIZES {
        let Some(copy) = mean_ns("copy", "copy_from_slice", n) else {
            continue;
        };
        let copy_gbs = 16.0 * n as f64 / copy;
        let bound = 56.0 / 16.0 * copy / n as f64;
        println!("n = {n:>9}: copy {copy_gbs:.1} GB/s, bound {bound:.3} ns/param");
        for variant in ["default", "one_thread"] {
            if let Some(t) = mean_ns("adam_step", variant, n) {
                let per = t / n as f64;
                println!(
                    "  adam {variant:<10} {per:.3} ns/param, ratio to bound {:.2}",
                    per / bound
                );
            }
        }
    }
}
