use super::*;
use crate::problems::QuadraticForm;

fn diag(values: &[f64]) -> QuadraticForm {
    QuadraticForm::new(DMatrix::from_diagonal(
        &nalgebra::DVector::from_column_slice(values),
    ))
    .unwrap()
}

#[test]
fn krylov_basis_is_orthonormal_and_tridiagonal_is_the_projection() {
    let q =
        QuadraticForm::from_spectrum(&(1..=30).map(|i| i as f64).collect::<Vec<_>>(), 5).unwrap();
    let params = vec![0.0; 30];
    let mut op = HvpOperator::new(&q, &params).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let mut kr = Krylov::new(gaussian_vec(30, &mut rng));
    for _ in 0..12 {
        assert_eq!(kr.step(&mut op).unwrap(), Step::Extended);
    }
    let j = kr.steps();
    let v = DMatrix::from_fn(30, j, |r, c| kr.basis[c][r]);
    let gram = v.transpose() * &v;
    assert!((gram - DMatrix::identity(j, j)).amax() < 1e-13);
    // Vᵀ A V equals T (α on the diagonal, β next to it, zero elsewhere).
    let t = v.transpose() * q.matrix() * &v;
    for r in 0..j {
        for c in 0..j {
            let want = if r == c {
                kr.alphas[r]
            } else if r + 1 == c {
                kr.betas[r]
            } else if c + 1 == r {
                kr.betas[c]
            } else {
                0.0
            };
            assert!((t[(r, c)] - want).abs() < 1e-11, "T[{r},{c}]");
        }
    }
    assert_eq!(op.n_hvps(), 12);
}

#[test]
fn identity_breaks_down_at_once_and_is_solved() {
    let q = diag(&[1.0; 6]);
    let r = Lanczos::new(2, Which::Both).run(&q, &[0.0; 6]).unwrap();
    // Two smallest and two largest: four pairs. The start block is invariant at once; the
    // second block is random directions orthogonal to it, also invariant.
    assert_eq!(r.spectrum.eigenvalues().len(), 4);
    assert_eq!(r.iterations, 2);
    assert_eq!(r.n_hvps, 4);
    assert!(r
        .spectrum
        .eigenvalues()
        .iter()
        .all(|l| (l - 1.0).abs() < 1e-14));
    assert!(r.residuals.iter().all(|&x| x < 1e-13));
}

#[test]
fn restart_after_breakdown_finds_other_blocks() {
    // Multiplicities: a single Krylov space holds one copy of each eigenvalue; with
    // max_iters = n the restarts reach every direction and recover all of them.
    let vals = [-5.0, -5.0, 1.0, 1.0, 1.0, 3.0, 7.0, 7.0];
    let q = diag(&vals);
    let r = Lanczos::new(4, Which::Both).run(&q, &[0.0; 8]).unwrap();
    let want = [-5.0, -5.0, 1.0, 1.0, 1.0, 3.0, 7.0, 7.0];
    assert_eq!(r.spectrum.eigenvalues().len(), 8);
    for (a, b) in r.spectrum.eigenvalues().iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{:?}", r.spectrum.eigenvalues());
    }
}

#[test]
fn largest_and_smallest_are_algebraic_not_by_magnitude() {
    let q = diag(&[-100.0, -50.0, 0.0, 1.0, 2.0, 3.0]);
    let top = Lanczos::new(2, Which::Largest).run(&q, &[0.0; 6]).unwrap();
    assert!((top.spectrum.eigenvalues()[0] - 2.0).abs() < 1e-10);
    assert!((top.spectrum.eigenvalues()[1] - 3.0).abs() < 1e-10);
    let bottom = Lanczos::new(2, Which::Smallest).run(&q, &[0.0; 6]).unwrap();
    assert!((bottom.spectrum.eigenvalues()[0] + 100.0).abs() < 1e-10);
    assert!((bottom.spectrum.eigenvalues()[1] + 50.0).abs() < 1e-10);
}

