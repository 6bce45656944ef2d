//! The generic op harness: every op's backward, R-forward and R-backward against central
//! differences of its forward and backward on random inputs; dense Hessians of tiny graphs
//! against central differences of the exact gradient.

use super::data::{GraphData, GraphTargets};
use super::ops::{Axes, Conv2d, Gather, MatMul, Op, Pool2d, Reduce, Reshape, Slice, Unary};
use super::tensor::Tensor;
use super::{GraphBuilder, GraphLoss};
use crate::derivatives::FiniteDiffGrad;
use crate::nn::LossKind;
use crate::objective::{Hessian, Hvp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(shape: &[usize], rng: &mut StdRng, positive: bool) -> Tensor {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let v: f64 = rng.random_range(-1.0..1.0);
            if positive {
                0.5 + v.abs()
            } else {
                v
            }
        })
        .collect();
    Tensor::new(shape.to_vec(), data).unwrap()
}

fn axpy(x: &Tensor, h: f64, d: &Tensor) -> Tensor {
    Tensor {
        shape: x.shape.clone(),
        data: x.data.iter().zip(&d.data).map(|(a, b)| a + h * b).collect(),
    }
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = max_abs(want).max(1e-3);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: {g} vs central difference {w} (scale {scale})"
        );
    }
}

/// Checks the four passes of `op` at random inputs of `shapes`; `with_tangent[i]` says whether
/// input `i` carries directions (false: data or a constant).
fn check_op(op: Op, shapes: &[&[usize]], with_tangent: &[bool], positive: bool, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = 2;
    let ins: Vec<Tensor> = shapes
        .iter()
        .map(|s| random(s, &mut rng, positive))
        .collect();
    let refs: Vec<&Tensor> = ins.iter().collect();
    let (y, aux) = op.forward(&refs).unwrap();
    let g = random(&y.shape, &mut rng, false);
    let need = vec![true; ins.len()];
    let grads = op.backward(&refs, &aux, &g, &need).unwrap();
    let h = 1e-5;
    let fwd = |xs: &[Tensor]| op.forward(&xs.iter().collect::<Vec<_>>()).unwrap().0;
    // Backward: <g, ∂f/∂x_i · u> against <x̄_i, u>.
    for i in 0..ins.len() {
        // Inputs that only give a shape (a per-channel view's reference) have no adjoint.
        if grads[i].is_none() {
            continue;
        }
        let u = random(&ins[i].shape, &mut rng, false);
        let mut p = ins.clone();
        let mut m = ins.clone();
        p[i] = axpy(&ins[i], h, &u);
        m[i] = axpy(&ins[i], -h, &u);
        let (fp, fm) = (fwd(&p), fwd(&m));
        let fd: f64 = fp
            .data
            .iter()
            .zip(&fm.data)
            .zip(&g.data)
            .map(|((a, b), g)| g * (a - b) / (2.0 * h))
            .sum();
        let exact: f64 = grads[i]
            .as_ref()
            .unwrap()
            .data
            .iter()
            .zip(&u.data)
            .map(|(a, b)| a * b)
            .sum();
        assert_close(
            &format!("{} backward in {i}", op.name()),
            &[exact],
            &[fd],
            1e-7,
        );
    }
    // Directions: a block of k per input that carries them, and k for the output adjoint.
    let rins: Vec<Option<Tensor>> = ins
        .iter()
        .zip(with_tangent)
        .map(|(x, &t)| {
            t.then(|| {
                let mut s = vec![k];
                s.extend_from_slice(&x.shape);
                random(&s, &mut rng, false)
            })
        })
        .collect();
    let rrefs: Vec<Option<&Tensor>> = rins.iter().map(Option::as_ref).collect();
    let mut gs = vec![k];
    gs.extend_from_slice(&g.shape);
    let rg = random(&gs, &mut rng, false);
    let ry = op
        .r_forward(&refs, &rrefs, &aux, &y.shape, k)
        .unwrap()
        .unwrap_or_else(|| Tensor::zeros(&gs).unwrap());
    let rgrads = op
        .r_backward(&refs, &rrefs, &aux, &g, Some(&rg), &need, k)
        .unwrap();
    for d in 0..k {
        let shifted = |s: f64| -> Vec<Tensor> {
            ins.iter()
                .zip(&rins)
                .map(|(x, r)| match r {
                    Some(r) => axpy(x, s, &r.direction(d)),
                    None => x.clone(),
                })
                .collect()
        };
        let (p, m) = (shifted(h), shifted(-h));
        let (fp, fm) = (fwd(&p), fwd(&m));
        let fd: Vec<f64> = fp
            .data
            .iter()
            .zip(&fm.data)
            .map(|(a, b)| (a - b) / (2.0 * h))
            .collect();
        assert_close(
            &format!("{} r_forward direction {d}", op.name()),
            &ry.direction(d).data,
            &fd,
            1e-7,
        );
        let back = |xs: &[Tensor], s: f64| {
            let r: Vec<&Tensor> = xs.iter().collect();
            let (_, a) = op.forward(&r).unwrap();
            op.backward(&r, &a, &axpy(&g, s, &rg.direction(d)), &need)
                .unwrap()
        };
        let (bp, bm) = (back(&p, h), back(&m, -h));
        for i in 0..ins.len() {
            let (Some(bp), Some(bm)) = (bp[i].as_ref(), bm[i].as_ref()) else {
                continue;
            };
            let fd: Vec<f64> = bp
                .data
                .iter()
                .zip(&bm.data)
                .map(|(a, b)| (a - b) / (2.0 * h))
                .collect();
            let got = rgrads[i].as_ref().unwrap().direction(d);
            assert_eq!(got.shape, ins[i].shape);
            assert_close(
                &format!("{} r_backward in {i} direction {d}", op.name()),
                &got.data,
                &fd,
                1e-6,
            );
        }
    }
}

