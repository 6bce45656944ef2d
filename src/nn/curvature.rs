//! Network glue for the matrix-free curvature tools of [`crate::curvature`].
//!
//! The curvature code sees only a flat parameter vector; this module supplies what needs the
//! layers: the filters of an [`Mlp`] for filter normalization ([`filters`],
//! [`filter_normalized_direction`]).

use super::layers::Layer;
use super::model::Mlp;
use crate::error::Result;
use crate::landscape::{filter_normalize, random_direction};

/// The filters of `model` as `(offset, len)` ranges of its flat parameter vector, for
/// [`filter_normalize`]: each output row of each `Linear` weight is one filter (that unit's
/// incoming weights). Biases and batch-norm parameters belong to no filter, so filter
/// normalization zeroes them (Li et al. 2018, §4).
///
/// # Example
/// ```
/// # use critpt::nn::{Activation, Mlp, curvature::filters};
/// let m = Mlp::new(&[2, 3, 1], Activation::Relu, false, 0).unwrap();
/// // layer 0: weight 3x2 at 0..6, bias 6..9; layer 2: weight 1x3 at 9..12, bias 12
/// assert_eq!(filters(&m), vec![(0, 2), (2, 2), (4, 2), (9, 3)]);
/// ```
pub fn filters(model: &Mlp) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for layer in &model.layers {
        if let Layer::Linear { n_in, n_out } = layer {
            out.extend((0..*n_out).map(|r| (offset + r * n_in, *n_in)));
        }
        offset += layer.n_params();
    }
    out
}

/// A seeded Gaussian direction, filter-normalized to `model`'s parameters: each filter's slice
/// has the norm of that filter's weights, biases and batch-norm entries are zero.
///
/// # Errors
/// Non-finite parameters.
pub fn filter_normalized_direction(model: &Mlp, seed: u64) -> Result<Vec<f64>> {
    let d = random_direction(model.n_params(), seed);
    filter_normalize(&d.values, &model.params, &filters(model))
}
