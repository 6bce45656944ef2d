//! critpt's integration tests: one binary, one module per area.

mod cli_errors;
mod core;
mod curvature;
mod eigen_props;
mod find;
mod gallery;
mod gallery_bn_sharp;
mod gallery_landscape;
mod gallery_nn;
mod netcurv;
mod nn;
mod onnx;
mod optim;
mod plot;
mod util;
