//! Upscaling an image tensor tile by tile through any [`Upscaler`], so that the memory the
//! runtime needs is bounded by the tile, not by the image.
//!
//! The image is cut into a grid of cores of at most `tile` x `tile` LR pixels (balanced, so
//! the last row and column are not slivers). Each core is run with `tile_pad` pixels of
//! context on every side, clamped to the image, and only the upscaled core is handed to a
//! [`TileSink`], which writes it straight into the final output (an f32 array, or the 8/16-bit
//! output image in [`crate::pipeline`]). Windows all have the same size where the image
//! allows it (a window that would cross an edge is shifted inwards instead of shrunk), so a
//! runtime that plans per input shape (tract, TensorRT) plans once.
//!
//! Why it is exact: an output pixel depends only on LR pixels within the model's receptive
//! field radius `r` (zero padding at the image's edges). When `tile_pad >= r`, every core
//! pixel sees in its window exactly what it sees in the whole image: the window either
//! extends `r` pixels beyond the core or ends at the image's edge, where the zero padding is
//! the same. So the tiled output equals the untiled one up to float rounding.
//! [`default_tile_pad`] takes `r` from the model's metadata.

use ndarray::{s, Array4, ArrayView4, ArrayViewMut4};
use srgan_runtimes::{check_input, ModelInfo, RuntimeError, Upscaler};

/// The tile pad used when a model's metadata does not give its receptive-field radius.
pub const FALLBACK_TILE_PAD: usize = 16;

/// How to cut an image into tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileConfig {
    /// Largest core, in LR pixels per side; 0: no limit. Default: 0.
    pub tile: usize,
    /// Context added on each side of a core, in LR pixels (clamped to the image). Default:
    /// [`FALLBACK_TILE_PAD`]; use [`default_tile_pad`] for a model.
    pub tile_pad: usize,
    /// Largest window (core plus context) the runtime is given, in LR pixels (height x
    /// width); 0: no limit. Default: 0. With a limit, the grid is the one that computes the
    /// fewest pixels among those whose windows fit: the whole image when it fits, else tiles
    /// as large as the limit allows, shaped to the image. It bounds the runtime's memory,
    /// which grows with the window's area (see [`crate::budget`]).
    pub max_window_pixels: usize,
}

impl Default for TileConfig {
    fn default() -> Self {
        Self {
            tile: 0,
            tile_pad: FALLBACK_TILE_PAD,
            max_window_pixels: 0,
        }
    }
}

/// The smallest core [`TileConfig::max_window_pixels`] is expected to allow, per side: below
/// it the context around each core dominates the work.
pub const MIN_CORE: usize = 16;

/// The largest receptive-field radius used as a tile pad by default, in LR pixels. A larger
/// exact radius (RRDBNet's is 349 for 23 blocks) would make every window mostly context:
/// with `--tile 24`, a 24-pixel core in a 722-pixel window. Such models get this pad and
/// a warning that seams may show; `--tile-pad` or `--tile 0` override it.
pub const MAX_DEFAULT_PAD: usize = 64;

/// The default tile pad for a model, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultTilePad {
    /// The pad: the receptive-field radius; else the measured effective radius
    /// (`srgan.effective_radius`) when the exact one is over [`MAX_DEFAULT_PAD`] or unknown;
    /// else [`MAX_DEFAULT_PAD`] (radius too large) or [`FALLBACK_TILE_PAD`] (none given).
    pub pad: usize,
    /// `true` when the pad comes from the model: its exact radius (tiles equal the whole
    /// image) or its measured effective radius (tiles within the measured tolerance);
    /// `false` when it is capped or the fallback, so callers can warn that seams may show.
    pub from_model: bool,
    /// The model's exact receptive-field radius, when its metadata gives one.
    pub radius: Option<usize>,
    /// `true` when the pad is the measured effective radius.
    pub effective: bool,
}

