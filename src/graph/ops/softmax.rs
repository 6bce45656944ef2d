//! Softmax along one axis (ONNX `Softmax`, opset 13 semantics): `y = e^x / Σ e^x` per lane,
//! with its passes written in `y`: `x̄ = y ⊙ (ḡ − ⟨ḡ, y⟩)`, `R{y} = y ⊙ (R{x} − ⟨R{x}, y⟩)`, and
//! `R{x̄} = R{y} ⊙ (ḡ − ⟨ḡ, y⟩) + y ⊙ (R{ḡ} − ⟨R{ḡ}, y⟩ − ⟨ḡ, R{y}⟩)`.

use super::shape::axis;
use crate::error::Result;
use crate::graph::tensor::Tensor;

/// `(outer, len, inner)` of the lanes along `ax`.
fn lanes(shape: &[usize], ax: i64) -> Result<(usize, usize, usize)> {
    let a = axis("Softmax", ax, shape.len())?;
    Ok((
        shape[..a].iter().product(),
        shape[a],
        shape[a + 1..].iter().product(),
    ))
}

/// Calls `f` with the flat indices of every lane.
fn for_lanes(dims: (usize, usize, usize), mut f: impl FnMut(&[usize])) {
    let (outer, len, inner) = dims;
    let mut idx = vec![0; len];
    for o in 0..outer {
        for i in 0..inner {
            for (j, slot) in idx.iter_mut().enumerate() {
                *slot = o * len * inner + j * inner + i;
            }
            f(&idx);
        }
    }
}

fn dot(a: &[f64], b: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| a[i] * b[i]).sum()
}

/// The softmax of `x` along `ax`.
pub fn forward(x: &Tensor, ax: i64) -> Result<Tensor> {
    let dims = lanes(&x.shape, ax)?;
    let mut y = x.clone();
    for_lanes(dims, |idx| {
        let m = idx.iter().fold(f64::NEG_INFINITY, |m, &i| m.max(x.data[i]));
        let s: f64 = idx.iter().map(|&i| (x.data[i] - m).exp()).sum();
        for &i in idx {
            y.data[i] = (x.data[i] - m).exp() / s;
        }
    });
    Ok(y)
}

/// `y ⊙ (u − ⟨u, y⟩)` per lane: the Jacobian (symmetric) applied to `u`.
pub fn jacobian(y: &Tensor, u: &[f64], ax: i64) -> Result<Vec<f64>> {
    let dims = lanes(&y.shape, ax)?;
    let mut out = vec![0.0; u.len()];
    for_lanes(dims, |idx| {
        let d = dot(u, &y.data, idx);
        for &i in idx {
            out[i] = y.data[i] * (u[i] - d);
        }
    });
    Ok(out)
}

/// The second-order term `R{y} ⊙ (ḡ − ⟨ḡ, y⟩) − y·⟨ḡ, R{y}⟩` of `R{x̄}`.
pub fn second_order(y: &Tensor, ry: &[f64], g: &[f64], ax: i64) -> Result<Vec<f64>> {
    let dims = lanes(&y.shape, ax)?;
    let mut out = vec![0.0; g.len()];
    for_lanes(dims, |idx| {
        let gy = dot(g, &y.data, idx);
        let gry = dot(g, ry, idx);
        for &i in idx {
            out[i] = ry[i] * (g[i] - gy) - y.data[i] * gry;
        }
    });
    Ok(out)
}
