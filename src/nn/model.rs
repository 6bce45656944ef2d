//! The multilayer perceptron: an `nn.Sequential` of [`Layer`]s and its flat parameter vector.
//!
//! The parameter vector is the model's trainable tensors in state_dict order (`0.weight`,
//! `0.bias`, `1.weight`, ...), each flattened row-major; batch-norm running statistics are
//! buffers kept in the layers, not parameters.

use super::layers::{Activation, BatchNormState, BnMode, Layer};
use super::lower;
use crate::error::{Error, Result};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};

/// An MLP: layers in `nn.Sequential` order (index = module index) and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// The modules, in order; the position is the `nn.Sequential` index.
    pub layers: Vec<Layer>,
    /// Trainable parameters, state_dict order, row-major.
    pub params: Vec<f64>,
}

impl Mlp {
    /// A fresh MLP with widths `sizes` (`[in, hidden..., out]`): `Linear`, then (`BatchNorm1d`
    /// when `batchnorm`) and the activation after every hidden `Linear`; the last `Linear` gives
    /// the logits. Weights and biases are drawn as PyTorch's default initialization,
    /// `U(−1/√fan_in, 1/√fan_in)`, from `seed`; batch norm starts at `γ = 1`, `β = 0`.
    ///
    /// # Errors
    /// Fewer than two sizes, a zero width, or sizes beyond
    /// [`check_layer_sizes`](crate::limits::check_layer_sizes)'s limits.
    pub fn new(sizes: &[usize], activation: Activation, batchnorm: bool, seed: u64) -> Result<Mlp> {
        if sizes.len() < 2 {
            return Err(Error::invalid(
                "layer widths",
                format!("need at least an input and an output width, got {sizes:?}"),
            ));
        }
        if sizes.contains(&0) {
            return Err(Error::invalid(
                "layer widths",
                format!("widths must be positive, got {sizes:?}"),
            ));
        }
        crate::limits::check_layer_sizes(sizes, batchnorm)?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut layers = Vec::new();
        let mut params = Vec::new();
        for (i, w) in sizes.windows(2).enumerate() {
            let (n_in, n_out) = (w[0], w[1]);
            layers.push(Layer::Linear { n_in, n_out });
            let bound = 1.0 / (n_in as f64).sqrt();
            for _ in 0..n_out * n_in + n_out {
                params.push(rng.random_range(-bound..bound));
            }
            if i + 2 < sizes.len() {
                if batchnorm {
                    layers.push(Layer::BatchNorm {
                        n: n_out,
                        state: BatchNormState::new(n_out),
                    });
                    params.extend(std::iter::repeat_n(1.0, n_out));
                    params.extend(std::iter::repeat_n(0.0, n_out));
                }
                layers.push(Layer::Activation(activation));
            }
        }
        Ok(Mlp { layers, params })
    }

