//! One Hessian-vector product, and 16 in one call, through the op graph (`critpt::graph`) for a
//! CNN of 18 522 parameters on data/digits.csv as 1x8x8 images: Conv(1→32, 3x3, pad 1)–ReLU–
//! MaxPool 2–Conv(32→32, 3x3, pad 1)–ReLU–MaxPool 2–Flatten–Linear(128→64)–Tanh–Linear(64→10).
//! The primal passes are cached at the point, as in Lanczos, so each sample is the R passes.

use criterion::{criterion_group, criterion_main, Criterion};
use critpt::graph::ops::{Conv2d, MatMul, Pool2d, Reshape, Unary};
use critpt::graph::{Graph, GraphBuilder, GraphData, GraphLoss, GraphTargets, Op, Tensor};
use critpt::nn::{Dataset, LossKind, Task};
use critpt::objective::Hvp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::path::Path;

fn weights(shape: &[usize], fan_in: usize, rng: &mut StdRng) -> Tensor {
    let b = 1.0 / (fan_in as f64).sqrt();
    let n = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|_| rng.random_range(-b..b)).collect(),
    )
    .expect("shape")
}

fn cnn() -> Graph {
    let mut rng = StdRng::seed_from_u64(0);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Some(vec![Some(1), Some(8), Some(8)]));
    let conv = Conv2d {
        strides: [1, 1],
        pads: [1, 1, 1, 1],
        dilations: [1, 1],
        groups: 1,
    };
    let pool = Pool2d {
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0; 4],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let mut h = x;
    for (i, (cin, cout)) in [(1, 32), (32, 32)].into_iter().enumerate() {
        let w = b.param(
            &format!("conv{i}.weight"),
            weights(&[cout, cin, 3, 3], cin * 9, &mut rng),
        );
        let bias = b.param(
            &format!("conv{i}.bias"),
            weights(&[cout], cin * 9, &mut rng),
        );
        h = b
            .node("conv", Op::Conv(conv.clone()), &[h, w], "c")
            .expect("node");
        let bc = b
            .node(
                "cb",
                Op::Reshape(Reshape::Channel { rank: 0 }),
                &[bias, h],
                "cb",
            )
            .expect("node");
        h = b.node("add", Op::Add, &[h, bc], "a").expect("node");
        h = b
            .node("relu", Op::Unary(Unary::Relu), &[h], "r")
            .expect("node");
        h = b
            .node("pool", Op::MaxPool(pool.clone()), &[h], "p")
            .expect("node");
    }
    h = b
        .node("flat", Op::Reshape(Reshape::Flatten(1)), &[h], "f")
        .expect("node");
    let lin = MatMul {
        trans_a: false,
        trans_b: true,
    };
    for (i, (fin, fout)) in [(128, 64), (64, 10)].into_iter().enumerate() {
        let w = b.param(
            &format!("fc{i}.weight"),
            weights(&[fout, fin], fin, &mut rng),
        );
        let bias = b.param(&format!("fc{i}.bias"), weights(&[fout], fin, &mut rng));
        h = b.node("fc", Op::MatMul(lin), &[h, w], "m").expect("node");
        h = b.node("fcb", Op::Add, &[h, bias], "l").expect("node");
        if i == 0 {
            h = b
                .node("tanh", Op::Unary(Unary::Tanh), &[h], "t")
                .expect("node");
        }
    }
    b.finish(h).expect("graph")
}

fn digits() -> GraphData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv");
    let mut d = Dataset::from_csv(
        &path,
        None,
        Task::Classification {
            n_classes: Some(10),
        },
    )
    .expect("data/digits.csv");
    d.standardize();
    let n = d.n_samples();
    // Row-major [N, 1, 8, 8] from the column-major N x 64 matrix.
    let x: Vec<f64> = (0..n)
        .flat_map(|i| (0..64).map(move |j| (i, j)))
        .map(|(i, j)| d.x[(i, j)])
        .collect();
    let labels = d.labels().expect("labels").to_vec();
    GraphData::new(
        Tensor::new(vec![n, 1, 8, 8], x).expect("x"),
        GraphTargets::Labels(labels),
    )
    .expect("data")
}

fn bench(c: &mut Criterion) {
    let g = cnn();
    let data = digits();
    let obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).expect("loss");
    let p = g.initial_params().to_vec();
    let n = p.len();
    let v: Vec<f64> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect();
    let mut out = vec![0.0; n];
    let mut group = c.benchmark_group(format!("graph_cnn_digits_{n}"));
    group.sample_size(10);
    group.bench_function("hvp_single", |b| {
        b.iter(|| obj.hvp(&p, black_box(&v), &mut out).expect("hvp"))
    });
    let vs: Vec<f64> = (0..16).flat_map(|_| v.iter().copied()).collect();
    let mut outs = vec![0.0; 16 * n];
    group.bench_function("hvp_many_16", |b| {
        b.iter(|| {
            obj.hvp_many(&p, black_box(&vs), 16, &mut outs)
                .expect("hvp_many")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
