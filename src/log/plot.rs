//! `metrics.png`: every logged metric against step, drawn by hand and encoded as PNG by hand.
//!
//! Tags are grouped into panels by their prefix (the text before the first `/`: e.g.
//! `LogisticRegression`, `task0`, `task1`, `loss`); each panel has a title, a framed plot area
//! with a grid, tick labels on both axes, axis labels and a legend naming each metric (the text
//! after the prefix). The `loss` panel comes last; the `epoch` tag is not drawn. Panels are laid out [`MAX_COLUMNS`] to a row,
//! each [`PANEL_WIDTH`] × [`PANEL_HEIGHT`] pixels (see [`figure_size`]).
//!
//! Text uses a built-in 5×7 bitmap font; the PNG is 8-bit RGB, one IDAT chunk compressed with
//! `flate2` (zlib), chunk CRCs with the ordinary (IEEE) CRC-32.

use std::io::Write;
use std::path::Path;

use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::{Scalar, EPOCH_TAG};
use crate::atomic_file::write_atomic;
use crate::error::{Error, Result};

/// Width of one panel in pixels.
pub const PANEL_WIDTH: usize = 640;
/// Height of one panel in pixels.
pub const PANEL_HEIGHT: usize = 400;
/// Panels per row.
pub const MAX_COLUMNS: usize = 2;
/// Series with at most this many points get a marker at each point.
const MARKER_MAX_POINTS: usize = 60;

/// Line colours, matplotlib's `tab10` cycle.
const PALETTE: [[u8; 3]; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];
const BLACK: [u8; 3] = [0x10, 0x10, 0x10];
const AXIS: [u8; 3] = [0x40, 0x40, 0x40];
const GRID: [u8; 3] = [0xe4, 0xe4, 0xe4];
const LEGEND_FRAME: [u8; 3] = [0xc8, 0xc8, 0xc8];

/// Size `(width, height)` in pixels of a figure with `n_panels` panels (one panel if none).
pub fn figure_size(n_panels: usize) -> (usize, usize) {
    let n = n_panels.max(1);
    let cols = n.min(MAX_COLUMNS);
    let rows = n.div_ceil(cols);
    (cols * PANEL_WIDTH, rows * PANEL_HEIGHT)
}

/// One metric's curve: its legend label and its `(step, value)` points in logging order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Full tag (e.g. `task0/R2`).
    pub tag: String,
    /// Legend label: the tag without its panel prefix (e.g. `R2`).
    pub label: String,
    /// Points in the order they were logged.
    pub points: Vec<(u64, f64)>,
}

/// One panel: the tag prefix it shows and its series in first-logged order.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Tag prefix (text before the first `/`), used as the title.
    pub title: String,
    /// The curves drawn in this panel.
    pub series: Vec<Series>,
}

/// Groups `scalars` into panels by tag prefix, in first-logged order, with `loss` last; the
/// [`EPOCH_TAG`] rows (a step counter, not a metric) are left out.
pub fn panels(scalars: &[Scalar]) -> Vec<Panel> {
    let mut panels: Vec<Panel> = Vec::new();
    for s in scalars.iter().filter(|s| s.tag != EPOCH_TAG) {
        let (prefix, label) = match s.tag.split_once('/') {
            Some((p, rest)) if !p.is_empty() && !rest.is_empty() => (p, rest),
            _ => (s.tag.as_str(), s.tag.as_str()),
        };
        let pi = match panels.iter().position(|p| p.title == prefix) {
            Some(i) => i,
            None => {
                panels.push(Panel {
                    title: prefix.to_string(),
                    series: Vec::new(),
                });
                panels.len() - 1
            }
        };
        let panel = &mut panels[pi];
        let si = match panel.series.iter().position(|x| x.tag == s.tag) {
            Some(i) => i,
            None => {
                panel.series.push(Series {
                    tag: s.tag.clone(),
                    label: label.to_string(),
                    points: Vec::new(),
                });
                panel.series.len() - 1
            }
        };
        panel.series[si].points.push((s.step, s.value));
    }
    // Stable: every other panel keeps its order, `loss` moves to the end.
    panels.sort_by_key(|p| p.title == "loss");
    panels
}

/// An 8-bit RGB raster, row-major, top row first.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes, RGB.
    pub rgb: Vec<u8>,
}

