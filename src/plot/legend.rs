//! Legends: what an entry shows ([`Glyph`]), the width a legend needs, and drawing it.

use super::draw_err;
use super::markers::{draw_end_marker, draw_kind_marker, draw_start_marker};
use crate::critical::CriticalKind;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// What a legend entry shows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Glyph {
    Marker(CriticalKind),
    Line(RGBColor),
    Dashed(RGBColor),
    Arrow(RGBColor),
    Dot(RGBColor),
    Bar(RGBColor),
    Start,
    End,
}

/// The width in pixels a legend of `entries` needs (measured with the font).
pub(crate) fn legend_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Glyph, String)],
    font_size: f64,
) -> u32 {
    let font: TextStyle = ("sans-serif", font_size).into_font().into();
    let text = entries
        .iter()
        .map(|(_, t)| {
            area.estimate_text_size(t, &font)
                .map(|(w, _)| w)
                .unwrap_or((t.chars().count() as f64 * font_size * 0.62) as u32)
        })
        .max()
        .unwrap_or(0);
    // Left pad, glyph, gap, text, right pad (see draw_legend).
    text + (font_size * (0.6 + 2.2 + 0.6 + 1.2)) as u32 + 6
}

/// Draws a legend (glyph + text per entry) into `area` from its top-left corner, one entry per
/// line; returns the height used.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Glyph, String)],
    top: i32,
    font_size: f64,
) -> Result<i32> {
    if entries.is_empty() {
        return Ok(0);
    }
    let (w, _) = area.dim_in_pixel();
    let line_h = (font_size * 1.6) as i32;
    let r = (font_size * 0.4) as i32;
    let x0 = (font_size * 0.6) as i32;
    let gw = (font_size * 2.2) as i32;
    let font = ("sans-serif", font_size).into_font().color(&BLACK);
    let height = line_h * entries.len() as i32 + line_h / 2;
    // A framed white box behind the entries.
    area.draw(&Rectangle::new(
        [(2, top), (w as i32 - 2, top + height)],
        WHITE.filled(),
    ))
    .map_err(draw_err)?;
    area.draw(&Rectangle::new(
        [(2, top), (w as i32 - 2, top + height)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))
    .map_err(draw_err)?;
    for (k, (glyph, text)) in entries.iter().enumerate() {
        let cy = top + line_h / 2 + line_h * k as i32 + line_h / 4;
        let cx = x0 + gw / 2;
        let outline = BLACK.stroke_width(5);
        match *glyph {
            Glyph::Marker(kind) => {
                draw_kind_marker(area, (cx, cy), kind, r)?;
                Ok(())
            }
            Glyph::Line(c) => area
                .draw(&PathElement::new(vec![(x0, cy), (x0 + gw, cy)], outline))
                .and_then(|_| {
                    area.draw(&PathElement::new(
                        vec![(x0, cy), (x0 + gw, cy)],
                        c.stroke_width(3),
                    ))
                }),
            Glyph::Dashed(c) => {
                let seg = gw / 5;
                let mut res = Ok(());
                for s in [0, 2, 4] {
                    let pts = vec![(x0 + s * seg, cy), (x0 + (s + 1) * seg, cy)];
                    res = res
                        .and(area.draw(&PathElement::new(pts.clone(), outline)))
                        .and(area.draw(&PathElement::new(pts, c.stroke_width(3))));
                }
                res
            }
            Glyph::Arrow(c) => {
                let tip = (x0 + gw, cy);
                let head = vec![tip, (tip.0 - r * 2, cy - r), (tip.0 - r * 2, cy + r)];
                area.draw(&PathElement::new(vec![(x0, cy), (tip.0 - r, cy)], outline))
                    .and(area.draw(&PathElement::new(
                        vec![(x0, cy), (tip.0 - r, cy)],
                        c.stroke_width(3),
                    )))
                    .and(area.draw(&Polygon::new(head.clone(), c.filled())))
                    .and(area.draw(&PathElement::new(
                        vec![head[0], head[1], head[2], head[0]],
                        BLACK.stroke_width(1),
                    )))
            }
            Glyph::Dot(c) => area.draw(
                &(EmptyElement::at((cx, cy))
                    + Circle::new((0, 0), r, c.filled())
                    + Circle::new((0, 0), r, BLACK.mix(0.6).stroke_width(1))),
            ),
            Glyph::Bar(c) => area
                .draw(&Rectangle::new(
                    [(x0, cy - r), (x0 + gw, cy + r)],
                    c.filled(),
                ))
                .and(area.draw(&Rectangle::new(
                    [(x0, cy - r), (x0 + gw, cy + r)],
                    BLACK.mix(0.5).stroke_width(1),
                ))),
            Glyph::Start => {
                draw_start_marker(area, (cx, cy), r)?;
                Ok(())
            }
            Glyph::End => {
                draw_end_marker(area, (cx, cy), r, RGBColor(150, 150, 150))?;
                Ok(())
            }
        }
        .map_err(draw_err)?;
        area.draw(&Text::new(
            text.clone(),
            (x0 + gw + x0, cy - (font_size * 0.5) as i32),
            font.clone(),
        ))
        .map_err(draw_err)?;
    }
    Ok(height)
}
