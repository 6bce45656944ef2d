use super::*;
use num_dual::Dual64;

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
    // docs/reference.md §1: L = (1 - w1 w2)^2.
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

/// Runs `body` on a thread with a 256 KiB stack: any recursion proportional to the input
/// would overflow it.
fn on_small_stack(body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(body)
        .expect("thread starts")
        .join()
        .expect("no panic or overflow on a small stack");
}

fn message(src: &str) -> (usize, String) {
    match Formula::parse(src) {
        Err(Error::Parse { column, message }) => (column, message),
        other => panic!(
            "expected a parse error for a {}-byte formula, got {other:?}",
            src.len()
        ),
    }
}

fn depth_error(src: &str) -> usize {
    let (column, msg) = message(src);
    assert!(
        msg.contains(&format!("more than {MAX_DEPTH} levels")),
        "{msg}"
    );
    column
}

#[test]
fn hostile_nesting_is_an_error_naming_the_limit_on_a_small_stack() {
    on_small_stack(|| {
        // The first level past the limit is the error's column.
        let parens = format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(depth_error(&parens), MAX_DEPTH + 1);
        let powers = format!("x{}", "^x".repeat(30_000));
        assert_eq!(depth_error(&powers), 2 * MAX_DEPTH + 2);
        let signs = format!("{}x", "-".repeat(50_000));
        assert_eq!(depth_error(&signs), MAX_DEPTH + 1);
        let sines = format!("{}x{}", "sin(".repeat(20_000), ")".repeat(20_000));
        assert_eq!(depth_error(&sines), 4 * MAX_DEPTH + 1);
        let unclosed = "(".repeat(100_000);
        assert_eq!(depth_error(&unclosed), MAX_DEPTH + 1);
        // Mixtures of every kind of level.
        let mixed = format!("{}x{}", "-sin((2*x)^(".repeat(5_000), ")))".repeat(5_000));
        depth_error(&mixed);
        let mixed2 = format!("{}1", "x+abs(-(x*tanh(".repeat(3_000));
        depth_error(&mixed2);
    });
}

