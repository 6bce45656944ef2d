//! # critpt: critical points of loss surfaces
//!
//! Given a loss over a flat parameter vector (a formula, a named test surface, or the training
//! loss of a neural network), critpt estimates its gradient and Hessian (finite differences or
//! dual numbers), decomposes the Hessian, says whether a point is a local minimum, a maximum, a
//! saddle or degenerate, reports the index and the *minimum ratio*, escapes saddles along
//! negative curvature, and (in later modules) finds every critical point in a region, runs the
//! optimizers of deep learning and draws it all.
//!
//! The pipeline, one module per stage:
//! [`objective`] → [`derivatives`] → [`curvature`] → [`critical`].
//!
//! # Example
//! ```
//! use critpt::{expr::Formula, critical::{classify_point, Tolerances, CriticalKind}};
//! let f = Formula::parse("(1 - w1*w2)^2").unwrap();
//! let p = classify_point(&f, &[0.0, 0.0], &Tolerances::dual()).unwrap();
//! assert_eq!(p.kind, CriticalKind::Saddle);
//! assert_eq!(p.index, 1);
//! assert_eq!(p.minimum_ratio, 0.5);
//! ```
#![warn(missing_docs)]

mod buffer_pool;
pub mod critical;
pub mod curvature;
pub mod derivatives;
pub mod error;
pub mod expr;
pub mod gallery;
pub mod graph;
mod kernels;
pub mod landscape;
pub mod limits;
pub mod nn;
pub mod objective;
pub mod optim;
pub mod plot;
pub mod problems;
pub mod surfaces;

pub use error::{Error, Result};

// Links OpenBLAS (LAPACK) into every binary when the `lapack` feature is on.
#[cfg(feature = "lapack")]
extern crate openblas_src as _;