/// The tile pad for this model: its exact receptive-field radius (`srgan.receptive_field_radius`,
/// else computed from `srgan.architecture`) when at most [`MAX_DEFAULT_PAD`]; else its
/// measured effective radius (`srgan.effective_radius`, written by `srgan-pad`); else
/// [`MAX_DEFAULT_PAD`] for a larger exact radius, or [`FALLBACK_TILE_PAD`] when the metadata
/// says nothing (a foreign model), both flagged `from_model: false`.
pub fn default_tile_pad(info: &ModelInfo) -> DefaultTilePad {
    let radius = info.radius();
    let d = |pad, from_model, effective| DefaultTilePad {
        pad,
        from_model,
        radius,
        effective,
    };
    match (radius, info.effective_radius) {
        (Some(r), _) if r <= MAX_DEFAULT_PAD => d(r, true, false),
        (_, Some(e)) => d(e, true, true),
        (Some(_), None) => d(MAX_DEFAULT_PAD, false, false),
        (None, None) => d(FALLBACK_TILE_PAD, false, false),
    }
}

/// Errors of tiled upscaling.
#[derive(Debug, thiserror::Error)]
pub enum TilingError {
    /// The runtime failed or rejected the input.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The runtime returned a tile of an unexpected shape.
    #[error(
        "{runtime}: tile {input:?} came back as {output:?}, expected [N, 3, H*{scale}, W*{scale}]"
    )]
    TileShape {
        /// The runtime's name.
        runtime: String,
        /// The tile's input shape.
        input: Vec<usize>,
        /// The shape returned.
        output: Vec<usize>,
        /// The runtime's scale.
        scale: usize,
    },
    /// The model produced NaN or an infinity: a broken model or broken weights. Nothing is
    /// written from such an output.
    #[error(
        "the model's output holds {value} (at HR row {y}, column {x}): a broken model or weights"
    )]
    NonFinite {
        /// The first non-finite value.
        value: f32,
        /// Its HR row.
        y: usize,
        /// Its HR column.
        x: usize,
    },
    /// The sink refused a tile (e.g. an image sink given a batch of more than one).
    #[error("cannot store tile: {reason}")]
    Sink {
        /// Why.
        reason: String,
    },
}

/// [`TilingError::NonFinite`] at the first NaN or infinity of a core placed at HR `(y, x)`.
pub fn check_finite(y: usize, x: usize, core: &ArrayView4<'_, f32>) -> Result<(), TilingError> {
    match core.indexed_iter().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some(((_, _, dy, dx), v)) => Err(TilingError::NonFinite {
            value: *v,
            y: y + dy,
            x: x + dx,
        }),
    }
}

/// Receives upscaled tile cores. Implemented by [`Array4<f32>`] (the full f32 output) and by
/// the image sink of [`crate::pipeline`], which quantises into the final image.
pub trait TileSink {
    /// Stores `core`, of shape `[N, 3, h, w]`, at HR row `y` and column `x`.
    fn put(&mut self, y: usize, x: usize, core: ArrayView4<'_, f32>) -> Result<(), TilingError>;
}

impl TileSink for ArrayViewMut4<'_, f32> {
    fn put(&mut self, y: usize, x: usize, core: ArrayView4<'_, f32>) -> Result<(), TilingError> {
        check_finite(y, x, &core)?;
        let (_, _, h, w) = core.dim();
        let (_, _, oh, ow) = self.dim();
        if y + h > oh || x + w > ow || core.dim().0 != self.dim().0 {
            return Err(TilingError::Sink {
                reason: format!(
                    "core {:?} at ({y}, {x}) does not fit in {:?}",
                    core.shape(),
                    self.shape()
                ),
            });
        }
        self.slice_mut(s![.., .., y..y + h, x..x + w]).assign(&core);
        Ok(())
    }
}

impl TileSink for Array4<f32> {
    fn put(&mut self, y: usize, x: usize, core: ArrayView4<'_, f32>) -> Result<(), TilingError> {
        self.view_mut().put(y, x, core)
    }
}

/// One tile: the core `[y0, y1) x [x0, x1)` and the window `[wy0, wy1) x [wx0, wx1)` that is
/// run (LR pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Core rows.
    pub core_y: (usize, usize),
    /// Core columns.
    pub core_x: (usize, usize),
    /// Window rows.
    pub win_y: (usize, usize),
    /// Window columns.
    pub win_x: (usize, usize),
}

