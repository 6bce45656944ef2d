//! Loss landscapes: the loss along lines and planes through a point of parameter space.
//!
//! [`slice_1d`] and [`slice_2d`] evaluate any [`Loss`] on a grid of points
//! `center + α·d₁ (+ β·d₂)` (grid points in parallel with rayon). The directions come from
//! [`random_direction`] (seeded Gaussian, seed reported), optionally rescaled by
//! [`filter_normalize`] (Li et al. 2018), or from [`checkpoint_pca`], the top two principal
//! directions of a training trajectory's checkpoints. Nothing here knows about layers: a
//! network's filters are passed in as `(offset, len)` ranges of the flat parameter vector.

use crate::curvature::dense::{symmetric_eigen, EigenBackend};
use crate::curvature::lanczos::{dot, gaussian_vec};
use crate::error::{ensure_finite, Error, Result};
use crate::objective::{check_params, Loss};
use nalgebra::DMatrix;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;

/// A random direction and the seed that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomDirection {
    /// The direction's entries, i.i.d. standard normal.
    pub values: Vec<f64>,
    /// The seed; the same seed gives the same direction.
    pub seed: u64,
}

/// A direction in `R^n` with i.i.d. standard normal entries from `seed`.
///
/// # Example
/// ```
/// # use critpt::landscape::random_direction;
/// let d = random_direction(5, 42);
/// assert_eq!(d.seed, 42);
/// assert_eq!(d.values, random_direction(5, 42).values);
/// ```
pub fn random_direction(n: usize, seed: u64) -> RandomDirection {
    let mut rng = StdRng::seed_from_u64(seed);
    RandomDirection {
        values: gaussian_vec(n, &mut rng),
        seed,
    }
}

/// Filter normalization: each filter's slice of `direction` is rescaled to the norm of the same
/// slice of `params`; entries outside every filter (biases, batch-norm parameters) are zeroed.
///
/// For filter $j$ (the range `offset..offset+len`),
/// $d_j \leftarrow \frac{d_j}{\|d_j\|}\,\|\theta_j\|$. A filter whose direction slice is zero
/// stays zero. For a network, a filter is one output unit's incoming weights (a row of a
/// `Linear` weight), which removes the scale invariance of ReLU networks from the plot.
///
/// # Postconditions
/// Same length as `direction`; `‖d_j‖ = ‖θ_j‖` for every filter with a non-zero direction slice.
///
/// # Errors
/// Lengths differ, non-finite entries, or a filter out of range, empty, or overlapping another.
///
/// # Example
/// ```
/// # use critpt::landscape::filter_normalize;
/// let params = [3.0, 4.0, 1.0, 0.5]; // one filter of two weights, then two biases
/// let d = filter_normalize(&[1.0, 0.0, 7.0, 7.0], &params, &[(0, 2)]).unwrap();
/// assert_eq!(d, vec![5.0, 0.0, 0.0, 0.0]);
/// ```
///
/// # References
/// Li, Xu, Taylor, Studer & Goldstein (2018), "Visualizing the Loss Landscape of Neural Nets",
/// *NeurIPS*, §4.
pub fn filter_normalize(
    direction: &[f64],
    params: &[f64],
    filters: &[(usize, usize)],
) -> Result<Vec<f64>> {
    if direction.len() != params.len() {
        return Err(Error::dim("direction", params.len(), direction.len()));
    }
    ensure_finite("direction", direction)?;
    ensure_finite("point", params)?;
    let n = params.len();
    let mut covered = vec![false; n];
    let mut out = vec![0.0; n];
    for (idx, &(offset, len)) in filters.iter().enumerate() {
        let end = offset.checked_add(len).filter(|&e| e <= n && len > 0);
        let Some(end) = end else {
            return Err(Error::invalid(
                "filter",
                format!(
                    "filter {} = (offset {offset}, len {len}) is empty or outside the {n} parameters",
                    idx + 1
                ),
            ));
        };
        if covered[offset..end].iter().any(|&c| c) {
            return Err(Error::invalid(
                "filter",
                format!(
                    "filter {} = (offset {offset}, len {len}) overlaps another filter",
                    idx + 1
                ),
            ));
        }
        covered[offset..end].fill(true);
        let d = &direction[offset..end];
        let dn = dot(d, d).sqrt();
        if dn > 0.0 {
            let pn = dot(&params[offset..end], &params[offset..end]).sqrt();
            for (o, x) in out[offset..end].iter_mut().zip(d) {
                *o = x / dn * pn;
            }
        }
    }
    Ok(out)
}

