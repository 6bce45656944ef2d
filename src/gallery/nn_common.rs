//! Helpers shared by the network figures (3, 11–14): a plot enum that mixes chart kinds in one
//! row of panels, and the standardized digits set.

use crate::error::Result;
use crate::nn::Dataset;
use crate::plot::{LinePlot, Plot, ScatterPlot, SpectrumPlot, SurfacePlot};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Any chart a network figure's panel can be.
#[derive(Debug, Clone)]
pub enum NnPlot {
    /// A line chart.
    Line(LinePlot),
    /// A scatter chart.
    Scatter(ScatterPlot),
    /// A spectrum histogram.
    Spectrum(SpectrumPlot),
    /// A contour surface.
    Surface(SurfacePlot),
}

impl Plot for NnPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        match self {
            NnPlot::Line(p) => p.draw(area),
            NnPlot::Scatter(p) => p.draw(area),
            NnPlot::Spectrum(p) => p.draw(area),
            NnPlot::Surface(p) => p.draw(area),
        }
    }
}

/// `data/digits.csv` (1797 8×8 images, 10 classes; embedded), features standardized.
///
/// # Errors
/// The file is missing or malformed.
pub fn digits() -> Result<Dataset> {
    let mut d = super::digits_dataset()?;
    d.standardize();
    Ok(d)
}
