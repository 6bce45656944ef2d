//! The compiled form of a formula and its evaluator.
//!
//! A formula compiles to a postfix [`Op`] program, which a loop with an explicit value stack
//! evaluates. Nothing here recurses, so neither evaluation nor dropping a formula can overflow
//! the call stack, however long the formula. The saturating functions `tanh` and `sigmoid` are
//! written so that neither the value nor any derivative overflows at large arguments.

use num_dual::DualNum;

/// The built-in functions of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
    /// Exponential.
    Exp,
    /// Natural logarithm (`ln` and `log`).
    Ln,
    /// Square root.
    Sqrt,
    /// Hyperbolic tangent, saturating stably (`tanh(400)` is 1 with derivative 0).
    Tanh,
    /// Logistic sigmoid `1/(1+e^{-x})`, saturating stably on both sides.
    Sigmoid,
    /// Absolute value; it has no derivative where its argument is 0.
    Abs,
}

/// The functions by the names the language spells them.
pub(crate) const FUNCTIONS: &[(&str, Func)] = &[
    ("sin", Func::Sin),
    ("cos", Func::Cos),
    ("tan", Func::Tan),
    ("exp", Func::Exp),
    ("ln", Func::Ln),
    ("log", Func::Ln),
    ("sqrt", Func::Sqrt),
    ("tanh", Func::Tanh),
    ("sigmoid", Func::Sigmoid),
    ("abs", Func::Abs),
];

/// One instruction of a compiled formula. A program is postfix: operands first, then the
/// operation that pops them and pushes its result.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Push a literal or a constant.
    Num(f64),
    /// Push the variable with this index (into [`super::Formula::variables`]).
    Var(usize),
    /// Negate the top value.
    Neg,
    /// Pop `b`, `a`; push `a + b`.
    Add,
    /// Pop `b`, `a`; push `a - b`.
    Sub,
    /// Pop `b`, `a`; push `a * b`.
    Mul,
    /// Pop `b`, `a`; push `a / b`.
    Div,
    /// Raise the top value to an integer constant (exact derivatives at 0).
    PowI(i32),
    /// Raise the top value to any other constant; the column of the `^`, for error messages.
    PowF(f64, usize),
    /// Pop `b`, `a`; push `a^b` for a non-constant exponent, `exp(b ln a)`. The field is the
    /// 1-based column of the `^`, for error messages.
    Pow(usize),
    /// Apply a function to the top value; the column of its name, for error messages.
    Call(Func, usize),
}

/// Why a derivative does not exist at the point (the value may well exist).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    /// `abs` at the given column met an argument of exactly 0.
    AbsAtZero {
        /// Column of `abs`.
        column: usize,
    },
    /// `a^b` with a non-constant exponent at the given column met a base `a <= 0`, where
    /// `d/db a^b = a^b ln a` is undefined.
    PowBase {
        /// Column of `^`.
        column: usize,
        /// The base's value.
        base: f64,
    },
    /// `a^p` with a constant non-integer `p > 0` at the given column met `a = 0`, where its
    /// derivatives of order above `p` are infinite.
    PowFAtZero {
        /// Column of `^`.
        column: usize,
        /// The exponent.
        power: f64,
    },
}

/// The value of `program` at `vars`.
pub(crate) fn value(program: &[Op], vars: &[f64]) -> f64 {
    // The value mode has no faults: abs and a^b have values everywhere they have them in f64.
    let var = |i: usize| vars.get(i).copied().unwrap_or(f64::NAN);
    run(program, var, false).unwrap_or(f64::NAN)
}

/// `program` on a dual-number type, or the reason a derivative does not exist at the point.
/// `var(i)` makes variable `i` when the program reads it, so a formula in many variables never
/// holds more seeded inputs than it is using.
pub(crate) fn derivative<T: DualNum<f64>>(
    program: &[Op],
    var: impl Fn(usize) -> T,
) -> Result<T, Fault> {
    run(program, var, true)
}

