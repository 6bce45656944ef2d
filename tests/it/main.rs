//! critpt's integration tests: one binary, one module per area.

mod analyze_formats;
mod cli_errors;
mod cli_hardening;
mod core;
mod curvature;
mod curvature_operators;
mod eigen_props;
mod expr_hostile;
mod find;
mod fuzz_corpus;
mod gallery;
mod gallery_bn_sharp;
mod gallery_landscape;
mod gallery_nn;
mod graph_cnn20k;
mod graph_dense;
mod inertia;
mod lower;
mod netcurv;
mod nn;
mod onnx;
mod optim;
mod optim_torch;
mod plot;
mod train;
mod util;
