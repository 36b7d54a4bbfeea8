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
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, RGBColor};

use super::figure::{Figure, Panel, Series};
use super::metric_kind::MetricKind;
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

/// The family name the bundled font is registered under, which is also the SVG's
/// `font-family`: DejaVu Sans first (the font the PNG uses; the SVG does not embed it), then
/// look-alikes a viewer is likely to have.
const FONT: &str = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif";
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

/// Size `(width, height)` in pixels of `fig`: [`MAX_COLUMNS`] panels to a row (one panel's
/// room if none), each [`PANEL_WIDTH`] wide and [`PANEL_HEIGHT`] tall plus the legend band
/// under it ([`LEGEND_ROW`] per row of entries, the same for all panels), under the title band.
pub fn figure_size(fig: &Figure) -> (u32, u32) {
    let n = fig.panels.len().max(1) as u32;
    let cols = n.min(MAX_COLUMNS);
    let rows = n.div_ceil(cols);
    (
        cols * PANEL_WIDTH,
        TITLE_HEIGHT + rows * (PANEL_HEIGHT + legend_height(fig)),
    )
}

/// Writes `fig` as `<stem>.png` and `<stem>.svg` for `png` = `<dir>/<stem>.png`; returns the SVG
/// path. Errors name the file at fault.
pub fn write_figure(png: &Path, fig: &Figure) -> Result<PathBuf> {
    let svg = png.with_extension("svg");
    // Both drawn before either is written, so a failed drawing leaves neither file changed.
    let png_bytes = render_png(fig, png)?;
    let svg_text = render_svg(fig, &svg)?;
    write_atomic(png, &png_bytes)?;
    write_atomic(&svg, svg_text.as_bytes())?;
    Ok(svg)
}

/// The largest PNG drawn, in bytes of 8-bit RGB (1 GiB: about 250 panels of 720 × 450 px and
/// more than any screen or slide shows).
const MAX_PNG_BYTES: usize = 1 << 30;