fn check_direction(what: &str, d: &[f64], n: usize) -> Result<()> {
    if d.len() != n {
        return Err(Error::dim(what, n, d.len()));
    }
    ensure_finite(what, d)
}

/// The loss along a line: `loss(center + α·direction)` for each `α` in `alphas`.
///
/// # Cost
/// One loss evaluation per `α`, in parallel.
///
/// # Errors
/// Wrong lengths, non-finite inputs, or the first failing evaluation.
///
/// # Example
/// ```
/// # use critpt::{expr::Formula, landscape::slice_1d};
/// let f = Formula::parse("x^2 + y^2").unwrap();
/// let v = slice_1d(&f, &[1.0, 0.0], &[1.0, 0.0], &[-1.0, 0.0, 1.0]).unwrap();
/// assert_eq!(v, vec![0.0, 1.0, 4.0]);
/// ```
pub fn slice_1d<L: Loss + ?Sized>(
    loss: &L,
    center: &[f64],
    direction: &[f64],
    alphas: &[f64],
) -> Result<Vec<f64>> {
    check_params(loss, center)?;
    check_direction("direction", direction, center.len())?;
    ensure_finite("alphas", alphas)?;
    alphas
        .par_iter()
        .map(|&a| {
            let p: Vec<f64> = center
                .iter()
                .zip(direction)
                .map(|(c, d)| c + a * d)
                .collect();
            loss.loss(&p)
        })
        .collect()
}

/// The loss on the segment between two models: `loss((1 − t)·from + t·to)` for each `t` in
/// `ts` (`t = 0` is `from`, `t = 1` is `to`; values outside `[0, 1]` extrapolate), the linear
/// interpolation of Goodfellow, Vinyals & Saxe (2015).
///
/// # Cost
/// One loss evaluation per `t`, in parallel.
///
/// # Errors
/// Wrong lengths, non-finite inputs, or the first failing evaluation.
///
/// # Example
/// ```
/// # use critpt::{expr::Formula, landscape::interpolation_slice};
/// let f = Formula::parse("x^2 + y^2").unwrap();
/// let v = interpolation_slice(&f, &[1.0, 0.0], &[0.0, 1.0], &[0.0, 0.5, 1.0]).unwrap();
/// assert_eq!(v, vec![1.0, 0.5, 1.0]);
/// ```
pub fn interpolation_slice<L: Loss + ?Sized>(
    loss: &L,
    from: &[f64],
    to: &[f64],
    ts: &[f64],
) -> Result<Vec<f64>> {
    check_params(loss, from)?;
    check_params(loss, to)?;
    let direction: Vec<f64> = to.iter().zip(from).map(|(b, a)| b - a).collect();
    slice_1d(loss, from, &direction, ts)
}

/// A loss surface on a plane, from [`slice_2d`].
#[derive(Debug, Clone, PartialEq)]
pub struct Slice2d {
    /// Coordinates along the first direction.
    pub alphas: Vec<f64>,
    /// Coordinates along the second direction.
    pub betas: Vec<f64>,
    /// `values[i][j] = loss(center + alphas[i]·d₁ + betas[j]·d₂)`.
    pub values: Vec<Vec<f64>>,
}

