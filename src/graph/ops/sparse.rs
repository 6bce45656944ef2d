//! A fixed sparse linear map `y = S·x`: pooling windows (max pooling's selected entries, average
//! pooling's weights) as one structure, so their passes are a gather and a scatter.

/// Row `j` of `S` holds `entries[offsets[j]..offsets[j+1]]`, each `(input index, weight)`.
#[derive(Debug, Clone, Default)]
pub struct SparseMap {
    /// Start of each output's entries (length outputs + 1).
    pub offsets: Vec<usize>,
    /// `(input index, weight)` pairs.
    pub entries: Vec<(usize, f64)>,
    /// Length of the input.
    pub in_len: usize,
}

impl SparseMap {
    /// Number of outputs.
    pub fn out_len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// `S·x`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        (0..self.out_len())
            .map(|j| {
                self.entries[self.offsets[j]..self.offsets[j + 1]]
                    .iter()
                    .map(|&(i, w)| w * x[i])
                    .sum()
            })
            .collect()
    }

    /// `Sᵀ·g`.
    pub fn apply_t(&self, g: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.in_len];
        for (j, gj) in g.iter().enumerate().take(self.out_len()) {
            for &(i, w) in &self.entries[self.offsets[j]..self.offsets[j + 1]] {
                out[i] += w * gj;
            }
        }
        out
    }
}
