//! The memory model behind `srgan-run --tile auto`: how much a run may give the runtime's
//! intermediate tensors once the process's base and the image's own buffers are paid for,
//! and so how large a tile window may be.
//!
//! Per image: `max_memory - BASE_MEMORY_BYTES - image_memory_bytes(image)` bounds the window
//! at the model's bytes per LR pixel (from its architecture,
//! [`srgan_contract::Architecture::window_bytes_per_pixel`]; a foreign model is costed as a
//! 64-channel one). The tiler ([`crate::tiling`]) then picks the cheapest grid whose windows
//! fit ([`TileConfig::max_window_pixels`]). Every product is checked: values come from model
//! files and command lines.

use image::DynamicImage;
use srgan_contract::architecture::window_bytes_per_pixel;
use srgan_runtimes::ModelInfo;

use crate::tiling::{default_tile_pad, TileConfig, MIN_CORE};

/// Default `--max-memory`, MiB.
pub const DEFAULT_MAX_MEMORY_MIB: u64 = 1536;

/// What srgan-run holds before any image (the ONNX Runtime library, the session, the
/// weights of a paper-size model): measured 160 MiB peak for a whole run of a 0-block model.
pub const BASE_MEMORY_BYTES: u64 = 160 << 20;

/// The feature channels assumed for a model whose metadata has no architecture (SRResNet's
/// and RRDBNet's usual width).
pub const FOREIGN_MODEL_CHANNELS: usize = 64;

/// Why a memory budget cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The budget cannot hold even the smallest tile.
    #[error(
        "{max_memory_mib} MiB is too small for a x{scale} model of {channels} channels: a \
         {MIN_CORE}x{MIN_CORE} tile with its {tile_pad}-pixel context needs about {need_mib} MiB"
    )]
    TooSmall {
        /// The budget given, MiB.
        max_memory_mib: u64,
        /// The model's scale.
        scale: usize,
        /// The model's channels (or the assumed ones).
        channels: usize,
        /// The tile pad.
        tile_pad: usize,
        /// What the smallest tile needs, MiB.
        need_mib: u64,
    },
    /// This image's own buffers leave no room for even the smallest tile under the budget.
    #[error(
        "a {width}x{height} image needs at least {need_mib} MiB with this model ({own_mib} MiB \
         for the image itself, the rest for the smallest tile): --max-memory {max_memory_mib} \
         is too small; pass --max-memory {need_mib} or more"
    )]
    ImageTooLarge {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// What the image takes by itself, MiB.
        own_mib: u64,
        /// The least budget that runs it, MiB.
        need_mib: u64,
        /// The budget given, MiB.
        max_memory_mib: u64,
    },
    /// The model's figures overflow the arithmetic (a crafted model).
    #[error("a x{scale} model of {channels} channels with a {tile_pad}-pixel tile pad is too large to cost")]
    Overflow {
        /// The model's scale.
        scale: usize,
        /// The model's channels.
        channels: usize,
        /// The tile pad.
        tile_pad: usize,
    },
}

/// The tile pad to use: `explicit` (`--tile-pad`) if given; else the model's
/// ([`default_tile_pad`]). The second value says whether tiles are exact (`true` for an
/// explicit pad: the user chose), and, when they may not be, the model's radius if it gave
/// one, so callers can warn.
pub fn resolve_tile_pad(explicit: Option<usize>, info: &ModelInfo) -> (usize, PadSource) {
    match explicit {
        Some(p) => (p, PadSource::Exact),
        None => {
            let d = default_tile_pad(info);
            let source = match (d.from_model, d.effective, d.radius) {
                (true, false, _) => PadSource::Exact,
                (true, true, radius) => PadSource::Effective { radius },
                (false, _, Some(radius)) => PadSource::Capped { radius },
                (false, _, None) => PadSource::Fallback,
            };
            (d.pad, source)
        }
    }
}

/// Where a tile pad came from, for the warning about seams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadSource {
    /// `--tile-pad`, or the model's exact receptive-field radius.
    Exact,
    /// The model's measured effective radius (`srgan.effective_radius`): tiles stay within
    /// its measured tolerance.
    Effective {
        /// The exact radius, when the model gives one.
        radius: Option<usize>,
    },
    /// The model's radius is larger than [`crate::tiling::MAX_DEFAULT_PAD`]; seams may show.
    Capped {
        /// The model's radius.
        radius: usize,
    },
    /// The model gives no radius; seams may show.
    Fallback,
}

