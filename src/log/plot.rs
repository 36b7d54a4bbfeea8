//! `metrics.png` and `metrics.svg`: a [`Figure`] drawn with [`plotters`], text antialiased in
//! the bundled DejaVu Sans (rendered by `ab_glyph`, so no system fonts are needed).
//!
//! The figure title names the run; panels are laid out [`MAX_COLUMNS`] to a row, each
//! [`PANEL_WIDTH`] × [`PANEL_HEIGHT`] pixels under a [`TITLE_HEIGHT`] band ([`figure_size`]).
//! Curves use the Okabe–Ito colour-blind-safe palette, each with its own marker shape when it has
//! at most [`MARKER_MAX_POINTS`] points. `loss/train` is drawn faint with its smoothed line on
//! top; the losses of short last batches are open circles, left out of the axis range (the
//! legend counts those off the axis). A run without scalars gets a figure
//! that says so. Both files are written atomically (temp file, then rename).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, RGBColor};

use super::figure::{Figure, MetricKind, Panel, Series};
use super::raster::TextBitmap;
use crate::atomic_file::write_atomic;
use crate::error::{Error, Result};

/// Width of one panel in pixels.
pub const PANEL_WIDTH: u32 = 720;
/// Height of one panel in pixels.
pub const PANEL_HEIGHT: u32 = 450;
/// Height of the figure-title band in pixels.
pub const TITLE_HEIGHT: u32 = 60;
/// Panels per row.
pub const MAX_COLUMNS: u32 = 2;
/// Series with at most this many points get a marker at each point.
pub const MARKER_MAX_POINTS: usize = 60;
/// Font sizes in pixels (ab_glyph's scale: ascender to descender; DejaVu Sans's em is 0.86 of
/// it, and the SVG's `font-size` is plotters' `size / 1.24`): figure title, panel title, axis
/// labels, tick labels and legend.
pub const FONT_PX: FontSizes = FontSizes {
    title: 30,
    panel: 24,
    axis: 20,
    tick: 17,
    legend: 17,
};

/// Text sizes in pixels (see [`FONT_PX`]).
#[derive(Clone, Copy, Debug)]
pub struct FontSizes {
    /// Figure title.
    pub title: u32,
    /// Panel titles.
    pub panel: u32,
    /// Axis descriptions (`step (batch size 256)`, `score`).
    pub axis: u32,
    /// Tick labels.
    pub tick: u32,
    /// Legend entries.
    pub legend: u32,
}

