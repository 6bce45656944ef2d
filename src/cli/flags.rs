//! The command line's names for the library's parameters.
//!
//! The library names what it rejects in its own words (`invalid batch size: ...`); the command
//! line owns the flags, so it rewrites those words into the flag a user typed
//! (`invalid --batch-size: ...`). A name without a flag is left as the library wrote it.

/// Library parameter name → flag.
const FLAGS: &[(&str, &str)] = &[
    ("alpha", "--alpha"),
    ("basis size", "--basis-size"),
    ("batch size", "--batch-size"),
    ("beta1", "--beta1"),
    ("beta2", "--beta2"),
    ("dampening", "--dampening"),
    ("data", "--data"),
    ("dense method", "--method dense"),
    ("density grid", "--density-grid"),
    ("density runs", "--density-runs"),
    ("density steps", "--density-steps"),
    ("eigenvalue tolerance", "--tol-eig"),
    ("epochs", "--epochs"),
    ("eps", "--eps"),
    ("escape step", "--step"),
    ("gradient clipping norm", "--clip-grad-norm"),
    ("gradient-norm tolerance", "--tol-grad"),
    ("initial accumulator value", "--initial-accumulator-value"),
    ("layer widths", "--layers"),
    ("lr decay", "--lr-decay"),
    ("max rounds", "--max-rounds"),
    ("momentum", "--momentum"),
    ("momentum decay", "--momentum-decay"),
    ("parameter names", "--params"),
    ("plateau schedule", "--lr-plateau"),
    ("record interval", "--record-every"),
    ("rho", "--rho"),
    ("schedule", "--schedule"),
    ("starts", "--starts"),
    ("steps", "--steps"),
    ("target columns", "--target"),
    ("trace products", "--hvps"),
    ("variable order", "--vars"),
    ("weight decay", "--weight-decay"),
];

/// The library's advice → the same advice as flags.
const HINTS: &[(&str, &str)] = &[
    ("give the activation", "give --activation"),
    ("choose the target columns", "choose them with --target"),
    ("use the mse loss", "use --loss mse"),
    ("use the cross-entropy loss", "use --loss cross-entropy"),
    ("use the matrix-free Lanczos method", "use --method lanczos"),
    (
        "record one point in K (a record interval)",
        "use --record-every K to keep one point in K",
    ),
    ("use fewer density steps", "use fewer --density-steps"),
    ("use fewer density runs", "use fewer --density-runs"),
    ("use fewer products", "use fewer --hvps"),
    (
        "raise the max rounds or the starts",
        "raise --max-rounds or --starts",
    ),
    ("use a smaller basis size", "use a smaller --basis-size"),
    (
        "data in chunks with batch norm in train mode",
        "--batch-size with --batchnorm-mode train",
    ),
    (
        "use evaluation-mode batch norm or the whole batch",
        "use --batchnorm-mode eval or the full batch",
    ),
];

/// `message` with each `invalid NAME:` of a library parameter written as its flag, and the
/// library's advice written as flags.
pub fn with_flags(message: &str) -> String {
    let mut out = message.to_string();
    for (name, flag) in FLAGS {
        out = out.replace(&format!("invalid {name}: "), &format!("invalid {flag}: "));
    }
    for (advice, flags) in HINTS {
        out = out.replace(advice, flags);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_become_flags_and_other_text_stays() {
        assert_eq!(
            with_flags("invalid batch size: must be at least 1, got 0"),
            "invalid --batch-size: must be at least 1, got 0"
        );
        assert_eq!(
            with_flags("model.csv: invalid weight decay: -1"),
            "model.csv: invalid --weight-decay: -1"
        );
        // Not a parameter name followed by ": ", so untouched.
        assert_eq!(with_flags("the batch size is 3"), "the batch size is 3");
        assert_eq!(
            with_flags("invalid operator: has no parameters"),
            "invalid operator: has no parameters"
        );
    }
}
