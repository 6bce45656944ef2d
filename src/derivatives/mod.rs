//! Derivative estimators: what an objective cannot give exactly, these supply.
//!
//! - [`FiniteDiff`]: central differences from values alone (any [`crate::objective::Loss`]).
//! - [`FiniteDiffGrad`]: central differences of an exact gradient (Hessian and HVP of objectives
//!   that have a gradient, such as a network's backpropagation).
//! - [`hessian_from_hvp`]: the dense Hessian column by column from Hessian-vector products.
//!
//! Dual-number autodiff lives with the formulas ([`crate::expr::Formula`]) because it needs the
//! formula to be generic over the number type.

mod finite;

pub use finite::{
    hessian_from_hvp, FiniteDiff, FiniteDiffGrad, GRADIENT_STEP_FACTOR, HESSIAN_STEP_FACTOR,
};

/// How derivatives are obtained (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Exact: dual numbers for formulas, backpropagation for networks.
    Dual,
    /// Central finite differences from values.
    FiniteDiff,
}

impl Method {
    /// The name used on the command line and in JSON (`dual`, `fd`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Dual => "dual",
            Method::FiniteDiff => "fd",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "dual" | "exact" => Ok(Method::Dual),
            "fd" | "finite-diff" => Ok(Method::FiniteDiff),
            _ => Err(crate::Error::Unknown {
                what: "derivative method".into(),
                name: s.into(),
                known: "dual, fd".into(),
            }),
        }
    }
}
