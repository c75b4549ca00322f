//! The charts of srgan's tools — `srgan-bench`'s `bench.png` and `srgan-train`'s
//! `curves.png` — share this: [`plotters`] drawing into an in-memory RGB bitmap, text in
//! DejaVu Sans embedded in the binary (registered with plotters' `ab_glyph` text renderer, so
//! no system font is looked up and a machine with no fonts installed draws the same picture),
//! the PNG encoded by the workspace's `image`, a palette and text styles.
//!
//! [`render_png`] returns the bytes; the callers write them (atomically). Deployment crates
//! must not depend on this one.
#![deny(missing_docs)]

use std::sync::OnceLock;

pub use plotters;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The font family name the embedded font is registered under.
pub const FONT_FAMILY: &str = "sans-serif";

/// DejaVu Sans 2.37 (Bitstream Vera licence, see `assets/fonts/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The drawing area a chart is drawn on: the whole picture, in pixels.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// What drawing on an [`Area`] can fail with.
pub type DrawError =
    plotters::drawing::DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

/// Why a chart could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The embedded TTF could not be parsed (a corrupt build).
    #[error("the embedded font (DejaVu Sans, {bytes} bytes) cannot be loaded")]
    Font {
        /// Size of the embedded font file.
        bytes: usize,
    },
    /// A picture of no pixels, or one too large to allocate.
    #[error("invalid chart size {width}x{height}")]
    Size {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// plotters failed while drawing.
    #[error("cannot draw the chart")]
    Draw {
        /// plotters' error.
        #[source]
        source: DrawError,
    },
    /// The bitmap could not be encoded as PNG.
    #[error("cannot encode the chart as PNG")]
    Encode {
        /// The encoder's error.
        #[source]
        source: image::ImageError,
    },
}

impl From<DrawError> for ChartError {
    fn from(source: DrawError) -> Self {
        ChartError::Draw { source }
    }
}

/// Registers the embedded font under [`FONT_FAMILY`] (once per process).
pub fn register_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font {
            bytes: DEJAVU_SANS.len(),
        })
    }
}

/// Draws a `width` x `height` picture on a white background with `draw` and returns it as
/// PNG bytes.
pub fn render_png<F>(width: u32, height: u32, draw: F) -> Result<Vec<u8>, ChartError>
where
    F: FnOnce(&Area<'_>) -> Result<(), DrawError>,
{
    register_font()?;
    let len = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3))
        .filter(|&n| n > 0 && n <= 1 << 30)
        .ok_or(ChartError::Size { width, height })?;
    let mut buf = vec![0u8; len];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let img =
        image::RgbImage::from_raw(width, height, buf).ok_or(ChartError::Size { width, height })?;
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|source| ChartError::Encode { source })?;
    Ok(bytes)
}

/// Series colours (matplotlib's `tab10`, the colours the old hand-drawn charts used).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];

/// The colour of series `i` (the palette, cycled).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Text and axes.
pub const INK: RGBColor = RGBColor(30, 30, 30);
/// Light grid lines.
pub const GRID: RGBColor = RGBColor(225, 225, 225);
/// Reference lines (a ceiling, a baseline).
pub const REFERENCE: RGBColor = RGBColor(200, 40, 40);

/// The embedded font at `size` pixels, in [`INK`].
pub fn text(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&INK)
}

/// The house style of a chart's mesh: no minor lines, light major grid lines, [`INK`] axes,
/// tick labels at `label_size` and axis descriptions one pixel larger. Returns the mesh for
/// the chart's own descriptions and formatters.
pub fn house_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
    label_size: f64,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
    DB: DrawingBackend,
{
    mesh.light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(INK)
        .label_style(text(label_size))
        .axis_desc_style(text(label_size + 1.0))
}

/// A centred message in `area` (e.g. "no results").
pub fn message(area: &Area<'_>, what: &str) -> Result<(), DrawError> {
    let (w, h) = area.dim_in_pixel();
    let style = text(22.0).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ));
    area.draw(&Text::new(
        what.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
}

/// The number of distinct colours in the rectangle `[x0, x1) x [y0, y1)` of a PNG, for tests
/// of the charts ("is anything drawn there?"). `None` if the bytes are not an image.
pub fn distinct_colours(png: &[u8], (x0, y0): (u32, u32), (x1, y1): (u32, u32)) -> Option<usize> {
    let img = image::load_from_memory(png).ok()?.to_rgb8();
    let mut seen = std::collections::HashSet::new();
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            seen.insert(img.get_pixel(x, y).0);
        }
    }
    Some(seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_with_the_embedded_font() {
        let png = render_png(200, 60, |area| {
            area.draw(&Text::new("PSNR (dB)", (10, 20), text(24.0)))
        })
        .unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (200, 60));
        // Antialiased glyphs: ink, white and greys between them.
        let n = distinct_colours(&png, (0, 0), (200, 60)).unwrap();
        assert!(n > 5, "only {n} colours: no text drawn");
    }

    #[test]
    fn blank_picture_has_one_colour() {
        let png = render_png(50, 40, |_| Ok(())).unwrap();
        assert_eq!(distinct_colours(&png, (0, 0), (50, 40)), Some(1));
    }

    #[test]
    fn empty_size_is_an_error() {
        assert!(matches!(
            render_png(0, 10, |_| Ok(())),
            Err(ChartError::Size { .. })
        ));
    }
}
