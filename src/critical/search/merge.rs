//! Merging and ordering: accepted end points closer than the merge distance are one critical
//! point, represented by the one with the smallest gradient norm; the final list is sorted by
//! value, then coordinates, so it does not depend on thread scheduling.

use crate::critical::classify::CriticalPoint;

/// One representative `(point, gradient norm)` per distinct critical point, in order of
/// discovery.
pub(super) struct Representatives {
    reps: Vec<(Vec<f64>, f64)>,
    merge_dist: f64,
}

impl Representatives {
    /// No points yet; points closer than `merge_dist` will be merged.
    pub(super) fn new(merge_dist: f64) -> Self {
        Representatives {
            reps: Vec::new(),
            merge_dist,
        }
    }

    /// The number of distinct points.
    pub(super) fn len(&self) -> usize {
        self.reps.len()
    }

    /// Representative `i`'s point.
    pub(super) fn point(&self, i: usize) -> &[f64] {
        &self.reps[i].0
    }

    /// Adds an accepted end point and returns the index of its representative: the first one
    /// within the merge distance, replaced when `p` has a smaller gradient norm, or a new one.
    /// `dirty[i]` is set for a representative that is new or replaced.
    pub(super) fn insert(&mut self, p: &[f64], grad_norm: f64, dirty: &mut Vec<bool>) -> usize {
        let found = self.reps.iter().position(|(q, _)| {
            p.iter()
                .zip(q)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                <= self.merge_dist
        });
        match found {
            Some(i) => {
                if grad_norm < self.reps[i].1 {
                    self.reps[i] = (p.to_vec(), grad_norm);
                    dirty[i] = true;
                }
                i
            }
            None => {
                self.reps.push((p.to_vec(), grad_norm));
                dirty.push(true);
                self.reps.len() - 1
            }
        }
    }
}

/// The order of `points` by value (values equal to `1e-9` of the largest magnitude tie), ties
/// by coordinates.
pub(super) fn order_by_value(points: &[CriticalPoint]) -> Vec<usize> {
    let vmax = points.iter().fold(1.0f64, |m, p| m.max(p.value.abs()));
    let quantum = 1e-9 * vmax;
    let key = |p: &CriticalPoint| (p.value / quantum).round();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&points[a], &points[b]);
        key(pa).total_cmp(&key(pb)).then_with(|| {
            pa.point
                .iter()
                .zip(&pb.point)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    order
}