/// Cuts one axis of length `len` into `n` balanced cores (fewer when `n` cores of
/// `ceil(len / n)` cover it) and their windows.
fn plan_axis(len: usize, n: usize, pad: usize) -> Vec<((usize, usize), (usize, usize))> {
    if len == 0 {
        return Vec::new();
    }
    let core = len.div_ceil(n.clamp(1, len));
    let n = len.div_ceil(core);
    let win = (core + 2 * pad).min(len);
    (0..n)
        .map(|i| {
            let c0 = i * core;
            let c1 = ((i + 1) * core).min(len);
            // Fixed-size window, shifted inwards at the edges (see the module docs).
            let w0 = c0.saturating_sub(pad).min(len - win);
            ((c0, c1), (w0, w0 + win))
        })
        .filter(|((c0, c1), _)| c0 < c1)
        .collect()
}

/// One way to cut an axis: `n` cores, `tiles` windows of `win` pixels each.
#[derive(Debug, Clone, Copy)]
struct AxisCut {
    n: usize,
    tiles: usize,
    win: usize,
}

/// The fewest cores of at most `tile` pixels (0: any) that cover `len` pixels.
fn min_cores(len: usize, tile: usize) -> usize {
    if tile == 0 || len == 0 {
        1
    } else {
        len.div_ceil(tile.min(len))
    }
}

/// Every distinct cut of an axis of `len` pixels into cores of at most `tile` (0: any),
/// from the fewest cores to one pixel per core.
fn axis_cuts(len: usize, tile: usize, pad: usize) -> Vec<AxisCut> {
    let mut cuts: Vec<AxisCut> = Vec::new();
    for n in min_cores(len, tile)..=len {
        let core = len.div_ceil(n);
        if cuts.last().is_some_and(|c| len.div_ceil(c.n) == core) {
            continue;
        }
        cuts.push(AxisCut {
            n,
            tiles: len.div_ceil(core),
            win: (core + 2 * pad).min(len),
        });
    }
    cuts
}

/// Cores per axis `(rows, columns)` for an `h` x `w` image: the fewest that satisfy `tile`,
/// then, under [`TileConfig::max_window_pixels`], the grid computing the fewest pixels whose
/// windows fit (the finest grid when none does).
fn choose_grid(h: usize, w: usize, cfg: TileConfig) -> (usize, usize) {
    if cfg.max_window_pixels == 0 || h == 0 || w == 0 {
        return (min_cores(h, cfg.tile), min_cores(w, cfg.tile));
    }
    let ys = axis_cuts(h, cfg.tile, cfg.tile_pad);
    let xs = axis_cuts(w, cfg.tile, cfg.tile_pad);
    let mut best: Option<(usize, usize, usize)> = None;
    for y in &ys {
        for x in &xs {
            if y.win * x.win > cfg.max_window_pixels {
                continue;
            }
            let cost = y.tiles * y.win * x.tiles * x.win;
            if best.is_none_or(|(c, _, _)| cost < c) {
                best = Some((cost, y.n, x.n));
            }
        }
    }
    match best {
        Some((_, ny, nx)) => (ny, nx),
        None => (h, w),
    }
}

/// The tiles for an `h` x `w` LR image, row by row.
pub fn plan_tiles(h: usize, w: usize, cfg: TileConfig) -> Vec<Tile> {
    let (ny, nx) = choose_grid(h, w, cfg);
    let ys = plan_axis(h, ny, cfg.tile_pad);
    let xs = plan_axis(w, nx, cfg.tile_pad);
    let mut tiles = Vec::with_capacity(ys.len() * xs.len());
    for &(core_y, win_y) in &ys {
        for &(core_x, win_x) in &xs {
            tiles.push(Tile {
                core_y,
                core_x,
                win_y,
                win_x,
            });
        }
    }
    tiles
}

