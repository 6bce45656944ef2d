//! The formula language: parse once, evaluate on any number type.
//!
//! Grammar (DESIGN.md): numbers (`2`, `0.5`, `1e-3`), variables (`x`, `w1`, `theta_2`),
//! `+ - * / ^`, unary minus, parentheses, the constants `pi` and `e`, and the functions
//! `sin cos tan exp ln log sqrt tanh sigmoid abs` (`log` is natural). `^` is right-associative and
//! binds tighter than unary minus, so `-x^2` is `-(x^2)` and `2^-1` is `0.5`.
//!
//! A [`Formula`] holds the parsed tree and the variable order; it evaluates generically over
//! [`num_dual::DualNum`], so the same tree gives the value (`f64`), the exact gradient
//! (`DualVec`), the exact Hessian (`Dual2Vec`) and the Hessian-vector product (a gradient of
//! `Dual64`s). Parse errors name the 1-based column and what was expected.

use crate::error::{Error, Result};
use crate::objective::{check_params, Gradient, Hessian, Hvp, Loss};
use nalgebra::{DMatrix, DVector};
use num_dual::{Dual64, DualNum};
use std::cmp::Ordering;

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
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid `1/(1+e^{-x})`.
    Sigmoid,
    /// Absolute value (its derivative at 0 is taken as 0).
    Abs,
}

const FUNCTIONS: &[(&str, Func)] = &[
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

/// A node of the parsed expression tree. Variables are indices into [`Formula::variables`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A literal or a constant.
    Num(f64),
    /// The variable with this index.
    Var(usize),
    /// Unary minus.
    Neg(Box<Node>),
    /// Sum.
    Add(Box<Node>, Box<Node>),
    /// Difference.
    Sub(Box<Node>, Box<Node>),
    /// Product.
    Mul(Box<Node>, Box<Node>),
    /// Quotient.
    Div(Box<Node>, Box<Node>),
    /// Power with an integer literal exponent (exact derivatives at 0).
    PowI(Box<Node>, i32),
    /// Power with any other constant exponent.
    PowF(Box<Node>, f64),
    /// Power with a non-constant exponent, `exp(b ln a)`.
    Pow(Box<Node>, Box<Node>),
    /// A function application.
    Call(Func, Box<Node>),
}