#[test]
fn nesting_up_to_the_limit_evaluates_on_a_small_stack() {
    on_small_stack(|| {
        let parens = format!("{}x{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(val(&parens, &[0.25]), 0.25);
        let over = format!("({parens})");
        assert_eq!(depth_error(&over), MAX_DEPTH + 1);
        // sin nested k deep, against the iterated sine and the chain rule's product of cosines.
        let k = MAX_DEPTH;
        let f = Formula::parse(&format!("{}x{}", "sin(".repeat(k), ")".repeat(k))).unwrap();
        let x0 = 0.7;
        let (mut s, mut ds) = (x0, 1.0);
        for _ in 0..k {
            ds *= f64::cos(s);
            s = f64::sin(s);
        }
        let mut g = [0.0];
        let v = f.loss_and_gradient(&[x0], &mut g).unwrap();
        assert!((v - s).abs() <= 1e-15 * s, "{v} vs {s}");
        assert!((g[0] - ds).abs() <= 1e-12 * ds, "{} vs {ds}", g[0]);
        let h = f.hessian(&[x0]).unwrap();
        let mut hv = [0.0];
        f.hvp(&[x0], &[1.0], &mut hv).unwrap();
        assert!((h[(0, 0)] - hv[0]).abs() <= 1e-12 * hv[0].abs());
        // Signs and powers at the limit: -(-(...x)) and 1^1^...^x.
        assert_eq!(val(&format!("{}x", "-".repeat(MAX_DEPTH)), &[3.0]), 3.0);
        assert_eq!(
            val(&format!("{}x", "1^".repeat(MAX_DEPTH - 1)), &[3.0]),
            1.0
        );
    });
}

#[test]
fn long_flat_sums_and_products_evaluate_on_a_small_stack() {
    on_small_stack(|| {
        let n = 15_000;
        let sum = vec!["x"; n].join("+");
        let f = Formula::parse(&sum).unwrap();
        let mut g = [0.0];
        let v = f.loss_and_gradient(&[0.5], &mut g).unwrap();
        assert_eq!((v, g[0]), (0.5 * n as f64, n as f64));
        assert_eq!(f.hessian(&[0.5]).unwrap()[(0, 0)], 0.0);
        // Alternating signs and a product chain: sum_{i} (-1)^i x, and x*x*...*x = x^m.
        let alt: String = (0..n)
            .map(|i| if i % 2 == 0 { "+x" } else { "-x" })
            .collect();
        assert_eq!(val(&alt, &[2.0]), 0.0);
        let m = 3_000;
        let prod = Formula::parse(&vec!["x"; m].join("*")).unwrap();
        let mut g = [0.0];
        let v = prod.loss_and_gradient(&[1.0], &mut g).unwrap();
        assert_eq!((v, g[0]), (1.0, m as f64));
        let h = prod.hessian(&[1.0]).unwrap();
        assert_eq!(h[(0, 0)], (m * (m - 1)) as f64);
        // 15,000 distinct variables: the gradient is all ones; the exact Hessian would need
        // 15000² numbers per intermediate value (over DUAL_MAX_BYTES) and is refused before
        // allocating.
        let names: Vec<String> = (1..=n).map(|i| format!("w{i}")).collect();
        let wide = Formula::parse(&names.join(" + ")).unwrap();
        assert_eq!(wide.variables()[n - 1], format!("w{n}"));
        let x = vec![1.0; n];
        let mut g = vec![0.0; n];
        assert_eq!(wide.loss_and_gradient(&x, &mut g).unwrap(), n as f64);
        assert!(g.iter().all(|&d| d == 1.0));
        match wide.hessian(&x) {
            Err(Error::Unsupported(m)) => assert!(m.contains("15000 variables"), "{m}"),
            other => panic!("expected the Hessian to be refused, got {other:?}"),
        }
        // Dropping the formulas happens here, on the small stack too.
    });
}

/// `(value, first, second derivative)` of `src` in `x` through all four number types: the f64
/// value, the `DualVec` gradient, the `Dual2Vec` Hessian, and the `Dual64`-in-`DualVec` HVP
/// (which must agree with the Hessian).
fn through_all_types(src: &str, x: f64) -> (f64, f64, f64) {
    let f = Formula::parse(src).unwrap();
    let v = f.loss(&[x]).unwrap();
    let mut g = [0.0];
    let v2 = f.loss_and_gradient(&[x], &mut g).unwrap();
    // Dual division rounds through a reciprocal: agreement to an ulp or two.
    close(
        v2,
        v,
        4.5e-16,
        &format!("{src} at {x}: gradient pass value"),
    );
    let h = f.hessian(&[x]).unwrap()[(0, 0)];
    let mut hv = [0.0];
    f.hvp(&[x], &[1.0], &mut hv).unwrap();
    assert!(
        (hv[0] - h).abs() <= 1e-15 * h.abs() + 1e-300,
        "{src} at {x}: hvp {} vs hessian {h}",
        hv[0]
    );
    let d = Formula::parse(src).unwrap().eval(&[Dual64::new(x, 1.0)]);
    assert!((d.eps - g[0]).abs() <= 1e-15 * g[0].abs() + 1e-300);
    (v, g[0], h)
}

/// `|got − want| ≤ rel · max(|got|, |want|)` (approx's `relative_eq`; exact equality at 0).
fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        approx::relative_eq!(got, want, epsilon = 1e-300, max_relative = rel),
        "{what}: got {got:e}, want {want:e}"
    );
}

#[test]
fn tanh_saturates_with_closed_form_derivatives() {
    for &x in &[
        -800.0, -400.0, -40.0, -20.0, -3.0, -1.0, -0.5, -1e-8, 0.0, 1e-8, 0.5, 1.0, 3.0, 20.0,
        40.0, 400.0, 800.0,
    ] {
        let (t, d1, d2) = through_all_types("tanh(x)", x);
        close(t, f64::tanh(x), 4e-16, &format!("tanh({x})"));
        // sech² two ways: 1 - tanh² where it does not cancel, 4e^{-2|x|}/(1+e^{-2|x|})² always.
        let e = (-2.0 * f64::abs(x)).exp();
        let sech2 = 4.0 * e / ((1.0 + e) * (1.0 + e));
        if x.abs() <= 3.0 {
            close(sech2, 1.0 - f64::tanh(x).powi(2), 1e-14, "sech² identity");
        }
        close(d1, sech2, 1e-14, &format!("tanh'({x})"));
        close(
            d2,
            -2.0 * f64::tanh(x) * sech2,
            1e-14,
            &format!("tanh''({x})"),
        );
        if x.abs() >= 400.0 {
            assert_eq!((t, d1, d2), (x.signum(), 0.0, 0.0));
        }
    }
}

