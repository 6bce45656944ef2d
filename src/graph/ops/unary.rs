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
                let t = tanh(x);
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

    /// `f`, `f'` and `f''` at every entry of `xs`, appended to `y`, `d1` and `d2`: the same
    /// values as [`Unary::eval`], with `tanh` in loops the compiler vectorizes.
    pub fn eval_into(self, xs: &[f64], y: &mut Vec<f64>, d1: &mut Vec<f64>, d2: &mut Vec<f64>) {
        if self == Unary::Tanh {
            let at = y.len();
            y.extend(xs.iter().map(|&x| tanh(x)));
            let t = &y[at..];
            d1.extend(t.iter().map(|&t| 1.0 - t * t));
            d2.extend(t.iter().zip(&d1[at..]).map(|(&t, &d)| -2.0 * t * d));
            return;
        }
        for &x in xs {
            let (f, a, b) = self.eval(x);
            y.push(f);
            d1.push(a);
            d2.push(b);
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

/// `1.5 · 2⁵²`: adding it rounds a double of magnitude below 2⁵¹ to an integer (to nearest, ties
/// to even), which then sits in the low bits of the sum's mantissa.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// `tanh x` from `eᵘ − 1` at `u = 2|x|`: with `e = (eᵘ − 1)/2`, `tanh |x| = e/(1 + e)`, taken as
/// `e − e·e/(1 + e)` while `e < 1/2` (the correction is small there, so its rounding is too),
/// which keeps the relative accuracy near 0 where `1 − 2/(eᵘ + 1)` cancels.
/// `eᵘ − 1 = 2ᵏ(eʳ − 1) + (2ᵏ − 1)` with `u = k ln 2 + r`, `0 ≤ r < ln 2` (Cody–Waite, the high part of `ln 2` exact
/// in `k ln 2`; `r ≥ 0`, so the two terms never cancel) and `eʳ − 1 = r + r²·g(r)`, `g` a
/// degree-10 Chebyshev fit of `(eʳ − 1 − r)/r²` on `[−10⁻³, ln 2]` (mpmath's `chebyfit`, printed
/// by fixtures/generate_tanh_reference.py; relative error of `eʳ − 1` below `2·10⁻¹⁸`). Within
/// two ulp of the correctly rounded value (fixtures/tanh_reference.json); straight-line code
/// without calls (`k` and `2ᵏ` from the bits of `u·log₂e − 1/2 + 1.5·2⁵²`), so loops over it
/// vectorize, faster than libm's `tanh`. `|x| ≥ 20` gives `±1` (true beyond 19.06); NaN stays
/// NaN.
#[inline]
pub fn tanh(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // g's coefficients, highest degree first (Horner's order).
    const C: [f64; 11] = [
        2.804_699_493_110_378_2e-9,
        2.381_314_727_998_094_4e-8,
        2.767_519_472_965_858_4e-7,
        2.755_043_009_720_257e-6,
        2.480_184_439_340_654_7e-5,
        1.984_126_370_653_913e-4,
        1.388_888_897_976_683_7e-3,
        8.333_333_332_552_316e-3,
        4.166_666_666_670_074e-2,
        1.666_666_666_666_661e-1,
        0.5,
    ];
    let a = x.abs();
    // NaN compares false and passes through.
    let a = if a > 20.0 { 20.0 } else { a };
    let u = 2.0 * a;
    // k = ⌊u·log₂e⌋ (to rounding; u ≥ 0 keeps k ≥ 0), an integer in the low mantissa bits.
    let shifted = (u * std::f64::consts::LOG2_E - 0.5) + ROUND_MAGIC;
    let k = shifted - ROUND_MAGIC;
    let r = (u - k * LN2_HI) - k * LN2_LO;
    let mut p = C[0];
    for c in &C[1..] {
        p = p * r + c;
    }
    let em1_r = r + r * r * p;
    // 2ᵏ: k (0 ..= 57) moved from the low bits of `shifted` into the exponent field.
    let scale = f64::from_bits(shifted.to_bits().wrapping_add(1023) << 52);
    let e = 0.5 * (scale * em1_r + (scale - 1.0));
    let d = e / (1.0 + e);
    let t = if e < 0.5 { e - e * d } else { d };
    t.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::Unary;

    /// Distance in units in the last place between two finite doubles of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "{a} vs {b}");
        a.to_bits().abs_diff(b.to_bits())
    }

    /// The vectorizable `tanh` against correctly rounded values (mpmath at 200 bits,
    /// fixtures/generate_tanh_reference.py): within two ulp everywhere, so relative near 0 too;
    /// within three of the platform's libm on a dense grid; exact at ±0, ±1 where the true value
    /// rounds to ±1, NaN for NaN; and `eval_into` gives `eval`'s bits.
    #[test]
    fn tanh_is_within_two_ulp_of_the_correctly_rounded_value() {
        let fx: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/tanh_reference.json")).unwrap();
        let rows = fx["tanh"].as_array().unwrap();
        assert!(rows.len() > 6000);
        let mut xs = Vec::new();
        let mut worst = 0;
        for row in rows {
            let x: f64 = row[0].as_str().unwrap().parse().unwrap();
            let want: f64 = row[1].as_str().unwrap().parse().unwrap();
            worst = worst.max(ulps(super::tanh(x), want));
            worst = worst.max(ulps(super::tanh(-x), -want));
            xs.push(x);
        }
        assert!(
            worst <= 2,
            "worst {worst} ulp from the correctly rounded value"
        );
        let mut libm_worst = 0;
        for i in 1..=400_000 {
            let x = i as f64 * 5e-5;
            libm_worst = libm_worst.max(ulps(super::tanh(x), x.tanh()));
        }
        assert!(libm_worst <= 3, "worst {libm_worst} ulp from libm");
        assert_eq!(super::tanh(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(super::tanh(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(super::tanh(19.1), 1.0);
        assert_eq!(super::tanh(f64::INFINITY), 1.0);
        assert_eq!(super::tanh(f64::NEG_INFINITY), -1.0);
        assert!(super::tanh(f64::NAN).is_nan());
        let (mut y, mut d1, mut d2) = (Vec::new(), Vec::new(), Vec::new());
        Unary::Tanh.eval_into(&xs, &mut y, &mut d1, &mut d2);
        for (i, &x) in xs.iter().enumerate() {
            let (f, a, b) = Unary::Tanh.eval(x);
            assert_eq!(
                [f, a, b].map(f64::to_bits),
                [y[i], d1[i], d2[i]].map(f64::to_bits)
            );
        }
    }

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