/// `fig` as PNG bytes (8-bit RGB); `path` names the file in errors.
pub fn render_png(fig: &Figure, path: &Path) -> Result<Vec<u8>> {
    register_bundled_font(path)?;
    let (w, h) = figure_size(fig);
    let bytes = (w as usize)
        .checked_mul(h as usize)
        .and_then(|n| n.checked_mul(3))
        .filter(|&n| n <= MAX_PNG_BYTES)
        .ok_or_else(|| {
            drawing_error(
                path,
                format!(
                    "a {w} × {h} px figure ({} panels) is too large; choose fewer tags",
                    fig.panels.len()
                ),
            )
        })?;
    let mut rgb = vec![0u8; bytes];
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
        let root = SVGBackend::with_string(&mut out, figure_size(fig)).into_drawing_area();
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
    let rows = n.div_ceil(cols) as usize;
    let areas = body.split_evenly((rows, cols as usize));
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
    if !(max - min).is_finite() {
        // Values near ±f64::MAX: the data's own range (padding would overflow).
        return (min, max);
    }
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

/// The finite points of `pts` as plot coordinates.
fn finite(pts: &[(u64, f64)]) -> Vec<(f64, f64)> {
    pts.iter()
        .filter(|p| p.1.is_finite())
        .map(|&(x, y)| (x as f64, y))
        .collect()
}

/// `((x_lo, x_hi), (y_lo, y_hi))` of a panel's axes: x over the steps drawn, y by
/// [`y_range`] over the values (short-batch losses left out unless there is nothing else).
fn axis_ranges(panel: &Panel) -> ((f64, f64), (f64, f64)) {
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
    let span = |pick: fn(&(f64, f64)) -> f64, fallback: (f64, f64)| {
        let lo = all.iter().map(pick).fold(f64::INFINITY, f64::min);
        let hi = all.iter().map(pick).fold(f64::NEG_INFINITY, f64::max);
        if all.is_empty() {
            fallback
        } else {
            (lo, hi)
        }
    };
    let (x_min, x_max) = span(|p| p.0, (0.0, 1.0));
    let x = if x_max > x_min {
        (x_min, x_max)
    } else {
        (x_min - 1.0, x_max + 1.0)
    };
    let (y_min, y_max) = span(|p| p.1, (0.0, 1.0));
    (x, y_range(panel.kind, y_min, y_max))
}

/// Whether two curves have the same points (same steps, values equal to 1e-9 relative), as
/// `balanced_accuracy` and `recall_macro` always do.
fn same_curve(a: &[(u64, f64)], b: &[(u64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| p.0 == q.0 && (p.1 - q.1).abs() <= 1e-9 * p.1.abs().max(1.0))
}

/// A point marker: one of [`MARKERS`] shapes, open or filled, scaled.
#[derive(Clone, Copy, Debug)]
struct Mark {
    shape: usize,
    open: bool,
    scale: f64,
}

/// How a curve is drawn: its colour, marker and line.
#[derive(Clone, Copy, Debug)]
struct Look {
    color: RGBColor,
    /// Marker at each point (`None`: more than [`MARKER_MAX_POINTS`] points, or smoothed).
    mark: Option<Mark>,
    /// Dashed (a curve on top of an identical one, so both show).
    dashed: bool,
}

/// One legend entry: its sample (a curve's line and marker, or the short-batch circle) and text.
#[derive(Clone, Debug)]
struct Entry {
    look: Look,
    short_batch: bool,
    label: String,
}

/// The look of series `i` of `panel` and its legend label. A series identical to an earlier
/// one ([`same_curve`]) is dashed with a larger open marker and says which it equals
/// (`recall_macro (= balanced_accuracy)`), so both curves stay visible.
fn looks(panel: &Panel) -> Vec<(Look, String)> {
    panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let twin = panel.series[..i]
                .iter()
                .find(|t| t.smoothed.is_none() && same_curve(&t.points, &s.points));
            let with_marks = s.smoothed.is_none() && finite(&s.points).len() <= MARKER_MAX_POINTS;
            let look = Look {
                color: PALETTE[i % PALETTE.len()],
                mark: with_marks.then_some(Mark {
                    shape: i % MARKERS,
                    open: twin.is_some(),
                    scale: if twin.is_some() { 1.8 } else { 1.0 },
                }),
                dashed: twin.is_some(),
            };
            let label = match (twin, &s.smoothed) {
                (Some(t), _) => format!("{} (= {})", s.label, t.label),
                (None, Some(_)) => format!("{} (smoothed; raw faint)", s.label),
                (None, None) => s.label.clone(),
            };
            (look, label)
        })
        .collect()
}

/// The legend of `panel`: each curve, then each curve's short-batch marks (with how many
/// fall outside the y range `y`).
fn legend_entries(panel: &Panel, (y_lo, y_hi): (f64, f64)) -> Vec<Entry> {
    let mut entries = Vec::new();
    let looks = looks(panel);
    for (look, label) in &looks {
        entries.push(Entry {
            look: *look,
            short_batch: false,
            label: label.clone(),
        });
    }
    for (s, (look, _)) in panel.series.iter().zip(&looks) {
        let short = finite(&s.short);
        if short.is_empty() {
            continue;
        }
        let beyond = short.iter().filter(|p| p.1 < y_lo || p.1 > y_hi).count();
        let label = match beyond {
            0 => format!("{}: short last batch", s.label),
            k => format!(
                "{}: short last batch ({k} of {} off the axis)",
                s.label,
                short.len()
            ),
        };
        entries.push(Entry {
            look: *look,
            short_batch: true,
            label,
        });
    }
    let room = (PANEL_WIDTH - CHART_MARGIN - PLOT_LEFT) as f64 - SAMPLE_WIDTH;
    for e in &mut entries {
        e.label = fit_text(&e.label, FONT_PX.legend, room);
    }
    entries
}

