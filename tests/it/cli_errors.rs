//! Malformed input never panics: exit 1 and one `error:` line (2 for a malformed command line).

use crate::util::critpt;

#[test]
fn malformed_inputs_give_one_line_errors() {
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["classify", "--expr", "x + * y", "--at", "0,0"],
            1,
            "column 5",
        ),
        (
            &["classify", "--expr", "(x + y", "--at", "0,0"],
            1,
            "expected ')'",
        ),
        (
            &["classify", "--expr", "foo(x)", "--at", "0"],
            1,
            "unknown function 'foo'",
        ),
        (&["classify", "--expr", "", "--at", "0"], 1, "empty formula"),
        (
            &["classify", "--expr", "x $ y", "--at", "0,0"],
            1,
            "unexpected character",
        ),
        (
            &["classify", "--expr", "x^2+y^2", "--at", "0"],
            1,
            "2 variables",
        ),
        (
            &["classify", "--expr", "x^2+y^2", "--at", "0,0,0"],
            1,
            "3 coordinates",
        ),
        (
            &["classify", "--expr", "x^2+y^2", "--at", "0,abc"],
            1,
            "'abc' is not a number",
        ),
        (
            &["classify", "--expr", "x^2+y^2", "--at", "NaN,0"],
            1,
            "must be finite",
        ),
        (
            &["classify", "--expr", "x^2+y^2", "--at", "inf,0"],
            1,
            "must be finite",
        ),
        (
            &["classify", "--expr", "x^2+y^2", "--at", ""],
            1,
            "empty list",
        ),
        (
            &["classify", "--expr", "ln(x)", "--at", "-1"],
            1,
            "not finite",
        ),
        (
            &["classify", "--expr", "exp(x^2)", "--at", "100"],
            1,
            "not finite",
        ),
        (
            &["classify", "--fn", "nosuchsurface", "--at", "0,0"],
            1,
            "unknown surface",
        ),
        (
            &[
                "classify",
                "--fn",
                "himmelblau",
                "--at",
                "0,0",
                "--tol-grad",
                "-1",
            ],
            1,
            "--tol-grad",
        ),
        (
            &[
                "classify",
                "--fn",
                "himmelblau",
                "--at",
                "0,0",
                "--tol-eig",
                "-0.5",
            ],
            1,
            "--tol-eig",
        ),
        (
            &[
                "classify",
                "--fn",
                "himmelblau",
                "--at",
                "0,0",
                "--method",
                "magic",
            ],
            2,
            "unknown derivative method",
        ),
        (
            &[
                "classify",
                "--fn",
                "himmelblau",
                "--expr",
                "x",
                "--at",
                "0,0",
            ],
            1,
            "not both",
        ),
        (&["classify", "--at", "0,0"], 1, "give a function"),
        (
            &[
                "classify",
                "--fn",
                "himmelblau",
                "--at",
                "0,0",
                "--backend",
                "gpu",
            ],
            2,
            "unknown eigen backend",
        ),
        (
            &["escape", "--fn", "himmelblau", "--at", "0,0", "--step", "0"],
            1,
            "--step",
        ),
        (
            &["escape", "--expr", "x^2 + y^2", "--at", "0,0"],
            1,
            "no direction of negative curvature",
        ),
        (
            &["classify", "--expr", "x", "--vars", "y", "--at", "0"],
            1,
            "--vars",
        ),
        (
            &["classify", "--expr", "2+3", "--at", "0"],
            1,
            "no variables",
        ),
        (&["classify", "--fn", "himmelblau"], 2, "--at"),
        (
            &[
                "classify",
                "--fn",
                "himmelblau",
                "--at",
                "0,0",
                "--tol-grad",
                "abc",
            ],
            2,
            "invalid value",
        ),
        (&["frobnicate"], 2, "unrecognized subcommand"),
        // --optimizer is a typed flag: an unknown name is a usage error that lists the known
        // ones.
        (
            &[
                "optimize",
                "--fn",
                "himmelblau",
                "--start",
                "0,0",
                "--optimizer",
                "adamz",
            ],
            2,
            "unknown optimizer 'adamz'; known: sgd, momentum",
        ),
    ];
    assert!(cases.len() >= 15);
    for (args, code, needle) in cases {
        let out = critpt(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: stderr {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err:?}"
        );
        if *code == 1 {
            assert!(err.starts_with("error: "), "{args:?}: {err}");
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{args:?}: one line, got {err:?}"
            );
        }
        assert!(
            out.stdout.is_empty() || *code == 2,
            "{args:?}: nothing on stdout on error"
        );
    }
}
