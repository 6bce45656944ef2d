use super::*;

fn val(src: &str, at: &[f64]) -> f64 {
    Formula::parse(src).unwrap().loss(at).unwrap()
}

fn parse_err_column(src: &str) -> usize {
    match Formula::parse(src) {
        Err(Error::Parse { column, .. }) => column,
        other => panic!("expected a parse error for {src:?}, got {other:?}"),
    }
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(val("-x^2", &[3.0]), -9.0);
    assert_eq!(val("x*0 + 2^3^2", &[1.0]), 512.0);
    assert_eq!(val("x*0 + 2^-1", &[1.0]), 0.5);
    assert_eq!(val("1 - x - 1", &[5.0]), -5.0);
    assert_eq!(val("8 / x / 2", &[2.0]), 2.0);
    assert_eq!(val("2*x^2 + 3*x + 1", &[2.0]), 15.0);
}

#[test]
fn functions_and_constants() {
    let v = val(
        "sin(pi*x) + cos(0*x) + ln(e) + log(exp(x)) + sqrt(4) + abs(-x) + tanh(0*x)",
        &[0.5],
    );
    assert!((v - (1.0 + 1.0 + 1.0 + 0.5 + 2.0 + 0.5)).abs() < 1e-15);
    assert!((val("sigmoid(x)", &[0.0]) - 0.5).abs() < 1e-15);
    assert!((val("tan(x)", &[1.0]) - 1.0f64.tan()).abs() < 1e-15);
    assert!((val("x^0.5", &[9.0]) - 3.0).abs() < 1e-15);
    assert!((val("x^y", &[2.0, 10.0]) - 1024.0).abs() < 1e-9);
    assert_eq!(val("1e-3*x + 2.5E2", &[1000.0]), 251.0);
}

#[test]
fn natural_variable_order() {
    let f = Formula::parse("x10 + 2*x2 + 3*x1").unwrap();
    assert_eq!(f.variables(), ["x1", "x2", "x10"]);
    assert_eq!(f.loss(&[1.0, 10.0, 100.0]).unwrap(), 3.0 + 20.0 + 100.0);
    let g = Formula::parse_with_vars("a - b", Some(&["b".into(), "a".into()])).unwrap();
    assert_eq!(g.loss(&[1.0, 5.0]).unwrap(), 4.0);
    assert!(Formula::parse_with_vars("a - b", Some(&["a".into()])).is_err());
}

#[test]
fn parse_errors_name_the_column() {
    assert_eq!(parse_err_column("x + * y"), 5);
    assert_eq!(parse_err_column("(x + y"), 7);
    assert_eq!(parse_err_column("foo(x)"), 1);
    assert_eq!(parse_err_column("x $ y"), 3);
    assert_eq!(parse_err_column("x y"), 3);
    assert_eq!(parse_err_column("sin x"), 1);
    assert_eq!(parse_err_column(""), 1);
    assert_eq!(parse_err_column("x^"), 3);
    assert_eq!(parse_err_column("2 + 3"), 1);
}

#[test]
fn domain_errors_are_errors() {
    let f = Formula::parse("ln(x)").unwrap();
    assert!(matches!(f.loss(&[-1.0]), Err(Error::NonFinite(_))));
    assert!(matches!(f.loss(&[f64::NAN]), Err(Error::NonFinite(_))));
    assert!(matches!(
        f.loss(&[1.0, 2.0]),
        Err(Error::DimMismatch { .. })
    ));
    let g = Formula::parse("exp(x)").unwrap();
    assert!(matches!(g.loss(&[1000.0]), Err(Error::NonFinite(_))));
}

#[test]
fn dual_derivatives_match_closed_form() {
    // REFERENCE §1: L = (1 - w1 w2)^2.
    let f = Formula::parse("(1-w1*w2)^2").unwrap();
    let (w1, w2) = (0.7, -1.3);
    let mut g = [0.0; 2];
    f.gradient(&[w1, w2], &mut g).unwrap();
    let r = 1.0 - w1 * w2;
    assert!((g[0] - (-2.0 * w2 * r)).abs() < 1e-14);
    assert!((g[1] - (-2.0 * w1 * r)).abs() < 1e-14);
    let h = f.hessian(&[w1, w2]).unwrap();
    assert!((h[(0, 0)] - 2.0 * w2 * w2).abs() < 1e-14);
    assert!((h[(0, 1)] - (-2.0 + 4.0 * w1 * w2)).abs() < 1e-14);
    assert!((h[(1, 0)] - (-2.0 + 4.0 * w1 * w2)).abs() < 1e-14);
    assert!((h[(1, 1)] - 2.0 * w1 * w1).abs() < 1e-14);
    let v = [0.3, -2.0];
    let mut hv = [0.0; 2];
    f.hvp(&[w1, w2], &v, &mut hv).unwrap();
    for i in 0..2 {
        let want = h[(i, 0)] * v[0] + h[(i, 1)] * v[1];
        assert!((hv[i] - want).abs() < 1e-13);
    }
}
