//! Arranging figures: [`Panels`] side by side in a row, [`PanelRows`] rows of them stacked.

use super::{begin_figure, draw_err, ensure_font, titled, Fonts, Plot};
use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Several figures side by side in one row (e.g. MSE vs cross-entropy), under a common title.
#[derive(Debug, Clone)]
pub struct Panels<P> {
    /// The figures, left to right.
    pub panels: Vec<P>,
    /// The common title (may be empty).
    pub title: String,
}

impl<P: Plot> Panels<P> {
    /// Panels of `panels`, left to right.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `panels` is empty.
    pub fn new(panels: Vec<P>) -> Result<Self> {
        if panels.is_empty() {
            return Err(Error::invalid("panels", "no figures given"));
        }
        Ok(Panels {
            panels,
            title: String::new(),
        })
    }

    /// Sets the common title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
}

impl<P: Plot> Plot for Panels<P> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        let (inner, _) = begin_figure(area, &self.title)?;
        let parts = inner.split_evenly((1, self.panels.len()));
        for (p, a) in self.panels.iter().zip(parts.iter()) {
            p.draw(a)?;
        }
        Ok(())
    }
}

/// Rows of [`Panels`] stacked top to bottom under a common title (a grid of figures whose rows
/// may hold different numbers of panels).
#[derive(Debug, Clone)]
pub struct PanelRows<P> {
    /// The rows, top to bottom.
    pub rows: Vec<Panels<P>>,
    /// The common title.
    pub title: String,
}

impl<P: Plot> Plot for PanelRows<P> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()> {
        ensure_font();
        area.fill(&WHITE).map_err(draw_err)?;
        let fonts = Fonts::for_area(area);
        // A small top margin: at this size the title's ascent would touch the edge.
        let top = (area.dim_in_pixel().1 / 90) as i32;
        let inner = titled(&area.margin(top, 0, 0, 0), &self.title, fonts.title * 0.8)?;
        for (row, a) in self
            .rows
            .iter()
            .zip(inner.split_evenly((self.rows.len().max(1), 1)).iter())
        {
            row.draw(a)?;
        }
        Ok(())
    }
}
