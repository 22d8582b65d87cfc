//! The charts, drawn with plotters on any backend: SVG for the HTML page, bitmap for PNG.
//! Each chart reads only the report, so a report read back from JSON draws the same pictures.
//!
//! | chart | what it shows |
//! | --- | --- |
//! | divergence | keys on which replicas differed at each sample, with fault spans shaded, settle and convergence marked |
//! | latency | operation latency on a log scale, stacked by kind and outcome, with percentiles |
//! | clocks | each node's wall clock minus true time: offsets, drift, steps and slews |
//! | space-time | nodes as lanes and messages as arrows around the focus, drops crossed out; under each lane, that node's cuts, pauses, crashes and clock offset |
//! | history | the client operations nearest the focus as Jepsen-style bars, offending ones in red and labelled |
//!
//! Labels inside a plot (markers, flagged operations) go through `Frame::place`: each takes
//! the first of a few spots where it stays inside the plot and clear of the labels before it,
//! and [`layout`] reports where they went, so tests can check placement without pixels.

use crate::text::{label, LabelStyle};
use crate::timeline::{FaultSpan, SpanKind};
use crate::window::WindowEvent;
use crate::Report;
use ab_glyph::FontArc;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::BackendTextStyle;
use sim_core::time::format_nanos;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 960;

/// The charts a report has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    /// Keys diverged over time, fault spans shaded.
    Divergence,
    /// Latency distribution.
    Latency,
    /// Clock offsets over time.
    Clocks,
    /// Space-time diagram around the focus.
    SpaceTime,
    /// Client history bars.
    History,
}

impl Chart {
    /// Every chart, in page order.
    pub const ALL: [Chart; 5] = [
        Chart::Divergence,
        Chart::SpaceTime,
        Chart::History,
        Chart::Clocks,
        Chart::Latency,
    ];

    /// A short name: the HTML figure is `chart-NAME`, the PNG file `NAME.png`.
    pub fn id(self) -> &'static str {
        match self {
            Chart::Divergence => "divergence",
            Chart::Latency => "latency",
            Chart::Clocks => "clocks",
            Chart::SpaceTime => "space-time",
            Chart::History => "history",
        }
    }

    /// The chart's title.
    pub fn title(self) -> &'static str {
        match self {
            Chart::Divergence => "Divergence over time: keys on which replicas differ",
            Chart::Latency => "Operation latency (log scale)",
            Chart::Clocks => "Clock offset: each node's wall clock minus true time",
            Chart::SpaceTime => "Space-time diagram around the focus",
            Chart::History => "Client history around the focus",
        }
    }

    /// Its size in pixels for this report.
    pub fn size(self, report: &Report) -> (u32, u32) {
        let nodes = report.nodes.len().max(1) as u32;
        let clients = report.history.clients.len().max(1) as u32;
        match self {
            Chart::Divergence | Chart::Latency | Chart::Clocks => (WIDTH, 300),
            Chart::SpaceTime => (WIDTH, 110 + 80 * nodes),
            Chart::History => (WIDTH, 68 + HISTORY_ROW_PX * clients + 10),
        }
    }

    /// Whether the report has what this chart needs.
    pub fn available(self, report: &Report) -> bool {
        match self {
            Chart::SpaceTime => report.space_time.is_some(),
            _ => true,
        }
    }
}

/// Draws `chart` on `root`; `font` rasterizes labels on bitmap backends.
pub fn draw<DB: DrawingBackend>(
    chart: Chart,
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Result<(), String> {
    draw_and_lay_out(chart, root, report, font).map(|_| ())
}

fn draw_and_lay_out<DB: DrawingBackend>(
    chart: Chart,
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Drawn {
    root.fill(&WHITE).map_err(err)?;
    let layout = match chart {
        Chart::Divergence => divergence(root, report, font),
        Chart::Latency => latency(root, report, font),
        Chart::Clocks => clocks(root, report, font),
        Chart::SpaceTime => space_time(root, report, font),
        Chart::History => history(root, report, font),
    }?;
    root.present().map_err(err)?;
    Ok(layout)
}

/// Where `chart` puts its plot, labels and main series for this report, measured with `font`
/// as a PNG would be (None: as the SVG estimates): tests check placement without pixels.
pub fn layout(
    chart: Chart,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Result<Layout, String> {
    let mut out = String::new();
    let root = SVGBackend::with_string(&mut out, chart.size(report)).into_drawing_area();
    draw_and_lay_out(chart, &root, report, font)
}

/// A rectangle in pixels of the whole drawing; right and bottom are exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelBox {
    /// Left edge.
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Right edge.
    pub right: i32,
    /// Bottom edge.
    pub bottom: i32,
}

impl PixelBox {
    /// Whether the two boxes share any pixel.
    pub fn intersects(&self, other: &PixelBox) -> bool {
        self.left < other.right
            && other.left < self.right
            && self.top < other.bottom
            && other.top < self.bottom
    }

    /// Whether this box lies wholly inside `outer`.
    pub fn within(&self, outer: &PixelBox) -> bool {
        self.left >= outer.left
            && self.right <= outer.right
            && self.top >= outer.top
            && self.bottom <= outer.bottom
    }

    /// The same box grown by `by` pixels on every side.
    fn grown(&self, by: i32) -> PixelBox {
        PixelBox {
            left: self.left - by,
            top: self.top - by,
            right: self.right + by,
            bottom: self.bottom + by,
        }
    }
}

/// What a chart drew where, for tests.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The plotting area.
    pub plot: PixelBox,
    /// The x range in data units (nanoseconds on time axes).
    pub x: Range<f64>,
    /// Every label placed inside the plot (markers, operation flags) and its box.
    pub labels: Vec<(String, PixelBox)>,
    /// The main line's points in data units; divergence: (time ns, keys diverged).
    pub series: Vec<(f64, f64)>,
}

/// The chart as an SVG document.
pub fn svg(chart: Chart, report: &Report) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, chart.size(report)).into_drawing_area();
        draw(chart, &root, report, None)?;
    }
    Ok(out)
}

