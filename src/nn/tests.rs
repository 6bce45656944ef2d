use super::*;
use rand::SeedableRng;

#[test]
fn activation_derivatives_match_central_differences() {
    for f in [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Identity,
        Activation::Relu,
    ] {
        for &x in &[-1.3, -0.2, 0.4, 2.1] {
            let h = 1e-5;
            let (d1, d2) = f.derivatives(x, f.apply(x));
            let fd1 = (f.apply(x + h) - f.apply(x - h)) / (2.0 * h);
            let fd2 = (f.apply(x + h) - 2.0 * f.apply(x) + f.apply(x - h)) / (h * h);
            assert!((d1 - fd1).abs() < 1e-9, "{f} f' at {x}");
            assert!((d2 - fd2).abs() < 1e-4, "{f} f'' at {x}");
        }
    }
    // PyTorch's relu has derivative 0 at 0.
    assert_eq!(Activation::Relu.derivatives(0.0, 0.0), (0.0, 0.0));
}

#[test]
fn names_parse_and_unknown_names_list_the_known_ones() {
    assert_eq!("tanh".parse::<Activation>().unwrap(), Activation::Tanh);
    assert_eq!("mse".parse::<LossKind>().unwrap(), LossKind::Mse);
    assert_eq!("train".parse::<BnMode>().unwrap(), BnMode::Train);
    let e = "gelu".parse::<Activation>().unwrap_err().to_string();
    assert!(e.contains("gelu") && e.contains("sigmoid"), "{e}");
}

#[test]
fn running_statistics_follow_reference_section_5() {
    // BatchNorm1d(1) after the batch [1, 2]: mean 0.15, var 0.95 (unbiased batch variance 0.5).
    let mut s = BatchNormState::new(1);
    s.track(&[1.5], &[0.25], 2);
    assert!((s.running_mean[0] - 0.15).abs() < 1e-15);
    assert!((s.running_var[0] - 0.95).abs() < 1e-15);
}

#[test]
fn pytorch_initialization_bounds_and_layout() {
    let m = Mlp::new(&[4, 16, 3], Activation::Tanh, true, 9).unwrap();
    assert_eq!(m.n_params(), 16 * 4 + 16 + 2 * 16 + 3 * 16 + 3);
    let names = m.param_names();
    assert_eq!(names[0], "0.weight[0,0]");
    assert_eq!(names[80], "1.weight[0]");
    assert_eq!(names.last().unwrap(), "3.bias[2]");
    let b0 = 1.0 / 2.0; // 1/sqrt(4)
    assert!(m.params[..80].iter().all(|p| p.abs() <= b0));
    assert!(
        m.params[80..96].iter().all(|&p| p == 1.0) && m.params[96..112].iter().all(|&p| p == 0.0)
    );
    let b1 = 1.0 / 4.0; // 1/sqrt(16)
    assert!(m.params[112..].iter().all(|p| p.abs() <= b1));
    assert_eq!(m, Mlp::new(&[4, 16, 3], Activation::Tanh, true, 9).unwrap());
    assert!(Mlp::new(&[4], Activation::Tanh, false, 0).is_err());
}

#[test]
fn batches_cover_every_sample_once_per_epoch() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let b = shuffled_batches(10, 4, &mut rng);
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    let mut all: Vec<usize> = b.concat();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
}

#[test]
fn accuracy_takes_the_first_maximum() {
    let z = nalgebra::DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 0.5, 0.5]);
    assert!((accuracy_of(&z, &[0, 1, 0]) - 1.0).abs() < 1e-15);
    assert!((accuracy_of(&z, &[1, 1, 1]) - 1.0 / 3.0).abs() < 1e-15);
}

#[test]
fn tanh_agrees_with_libm_to_rounding() {
    let mut worst = 0.0f64;
    for i in -40_000..=40_000 {
        let x = i as f64 * 5e-4;
        worst = worst.max((Activation::Tanh.apply(x) - x.tanh()).abs());
    }
    for &x in &[
        1e-300,
        -1e-12,
        19.9,
        25.0,
        -700.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        worst = worst.max((Activation::Tanh.apply(x) - x.tanh()).abs());
    }
    assert!(worst < 2.3e-16, "worst {worst:e}");
    assert!(Activation::Tanh.apply(f64::NAN).is_nan());
}

/// The standardization a model file keeps in its metadata (decimal JSON) reads back as the same
/// bits: every f64 prints as its shortest round-trip decimal, and that decimal must parse back
/// exactly. 1.4183245802220505 is a decimal a fast, inexact float parser reads one ulp low.
#[test]
fn standardization_in_the_metadata_round_trips_exactly() {
    let model = Mlp::new(&[3, 2], Activation::Tanh, false, 0).unwrap();
    let st = Standardization {
        mean: vec![1.4183245802220505, 0.1 + 0.2, -2.5e-300],
        std: vec![1.0 / 3.0, 2.0f64.sqrt(), 5.0 / 3.0],
    };
    let bytes = model_bytes(&model, None, Some(&st)).unwrap();
    let back = load_model_bytes(&bytes, "memory", None).unwrap();
    let got = back.standardization.expect("standardization kept");
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got.mean), bits(&st.mean));
    assert_eq!(bits(&got.std), bits(&st.std));
}
