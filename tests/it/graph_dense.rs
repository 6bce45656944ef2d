//! The op graph's dense Hessian (blocks of unit directions inside one tensor, rows of the
//! tensors ranked at or after it, the rest by symmetry) against the Hessian from full
//! Hessian-vector products with every unit vector (`hessian_from_hvp`: dense tangents in every
//! tensor, nothing restricted) and against central differences of the exact gradient, on
//! graphs whose tensors are declared, used and reused out of order, and on the ONNX fixtures.

use critpt::derivatives::{hessian_from_hvp, FiniteDiffGrad};
use critpt::graph::ops::{MatMul, Unary};
use critpt::graph::{
    load_onnx, Graph, GraphBuilder, GraphData, GraphLoss, GraphTargets, Op, Tensor,
};
use critpt::nn::LossKind;
use critpt::objective::Hessian;
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

fn random(shape: &[usize], rng: &mut StdRng) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect(),
    )
    .unwrap()
}

const MM: MatMul = MatMul {
    trans_a: false,
    trans_b: false,
};

/// `max |a − b| ≤ tol · max |b|`.
fn assert_rel(what: &str, a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64) {
    let scale = b.amax();
    let err = (a - b).amax();
    assert!(
        err <= tol * scale,
        "{what}: max error {err:e}, scale {scale:e}"
    );
}

/// A residual net whose tensors are declared in another order than they are used, one weight
/// used twice (`W` in both layers), a scale between, and a tensor no node reads:
/// `h1 = tanh(x·W)`, `h2 = tanh(h1·W) + h1`, `z = (h2 ⊙ s)·V + b`.
fn shared_weight_net(n: usize, seed: u64) -> (Graph, GraphData) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = GraphBuilder::new();
    let x = g.input("x", Some(vec![Some(3)]));
    let b = g.param("b", random(&[2], &mut rng));
    let unused = g.param("unused", random(&[2], &mut rng));
    let v = g.param("V", random(&[3, 2], &mut rng));
    let w = g.param("W", random(&[3, 3], &mut rng));
    let s = g.param("s", random(&[3], &mut rng));
    let _ = unused;
    let tanh = Op::Unary(Unary::Tanh);
    let a1 = g.node("mm1", Op::MatMul(MM), &[x, w], "a1").unwrap();
    let h1 = g.node("t1", tanh.clone(), &[a1], "h1").unwrap();
    let a2 = g.node("mm2", Op::MatMul(MM), &[h1, w], "a2").unwrap();
    let t2 = g.node("t2", tanh, &[a2], "t2").unwrap();
    let h2 = g.node("res", Op::Add, &[t2, h1], "h2").unwrap();
    let sc = g.node("scale", Op::Mul, &[h2, s], "sc").unwrap();
    let z = g.node("mm3", Op::MatMul(MM), &[sc, v], "z").unwrap();
    let z = g.node("bias", Op::Add, &[z, b], "logits").unwrap();
    let graph = g.finish(z).unwrap();
    let xs = random(&[n, 3], &mut rng);
    let labels = (0..n).map(|i| (i * 7) % 2).collect();
    (
        graph,
        GraphData::new(xs, GraphTargets::Labels(labels)).unwrap(),
    )
}

/// A net whose weights also enter as the first operand of a product, plain and transposed
/// (`U·hᵀ`, `Pᵀ·hᵀ`), and whose transposes of the batch axis keep it in one chunk:
/// `h = tanh(x·W)`, `z = (U·hᵀ)ᵀ + (Pᵀ·hᵀ)ᵀ ⊙ (h·Q)`, MSE.
fn first_operand_net(seed: u64) -> (Graph, GraphData) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut g = GraphBuilder::new();
    let x = g.input("x", Some(vec![Some(3)]));
    let q = g.param("Q", random(&[3, 2], &mut rng));
    let u = g.param("U", random(&[2, 3], &mut rng));
    let p = g.param("P", random(&[3, 2], &mut rng));
    let w = g.param("W", random(&[3, 3], &mut rng));
    let a = g.node("mm", Op::MatMul(MM), &[x, w], "a").unwrap();
    let h = g.node("t", Op::Unary(Unary::Tanh), &[a], "h").unwrap();
    let ht = g.node("ht", Op::Transpose(vec![1, 0]), &[h], "ht").unwrap();
    let uh = g.node("uh", Op::MatMul(MM), &[u, ht], "uh").unwrap();
    let ta = MatMul {
        trans_a: true,
        trans_b: false,
    };
    let ph = g.node("ph", Op::MatMul(ta), &[p, ht], "ph").unwrap();
    let uht = g
        .node("uht", Op::Transpose(vec![1, 0]), &[uh], "uht")
        .unwrap();
    let pht = g
        .node("pht", Op::Transpose(vec![1, 0]), &[ph], "pht")
        .unwrap();
    let hq = g.node("hq", Op::MatMul(MM), &[h, q], "hq").unwrap();
    let gate = g.node("gate", Op::Mul, &[pht, hq], "gate").unwrap();
    let z = g.node("z", Op::Add, &[uht, gate], "z").unwrap();
    let graph = g.finish(z).unwrap();
    let n = 9;
    let xs = random(&[n, 3], &mut rng);
    let ts = random(&[n, 2], &mut rng);
    (graph, GraphData::new(xs, GraphTargets::Values(ts)).unwrap())
}