#[test]
fn no_convergence_is_an_error_with_the_iterations() {
    // A dense spectrum, 3 steps: nothing can converge to 1e-12.
    let vals: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
    let q = QuadraticForm::from_spectrum(&vals, 4).unwrap();
    let err = Lanczos::new(3, Which::Largest)
        .with_max_iters(3)
        .unwrap()
        .with_tol(1e-12)
        .unwrap()
        .run(&q, &vec![0.0; 200])
        .unwrap_err();
    assert!(
        matches!(err, Error::NoConvergence { iters: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("lanczos did not converge after 3 iterations (residual "),
        "{err}"
    );
}

#[test]
fn partial_convergence_is_reported_not_an_error() {
    // The outlier converges fast; the bulk's edge does not within 8 block steps.
    let mut vals: Vec<f64> = (0..300).map(|i| i as f64 / 300.0).collect();
    vals[0] = -40.0;
    let q = QuadraticForm::from_spectrum(&vals, 6).unwrap();
    let r = Lanczos::new(3, Which::Smallest)
        .with_max_iters(8)
        .unwrap()
        .run(&q, &vec![0.0; 300])
        .unwrap();
    assert!(r.converged[0]);
    assert!(!r.converged[2]);
    assert!((r.spectrum.eigenvalues()[0] + 40.0).abs() < 1e-9);
    assert_eq!(r.iterations, 8);
    // Once the outlier has converged, its residual leaves the block (soft locking).
    assert!(r.n_hvps < 8 * 3, "{} products", r.n_hvps);
    assert!(r.n_hvps >= 8 * 2, "{} products", r.n_hvps);
}

/// `‖D x − λ x‖` for each reported pair of a diagonal operator, recomputed from the diagonal.
fn diagonal_residuals(d: &[f64], r: &LanczosResult) -> Vec<f64> {
    (0..r.spectrum.eigenvalues().len())
        .map(|c| {
            let l = r.spectrum.eigenvalues()[c];
            let x = r.spectrum.eigenvectors().column(c);
            d.iter()
                .zip(x.iter())
                .map(|(di, xi)| ((di - l) * xi).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

#[test]
fn residual_driven_blocks_find_every_copy_of_a_repeated_end() {
    // The top eigenvalue three times, the bottom one twice, a bulk between: with block size
    // k each end's copies all come out, and the reported residuals are the true ones.
    let n = 240;
    let mut d: Vec<f64> = (0..n).map(|i| -2.0 + 6.0 * i as f64 / n as f64).collect();
    d[..5].copy_from_slice(&[9.0, 9.0, 9.0, 8.5, -5.0]);
    d[5] = -5.0;
    let q = diag(&d);
    let mut sorted = d.clone();
    sorted.sort_by(f64::total_cmp);
    for k in [3, 4, 6] {
        for seed in 0..3 {
            let top = Lanczos::new(k, Which::Largest)
                .with_seed(seed)
                .run(&q, &vec![0.0; n])
                .unwrap();
            let bottom = Lanczos::new(k, Which::Smallest)
                .with_seed(seed)
                .run(&q, &vec![0.0; n])
                .unwrap();
            for (r, want) in [(&top, &sorted[n - k..]), (&bottom, &sorted[..k])] {
                assert_eq!(r.block_size, k);
                assert_eq!(r.spectrum.eigenvalues().len(), k);
                for (got, want) in r.spectrum.eigenvalues().iter().zip(want) {
                    assert!((got - want).abs() < 1e-9, "k {k}: {got} vs {want}");
                }
                for (got, want) in r.residuals.iter().zip(diagonal_residuals(&d, r)) {
                    assert!(
                        *got <= 1e-8 * 9.0 && (got - want).abs() < 1e-13,
                        "{got} {want}"
                    );
                }
                assert!(r.converged.iter().all(|&c| c));
            }
        }
    }
}

#[test]
fn residual_driven_blocks_survive_thick_restarts() {
    // A uniform spectrum needs many steps; a basis of 24 vectors forces restarts.
    let vals: Vec<f64> = (0..400).map(|i| -3.0 + 0.01 * i as f64).collect();
    let q = QuadraticForm::from_spectrum(&vals, 9).unwrap();
    for which in [Which::Largest, Which::Smallest] {
        let r = Lanczos::new(4, which)
            .with_basis_size(24)
            .unwrap()
            .with_max_iters(2000)
            .unwrap()
            .run(&q, &vec![0.0; 400])
            .unwrap();
        assert!(r.restarts > 0);
        assert!(r.basis_size <= 24 + 4);
        let want = match which {
            Which::Largest => &vals[396..],
            _ => &vals[..4],
        };
        for (got, want) in r.spectrum.eigenvalues().iter().zip(want) {
            assert!(
                (got - want).abs() < 1e-8 * 3.0,
                "{which:?}: {got} vs {want}"
            );
        }
        // The true residuals, recomputed with the dense matrix.
        for (c, &res) in r.residuals.iter().enumerate() {
            let x = r.spectrum.eigenvectors().column(c);
            let ax = q.matrix() * x;
            let true_res = (ax - x * r.spectrum.eigenvalues()[c]).norm();
            assert!((res - true_res).abs() < 1e-12 && res <= 1e-8 * 3.0);
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    let q = diag(&[1.0, 2.0]);
    assert!(Lanczos::new(0, Which::Both).run(&q, &[0.0; 2]).is_err());
    assert!(Lanczos::new(1, Which::Both).run(&q, &[0.0; 3]).is_err());
    assert!(Lanczos::new(1, Which::Both)
        .run(&q, &[f64::NAN, 0.0])
        .is_err());
    assert!(Lanczos::new(1, Which::Both).with_tol(-1.0).is_err());
    assert!(Lanczos::new(1, Which::Both).with_max_iters(0).is_err());
    let asym = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 0.0, 1.0]);
    assert!(QuadraticForm::new(asym).is_err());
    assert!(QuadraticForm::from_spectrum(&[], 0).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any small symmetric matrix: Lanczos' ends equal the dense decomposition's.
    #[test]
    fn extremes_match_dense_on_random_symmetric_matrices(
        n in 2usize..14,
        entries in proptest::collection::vec(-10.0f64..10.0, 14 * 14),
        seed in 0u64..1000,
    ) {
        let b = DMatrix::from_fn(n, n, |i, j| entries[i * 14 + j]);
        let a = (&b + b.transpose()) * 0.5;
        let dense = symmetric_eigen(&a, EigenBackend::Faer).unwrap();
        let q = QuadraticForm::new(a).unwrap();
        let r = Lanczos::new(1, Which::Both).with_seed(seed).run(&q, &vec![0.0; n]).unwrap();
        let scale = dense.max_abs().max(1e-300);
        let (lo, hi) = (r.spectrum.eigenvalues()[0], r.spectrum.eigenvalues()[1]);
        proptest::prop_assert!((lo - dense.eigenvalues()[0]).abs() <= 1e-9 * scale);
        proptest::prop_assert!((hi - dense.eigenvalues()[n - 1]).abs() <= 1e-9 * scale);
        for res in &r.residuals {
            proptest::prop_assert!(*res <= 1e-7 * scale);
        }
    }
}

#[test]
#[ignore]
fn tune_basis_and_keep() {
    let eig: Vec<f64> = (0..300).map(|i| -7.0 + 0.05 * i as f64).collect();
    let q1 = QuadraticForm::from_spectrum(&eig, 4).unwrap();
    let mut e2: Vec<f64> = (0..1000).map(|i| (i as f64 / 500.0) - 1.0).collect();
    e2[..10].copy_from_slice(&[
        -40.0, -25.0, -18.0, -14.0, -11.0, 20.0, 15.0, 12.0, 10.0, 8.0,
    ]);
    let q2 = QuadraticForm::from_spectrum(&e2, 6).unwrap();
    for (name, q, n) in [("uniform300", &q1, 300), ("outliers1000", &q2, 1000)] {
        for which in [Which::Both, Which::Largest] {
            for m in [20, 30, 40, 60, 80] {
                for keep in [0usize, 10, 15, 20, 30] {
                    let mut l = Lanczos::new(5, which).with_basis_size(m).unwrap();
                    if keep > 0 {
                        l = l.with_restart_keep(keep).unwrap();
                    }
                    match l.run(q, &vec![0.0; n]) {
                        Ok(r) => println!(
                            "{name} {which:?} m={m} keep={keep}: hvps {} iters {} restarts {} conv {}",
                            r.n_hvps,
                            r.iterations,
                            r.restarts,
                            r.converged.iter().filter(|&&c| c).count()
                        ),
                        Err(e) => println!("{name} {which:?} m={m} keep={keep}: {e}"),
                    }
                }
            }
        }
    }
}
