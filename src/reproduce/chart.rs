//! The chart each reproduction writes as `NAME.svg`: one or more panels of lines and points,
//! measured beside published or expected, drawn with plotters' SVG backend.
//!
//! Text goes through the report charts' label style (`reports::text`) without a font: the SVG
//! backend writes each label as a `<text>` element and the browser picks the face. Axes, grids
//! and legends are drawn by hand for the same reason: plotters' own mesh labels need a font at
//! run time. Tick placement is the report charts' too (`reports::charts::ticks`).

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::BackendCoord;
use reports::charts::{ticks, GRID, INK, MUTED, SERIES};
use reports::text::LabelStyle;
use std::ops::Range;

/// Width of every chart, in pixels.
const WIDTH_PX: u32 = 960;
/// Height of one panel, in pixels.
const PANEL_HEIGHT_PX: u32 = 380;
/// Room above the first panel for the figure's title.
const TITLE_HEIGHT_PX: u32 = 34;
/// Room right of each plot for the legend.
const LEGEND_WIDTH_PX: u32 = 230;

/// A whole chart: a title over panels stacked top to bottom.
#[derive(Clone, Debug, Default)]
pub struct Figure {
    /// The title over the panels.
    pub title: String,
    /// The panels, top first.
    pub panels: Vec<Panel>,
}

/// One plot with its axes.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    /// The panel's own title.
    pub title: String,
    /// What the x axis measures, with its unit.
    pub x_label: String,
    /// What the y axis measures, with its unit.
    pub y_label: String,
    /// Draw x on a log scale (values must be positive).
    pub x_log: bool,
    /// The curves and point sets.
    pub series: Vec<Series>,
    /// Shaded horizontal bands (an acceptance band), drawn under the series.
    pub bands: Vec<Band>,
    /// Fixed y range; None fits the data.
    pub y_range: Option<(f64, f64)>,
}

/// One curve or set of points.
#[derive(Clone, Debug)]
pub struct Series {
    /// Its legend entry.
    pub name: String,
    /// The points, in x order for lines.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
    /// Index into the palette; a measured curve and its reference share one.
    pub color: usize,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A solid line.
    Line,
    /// A dashed line (published or expected values).
    Dashed,
    /// Filled dots.
    Points,
    /// Hollow dots (published or expected values).
    Rings,
}

/// A shaded y range across the panel.
#[derive(Clone, Debug)]
pub struct Band {
    /// Its legend entry.
    pub name: String,
    /// Lower and upper y.
    pub y: (f64, f64),
}

const BAND: RGBColor = RGBColor(120, 200, 120);

/// The figure as an SVG document.
pub fn svg(figure: &Figure) -> Result<String, String> {
    let panels = figure.panels.len().max(1) as u32;
    let size = (WIDTH_PX, TITLE_HEIGHT_PX + PANEL_HEIGHT_PX * panels);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        text(
            &root,
            &figure.title,
            (12, 18),
            LabelStyle::new(16.0, None).bold(),
        )?;
        let body = root.margin(TITLE_HEIGHT_PX, 0, 0, 0);
        let areas = body.split_evenly((panels as usize, 1));
        for (panel, area) in figure.panels.iter().zip(&areas) {
            draw_panel(area, panel)?;
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn err<E: std::fmt::Debug>(error: E) -> String {
    format!("{error:?}")
}

type Plot<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn draw_panel(area: &DrawingArea<SVGBackend<'_>, Shift>, panel: &Panel) -> Result<(), String> {
    let x_of = |x: f64| if panel.x_log { libm::log10(x) } else { x };
    let (x, y) = ranges(panel, &x_of);
    let mut plot: Plot = ChartBuilder::on(area)
        .margin_top(50)
        .margin_bottom(44)
        .margin_left(74)
        .margin_right(LEGEND_WIDTH_PX)
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(err)?;
    text(
        area,
        &panel.title,
        (74, 14),
        LabelStyle::new(13.0, None).bold(),
    )?;
    for band in &panel.bands {
        let rectangle = Rectangle::new(
            [(x.start, band.y.0), (x.end, band.y.1)],
            BAND.mix(0.25).filled(),
        );
        plot.draw_series(std::iter::once(rectangle)).map_err(err)?;
    }
    grid(area, &mut plot, panel, (&x, &y))?;
    for series in &panel.series {
        let color = SERIES[series.color % SERIES.len()];
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .filter(|(px, py)| px.is_finite() && py.is_finite() && (!panel.x_log || *px > 0.0))
            .map(|(px, py)| (x_of(*px), *py))
            .collect();
        match series.style {
            Style::Line => plot
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map(|_| ()),
            Style::Dashed => plot
                .draw_series(DashedLineSeries::new(points, 7, 4, color.stroke_width(2)))
                .map(|_| ()),
            Style::Points => plot
                .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map(|_| ()),
            Style::Rings => plot
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new(*p, 6, color.stroke_width(2))),
                )
                .map(|_| ()),
        }
        .map_err(err)?;
    }
    legend(area, panel)
}