fn err<E: std::fmt::Debug>(error: E) -> String {
    format!("{error:?}")
}

type Out = Result<(), String>;
type Drawn = Result<Layout, String>;

/// The colours series take in turn (the category-10 palette); reproduction charts use it too.
pub const SERIES: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Grid lines.
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Axes and main labels.
pub const INK: RGBColor = RGBColor(40, 40, 40);
/// Secondary labels.
pub const MUTED: RGBColor = RGBColor(110, 110, 110);
const ALARM: RGBColor = RGBColor(200, 20, 20);
const SETTLE: RGBColor = RGBColor(30, 140, 60);

fn span_color(kind: SpanKind) -> RGBColor {
    match kind {
        SpanKind::Partition => RGBColor(255, 140, 0),
        SpanKind::OneWay => RGBColor(215, 180, 0),
        SpanKind::Paused => RGBColor(70, 110, 220),
        SpanKind::Crashed => RGBColor(200, 30, 30),
    }
}

fn ns(value: f64) -> String {
    format_nanos(value.round() as i128)
}

/// About `target` round values covering [lo, hi].
pub fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / target as f64;
    let mut power = 1.0;
    while power * 10.0 <= raw {
        power *= 10.0;
    }
    while power > raw {
        power /= 10.0;
    }
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| span / s <= target as f64)
        .unwrap_or(10.0 * power);
    let mut out = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A titled plotting area with pixel margins, and helpers for grids, legends and labels.
struct Frame<'a, DB: DrawingBackend> {
    root: &'a DrawingArea<DB, Shift>,
    plot: Plot<'a, DB>,
    font: Option<&'static FontArc>,
    x: Range<f64>,
    y: Range<f64>,
    /// The plotting area in pixels: labels placed in it must stay inside.
    area: PixelBox,
    /// Labels placed in the plot so far, so that later ones go where they do not cover them.
    placed: Vec<(String, PixelBox)>,
    /// The main line, kept for [`Layout::series`].
    series: Vec<(f64, f64)>,
}

/// Where a label may go: a pixel, and which point of the text sits on it.
type Spot = ((i32, i32), HPos, VPos);

/// Pixels kept clear around a placed label.
const LABEL_GAP_PX: i32 = 2;

impl<'a, DB: DrawingBackend> Frame<'a, DB> {
    fn new(
        root: &'a DrawingArea<DB, Shift>,
        font: Option<&'static FontArc>,
        title: &str,
        (x, y): (Range<f64>, Range<f64>),
        left: u32,
    ) -> Result<Self, String> {
        let plot = ChartBuilder::on(root)
            .margin_top(34)
            .margin_bottom(34)
            .margin_left(left)
            .margin_right(16)
            .build_cartesian_2d(x.clone(), y.clone())
            .map_err(err)?;
        label(root, title, (12, 16), LabelStyle::new(15.0, font).bold()).map_err(err)?;
        let (left, top) = plot.backend_coord(&(x.start, y.end));
        let (right, bottom) = plot.backend_coord(&(x.end, y.start));
        Ok(Frame {
            root,
            plot,
            font,
            x,
            y,
            area: PixelBox {
                left,
                top,
                right: right + 1,
                bottom: bottom + 1,
            },
            placed: Vec::new(),
            series: Vec::new(),
        })
    }

    fn layout(self) -> Layout {
        Layout {
            plot: self.area,
            x: self.x,
            labels: self.placed,
            series: self.series,
        }
    }