/// Every tangent pattern: all inputs carry directions, and the first does not (data).
fn check_all(op: Op, shapes: &[&[usize]], positive: bool) {
    let all = vec![true; shapes.len()];
    check_op(op.clone(), shapes, &all, positive, 1);
    if shapes.len() > 1 {
        let mut first_none = all.clone();
        first_none[0] = false;
        check_op(op.clone(), shapes, &first_none, positive, 2);
        let mut second_none = all;
        second_none[1] = false;
        check_op(op, shapes, &second_none, positive, 3);
    }
}

#[test]
fn unary_ops_match_central_differences() {
    for u in [
        Unary::Relu,
        Unary::LeakyRelu(0.1),
        Unary::Tanh,
        Unary::Sigmoid,
        Unary::Erf,
        Unary::Gelu,
        Unary::Exp,
        Unary::Scale(-1.5),
        Unary::Clip(-0.5, 0.25),
        Unary::Abs,
        Unary::HardSwish,
        Unary::Softplus,
        Unary::Elu {
            alpha: 0.7,
            gamma: 1.2,
        },
        Unary::HardSigmoid {
            alpha: 0.6,
            beta: 0.5,
        },
    ] {
        check_all(Op::Unary(u), &[&[3, 4]], false);
    }
    for u in [
        Unary::Log,
        Unary::Pow { p: 0.5, shift: 0.0 },
        Unary::Pow {
            p: -0.5,
            shift: 1e-5,
        },
        Unary::Pow {
            p: -1.0,
            shift: 0.0,
        },
        Unary::Pow { p: 3.0, shift: 0.0 },
        Unary::Pow { p: 2.0, shift: 0.0 },
    ] {
        check_all(Op::Unary(u), &[&[3, 4]], true);
    }
}

#[test]
fn softmax_matches_central_differences() {
    check_all(Op::Softmax(-1), &[&[3, 5]], false);
    check_all(Op::Softmax(1), &[&[2, 4, 3]], false);
}

#[test]
fn broadcasting_sums_and_products_match_central_differences() {
    for op in [Op::Add, Op::Sub, Op::Mul] {
        check_all(op.clone(), &[&[2, 3, 4], &[3, 1]], false);
        check_all(op.clone(), &[&[4], &[2, 3, 4]], false);
        check_all(op, &[&[2, 3], &[2, 3]], false);
    }
}