/// Upscales `input` (`[N, 3, H, W]`, RGB in [0, 1]) tile by tile, handing each upscaled core
/// to `sink` at its HR position. Tiles are visited row by row, so `progress(done, total)` is
/// called after each.
pub fn upscale_tiled_into<S: TileSink + ?Sized>(
    upscaler: &mut dyn Upscaler,
    input: ArrayView4<'_, f32>,
    cfg: TileConfig,
    sink: &mut S,
    mut progress: impl FnMut(usize, usize),
) -> Result<(), TilingError> {
    check_input(&input)?;
    let (_, _, h, w) = input.dim();
    let scale = upscaler.scale();
    let tiles = plan_tiles(h, w, cfg);
    // A model that takes its input in blocks (RRDBNet x2 / x1: pixel-unshuffle by 2 / 4)
    // sees a window through the blocks that start at the window's origin; the whole image
    // is seen through those starting at 0. A window starting off that grid (an odd image's
    // last window) would compute another function, so each window starts on it: moved back
    // by less than a block, it keeps its core.
    let multiple = upscaler
        .info()
        .architecture
        .as_ref()
        .map_or(1, |a| a.input_multiple())
        .max(1);
    for (i, t) in tiles.iter().enumerate() {
        let t = Tile {
            win_y: (t.win_y.0 - t.win_y.0 % multiple, t.win_y.1),
            win_x: (t.win_x.0 - t.win_x.0 % multiple, t.win_x.1),
            ..*t
        };
        let window = input.slice(s![.., .., t.win_y.0..t.win_y.1, t.win_x.0..t.win_x.1]);
        // A contiguous copy of the window only (a view when it is the whole image).
        let window = window.as_standard_layout();
        let out = upscaler.upscale(window.view())?;
        let (wn, _, wh, ww) = window.dim();
        if out.dim() != (wn, 3, wh * scale, ww * scale) {
            return Err(TilingError::TileShape {
                runtime: upscaler.name().to_string(),
                input: window.shape().to_vec(),
                output: out.shape().to_vec(),
                scale,
            });
        }
        let oy = (t.core_y.0 - t.win_y.0) * scale;
        let ox = (t.core_x.0 - t.win_x.0) * scale;
        let ch = (t.core_y.1 - t.core_y.0) * scale;
        let cw = (t.core_x.1 - t.core_x.0) * scale;
        let core = out.slice(s![.., .., oy..oy + ch, ox..ox + cw]);
        sink.put(t.core_y.0 * scale, t.core_x.0 * scale, core)?;
        progress(i + 1, tiles.len());
    }
    Ok(())
}

