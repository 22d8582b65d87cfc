//! Text in charts. Every label goes through [`LabelStyle`], our own implementation of the
//! backend text-style trait: the SVG backend writes it as a `<text>` element and leaves the
//! font to the browser, so SVG needs no font on the machine that renders it; the bitmap
//! backend asks it to rasterize, which it does with ab_glyph from a TrueType font found on the
//! system (DejaVu Sans from Debian's fonts-dejavu-core first), or not at all when there is no
//! font: PNG charts are then drawn without text rather than not drawn.

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::drawing::DrawingArea;
use plotters::element::{Drawable, PointCollection};
use plotters::prelude::DrawingBackend;
use plotters::style::RGBColor;
use plotters_backend::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind, FontFamily, FontStyle,
    FontTransform,
};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Fonts tried first, in order: Debian's, then other distributions', macOS's and Windows's.
const FONT_PATHS: [&str; 9] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Folders searched, a few levels deep, when none of [`FONT_PATHS`] exists.
const FONT_DIRS: [&str; 2] = ["/usr/share/fonts", "/usr/local/share/fonts"];

static FONT: OnceLock<Option<(PathBuf, FontArc)>> = OnceLock::new();

/// The font PNG labels are drawn with: `FAULTLINE_FONT` if set, else the first of
/// [`FONT_PATHS`] that loads, else the first `*Sans*.ttf` (then any `.ttf`) under
/// [`FONT_DIRS`] in name order. None: PNG charts carry no text.
pub fn font() -> Option<&'static (PathBuf, FontArc)> {
    FONT.get_or_init(|| {
        let explicit = std::env::var_os("FAULTLINE_FONT").map(PathBuf::from);
        let known = FONT_PATHS.iter().map(PathBuf::from);
        let candidates = explicit.into_iter().chain(known).chain(scanned_fonts());
        candidates
            .filter_map(|path| {
                let bytes = std::fs::read(&path).ok()?;
                FontArc::try_from_vec(bytes).ok().map(|font| (path, font))
            })
            .next()
    })
    .as_ref()
}

fn scanned_fonts() -> impl Iterator<Item = PathBuf> {
    let mut found = Vec::new();
    for dir in FONT_DIRS {
        collect_ttf(Path::new(dir), 4, &mut found);
    }
    found.sort();
    // Sans-serif faces first: they read best at small sizes.
    let (sans, other): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|p| p.to_string_lossy().contains("Sans"));
    sans.into_iter().chain(other)
}

fn collect_ttf(dir: &Path, depth: u32, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth > 0 {
            collect_ttf(&path, depth - 1, found);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("ttf"))
        {
            found.push(path);
        }
    }
}

/// Never produced: text that cannot be drawn is skipped, not an error.
#[derive(Debug, Clone, Copy)]
pub struct NoTextError;

impl std::fmt::Display for NoTextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("text could not be drawn")
    }
}

impl std::error::Error for NoTextError {}

/// How a label looks.
#[derive(Clone, Copy)]
pub struct LabelStyle {
    /// Text height in pixels.
    pub px: f64,
    /// Its colour.
    pub color: RGBColor,
    /// Horizontal anchor.
    pub h: HPos,
    /// Vertical anchor.
    pub v: VPos,
    /// Bold or not.
    pub bold: bool,
    /// The font to rasterize with; None for SVG output, or when no font exists.
    pub font: Option<&'static FontArc>,
}

impl LabelStyle {
    /// Text `px` pixels high, dark grey, anchored at its left middle; `font` None leaves the
    /// face to an SVG viewer (and draws nothing on a bitmap).
    pub fn new(px: f64, font: Option<&'static FontArc>) -> Self {
        LabelStyle {
            px,
            color: RGBColor(40, 40, 40),
            h: HPos::Left,
            v: VPos::Center,
            bold: false,
            font,
        }
    }

    /// The same style anchored at another point of the text.
    pub fn anchor(mut self, h: HPos, v: VPos) -> Self {
        self.h = h;
        self.v = v;
        self
    }

    /// The same style in another colour.
    pub fn color(mut self, color: RGBColor) -> Self {
        self.color = color;
        self
    }

    /// The same style in bold.
    pub fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
}

impl BackendTextStyle for LabelStyle {
    type FontError = NoTextError;

    fn color(&self) -> BackendColor {
        BackendColor {
            alpha: 1.0,
            rgb: (self.color.0, self.color.1, self.color.2),
        }
    }

    fn size(&self) -> f64 {
        // The SVG backend writes size / 1.24 as the font size.
        self.px * 1.24
    }

    fn transform(&self) -> FontTransform {
        FontTransform::None
    }

    fn style(&self) -> FontStyle {
        if self.bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        }
    }

    fn anchor(&self) -> Pos {
        Pos::new(self.h, self.v)
    }

    fn family(&self) -> FontFamily<'_> {
        FontFamily::SansSerif
    }

    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), NoTextError> {
        let Some(font) = self.font else {
            let width = (self.px * 0.55 * text.chars().count() as f64) as i32;
            return Ok(((0, 0), (width, self.px as i32)));
        };
        let scaled = font.as_scaled(PxScale::from(self.px as f32));
        let width: f32 = text
            .chars()
            .map(|c| scaled.h_advance(scaled.glyph_id(c)))
            .sum();
        let height = scaled.ascent() - scaled.descent();
        Ok(((0, 0), (width.ceil() as i32, height.ceil() as i32)))
    }

    fn draw<E, DrawFunc: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        (x0, y0): BackendCoord,
        mut draw: DrawFunc,
    ) -> Result<Result<(), E>, NoTextError> {
        let Some(font) = self.font else {
            return Ok(Ok(()));
        };
        let scale = PxScale::from(self.px as f32);
        let scaled = font.as_scaled(scale);
        let mut caret = 0f32;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, scaled.ascent()));
            caret += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|x, y, coverage| pixels.push((x, y, coverage)));
            for (x, y, coverage) in pixels {
                if coverage <= 0.0 {
                    continue;
                }
                let color = BackendColor {
                    alpha: coverage.min(1.0) as f64,
                    rgb: (self.color.0, self.color.1, self.color.2),
                };
                let px = x0 + bounds.min.x as i32 + x as i32;
                let py = y0 + bounds.min.y as i32 + y as i32;
                if let Err(error) = draw(px, py, color) {
                    return Ok(Err(error));
                }
            }
        }
        Ok(Ok(()))
    }
}

/// A label at a pixel position of the whole drawing.
pub struct Label {
    /// What it says.
    pub text: String,
    /// Where, in pixels of the whole drawing.
    pub at: BackendCoord,
    /// How it looks.
    pub style: LabelStyle,
}

impl<'a> PointCollection<'a, BackendCoord> for &'a Label {
    type Point = &'a BackendCoord;
    type IntoIter = std::iter::Once<&'a BackendCoord>;
    fn point_iter(self) -> Self::IntoIter {
        std::iter::once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Label {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        match pos.next() {
            Some(at) => backend.draw_text(&self.text, &self.style, at),
            None => Ok(()),
        }
    }
}

/// Draws `text` at pixel `at` of `root`.
pub fn label<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: impl Into<String>,
    at: BackendCoord,
    style: LabelStyle,
) -> Result<(), plotters::drawing::DrawingAreaErrorKind<DB::ErrorType>> {
    root.draw(&Label {
        text: text.into(),
        at,
        style,
    })
}