/// The loss on a plane: `loss(center + α·d₁ + β·d₂)` on the grid `alphas × betas`.
///
/// # Cost
/// `alphas.len() · betas.len()` loss evaluations, in parallel.
///
/// # Errors
/// Wrong lengths, non-finite inputs, or the first failing evaluation.
pub fn slice_2d<L: Loss + ?Sized>(
    loss: &L,
    center: &[f64],
    d1: &[f64],
    d2: &[f64],
    alphas: &[f64],
    betas: &[f64],
) -> Result<Slice2d> {
    check_params(loss, center)?;
    check_direction("first direction", d1, center.len())?;
    check_direction("second direction", d2, center.len())?;
    ensure_finite("alphas", alphas)?;
    ensure_finite("betas", betas)?;
    let nb = betas.len();
    let flat: Vec<f64> = (0..alphas.len() * nb)
        .into_par_iter()
        .map(|idx| {
            let (a, b) = (alphas[idx / nb], betas[idx % nb]);
            let p: Vec<f64> = center
                .iter()
                .zip(d1.iter().zip(d2))
                .map(|(c, (x, y))| c + a * x + b * y)
                .collect();
            loss.loss(&p)
        })
        .collect::<Result<_>>()?;
    let values = if nb == 0 {
        vec![Vec::new(); alphas.len()]
    } else {
        flat.chunks(nb).map(<[f64]>::to_vec).collect()
    };
    Ok(Slice2d {
        alphas: alphas.to_vec(),
        betas: betas.to_vec(),
        values,
    })
}

/// The top two principal directions of a trajectory's checkpoints, from [`checkpoint_pca`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointPca {
    /// Two orthonormal directions, the first explaining the most variance; each signed so that
    /// its largest-magnitude entry is positive.
    pub directions: [Vec<f64>; 2],
    /// Fraction of the total variance explained by each direction.
    pub explained_variance: [f64; 2],
    /// Each checkpoint's coordinates `(⟨θ_i − θ_last, u₁⟩, ⟨θ_i − θ_last, u₂⟩)` in the plane
    /// through the last checkpoint (which sits at the origin).
    pub coordinates: Vec<[f64; 2]>,
}