    /// Builds an MLP from layers and parameters, checking that the widths chain and the
    /// parameter count matches.
    ///
    /// # Errors
    /// Widths that do not chain, no layer with an input width, a wrong parameter count.
    pub fn from_parts(layers: Vec<Layer>, params: Vec<f64>) -> Result<Mlp> {
        let m = Mlp { layers, params };
        let mut width: Option<usize> = None;
        for (i, l) in m.layers.iter().enumerate() {
            let n_in = match l {
                Layer::Linear { n_in, .. } => Some(*n_in),
                Layer::BatchNorm { n, state } => {
                    if state.running_mean.len() != *n || state.running_var.len() != *n {
                        return Err(Error::Data(format!(
                            "layer {i}: batch norm of width {n} has running statistics of length {} and {}",
                            state.running_mean.len(),
                            state.running_var.len()
                        )));
                    }
                    Some(*n)
                }
                Layer::Activation(_) => None,
            };
            if let (Some(w), Some(n)) = (width, n_in) {
                if w != n {
                    return Err(Error::Data(format!(
                        "layer {i} expects {n} inputs but the previous layer gives {w}"
                    )));
                }
            }
            if let Some(n) = n_in {
                width = Some(l.out_width(n));
            }
        }
        if width.is_none() {
            return Err(Error::Data(
                "the model has no linear or batch-norm layer".into(),
            ));
        }
        let n: usize = m.layers.iter().map(Layer::n_params).sum();
        if n != m.params.len() {
            return Err(Error::dim("model parameters", n, m.params.len()));
        }
        Ok(m)
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// Input width (of the first layer with a width).
    pub fn n_inputs(&self) -> usize {
        self.layers
            .iter()
            .find_map(|l| match l {
                Layer::Linear { n_in, .. } => Some(*n_in),
                Layer::BatchNorm { n, .. } => Some(*n),
                Layer::Activation(_) => None,
            })
            .unwrap_or(0)
    }

    /// Output width.
    pub fn n_outputs(&self) -> usize {
        self.layers
            .iter()
            .rev()
            .find_map(|l| match l {
                Layer::Linear { n_out, .. } => Some(*n_out),
                Layer::BatchNorm { n, .. } => Some(*n),
                Layer::Activation(_) => None,
            })
            .unwrap_or(0)
    }

    /// Whether any layer is a batch norm.
    pub fn has_batchnorm(&self) -> bool {
        self.layers
            .iter()
            .any(|l| matches!(l, Layer::BatchNorm { .. }))
    }

    /// The activation of the first activation layer, if any.
    pub fn activation(&self) -> Option<Activation> {
        self.layers.iter().find_map(|l| match l {
            Layer::Activation(a) => Some(*a),
            _ => None,
        })
    }

    /// Widths `[in, out of each Linear...]`, for reports.
    pub fn sizes(&self) -> Vec<usize> {
        let mut v = vec![self.n_inputs()];
        for l in &self.layers {
            if let Layer::Linear { n_out, .. } = l {
                v.push(*n_out);
            }
        }
        v
    }

    /// Offset of each layer's parameters in the flat vector.
    pub fn offsets(&self) -> Vec<usize> {
        let mut off = 0;
        self.layers
            .iter()
            .map(|l| {
                let o = off;
                off += l.n_params();
                o
            })
            .collect()
    }

    /// Names of the parameters: `0.weight[r,c]`, `0.bias[c]`, `1.weight[c]`...
    pub fn param_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_params());
        for (i, l) in self.layers.iter().enumerate() {
            match l {
                Layer::Linear { n_in, n_out } => {
                    for r in 0..*n_out {
                        for c in 0..*n_in {
                            names.push(format!("{i}.weight[{r},{c}]"));
                        }
                    }
                    names.extend((0..*n_out).map(|c| format!("{i}.bias[{c}]")));
                }
                Layer::BatchNorm { n, .. } => {
                    names.extend((0..*n).map(|c| format!("{i}.weight[{c}]")));
                    names.extend((0..*n).map(|c| format!("{i}.bias[{c}]")));
                }
                Layer::Activation(_) => {}
            }
        }
        names
    }

    /// The parameter tensors in state_dict order (`0.weight` `[out, in]`, `0.bias`, a batch
    /// norm's `i.weight` and `i.bias`), with their places in the flat vector: what `--params`
    /// selects from and the JSON's `parameter_names`.
    pub fn param_tensors(&self) -> Vec<crate::curvature::ParamTensor> {
        let mut out = Vec::new();
        let mut offset = 0;
        for (i, l) in self.layers.iter().enumerate() {
            let shapes: Vec<(&str, Vec<usize>)> = match l {
                Layer::Linear { n_in, n_out } => {
                    vec![("weight", vec![*n_out, *n_in]), ("bias", vec![*n_out])]
                }
                Layer::BatchNorm { n, .. } => vec![("weight", vec![*n]), ("bias", vec![*n])],
                Layer::Activation(_) => vec![],
            };
            for (what, shape) in shapes {
                let len: usize = shape.iter().product();
                out.push(crate::curvature::ParamTensor {
                    name: format!("{i}.{what}"),
                    shape,
                    offset,
                });
                offset += len;
            }
        }
        out
    }

    /// The network's outputs (logits) for the rows of `x` (`N x inputs`), batch norm in `mode`
    /// (running statistics untouched), through its op graph.
    ///
    /// # Errors
    /// A wrong input width; train-mode batch norm with fewer than two samples.
    pub fn forward(&self, x: &DMatrix<f64>, mode: BnMode) -> Result<DMatrix<f64>> {
        self.forward_with_stats(x, mode).map(|(z, _)| z)
    }

    /// A forward pass in training mode that also updates the batch-norm running statistics, as
    /// a PyTorch module in `train()` mode does; returns the outputs.
    ///
    /// # Errors
    /// As [`Mlp::forward`].
    pub fn forward_train(&mut self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        let (z, stats) = self.forward_with_stats(x, BnMode::Train)?;
        self.track_batch_stats(&stats, x.nrows());
        Ok(z)
    }

    /// The outputs, and per layer the batch statistics of a training-mode batch norm.
    #[allow(clippy::type_complexity)]
    fn forward_with_stats(
        &self,
        x: &DMatrix<f64>,
        mode: BnMode,
    ) -> Result<(DMatrix<f64>, Vec<Option<(Vec<f64>, Vec<f64>)>>)> {
        if x.ncols() != self.n_inputs() {
            return Err(Error::dim("input features", self.n_inputs(), x.ncols()));
        }
        if mode == BnMode::Train && self.has_batchnorm() && x.nrows() < 2 {
            return Err(Error::invalid(
                "batch",
                format!(
                    "batch norm in training mode needs more than 1 sample per batch, got {}",
                    x.nrows()
                ),
            ));
        }
        let lowered = lower::lower(self, mode)?;
        let fw = lowered
            .graph
            .forward(&self.params, &lower::input_tensor(x)?)?;
        let z = lower::output_matrix(fw.output(&lowered.graph));
        let stats = lowered.batch_stats_of(&fw);
        fw.recycle();
        Ok((z, stats))
    }

    /// Folds per-layer batch statistics `(mean, biased variance)` into the running statistics.
    pub(crate) fn track_batch_stats(&mut self, stats: &[Option<(Vec<f64>, Vec<f64>)>], n: usize) {
        for (l, s) in self.layers.iter_mut().zip(stats) {
            if let (Layer::BatchNorm { state, .. }, Some((m, v))) = (l, s) {
                state.track(m, v, n);
            }
        }
    }

    /// Classification accuracy of the argmax of the logits against `labels`.
    ///
    /// # Errors
    /// As [`Mlp::forward`].
    pub fn accuracy(&self, x: &DMatrix<f64>, labels: &[usize], mode: BnMode) -> Result<f64> {
        let out = self.forward(x, mode)?;
        Ok(accuracy_of(&out, labels))
    }
}

/// Fraction of rows whose largest logit is at the label (first maximum wins, as `argmax`).
pub fn accuracy_of(logits: &DMatrix<f64>, labels: &[usize]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let hits = (0..logits.nrows())
        .filter(|&s| {
            let row = logits.row(s);
            let mut best = 0;
            for c in 1..row.len() {
                if row[c] > row[best] {
                    best = c;
                }
            }
            labels.get(s) == Some(&best)
        })
        .count();
    hits as f64 / labels.len() as f64
}
