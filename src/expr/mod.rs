//! The formula language: parse once, evaluate on any number type.
//!
//! Grammar: numbers (`2`, `0.5`, `1e-3`), variables (`x`, `w1`, `theta_2`: ASCII
//! letters, digits and `_`, not starting with a digit), `+ - * / ^`, unary minus, parentheses,
//! the constants `pi` and `e`, and the functions `sin cos tan exp ln log sqrt tanh sigmoid abs`
//! (`log` is natural). `^` is right-associative and binds tighter than unary minus, so `-x^2` is
//! `-(x^2)` and `2^-1` is `0.5`. Any other character is a parse error at its column.
//!
//! A [`Formula`] holds the compiled program and the variable order; it evaluates generically
//! over [`num_dual::DualNum`], so the same program gives the value (`f64`), the exact gradient
//! (`DualVec`), the exact Hessian (`Dual2Vec`) and the Hessian-vector product (a gradient of
//! `Dual64`s). Parse errors name the 1-based column and what was expected.
//!
//! Limits, so that no input can crash: parsing and evaluation use explicit stacks, never
//! recursion; nesting (parentheses, function calls, signs, `^` chains) is limited to
//! [`MAX_DEPTH`] = 1000 levels, while flat sums and products of any length are fine. A derivative
//! whose dual numbers would need more than [`DUAL_MAX_BYTES`] is refused before allocating (in
//! practice the exact Hessian of a formula in thousands of variables).
//!
//! Where a derivative does not exist the derivative methods say so instead of inventing one:
//! `abs` at an argument of exactly 0, and `a^b` with a non-constant exponent at a base `a <= 0`
//! (its derivative in `b`, `a^b ln a`, needs `ln a`), and `a^p` with a constant non-integer
//! `0 < p` below the order asked for at `a = 0` (`x^1.5` has a gradient at 0 but no Hessian).
//! All are [`Error::NonFinite`] naming the operator's column and the point; the value itself is
//! still defined (`loss`). `tanh` and
//! `sigmoid` saturate without overflow in the value and every derivative.

mod eval;
mod parse;

pub use eval::{Func, Op};
pub use parse::MAX_DEPTH;

use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use eval::Fault;
use nalgebra::{DMatrix, Dyn, U1};
use num_dual::{Derivative, Dual2Vec, Dual64, DualNum, DualVec};
use std::cmp::Ordering;

/// The most memory the dual numbers of one evaluation may take (256 MiB): each intermediate value
/// holds `n` derivatives for a gradient, `2n` for a Hessian-vector product and `n²` for a Hessian.
pub const DUAL_MAX_BYTES: usize = 256 << 20;

/// Orders names with digit runs compared as numbers: `x2` before `x10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut ai, mut bi) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (ai.peek().copied(), bi.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let mut na = String::new();
                while let Some(c) = ai.peek().copied().filter(char::is_ascii_digit) {
                    na.push(c);
                    ai.next();
                }
                let mut nb = String::new();
                while let Some(c) = bi.peek().copied().filter(char::is_ascii_digit) {
                    nb.push(c);
                    bi.next();
                }
                let ta = na.trim_start_matches('0');
                let tb = nb.trim_start_matches('0');
                let ord = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                ai.next();
                bi.next();
            }
        }
    }
}

/// A parsed formula over named variables: an objective with exact derivatives by dual numbers.
#[derive(Debug, Clone)]
pub struct Formula {
    source: String,
    program: Vec<Op>,
    variables: Vec<String>,
    max_stack: usize,
}

impl Formula {
    /// Parses `source`, ordering the variables naturally by name (`x2` before `x10`).
    ///
    /// # Errors
    /// [`Error::Parse`] with the column and what was expected.
    ///
    /// # Example
    /// ```
    /// # use critpt::expr::Formula;
    /// # use critpt::objective::Loss;
    /// let f = Formula::parse("(1 - w1*w2)^2").unwrap();
    /// assert_eq!(f.variables(), ["w1", "w2"]);
    /// assert_eq!(f.loss(&[0.0, 0.0]).unwrap(), 1.0);
    /// ```
    pub fn parse(source: &str) -> Result<Self> {
        Self::parse_with_vars(source, None)
    }

