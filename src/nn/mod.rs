//! Small neural networks: layers, losses, batch norm, the MLP training loss as an objective with
//! exact gradient, Hessian-vector product and Hessian, data sets, training, and safetensors
//! models in PyTorch's `nn.Sequential` layout.
//!
//! - [`layers`]: [`Layer`], [`Activation`], [`LossKind`], [`BnMode`], [`BatchNormState`].
//! - [`model`]: [`Mlp`] (layers + flat parameters, PyTorch initialization, forward passes).
//! - [`objective`]: [`NetLoss`], the loss over a data set as a function of the parameters.
//! - [`gauss_newton`]: [`NetGaussNewton`], the Gauss–Newton matrix and the empirical Fisher.
//! - [`data`]: [`Dataset`] (CSV, generators, standardization); [`shuffled_batches`] (the
//!   executor's shuffler) is re-exported here for training loops written by hand.
//! - [`lower`]: an [`Mlp`] as an op graph ([`lower::mlp_graph`]) and its data as graph data.
//! - [`safetensors_io`]: [`load_model`], [`save_model`].
//! - [`train`]: [`train()`], mini-batch training with the optimizers of [`crate::optim`].
//!
//! Outside this module nothing knows about layers: everything else sees a flat parameter vector.

pub mod curvature;
pub mod data;
pub mod gauss_newton;
pub mod layers;
pub mod lower;
pub(crate) mod mat;
pub mod model;
pub mod objective;
pub mod safetensors_io;
pub mod train;

pub use crate::optim::shuffled_batches;
pub use data::{DataOrigin, Dataset, Standardization, Targets, Task};
pub use gauss_newton::{net_operator, NetGaussNewton};
pub use layers::{Activation, BatchNormState, BnMode, Layer, LossKind};
pub use model::{accuracy_of, Mlp};
pub use objective::NetLoss;
pub use safetensors_io::{
    load_model, load_model_bytes, model_bytes, model_bytes_with, save_model, save_model_with,
    ModelFile, ModelInfo,
};
pub use train::{
    train, train_graph, EpochRecord, GraphTrainSource, TrainConfig, TrainReport, TrainSource,
};

#[cfg(test)]
mod tests;