#[test]
fn matrix_products_match_central_differences() {
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let mm = Op::MatMul(MatMul {
            trans_a: ta,
            trans_b: tb,
        });
        let a: &[usize] = if ta { &[4, 3] } else { &[3, 4] };
        let b: &[usize] = if tb { &[5, 4] } else { &[4, 5] };
        check_all(mm.clone(), &[a, b], false);
    }
    let mm = Op::MatMul(MatMul {
        trans_a: false,
        trans_b: false,
    });
    // Batched with broadcasting, as attention's QKᵀ and a shared weight.
    check_all(mm.clone(), &[&[2, 3, 4], &[4, 5]], false);
    check_all(mm.clone(), &[&[2, 1, 3, 4], &[3, 4, 2]], false);
    check_all(mm, &[&[3, 4], &[2, 4, 5]], false);
}

#[test]
fn convolutions_match_central_differences() {
    let specs = [
        Conv2d {
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            groups: 1,
        },
        Conv2d {
            strides: [2, 1],
            pads: [0, 1, 2, 0],
            dilations: [1, 2],
            groups: 1,
        },
        Conv2d {
            strides: [1, 2],
            pads: [1, 0, 0, 1],
            dilations: [1, 1],
            groups: 2,
        },
    ];
    for s in specs {
        let groups = s.groups;
        check_all(
            Op::Conv(s.clone()),
            &[&[2, 4, 5, 6], &[6, 4 / groups, 3, 2]],
            false,
        );
        // 300 samples: more than one chunk of samples per GEMM, the last one partial.
        check_all(
            Op::Conv(s),
            &[&[300, 2, 5, 6], &[2, 2 / groups, 3, 2]],
            false,
        );
    }
}

#[test]
fn pooling_matches_central_differences() {
    let p = Pool2d {
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0, 0, 0, 0],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    check_all(Op::MaxPool(p.clone()), &[&[2, 3, 4, 5]], false);
    let q = Pool2d {
        kernel: [3, 2],
        strides: [1, 2],
        pads: [1, 1, 1, 0],
        dilations: [1, 1],
        ceil_mode: true,
        count_include_pad: false,
    };
    check_all(Op::MaxPool(q.clone()), &[&[2, 3, 4, 5]], false);
    check_all(Op::AvgPool(q.clone()), &[&[2, 3, 4, 5]], false);
    check_all(
        Op::AvgPool(Pool2d {
            count_include_pad: true,
            ..q
        }),
        &[&[1, 2, 5, 5]],
        false,
    );
}

#[test]
fn shape_ops_and_reductions_match_central_differences() {
    check_all(Op::Reshape(Reshape::Flatten(1)), &[&[2, 3, 4]], false);
    check_all(
        Op::Reshape(Reshape::To(vec![0, -1, 2])),
        &[&[2, 3, 4]],
        false,
    );
    check_all(Op::Reshape(Reshape::Unsqueeze(vec![1])), &[&[2, 3]], false);
    check_all(Op::Reshape(Reshape::Squeeze(vec![])), &[&[2, 1, 3]], false);
    check_all(
        Op::Reshape(Reshape::Channel { rank: 0 }),
        &[&[3], &[2, 3, 4, 4]],
        false,
    );
    check_all(Op::Transpose(vec![2, 0, 1]), &[&[2, 3, 4]], false);
    for (axes, keepdims, mean) in [
        (Axes::List(vec![1]), true, true),
        (Axes::List(vec![-1, 0]), false, false),
        (Axes::List(vec![]), false, true),
        (Axes::From(1), true, true),
        (Axes::Except(1), true, true),
        (Axes::Except(-1), false, false),
    ] {
        check_all(
            Op::Reduce(Reduce {
                axes,
                keepdims,
                mean,
            }),
            &[&[2, 3, 4]],
            false,
        );
    }
}

#[test]
fn slices_gathers_and_concatenations_match_central_differences() {
    check_all(
        Op::Slice(Slice {
            starts: vec![1, 0],
            ends: vec![i64::MAX, 4],
            axes: vec![1, -1],
            steps: vec![1, 2],
        }),
        &[&[2, 3, 5]],
        false,
    );
    check_all(
        Op::Slice(Slice {
            starts: vec![-1],
            ends: vec![i64::MIN],
            axes: vec![0],
            steps: vec![-2],
        }),
        &[&[5, 2]],
        false,
    );
    // A repeated index: the adjoint adds both reads.
    check_all(
        Op::Gather(Gather {
            axis: 1,
            indices: vec![2, 0, 2, -3],
            index_shape: vec![2, 2],
        }),
        &[&[2, 3, 2]],
        false,
    );
    check_all(
        Op::Gather(Gather {
            axis: 0,
            indices: vec![1],
            index_shape: vec![],
        }),
        &[&[3, 4]],
        false,
    );
    check_all(
        Op::Concat { axis: 1, inputs: 3 },
        &[&[2, 3, 2], &[2, 1, 2], &[2, 2, 2]],
        false,
    );
    check_all(
        Op::Concat {
            axis: -1,
            inputs: 2,
        },
        &[&[2, 3], &[2, 4]],
        false,
    );
}