    /// Parses `source` with an explicit variable order (`--vars`). Every variable of the formula
    /// must be listed; listed names the formula does not use are parameters it is constant in.
    pub fn parse_with_vars(source: &str, vars: Option<&[String]>) -> Result<Self> {
        if source.trim().is_empty() {
            return Err(Error::Parse {
                column: 1,
                message: "empty formula; expected an expression such as x^2 - y^2".into(),
            });
        }
        let parse::Parsed {
            mut program,
            names: found,
        } = parse::parse(source)?;
        let order: Vec<String> = match vars {
            Some(list) => {
                for (i, v) in list.iter().enumerate() {
                    if v.is_empty() || list[..i].contains(v) {
                        return Err(Error::invalid(
                            "variable order",
                            format!("variable names must be non-empty and distinct, got '{v}'"),
                        ));
                    }
                }
                if let Some(missing) = found.iter().find(|n| !list.contains(n)) {
                    return Err(Error::invalid(
                        "variable order",
                        format!(
                            "the formula uses '{missing}', which the variable order does not list"
                        ),
                    ));
                }
                list.to_vec()
            }
            None => {
                let mut sorted = found.clone();
                sorted.sort_by(|a, b| natural_cmp(a, b));
                sorted
            }
        };
        if order.is_empty() {
            return Err(Error::Parse {
                column: 1,
                message: "the formula has no variables; expected at least one".into(),
            });
        }
        // Renumber the variables from parse order to the chosen order.
        let map: Vec<usize> = found
            .iter()
            .map(|n| order.iter().position(|o| o == n).unwrap_or(0))
            .collect();
        for op in &mut program {
            if let Op::Var(i) = op {
                *i = map.get(*i).copied().unwrap_or(0);
            }
        }
        Ok(Formula {
            source: source.to_string(),
            max_stack: eval::max_stack(&program),
            program,
            variables: order,
        })
    }

    /// The variable names, in parameter order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The compiled program (postfix), for inspection.
    pub fn program(&self) -> &[Op] {
        &self.program
    }

    /// Evaluates on any dual-number type without the finiteness checks; a point where a
    /// derivative does not exist (see the module docs) gives NaN.
    pub fn eval<T: DualNum<f64>>(&self, vars: &[T]) -> T {
        let var = |i: usize| vars.get(i).cloned().unwrap_or_else(|| T::from(f64::NAN));
        eval::derivative(&self.program, var).unwrap_or_else(|_| T::from(f64::NAN))
    }

    /// The source for messages, shortened when long.
    fn shown(&self) -> String {
        const MAX: usize = 60;
        if self.source.chars().count() <= MAX {
            self.source.clone()
        } else {
            let head: String = self.source.chars().take(MAX).collect();
            format!("{head}...")
        }
    }

    /// A point for messages, shortened when long.
    fn point(params: &[f64]) -> String {
        const MAX: usize = 10;
        let mut s = params
            .iter()
            .take(MAX)
            .map(|&p| crate::error::fmt_num(p))
            .collect::<Vec<_>>()
            .join(", ");
        if params.len() > MAX {
            s.push_str(&format!(", ... ({} values)", params.len()));
        }
        s
    }

