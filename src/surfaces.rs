//! Named test surfaces (`--fn NAME`) with their formulas, plotting boxes and known critical points.
//!
//! Each surface is a [`Formula`], so it has exact derivatives. The critical points listed are the
//! documented ones (docs/reference.md §1–§3 and the literature); where a list is partial,
//! [`Surface::complete`] is `false`.

use crate::critical::CriticalKind;
use crate::error::{Error, Result};
use crate::expr::Formula;

/// A documented critical point of a surface.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownPoint {
    /// Coordinates (to the precision published).
    pub point: Vec<f64>,
    /// Its kind.
    pub kind: CriticalKind,
}

/// A named test surface.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    /// Name for `--fn`.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// The formula, in critpt's formula language.
    pub formula: String,
    /// A sensible plotting box, `(lo, hi)` per variable.
    pub plot_box: Vec<(f64, f64)>,
    /// Known critical points inside the plotting box.
    pub critical_points: Vec<KnownPoint>,
    /// Whether `critical_points` is every critical point in the box.
    pub complete: bool,
}

impl Surface {
    /// The parsed formula (variables in natural order).
    pub fn formula(&self) -> Formula {
        // The built-in formulas are tested to parse; a failure here is a bug, not user input.
        Formula::parse(&self.formula).expect("built-in surface formula parses")
    }