/// PCA of a training trajectory (Li et al. 2018, §7): the plane that best shows its path.
///
/// With checkpoints $\theta_0..\theta_T$, the rows $\theta_i - \theta_T$ ($i < T$) are centered
/// (their mean subtracted, as PCA does) into $D \in \mathbb R^{T\times n}$; the eigenpairs
/// $(s_k^2, w_k)$ of the small Gram matrix $DD^\top$ give the principal directions
/// $u_k = D^\top w_k / s_k$ and the explained variances $s_k^2 / \sum_j s_j^2$.
///
/// # Cost
/// `O(T²·n)` time and `O(T·n)` memory (never `n²`).
///
/// # Errors
/// Fewer than 3 checkpoints, different lengths, non-finite entries, or checkpoints that span
/// fewer than two directions once centered.
///
/// # References
/// Li, Xu, Taylor, Studer & Goldstein (2018), "Visualizing the Loss Landscape of Neural Nets",
/// *NeurIPS*, §7.
pub fn checkpoint_pca(checkpoints: &[Vec<f64>]) -> Result<CheckpointPca> {
    if checkpoints.len() < 3 {
        return Err(Error::invalid(
            "checkpoints",
            format!("need at least 3, got {}", checkpoints.len()),
        ));
    }
    let n = checkpoints[0].len();
    for (i, c) in checkpoints.iter().enumerate() {
        if c.len() != n {
            return Err(Error::dim(format!("checkpoint {}", i + 1), n, c.len()));
        }
        ensure_finite(&format!("checkpoint {}", i + 1), c)?;
    }
    let last = &checkpoints[checkpoints.len() - 1];
    let diffs: Vec<Vec<f64>> = checkpoints[..checkpoints.len() - 1]
        .iter()
        .map(|c| c.iter().zip(last).map(|(a, b)| a - b).collect())
        .collect();
    let t = diffs.len();
    let mut mean = vec![0.0; n];
    for d in &diffs {
        for (m, x) in mean.iter_mut().zip(d) {
            *m += x / t as f64;
        }
    }
    let centered: Vec<Vec<f64>> = diffs
        .iter()
        .map(|d| d.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let gram = DMatrix::from_fn(t, t, |i, j| dot(&centered[i], &centered[j]));
    let eig = symmetric_eigen(&gram, EigenBackend::Faer)?;
    let total: f64 = eig.eigenvalues().iter().map(|l| l.max(0.0)).sum();
    let (s1, s2) = (eig.eigenvalues()[t - 1], eig.eigenvalues()[t - 2]);
    if total <= 0.0 || s2 <= 1e-12 * s1 {
        return Err(Error::invalid(
            "checkpoints",
            "once centered they span fewer than two directions; a plane is not defined",
        ));
    }
    let direction = |k: usize| -> Vec<f64> {
        let s = eig.eigenvalues()[k].sqrt();
        let mut u = vec![0.0; n];
        for (i, c) in centered.iter().enumerate() {
            let w = eig.eigenvectors()[(i, k)] / s;
            for (ui, ci) in u.iter_mut().zip(c) {
                *ui += w * ci;
            }
        }
        if crate::curvature::largest_entry_sign(&u) < 0.0 {
            u.iter_mut().for_each(|e| *e = -*e);
        }
        u
    };
    let (u1, u2) = (direction(t - 1), direction(t - 2));
    let coordinates = checkpoints
        .iter()
        .map(|c| {
            let d: Vec<f64> = c.iter().zip(last).map(|(a, b)| a - b).collect();
            [dot(&d, &u1), dot(&d, &u2)]
        })
        .collect();
    Ok(CheckpointPca {
        directions: [u1, u2],
        explained_variance: [s1 / total, s2 / total],
        coordinates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Formula;

    #[test]
    fn slices_follow_the_quadratic_closed_form() {
        // f = x² + 3y² − xy: f(c + a d) = f(c) + a ∇f·d + ½ a² dᵀHd.
        let f = Formula::parse("x^2 + 3*y^2 - x*y").unwrap();
        let (c, d) = ([0.5, -1.0], [0.6, 0.8]);
        let fc = 0.25 + 3.0 + 0.5;
        let g = [2.0 * 0.5 + 1.0, -6.0 - 0.5];
        let gd = g[0] * d[0] + g[1] * d[1];
        let dhd = 2.0 * d[0] * d[0] + 6.0 * d[1] * d[1] - 2.0 * d[0] * d[1];
        let alphas = [-2.0, -0.5, 0.0, 1.0, 3.0];
        let v = slice_1d(&f, &c, &d, &alphas).unwrap();
        for (a, got) in alphas.iter().zip(v) {
            let want = fc + a * gd + 0.5 * a * a * dhd;
            assert!((got - want).abs() < 1e-12, "{a}: {got} vs {want}");
        }
        let e2 = [-0.8, 0.6];
        let betas = [-1.0, 0.25];
        let s = slice_2d(&f, &c, &d, &e2, &alphas, &betas).unwrap();
        assert_eq!(s.values.len(), 5);
        assert_eq!(s.values[0].len(), 2);
        for (i, a) in alphas.iter().enumerate() {
            for (j, b) in betas.iter().enumerate() {
                let p = [c[0] + a * d[0] + b * e2[0], c[1] + a * d[1] + b * e2[1]];
                let want = p[0] * p[0] + 3.0 * p[1] * p[1] - p[0] * p[1];
                assert!((s.values[i][j] - want).abs() < 1e-12);
            }
        }
        assert!(slice_1d(&f, &c, &[1.0], &alphas).is_err());
        assert!(slice_2d(&f, &c, &d, &[1.0, f64::NAN], &alphas, &betas).is_err());
    }

    #[test]
    fn filter_normalization_matches_filter_norms_and_zeroes_the_rest() {
        let params: Vec<f64> = (0..10).map(|i| (i as f64 - 4.0) * 0.3).collect();
        let dir = random_direction(10, 7);
        assert_eq!(dir.seed, 7);
        let filters = [(0, 3), (3, 3), (6, 2)];
        let d = filter_normalize(&dir.values, &params, &filters).unwrap();
        for &(o, l) in &filters {
            let dn = dot(&d[o..o + l], &d[o..o + l]).sqrt();
            let pn = dot(&params[o..o + l], &params[o..o + l]).sqrt();
            assert!((dn - pn).abs() < 1e-12);
            // Same direction within the filter: positive multiple of the original slice.
            let cos = dot(&d[o..o + l], &dir.values[o..o + l])
                / (dn * dot(&dir.values[o..o + l], &dir.values[o..o + l]).sqrt());
            assert!((cos - 1.0).abs() < 1e-12);
        }
        assert_eq!(&d[8..], &[0.0, 0.0]);
        assert!(filter_normalize(&dir.values, &params, &[(0, 3), (2, 2)]).is_err());
        assert!(filter_normalize(&dir.values, &params, &[(9, 2)]).is_err());
        assert!(filter_normalize(&dir.values, &params, &[(usize::MAX, 2)]).is_err());
        assert!(filter_normalize(&dir.values[..9], &params, &[]).is_err());
        assert_ne!(random_direction(10, 8).values, dir.values);
    }

    #[test]
    fn pca_recovers_the_plane_of_a_planar_trajectory() {
        // θ_i = θ_T + a_i u + b_i v with orthonormal u, v: the plane is span(u, v); the explained
        // variances are the variances of the centered (a_i) and (b_i), i < T.
        let n = 6;
        let u = [0.6, 0.8, 0.0, 0.0, 0.0, 0.0];
        let v = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let base = [1.0, -2.0, 0.5, 3.0, 0.0, 1.5];
        let a = [3.0, 1.0, -1.0, -3.0, 0.0];
        let b = [1.0, -1.0, -1.0, 1.0, 0.0];
        let cps: Vec<Vec<f64>> = a
            .iter()
            .zip(&b)
            .map(|(ai, bi)| (0..n).map(|k| base[k] + ai * u[k] + bi * v[k]).collect())
            .collect();
        let pca = checkpoint_pca(&cps).unwrap();
        let var = |x: &[f64]| {
            let m = x.iter().sum::<f64>() / x.len() as f64;
            x.iter().map(|e| (e - m).powi(2)).sum::<f64>()
        };
        let (va, vb) = (var(&a[..4]), var(&b[..4]));
        // a and b (i < T) have mean 0 and are uncorrelated: (3, 1, -1, -3)·(1, -1, -1, 1) = 0.
        assert!((pca.explained_variance[0] - va / (va + vb)).abs() < 1e-12);
        assert!((pca.explained_variance[1] - vb / (va + vb)).abs() < 1e-12);
        assert!((dot(&pca.directions[0], &u).abs() - 1.0).abs() < 1e-12);
        assert!((dot(&pca.directions[1], &v).abs() - 1.0).abs() < 1e-12);
        let last = pca.coordinates[4];
        assert!(last[0].abs() < 1e-15 && last[1].abs() < 1e-15);
        assert!((pca.coordinates[0][0].abs() - 3.0).abs() < 1e-12);
        // A straight line spans one direction only.
        let line: Vec<Vec<f64>> = a.iter().map(|ai| vec![*ai, 2.0 * ai]).collect();
        assert!(checkpoint_pca(&line).is_err());
        assert!(checkpoint_pca(&cps[..2]).is_err());
    }
}
