//! Hostile formulas through the binary: deep nesting, huge flat sums, saturated activations,
//! kinks, non-ASCII characters. Each is exit 0 with an answer or exit 1 with one `error:` line.

use crate::util::{critpt, critpt_json, nums};

/// Runs `critpt args` and returns (exit code, first stderr line).
fn run(args: &[&str]) -> (i32, String) {
    let out = critpt(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status.code().unwrap_or(-1),
        stderr.lines().next().unwrap_or("").to_string(),
    )
}

fn classify_error(expr: &str, at: &str) -> String {
    let (code, line) = run(&["classify", "--expr", expr, "--at", at]);
    assert_eq!(code, 1, "{line}");
    assert!(line.starts_with("error: "), "{line}");
    line
}

#[test]
fn deep_nesting_is_a_one_line_error_naming_the_limit() {
    let cases = [
        (
            format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000)),
            1001,
        ),
        (format!("x{}", "^x".repeat(30_000)), 2002),
        (format!("{}x", "-".repeat(50_000)), 1001),
        (
            format!("{}x{}", "sin(".repeat(20_000), ")".repeat(20_000)),
            4001,
        ),
    ];
    for (expr, column) in cases {
        let line = classify_error(&expr, "1");
        assert_eq!(
            line,
            format!("error: formula error at column {column}: the formula nests more than 1000 levels deep (parentheses, function calls, signs and powers each add one)")
        );
    }
}

#[test]
fn a_flat_sum_of_15000_terms_classifies() {
    // sum of 15000 copies of x^2 is 15000 x^2: gradient 30000 x, Hessian 30000.
    let expr = vec!["x^2"; 15_000].join(" + ");
    let v = critpt_json(&["classify", "--expr", &expr, "--at", "0"]);
    assert_eq!(v["kind"], "minimum");
    assert_eq!(nums(&v["eigenvalues"]), [30_000.0]);
    let v = critpt_json(&["classify", "--expr", &expr, "--at", "0.5"]);
    assert_eq!(nums(&v["gradient"]), [15_000.0]);
}

#[test]
fn saturated_tanh_and_sigmoid_have_zero_gradients() {
    for (expr, at, value) in [
        ("tanh(x)", "400", 1.0),
        ("tanh(x)", "-400", -1.0),
        ("sigmoid(x)", "-800", 0.0),
        ("sigmoid(x)", "800", 1.0),
    ] {
        let v = critpt_json(&["classify", "--expr", expr, "--at", at]);
        assert_eq!(v["value"].as_f64(), Some(value), "{expr} at {at}");
        assert_eq!(nums(&v["gradient"]), [0.0], "{expr} at {at}");
        assert_eq!(nums(&v["eigenvalues"]), [0.0], "{expr} at {at}");
    }
}

#[test]
fn find_on_a_steep_tanh_skips_no_start() {
    let v = critpt_json(&[
        "find",
        "--expr",
        "tanh(100*x)",
        "--box",
        "-4,4",
        "--starts",
        "256",
        "--seed",
        "1",
    ]);
    assert_eq!(v["runs"]["skipped"], 0, "{}", v["runs"]);
}

#[test]
fn abs_at_its_kink_is_an_error_naming_abs_and_the_point() {
    assert_eq!(
        classify_error("abs(x) + y^2", "0,1"),
        "error: abs at column 1 of 'abs(x) + y^2' is not differentiable at (0, 1), where its argument is 0"
    );
    // Away from the kink the derivative is the sign.
    let v = critpt_json(&["classify", "--expr", "abs(x)", "--at", "-2"]);
    assert_eq!(nums(&v["gradient"]), [-1.0]);
}

#[test]
fn non_ascii_characters_are_errors_at_their_column() {
    assert_eq!(
        classify_error("x² + 1", "0"),
        "error: formula error at column 2: unexpected character '²'; expected a number, a variable (ASCII letters, digits, _), a function, an operator or a parenthesis"
    );
    assert!(classify_error("1 + θ", "0").starts_with("error: formula error at column 5:"));
}

#[test]
fn zero_to_a_variable_power_blames_the_derivative() {
    assert_eq!(
        classify_error("0^x", "0"),
        "error: the '^' at column 2 of '0^x' has base 0 at (0): its derivative in the exponent, a^b·ln(a), needs a > 0"
    );
}