/// A tiny CNN: Conv(pad 1)+bias → Tanh → MaxPool → Flatten → Gemm+bias, and its data.
fn tiny_cnn(seed: u64) -> (super::Graph, GraphData) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Some(vec![Some(1), Some(4), Some(4)]));
    let w = b.param("conv.weight", random(&[2, 1, 3, 3], &mut rng, false));
    let cb = b.param("conv.bias", random(&[2], &mut rng, false));
    let conv = Conv2d {
        strides: [1, 1],
        pads: [1, 1, 1, 1],
        dilations: [1, 1],
        groups: 1,
    };
    let y = b.node("conv", Op::Conv(conv), &[x, w], "c").unwrap();
    let bc = b
        .node(
            "cb",
            Op::Reshape(Reshape::Channel { rank: 0 }),
            &[cb, y],
            "cb",
        )
        .unwrap();
    let y = b.node("add", Op::Add, &[y, bc], "a").unwrap();
    let y = b.node("tanh", Op::Unary(Unary::Tanh), &[y], "t").unwrap();
    let pool = Pool2d {
        kernel: [2, 2],
        strides: [2, 2],
        pads: [0; 4],
        dilations: [1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let y = b.node("pool", Op::MaxPool(pool), &[y], "p").unwrap();
    let y = b
        .node("flat", Op::Reshape(Reshape::Flatten(1)), &[y], "f")
        .unwrap();
    let fw = b.param("fc.weight", random(&[3, 8], &mut rng, false));
    let fb = b.param("fc.bias", random(&[3], &mut rng, false));
    let mm = MatMul {
        trans_a: false,
        trans_b: true,
    };
    let y = b.node("fc", Op::MatMul(mm), &[y, fw], "m").unwrap();
    let y = b.node("fcb", Op::Add, &[y, fb], "logits").unwrap();
    let g = b.finish(y).unwrap();
    let x = random(&[5, 1, 4, 4], &mut rng, false);
    let data = GraphData::new(x, GraphTargets::Labels(vec![0, 1, 2, 1, 0])).unwrap();
    (g, data)
}

/// A tiny residual block with layer normalization and an MSE head.
fn tiny_resnorm(seed: u64) -> (super::Graph, GraphData) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Some(vec![Some(3)]));
    let w = b.param("w", random(&[3, 4], &mut rng, false));
    let mm = MatMul {
        trans_a: false,
        trans_b: false,
    };
    let h = b.node("mm", Op::MatMul(mm), &[x, w], "h").unwrap();
    let t = b.node("gelu", Op::Unary(Unary::Gelu), &[h], "t").unwrap();
    let r = b.node("res", Op::Add, &[h, t], "r").unwrap();
    let red = |keep| {
        Op::Reduce(Reduce {
            axes: Axes::From(-1),
            keepdims: keep,
            mean: true,
        })
    };
    let mu = b.node("mu", red(true), &[r], "mu").unwrap();
    let d = b.node("d", Op::Sub, &[r, mu], "d").unwrap();
    let sq = b.node("sq", Op::Mul, &[d, d], "sq").unwrap();
    let var = b.node("var", red(true), &[sq], "var").unwrap();
    let inv = b
        .node(
            "inv",
            Op::Unary(Unary::Pow {
                p: -0.5,
                shift: 1e-5,
            }),
            &[var],
            "inv",
        )
        .unwrap();
    let n = b.node("n", Op::Mul, &[d, inv], "n").unwrap();
    let s = b.param("scale", random(&[4], &mut rng, false));
    let y = b.node("scale", Op::Mul, &[n, s], "y").unwrap();
    let w2 = b.param("w2", random(&[4, 2], &mut rng, false));
    let z = b.node("out", Op::MatMul(mm), &[y, w2], "z").unwrap();
    let g = b.finish(z).unwrap();
    let x = random(&[6, 3], &mut rng, false);
    let t = random(&[6, 2], &mut rng, false);
    (g, GraphData::new(x, GraphTargets::Values(t)).unwrap())
}

