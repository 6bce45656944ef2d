//! Unit tests of the optimizers' bookkeeping (the numbers are checked against torch in
//! tests/it/optim.rs).

use super::*;

#[test]
fn length_changes_are_errors() {
    for name in OPTIMIZER_NAMES {
        let mut opt = optimizer_by_name(name, &Hyper::default()).unwrap();
        let mut p = vec![1.0, 2.0];
        opt.step(&mut p, &[0.1, 0.2], 0.01).unwrap();
        let mut q = vec![1.0, 2.0, 3.0];
        assert!(opt.step(&mut q, &[0.1, 0.2, 0.3], 0.01).is_err(), "{name}");
        assert!(opt.step(&mut p, &[0.1], 0.01).is_err(), "{name}");
        assert!(opt.step(&mut p, &[0.1, 0.2], f64::NAN).is_err(), "{name}");
        assert!(opt.step(&mut p, &[0.1, 0.2], -1.0).is_err(), "{name}");
        opt.reset();
        opt.step(&mut q, &[0.1, 0.2, 0.3], 0.01).unwrap();
        assert_eq!(opt.name(), name);
    }
}

#[test]
fn reset_gives_a_fresh_optimizer() {
    for name in OPTIMIZER_NAMES {
        let mut a = optimizer_by_name(name, &Hyper::default()).unwrap();
        let mut pa = vec![1.0, -2.0];
        a.step(&mut pa, &[0.5, 0.25], 0.1).unwrap();
        a.step(&mut pa, &[0.3, -0.7], 0.1).unwrap();
        a.reset();
        let mut pa = vec![1.0, -2.0];
        a.step(&mut pa, &[0.3, -0.7], 0.1).unwrap();
        let mut b = optimizer_by_name(name, &Hyper::default()).unwrap();
        let mut pb = vec![1.0, -2.0];
        b.step(&mut pb, &[0.3, -0.7], 0.1).unwrap();
        assert_eq!(pa, pb, "{name}");
    }
}

#[test]
fn lerp_matches_both_branches() {
    assert!((rmsprop::lerp(1.0, 3.0, 0.25) - 1.5).abs() < 1e-15);
    assert!((rmsprop::lerp(1.0, 3.0, 0.75) - 2.5).abs() < 1e-15);
}

#[test]
fn unused_flags_are_listed() {
    let h = Hyper {
        beta1: Some(0.8),
        momentum: Some(0.5),
        ..Hyper::default()
    };
    assert_eq!(h.unused_for("sgd").unwrap(), vec!["beta1"]);
    assert_eq!(h.unused_for("adam").unwrap(), vec!["momentum"]);
    assert!(h.unused_for("lbfgs").is_err());
}