/// `text`, or as much of its start as fits in `room` pixels at `px` followed by `…`.
pub fn fit_text(text: &str, px: u32, room: f64) -> String {
    if text_width(text, px) <= room {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    loop {
        let cut: String = chars[..n].iter().chain(['…'].iter()).collect();
        if n == 0 || text_width(&cut, px) <= room {
            return cut;
        }
        n -= 1;
    }
}

/// Height of one legend row, below a panel's x axis.
pub const LEGEND_ROW: u32 = 26;
/// Left of the plot area inside a panel: the chart margin plus the y-label area.
const PLOT_LEFT: u32 = CHART_MARGIN + Y_LABEL_AREA;
/// Margin around each panel's chart.
const CHART_MARGIN: u32 = 12;
/// Width of the y tick labels and axis description.
const Y_LABEL_AREA: u32 = 78;
/// Width of a legend entry's sample (line and marker) and the gap to its text.
const SAMPLE_WIDTH: f64 = 36.0;
/// Gap between legend entries on a row.
const ENTRY_GAP: f64 = 22.0;

/// Width in pixels of `text` at `px` in the bundled font (pen advances and kerning).
fn text_width(text: &str, px: u32) -> f64 {
    use ab_glyph::{Font, ScaleFont};
    match ab_glyph::FontRef::try_from_slice(FONT_BYTES) {
        Ok(font) => {
            let font = font.as_scaled(ab_glyph::PxScale::from(px as f32));
            let mut prev = None;
            let mut w = 0.0f32;
            for c in text.chars() {
                let id = font.glyph_id(c);
                if let Some(p) = prev {
                    w += font.kern(p, id);
                }
                w += font.h_advance(id);
                prev = Some(id);
            }
            w as f64
        }
        Err(_) => 0.6 * px as f64 * text.chars().count() as f64,
    }
}

/// The `(x, row)` of each entry when laid out left to right from the plot area's left edge,
/// a new row when the next would pass the panel's right edge.
fn legend_layout(entries: &[Entry]) -> Vec<(f64, u32)> {
    let right = (PANEL_WIDTH - CHART_MARGIN) as f64;
    let (mut x, mut row) = (PLOT_LEFT as f64, 0);
    entries
        .iter()
        .map(|e| {
            let w = SAMPLE_WIDTH + text_width(&e.label, FONT_PX.legend);
            if x > PLOT_LEFT as f64 && x + w > right {
                (x, row) = (PLOT_LEFT as f64, row + 1);
            }
            let at = (x, row);
            x += w + ENTRY_GAP;
            at
        })
        .collect()
}

/// Height of the legend band under each panel: the most rows any panel's legend needs.
fn legend_height(fig: &Figure) -> u32 {
    let rows = fig
        .panels
        .iter()
        .map(|p| {
            let entries = legend_entries(p, axis_ranges(p).1);
            legend_layout(&entries).last().map_or(0, |&(_, r)| r + 1)
        })
        .max()
        .unwrap_or(0);
    if rows == 0 {
        0
    } else {
        rows * LEGEND_ROW + 10
    }
}

/// Draws one panel: frame, grid, ticks, axis labels and curves in the `PANEL_HEIGHT` top of
/// `area`, the legend in the band below.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    x_label: &str,
) -> DrawResult<DB> {
    let (chart_area, legend_area) = area.split_vertically(PANEL_HEIGHT);
    let ((x_min, x_max), (y_lo, y_hi)) = axis_ranges(panel);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(&panel.title, (FONT, FONT_PX.panel).into_font().color(&TEXT))
        .margin(CHART_MARGIN)
        .x_label_area_size(56)
        .y_label_area_size(Y_LABEL_AREA)
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
    for (s, (look, _)) in panel.series.iter().zip(looks(panel)) {
        let color = look.color;
        let raw = finite(&s.points);
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
        if look.dashed {
            chart.draw_series(DashedLineSeries::new(line, 9, 6, color.stroke_width(2)))?;
        } else {
            chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
        }
        if let Some(mark) = look.mark {
            let base = area.get_base_pixel();
            for p in &raw {
                let (x, y) = chart.backend_coord(p);
                draw_mark(area, (x - base.0, y - base.1), mark, color)?;
            }
        }
        let inside = finite(&s.short)
            .into_iter()
            .filter(|p| p.1 >= y_lo && p.1 <= y_hi);
        chart.draw_series(inside.map(|p| Circle::new(p, 5, color.stroke_width(2))))?;
    }
    let entries = legend_entries(panel, (y_lo, y_hi));
    let text = (FONT, FONT_PX.legend)
        .into_font()
        .color(&TEXT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (e, (x, row)) in entries.iter().zip(legend_layout(&entries)) {
        let y = (row * LEGEND_ROW + LEGEND_ROW / 2 + 4) as i32;
        let mid = (x as i32 + 12, y);
        let color = e.look.color;
        if e.short_batch {
            legend_area.draw(&Circle::new(mid, 5, color.stroke_width(2)))?;
        } else {
            let line = vec![(mid.0 - 12, y), (mid.0 + 12, y)];
            if e.look.dashed {
                legend_area.draw(&DashedPathElement::new(line, 6, 4, color.stroke_width(2)))?;
            } else {
                legend_area.draw(&PathElement::new(line, color.stroke_width(2)))?;
            }
            if let Some(mark) = e.look.mark {
                draw_mark(&legend_area, mid, mark, color)?;
            }
        }
        legend_area.draw_text(&e.label, &text, (x as i32 + SAMPLE_WIDTH as i32, y))?;
    }
    Ok(())
}

/// Number of distinct marker shapes ([`marker_outline`]).
const MARKERS: usize = 6;

/// Vertices (pixels, around the point, `scale` times the normal size) of marker shape `k` and
/// whether it is filled: filled circle, filled square, filled triangle, cross, open circle,
/// open square.
fn marker_outline(k: usize, scale: f64) -> (Vec<(i32, i32)>, bool) {
    let circle = (0..=16)
        .map(|i| {
            let a = i as f64 * std::f64::consts::TAU / 16.0;
            (4.5 * a.cos(), 4.5 * a.sin())
        })
        .collect::<Vec<_>>();
    let square = vec![
        (-4.0, -4.0),
        (4.0, -4.0),
        (4.0, 4.0),
        (-4.0, 4.0),
        (-4.0, -4.0),
    ];
    let (points, filled) = match k % MARKERS {
        0 => (circle, true),
        1 => (square, true),
        2 => (
            vec![(0.0, -5.0), (5.0, 4.0), (-5.0, 4.0), (0.0, -5.0)],
            true,
        ),
        3 => (
            vec![
                (-4.0, -4.0),
                (4.0, 4.0),
                (0.0, 0.0),
                (-4.0, 4.0),
                (4.0, -4.0),
            ],
            false,
        ),
        4 => (circle, false),
        _ => (square, false),
    };
    let points = points
        .into_iter()
        .map(|(x, y): (f64, f64)| ((x * scale).round() as i32, (y * scale).round() as i32))
        .collect();
    (points, filled)
}

/// Draws `mark` in `color` at pixel `at` of `area`: a filled polygon or a 2-pixel outline,
/// nothing else (no empty SVG elements).
fn draw_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    mark: Mark,
    color: RGBColor,
) -> DrawResult<DB> {
    let (outline, filled) = marker_outline(mark.shape, mark.scale);
    let outline: Vec<(i32, i32)> = outline
        .into_iter()
        .map(|(x, y)| (at.0 + x, at.1 + y))
        .collect();
    if filled && !mark.open {
        area.draw(&Polygon::new(outline, color.filled()))
    } else {
        area.draw(&PathElement::new(outline, color.stroke_width(2)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_legend_label_is_cut_to_the_room_with_an_ellipsis() {
        let room = (PANEL_WIDTH - CHART_MARGIN - PLOT_LEFT) as f64 - SAMPLE_WIDTH;
        let long = "version_12 (learning_rate=0.0003, temperature=0.07, random_state=3) \
                    (smoothed; raw faint)";
        assert!(text_width(long, FONT_PX.legend) > room);
        let cut = fit_text(long, FONT_PX.legend, room);
        assert!(
            cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')),
            "{cut}"
        );
        assert!(text_width(&cut, FONT_PX.legend) <= room, "{cut}");
        let one_more: String = long
            .chars()
            .take(cut.chars().count())
            .chain(['…'])
            .collect();
        assert!(
            text_width(&one_more, FONT_PX.legend) > room,
            "cut as late as it fits"
        );
        assert_eq!(fit_text("R2", FONT_PX.legend, room), "R2");
    }
}
