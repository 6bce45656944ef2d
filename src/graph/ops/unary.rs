//! Element-wise functions `y = f(x)`, each with its first and second derivative: all four passes
//! follow from `f'` and `f''` (`R{x̄} = f'(x)·R{ḡ} + f''(x)·ḡ·R{x}`).

/// An element-wise function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    /// `max(x, 0)`; derivative 0 at 0, as torch's.
    Relu,
    /// `x` for `x > 0`, `αx` otherwise.
    LeakyRelu(f64),
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e^{−x})`.
    Sigmoid,
    /// The error function.
    Erf,
    /// `x·Φ(x)` with the exact normal CDF (ONNX `Gelu`, approximate = none).
    Gelu,
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `(x + shift)^p` with constant `p` and `shift` (`Sqrt`, `Reciprocal`, `Pow` by a constant).
    Pow {
        /// The exponent.
        p: f64,
        /// Added to `x` first (layer normalization's epsilon).
        shift: f64,
    },
    /// `αx` (Gemm's alpha and beta, `Neg`).
    Scale(f64),
    /// `x` limited to `[lo, hi]` (ONNX `Clip`, `ReLU6`); derivative 1 on the closed interval,
    /// as torch's `clamp`.
    Clip(f64, f64),
    /// `|x|`; derivative 0 at 0, as torch's.
    Abs,
    /// `ln(1 + e^x)`, computed without overflow.
    Softplus,
    /// `γ·x` for `x > 0`, `γ·α(e^x − 1)` otherwise (ONNX `Elu` with `γ = 1`, `Selu`).
    Elu {
        /// The negative side's scale.
        alpha: f64,
        /// The overall scale.
        gamma: f64,
    },
    /// `max(0, min(1, αx + β))` (ONNX `HardSigmoid`).
    HardSigmoid {
        /// The slope.
        alpha: f64,
        /// The offset.
        beta: f64,
    },
    /// `x·max(0, min(1, x/6 + 1/2))` (ONNX `HardSwish`).
    HardSwish,
}

const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

impl Unary {
    /// `(f(x), f'(x), f''(x))`.
    pub fn eval(self, x: f64) -> (f64, f64, f64) {
        match self {
            Unary::Relu => {
                if x > 0.0 {
                    (x, 1.0, 0.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
            Unary::LeakyRelu(a) => {
                if x > 0.0 {
                    (x, 1.0, 0.0)
                } else {
                    (a * x, a, 0.0)
                }
            }
            Unary::Tanh => {
                let t = x.tanh();
                let d = 1.0 - t * t;
                (t, d, -2.0 * t * d)
            }
            Unary::Sigmoid => {
                let s = if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                };
                let d = s * (1.0 - s);
                (s, d, d * (1.0 - 2.0 * s))
            }
            Unary::Erf => {
                let d = FRAC_2_SQRT_PI * (-x * x).exp();
                (libm::erf(x), d, -2.0 * x * d)
            }
            Unary::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2));
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                (x * cdf, cdf + x * pdf, pdf * (2.0 - x * x))
            }
            Unary::Exp => {
                let e = x.exp();
                (e, e, e)
            }
            Unary::Log => (x.ln(), 1.0 / x, -1.0 / (x * x)),
            Unary::Pow { p, shift } => {
                let u = x + shift;
                if p == 1.0 {
                    return (u, 1.0, 0.0);
                }
                if p == 2.0 {
                    return (u * u, 2.0 * u, 2.0);
                }
                let y = u.powf(p);
                (y, p * u.powf(p - 1.0), p * (p - 1.0) * u.powf(p - 2.0))
            }
            Unary::Scale(a) => (a * x, a, 0.0),
            Unary::Abs => {
                if x > 0.0 {
                    (x, 1.0, 0.0)
                } else if x < 0.0 {
                    (-x, -1.0, 0.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
            Unary::Softplus => {
                let s = Unary::Sigmoid.eval(x).0;
                let y = x.max(0.0) + (-x.abs()).exp().ln_1p();
                (y, s, s * (1.0 - s))
            }
            Unary::Elu { alpha, gamma } => {
                if x > 0.0 {
                    (gamma * x, gamma, 0.0)
                } else {
                    let e = x.exp();
                    (
                        gamma * alpha * (e - 1.0),
                        gamma * alpha * e,
                        gamma * alpha * e,
                    )
                }
            }
            Unary::HardSigmoid { alpha, beta } => {
                let v = alpha * x + beta;
                if v <= 0.0 {
                    (0.0, 0.0, 0.0)
                } else if v >= 1.0 {
                    (1.0, 0.0, 0.0)
                } else {
                    (v, alpha, 0.0)
                }
            }
            Unary::HardSwish => {
                if x <= -3.0 {
                    (0.0, 0.0, 0.0)
                } else if x >= 3.0 {
                    (x, 1.0, 0.0)
                } else {
                    (x * (x / 6.0 + 0.5), x / 3.0 + 0.5, 1.0 / 3.0)
                }
            }
            Unary::Clip(lo, hi) => {
                if x < lo {
                    (lo, 0.0, 0.0)
                } else if x > hi {
                    (hi, 0.0, 0.0)
                } else {
                    (x, 1.0, 0.0)
                }
            }
        }
    }

    /// Whether `f''` is zero everywhere it exists (the R-backward pass skips its second term).
    pub fn is_piecewise_linear(self) -> bool {
        matches!(
            self,
            Unary::Relu
                | Unary::LeakyRelu(_)
                | Unary::Scale(_)
                | Unary::Clip(..)
                | Unary::Abs
                | Unary::HardSigmoid { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Unary;

    /// Values at points where the functions have closed forms (ONNX's definitions).
    #[test]
    fn values_match_closed_forms() {
        let close =
            |a: f64, b: f64| assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{a} vs {b}");
        close(Unary::Softplus.eval(0.0).0, std::f64::consts::LN_2);
        close(Unary::Softplus.eval(800.0).0, 800.0);
        close(Unary::Softplus.eval(-800.0).0, 0.0);
        let selu = Unary::Elu {
            alpha: 1.673_263_242_354_377_3,
            gamma: 1.050_700_987_355_480_5,
        };
        close(
            selu.eval(-1.0).0,
            1.050_700_987_355_480_5 * 1.673_263_242_354_377_3 * ((-1.0f64).exp() - 1.0),
        );
        close(selu.eval(2.0).0, 2.0 * 1.050_700_987_355_480_5);
        let hs = Unary::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        };
        close(hs.eval(1.0).0, 0.7);
        close(hs.eval(3.0).0, 1.0);
        close(Unary::HardSwish.eval(1.0).0, 1.0 * (4.0 / 6.0));
        close(Unary::HardSwish.eval(-4.0).0, 0.0);
        close(Unary::Abs.eval(-2.5).0, 2.5);
    }
}
