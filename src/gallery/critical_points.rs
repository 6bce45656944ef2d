//! Figure 1: Himmelblau's function with every critical point the search finds, labelled by kind.

use super::{num, write, FigureOutput, SIZE};
use crate::critical::{
    find_critical_points, CriticalKind, CriticalPoint, SearchBox, SearchOptions,
};
use crate::error::Result;
use crate::plot::{Levels, PlotBox, PointMarker, SurfacePlot, ValueScale};
use std::path::Path;

/// The search's starts (the default 256 finds all 9).
pub const STARTS: usize = 256;
/// The search seed.
pub const SEED: u64 = 0;

/// The figure's data.
#[derive(Debug, Clone)]
pub struct Data {
    /// The critical points found in `[−5, 5]²`, classified.
    pub points: Vec<CriticalPoint>,
}

/// Searches `[−5, 5]²` for Himmelblau's critical points.
///
/// # Errors
/// Errors of the search.
pub fn compute() -> Result<Data> {
    let f = crate::surfaces::by_name("himmelblau")?.formula();
    let bx = SearchBox::try_new(&[(-5.0, 5.0), (-5.0, 5.0)])?;
    let opts = SearchOptions::default()
        .with_starts(STARTS)?
        .with_seed(SEED)
        .with_record_paths(false);
    let res = find_critical_points(&f, &bx, &opts)?;
    Ok(Data { points: res.points })
}

/// The number of points of `kind`.
pub fn count(data: &Data, kind: CriticalKind) -> usize {
    data.points.iter().filter(|p| p.kind == kind).count()
}

/// The surface with the points marked.
///
/// # Errors
/// Plotting errors.
pub fn plot(data: &Data) -> Result<SurfacePlot> {
    let f = crate::surfaces::by_name("himmelblau")?.formula();
    let markers: Vec<PointMarker> = data
        .points
        .iter()
        .map(|p| PointMarker {
            point: [p.point[0], p.point[1]],
            kind: p.kind,
        })
        .collect();
    Ok(
        SurfacePlot::from_loss(&f, PlotBox::new(-5.0, 5.0, -5.0, 5.0)?, 200)?
            .with_title(format!(
                "Himmelblau: {} critical points found by the search",
                data.points.len()
            ))
            .with_scale(ValueScale::Log)
            .with_levels(Levels::Log(14))
            .with_value_label("f(x, y)")
            .with_critical_points(markers),
    )
}

/// Computes, draws and writes the figure.
///
/// # Errors
/// Search, plotting or I/O errors.
pub fn render(path: &Path) -> Result<FigureOutput> {
    let data = compute()?;
    write(&plot(&data)?, path, SIZE)?;
    let (mi, ma, sa) = (
        count(&data, CriticalKind::Minimum),
        count(&data, CriticalKind::Maximum),
        count(&data, CriticalKind::Saddle),
    );
    Ok(FigureOutput {
        caption: format!(
            "Himmelblau's function on [-5, 5]^2: the multi-start search ({STARTS} starts) finds {} \
             critical points, {mi} minima, {sa} saddles and {ma} maximum, each classified by its \
             Hessian's eigenvalues",
            data.points.len()
        ),
        numbers: vec![
            num("points", data.points.len() as f64),
            num("minima", mi as f64),
            num("saddles", sa as f64),
            num("maxima", ma as f64),
        ],
    })
}
