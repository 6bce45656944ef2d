//! `critpt plot`: a surface with contour lines, optionally its critical points and optimizer
//! trajectories, written to a PNG or SVG file.

use super::common::{parse_list, parse_point, print_json, FunctionArgs};
use super::out::errln;
use anyhow::{bail, Result};
use critpt::critical::{find_critical_points, SearchBox, SearchOptions};
use critpt::expr::Formula;
use critpt::optim::{optimizer_by_name, Hyper, Runner, Schedule};
use critpt::plot::{Plot, PlotBox, PointMarker, SurfacePlot, Trajectory, ValueScale};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `critpt plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The box LO1,HI1,LO2,HI2 (default: the surface's plotting box).
    #[arg(
        long = "box",
        value_name = "LO1,HI1,LO2,HI2",
        allow_hyphen_values = true
    )]
    pub bx: Option<String>,
    /// Mark the critical points by kind.
    #[arg(long)]
    pub critical: bool,
    /// Draw the trajectories of these optimizers (comma-separated), from --start.
    #[arg(long, value_name = "A,B,...")]
    pub optimizers: Option<String>,
    /// Start point of the trajectories.
    #[arg(long, allow_hyphen_values = true)]
    pub start: Option<String>,
    /// Learning rate of the trajectories.
    #[arg(long, default_value_t = 0.01, allow_hyphen_values = true)]
    pub lr: f64,
    /// Steps of the trajectories.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Output file, .png or .svg.
    #[arg(long)]
    pub out: PathBuf,
    /// Width in pixels.
    #[arg(long, default_value_t = critpt::plot::DEFAULT_SIZE.0)]
    pub width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = critpt::plot::DEFAULT_SIZE.1)]
    pub height: u32,
    /// Log colour scale (for surfaces spanning orders of magnitude).
    #[arg(long)]
    pub log: bool,
    /// Grid points per axis (default 200 for PNG, 120 for SVG, which stores one rectangle per
    /// point).
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Print one JSON object (the file written, the critical points and trajectories drawn).
    #[arg(long)]
    pub json: bool,
}

/// A trajectory as drawn, with how its run ended.
struct Drawn {
    trajectory: Trajectory,
    diverged_at_step: Option<usize>,
}

/// The critical points to mark: for `--fn`, the surface's documented points; for `--expr`, the
/// points [`find_critical_points`] finds in the plotted box (default starts and seed).
fn critical_points(a: &PlotArgs, f: &Formula, bx: &PlotBox) -> Result<Vec<PointMarker>> {
    let marker = |p: &[f64], kind| PointMarker {
        point: [p[0], p[1]],
        kind,
    };
    if let Some(s) = a.function.surface()? {
        return Ok(s
            .critical_points
            .iter()
            .filter(|k| k.point.len() == 2)
            .map(|k| marker(&k.point, k.kind))
            .collect());
    }
    let search = SearchBox::try_new(&[(bx.x.0, bx.x.1), (bx.y.0, bx.y.1)])?;
    let res = find_critical_points(f, &search, &SearchOptions::default())?;
    for w in &res.warnings {
        errln!("warning: {}", super::flags::with_flags(w));
    }
    Ok(res
        .points
        .iter()
        .map(|p| marker(&p.point, p.kind))
        .collect())
}

/// The trajectory of each named optimizer (default hyper-parameters, constant rate `lr`) from
/// `start`, `steps` steps; a diverging run is drawn up to its last finite point, with a warning.
fn trajectories(
    names: &[String],
    f: &Formula,
    start: &[f64],
    lr: f64,
    steps: usize,
) -> Result<Vec<Drawn>> {
    names
        .iter()
        .map(|name| {
            let mut opt = optimizer_by_name(name, &Hyper::default())?;
            let t = Runner::new(Schedule::constant(lr)?, steps).run(f, opt.as_mut(), start)?;
            if let Some(k) = t.diverged_at_step {
                errln!(
                    "warning: {name} diverged at step {k}; its path is drawn up to step {}",
                    k - 1
                );
            }
            Ok(Drawn {
                trajectory: Trajectory {
                    name: name.clone(),
                    points: t.path.iter().map(|p| [p[0], p[1]]).collect(),
                },
                diverged_at_step: t.diverged_at_step,
            })
        })
        .collect()
}

/// The JSON of `critpt plot`: the file written, its size, the box, and what was drawn on it.
#[derive(serde::Serialize)]
struct PlotJson<'a> {
    out: String,
    format: &'static str,
    width: u32,
    height: u32,
    resolution: usize,
    variables: &'a [String],
    #[serde(rename = "box")]
    bounds: [[f64; 2]; 2],
    critical_points: Vec<MarkedJson>,
    trajectories: Vec<TrajectoryJson<'a>>,
}

/// A marked critical point.
#[derive(serde::Serialize)]
struct MarkedJson {
    point: [f64; 2],
    kind: critpt::critical::CriticalKind,
}

/// A drawn trajectory: where it starts and ends, and whether its run diverged.
#[derive(serde::Serialize)]
struct TrajectoryJson<'a> {
    name: &'a str,
    lr: f64,
    steps: usize,
    start: Option<&'a [f64; 2]>,
    end: Option<&'a [f64; 2]>,
    diverged_at_step: Option<usize>,
}

/// Runs `critpt plot`.
pub fn run(a: &PlotArgs) -> Result<ExitCode> {
    // Check the output name before any work.
    let format = critpt::plot::Format::from_path(&a.out)?;
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        bail!("--lr must be positive and finite, got {}", a.lr);
    }
    critpt::limits::check_plotted_steps(a.steps)?;
    let resolution = a.resolution.unwrap_or(match format {
        critpt::plot::Format::Png => 200,
        critpt::plot::Format::Svg => 120,
    });
    let f = a.function.formula()?;
    if f.variables().len() != 2 {
        bail!(
            "only functions of 2 variables can be plotted; this one has {} ({})",
            f.variables().len(),
            f.variables().join(", ")
        );
    }
    let surface = a.function.surface()?;
    let bx = match (&a.bx, &surface) {
        (Some(text), _) => PlotBox::from_flat(&parse_list("--box", text)?)?,
        (None, Some(s)) => PlotBox::from_pairs(&s.plot_box)?,
        (None, None) => bail!("--box LO1,HI1,LO2,HI2 is required with --expr"),
    };
    let mut fig = SurfacePlot::from_loss(&f, bx, resolution)?
        .with_title(match &surface {
            Some(s) => s.description.to_string(),
            None => f.source().to_string(),
        })
        .with_scale(if a.log {
            ValueScale::Log
        } else {
            ValueScale::Linear
        });
    let mut marked = Vec::new();
    if a.critical {
        marked = critical_points(a, &f, &bx)?;
        fig = fig.with_critical_points(marked.clone());
    }
    let mut drawn = Vec::new();
    if let Some(list) = &a.optimizers {
        let names: Vec<String> = list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            bail!("--optimizers: empty list; expected names such as sgd,adam");
        }
        let Some(start) = &a.start else {
            bail!("--optimizers needs --start P");
        };
        let start = parse_point("--start", start, &f)?;
        drawn = trajectories(&names, &f, &start, a.lr, a.steps)?;
        for d in &drawn {
            fig = fig.with_trajectory(d.trajectory.name.clone(), d.trajectory.points.clone());
        }
    }
    fig.save(&a.out, (a.width, a.height))?;
    if a.json {
        print_json(&serde_json::to_value(PlotJson {
            out: a.out.display().to_string(),
            format: match format {
                critpt::plot::Format::Png => "png",
                critpt::plot::Format::Svg => "svg",
            },
            width: a.width,
            height: a.height,
            resolution,
            variables: f.variables(),
            bounds: [[bx.x.0, bx.x.1], [bx.y.0, bx.y.1]],
            critical_points: marked
                .iter()
                .map(|m| MarkedJson {
                    point: m.point,
                    kind: m.kind,
                })
                .collect(),
            trajectories: drawn
                .iter()
                .map(|d| TrajectoryJson {
                    name: &d.trajectory.name,
                    lr: a.lr,
                    steps: d.trajectory.points.len().saturating_sub(1),
                    start: d.trajectory.points.first(),
                    end: d.trajectory.points.last(),
                    diverged_at_step: d.diverged_at_step,
                })
                .collect(),
        })?)?;
    } else {
        errln!("wrote {}", a.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