/// How each image is tiled: the same [`TileConfig`] for every image (`--tile N`), or a
/// window budget per image (`--tile auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tiling {
    /// The same tiling for every image.
    Fixed(TileConfig),
    /// Windows whose intermediate tensors fit in what `max_memory` leaves after
    /// [`BASE_MEMORY_BYTES`] and the image's own buffers ([`image_memory_bytes`]); never
    /// smaller than a [`MIN_CORE`] tile with its context.
    Budget {
        /// Context around each tile.
        tile_pad: usize,
        /// The budget, bytes.
        max_memory: u64,
        /// The model's estimate per LR pixel of a window.
        window_bytes_per_pixel: u64,
        /// The model's scale.
        scale: usize,
    },
}

impl Tiling {
    /// A fixed tiling: cores of at most `tile` LR pixels per side (0: each image whole).
    pub fn fixed(tile: usize, tile_pad: usize) -> Self {
        Self::Fixed(TileConfig {
            tile,
            tile_pad,
            max_window_pixels: 0,
        })
    }

    /// A per-image budget of `max_memory_mib` for a model. Errs when the budget cannot hold
    /// even a [`MIN_CORE`]-pixel tile with its context on top of the base, or when the
    /// model's figures overflow.
    pub fn budget(
        max_memory_mib: u64,
        tile_pad: usize,
        info: &ModelInfo,
        scale: usize,
    ) -> Result<Self, BudgetError> {
        let channels = info
            .architecture
            .as_ref()
            .map_or(FOREIGN_MODEL_CHANNELS, |a| a.channels());
        let overflow = BudgetError::Overflow {
            scale,
            channels,
            tile_pad,
        };
        // The architecture's own estimate when the model names one (RRDBNet's widest tensor,
        // the dense concatenation, is not what dominates its memory; SRVGGNetCompact's
        // largest tensors are on the LR grid); else the SRResNet-like figure.
        let per_pixel = match &info.architecture {
            Some(a) => a.window_bytes_per_pixel(),
            None => window_bytes_per_pixel(channels, scale),
        }
        .ok_or(overflow.clone())?;
        let side = tile_pad
            .checked_mul(2)
            .and_then(|p| p.checked_add(MIN_CORE))
            .and_then(|s| u64::try_from(s).ok())
            .ok_or(overflow.clone())?;
        let need = side
            .checked_mul(side)
            .and_then(|px| px.checked_mul(per_pixel))
            .and_then(|b| b.checked_add(BASE_MEMORY_BYTES))
            .ok_or(overflow)?
            .div_ceil(1 << 20);
        let max_memory = max_memory_mib.saturating_mul(1 << 20);
        if max_memory_mib < need {
            return Err(BudgetError::TooSmall {
                max_memory_mib,
                scale,
                channels,
                tile_pad,
                need_mib: need,
            });
        }
        Ok(Self::Budget {
            tile_pad,
            max_memory,
            window_bytes_per_pixel: per_pixel,
            scale,
        })
    }

    /// The tiling of one decoded image. Under a budget, an image whose own buffers leave no
    /// room for the smallest tile is an error that gives the least budget that would do
    /// (rather than a run in the smallest tiles that is many times slower and over the
    /// budget all the same).
    pub fn for_image(&self, image: &DynamicImage) -> Result<TileConfig, BudgetError> {
        let scale = match *self {
            Self::Fixed(_) => 1,
            Self::Budget { scale, .. } => scale,
        };
        self.for_size(
            image.width(),
            image.height(),
            image_memory_bytes(image, scale),
        )
    }

    /// [`Tiling::for_image`] for an image of `width` x `height` whose own buffers (decoded,
    /// tensor, output: [`image_memory_bytes`]) take `own` bytes.
    pub fn for_size(&self, width: u32, height: u32, own: u64) -> Result<TileConfig, BudgetError> {
        match *self {
            Self::Fixed(c) => Ok(c),
            Self::Budget {
                tile_pad,
                max_memory,
                window_bytes_per_pixel,
                ..
            } => {
                let left = max_memory.saturating_sub(BASE_MEMORY_BYTES.saturating_add(own));
                // Checked when the budget was made: the smallest window fits in usize.
                let smallest = (MIN_CORE + 2 * tile_pad).pow(2);
                let fits = usize::try_from(left / window_bytes_per_pixel).unwrap_or(usize::MAX);
                if fits < smallest {
                    let need = BASE_MEMORY_BYTES
                        .saturating_add(own)
                        .saturating_add((smallest as u64).saturating_mul(window_bytes_per_pixel));
                    return Err(BudgetError::ImageTooLarge {
                        width,
                        height,
                        own_mib: own.div_ceil(1 << 20),
                        need_mib: need.div_ceil(1 << 20),
                        max_memory_mib: max_memory >> 20,
                    });
                }
                Ok(TileConfig {
                    tile: 0,
                    tile_pad,
                    max_window_pixels: fits,
                })
            }
        }
    }
}