#[test]
fn sigmoid_saturates_with_closed_form_derivatives() {
    for &x in &[
        -800.0, -400.0, -40.0, -20.0, -3.0, -2.0, -1.0, -0.5, -1e-8, 0.0, 1e-8, 0.5, 1.0, 2.0, 3.0,
        20.0, 40.0, 400.0, 800.0,
    ] {
        let (s, d1, d2) = through_all_types("sigmoid(x)", x);
        // The reference: (1 + tanh(x/2))/2 where it does not cancel; for x < -3 the complement
        // 1 - σ(-x) cancels, so σ(x) = e^x/(1+e^x) there (exp(-800) = 0 as in exact arithmetic
        // rounded).
        let want = if x >= -3.0 {
            0.5 * (1.0 + f64::tanh(0.5 * x))
        } else {
            x.exp() / (1.0 + x.exp())
        };
        close(s, want, 1e-15, &format!("sigmoid({x})"));
        let one_minus = if x <= 3.0 {
            // 1 - σ(x) = σ(-x)
            0.5 * (1.0 + f64::tanh(-0.5 * x))
        } else {
            (-x).exp() / (1.0 + (-x).exp())
        };
        close(d1, want * one_minus, 1e-14, &format!("sigmoid'({x})"));
        // σ'' = σ(1−σ)(1−2σ), with 1 − 2σ = −tanh(x/2) so that it does not cancel near 0.
        close(
            d2,
            want * one_minus * -f64::tanh(0.5 * x),
            1e-14,
            &format!("sigmoid''({x})"),
        );
        if x.abs() >= 800.0 {
            assert_eq!((s, d1, d2), (if x > 0.0 { 1.0 } else { 0.0 }, 0.0, 0.0));
        }
    }
}

#[test]
fn saturated_activations_inside_formulas() {
    // d/dx tanh(100x) = 100 sech²(100x): 0 at x = 4 (to rounding), 100 at 0.
    let f = Formula::parse("tanh(100*x)").unwrap();
    let mut g = [0.0];
    assert_eq!(f.loss_and_gradient(&[4.0], &mut g).unwrap(), 1.0);
    assert_eq!(g[0], 0.0);
    f.gradient(&[0.0], &mut g).unwrap();
    assert_eq!(g[0], 100.0);
    // log-sigmoid far out: ln σ(-800) is -inf, an honest domain error, not a NaN gradient.
    let h = Formula::parse("sigmoid(x)*sigmoid(-x)").unwrap();
    let hess = h.hessian(&[-800.0]).unwrap();
    assert_eq!(hess[(0, 0)], 0.0);
}

#[test]
fn abs_has_no_derivative_at_zero() {
    let f = Formula::parse("1 + abs(x - y)").unwrap();
    assert_eq!(f.loss(&[2.0, 2.0]).unwrap(), 1.0);
    let mut g = [0.0; 2];
    f.gradient(&[2.0, 0.5], &mut g).unwrap();
    assert_eq!(g, [1.0, -1.0]);
    f.gradient(&[0.5, 2.0], &mut g).unwrap();
    assert_eq!(g, [-1.0, 1.0]);
    let msgs = [
        f.gradient(&[2.0, 2.0], &mut g).unwrap_err().to_string(),
        f.hessian(&[2.0, 2.0]).unwrap_err().to_string(),
        f.hvp(&[2.0, 2.0], &[1.0, 0.0], &mut g)
            .unwrap_err()
            .to_string(),
    ];
    for m in msgs {
        assert!(
            m.contains("abs at column 5") && m.contains("not differentiable at (2, 2)"),
            "{m}"
        );
    }
}

#[test]
fn zero_to_a_variable_power_blames_the_derivative() {
    let f = Formula::parse("0^x").unwrap();
    // The value exists (0^0 = 1, 0^2 = 0); d/dx 0^x = 0^x ln 0 does not.
    assert_eq!(f.loss(&[0.0]).unwrap(), 1.0);
    assert_eq!(f.loss(&[2.0]).unwrap(), 0.0);
    let mut g = [0.0];
    let m = f.gradient(&[0.0], &mut g).unwrap_err().to_string();
    assert!(
        m.contains("'^' at column 2") && m.contains("base 0 at (0)") && m.contains("a > 0"),
        "{m}"
    );
    let neg = Formula::parse("(-2)^x").unwrap();
    assert_eq!(neg.loss(&[2.0]).unwrap(), 4.0);
    assert!(neg
        .hessian(&[2.0])
        .unwrap_err()
        .to_string()
        .contains("base -2"));
    // A positive base is fine: d/dx 2^x = 2^x ln 2.
    let two = Formula::parse("2^x").unwrap();
    two.gradient(&[3.0], &mut g).unwrap();
    close(g[0], 8.0 * std::f64::consts::LN_2, 1e-15, "d/dx 2^x");
}