impl RgbImage {
    /// A `width` × `height` image filled with `color`.
    pub fn new(width: usize, height: usize, color: [u8; 3]) -> Self {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            rgb.extend_from_slice(&color);
        }
        RgbImage { width, height, rgb }
    }

    /// The colour at `(x, y)`, `None` outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// Sets one pixel; points outside the image are ignored (clipping).
    fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = (y as usize * self.width + x as usize) * 3;
        self.rgb[i..i + 3].copy_from_slice(&color);
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, color);
            }
        }
    }

    fn hline(&mut self, x0: i64, x1: i64, y: i64, color: [u8; 3]) {
        for x in x0.min(x1)..=x0.max(x1) {
            self.set(x, y, color);
        }
    }

    fn vline(&mut self, x: i64, y0: i64, y1: i64, color: [u8; 3]) {
        for y in y0.min(y1)..=y0.max(y1) {
            self.set(x, y, color);
        }
    }

    fn rect_outline(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, color: [u8; 3]) {
        self.hline(x0, x1, y0, color);
        self.hline(x0, x1, y1, color);
        self.vline(x0, y0, y1, color);
        self.vline(x1, y0, y1, color);
    }

    /// A Bresenham line from `(x0, y0)` to `(x1, y1)`, `thick` pixels wide (square brush).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), thick: i64, color: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let off = (thick - 1) / 2;
        loop {
            self.fill_rect(x - off, y - off, thick, thick, color);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`, each font pixel `scale`² pixels.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, color: [u8; 3]) {
        for (i, c) in text.chars().enumerate() {
            let g = glyph(c);
            let gx = x + i as i64 * GLYPH_ADVANCE * scale;
            for (col, bits) in g.iter().enumerate() {
                for row in 0..GLYPH_HEIGHT {
                    if bits >> row & 1 != 0 {
                        self.fill_rect(
                            gx + col as i64 * scale,
                            y + row * scale,
                            scale,
                            scale,
                            color,
                        );
                    }
                }
            }
        }
    }

    /// Draws `text` rotated 90° counter-clockwise (reading bottom to top), its bounding box's
    /// top-left corner at `(x, y)`.
    fn text_vertical(&mut self, x: i64, y: i64, text: &str, color: [u8; 3]) {
        let len = text.chars().count() as i64;
        for (i, c) in text.chars().enumerate() {
            let g = glyph(c);
            // Glyph column `col` becomes a row counted from the bottom; glyph row becomes a column.
            let base_y = y + (len - i as i64) * GLYPH_ADVANCE - 1;
            for (col, bits) in g.iter().enumerate() {
                for row in 0..GLYPH_HEIGHT {
                    if bits >> row & 1 != 0 {
                        self.set(x + row, base_y - col as i64, color);
                    }
                }
            }
        }
    }
}

/// Font glyph width (columns) and advance, in font pixels.
const GLYPH_ADVANCE: i64 = 6;
/// Font glyph height in font pixels.
const GLYPH_HEIGHT: i64 = 7;

/// Pixel width of `text` at `scale`.
fn text_width(text: &str, scale: i64) -> i64 {
    let n = text.chars().count() as i64;
    if n == 0 {
        0
    } else {
        (n * GLYPH_ADVANCE - 1) * scale
    }
}

/// The 5×7 glyph of `c`: five columns, bit `r` of each is row `r` from the top. Characters
/// outside printable ASCII draw as `?`.
fn glyph(c: char) -> [u8; 5] {
    let i = c as u32;
    if (0x20..0x7f).contains(&i) {
        FONT_5X7[(i - 0x20) as usize]
    } else {
        FONT_5X7[(b'?' - 0x20) as usize]
    }
}

/// Classic 5×7 LCD font for ASCII 0x20..=0x7E, column-major, least significant bit on top.
#[rustfmt::skip]
const FONT_5X7: [[u8; 5]; 95] = [
    [0x00, 0x00, 0x00, 0x00, 0x00], // ' '
    [0x00, 0x00, 0x5F, 0x00, 0x00], // !
    [0x00, 0x07, 0x00, 0x07, 0x00], // "
    [0x14, 0x7F, 0x14, 0x7F, 0x14], // #
    [0x24, 0x2A, 0x7F, 0x2A, 0x12], // $
    [0x23, 0x13, 0x08, 0x64, 0x62], // %
    [0x36, 0x49, 0x55, 0x22, 0x50], // &
    [0x00, 0x05, 0x03, 0x00, 0x00], // '
    [0x00, 0x1C, 0x22, 0x41, 0x00], // (
    [0x00, 0x41, 0x22, 0x1C, 0x00], // )
    [0x08, 0x2A, 0x1C, 0x2A, 0x08], // *
    [0x08, 0x08, 0x3E, 0x08, 0x08], // +
    [0x00, 0x50, 0x30, 0x00, 0x00], // ,
    [0x08, 0x08, 0x08, 0x08, 0x08], // -
    [0x00, 0x60, 0x60, 0x00, 0x00], // .
    [0x20, 0x10, 0x08, 0x04, 0x02], // /
    [0x3E, 0x51, 0x49, 0x45, 0x3E], // 0
    [0x00, 0x42, 0x7F, 0x40, 0x00], // 1
    [0x42, 0x61, 0x51, 0x49, 0x46], // 2
    [0x21, 0x41, 0x45, 0x4B, 0x31], // 3
    [0x18, 0x14, 0x12, 0x7F, 0x10], // 4
    [0x27, 0x45, 0x45, 0x45, 0x39], // 5
    [0x3C, 0x4A, 0x49, 0x49, 0x30], // 6
    [0x01, 0x71, 0x09, 0x05, 0x03], // 7
    [0x36, 0x49, 0x49, 0x49, 0x36], // 8
    [0x06, 0x49, 0x49, 0x29, 0x1E], // 9
    [0x00, 0x36, 0x36, 0x00, 0x00], // :
    [0x00, 0x56, 0x36, 0x00, 0x00], // ;
    [0x08, 0x14, 0x22, 0x41, 0x00], // <
    [0x14, 0x14, 0x14, 0x14, 0x14], // =
    [0x00, 0x41, 0x22, 0x14, 0x08], // >
    [0x02, 0x01, 0x51, 0x09, 0x06], // ?
    [0x32, 0x49, 0x79, 0x41, 0x3E], // @
    [0x7E, 0x11, 0x11, 0x11, 0x7E], // A
    [0x7F, 0x49, 0x49, 0x49, 0x36], // B
    [0x3E, 0x41, 0x41, 0x41, 0x22], // C
    [0x7F, 0x41, 0x41, 0x22, 0x1C], // D
    [0x7F, 0x49, 0x49, 0x49, 0x41], // E
    [0x7F, 0x09, 0x09, 0x09, 0x01], // F
    [0x3E, 0x41, 0x49, 0x49, 0x7A], // G
    [0x7F, 0x08, 0x08, 0x08, 0x7F], // H
    [0x00, 0x41, 0x7F, 0x41, 0x00], // I
    [0x20, 0x40, 0x41, 0x3F, 0x01], // J
    [0x7F, 0x08, 0x14, 0x22, 0x41], // K
    [0x7F, 0x40, 0x40, 0x40, 0x40], // L
    [0x7F, 0x02, 0x0C, 0x02, 0x7F], // M
    [0x7F, 0x04, 0x08, 0x10, 0x7F], // N
    [0x3E, 0x41, 0x41, 0x41, 0x3E], // O
    [0x7F, 0x09, 0x09, 0x09, 0x06], // P
    [0x3E, 0x41, 0x51, 0x21, 0x5E], // Q
    [0x7F, 0x09, 0x19, 0x29, 0x46], // R
    [0x46, 0x49, 0x49, 0x49, 0x31], // S
    [0x01, 0x01, 0x7F, 0x01, 0x01], // T
    [0x3F, 0x40, 0x40, 0x40, 0x3F], // U
    [0x1F, 0x20, 0x40, 0x20, 0x1F], // V
    [0x3F, 0x40, 0x38, 0x40, 0x3F], // W
    [0x63, 0x14, 0x08, 0x14, 0x63], // X
    [0x07, 0x08, 0x70, 0x08, 0x07], // Y
    [0x61, 0x51, 0x49, 0x45, 0x43], // Z
    [0x00, 0x7F, 0x41, 0x41, 0x00], // [
    [0x02, 0x04, 0x08, 0x10, 0x20], // backslash
    [0x00, 0x41, 0x41, 0x7F, 0x00], // ]
    [0x04, 0x02, 0x01, 0x02, 0x04], // ^
    [0x40, 0x40, 0x40, 0x40, 0x40], // _
    [0x00, 0x01, 0x02, 0x04, 0x00], // `
    [0x20, 0x54, 0x54, 0x54, 0x78], // a
    [0x7F, 0x48, 0x44, 0x44, 0x38], // b
    [0x38, 0x44, 0x44, 0x44, 0x20], // c
    [0x38, 0x44, 0x44, 0x48, 0x7F], // d
    [0x38, 0x54, 0x54, 0x54, 0x18], // e
    [0x08, 0x7E, 0x09, 0x01, 0x02], // f
    [0x0C, 0x52, 0x52, 0x52, 0x3E], // g
    [0x7F, 0x08, 0x04, 0x04, 0x78], // h
    [0x00, 0x44, 0x7D, 0x40, 0x00], // i
    [0x20, 0x40, 0x44, 0x3D, 0x00], // j
    [0x7F, 0x10, 0x28, 0x44, 0x00], // k
    [0x00, 0x41, 0x7F, 0x40, 0x00], // l
    [0x7C, 0x04, 0x18, 0x04, 0x78], // m
    [0x7C, 0x08, 0x04, 0x04, 0x78], // n
    [0x38, 0x44, 0x44, 0x44, 0x38], // o
    [0x7C, 0x14, 0x14, 0x14, 0x08], // p
    [0x08, 0x14, 0x14, 0x18, 0x7C], // q
    [0x7C, 0x08, 0x04, 0x04, 0x08], // r
    [0x48, 0x54, 0x54, 0x54, 0x20], // s
    [0x04, 0x3F, 0x44, 0x40, 0x20], // t
    [0x3C, 0x40, 0x40, 0x20, 0x7C], // u
    [0x1C, 0x20, 0x40, 0x20, 0x1C], // v
    [0x3C, 0x40, 0x30, 0x40, 0x3C], // w
    [0x44, 0x28, 0x10, 0x28, 0x44], // x
    [0x0C, 0x50, 0x50, 0x50, 0x3C], // y
    [0x44, 0x64, 0x54, 0x4C, 0x44], // z
    [0x00, 0x08, 0x36, 0x41, 0x00], // {
    [0x00, 0x00, 0x7F, 0x00, 0x00], // |
    [0x00, 0x41, 0x36, 0x08, 0x00], // }
    [0x08, 0x04, 0x08, 0x10, 0x08], // ~
];

