//! Formula text to a postfix [`Op`] program.
//!
//! The parser is an operator-precedence (shunting-yard) loop with explicit stacks instead of
//! recursive descent, so no input can overflow the call stack. The pending-operator stack is
//! what nesting costs: every open parenthesis, function call, sign and operator still waiting
//! for its right operand is one level, and more than [`MAX_DEPTH`] levels is a parse error. Long
//! flat sums and products keep that stack short and have no limit.

use super::eval::{self, Func, Op, FUNCTIONS};
use crate::error::{Error, Result};

/// The deepest nesting a formula may have (parentheses, function calls, signs, `^` chains).
pub const MAX_DEPTH: usize = 1000;

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

fn parse_error<T>(column: usize, message: String) -> Result<T> {
    Err(Error::Parse { column, message })
}

/// Splits a formula into tokens with their 1-based columns (counted in characters).
/// Variables and function names are ASCII letters, digits and `_`, starting with a letter or `_`.
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
            let value: f64 = match text.parse() {
                Ok(v) => v,
                Err(_) => return parse_error(col, format!("malformed number '{text}'")),
            };
            if !value.is_finite() {
                return parse_error(col, format!("the number '{text}' is too large for f64"));
            }
            out.push((Tok::Num(value), col));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), col));
        } else {
            let tok = match c {
                '+' | '-' | '*' | '/' | '^' => Tok::Op(c),
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                _ => {
                    return parse_error(
                        col,
                        format!(
                            "unexpected character '{}'; expected a number, a variable (ASCII letters, digits, _), a function, an operator or a parenthesis",
                            c.escape_debug()
                        ),
                    )
                }
            };
            out.push((tok, col));
            i += 1;
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// An operator or bracket waiting on the parser's stack.
#[derive(Debug, Clone)]
enum Pending {
    /// A binary operator and its column.
    Binary(char, usize),
    /// A unary minus.
    Neg,
    /// An open parenthesis at this column, the argument list of `func` when it has one.
    Open {
        column: usize,
        func: Option<(Func, String, usize)>,
    },
}

fn precedence(p: &Pending) -> u8 {
    match p {
        Pending::Binary('+' | '-', _) => 1,
        Pending::Binary('*' | '/', _) => 2,
        Pending::Neg => 3,
        Pending::Binary(_, _) => 4,
        Pending::Open { .. } => 0,
    }
}

/// The output of the parser: the program in parse-order variable numbering.
pub(crate) struct Parsed {
    /// The postfix program.
    pub program: Vec<Op>,
    /// Variable names in order of first appearance.
    pub names: Vec<String>,
}

struct Builder {
    out: Vec<Op>,
    /// Start index in `out` of each finished operand, innermost last.
    starts: Vec<usize>,
    pending: Vec<Pending>,
}

impl Builder {
    fn push_pending(&mut self, p: Pending, column: usize) -> Result<()> {
        if self.pending.len() >= MAX_DEPTH {
            return parse_error(
                column,
                format!(
                    "the formula nests more than {MAX_DEPTH} levels deep (parentheses, function calls, signs and powers each add one)"
                ),
            );
        }
        self.pending.push(p);
        Ok(())
    }

    /// Emits the operation `p` (not a parenthesis) on the operands already emitted.
    fn reduce(&mut self, p: Pending) {
        match p {
            Pending::Neg => self.out.push(Op::Neg),
            Pending::Binary(c, column) => {
                let b_start = self.starts.pop().unwrap_or(self.out.len());
                let a_start = self.starts.pop().unwrap_or(b_start);
                let op = match c {
                    '+' => Op::Add,
                    '-' => Op::Sub,
                    '*' => Op::Mul,
                    '/' => Op::Div,
                    _ => {
                        // A variable-free exponent is folded to a constant, so `2^3^2` uses an
                        // exact integer power.
                        let exponent = &self.out[b_start..];
                        if eval::has_var(exponent) {
                            Op::Pow(column)
                        } else {
                            let p = eval::value(exponent, &[]);
                            self.out.truncate(b_start);
                            if p.fract() == 0.0 && p.abs() <= 1024.0 {
                                Op::PowI(p as i32)
                            } else {
                                Op::PowF(p, column)
                            }
                        }
                    }
                };
                self.out.push(op);
                self.starts.push(a_start);
            }
            Pending::Open { .. } => {}
        }
    }

    /// Reduces pending operators down to the innermost open parenthesis, which is returned
    /// (popped), or `None` when there is none.
    fn close(&mut self) -> Option<Pending> {
        while let Some(p) = self.pending.pop() {
            if let Pending::Open { .. } = p {
                return Some(p);
            }
            self.reduce(p);
        }
        None
    }

    fn innermost_open(&self) -> Option<&Pending> {
        self.pending
            .iter()
            .rev()
            .find(|p| matches!(p, Pending::Open { .. }))
    }
}

fn unclosed(open: &Pending, found: &Tok) -> String {
    let found = describe(found);
    match open {
        Pending::Open {
            column,
            func: Some((_, name, _)),
        } => format!("expected ')' to close the '(' of {name} at column {column}, found {found}"),
        Pending::Open { column, .. } => {
            format!("expected ')' to close the '(' at column {column}, found {found}")
        }
        _ => format!("expected ')', found {found}"),
    }
}

/// Parses `src` (not blank) into a program.
pub(crate) fn parse(src: &str) -> Result<Parsed> {
    let toks = tokenize(src)?;
    let mut b = Builder {
        out: Vec::new(),
        starts: Vec::new(),
        pending: Vec::new(),
    };
    let mut names: Vec<String> = Vec::new();
    let mut expect_operand = true;
    let mut i = 0;
    while i < toks.len() {
        let (tok, col) = (&toks[i].0, toks[i].1);
        i += 1;
        if expect_operand {
            match tok {
                Tok::Num(v) => {
                    b.starts.push(b.out.len());
                    b.out.push(Op::Num(*v));
                    expect_operand = false;
                }
                Tok::Ident(name) => {
                    let func = FUNCTIONS.iter().find(|(n, _)| n == name).map(|(_, f)| *f);
                    if let Some((Tok::LParen, open)) = toks.get(i) {
                        let Some(func) = func else {
                            return parse_error(
                                col,
                                format!(
                                    "unknown function '{name}'; known: {}",
                                    FUNCTIONS
                                        .iter()
                                        .map(|(n, _)| *n)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            );
                        };
                        b.push_pending(
                            Pending::Open {
                                column: *open,
                                func: Some((func, name.clone(), col)),
                            },
                            col,
                        )?;
                        i += 1;
                    } else if func.is_some() {
                        return parse_error(
                            col,
                            format!("function '{name}' needs an argument in parentheses"),
                        );
                    } else {
                        b.starts.push(b.out.len());
                        b.out.push(match name.as_str() {
                            "pi" => Op::Num(std::f64::consts::PI),
                            "e" => Op::Num(std::f64::consts::E),
                            _ => Op::Var(match names.iter().position(|n| n == name) {
                                Some(k) => k,
                                None => {
                                    names.push(name.clone());
                                    names.len() - 1
                                }
                            }),
                        });
                        expect_operand = false;
                    }
                }
                Tok::Op('-') => b.push_pending(Pending::Neg, col)?,
                Tok::Op('+') => {}
                Tok::LParen => b.push_pending(
                    Pending::Open {
                        column: col,
                        func: None,
                    },
                    col,
                )?,
                other => {
                    return parse_error(
                        col,
                        format!(
                            "expected a number, a variable, a function or '(', found {}",
                            describe(other)
                        ),
                    )
                }
            }
        } else {
            match tok {
                Tok::Op(c) => {
                    let new = Pending::Binary(*c, col);
                    let prec = precedence(&new);
                    // Left-associative operators take over equal precedence; `^` is right-
                    // associative and takes over nothing (nothing binds tighter).
                    let takes_over = |top: &Pending| {
                        let t = precedence(top);
                        t != 0 && (t > prec || (t == prec && *c != '^'))
                    };
                    while b.pending.last().is_some_and(takes_over) {
                        if let Some(top) = b.pending.pop() {
                            b.reduce(top);
                        }
                    }
                    b.push_pending(new, col)?;
                    expect_operand = true;
                }
                Tok::RParen => match b.close() {
                    Some(Pending::Open {
                        func: Some((f, _, name_col)),
                        ..
                    }) => b.out.push(Op::Call(f, name_col)),
                    Some(_) => {}
                    None => {
                        return parse_error(
                            col,
                            "expected an operator or the end of the formula, found ')'".into(),
                        )
                    }
                },
                Tok::End => {
                    if let Some(open) = b.innermost_open() {
                        return parse_error(col, unclosed(open, tok));
                    }
                    b.close();
                }
                other => {
                    return parse_error(
                        col,
                        match b.innermost_open() {
                            Some(open) => unclosed(open, other),
                            None => format!(
                                "expected an operator or the end of the formula, found {}",
                                describe(other)
                            ),
                        },
                    )
                }
            }
        }
    }
    Ok(Parsed {
        program: b.out,
        names,
    })
}
