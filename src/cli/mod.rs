//! The `critpt` command line: clap definitions and one small module per subcommand.
//!
//! Each subcommand module has an `Args` struct (clap) and a `run` function that calls the
//! library and prints. Errors bubble up as `anyhow::Error` and become `error: ...` with exit
//! status 1 in `main`; clap's own usage errors exit with status 2.

pub mod analyze;
pub mod analyze_graph;
pub mod analyze_methods;
pub mod analyze_report;
pub mod classify;
pub mod common;
pub mod escape;
pub mod find;
pub mod flags;
pub mod gallery;
pub mod hyper;
pub mod optimize;
pub mod out;
pub mod plot;
pub mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Critical points of loss surfaces: classify, escape, find, optimize, train, analyze, plot.
#[derive(Debug, Parser)]
#[command(name = "critpt", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gradient, Hessian, eigenvalues and the verdict at a point.
    Classify(classify::ClassifyArgs),
    /// One step out of a saddle along the most negative curvature.
    Escape(escape::EscapeArgs),
    /// One optimizer's trajectory from a start point.
    Optimize(optimize::OptimizeArgs),
    /// Every critical point in a box, classified.
    Find(find::FindArgs),
    /// Draw a surface with contours, critical points and trajectories into a PNG or SVG file.
    Plot(plot::PlotArgs),
    /// Train an MLP and save it as safetensors.
    Train(train::TrainArgs),
    /// Curvature of a trained model's loss: Hessian spectrum and verdict.
    Analyze(analyze::AnalyzeArgs),
    /// Regenerate every teaching figure into plots/ and print a report.
    Gallery(gallery::GalleryArgs),
}

/// Dispatches a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Classify(a) => classify::run(&a),
        Command::Escape(a) => escape::run(&a),
        Command::Optimize(a) => optimize::run(&a),
        Command::Find(a) => find::run(&a),
        Command::Plot(a) => plot::run(&a),
        Command::Train(a) => train::run(&a),
        Command::Analyze(a) => analyze::run(&a),
        Command::Gallery(a) => gallery::run(&a),
    }
}