    /// The same surface with its plotting box and known points given in the variable order
    /// `vars` (a `--vars` list) instead of the natural one, so that a box or a point stays
    /// paired with its variables; parse the formula with the same list.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `vars` names a variable the surface has no plotting range for.
    pub fn reordered(&self, vars: &[String]) -> Result<Surface> {
        let natural = self.formula();
        let from: Vec<usize> = vars
            .iter()
            .map(|v| {
                natural
                    .variables()
                    .iter()
                    .position(|w| w == v)
                    .ok_or_else(|| {
                        Error::invalid(
                            "variable order",
                            format!(
                                "surface '{}' has variables {}; it has no range for '{v}'",
                                self.name,
                                natural.variables().join(", ")
                            ),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        let permute = |p: &[f64]| from.iter().map(|&i| p[i]).collect::<Vec<f64>>();
        Ok(Surface {
            plot_box: from.iter().map(|&i| self.plot_box[i]).collect(),
            critical_points: self
                .critical_points
                .iter()
                .map(|k| KnownPoint {
                    point: permute(&k.point),
                    kind: k.kind,
                })
                .collect(),
            ..self.clone()
        })
    }
}

/// The long narrow valley of the chapter's adaptive-learning-rate figure (docs/reference.md §3):
/// `Σ (y − b − w x)²` over ten points, variables `b`, `w`.
pub const VALLEY_X: [f64; 10] = [338., 333., 328., 207., 226., 25., 179., 60., 208., 606.];
/// Targets of the valley data.
pub const VALLEY_Y: [f64; 10] = [640., 633., 619., 393., 428., 27., 193., 66., 226., 1591.];

fn valley_formula() -> String {
    VALLEY_X
        .iter()
        .zip(VALLEY_Y)
        .map(|(x, y)| format!("({y} - b - {x}*w)^2"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn kp(point: &[f64], kind: CriticalKind) -> KnownPoint {
    KnownPoint {
        point: point.to_vec(),
        kind,
    }
}

/// All built-in surfaces.
pub fn all() -> Vec<Surface> {
    use CriticalKind::*;
    vec![
        Surface {
            name: "himmelblau",
            description: "Himmelblau: 4 minima (f = 0), 4 saddles, 1 maximum",
            formula: "(x^2 + y - 11)^2 + (x + y^2 - 7)^2".into(),
            plot_box: vec![(-5.0, 5.0), (-5.0, 5.0)],
            critical_points: vec![
                kp(&[3.0, 2.0], Minimum),
                kp(&[-2.805118, 3.131313], Minimum),
                kp(&[-3.779310, -3.283186], Minimum),
                kp(&[3.584428, -1.848127], Minimum),
                kp(&[-0.270845, -0.923039], Maximum),
                kp(&[3.385154, 0.073852], Saddle),
                kp(&[0.086678, 2.884255], Saddle),
                kp(&[-3.073026, -0.081353], Saddle),
                kp(&[-0.127961, -1.953715], Saddle),
            ],
            complete: true,
        },
        Surface {
            name: "rosenbrock",
            description: "Rosenbrock's banana valley: one minimum at (1, 1)",
            formula: "(1 - x)^2 + 100*(y - x^2)^2".into(),
            plot_box: vec![(-2.0, 2.0), (-1.0, 3.0)],
            critical_points: vec![kp(&[1.0, 1.0], Minimum)],
            complete: true,
        },
        Surface {
            name: "three-hump-camel",
            description: "three-hump camel: 3 minima, 2 saddles",
            formula: "2*x^2 - 1.05*x^4 + x^6/6 + x*y + y^2".into(),
            plot_box: vec![(-2.0, 2.0), (-2.0, 2.0)],
            critical_points: vec![
                kp(&[0.0, 0.0], Minimum),
                kp(&[1.747552, -0.873776], Minimum),
                kp(&[-1.747552, 0.873776], Minimum),
                kp(&[1.070542, -0.535271], Saddle),
                kp(&[-1.070542, 0.535271], Saddle),
            ],
            complete: true,
        },
        Surface {
            name: "six-hump-camel",
            description: "six-hump camel: two global minima f = -1.0316 (partial list)",
            formula: "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2".into(),
            plot_box: vec![(-2.0, 2.0), (-1.0, 1.0)],
            critical_points: vec![
                kp(&[0.0898420131, -0.7126564030], Minimum),
                kp(&[-0.0898420131, 0.7126564030], Minimum),
            ],
            complete: false,
        },
        Surface {
            name: "beale",
            description: "Beale: minimum (3, 0.5), two saddles",
            formula: "(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2".into(),
            plot_box: vec![(-4.5, 4.5), (-4.5, 4.5)],
            critical_points: vec![
                kp(&[3.0, 0.5], Minimum),
                kp(&[0.0, 1.0], Saddle),
                kp(&[0.100538, -2.644514], Saddle),
            ],
            complete: false,
        },
        Surface {
            name: "booth",
            description: "Booth: a convex quadratic, minimum (1, 3)",
            formula: "(x + 2*y - 7)^2 + (2*x + y - 5)^2".into(),
            plot_box: vec![(-10.0, 10.0), (-10.0, 10.0)],
            critical_points: vec![kp(&[1.0, 3.0], Minimum)],
            complete: true,
        },
        Surface {
            name: "matyas",
            description: "Matyas: an ill-conditioned convex quadratic, minimum (0, 0)",
            formula: "0.26*(x^2 + y^2) - 0.48*x*y".into(),
            plot_box: vec![(-10.0, 10.0), (-10.0, 10.0)],
            critical_points: vec![kp(&[0.0, 0.0], Minimum)],
            complete: true,
        },
        Surface {
            name: "monkey-saddle",
            description: "monkey saddle x^3 - 3xy^2: H = 0 at the origin (degenerate)",
            formula: "x^3 - 3*x*y^2".into(),
            plot_box: vec![(-2.0, 2.0), (-2.0, 2.0)],
            critical_points: vec![kp(&[0.0, 0.0], Degenerate)],
            complete: true,
        },
        Surface {
            name: "saddle",
            description: "the plain saddle x^2 - y^2",
            formula: "x^2 - y^2".into(),
            plot_box: vec![(-2.0, 2.0), (-2.0, 2.0)],
            critical_points: vec![kp(&[0.0, 0.0], Saddle)],
            complete: true,
        },
        Surface {
            name: "double-well",
            description: "double well x^4 - 2x^2 + y^2: minima (±1, 0), saddle (0, 0)",
            formula: "x^4 - 2*x^2 + y^2".into(),
            plot_box: vec![(-2.0, 2.0), (-2.0, 2.0)],
            critical_points: vec![
                kp(&[-1.0, 0.0], Minimum),
                kp(&[1.0, 0.0], Minimum),
                kp(&[0.0, 0.0], Saddle),
            ],
            complete: true,
        },
        Surface {
            name: "two-weight",
            description: "the chapter's network y = w1 w2 x on (x, y) = (1, 1): (1 - w1 w2)^2; saddle at 0, degenerate minima on w1 w2 = 1",
            formula: "(1 - w1*w2)^2".into(),
            plot_box: vec![(-2.0, 2.0), (-2.0, 2.0)],
            critical_points: vec![
                kp(&[0.0, 0.0], Saddle),
                kp(&[1.0, 1.0], Degenerate),
                kp(&[-1.0, -1.0], Degenerate),
                kp(&[0.5, 2.0], Degenerate),
            ],
            complete: false,
        },
        Surface {
            name: "valley",
            description: "the chapter's long narrow valley: linear regression b + w x on ten points",
            formula: valley_formula(),
            plot_box: vec![(-200.0, -100.0), (-5.0, 5.0)],
            critical_points: vec![kp(&[-188.43319665732668, 2.669454966762258], Minimum)],
            complete: true,
        },
    ]
}

/// The names of all built-in surfaces.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name).collect()
}

/// Looks up a surface by name.
///
/// # Errors
/// [`Error::Unknown`] listing the known names.
pub fn by_name(name: &str) -> Result<Surface> {
    all()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::Unknown {
            what: "surface".into(),
            name: name.into(),
            known: names().join(", "),
        })
}
