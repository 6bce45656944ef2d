//! Layers, activations and losses with PyTorch's semantics.
//!
//! - [`Layer::Linear`]: `y = x Wᵀ + b`, `W` is `out x in` (as `torch.nn.Linear`).
//! - [`Layer::BatchNorm`]: `torch.nn.BatchNorm1d` (see [`BatchNormState`]).
//! - [`Layer::Activation`]: element-wise [`Activation`], no parameters.
//! - [`LossKind`]: `CrossEntropyLoss` on logits (mean over samples) or `MSELoss` (mean over all
//!   elements).

use crate::error::{Error, Result};

/// An element-wise activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// `tanh`.
    #[default]
    Tanh,
    /// `max(0, x)` (derivative 0 at 0, as PyTorch).
    Relu,
    /// `1 / (1 + e^{-x})`.
    Sigmoid,
    /// `x`.
    Identity,
}

impl Activation {
    /// Every activation's name.
    pub const NAMES: &'static str = "tanh, relu, sigmoid, identity";

    /// The name used on the command line and in model metadata.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Identity => "identity",
        }
    }

    /// `f(x)`, as the op graph evaluates it (`tanh` is
    /// [`crate::graph::ops::unary::tanh`], within two ulp of the correctly rounded value).
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Activation::Tanh => crate::graph::ops::unary::tanh(x),
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => crate::graph::ops::Unary::Sigmoid.eval(x).0,
            Activation::Identity => x,
        }
    }

    /// `(f'(x), f''(x))` from the input `x` and the output `y = f(x)`.
    pub fn derivatives(self, x: f64, y: f64) -> (f64, f64) {
        match self {
            Activation::Tanh => {
                let d = 1.0 - y * y;
                (d, -2.0 * y * d)
            }
            Activation::Relu => (if x > 0.0 { 1.0 } else { 0.0 }, 0.0),
            Activation::Sigmoid => {
                let d = y * (1.0 - y);
                (d, d * (1.0 - 2.0 * y))
            }
            Activation::Identity => (1.0, 0.0),
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tanh" => Ok(Activation::Tanh),
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "identity" | "linear" | "none" => Ok(Activation::Identity),
            _ => Err(Error::Unknown {
                what: "activation".into(),
                name: s.into(),
                known: Activation::NAMES.into(),
            }),
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The training loss of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossKind {
    /// `CrossEntropyLoss` on logits, mean over samples:
    /// $\frac1N\sum_s \big(\log\sum_c e^{z_{sc}} - z_{s,y_s}\big)$, with a stable log-sum-exp.
    #[default]
    CrossEntropy,
    /// `MSELoss`, mean over all `N·C` elements: $\frac{1}{NC}\sum_{s,c}(z_{sc}-t_{sc})^2$.
    Mse,
}

impl LossKind {
    /// The name used on the command line and in model metadata.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::CrossEntropy => "cross-entropy",
            LossKind::Mse => "mse",
        }
    }

    /// Whether targets are class labels.
    pub fn is_classification(self) -> bool {
        self == LossKind::CrossEntropy
    }
}

impl std::str::FromStr for LossKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cross-entropy" | "crossentropy" | "ce" | "cross_entropy" => Ok(LossKind::CrossEntropy),
            "mse" => Ok(LossKind::Mse),
            _ => Err(Error::Unknown {
                what: "loss".into(),
                name: s.into(),
                known: "cross-entropy, mse".into(),
            }),
        }
    }
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which statistics batch normalization uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BnMode {
    /// Evaluation mode: the running statistics (a fixed affine map per feature).
    #[default]
    Eval,
    /// Training mode: the statistics of the batch itself (samples interact).
    Train,
}

impl BnMode {
    /// `eval` or `train`.
    pub fn name(self) -> &'static str {
        match self {
            BnMode::Eval => "eval",
            BnMode::Train => "train",
        }
    }
}

impl std::str::FromStr for BnMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "eval" => Ok(BnMode::Eval),
            "train" => Ok(BnMode::Train),
            _ => Err(Error::Unknown {
                what: "batch-norm mode".into(),
                name: s.into(),
                known: "eval, train".into(),
            }),
        }
    }
}

/// The buffers of a `BatchNorm1d` layer (its trainable `γ` and `β` live in the parameter vector).
///
/// Training mode normalizes with the batch mean and the *biased* batch variance,
/// $\hat z = (z-\mu)/\sqrt{\sigma^2+\epsilon}$, $y = \gamma\hat z + \beta$, and updates
/// `running = (1 − momentum)·running + momentum·batch` with the *unbiased* variance.
/// PyTorch's `momentum = 0.1` is the weight of the **new** batch; the course writes
/// $\bar\mu \leftarrow p\bar\mu + (1-p)\mu$, so its `p` is PyTorch's `1 − momentum = 0.9`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormState {
    /// Running mean (starts at 0).
    pub running_mean: Vec<f64>,
    /// Running unbiased variance (starts at 1).
    pub running_var: Vec<f64>,
    /// Batches seen in training mode.
    pub num_batches_tracked: i64,
    /// `eps` (PyTorch: 1e-5).
    pub eps: f64,
    /// Weight of the new batch in the running statistics (PyTorch: 0.1).
    pub momentum: f64,
}

impl BatchNormState {
    /// PyTorch's fresh `BatchNorm1d(n)` buffers.
    pub fn new(n: usize) -> Self {
        BatchNormState {
            running_mean: vec![0.0; n],
            running_var: vec![1.0; n],
            num_batches_tracked: 0,
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    /// Folds one batch's mean and *biased* variance (over `n_samples`) into the running
    /// statistics, as PyTorch does in training mode.
    pub fn track(&mut self, mean: &[f64], biased_var: &[f64], n_samples: usize) {
        let m = self.momentum;
        let corr = if n_samples > 1 {
            n_samples as f64 / (n_samples as f64 - 1.0)
        } else {
            1.0
        };
        for (r, &b) in self.running_mean.iter_mut().zip(mean) {
            *r = (1.0 - m) * *r + m * b;
        }
        for (r, &b) in self.running_var.iter_mut().zip(biased_var) {
            *r = (1.0 - m) * *r + m * b * corr;
        }
        self.num_batches_tracked += 1;
    }
}

/// One module of an `nn.Sequential`.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// `nn.Linear(n_in, n_out)`: parameters `weight` (`n_out x n_in`, row-major) then `bias`.
    Linear {
        /// Input width.
        n_in: usize,
        /// Output width.
        n_out: usize,
    },
    /// `nn.BatchNorm1d(n)`: parameters `weight` (γ) then `bias` (β), and buffers.
    BatchNorm {
        /// Width.
        n: usize,
        /// Running statistics and settings.
        state: BatchNormState,
    },
    /// An element-wise activation (no parameters).
    Activation(Activation),
}

impl Layer {
    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        match self {
            Layer::Linear { n_in, n_out } => n_out * n_in + n_out,
            Layer::BatchNorm { n, .. } => 2 * n,
            Layer::Activation(_) => 0,
        }
    }

    /// Output width given the input width.
    pub fn out_width(&self, n_in: usize) -> usize {
        match self {
            Layer::Linear { n_out, .. } => *n_out,
            _ => n_in,
        }
    }
}