fn check_hessian(g: &super::Graph, data: &GraphData, kind: LossKind) {
    let obj = GraphLoss::new(g, data, kind).unwrap();
    let p = g.initial_params().to_vec();
    let h = obj.hessian(&p).unwrap();
    let fd = FiniteDiffGrad::new(&obj).hessian(&p).unwrap();
    let scale = fd.amax();
    for (a, b) in h.iter().zip(fd.iter()) {
        assert!((a - b).abs() <= 1e-6 * scale, "{a} vs {b} (scale {scale})");
    }
    // hvp_many agrees with the dense Hessian's columns, one direction at a time too.
    let n = p.len();
    let mut rng = StdRng::seed_from_u64(9);
    let v: Vec<f64> = (0..3 * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut many = vec![0.0; 3 * n];
    obj.hvp_many(&p, &v, 3, &mut many).unwrap();
    for d in 0..3 {
        let want = &h * nalgebra::DVector::from_column_slice(&v[d * n..(d + 1) * n]);
        let mut one = vec![0.0; n];
        obj.hvp(&p, &v[d * n..(d + 1) * n], &mut one).unwrap();
        for i in 0..n {
            assert!((many[d * n + i] - want[i]).abs() <= 1e-12 * scale.max(1.0));
            assert!((one[i] - want[i]).abs() <= 1e-12 * scale.max(1.0));
        }
    }
    // A product at another point is not served from the cached primal pass of the last one.
    let p2: Vec<f64> = p.iter().map(|x| x + 0.1).collect();
    let mut at2 = vec![0.0; n];
    obj.hvp(&p2, &v[..n], &mut at2).unwrap();
    let mut fd2 = vec![0.0; n];
    FiniteDiffGrad::new(&obj)
        .hvp(&p2, &v[..n], &mut fd2)
        .unwrap();
    let s2 = max_abs(&fd2).max(1e-3);
    for (a, b) in at2.iter().zip(&fd2) {
        assert!((a - b).abs() <= 1e-6 * s2, "hvp at a new point {a} vs {b}");
    }
    // The gradient against central differences of the loss.
    let grad = crate::objective::gradient_vec(&obj, &p).unwrap();
    let fdg =
        crate::objective::gradient_vec(&crate::derivatives::FiniteDiff::new(&obj), &p).unwrap();
    let gs = max_abs(&fdg).max(1e-3);
    for (a, b) in grad.iter().zip(&fdg) {
        assert!((a - b).abs() <= 1e-7 * gs, "gradient {a} vs {b}");
    }
}

#[test]
fn tiny_cnn_hessian_matches_differences_of_the_gradient() {
    let (g, data) = tiny_cnn(4);
    check_hessian(&g, &data, LossKind::CrossEntropy);
}

#[test]
fn tiny_residual_layernorm_hessian_matches_differences_of_the_gradient() {
    let (g, data) = tiny_resnorm(5);
    check_hessian(&g, &data, LossKind::Mse);
}

#[test]
fn data_that_does_not_fit_the_graph_is_an_error() {
    let (g, data) = tiny_cnn(4);
    let wrong = GraphData::new(Tensor::zeros(&[5, 1, 5, 4]).unwrap(), data.y.clone()).unwrap();
    let e = GraphLoss::new(&g, &wrong, LossKind::CrossEntropy).unwrap_err();
    assert!(e.to_string().contains("[N, 1, 4, 4]"), "{e}");
    let labels = GraphData::new(data.x.clone(), GraphTargets::Labels(vec![0, 1, 3, 1, 0])).unwrap();
    let e = GraphLoss::new(&g, &labels, LossKind::CrossEntropy).unwrap_err();
    assert!(e.to_string().contains("label 3"), "{e}");
    let e = GraphLoss::new(&g, &data, LossKind::Mse).unwrap_err();
    assert!(e.to_string().contains("float targets"), "{e}");
}

/// `data` with its samples repeated and perturbed to `n` samples (several chunks of the passes).
fn widened(data: &GraphData, n: usize, seed: u64) -> GraphData {
    let mut rng = StdRng::seed_from_u64(seed);
    let n0 = data.n_samples();
    let per = data.x.len() / n0;
    let mut shape = data.x.shape.clone();
    shape[0] = n;
    let x: Vec<f64> = (0..n * per)
        .map(|i| data.x.data[i % (n0 * per)] + rng.random_range(-0.5..0.5))
        .collect();
    let y = match &data.y {
        GraphTargets::Labels(l) => GraphTargets::Labels((0..n).map(|i| l[i % n0]).collect()),
        GraphTargets::Values(t) => {
            let k = t.len() / n0;
            let mut s = t.shape.clone();
            s[0] = n;
            let v = (0..n * k).map(|i| t.data[i % (n0 * k)]).collect();
            GraphTargets::Values(Tensor::new(s, v).unwrap())
        }
    };
    GraphData::new(Tensor::new(shape, x).unwrap(), y).unwrap()
}

/// Whether the graph keeps samples apart, from probe passes on one and two samples.
fn separable(g: &super::Graph, data: &GraphData) -> bool {
    let first = |n: usize| {
        let per = data.x.len() / data.n_samples();
        let mut s = data.x.shape.clone();
        s[0] = n;
        Tensor::new(s, data.x.data[..n * per].to_vec()).unwrap()
    };
    let p = g.initial_params();
    let one = g.forward(p, &first(1)).unwrap();
    let two = g.forward(p, &first(2)).unwrap();
    g.separable_over_samples(&one, &two)
}

#[test]
fn chunked_passes_over_many_samples_match_differences_of_the_gradient() {
    let (g, data) = tiny_cnn(4);
    let wide = widened(&data, 150, 1);
    assert!(separable(&g, &wide));
    check_hessian(&g, &wide, LossKind::CrossEntropy);
    let (g, data) = tiny_resnorm(5);
    let wide = widened(&data, 150, 2);
    assert!(separable(&g, &wide));
    check_hessian(&g, &wide, LossKind::Mse);
}

/// Centering over the batch (a mean over axis 0) mixes samples: the passes run over the whole
/// data set at once, and the loss is the closed form's.
#[test]
fn a_graph_that_mixes_samples_is_not_chunked() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut b = GraphBuilder::new();
    let x = b.input("x", Some(vec![Some(3)]));
    let mu = b
        .node(
            "mu",
            Op::Reduce(Reduce {
                axes: Axes::List(vec![0]),
                keepdims: true,
                mean: true,
            }),
            &[x],
            "mu",
        )
        .unwrap();
    let d = b.node("d", Op::Sub, &[x, mu], "d").unwrap();
    let w = b.param("w", random(&[3, 2], &mut rng, false));
    let mm = MatMul {
        trans_a: false,
        trans_b: false,
    };
    let z = b.node("z", Op::MatMul(mm), &[d, w], "z").unwrap();
    let g = b.finish(z).unwrap();
    let n = 150;
    let xs = random(&[n, 3], &mut rng, false);
    let ts = random(&[n, 2], &mut rng, false);
    let data = GraphData::new(xs.clone(), GraphTargets::Values(ts.clone())).unwrap();
    assert!(!separable(&g, &data));
    let obj = GraphLoss::new(&g, &data, LossKind::Mse).unwrap();
    let wv = g.initial_params();
    let mean: Vec<f64> = (0..3)
        .map(|j| (0..n).map(|i| xs.data[i * 3 + j]).sum::<f64>() / n as f64)
        .collect();
    let mut want = 0.0;
    for i in 0..n {
        for c in 0..2 {
            let z: f64 = (0..3)
                .map(|j| (xs.data[i * 3 + j] - mean[j]) * wv[j * 2 + c])
                .sum();
            want += (z - ts.data[i * 2 + c]).powi(2);
        }
    }
    want /= (2 * n) as f64;
    let got = crate::objective::Loss::loss(&obj, wv).unwrap();
    assert!((got - want).abs() <= 1e-13 * want, "{got} vs {want}");
    check_hessian(&g, &data, LossKind::Mse);
}