    /// Draws `text` at the first of `spots` where it lies inside the plot and clear of every
    /// label placed before; with `slide` it may move sideways to stay inside the plot (a label
    /// near the right edge ends at the edge instead of being cut off). Returns whether it was
    /// drawn: a label with no free spot is left out rather than drawn over another.
    fn place(
        &mut self,
        text: &str,
        spots: &[Spot],
        style: LabelStyle,
        slide: bool,
    ) -> Result<bool, String> {
        let (_, (width, height)) = style.layout_box(text).map_err(err)?;
        for &((x, y), h, v) in spots {
            let mut left = match h {
                HPos::Left => x,
                HPos::Center => x - width / 2,
                HPos::Right => x - width,
            };
            let top = match v {
                VPos::Top => y,
                VPos::Center => y - height / 2,
                VPos::Bottom => y - height,
            };
            if slide {
                left = left.min(self.area.right - width).max(self.area.left);
            }
            let bounds = PixelBox {
                left,
                top,
                right: left + width,
                bottom: top + height,
            };
            let clear = !self
                .placed
                .iter()
                .any(|(_, other)| other.grown(LABEL_GAP_PX).intersects(&bounds));
            if clear && bounds.within(&self.area) {
                let at_top_left = style.anchor(HPos::Left, VPos::Top);
                self.text(text, (left, top), at_top_left)?;
                self.placed.push((text.to_string(), bounds));
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn px(&self, x: f64, y: f64) -> (i32, i32) {
        self.plot.backend_coord(&(x, y))
    }

    fn text(&self, text: impl Into<String>, at: (i32, i32), style: LabelStyle) -> Out {
        label(self.root, text, at, style).map_err(err)
    }

    fn style(&self, px: f64) -> LabelStyle {
        LabelStyle::new(px, self.font)
    }

    /// Vertical grid lines at `xs`, labelled below the plot.
    fn grid_x(&mut self, xs: &[f64], format: impl Fn(f64) -> String) -> Out {
        let (y0, y1) = (self.y.start, self.y.end);
        for x in xs {
            self.plot
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*x, y0), (*x, y1)],
                    GRID,
                )))
                .map_err(err)?;
            let (px, py) = self.px(*x, y0);
            let style = self
                .style(11.0)
                .anchor(HPos::Center, VPos::Top)
                .color(MUTED);
            self.text(format(*x), (px, py + 6), style)?;
        }
        Ok(())
    }

    /// Horizontal grid lines at `ys`, labelled left of the plot.
    fn grid_y(&mut self, ys: &[f64], format: impl Fn(f64) -> String) -> Out {
        let (x0, x1) = (self.x.start, self.x.end);
        for y in ys {
            self.plot
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x0, *y), (x1, *y)],
                    GRID,
                )))
                .map_err(err)?;
            let (px, py) = self.px(x0, *y);
            let style = self
                .style(11.0)
                .anchor(HPos::Right, VPos::Center)
                .color(MUTED);
            self.text(format(*y), (px - 6, py), style)?;
        }
        Ok(())
    }

    /// A row of coloured swatches with labels, right-aligned along the top.
    fn legend(&self, items: &[(String, RGBColor)]) -> Out {
        let (width, _) = self.root.dim_in_pixel();
        let widths: Vec<i32> = items
            .iter()
            .map(|(text, _)| 22 + (text.chars().count() as i32 * 6))
            .collect();
        let mut x = width as i32 - 16 - widths.iter().sum::<i32>();
        for ((text, color), w) in items.iter().zip(widths) {
            self.root
                .draw(&Rectangle::new(
                    [(x, 10), (x + 12, 20)],
                    color.mix(0.85).filled(),
                ))
                .map_err(err)?;
            self.text(text.clone(), (x + 16, 15), self.style(11.0).color(INK))?;
            x += w;
        }
        Ok(())
    }

    /// A vertical marker line across the plot with a label at its top.
    fn marker(&mut self, x: f64, color: RGBColor, text: &str) -> Out {
        self.marker_line(x, color)?;
        self.marker_label(x, color, text)
    }

    /// The dashed line of a marker.
    fn marker_line(&mut self, x: f64, color: RGBColor) -> Out {
        if x < self.x.start || x > self.x.end {
            return Ok(());
        }
        let (y0, y1) = (self.y.start, self.y.end);
        self.plot
            .draw_series(DashedLineSeries::new(
                vec![(x, y0), (x, y1)],
                6,
                4,
                color.stroke_width(2),
            ))
            .map_err(err)?;
        Ok(())
    }

    /// The label of a marker: at the top, right of the line, else left of it (near the right
    /// edge, or where another label is), else one line lower.
    fn marker_label(&mut self, x: f64, color: RGBColor, text: &str) -> Out {
        if x < self.x.start || x > self.x.end {
            return Ok(());
        }
        let (px, py) = self.px(x, self.y.end);
        let spots: Vec<Spot> = [py + 2, py + 17]
            .into_iter()
            .flat_map(|y| {
                [
                    ((px + 4, y), HPos::Left, VPos::Top),
                    ((px - 4, y), HPos::Right, VPos::Top),
                ]
            })
            .collect();
        let style = self.style(11.0).color(color);
        self.place(text, &spots, style, false).map(|_| ())
    }

    fn empty(&self, why: &str) -> Out {
        let (w, h) = self.root.dim_in_pixel();
        let style = self
            .style(13.0)
            .anchor(HPos::Center, VPos::Center)
            .color(MUTED);
        self.text(why, (w as i32 / 2, h as i32 / 2), style)
    }
}