/// The family name the bundled font is registered under (also what the SVG asks for).
const FONT: &str = "sans-serif";
/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`).
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Okabe & Ito's colour-blind-safe palette, yellow last (faint on white).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xb2), // blue
    RGBColor(0xe6, 0x9f, 0x00), // orange
    RGBColor(0x00, 0x9e, 0x73), // bluish green
    RGBColor(0xd5, 0x5e, 0x00), // vermillion
    RGBColor(0xcc, 0x79, 0xa7), // reddish purple
    RGBColor(0x56, 0xb4, 0xe9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xf0, 0xe4, 0x42), // yellow
];
const GRID: RGBColor = RGBColor(0xe6, 0xe6, 0xe6);
const TEXT: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// Size `(width, height)` in pixels of a figure with `n_panels` panels (one panel's room if none).
pub fn figure_size(n_panels: usize) -> (u32, u32) {
    let n = n_panels.max(1) as u32;
    let cols = n.min(MAX_COLUMNS);
    let rows = n.div_ceil(cols);
    (cols * PANEL_WIDTH, TITLE_HEIGHT + rows * PANEL_HEIGHT)
}

/// Writes `fig` as `<stem>.png` and `<stem>.svg` for `png` = `<dir>/<stem>.png`; returns the SVG
/// path. Errors name the file at fault.
pub fn write_figure(png: &Path, fig: &Figure) -> Result<PathBuf> {
    let svg = png.with_extension("svg");
    write_atomic(png, &render_png(fig, png)?)?;
    write_atomic(&svg, render_svg(fig, &svg)?.as_bytes())?;
    Ok(svg)
}

/// `fig` as PNG bytes (8-bit RGB); `path` names the file in errors.
pub fn render_png(fig: &Figure, path: &Path) -> Result<Vec<u8>> {
    register_bundled_font(path)?;
    let (w, h) = figure_size(fig.panels.len());
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    let font = ab_glyph::FontRef::try_from_slice(FONT_BYTES)
        .map_err(|e| drawing_error(path, format!("the bundled font DejaVuSans.ttf: {e}")))?;
    {
        let root = TextBitmap::new(&mut rgb, (w, h), font).into_drawing_area();
        draw(&root, fig).map_err(|e| drawing_error(path, e))?;
        root.present().map_err(|e| drawing_error(path, e))?;
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| drawing_error(path, e))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| drawing_error(path, e))?;
    writer.finish().map_err(|e| drawing_error(path, e))?;
    Ok(out)
}

/// `fig` as an SVG document; `path` names the file in errors.
pub fn render_svg(fig: &Figure, path: &Path) -> Result<String> {
    register_bundled_font(path)?;
    let mut out = String::new();
    {
        let root =
            SVGBackend::with_string(&mut out, figure_size(fig.panels.len())).into_drawing_area();
        draw(&root, fig).map_err(|e| drawing_error(path, e))?;
        root.present().map_err(|e| drawing_error(path, e))?;
    }
    Ok(out)
}

/// An error drawing or encoding the figure for `path`.
fn drawing_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!("drawing the figure: {e}")),
    )
}

/// Registers the bundled font with plotters once per process.
fn register_bundled_font(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(drawing_error(
            path,
            "the bundled font DejaVuSans.ttf does not parse",
        ))
    }
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws the whole figure: title band, then the panels (or the empty-state text).
fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let (title_band, body) = root.split_vertically(TITLE_HEIGHT);
    let title_style = (FONT, FONT_PX.title)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let (w, _) = title_band.dim_in_pixel();
    title_band.draw_text(
        &fig.title,
        &title_style,
        (w as i32 / 2, TITLE_HEIGHT as i32 / 2),
    )?;
    if fig.panels.is_empty() {
        let (w, h) = body.dim_in_pixel();
        let style = (FONT, FONT_PX.panel)
            .into_font()
            .color(&TEXT)
            .pos(Pos::new(HPos::Center, VPos::Center));
        body.draw_text(
            "no scalars were logged in this run",
            &style,
            (w as i32 / 2, h as i32 / 2),
        )?;
        return Ok(());
    }
    let n = fig.panels.len() as u32;
    let cols = n.min(MAX_COLUMNS);
    let areas = body.split_evenly((n.div_ceil(cols) as usize, cols as usize));
    for (area, panel) in areas.iter().zip(&fig.panels) {
        draw_panel(area, panel, &fig.x_label)?;
    }
    Ok(())
}

/// The smallest span of a score axis, so differences in the fourth decimal do not fill a panel.
pub const MIN_SCORE_SPAN: f64 = 0.02;

/// `(lo, hi)` of the y axis of a `kind` panel whose finite values span `[min, max]`, padded by
/// 5 % of the span each side: scores fitted to the data (at least [`MIN_SCORE_SPAN`] wide,
/// the window kept at or below 1 when the data are), errors from 0, the rest fitted.
pub fn y_range(kind: MetricKind, min: f64, max: f64) -> (f64, f64) {
    let (lo, hi) = match kind {
        MetricKind::Score => {
            let span = (max - min).max(MIN_SCORE_SPAN);
            let (lo, hi) = ((min + max - span) / 2.0, (min + max + span) / 2.0);
            if hi > 1.0 && max <= 1.0 {
                (lo - (hi - 1.0), 1.0)
            } else {
                (lo, hi)
            }
        }
        MetricKind::Error if min >= 0.0 => (0.0, max),
        _ => (min, max),
    };
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    let pad = 0.05 * span;
    match kind {
        MetricKind::Error if min >= 0.0 => (0.0, hi + pad),
        _ => (lo - pad, hi + pad),
    }
}

/// The corner of the plot area whose legend box (about 40 % of the width, 7 % of the height per
/// entry) covers the fewest of the `points`: upper right, upper left, lower right, lower left,
/// middle right, middle left, in that order of preference on ties.
fn legend_corner(
    points: &[(f64, f64)],
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    entries: usize,
) -> SeriesLabelPosition {
    let h = (0.07 * entries as f64 + 0.04).min(0.9);
    let w = 0.4;
    let unit = |&(x, y): &(f64, f64)| ((x - x_lo) / (x_hi - x_lo), (y - y_lo) / (y_hi - y_lo));
    // Rows: upper, middle, lower (`v` is 0 at the bottom); columns: right, left.
    let covered = |right: bool, row: u8| {
        let (v_lo, v_hi) = match row {
            0 => (1.0 - h, 1.0),
            1 => (0.5 - h / 2.0, 0.5 + h / 2.0),
            _ => (0.0, h),
        };
        points
            .iter()
            .map(unit)
            .filter(|&(u, v)| (if right { u >= 1.0 - w } else { u <= w }) && v >= v_lo && v <= v_hi)
            .count()
    };
    [
        (SeriesLabelPosition::UpperRight, covered(true, 0)),
        (SeriesLabelPosition::UpperLeft, covered(false, 0)),
        (SeriesLabelPosition::LowerRight, covered(true, 2)),
        (SeriesLabelPosition::LowerLeft, covered(false, 2)),
        (SeriesLabelPosition::MiddleRight, covered(true, 1)),
        (SeriesLabelPosition::MiddleLeft, covered(false, 1)),
    ]
    .into_iter()
    .min_by_key(|(_, n)| *n)
    .map_or(SeriesLabelPosition::UpperRight, |(p, _)| p)
}

/// Decimals that tell the y ticks of a `[lo, hi]` axis apart (about 6 ticks): none for a tick
/// step of 1 or more, one for 0.1 to 1, and so on.
pub fn tick_decimals(lo: f64, hi: f64) -> usize {
    let step = (hi - lo) / 6.0;
    if step.is_finite() && step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 12.0) as usize
    } else {
        1
    }
}

/// How many x ticks to ask for on a `[lo, hi]` step axis: at most 7, and no more than the
/// whole steps in it, so a short run's ticks are not repeated after rounding (`2 2 3 4 4`).
pub fn x_tick_count(lo: f64, hi: f64) -> usize {
    let whole = (hi.floor() - lo.ceil() + 1.0).max(2.0);
    if whole.is_finite() {
        (whole as usize).min(7)
    } else {
        7
    }
}

/// Every finite point of `s` the axes are fitted to: raw and smoothed, and the short-batch
/// losses only when `with_short` (they would otherwise stretch the loss axis as spikes did).
fn finite_points(s: &Series, with_short: bool) -> impl Iterator<Item = (f64, f64)> + '_ {
    let short: &[(u64, f64)] = if with_short { &s.short } else { &[] };
    s.points
        .iter()
        .chain(s.smoothed.iter().flatten())
        .chain(short)
        .filter(|p| p.1.is_finite())
        .map(|&(x, y)| (x as f64, y))
}

/// Draws one panel: frame, grid, ticks, axis labels, curves and legend.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    x_label: &str,
) -> DrawResult<DB> {
    let fitted = |with_short| -> Vec<(f64, f64)> {
        panel
            .series
            .iter()
            .flat_map(|s| finite_points(s, with_short))
            .collect()
    };
    let all = match fitted(false) {
        p if p.is_empty() => fitted(true),
        p => p,
    };
    let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
        all.iter().map(pick).fold(init, f)
    };
    let (x_min, x_max) = if all.is_empty() {
        (0.0, 1.0)
    } else {
        (
            fold(f64::min, f64::INFINITY, |p| p.0),
            fold(f64::max, f64::NEG_INFINITY, |p| p.0),
        )
    };
    let (x_min, x_max) = if x_max > x_min {
        (x_min, x_max)
    } else {
        (x_min - 1.0, x_max + 1.0)
    };
    let (y_min, y_max) = if all.is_empty() {
        (0.0, 1.0)
    } else {
        (
            fold(f64::min, f64::INFINITY, |p| p.1),
            fold(f64::max, f64::NEG_INFINITY, |p| p.1),
        )
    };
    let (y_lo, y_hi) = y_range(panel.kind, y_min, y_max);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, FONT_PX.panel).into_font().color(&TEXT))
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(78)
        .build_cartesian_2d(x_min..x_max, y_lo..y_hi)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .x_desc(x_label)
        .y_desc(panel.kind.axis_label())
        .axis_desc_style((FONT, FONT_PX.axis).into_font().color(&TEXT))
        .label_style((FONT, FONT_PX.tick).into_font().color(&TEXT))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{:.*}", tick_decimals(y_lo, y_hi), y))
        .x_labels(x_tick_count(x_min, x_max))
        .y_labels(6)
        .draw()?;
    for (i, s) in panel.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let marker = i % MARKERS;
        let finite = |pts: &[(u64, f64)]| -> Vec<(f64, f64)> {
            pts.iter()
                .filter(|p| p.1.is_finite())
                .map(|&(x, y)| (x as f64, y))
                .collect()
        };
        let raw = finite(&s.points);
        let with_markers = raw.len() <= MARKER_MAX_POINTS;
        let line = match &s.smoothed {
            Some(smooth) => {
                chart.draw_series(LineSeries::new(
                    raw.clone(),
                    color.mix(0.35).stroke_width(1),
                ))?;
                finite(smooth)
            }
            None => raw.clone(),
        };
        let drawn = chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
        let label = match s.smoothed {
            Some(_) => format!("{} (smoothed; raw faint)", s.label),
            None => s.label.clone(),
        };
        let marker = (with_markers && s.smoothed.is_none()).then_some(marker);
        drawn
            .label(label)
            .legend(move |(x, y)| marker_at((x + 12, y), marker, color, true));
        if marker.is_some() {
            chart.draw_series(raw.iter().map(|&p| marker_at(p, marker, color, false)))?;
        }
        let short = finite(&s.short);
        if !short.is_empty() {
            let (inside, beyond): (Vec<_>, Vec<_>) =
                short.iter().partition(|p| p.1 >= y_lo && p.1 <= y_hi);
            let label = match beyond.len() {
                0 => format!("{}: short last batch", s.label),
                k => format!(
                    "{}: short last batch ({k} of {} off the axis)",
                    s.label,
                    short.len()
                ),
            };
            chart
                .draw_series(
                    inside
                        .iter()
                        .map(|&&p| Circle::new(p, 5, color.stroke_width(2))),
                )?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 12, y), 5, color.stroke_width(2)));
        }
    }
    let entries = panel.series.len() + panel.series.iter().filter(|s| !s.short.is_empty()).count();
    let position = legend_corner(&all, (x_min, x_max), (y_lo, y_hi), entries);
    chart
        .configure_series_labels()
        .position(position)
        .margin(8)
        .legend_area_size(30)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID.stroke_width(1))
        .label_font((FONT, FONT_PX.legend).into_font().color(&TEXT))
        .draw()?;
    Ok(())
}

/// Number of distinct marker shapes ([`marker_outline`]).
const MARKERS: usize = 6;

/// Vertices (pixels, around the point) of marker shape `k` and whether it is filled: filled
/// circle, filled square, filled triangle, cross, open circle, open square.
fn marker_outline(k: usize) -> (Vec<(i32, i32)>, bool) {
    let circle = || {
        (0..=16)
            .map(|i| {
                let a = i as f64 * std::f64::consts::TAU / 16.0;
                (
                    (4.5 * a.cos()).round() as i32,
                    (4.5 * a.sin()).round() as i32,
                )
            })
            .collect::<Vec<_>>()
    };
    let square = vec![(-4, -4), (4, -4), (4, 4), (-4, 4), (-4, -4)];
    match k % MARKERS {
        0 => (circle(), true),
        1 => (square, true),
        2 => (vec![(0, -5), (5, 4), (-5, 4), (0, -5)], true),
        3 => (vec![(-4, -4), (4, 4), (0, 0), (-4, 4), (4, -4)], false),
        4 => (circle(), false),
        _ => (square, false),
    }
}

/// A marker: an optional legend line sample, then the filled or the outlined shape.
type Marker<C, DB> = ComposedElement<
    C,
    DB,
    PathElement<(i32, i32)>,
    ComposedElement<(i32, i32), DB, Polygon<(i32, i32)>, PathElement<(i32, i32)>>,
>;

/// Marker shape `k` ([`marker_outline`]; none for `None`) in `color` at `at`, on a 24-pixel
/// legend line sample when `line`.
fn marker_at<C, DB: DrawingBackend>(
    at: C,
    k: Option<usize>,
    color: RGBColor,
    line: bool,
) -> Marker<C, DB> {
    let (outline, filled) = k.map_or((Vec::new(), false), marker_outline);
    let sample = if line {
        vec![(-12, 0), (12, 0)]
    } else {
        Vec::new()
    };
    let (fill, stroke) = if filled {
        (outline, Vec::new())
    } else {
        (Vec::new(), outline)
    };
    EmptyElement::at(at)
        + PathElement::new(sample, color.stroke_width(2))
        + Polygon::new(fill, color.filled())
        + PathElement::new(stroke, color.stroke_width(2))
}
