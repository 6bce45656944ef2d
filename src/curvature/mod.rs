//! Curvature: the spectrum of a Hessian.
//!
//! [`Spectrum`] is the one currency: eigenvalues ascending, eigenvectors as matching columns.
//! [`dense`] decomposes a dense symmetric matrix with one of three backends ([`EigenBackend`]).

pub mod dense;

pub use dense::{symmetric_eigen, EigenBackend, Spectrum};