// ----- divergence over time -------------------------------------------------------------------

fn divergence<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Drawn {
    let end = report.end_time_ns.max(1) as f64;
    let converged_at = report
        .convergence
        .as_ref()
        .filter(|c| c.converged)
        .and_then(|c| c.converged_at_ns);
    // A converged run stops at its convergence, often a few milliseconds after settle began:
    // without room after it the fall to zero would sit on the frame's last pixel.
    let right = if converged_at.is_some() {
        end * 1.03
    } else {
        end
    };
    let top = (report.diagnostics.peak_keys_diverged.max(1) as f64 * 1.15).ceil();
    let title = Chart::Divergence.title();
    let mut frame = Frame::new(root, font, title, (0.0..right, 0.0..top), 56)?;
    frame.grid_x(&ticks(0.0, end, 10), ns)?;
    let y_ticks: Vec<f64> = ticks(0.0, top, 5)
        .into_iter()
        .filter(|y| y.fract() == 0.0)
        .collect();
    frame.grid_y(&y_ticks, |y| format!("{y}"))?;
    let spans = &report.timeline.spans;
    shade(&mut frame, spans, end, top)?;
    let samples = &report.diagnostics.samples;
    let mut points: Vec<(f64, f64)> = Vec::with_capacity(samples.len() * 2);
    for (i, (t, keys)) in samples.iter().enumerate() {
        points.push((*t as f64, *keys as f64));
        let next = samples.get(i + 1).map_or(*t, |(n, _)| *n);
        points.push((next as f64, *keys as f64));
    }
    points.dedup();
    // The markers go under the line: the fall to zero is often right at the settle line.
    settle_and_convergence(&mut frame, report, converged_at)?;
    frame
        .plot
        .draw_series(LineSeries::new(points.clone(), SERIES[0].stroke_width(2)))
        .map_err(err)?;
    frame.series = points;
    if let Some(at) = converged_at {
        draw_one(
            &mut frame,
            Circle::new((at as f64, 0.0), 5, SETTLE.filled()),
        )?;
    }
    let mut legend = vec![("keys diverged".to_string(), SERIES[0])];
    for kind in [
        SpanKind::Partition,
        SpanKind::OneWay,
        SpanKind::Paused,
        SpanKind::Crashed,
    ] {
        if spans.iter().any(|s| s.kind == kind) {
            legend.push((kind.label().to_string(), span_color(kind)));
        }
    }
    frame.legend(&legend)?;
    Ok(frame.layout())
}

/// The settle marker, and where the run converged: a line labelled with how long after
/// settle began.
fn settle_and_convergence<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    report: &Report,
    converged_at: Option<u64>,
) -> Out {
    let settle = report.timeline.settle_started_ns;
    if let Some(settle) = settle {
        frame.marker(settle as f64, SETTLE, "settle")?;
    }
    let Some(at) = converged_at else {
        return Ok(());
    };
    let text = match settle {
        Some(settle) if settle <= at => {
            format!("converged {} after settle", ns((at - settle) as f64))
        }
        _ => "converged".to_string(),
    };
    if settle != Some(at) {
        frame.marker_line(at as f64, SETTLE)?;
    }
    frame.marker_label(at as f64, SETTLE, &text)
}

fn shade<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    spans: &[FaultSpan],
    end: f64,
    top: f64,
) -> Out {
    for span in spans {
        let stop = span.end_ns.map_or(end, |e| e as f64);
        let rect = Rectangle::new(
            [
                (span.start_ns as f64, 0.0),
                (stop.max(span.start_ns as f64 + end / 2000.0), top),
            ],
            span_color(span.kind).mix(0.16).filled(),
        );
        frame.plot.draw_series(std::iter::once(rect)).map_err(err)?;
    }
    Ok(())
}

// ----- latency distribution ---------------------------------------------------------------------

