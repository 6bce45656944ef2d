//! `critpt find`: every critical point in a box.

use super::classify::PointJson;
use super::common::{fmt_num, fmt_vec, parse_list, print_json, FunctionArgs};
use super::out::{errln, outln, Spinner};
use anyhow::{bail, Result};
use critpt::critical::{
    find_critical_points, CriticalKind, SearchBox, SearchOptions, Tolerances, DEFAULT_MAX_ROUNDS,
    DEFAULT_STARTS,
};
use critpt::derivatives::Method;
use critpt::expr::Formula;
use std::process::ExitCode;

/// Flags of `critpt find`.
#[derive(Debug, clap::Args)]
pub struct FindArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The box LO1,HI1,LO2,HI2,... (default with --fn: the surface's plotting box).
    #[arg(long = "box", value_name = "LO1,HI1,...", allow_hyphen_values = true)]
    pub bounds: Option<String>,
    /// Starts in the first round (low-discrepancy points in the box); each later round doubles
    /// the total, until a round finds no new critical point.
    #[arg(long, default_value_t = DEFAULT_STARTS)]
    pub starts: usize,
    /// The most rounds of starts.
    #[arg(long, default_value_t = DEFAULT_MAX_ROUNDS)]
    pub max_rounds: usize,
    /// Seed of the start sequence.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Gradient-norm tolerance for accepting a point (default 1e-6).
    #[arg(long, allow_hyphen_values = true)]
    pub tol_grad: Option<f64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The search box: `--box`, or the named surface's plotting box in the formula's variable order.
fn search_box(a: &FindArgs, f: &Formula) -> Result<SearchBox> {
    let n = f.variables().len();
    let bounds = match (&a.bounds, a.function.surface()?) {
        (Some(text), _) => {
            let flat = parse_list("--box", text)?;
            if flat.len() != 2 * n {
                bail!(
                    "--box: the function has {n} variables ({}), so the box needs {} bounds LO1,HI1,...; got {}",
                    f.variables().join(", "),
                    2 * n,
                    flat.len()
                );
            }
            flat.chunks(2).map(|c| (c[0], c[1])).collect::<Vec<_>>()
        }
        (None, Some(s)) => s.plot_box,
        (None, None) => bail!("give the search box: --box LO1,HI1,LO2,HI2,..."),
    };
    SearchBox::try_new(&bounds).map_err(|e| anyhow::anyhow!("--box: {e}"))
}

/// The JSON of `critpt find`: the box, the search's size, every point found (as `classify`
/// prints one, sorted by value), the counts by kind and the search's statistics.
#[derive(serde::Serialize)]
struct FindJson<'a> {
    variables: &'a [String],
    #[serde(rename = "box")]
    bounds: Vec<[f64; 2]>,
    starts: usize,
    first_round: usize,
    rounds: usize,
    seed: u64,
    points: Vec<PointJson<'a>>,
    counts: KindCounts,
    on_continuum: &'a [bool],
    continuum_points: usize,
    runs: &'a critpt::critical::SearchStats,
    warnings: &'a [String],
    evaluations: critpt::objective::EvalCounts,
}

/// How many points of each kind were found.
#[derive(serde::Serialize)]
struct KindCounts {
    minimum: usize,
    maximum: usize,
    saddle: usize,
    degenerate: usize,
}

/// Runs `critpt find`.
pub fn run(a: &FindArgs) -> Result<ExitCode> {
    let f = a.function.formula()?;
    critpt::limits::check_starts(a.starts)?;
    let bx = search_box(a, &f)?;
    let mut tol = Tolerances::dual();
    if let Some(t) = a.tol_grad {
        tol = tol.with_grad(t)?;
    }
    let opts = SearchOptions::default()
        .with_starts(a.starts)?
        .with_max_rounds(a.max_rounds)?
        .with_seed(a.seed)
        .with_tolerances(tol)
        .with_record_paths(false);
    let spinner = Spinner::start(format!("searching from {} starts", a.starts));
    let res = find_critical_points(&f, &bx, &opts)?;
    drop(spinner);
    for w in &res.warnings {
        errln!("warning: {}", super::flags::with_flags(w));
    }
    let count = |k: CriticalKind| res.points.iter().filter(|p| p.kind == k).count();
    if a.json {
        print_json(&serde_json::to_value(FindJson {
            variables: f.variables(),
            bounds: bx.bounds().iter().map(|&(l, h)| [l, h]).collect(),
            starts: res.stats.starts,
            first_round: a.starts,
            rounds: res.stats.rounds,
            seed: a.seed,
            points: res
                .points
                .iter()
                .map(|p| PointJson::new(f.variables(), p, Method::Dual))
                .collect(),
            counts: KindCounts {
                minimum: count(CriticalKind::Minimum),
                maximum: count(CriticalKind::Maximum),
                saddle: count(CriticalKind::Saddle),
                degenerate: count(CriticalKind::Degenerate),
            },
            on_continuum: &res.on_continuum,
            continuum_points: res.continuum_points,
            runs: &res.stats,
            warnings: &res.warnings,
            evaluations: res.evals,
        })?)?;
    } else {
        outln!("function  {}", f.source())?;
        let b: Vec<String> = bx
            .bounds()
            .iter()
            .map(|(l, h)| format!("[{l}, {h}]"))
            .collect();
        outln!("box       {}", b.join(" x "))?;
        outln!(
            "starts    {} in {} rounds, the first of {} (seed {})",
            res.stats.starts,
            res.stats.rounds,
            a.starts,
            a.seed
        )?;
        outln!()?;
        outln!(
            "  #  {:<28} {:>16}  {:<12} {:>5}  {:>9}  eigenvalues",
            format!("point ({})", f.variables().join(", ")),
            "value",
            "kind",
            "index",
            "|grad|"
        )?;
        for (i, p) in res.points.iter().enumerate() {
            let mark = if res.on_continuum[i] { "*" } else { "" };
            let eig: Vec<String> = p
                .spectrum
                .eigenvalues()
                .iter()
                .map(|&l| fmt_num(l, 4))
                .collect();
            outln!(
                "{:>3}  {:<28} {:>16}  {:<12} {:>5}  {:>9.2e}  [{}]",
                i + 1,
                fmt_vec(&p.point),
                fmt_num(p.value, 8),
                format!("{}{mark}", p.kind),
                p.index,
                p.gradient_norm,
                eig.join(", ")
            )?;
        }
        outln!()?;
        outln!(
            "{} critical points (minimum {}, maximum {}, saddle {}, degenerate {})",
            res.points.len(),
            count(CriticalKind::Minimum),
            count(CriticalKind::Maximum),
            count(CriticalKind::Saddle),
            count(CriticalKind::Degenerate)
        )?;
        if res.continuum_points > 0 {
            outln!(
                "* on a continuum of critical points (a curve or surface), not an isolated point"
            )?;
        }
        let s = &res.stats;
        outln!(
            "runs: {} accepted, {} ended where the gradient is not zero, {} outside the box, {} starts skipped",
            s.accepted, s.not_critical, s.outside_box, s.skipped
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