/// The dense Hessian is exactly symmetric, equals the one from full products with every unit
/// vector to rounding, and central differences of the gradient to their truncation.
fn check(what: &str, graph: &Graph, data: &GraphData, kind: LossKind, fd: bool) -> DMatrix<f64> {
    let obj = GraphLoss::new(graph, data, kind).unwrap();
    let p = graph.initial_params().to_vec();
    let h = obj.hessian(&p).unwrap();
    assert_eq!(h, h.transpose(), "{what}: exactly symmetric");
    let full = hessian_from_hvp(&obj, &p).unwrap();
    assert_rel(&format!("{what}: against full products"), &h, &full, 1e-12);
    if fd {
        let d = FiniteDiffGrad::new(&obj).hessian(&p).unwrap();
        assert_rel(&format!("{what}: against differences"), &h, &d, 1e-6);
    }
    h
}

#[test]
fn shared_and_out_of_order_tensors_give_the_full_hessian() {
    // 9 samples: one chunk; 300: several chunks of the passes.
    for n in [9, 300] {
        let (g, data) = shared_weight_net(n, 3);
        let h = check(
            &format!("shared weight, {n} samples"),
            &g,
            &data,
            LossKind::CrossEntropy,
            true,
        );
        // The tensor no node reads has zero rows and columns; the shared weight's are not.
        let (off, len) = (g.params()[1].offset, g.params()[1].len());
        assert_eq!(g.params()[1].name, "unused");
        for r in 0..h.nrows() {
            for c in off..off + len {
                assert_eq!((h[(r, c)], h[(c, r)]), (0.0, 0.0));
            }
        }
        let w = g.params()[3].offset;
        assert!(h[(w, w)].abs() > 1e-3, "the shared weight's curvature");
    }
    let (g, data) = first_operand_net(4);
    check(
        "weights as the first operand",
        &g,
        &data,
        LossKind::Mse,
        true,
    );
}

/// The same bytes on one thread as on three: each block adds its chunks in their order.
#[test]
fn the_dense_hessian_has_the_same_bytes_on_any_number_of_threads() {
    let (g, data) = shared_weight_net(300, 5);
    let obj = GraphLoss::new(&g, &data, LossKind::CrossEntropy).unwrap();
    let p = g.initial_params().to_vec();
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| obj.clone().hessian(&p).unwrap())
    };
    let one = on(1);
    assert_eq!(one, on(3));
    assert_eq!(one, obj.hessian(&p).unwrap());
}

/// Every ONNX fixture small enough for a dense Hessian: convolutions, pooling, residual
/// blocks with layer norm, attention (products of two tangents), batch norm, slices and
/// concatenations, the activations.
#[test]
fn onnx_fixtures_dense_hessians_equal_full_products() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onnx");
    for (name, kind) in [
        ("lenet_digits", LossKind::CrossEntropy),
        ("resblock_digits", LossKind::CrossEntropy),
        ("attention_digits", LossKind::CrossEntropy),
        ("convbn_mse", LossKind::Mse),
        ("catslice_digits", LossKind::CrossEntropy),
        ("view_digits", LossKind::CrossEntropy),
        ("bntrain_digits", LossKind::CrossEntropy),
        ("activations_digits", LossKind::CrossEntropy),
    ] {
        let g = load_onnx(&dir.join(name).join("model.onnx")).unwrap();
        let data = GraphData::load(&dir.join(name).join("data.safetensors")).unwrap();
        check(name, &g, &data, kind, false);
    }
}