fn latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Drawn {
    let section = &report.latency;
    let buckets = section.edges_ns.len().saturating_sub(1);
    let title = Chart::Latency.title();
    if buckets == 0 {
        let frame = Frame::new(root, font, title, (0.0..1.0, 0.0..1.0), 56)?;
        frame.empty("no completed operations")?;
        return Ok(frame.layout());
    }
    let totals: Vec<u64> = (0..buckets)
        .map(|b| section.histogram.iter().map(|s| s.counts[b]).sum())
        .collect();
    let top = (*totals.iter().max().unwrap_or(&1) as f64 * 1.15).max(1.0);
    let mut frame = Frame::new(root, font, title, (0.0..buckets as f64, 0.0..top), 56)?;
    // Few buckets: label every edge; many: label the decades.
    let every = if buckets <= 12 {
        1
    } else {
        crate::latency::BUCKETS_PER_DECADE as usize
    };
    let decades: Vec<f64> = (0..=buckets)
        .filter(|i| i % every == 0)
        .map(|i| i as f64)
        .collect();
    let edges = section.edges_ns.clone();
    frame.grid_x(&decades, |x| ns(edges[x as usize] as f64))?;
    frame.grid_y(&ticks(0.0, top, 5), |y| format!("{y}"))?;
    let mut base = vec![0u64; buckets];
    for (index, series) in section.histogram.iter().enumerate() {
        let color = SERIES[index % SERIES.len()];
        let bars = series
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(b, c)| {
                let (x0, x1) = (b as f64 + 0.08, b as f64 + 0.92);
                let (y0, y1) = (base[b] as f64, (base[b] + c) as f64);
                Rectangle::new([(x0, y0), (x1, y1)], color.mix(0.8).filled())
            });
        frame.plot.draw_series(bars).map_err(err)?;
        for (b, c) in series.counts.iter().enumerate() {
            base[b] += c;
        }
    }
    let legend: Vec<(String, RGBColor)> = section
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let text = format!(
                "{} {}: p50 {} p99 {}",
                g.kind,
                g.outcome,
                ns(g.p50_ns as f64),
                ns(g.p99_ns as f64)
            );
            (text, SERIES[i % SERIES.len()])
        })
        .collect();
    frame.legend(&legend)?;
    Ok(frame.layout())
}

// ----- clock offsets ----------------------------------------------------------------------------

fn clocks<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Drawn {
    let end = report.end_time_ns.max(1) as f64;
    let series = &report.timeline.clocks;
    let offsets = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(_, o)| *o as f64));
    let (low, high) = offsets.fold((0.0f64, 0.0f64), |(l, h), o| (l.min(o), h.max(o)));
    let pad = ((high - low) * 0.15).max(1_000_000.0);
    let (y0, y1) = (low - pad, high + pad);
    let title = Chart::Clocks.title();
    let mut frame = Frame::new(root, font, title, (0.0..end, y0..y1), 72)?;
    frame.grid_x(&ticks(0.0, end, 10), ns)?;
    frame.grid_y(&ticks(y0, y1, 6), |y| {
        if y < 0.0 {
            format!("-{}", ns(-y))
        } else {
            ns(y)
        }
    })?;
    let mut legend = Vec::new();
    for (i, clock) in series.iter().enumerate() {
        let color = SERIES[i % SERIES.len()];
        let points = clock.points.iter().map(|(t, o)| (*t as f64, *o as f64));
        frame
            .plot
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?;
        let steps = clock.steps.iter().map(|(t, _)| {
            let after = clock
                .points
                .iter()
                .find(|(pt, _)| pt >= t)
                .map_or(0, |(_, o)| *o);
            Circle::new((*t as f64, after as f64), 4, color.filled())
        });
        frame.plot.draw_series(steps).map_err(err)?;
        let last = clock.points.last().map_or(0, |(_, o)| *o);
        legend.push((format!("{} ({})", clock.node, signed(last)), color));
    }
    frame.legend(&legend)?;
    Ok(frame.layout())
}

fn signed(ns_value: i64) -> String {
    if ns_value < 0 {
        format!("-{}", format_nanos(-(ns_value as i128)))
    } else {
        format!("+{}", format_nanos(ns_value as i128))
    }
}

// ----- space-time diagram -----------------------------------------------------------------------

/// Lane geometry: node i's message line, and its status strip below.
struct Lanes {
    count: usize,
}

impl Lanes {
    fn y(&self, node: &str) -> Option<f64> {
        let index = sim_core::ids::NodeId::parse(node)?.index();
        (index < self.count).then(|| (self.count - 1 - index) as f64)
    }
}

fn space_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Drawn {
    let title = Chart::SpaceTime.title();
    let Some(window) = &report.space_time else {
        let frame = Frame::new(root, font, title, (0.0..1.0, 0.0..1.0), 90)?;
        frame.empty("no trace window: run with --report to capture one")?;
        return Ok(frame.layout());
    };
    let lanes = Lanes {
        count: report.nodes.len().max(1),
    };
    let span = (window.end_ns.saturating_sub(window.start_ns)).max(1_000_000) as f64;
    let x0 = window.start_ns as f64 - span * 0.02;
    let x1 = window.start_ns as f64 + span * 1.02;
    let y_range = -0.75..(lanes.count as f64 - 0.35);
    let mut frame = Frame::new(root, font, title, (x0..x1, y_range), 90)?;
    frame.grid_x(&ticks(x0, x1, 8), ns)?;
    for node in &report.nodes {
        lane(&mut frame, report, &lanes, node, (x0, x1))?;
    }
    messages(&mut frame, &lanes, &window.events, (x0, x1))?;
    marks(&mut frame, &lanes, &window.events)?;
    frame.marker(window.focus_ns as f64, ALARM, "focus")?;
    let mut legend = vec![
        ("delivered".to_string(), SERIES[0]),
        ("dropped".to_string(), ALARM),
        ("client request/reply".to_string(), SETTLE),
        ("protocol note".to_string(), SERIES[4]),
    ];
    let shown = |s: &&FaultSpan| (s.start_ns as f64) < x1 && s.end_ns.is_none_or(|e| e as f64 > x0);
    for kind in [
        SpanKind::Partition,
        SpanKind::OneWay,
        SpanKind::Paused,
        SpanKind::Crashed,
    ] {
        if report
            .timeline
            .spans
            .iter()
            .filter(shown)
            .any(|s| s.kind == kind)
        {
            legend.push((kind.label().to_string(), span_color(kind)));
        }
    }
    frame.legend(&legend)?;
    Ok(frame.layout())
}