/// Upscales `input` tile by tile into a new f32 array `[N, 3, H*s, W*s]`.
pub fn upscale_tiled(
    upscaler: &mut dyn Upscaler,
    input: ArrayView4<'_, f32>,
    cfg: TileConfig,
) -> Result<Array4<f32>, TilingError> {
    let (n, _, h, w) = input.dim();
    let s = upscaler.scale();
    let mut out = Array4::<f32>::zeros((n, 3, h * s, w * s));
    upscale_tiled_into(upscaler, input, cfg, &mut out, |_, _| {})?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use srgan_testkit::fixtures::pattern;
    use srgan_testkit::mock::BlurNearest;

    fn max_diff(a: &Array4<f32>, b: &Array4<f32>) -> f64 {
        assert_eq!(a.shape(), b.shape());
        srgan_testkit::max_abs_diff(a.as_slice().unwrap(), b.as_slice().unwrap())
    }

    /// The axis plan for cores of at most `tile` (0: one core).
    fn axis_for_tile(len: usize, tile: usize, pad: usize) -> Vec<((usize, usize), (usize, usize))> {
        plan_axis(len, min_cores(len, tile), pad)
    }

    #[test]
    fn tiles_cover_the_image_once_with_enough_context() {
        for (len, tile, pad) in [(10, 3, 2), (7, 7, 1), (100, 32, 5), (5, 0, 3), (9, 4, 0)] {
            let axis = axis_for_tile(len, tile, pad);
            let mut next = 0;
            let win = axis[0].1 .1 - axis[0].1 .0;
            for &((c0, c1), (w0, w1)) in &axis {
                assert_eq!(c0, next);
                next = c1;
                assert_eq!(w1 - w0, win, "windows share one size");
                assert!(w0 <= c0 && c1 <= w1 && w1 <= len);
                assert!(c0 - w0 >= pad.min(c0), "{len} {tile} {pad}: {axis:?}");
                assert!(w1 - c1 >= pad.min(len - c1), "{len} {tile} {pad}: {axis:?}");
                if tile > 0 {
                    assert!(c1 - c0 <= tile);
                }
            }
            assert_eq!(next, len);
        }
        // Balanced: 600 in tiles of at most 512 is two cores of 300.
        let a = axis_for_tile(600, 512, 10);
        assert_eq!(
            a.iter().map(|t| t.0).collect::<Vec<_>>(),
            [(0, 300), (300, 600)]
        );
    }

    /// The exactness argument at the top of this file, on a model with a known receptive field
    /// (real exported models: `tests/integration/tiling.rs`).
    #[test]
    fn tiled_equals_untiled_when_pad_covers_the_receptive_field() {
        for blurs in [1, 2, 3] {
            let mut m = BlurNearest::new(2, blurs);
            let x = pattern(2, 19, 23);
            let whole = m.upscale(x.view()).unwrap();
            let pad = default_tile_pad(m.info()).pad;
            assert_eq!(pad, blurs, "the pad comes from the metadata");
            for tile in [1, 3, 4, 5, 7, 10, 16, 64] {
                let cfg = TileConfig {
                    tile,
                    tile_pad: pad,
                    ..TileConfig::default()
                };
                let tiled = upscale_tiled(&mut m, x.view(), cfg).unwrap();
                let d = max_diff(&whole, &tiled);
                assert!(d < 1e-6, "tile {tile}, blurs {blurs}: {d}");
            }
            // The property is not vacuous: too little context shows at the seams.
            let cfg = TileConfig {
                tile: 4,
                tile_pad: blurs - 1,
                ..TileConfig::default()
            };
            let tiled = upscale_tiled(&mut m, x.view(), cfg).unwrap();
            assert!(max_diff(&whole, &tiled) > 1e-3, "blurs {blurs}");
        }
    }

    #[test]
    fn tile_zero_runs_the_whole_image_once() {
        let mut m = BlurNearest::new(4, 1);
        let x = pattern(1, 9, 6);
        let y = upscale_tiled(&mut m, x.view(), TileConfig::default()).unwrap();
        assert_eq!(m.calls, vec![vec![1, 3, 9, 6]]);
        assert_eq!(y.dim(), (1, 3, 36, 24));
    }

    #[test]
    fn windows_share_one_shape() {
        let mut m = BlurNearest::new(2, 1);
        let x = pattern(1, 40, 50);
        let cfg = TileConfig {
            tile: 16,
            tile_pad: 3,
            ..TileConfig::default()
        };
        upscale_tiled(&mut m, x.view(), cfg).unwrap();
        assert!(m.calls.len() > 4);
        assert!(m.calls.iter().all(|c| c == &m.calls[0]), "{:?}", m.calls);
    }

    #[test]
    fn default_pad_comes_from_the_metadata() {
        let m = BlurNearest::new(2, 3);
        assert_eq!(
            default_tile_pad(m.info()),
            DefaultTilePad {
                pad: 3,
                from_model: true,
                radius: Some(3),
                effective: false,
            }
        );
        assert_eq!(
            default_tile_pad(&ModelInfo::default()),
            DefaultTilePad {
                pad: FALLBACK_TILE_PAD,
                from_model: false,
                radius: None,
                effective: false,
            }
        );
        // A radius too large to pad with (RRDBNet 23 blocks: 349) is capped, not exact.
        let mut info = ModelInfo {
            receptive_field_radius: Some(349),
            ..ModelInfo::default()
        };
        assert_eq!(
            default_tile_pad(&info),
            DefaultTilePad {
                pad: MAX_DEFAULT_PAD,
                from_model: false,
                radius: Some(349),
                effective: false,
            }
        );
        // A measured effective radius replaces the cap, and serves a foreign model too.
        info.effective_radius = Some(53);
        assert_eq!(
            default_tile_pad(&info),
            DefaultTilePad {
                pad: 53,
                from_model: true,
                radius: Some(349),
                effective: true,
            }
        );
        info.receptive_field_radius = None;
        assert_eq!(default_tile_pad(&info).pad, 53);
        // An exact radius small enough wins over a measured one.
        info.receptive_field_radius = Some(18);
        assert_eq!(default_tile_pad(&info).pad, 18);
    }

    #[test]
    fn bad_input_shape_is_an_error() {
        let mut m = BlurNearest::new(2, 1);
        let x = Array4::<f32>::zeros((1, 4, 5, 5));
        assert!(matches!(
            upscale_tiled(&mut m, x.view(), TileConfig::default()),
            Err(TilingError::Runtime(RuntimeError::InputShape { .. }))
        ));
    }

    #[test]
    fn a_window_budget_runs_a_fitting_image_whole() {
        let mut m = BlurNearest::new(2, 1);
        let x = pattern(1, 30, 20);
        let cfg = TileConfig {
            tile_pad: 1,
            max_window_pixels: 600,
            ..TileConfig::default()
        };
        upscale_tiled(&mut m, x.view(), cfg).unwrap();
        assert_eq!(m.calls, vec![vec![1, 3, 30, 20]]);
    }

    #[test]
    fn a_window_budget_bounds_every_window_and_keeps_the_output() {
        let mut m = BlurNearest::new(2, 2);
        let x = pattern(1, 37, 23);
        let whole = m.upscale(x.view()).unwrap();
        for budget in [60, 150, 400, 850] {
            m.calls.clear();
            let cfg = TileConfig {
                tile_pad: 2,
                max_window_pixels: budget,
                ..TileConfig::default()
            };
            let tiled = upscale_tiled(&mut m, x.view(), cfg).unwrap();
            assert!(m.calls.len() > 1, "budget {budget}: 37x23 does not fit");
            for c in &m.calls {
                assert!(c[2] * c[3] <= budget, "budget {budget}: window {c:?}");
            }
            assert!(max_diff(&whole, &tiled) < 1e-6, "budget {budget}");
        }
    }

    #[test]
    fn a_window_budget_picks_the_cheapest_grid() {
        let pad = 40;
        // The 2048x2048 photo of BENCHMARKS.md under a budget of 296x296 windows.
        let budget = 296 * 296;
        let cfg = TileConfig {
            tile_pad: pad,
            max_window_pixels: budget,
            ..TileConfig::default()
        };
        let computed = |ny: usize, nx: usize| {
            let (y, x) = (plan_axis(2048, ny, pad), plan_axis(2048, nx, pad));
            let (wy, wx) = (y[0].1 .1 - y[0].1 .0, x[0].1 .1 - x[0].1 .0);
            (y.len() * wy * x.len() * wx, wy * wx)
        };
        let tiles = plan_tiles(2048, 2048, cfg);
        let t = &tiles[0];
        let area = (t.win_y.1 - t.win_y.0) * (t.win_x.1 - t.win_x.0);
        assert!(area <= budget && area > budget * 3 / 4, "window {t:?}");
        let (ny, nx) = choose_grid(2048, 2048, cfg);
        assert_eq!(ny * nx, tiles.len());
        let best = computed(ny, nx).0;
        // Any other grid whose windows fit computes at least as many pixels.
        for ny in 1..40 {
            for nx in 1..40 {
                let (c, area) = computed(ny, nx);
                if area <= budget {
                    assert!(c >= best, "{ny}x{nx} computes {c} < {best}");
                }
            }
        }
        // A long strip is cut along its length only.
        let strip = plan_tiles(64, 3000, cfg);
        assert!(strip.iter().all(|t| t.win_y == (0, 64)), "{:?}", strip[0]);
        // A budget nothing fits gives the finest grid rather than failing.
        let tiny = TileConfig {
            max_window_pixels: 10,
            ..cfg
        };
        assert_eq!(plan_tiles(3, 4, tiny).len(), 12);
        // A side limit still holds under a budget.
        let both = TileConfig { tile: 100, ..cfg };
        assert!(plan_tiles(2048, 2048, both)
            .iter()
            .all(|t| t.core_y.1 - t.core_y.0 <= 100 && t.core_x.1 - t.core_x.0 <= 100));
    }
}
