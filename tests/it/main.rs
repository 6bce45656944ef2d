//! critpt's integration tests: one binary, one module per area.

mod cli_errors;
mod core;
mod eigen_props;
mod util;
mod curvature;
mod optim;
mod find;
mod plot;
mod nn;
mod gallery;