/// One node's lane: its name, its message line, and under it a strip with its fault spans
/// and its clock offset drawn as a line (the label gives the value).
fn lane<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    report: &Report,
    lanes: &Lanes,
    node: &str,
    (x0, x1): (f64, f64),
) -> Out {
    let Some(y) = lanes.y(node) else {
        return Ok(());
    };
    let line = PathElement::new(
        vec![(x0, y), (x1, y)],
        RGBColor(160, 160, 160).stroke_width(2),
    );
    frame.plot.draw_series(std::iter::once(line)).map_err(err)?;
    let (strip_low, strip_high) = (y - 0.5, y - 0.26);
    let strip = Rectangle::new(
        [(x0, strip_low), (x1, strip_high)],
        RGBColor(246, 246, 246).filled(),
    );
    frame
        .plot
        .draw_series(std::iter::once(strip))
        .map_err(err)?;
    for span in report
        .timeline
        .spans
        .iter()
        .filter(|s| s.nodes.iter().any(|n| n == node))
    {
        let start = (span.start_ns as f64).max(x0);
        let stop = span.end_ns.map_or(x1, |e| e as f64).min(x1);
        if start >= stop {
            continue;
        }
        let rect = Rectangle::new(
            [(start, strip_low), (stop, strip_high)],
            span_color(span.kind).mix(0.55).filled(),
        );
        frame.plot.draw_series(std::iter::once(rect)).map_err(err)?;
        let (px, py) = frame.px(start, strip_high);
        let style = frame.style(10.0).anchor(HPos::Left, VPos::Top).color(INK);
        frame.text(span.kind.label(), (px + 3, py + 2), style)?;
    }
    clock_line(frame, report, node, (x0, x1), (strip_low, strip_high))?;
    let (px, py) = frame.px(x0, y);
    frame.text(
        node,
        (px - 8, py),
        frame.style(13.0).anchor(HPos::Right, VPos::Center).bold(),
    )?;
    Ok(())
}

/// The node's clock offset across the window, as a line in the status strip scaled to the
/// largest offset of any node, and as a label.
fn clock_line<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    report: &Report,
    node: &str,
    (x0, x1): (f64, f64),
    (low, high): (f64, f64),
) -> Out {
    let Some(series) = report.timeline.clocks.iter().find(|c| c.node == node) else {
        return Ok(());
    };
    let scale = report
        .timeline
        .clocks
        .iter()
        .flat_map(|c| c.points.iter().map(|(_, o)| o.unsigned_abs()))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mid = (low + high) / 2.0;
    let offset_at = |t: f64| -> i64 {
        let position = series.points.partition_point(|(pt, _)| (*pt as f64) <= t);
        series.points[position.saturating_sub(1)].1
    };
    let mut points = vec![(x0, offset_at(x0))];
    points.extend(
        series
            .points
            .iter()
            .filter(|(t, _)| (*t as f64) > x0 && (*t as f64) < x1)
            .map(|(t, o)| (*t as f64, *o)),
    );
    points.push((x1, offset_at(x1)));
    let half = (high - low) * 0.4;
    let line = points
        .iter()
        .map(|(t, o)| (*t, mid + *o as f64 / scale * half));
    frame
        .plot
        .draw_series(LineSeries::new(
            line,
            RGBColor(120, 60, 160).stroke_width(2),
        ))
        .map_err(err)?;
    let (px, py) = frame.px(x0, mid);
    let text = format!("clock {}", signed(offset_at(x0)));
    frame.text(
        text,
        (px - 8, py),
        frame
            .style(10.0)
            .anchor(HPos::Right, VPos::Center)
            .color(RGBColor(120, 60, 160)),
    )
}

/// A message line: from, to, and whether it was dropped.
type Arrow = ((f64, f64), (f64, f64), bool);