/// The evaluator. `derivatives` is false only for `T = f64` values: then abs and `a^b` need no
/// derivative at the point and `a^b` for `a <= 0` is `f64::powf`.
fn run<T: DualNum<f64>>(
    program: &[Op],
    var: impl Fn(usize) -> T,
    derivatives: bool,
) -> Result<T, Fault> {
    let mut stack: Vec<T> = Vec::with_capacity(8);
    // The parser only builds well-formed programs; a missing operand (never reached) or a
    // missing variable reads as NaN, which the finiteness checks report.
    let pop = |s: &mut Vec<T>| s.pop().unwrap_or_else(|| T::from(f64::NAN));
    for op in program {
        let v = match op {
            Op::Num(c) => T::from(*c),
            Op::Var(i) => var(*i),
            Op::Neg => -pop(&mut stack),
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow(_) => {
                let b = pop(&mut stack);
                let a = pop(&mut stack);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div => a / b,
                    Op::Pow(column) => power(a, b, *column, derivatives)?,
                    _ => unreachable!("matched above"),
                }
            }
            Op::PowI(n) => pop(&mut stack).powi(*n),
            Op::PowF(p, column) => {
                let a = pop(&mut stack);
                if derivatives && a.re() == 0.0 && *p > 0.0 {
                    // 0^p for a non-integer p > 0: every derivative term of order k carries
                    // 0^(p-k), so all those asked for are 0 when p exceeds the highest order,
                    // and the first one past p is infinite otherwise.
                    if *p > T::NDERIV as f64 {
                        T::zero()
                    } else {
                        return Err(Fault::PowFAtZero {
                            column: *column,
                            power: *p,
                        });
                    }
                } else {
                    a.powf(*p)
                }
            }
            Op::Call(f, column) => {
                let x = pop(&mut stack);
                match f {
                    Func::Sin => x.sin(),
                    Func::Cos => x.cos(),
                    Func::Tan => x.tan(),
                    Func::Exp => x.exp(),
                    Func::Ln => x.ln(),
                    Func::Sqrt => x.sqrt(),
                    Func::Tanh => tanh(x),
                    Func::Sigmoid => sigmoid(x),
                    Func::Abs => {
                        let re = x.re();
                        if derivatives && re == 0.0 {
                            return Err(Fault::AbsAtZero { column: *column });
                        }
                        if re < 0.0 {
                            -x
                        } else {
                            x
                        }
                    }
                }
            }
        };
        stack.push(v);
    }
    Ok(pop(&mut stack))
}

/// `a^b` for a non-constant exponent.
fn power<T: DualNum<f64>>(a: T, b: T, column: usize, derivatives: bool) -> Result<T, Fault> {
    let base = a.re();
    if base > 0.0 || base.is_nan() {
        Ok((b * a.ln()).exp())
    } else if derivatives {
        Err(Fault::PowBase { column, base })
    } else {
        Ok(T::from(base.powf(b.re())))
    }
}

/// `tanh`, stable everywhere. Below |x| = 1 it is `sinh/cosh`, whose second derivative keeps
/// its relative accuracy near 0. Beyond, `tanh(a) = -m / (2 + m)` with `m = e^{-2a} - 1` for
/// `a >= 1` (odd symmetry for negative arguments): `e^{-2a}` underflows to 0 with all its
/// derivatives, so large arguments give exactly ±1 and derivative 0 where `sinh/cosh` overflows.
pub(crate) fn tanh<T: DualNum<f64>>(x: T) -> T {
    let re = x.re();
    if re.abs() < 1.0 || re.is_nan() {
        return x.tanh();
    }
    let negative = re < 0.0;
    let a = if negative { -x } else { x };
    let m = (a * -2.0).exp_m1();
    let t = -m.clone() / (m + 2.0);
    if negative {
        -t
    } else {
        t
    }
}

/// The logistic sigmoid, stable everywhere: `(1 + tanh(x/2))/2` below |x| = 2 (accurate
/// derivatives near 0), `1/(1+e^{-x})` above, `e^x/(1+e^x)` below, so nothing overflows on
/// either side and the saturated values and derivatives are exactly 1 or 0 and 0.
pub(crate) fn sigmoid<T: DualNum<f64>>(x: T) -> T {
    let re = x.re();
    if re.abs() < 2.0 {
        (tanh(x * 0.5) + 1.0) * 0.5
    } else if re >= 0.0 {
        ((-x).exp() + 1.0).recip()
    } else {
        // Negative, or NaN, which propagates.
        let e = x.exp();
        e.clone() / (e + 1.0)
    }
}

/// Whether the program reads any variable.
pub(crate) fn has_var(program: &[Op]) -> bool {
    program.iter().any(|op| matches!(op, Op::Var(_)))
}

/// The largest number of values the evaluator holds at once.
pub(crate) fn max_stack(program: &[Op]) -> usize {
    let (mut depth, mut most) = (0usize, 0usize);
    for op in program {
        match op {
            Op::Num(_) | Op::Var(_) => depth += 1,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow(_) => depth = depth.saturating_sub(1),
            Op::Neg | Op::PowI(_) | Op::PowF(..) | Op::Call(..) => {}
        }
        most = most.max(depth);
    }
    most
}
