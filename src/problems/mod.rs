//! Test problems: small objectives with known answers, for tests, benchmarks, examples and the
//! teaching figures.
//!
//! - [`QuadraticForm`]: `½ θᵀAθ` with a chosen spectrum, so matrix-free solvers can be checked
//!   against the eigenvalues they must recover;
//! - [`LinearRegression`]: seeded least squares with an exact, constant Hessian and mini-batches;
//! - [`Ridge`]: any objective plus weight decay, which keeps critical points at finite parameters.
//!
//! The named two-variable formulas with documented critical points are in [`crate::surfaces`].

mod quadratic;
mod regression;
mod ridge;

pub use quadratic::QuadraticForm;
pub use regression::LinearRegression;
pub use ridge::Ridge;
