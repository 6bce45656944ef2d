//! Property tests: quadratic forms ½θᵀQΛQᵀθ with chosen eigenvalue signs are classified exactly,
//! and every eigen backend satisfies ‖HV − VΛ‖ ≈ 0 and agrees with the others.

use critpt::critical::{classify_point, CriticalKind, Tolerances};
use critpt::curvature::{symmetric_eigen, EigenBackend};
use critpt::objective::{Gradient, Hessian, Loss};
use critpt::Result;
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// `½ θᵀ A θ` with an exact gradient and Hessian.
struct Quadratic(DMatrix<f64>);

impl Loss for Quadratic {
    fn n_params(&self) -> usize {
        self.0.nrows()
    }
    fn loss(&self, p: &[f64]) -> Result<f64> {
        let x = DVector::from_column_slice(p);
        Ok(0.5 * x.dot(&(&self.0 * &x)))
    }
}
impl Gradient for Quadratic {
    fn gradient(&self, p: &[f64], out: &mut [f64]) -> Result<()> {
        let g = &self.0 * DVector::from_column_slice(p);
        out.copy_from_slice(g.as_slice());
        Ok(())
    }
}
impl Hessian for Quadratic {
    fn hessian(&self, _p: &[f64]) -> Result<DMatrix<f64>> {
        Ok(self.0.clone())
    }
}

/// A random orthogonal matrix: the Q of a Gaussian matrix's QR, signs fixed by R's diagonal.
fn random_orthogonal(n: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let g = DMatrix::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
    let qr = g.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for j in 0..n {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

fn quadratic(eigs: &[f64], seed: u64) -> DMatrix<f64> {
    let n = eigs.len();
    let q = random_orthogonal(n, seed);
    let a = &q * DMatrix::from_diagonal(&DVector::from_column_slice(eigs)) * q.transpose();
    (&a + a.transpose()) * 0.5
}

prop_compose! {
    /// Counts of negative, zero and positive eigenvalues (n from 1 to 50) with magnitudes.
    fn signed_spectrum()(neg in 0usize..=20, zero in 0usize..=10, pos in 0usize..=20)
        (mags in proptest::collection::vec(0.1f64..10.0, (neg + zero + pos).max(1)),
         neg in Just(neg), zero in Just(zero), pos in Just(pos), seed in any::<u64>())
        -> (Vec<f64>, usize, usize, usize, u64)
    {
        let (neg, zero, pos) = if neg + zero + pos == 0 { (0, 0, 1) } else { (neg, zero, pos) };
        let mut e = Vec::new();
        for (k, m) in mags.iter().enumerate() {
            e.push(if k < neg { -m } else if k < neg + zero { 0.0 } else { *m });
        }
        (e, neg, zero, pos, seed)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quadratic_forms_are_classified_exactly((eigs, neg, zero, pos, seed) in signed_spectrum()) {
        let n = eigs.len();
        let q = Quadratic(quadratic(&eigs, seed));
        let p = classify_point(&q, &vec![0.0; n], &Tolerances::dual()).unwrap();
        let want = if neg > 0 && pos > 0 {
            CriticalKind::Saddle
        } else if zero > 0 {
            CriticalKind::Degenerate
        } else if neg == n {
            CriticalKind::Maximum
        } else {
            CriticalKind::Minimum
        };
        prop_assert_eq!(p.kind, want);
        prop_assert_eq!(p.index, neg);
        prop_assert_eq!(p.minimum_ratio, pos as f64 / n as f64);
    }

    #[test]
    fn backends_decompose_and_agree((eigs, _neg, _zero, _pos, seed) in signed_spectrum()) {
        let n = eigs.len();
        let a = quadratic(&eigs, seed);
        let mut sorted = eigs.clone();
        sorted.sort_by(f64::total_cmp);
        let tol = 1e-12 * (n as f64).sqrt() * 10.0 * 8.0;
        let mut reference: Option<Vec<f64>> = None;
        for backend in EigenBackend::available() {
            let s = symmetric_eigen(&a, backend).unwrap();
            let v = s.eigenvectors();
            let lam = DMatrix::from_diagonal(&DVector::from_column_slice(s.eigenvalues()));
            let resid = (&a * v - v * lam).norm();
            prop_assert!(resid < tol, "{}: ‖AV − VΛ‖ = {:e}", backend.name(), resid);
            let orth = (v.transpose() * v - DMatrix::identity(n, n)).norm();
            prop_assert!(orth < tol, "{}: ‖VᵀV − I‖ = {:e}", backend.name(), orth);
            for (got, want) in s.eigenvalues().iter().zip(&sorted) {
                prop_assert!((got - want).abs() < tol, "{}: {} vs {}", backend.name(), got, want);
            }
            prop_assert!(s.eigenvalues().windows(2).all(|w| w[0] <= w[1]), "ascending");
            match &reference {
                None => reference = Some(s.eigenvalues().to_vec()),
                Some(r) => {
                    for (x, y) in r.iter().zip(s.eigenvalues()) {
                        prop_assert!((x - y).abs() < tol);
                    }
                }
            }
        }
    }
}

#[test]
fn lapack_backend_reports_when_missing_or_works() {
    let a = DMatrix::from_row_slice(2, 2, &[0.0, -2.0, -2.0, 0.0]);
    let built_in = EigenBackend::available().contains(&EigenBackend::Lapack);
    match symmetric_eigen(&a, EigenBackend::Lapack) {
        Ok(s) => {
            assert!(built_in);
            assert!((s.eigenvalues()[0] + 2.0).abs() < 1e-14);
        }
        Err(e) => {
            assert!(!built_in);
            assert!(e.to_string().contains("--features lapack"));
        }
    }
}