impl Node {
    /// Evaluates the tree with `vars[i]` standing for variable `i`.
    pub fn eval<T: DualNum<f64>>(&self, vars: &[T]) -> T {
        match self {
            Node::Num(c) => T::from(*c),
            Node::Var(i) => vars[*i].clone(),
            Node::Neg(a) => -a.eval(vars),
            Node::Add(a, b) => a.eval(vars) + b.eval(vars),
            Node::Sub(a, b) => a.eval(vars) - b.eval(vars),
            Node::Mul(a, b) => a.eval(vars) * b.eval(vars),
            Node::Div(a, b) => a.eval(vars) / b.eval(vars),
            Node::PowI(a, n) => a.eval(vars).powi(*n),
            Node::PowF(a, p) => a.eval(vars).powf(*p),
            Node::Pow(a, b) => (b.eval(vars) * a.eval(vars).ln()).exp(),
            Node::Call(f, a) => {
                let x = a.eval(vars);
                match f {
                    Func::Sin => x.sin(),
                    Func::Cos => x.cos(),
                    Func::Tan => x.tan(),
                    Func::Exp => x.exp(),
                    Func::Ln => x.ln(),
                    Func::Sqrt => x.sqrt(),
                    Func::Tanh => x.tanh(),
                    Func::Sigmoid => (T::one() + (-x).exp()).recip(),
                    Func::Abs => {
                        if x.re() < 0.0 {
                            -x
                        } else {
                            x
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(char),
    LParen,
    RParen,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number {v}"),
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Op(c) => format!("'{c}'"),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::End => "the end of the formula".into(),
    }
}

/// Splits a formula into tokens with their 1-based columns.
fn tokenize(src: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // An exponent: e or E, an optional sign, and at least one digit.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value: f64 = text.parse().map_err(|_| Error::Parse {
                column: col,
                message: format!("malformed number '{text}'"),
            })?;
            out.push((Tok::Num(value), col));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
        } else {
            let tok = match c {
                '+' | '-' | '*' | '/' | '^' => Tok::Op(c),
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                _ => {
                    return Err(Error::Parse {
                        column: col,
                        message: format!(
                            "unexpected character '{c}'; expected a number, a variable, a function, an operator or a parenthesis"
                        ),
                    })
                }
            };
            out.push((tok, col));
            i += 1;
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    names: Vec<String>,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn col(&self) -> usize {
        self.toks[self.pos].1
    }
    fn next(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err<T>(&self, message: String) -> Result<T> {
        Err(Error::Parse {
            column: self.col(),
            message,
        })
    }

    fn sum(&mut self) -> Result<Node> {
        let mut lhs = self.product()?;
        while let Tok::Op(op @ ('+' | '-')) = *self.peek() {
            self.next();
            let rhs = self.product()?;
            lhs = if op == '+' {
                Node::Add(Box::new(lhs), Box::new(rhs))
            } else {
                Node::Sub(Box::new(lhs), Box::new(rhs))
            };
        }
        Ok(lhs)
    }

    fn product(&mut self) -> Result<Node> {
        let mut lhs = self.unary()?;
        while let Tok::Op(op @ ('*' | '/')) = *self.peek() {
            self.next();
            let rhs = self.unary()?;
            lhs = if op == '*' {
                Node::Mul(Box::new(lhs), Box::new(rhs))
            } else {
                Node::Div(Box::new(lhs), Box::new(rhs))
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node> {
        match self.peek() {
            Tok::Op('-') => {
                self.next();
                Ok(Node::Neg(Box::new(self.unary()?)))
            }
            Tok::Op('+') => {
                self.next();
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Node> {
        let base = self.primary()?;
        if let Tok::Op('^') = self.peek() {
            self.next();
            let exponent = self.unary()?;
            return Ok(make_power(base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Node> {
        let (tok, col) = self.next();
        match tok {
            Tok::Num(v) => Ok(Node::Num(v)),
            Tok::LParen => {
                let inner = self.sum()?;
                match self.peek() {
                    Tok::RParen => {
                        self.next();
                        Ok(inner)
                    }
                    t => {
                        let found = describe(t);
                        self.err(format!(
                            "expected ')' to close the '(' at column {col}, found {found}"
                        ))
                    }
                }
            }
            Tok::Ident(name) => {
                if let Tok::LParen = self.peek() {
                    let func = FUNCTIONS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, f)| *f)
                        .ok_or_else(|| Error::Parse {
                            column: col,
                            message: format!(
                                "unknown function '{name}'; known: {}",
                                FUNCTIONS
                                    .iter()
                                    .map(|(n, _)| *n)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        })?;
                    let open = self.col();
                    self.next();
                    let arg = self.sum()?;
                    match self.peek() {
                        Tok::RParen => {
                            self.next();
                            Ok(Node::Call(func, Box::new(arg)))
                        }
                        t => {
                            let found = describe(t);
                            self.err(format!(
                                "expected ')' to close the '(' of {name} at column {open}, found {found}"
                            ))
                        }
                    }
                } else if FUNCTIONS.iter().any(|(n, _)| *n == name) {
                    Err(Error::Parse {
                        column: col,
                        message: format!("function '{name}' needs an argument in parentheses"),
                    })
                } else {
                    match name.as_str() {
                        "pi" => Ok(Node::Num(std::f64::consts::PI)),
                        "e" => Ok(Node::Num(std::f64::consts::E)),
                        _ => {
                            let idx = match self.names.iter().position(|n| *n == name) {
                                Some(i) => i,
                                None => {
                                    self.names.push(name);
                                    self.names.len() - 1
                                }
                            };
                            Ok(Node::Var(idx))
                        }
                    }
                }
            }
            other => Err(Error::Parse {
                column: col,
                message: format!(
                    "expected a number, a variable, a function or '(', found {}",
                    describe(&other)
                ),
            }),
        }
    }
}

fn make_power(base: Node, exponent: Node) -> Node {
    // A variable-free exponent is folded to a constant, so `2^3^2` uses an exact integer power.
    let constant = if has_var(&exponent) {
        None
    } else {
        Some(exponent.eval::<f64>(&[]))
    };
    match constant {
        Some(p) if p.fract() == 0.0 && p.abs() <= 1024.0 => Node::PowI(Box::new(base), p as i32),
        Some(p) => Node::PowF(Box::new(base), p),
        None => Node::Pow(Box::new(base), Box::new(exponent)),
    }
}

fn has_var(node: &Node) -> bool {
    match node {
        Node::Num(_) => false,
        Node::Var(_) => true,
        Node::Neg(a) | Node::PowI(a, _) | Node::PowF(a, _) | Node::Call(_, a) => has_var(a),
        Node::Add(a, b) | Node::Sub(a, b) | Node::Mul(a, b) | Node::Div(a, b) | Node::Pow(a, b) => {
            has_var(a) || has_var(b)
        }
    }
}

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
    root: Node,
    variables: Vec<String>,
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
        let mut p = Parser {
            toks: tokenize(source)?,
            pos: 0,
            names: Vec::new(),
        };
        let root = p.sum()?;
        if *p.peek() != Tok::End {
            let found = describe(p.peek());
            return p.err(format!(
                "expected an operator or the end of the formula, found {found}"
            ));
        }
        let found = p.names;
        let order: Vec<String> = match vars {
            Some(list) => {
                for (i, v) in list.iter().enumerate() {
                    if v.is_empty() || list[..i].contains(v) {
                        return Err(Error::invalid(
                            "--vars",
                            format!("variable names must be non-empty and distinct, got '{v}'"),
                        ));
                    }
                }
                if let Some(missing) = found.iter().find(|n| !list.contains(n)) {
                    return Err(Error::invalid(
                        "--vars",
                        format!("the formula uses '{missing}', which --vars does not list"),
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
        Ok(Formula {
            source: source.to_string(),
            root: renumber(root, &map),
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

    /// The parsed tree.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Evaluates on any dual-number type (no checks).
    pub fn eval<T: DualNum<f64>>(&self, vars: &[T]) -> T {
        self.root.eval(vars)
    }

    fn finite(&self, what: &str, params: &[f64], values: &[f64]) -> Result<()> {
        if values.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::NonFinite(format!(
                "the {what} of '{}' is not finite at ({}): the point is outside the formula's domain or overflows",
                self.source,
                params
                    .iter()
                    .map(|&p| crate::error::fmt_num(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

fn renumber(node: Node, map: &[usize]) -> Node {
    let r = |b: Box<Node>| Box::new(renumber(*b, map));
    match node {
        Node::Var(i) => Node::Var(map[i]),
        Node::Num(c) => Node::Num(c),
        Node::Neg(a) => Node::Neg(r(a)),
        Node::Add(a, b) => Node::Add(r(a), r(b)),
        Node::Sub(a, b) => Node::Sub(r(a), r(b)),
        Node::Mul(a, b) => Node::Mul(r(a), r(b)),
        Node::Div(a, b) => Node::Div(r(a), r(b)),
        Node::PowI(a, n) => Node::PowI(r(a), n),
        Node::PowF(a, p) => Node::PowF(r(a), p),
        Node::Pow(a, b) => Node::Pow(r(a), r(b)),
        Node::Call(f, a) => Node::Call(f, r(a)),
    }
}

impl Loss for Formula {
    fn n_params(&self) -> usize {
        self.variables.len()
    }
    fn loss(&self, params: &[f64]) -> Result<f64> {
        check_params(self, params)?;
        let v = self.root.eval(params);
        self.finite("value", params, &[v])?;
        Ok(v)
    }
    fn param_names(&self) -> Vec<String> {
        self.variables.clone()
    }
}

impl Gradient for Formula {
    /// Exact gradient by forward-mode dual numbers (one pass with an `n`-vector of duals).
    fn gradient(&self, params: &[f64], out: &mut [f64]) -> Result<()> {
        self.loss_and_gradient(params, out).map(|_| ())
    }
    fn loss_and_gradient(&self, params: &[f64], out: &mut [f64]) -> Result<f64> {
        check_params(self, params)?;
        let x = DVector::from_column_slice(params);
        let (f, g) = num_dual::gradient(|v: DVector<_>| self.root.eval(v.as_slice()), &x);
        self.finite("value", params, &[f])?;
        self.finite("gradient", params, g.as_slice())?;
        out.copy_from_slice(g.as_slice());
        Ok(f)
    }
}

impl Hessian for Formula {
    /// Exact Hessian by second-order dual numbers (`Dual2Vec`).
    fn hessian(&self, params: &[f64]) -> Result<DMatrix<f64>> {
        check_params(self, params)?;
        let x = DVector::from_column_slice(params);
        let (f, _g, h) = num_dual::hessian(|v: DVector<_>| self.root.eval(v.as_slice()), &x);
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
        let x: DVector<Dual64> = DVector::from_iterator(
            params.len(),
            params.iter().zip(v).map(|(&p, &d)| Dual64::new(p, d)),
        );
        let (_f, g) = num_dual::gradient(|w: DVector<_>| self.root.eval(w.as_slice()), &x);
        let hv: Vec<f64> = g.iter().map(|d| d.eps).collect();
        self.finite("Hessian-vector product", params, &hv)?;
        out.copy_from_slice(&hv);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