/// Axis ticks: a "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over
/// `[lo, hi]`, the widened bounds `(floor(lo/step)·step, ceil(hi/step)·step)` and the tick values.
fn nice_ticks(lo: f64, hi: f64, target: usize, min_step: f64) -> (f64, f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = (lo, hi);
    if hi - lo <= 0.0 || !(hi - lo).is_finite() {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= d;
        hi += d;
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = (nice * mag).max(min_step);
    let a = (lo / step).floor();
    let b = (hi / step).ceil();
    let ticks = (0..=((b - a) as i64))
        .map(|k| (a + k as f64) * step)
        .collect();
    (a * step, b * step, step, ticks)
}

/// A tick label with as many decimals as the tick step needs.
fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
    let s = format!("{:.*}", decimals.min(12), v);
    // Avoid "-0.0" for ticks at zero.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// `label` shortened with `..` to at most `max_chars` characters.
fn fit_label(label: &str, max_chars: usize) -> String {
    if label.chars().count() <= max_chars {
        label.to_string()
    } else {
        let keep = max_chars.saturating_sub(2);
        format!("{}..", label.chars().take(keep).collect::<String>())
    }
}

/// Draws one panel into `img` with its top-left corner at `(ox, oy)`.
fn draw_panel(img: &mut RgbImage, ox: i64, oy: i64, panel: &Panel) {
    let (pw, ph) = (PANEL_WIDTH as i64, PANEL_HEIGHT as i64);

    // Title, centred, double size.
    let tw = text_width(&panel.title, 2);
    img.text(ox + (pw - tw) / 2, oy + 10, &panel.title, 2, BLACK);

    // Data ranges over finite values.
    let finite = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in finite() {
        xmin = xmin.min(x as f64);
        xmax = xmax.max(x as f64);
        ymin = ymin.min(y);
        ymax = ymax.max(y);
    }
    if xmin > xmax {
        (xmin, xmax, ymin, ymax) = (0.0, 1.0, 0.0, 1.0);
    }
    let (ylo, yhi, ystep, yticks) = nice_ticks(ymin, ymax, 5, 0.0);
    let (xlo, xhi, xstep, xticks) = nice_ticks(xmin, xmax, 6, 1.0);
    let ylabels: Vec<String> = yticks.iter().map(|&v| tick_label(v, ystep)).collect();

    // Legend column on the right, sized to the longest label (clamped).
    let max_label = panel
        .series
        .iter()
        .map(|s| s.label.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(6, 24);
    let legend_w = 8 + 18 + 4 + max_label as i64 * GLYPH_ADVANCE + 8;

    // Plot area.
    let ylabel_w = ylabels.iter().map(|l| text_width(l, 1)).max().unwrap_or(0);
    let left = ox + 8 + GLYPH_HEIGHT + 8 + ylabel_w + 6;
    let right = ox + pw - legend_w - 16;
    let top = oy + 40;
    let bottom = oy + ph - 36;
    // Data bounds map to the frame inset by INSET pixels, so points on the bounds stay visible
    // (matplotlib's axes margins, in pixels).
    const INSET: i64 = 8;
    let (w, h) = (
        (right - left - 2 * INSET) as f64,
        (bottom - top - 2 * INSET) as f64,
    );
    let px = |x: f64| left + INSET + ((x - xlo) / (xhi - xlo) * w).round() as i64;
    let py = |y: f64| bottom - INSET - ((y - ylo) / (yhi - ylo) * h).round() as i64;

    // Grid, ticks and tick labels.
    for (v, label) in yticks.iter().zip(&ylabels) {
        let y = py(*v);
        img.hline(left + 1, right - 1, y, GRID);
        img.hline(left - 4, left, y, AXIS);
        img.text(left - 6 - text_width(label, 1), y - 3, label, 1, AXIS);
    }
    for &v in &xticks {
        let x = px(v);
        img.vline(x, top + 1, bottom - 1, GRID);
        img.vline(x, bottom, bottom + 4, AXIS);
        let label = tick_label(v, xstep);
        img.text(x - text_width(&label, 1) / 2, bottom + 7, &label, 1, AXIS);
    }
    img.rect_outline(left, top, right, bottom, AXIS);

    // Axis labels.
    let xl = "step";
    img.text(
        left + (right - left - text_width(xl, 1)) / 2,
        bottom + 20,
        xl,
        1,
        BLACK,
    );
    let yl = "value";
    img.text_vertical(
        ox + 8,
        top + (bottom - top - text_width(yl, 1)) / 2,
        yl,
        BLACK,
    );

    // Curves: segments between consecutive finite points; markers when points are few.
    for (i, s) in panel.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut prev: Option<(i64, i64)> = None;
        for &(x, y) in &s.points {
            if !y.is_finite() {
                prev = None;
                continue;
            }
            let p = (px(x as f64), py(y));
            if let Some(q) = prev {
                img.line(q, p, 2, color);
            }
            prev = Some(p);
        }
        if s.points.len() <= MARKER_MAX_POINTS {
            for &(x, y) in s.points.iter().filter(|p| p.1.is_finite()) {
                img.fill_rect(px(x as f64) - 2, py(y) - 2, 5, 5, color);
            }
        }
    }

    // Legend box.
    let lx = right + 10;
    let entry_h = 14;
    let fits = ((bottom - top - 8) / entry_h).max(0) as usize;
    let shown = panel.series.len().min(fits);
    if shown > 0 {
        img.rect_outline(
            lx,
            top,
            lx + legend_w,
            top + 8 + shown as i64 * entry_h,
            LEGEND_FRAME,
        );
    }
    for (i, s) in panel.series.iter().take(shown).enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let y = top + 6 + i as i64 * entry_h;
        img.line((lx + 8, y + 3), (lx + 26, y + 3), 2, color);
        img.text(lx + 30, y, &fit_label(&s.label, max_label), 1, BLACK);
    }
}