/// What one image takes besides the model's intermediates, in bytes: the decoded image, its
/// f32 LR tensor, the output image (same channels and depth, `scale`^2 the pixels) and about
/// half of it again for the PNG encoder (measured: a 2048x2048 photo x4 through a model with
/// negligible intermediates peaks at 414 MiB with PNG output, 321 MiB with JPEG). Saturates
/// instead of overflowing.
pub fn image_memory_bytes(image: &DynamicImage, scale: usize) -> u64 {
    let decoded = image.as_bytes().len() as u64;
    let pixels = u64::from(image.width()) * u64::from(image.height());
    let tensor = pixels.saturating_mul(12);
    let s = scale as u64;
    let output = decoded.saturating_mul(s.saturating_mul(s));
    decoded
        .saturating_add(tensor)
        .saturating_add(output)
        .saturating_add(output / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiling::FALLBACK_TILE_PAD;
    use srgan_contract::{Architecture, GeneratorConfig};

    fn info_of(cfg: GeneratorConfig) -> ModelInfo {
        ModelInfo::for_architecture(&Architecture::from(cfg), Default::default(), None)
    }

    #[test]
    fn tile_pad_resolution() {
        let mut info = ModelInfo::default();
        assert_eq!(resolve_tile_pad(Some(3), &info), (3, PadSource::Exact));
        assert_eq!(
            resolve_tile_pad(None, &info),
            (FALLBACK_TILE_PAD, PadSource::Fallback)
        );
        let cfg = GeneratorConfig::new(1, 8, 4);
        info.architecture = Some(cfg.clone().into());
        assert_eq!(
            resolve_tile_pad(None, &info),
            (cfg.receptive_field_radius(), PadSource::Exact)
        );
        info.receptive_field_radius = Some(7);
        assert_eq!(resolve_tile_pad(None, &info), (7, PadSource::Exact));
        info.receptive_field_radius = Some(349);
        assert_eq!(
            resolve_tile_pad(None, &info),
            (
                crate::tiling::MAX_DEFAULT_PAD,
                PadSource::Capped { radius: 349 }
            )
        );
    }

    #[test]
    fn budget_is_costed_from_the_architecture() {
        // Paper model: 12 * 64 * 16 bytes per LR pixel.
        let info = info_of(GeneratorConfig::paper());
        let t = Tiling::budget(1536, 40, &info, 4).unwrap();
        assert!(matches!(
            t,
            Tiling::Budget {
                window_bytes_per_pixel: 12288,
                ..
            }
        ));
        // A narrower model gets larger windows from the same budget.
        let narrow =
            Tiling::budget(1536, 40, &info_of(GeneratorConfig::new(16, 16, 4)), 4).unwrap();
        let img = DynamicImage::new_rgb8(1000, 1000);
        assert!(
            narrow.for_image(&img).unwrap().max_window_pixels
                > t.for_image(&img).unwrap().max_window_pixels
        );
        // Every architecture is costed by its own estimate: RRDBNet 23x64 like SRResNet 64
        // wide (12 KB at x4; ort measured 12-14 KB), not by its 192-channel concatenation;
        // SRVGGNetCompact by its LR-grid tensors (12 * 64 + 36 * 16 bytes).
        for (arch, want) in [
            (
                Architecture::from(srgan_contract::RrdbConfig::x4plus()),
                12288,
            ),
            (srgan_contract::SrVggConfig::new(16, 64, 4).into(), 1344),
        ] {
            let info = ModelInfo::for_architecture(&arch, Default::default(), None);
            let t = Tiling::budget(1536, 40, &info, 4).unwrap();
            assert!(
                matches!(t, Tiling::Budget { window_bytes_per_pixel, .. } if window_bytes_per_pixel == want),
                "{t:?}"
            );
        }
    }

    #[test]
    fn too_small_and_overflowing_budgets_are_errors() {
        let info = info_of(GeneratorConfig::paper());
        let e = Tiling::budget(100, 40, &info, 4).unwrap_err();
        assert!(
            matches!(e, BudgetError::TooSmall { need_mib, .. } if need_mib > 100),
            "{e}"
        );
        let e = Tiling::budget(1536, usize::MAX, &info, 4).unwrap_err();
        assert!(matches!(e, BudgetError::Overflow { .. }), "{e}");
        let e = Tiling::budget(1536, 8, &ModelInfo::default(), usize::MAX).unwrap_err();
        assert!(matches!(e, BudgetError::Overflow { .. }), "{e}");
        // A huge budget saturates: every image runs whole.
        let t = Tiling::budget(u64::MAX, 8, &info, 4).unwrap();
        let img = DynamicImage::new_rgb8(100, 100);
        assert!(t.for_image(&img).unwrap().max_window_pixels >= 100 * 100);
    }
}