    fn finite(&self, what: &str, params: &[f64], values: &[f64]) -> Result<()> {
        if values.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::NonFinite(format!(
                "the {what} of '{}' is not finite at ({}): the point is outside the formula's domain or overflows",
                self.shown(),
                Self::point(params)
            )))
        }
    }

    /// Refuses an evaluation whose intermediate values would hold more than [`DUAL_MAX_BYTES`]
    /// of derivatives, `per_value` numbers each.
    fn check_dual_memory(&self, what: &str, per_value: usize) -> Result<()> {
        let bytes = per_value
            .saturating_add(1)
            .saturating_mul(8)
            .saturating_mul(self.max_stack.saturating_add(1));
        if bytes > DUAL_MAX_BYTES {
            return Err(Error::Unsupported(format!(
                "the exact {what} of a formula in {} variables needs about {} MiB of dual numbers, over the limit of {} MiB",
                self.variables.len(),
                bytes >> 20,
                DUAL_MAX_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Evaluates on a dual-number type, turning a missing derivative into an error.
    fn derivative<T: DualNum<f64>>(&self, var: impl Fn(usize) -> T, params: &[f64]) -> Result<T> {
        eval::derivative(&self.program, var).map_err(|fault| {
            let at = Self::point(params);
            Error::NonFinite(match fault {
                Fault::AbsAtZero { column } => format!(
                    "abs at column {column} of '{}' is not differentiable at ({at}), where its argument is 0",
                    self.shown()
                ),
                Fault::PowBase { column, base } => format!(
                    "the '^' at column {column} of '{}' has base {base} at ({at}): its derivative in the exponent, a^b·ln(a), needs a > 0",
                    self.shown()
                ),
                Fault::PowFAtZero { column, power } => format!(
                    "the '^' at column {column} of '{}' raises 0 to the power {power} at ({at}): its derivatives of order above {power} are infinite there",
                    self.shown()
                ),
            })
        })
    }
}

impl Loss for Formula {
    fn n_params(&self) -> usize {
        self.variables.len()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let v = eval::value(&self.program, params);
        self.finite("value", params, &[v])?;
        Ok(v)
    }
    fn param_names(&self) -> Vec<String> {
        self.variables.clone()
    }
}

impl Gradient for Formula {
    /// Exact gradient by forward-mode dual numbers (one pass with an `n`-vector of duals; each
    /// variable is seeded when the program reads it).
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        check_params(self, params)?;
        self.check_dual_memory("gradient", params.len())?;
        let n = Dyn(params.len());
        let var = |i: usize| {
            let p = params.get(i).copied().unwrap_or(f64::NAN);
            DualVec::new(p, Derivative::derivative_generic(n, U1, i))
        };
        let res = self.derivative(var, params)?;
        let (f, g) = (res.re, res.eps.unwrap_generic(n, U1));
        self.finite("value", params, &[f])?;
        self.finite("gradient", params, g.as_slice())?;
        out.copy_from_slice(g.as_slice());
        Ok(f)
    }
}

impl Hessian for Formula {
    /// Exact Hessian by second-order dual numbers (`Dual2Vec`).
    ///
    /// # Errors
    /// Also [`Error::Unsupported`] when the dual numbers would need more than
    /// [`DUAL_MAX_BYTES`].
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        let n = params.len();
        self.check_dual_memory(
            "hessian (use finite differences or hessian-vector products)",
            n.saturating_mul(n) + n,
        )?;
        let nd = Dyn(n);
        let var = |i: usize| {
            let p = params.get(i).copied().unwrap_or(f64::NAN);
            Dual2Vec::new(
                p,
                Derivative::derivative_generic(U1, nd, i),
                Derivative::none(),
            )
        };
        let res = self.derivative(var, params)?;
        let (f, h) = (res.re, res.v2.unwrap_generic(nd, nd));
        self.finite("value", params, &[f])?;
        self.finite("Hessian", params, h.as_slice())?;
        Ok(h)
    }
}

impl Hvp for Formula {
    /// Exact `H v` as forward-over-forward: the gradient of `f(θ + t v)`'s `t`-derivative.
    fn hvp(&self, params: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        check_params(self, params)?;
        if v.len() != params.len() {
            return Err(Error::dim("direction", params.len(), v.len()));
        }
        self.check_dual_memory(
            "hessian-vector product",
            params.len().saturating_mul(2).saturating_add(1),
        )?;
        let n = Dyn(params.len());
        let var = |i: usize| {
            let p = params.get(i).copied().unwrap_or(f64::NAN);
            let d = v.get(i).copied().unwrap_or(f64::NAN);
            DualVec::new(Dual64::new(p, d), Derivative::derivative_generic(n, U1, i))
        };
        let res = self.derivative(var, params)?;
        let g = res.eps.unwrap_generic(n, U1);
        let hv: Vec<f64> = g.iter().map(|d| d.eps).collect();
        self.finite("Hessian-vector product", params, &hv)?;
        out.copy_from_slice(&hv);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