#[test]
fn non_ascii_characters_are_errors_at_their_column() {
    for (src, col, ch) in [
        ("x²", 2, '²'),
        ("1 + x² + y", 6, '²'),
        ("θ + 1", 1, 'θ'),
        ("x·y", 2, '·'),
        ("x\u{200b}+y", 2, '\u{200b}'),
        ("sin(x)−1", 7, '−'),
    ] {
        let (column, msg) = message(src);
        assert_eq!(column, col, "{src}: {msg}");
        assert!(
            msg.contains(&format!("unexpected character '{}'", ch.escape_debug())),
            "{msg}"
        );
    }
    // ASCII names with digits and underscores are still names.
    let f = Formula::parse("theta_2 + _b + w10").unwrap();
    assert_eq!(f.variables(), ["_b", "theta_2", "w10"]);
}

#[test]
fn operator_precedence_matches_the_grammar() {
    // Each against its hand-parenthesized form.
    for (src, paren) in [
        ("2^-x*3", "(2^(-x))*3"),
        ("-2^2 + x", "(-(2^2)) + x"),
        ("a*-b^c", "a*(-(b^c))"),
        ("2^-a^b", "2^(-(a^b))"),
        ("a-b-c", "(a-b)-c"),
        ("a/b/c", "(a/b)/c"),
        ("a^b^c", "a^(b^c)"),
        ("-a*b", "(-a)*b"),
        ("a--b", "a-(-b)"),
        ("+a+-+b", "a+(-b)"),
        ("sin(a)^2*cos(b)", "((sin(a))^2)*(cos(b))"),
    ] {
        let p = [1.3, 0.7, 1.9];
        let f = Formula::parse(src).unwrap();
        let g = Formula::parse(paren).unwrap();
        let at = &p[..f.n_params()];
        assert_eq!(f.loss(at).unwrap(), g.loss(at).unwrap(), "{src} vs {paren}");
    }
    assert_eq!(parse_err_column("x)"), 2);
    assert_eq!(parse_err_column("()"), 2);
    assert_eq!(parse_err_column("(x)(y)"), 4);
    assert_eq!(parse_err_column("sin(x y)"), 7);
    assert_eq!(parse_err_column("1e999*x"), 1);
    assert!(message("sin(x").1.contains("'(' of sin at column 4"));
}

#[test]
fn fractional_powers_at_zero_have_the_derivatives_that_exist() {
    // x^2.5 at 0: value, gradient and Hessian all 0 (the first infinite one is the third).
    let f = Formula::parse("x^2.5 + y").unwrap();
    let mut g = [0.0; 2];
    assert_eq!(f.loss_and_gradient(&[0.0, 1.0], &mut g).unwrap(), 1.0);
    assert_eq!(g, [0.0, 1.0]);
    assert_eq!(f.hessian(&[0.0, 1.0]).unwrap(), DMatrix::zeros(2, 2));
    // x^1.5 at 0: gradient 0, Hessian infinite (1.5·0.5·0^-0.5).
    let f = Formula::parse("x^1.5").unwrap();
    f.gradient(&[0.0], &mut g[..1]).unwrap();
    assert_eq!(g[0], 0.0);
    let m = f.hessian(&[0.0]).unwrap_err().to_string();
    assert!(
        m.contains("'^' at column 2") && m.contains("above 1.5"),
        "{m}"
    );
    // x^0.5 at 0: no gradient; the value is 0.
    let f = Formula::parse("x^0.5").unwrap();
    assert_eq!(f.loss(&[0.0]).unwrap(), 0.0);
    assert!(f.gradient(&[0.0], &mut g[..1]).is_err());
    // Away from 0 the closed form: d/dx x^1.5 = 1.5 x^0.5.
    let f = Formula::parse("x^1.5").unwrap();
    f.gradient(&[4.0], &mut g[..1]).unwrap();
    assert!((g[0] - 3.0).abs() <= 4e-16 * 3.0);
}