/// Renders the metrics figure for `scalars` (see the module docs for the layout).
pub fn render(scalars: &[Scalar]) -> RgbImage {
    let panels = panels(scalars);
    let (width, height) = figure_size(panels.len());
    let mut img = RgbImage::new(width, height, WHITE);
    if panels.is_empty() {
        let msg = "no metrics logged";
        let tw = text_width(msg, 2);
        img.text(
            (width as i64 - tw) / 2,
            height as i64 / 2 - GLYPH_HEIGHT,
            msg,
            2,
            BLACK,
        );
        return img;
    }
    let cols = panels.len().min(MAX_COLUMNS);
    for (i, panel) in panels.iter().enumerate() {
        let ox = ((i % cols) * PANEL_WIDTH) as i64;
        let oy = ((i / cols) * PANEL_HEIGHT) as i64;
        draw_panel(&mut img, ox, oy, panel);
    }
    img
}

/// Reflected CRC-32 (IEEE 802.3, as PNG uses) polynomial.
const IEEE_REFLECTED: u32 = 0xedb8_8320;

/// Byte-at-a-time lookup table for CRC-32 (IEEE), built at compile time.
const CRC32_TABLE: [u32; 256] = super::crc32_table(IEEE_REFLECTED);

/// CRC-32 (IEEE, the one PNG and zlib's `crc32` use): `crc32(b"123456789") == 0xCBF4_3926`.
pub fn crc32(data: &[u8]) -> u32 {
    super::crc32_with(&CRC32_TABLE, data)
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type + data.
fn put_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// `img` as PNG bytes: 8-bit RGB, no interlace, each row with filter type 0, one IDAT chunk.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let to_err = |e: std::io::Error| Error::invalid("plot::encode_png", format!("zlib: {e}"));
    if img.width == 0 || img.height == 0 || img.width > u32::MAX as usize {
        return Err(Error::invalid(
            "plot::encode_png",
            format!("image size {}x{} not encodable", img.width, img.height),
        ));
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(img.width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(img.height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, filter set 0, no interlace

    let row = img.width * 3;
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    for y in 0..img.height {
        z.write_all(&[0]).map_err(to_err)?;
        z.write_all(&img.rgb[y * row..(y + 1) * row])
            .map_err(to_err)?;
    }
    let idat = z.finish().map_err(to_err)?;

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    put_chunk(&mut out, b"IHDR", &ihdr);
    put_chunk(&mut out, b"IDAT", &idat);
    put_chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Renders `scalars` and writes the PNG atomically (temporary file + rename) to `path`.
pub fn write_metrics_png(path: &Path, scalars: &[Scalar]) -> Result<()> {
    let png = encode_png(&render(scalars))?;
    write_atomic(path, &png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_vector() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn ticks_are_nice() {
        let (lo, hi, step, ticks) = nice_ticks(0.12, 0.87, 5, 0.0);
        assert_eq!(step, 0.2);
        assert!(lo <= 0.12 && hi >= 0.87);
        assert_eq!(ticks.len(), 6);
        assert_eq!(tick_label(ticks[1], step), "0.2");
        assert_eq!(tick_label(-0.0, 0.1), "0.0");
        let (_, _, xs, _) = nice_ticks(3.0, 3.0, 6, 1.0);
        assert!(xs >= 1.0);
    }

    #[test]
    fn panels_group_by_prefix_loss_last_without_epoch() {
        let s = |tag: &str, step| Scalar {
            tag: tag.into(),
            value: 1.0,
            step,
            epoch: 0,
        };
        let p = panels(&[
            s("loss/train", 1),
            s("task0/R2", 1),
            s("task1/accuracy", 1),
            s("task0/PCC", 1),
            s("epoch", 1),
            s("loss/val", 1),
            s("task0/R2", 2),
            s("epoch", 2),
        ]);
        let titles: Vec<&str> = p.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["task0", "task1", "loss"]);
        assert_eq!(p[0].series[0].label, "R2");
        assert_eq!(p[0].series[0].points, [(1, 1.0), (2, 1.0)]);
        assert_eq!(p[2].series.len(), 2);
    }
}