/// Arrows from each send to its delivery; drops end in a cross. A send is paired with the
/// first later delivery or drop of the same digest on the same link.
fn messages<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    lanes: &Lanes,
    events: &[WindowEvent],
    (x0, x1): (f64, f64),
) -> Out {
    let mut pending: BTreeMap<(String, String, u64), VecDeque<f64>> = BTreeMap::new();
    let mut arrows: Vec<Arrow> = Vec::new();
    let mut crosses: Vec<(f64, f64)> = Vec::new();
    let nudge = (x1 - x0) * 0.006;
    for event in events {
        let Some(digest) = event.digest else { continue };
        let t = event.t_ns as f64;
        match event.kind.as_str() {
            "send" | "duplicate" => pending
                .entry((event.node.clone(), event.peer.clone(), digest))
                .or_default()
                .push_back(t),
            "deliver" => {
                let key = (event.peer.clone(), event.node.clone(), digest);
                let sent = pending
                    .get_mut(&key)
                    .and_then(|q| q.pop_front())
                    .unwrap_or(x0);
                if let (Some(a), Some(b)) = (lanes.y(&event.peer), lanes.y(&event.node)) {
                    arrows.push(((sent, a), (t, b), false));
                }
            }
            "drop" => {
                let key = (event.node.clone(), event.peer.clone(), digest);
                let sent = pending.get_mut(&key).and_then(|q| q.pop_front());
                if let (Some(a), Some(b)) = (lanes.y(&event.node), lanes.y(&event.peer)) {
                    // Dropped at the sender (a cut link) or on arrival (in flight, or down).
                    let end = match sent {
                        Some(s) if (t - s).abs() < 1.0 => (s + nudge, a + (b - a) * 0.3),
                        _ => (t, b),
                    };
                    arrows.push(((sent.unwrap_or(x0), a), end, true));
                    crosses.push(end);
                }
            }
            _ => {}
        }
    }
    for ((from, to, _), sends) in pending {
        if let (Some(a), Some(b)) = (lanes.y(&from), lanes.y(&to)) {
            arrows.extend(
                sends
                    .into_iter()
                    .map(|s| ((s, a), (x1, a + (b - a) * 0.5), false)),
            );
        }
    }
    let paths = arrows.iter().map(|(a, b, dropped)| {
        let color = if *dropped {
            ALARM.mix(0.8)
        } else {
            SERIES[0].mix(0.55)
        };
        PathElement::new(vec![*a, *b], color.stroke_width(1))
    });
    frame.plot.draw_series(paths).map_err(err)?;
    let heads = arrows
        .iter()
        .filter(|(_, _, d)| !d)
        .map(|(_, b, _)| Circle::new(*b, 2, SERIES[0].filled()));
    frame.plot.draw_series(heads).map_err(err)?;
    let xs = crosses
        .into_iter()
        .map(|c| Cross::new(c, 5, ALARM.stroke_width(2)));
    frame.plot.draw_series(xs).map_err(err)?;
    Ok(())
}