/// The x and y ranges that hold every point and band, with a little room.
fn ranges(panel: &Panel, x_of: &dyn Fn(f64) -> f64) -> (Range<f64>, Range<f64>) {
    let points = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite() && (!panel.x_log || *x > 0.0));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points {
        let x = x_of(*x);
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(*y), y1.max(*y));
    }
    for band in &panel.bands {
        (y0, y1) = (y0.min(band.y.0), y1.max(band.y.1));
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if y0 > y1 {
        (y0, y1) = (0.0, 1.0);
    }
    if let Some((lo, hi)) = panel.y_range {
        (y0, y1) = (lo, hi);
    } else {
        y0 = y0.min(0.0);
        y1 += (y1 - y0).max(1e-9) * 0.05;
    }
    let pad = (x1 - x0).max(1e-9) * 0.03;
    let x0 = if !panel.x_log && x0 >= 0.0 {
        (x0 - pad).max(0.0)
    } else {
        x0 - pad
    };
    (x0..x1 + pad, y0..y1)
}

fn grid(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    plot: &mut Plot<'_>,
    panel: &Panel,
    (x, y): (&Range<f64>, &Range<f64>),
) -> Result<(), String> {
    let muted = LabelStyle::new(11.0, None).color(MUTED);
    // The plot answers in pixels of the whole drawing; labels are drawn on this panel's area.
    let (base_x, base_y) = area.get_base_pixel();
    let at = |plot: &Plot<'_>, x: f64, y: f64| {
        let (px, py) = plot.backend_coord(&(x, y));
        (px - base_x, py - base_y)
    };
    for tick in ticks(y.start, y.end, 6) {
        let line = PathElement::new(vec![(x.start, tick), (x.end, tick)], GRID);
        plot.draw_series(std::iter::once(line)).map_err(err)?;
        let (px, py) = at(plot, x.start, tick);
        let style = muted.anchor(HPos::Right, VPos::Center);
        text(area, &number(tick), (px - 6, py), style)?;
    }
    let x_ticks: Vec<(f64, f64)> = if panel.x_log {
        log_ticks(x.start, x.end)
    } else {
        ticks(x.start, x.end, 8)
            .into_iter()
            .map(|t| (t, t))
            .collect()
    };
    for (position, value) in x_ticks {
        let line = PathElement::new(vec![(position, y.start), (position, y.end)], GRID);
        plot.draw_series(std::iter::once(line)).map_err(err)?;
        let (px, py) = at(plot, position, y.start);
        let style = muted.anchor(HPos::Center, VPos::Top);
        text(area, &number(value), (px, py + 6), style)?;
    }
    let frame = PathElement::new(
        vec![(x.start, y.end), (x.start, y.start), (x.end, y.start)],
        INK,
    );
    plot.draw_series(std::iter::once(frame)).map_err(err)?;
    let (left, bottom) = at(plot, x.start, y.start);
    let (right, top) = at(plot, x.end, y.end);
    let axis = LabelStyle::new(12.0, None).color(INK);
    text(
        area,
        &panel.x_label,
        ((left + right) / 2, bottom + 24),
        axis.anchor(HPos::Center, VPos::Top),
    )?;
    text(
        area,
        &panel.y_label,
        (left - 60, top - 14),
        axis.anchor(HPos::Left, VPos::Center),
    )
}

fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, panel: &Panel) -> Result<(), String> {
    let (width, _) = area.dim_in_pixel();
    let x = width as i32 - LEGEND_WIDTH_PX as i32 + 16;
    let mut y = 60;
    for band in &panel.bands {
        let swatch = Rectangle::new([(x, y - 5), (x + 18, y + 5)], BAND.mix(0.35).filled());
        area.draw(&swatch).map_err(err)?;
        text(
            area,
            &band.name,
            (x + 24, y),
            LabelStyle::new(11.0, None).color(INK),
        )?;
        y += 18;
    }
    for series in &panel.series {
        let color = SERIES[series.color % SERIES.len()];
        match series.style {
            Style::Line => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    color.stroke_width(2),
                ))
                .map_err(err)?,
            Style::Dashed => {
                for start in [x, x + 11] {
                    let dash =
                        PathElement::new(vec![(start, y), (start + 7, y)], color.stroke_width(2));
                    area.draw(&dash).map_err(err)?;
                }
            }
            Style::Points => area
                .draw(&Circle::new((x + 9, y), 4, color.filled()))
                .map_err(err)?,
            Style::Rings => area
                .draw(&Circle::new((x + 9, y), 6, color.stroke_width(2)))
                .map_err(err)?,
        }
        text(
            area,
            &series.name,
            (x + 24, y),
            LabelStyle::new(11.0, None).color(INK),
        )?;
        y += 18;
    }
    Ok(())
}

/// Ticks of a log axis whose range is [lo, hi] in log10 units: (position, value) at 1, 2 and
/// 5 times each power of ten.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut power = libm::pow(10.0, libm::floor(lo));
    while libm::log10(power) <= hi {
        for m in [1.0, 2.0, 5.0] {
            let value = power * m;
            let at = libm::log10(value);
            if at >= lo && at <= hi {
                out.push((at, value));
            }
        }
        power *= 10.0;
    }
    out
}

/// A tick label: few digits, no trailing zeros.
fn number(value: f64) -> String {
    let magnitude = value.abs();
    let text = if magnitude >= 100.0 || value == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Draws `label` at pixel `at` of `area` with `style` (no font: the SVG viewer picks the face).
fn text(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    label: &str,
    at: BackendCoord,
    style: LabelStyle,
) -> Result<(), String> {
    reports::text::label(area, label, at, style).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_draws_its_labels_as_svg_text_without_a_font() {
        let figure = Figure {
            title: "Split votes".into(),
            panels: vec![Panel {
                title: "measured against the closed form".into(),
                x_label: "closed form (%)".into(),
                y_label: "measured (%)".into(),
                series: vec![Series {
                    name: "measured".into(),
                    points: vec![(1.0, 1.1), (10.0, 9.8)],
                    style: Style::Points,
                    color: 0,
                }],
                bands: vec![Band {
                    name: "band".into(),
                    y: (2.0, 3.0),
                }],
                ..Panel::default()
            }],
        };
        let out = svg(&figure).expect("draws");
        assert!(out.starts_with("<svg"), "{}", &out[..40]);
        // The backend writes each label on a line of its own inside its <text> element.
        assert!(out.contains("\nSplit votes\n</text>"));
        assert!(out.contains("\nmeasured (%)\n</text>"));
        assert!(out.contains("<circle"));
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(number(150.0), "150");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(0.0), "0");
        let linear = ticks(0.0, 1.0, 5);
        assert_eq!(linear.len(), 6);
        assert_eq!(number(linear[3]), "0.6");
        let log = log_ticks(1.0, 3.0);
        assert_eq!(log.first().map(|t| t.1), Some(10.0));
        assert_eq!(log.last().map(|t| t.1), Some(1_000.0));
    }
}
