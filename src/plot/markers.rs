//! Point markers: one glyph per critical-point kind, and the start and end of a trajectory.

use super::draw_err;
use crate::critical::CriticalKind;
use crate::error::Result;
use plotters::coord::CoordTranslate;
use plotters::prelude::*;

/// Draws the marker of a critical-point kind at `at` on `area`, radius `r` pixels:
/// minimum = white circle, maximum = red triangle, saddle = orange diamond with a cross,
/// degenerate = cyan square, not critical = small grey circle; all outlined in black.
pub(crate) fn draw_kind_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    kind: CriticalKind,
    r: i32,
) -> Result<()>
where
    CT::From: Clone,
{
    let outline = BLACK.stroke_width(2.max(r / 5) as u32);
    let poly = |pts: Vec<(i32, i32)>, fill: RGBColor| {
        let mut closed = pts.clone();
        closed.push(pts[0]);
        area.draw(
            &(EmptyElement::at(at.clone())
                + Polygon::new(pts, fill.filled())
                + PathElement::new(closed, outline)),
        )
    };
    let circle = |radius: i32, fill: RGBColor| {
        area.draw(
            &(EmptyElement::at(at.clone())
                + Circle::new((0, 0), radius, fill.filled())
                + Circle::new((0, 0), radius, outline)),
        )
    };
    match kind {
        CriticalKind::Minimum => circle(r, WHITE),
        CriticalKind::Maximum => {
            let h = (r as f64 * 1.25) as i32;
            poly(
                vec![(0, -h), (h, h * 3 / 4), (-h, h * 3 / 4)],
                RGBColor(235, 40, 40),
            )
        }
        CriticalKind::Saddle => {
            let h = (r as f64 * 1.35) as i32;
            poly(
                vec![(0, -h), (h, 0), (0, h), (-h, 0)],
                RGBColor(255, 150, 0),
            )
            .and_then(|_| {
                area.draw(
                    &(EmptyElement::at(at.clone())
                        + PathElement::new(vec![(-h / 2, 0), (h / 2, 0)], outline)
                        + PathElement::new(vec![(0, -h / 2), (0, h / 2)], outline)),
                )
            })
        }
        CriticalKind::Degenerate => poly(
            vec![(-r, -r), (r, -r), (r, r), (-r, r)],
            RGBColor(0, 220, 255),
        ),
        CriticalKind::NotCritical => circle((r * 2 / 3).max(2), RGBColor(170, 170, 170)),
    }
    .map_err(draw_err)
}

/// Draws the start of a trajectory: a white circle outlined in black.
pub(crate) fn draw_start_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    r: i32,
) -> Result<()> {
    area.draw(
        &(EmptyElement::at(at)
            + Circle::new((0, 0), r, WHITE.filled())
            + Circle::new((0, 0), r, BLACK.stroke_width(2))),
    )
    .map_err(draw_err)
}

/// Draws the end of a trajectory: a square of `color` outlined in black.
pub(crate) fn draw_end_marker<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    at: CT::From,
    r: i32,
    color: RGBColor,
) -> Result<()> {
    let pts = vec![(-r, -r), (r, -r), (r, r), (-r, r), (-r, -r)];
    area.draw(
        &(EmptyElement::at(at)
            + Rectangle::new([(-r, -r), (r, r)], color.filled())
            + PathElement::new(pts, BLACK.stroke_width(2))),
    )
    .map_err(draw_err)
}