/// Client requests and replies, notes, resumes and faults.
fn marks<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    lanes: &Lanes,
    events: &[WindowEvent],
) -> Out {
    let (y0, y1) = (frame.y.start, frame.y.end);
    for event in events {
        let t = event.t_ns as f64;
        let y = lanes.y(&event.node);
        match (event.kind.as_str(), y) {
            ("request", Some(y)) => {
                draw_one(frame, TriangleMarker::new((t, y), 5, SETTLE.filled()))?
            }
            ("reply", Some(y)) => draw_one(frame, Circle::new((t, y), 3, SETTLE.filled()))?,
            ("request-lost" | "client-timeout", Some(y)) => {
                draw_one(frame, TriangleMarker::new((t, y), 5, ALARM.filled()))?
            }
            ("annotation", Some(y)) => {
                draw_one(frame, Circle::new((t, y + 0.14), 5, SERIES[4].filled()))?
            }
            ("resume", Some(y)) => draw_one(
                frame,
                Circle::new((t, y), 4, span_color(SpanKind::Paused).filled()),
            )?,
            ("fault" | "settle-start", _) => {
                let line = DashedLineSeries::new(
                    vec![(t, y0), (t, y1)],
                    3,
                    3,
                    INK.mix(0.6).stroke_width(1),
                );
                frame.plot.draw_series(line).map_err(err)?;
                let (px, py) = frame.px(t, y0);
                let text: String = event.text.chars().take(48).collect();
                frame.text(text, (px + 3, py - 10), frame.style(10.0).color(INK))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn draw_one<DB: DrawingBackend, E>(frame: &mut Frame<'_, DB>, element: E) -> Out
where
    for<'b> &'b E: PointCollection<'b, (f64, f64)>,
    E: Drawable<DB>,
{
    frame
        .plot
        .draw_series(std::iter::once(element))
        .map_err(err)
        .map(|_| ())
}

// ----- client history ---------------------------------------------------------------------------

/// Height of one client's row in the history chart: its bar and a line of labels above and
/// below it, so that two flagged operations close together can both be labelled.
const HISTORY_ROW_PX: u32 = 50;
/// Half the height of an operation's bar, in rows.
const BAR_HALF_ROWS: f64 = 0.22;
/// Half the height of an offending operation's outline, in rows.
const OUTLINE_HALF_ROWS: f64 = 0.27;
/// Room above the top row and below the bottom one, in rows: the outline and a line of labels.
const HISTORY_MARGIN_ROWS: f64 = 0.6;

fn history<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    report: &Report,
    font: Option<&'static FontArc>,
) -> Drawn {
    let window = &report.history;
    let title = Chart::History.title();
    let rows = window.clients.len().max(1);
    if window.ops.is_empty() {
        let frame = Frame::new(root, font, title, (0.0..1.0, 0.0..1.0), 56)?;
        frame.empty("no operations")?;
        return Ok(frame.layout());
    }
    let start = window.ops.iter().map(|o| o.invoke_ns).min().unwrap_or(0) as f64;
    let stop = window
        .ops
        .iter()
        .map(|o| o.complete_ns.unwrap_or(o.invoke_ns))
        .max()
        .unwrap_or(0) as f64;
    let pad = ((stop - start) * 0.02).max(1_000_000.0);
    let (x0, x1) = (start - pad, stop + pad);
    let y_range = -HISTORY_MARGIN_ROWS..(rows as f64 - 1.0 + HISTORY_MARGIN_ROWS);
    let mut frame = Frame::new(root, font, title, (x0..x1, y_range), 56)?;
    frame.grid_x(&ticks(x0, x1, 8), ns)?;
    let row = |client: &str| -> f64 {
        let index = window.clients.iter().position(|c| c == client).unwrap_or(0);
        (rows - 1 - index) as f64
    };
    for (i, client) in window.clients.iter().enumerate() {
        let (px, py) = frame.px(x0, (rows - 1 - i) as f64);
        frame.text(
            client.clone(),
            (px - 8, py),
            frame.style(12.0).anchor(HPos::Right, VPos::Center).bold(),
        )?;
    }
    // The focus label is placed first so that the operations' labels make way for it; its
    // line is drawn last, over the bars.
    if let Some(focus) = &report.focus {
        frame.marker_label(focus.at_ns as f64, ALARM, "focus")?;
    }
    for op in &window.ops {
        let y = row(&op.client);
        let end = op
            .complete_ns
            .map_or(x1, |c| c as f64)
            .max(op.invoke_ns as f64 + (x1 - x0) / 1500.0);
        history_bar(&mut frame, op, y, end)?;
    }
    if let Some(focus) = &report.focus {
        frame.marker_line(focus.at_ns as f64, ALARM)?;
    }
    frame.legend(&[
        ("ok read".to_string(), RGBColor(120, 170, 230)),
        ("ok write".to_string(), RGBColor(110, 190, 120)),
        ("failed".to_string(), RGBColor(190, 190, 190)),
        ("unknown".to_string(), RGBColor(250, 180, 70)),
        ("offending".to_string(), ALARM),
    ])?;
    Ok(frame.layout())
}

/// One operation's bar from invoke to `end` on row `y`; an offending one is outlined and
/// labelled above its bar, else below it, sliding left to stay inside the plot.
fn history_bar<DB: DrawingBackend>(
    frame: &mut Frame<'_, DB>,
    op: &crate::ops::OpBar,
    y: f64,
    end: f64,
) -> Out {
    let fill = match (op.outcome.as_str(), op.kind.as_str()) {
        ("ok", "get") => RGBColor(120, 170, 230),
        ("ok", _) => RGBColor(110, 190, 120),
        ("fail", _) => RGBColor(190, 190, 190),
        _ => RGBColor(250, 180, 70),
    };
    let color = if op.flag.is_some() { ALARM } else { fill };
    let corners = [
        (op.invoke_ns as f64, y - BAR_HALF_ROWS),
        (end, y + BAR_HALF_ROWS),
    ];
    draw_one(frame, Rectangle::new(corners, color.mix(0.85).filled()))?;
    let Some(flag) = op.flag.as_deref() else {
        return Ok(());
    };
    let outline = [
        (op.invoke_ns as f64, y - OUTLINE_HALF_ROWS),
        (end, y + OUTLINE_HALF_ROWS),
    ];
    draw_one(
        frame,
        Rectangle::new(outline, RGBColor(120, 0, 0).stroke_width(2)),
    )?;
    let (px, above) = frame.px(op.invoke_ns as f64, y + OUTLINE_HALF_ROWS);
    let (_, below) = frame.px(op.invoke_ns as f64, y - OUTLINE_HALF_ROWS);
    let spots = [
        ((px, above - 2), HPos::Left, VPos::Bottom),
        ((px, below + 2), HPos::Left, VPos::Top),
    ];
    let style = frame.style(10.0).color(ALARM);
    frame.place(&format!("{} {flag}", op.op), &spots, style, true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let t = ticks(0.0, 10.0, 5);
        assert_eq!(t, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = ticks(3.0, 3.0, 5);
        assert_eq!(t, vec![3.0]);
    }
}
