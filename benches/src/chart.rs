//! `bench.png`: achieved GFLOP/s per input shape, one bar per runtime and Python peer, the CPU
//! ceiling measured in the same run as a dashed line. A model whose architecture is unknown
//! (no FLOP count) is charted in output megapixels per second instead. Drawn with plotters
//! through [`srgan_charts`] (embedded font, no system font).

use srgan_charts::plotters::prelude::*;
use srgan_charts::plotters::style::text_anchor::{HPos, Pos, VPos};
use srgan_charts::{colour, house_mesh, text, Area, ChartError, DrawError, INK, REFERENCE};

use super::report::Report;

/// Size of the picture, in pixels.
pub const WIDTH: u32 = 1000;
/// Height of the picture, in pixels.
pub const HEIGHT: u32 = 600;

/// One bar colour: a runtime or a peer, its value per group (`None` where not measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry, e.g. `ort-cpu` or `onnxruntime-python (py)`.
    pub name: String,
    /// Value per group.
    pub values: Vec<Option<f64>>,
}

/// What the chart shows, taken from a report.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// GFLOP/s (true) or output megapixels per second (false).
    pub flops: bool,
    /// The groups: (LR side, batch), in the order measured.
    pub groups: Vec<(usize, usize)>,
    /// The bars.
    pub series: Vec<Series>,
    /// The CPU ceiling in GFLOP/s, when charting GFLOP/s.
    pub ceiling: Option<f64>,
}

impl BarChart {
    /// The figures of a report: every runtime's and peer's p50 rate per shape.
    pub fn from_report(rep: &Report) -> Self {
        let flops = rep.results.iter().any(|c| c.gflops.is_some());
        let metric = |gflops: Option<f64>, mpix: f64| if flops { gflops } else { Some(mpix) };
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for c in &rep.results {
            if !groups.contains(&(c.lr, c.batch)) {
                groups.push((c.lr, c.batch));
            }
        }
        let mut series: Vec<Series> = Vec::new();
        let mut push = |name: String, group: (usize, usize), v: Option<f64>| {
            let Some(gi) = groups.iter().position(|g| *g == group) else {
                return;
            };
            let idx = match series.iter().position(|s| s.name == name) {
                Some(i) => i,
                None => {
                    series.push(Series {
                        name,
                        values: vec![None; groups.len()],
                    });
                    series.len() - 1
                }
            };
            series[idx].values[gi] = v;
        };
        for c in &rep.results {
            push(
                c.runtime.clone(),
                (c.lr, c.batch),
                metric(c.gflops, c.out_mpix_per_s),
            );
        }
        if let Some(p) = &rep.peers {
            let scale = rep.model.scale.unwrap_or(0) as f64;
            for c in &p.model {
                let gflops = rep
                    .model
                    .gflop_lr64
                    .map(|g| g * (c.batch * c.lr * c.lr) as f64 / 4096.0 / c.summary.p50_s);
                let mpix = c.batch as f64 * (c.lr as f64 * scale).powi(2) / 1e6 / c.summary.p50_s;
                push(
                    format!("{} (py)", c.peer),
                    (c.lr, c.batch),
                    metric(gflops, mpix),
                );
            }
        }
        Self {
            flops,
            groups,
            series,
            ceiling: if flops { rep.ceiling.cpu_gflops } else { None },
        }
    }

    fn max(&self) -> f64 {
        self.series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .chain(self.ceiling)
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
    }
}

/// Draws the chart of a report as PNG bytes.
pub fn draw(rep: &Report) -> Result<Vec<u8>, ChartError> {
    let chart = BarChart::from_report(rep);
    // SRResNet (or unknown) keeps the title it always had.
    let network = match &rep.model.architecture {
        Some(srgan_export::Architecture::RrdbNet(_)) => "RRDBNet",
        Some(srgan_export::Architecture::SrVggCompact(_)) => "SRVGGNetCompact",
        _ => "SRGAN",
    };
    let title = format!(
        "srgan-bench: {network} x{}, {} per input shape ({} threads, {})",
        rep.model.scale.unwrap_or(0),
        if chart.flops {
            "achieved GFLOP/s"
        } else {
            "output Mpixel/s"
        },
        rep.threads,
        rep.date_utc.get(..10).unwrap_or("")
    );
    let footer = format!(
        "{} | commit {}",
        rep.model.description,
        rep.commit
            .as_deref()
            .map_or("unknown", |c| c.get(..12).unwrap_or(c))
    );
    render(&chart, &title, &footer)
}

/// Draws `chart` with a title and a footer line as PNG bytes.
pub fn render(chart: &BarChart, title: &str, footer: &str) -> Result<Vec<u8>, ChartError> {
    srgan_charts::render_png(WIDTH, HEIGHT, |root| draw_on(root, chart, title, footer))
}

fn draw_on(root: &Area<'_>, chart: &BarChart, title: &str, footer: &str) -> Result<(), DrawError> {
    let (main, foot) = root.split_vertically(HEIGHT - 30);
    foot.draw(&Text::new(footer.to_string(), (15, 6), text(14.0)))?;
    let max = chart.max();
    if chart.groups.is_empty() || chart.series.is_empty() || max <= 0.0 {
        let main = main.titled(title, text(22.0))?;
        return srgan_charts::message(&main, "no results");
    }
    let n = chart.groups.len();
    // Head room above the bars for the legend (one line per series and the ceiling).
    let entries = chart.series.len() + usize::from(chart.ceiling.is_some());
    let top = max * (1.2 + 0.07 * entries as f64);
    let mut cc = ChartBuilder::on(&main)
        .caption(title, text(22.0))
        .margin(15)
        .margin_right(25)
        .x_label_area_size(55)
        .y_label_area_size(75)
        .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
    let y_tick = |v: &f64| {
        if top >= 20.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    let y_desc = if chart.flops {
        "achieved throughput (GFLOP/s, at p50)"
    } else {
        "output (Mpixel/s, at p50)"
    };
    house_mesh(&mut cc.configure_mesh(), 15.0)
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("input shape (LR side in pixels, square; batch)")
        .y_desc(y_desc)
        .y_labels(8)
        .y_label_formatter(&y_tick)
        .draw()?;

    // Bars: each group leaves a tenth of its width free on either side.
    let bar_w = 0.8 / chart.series.len() as f64;
    for (si, s) in chart.series.iter().enumerate() {
        let c = colour(si);
        let bars = s.values.iter().enumerate().filter_map(|(gi, v)| {
            let v = (*v)?;
            let x0 = gi as f64 + 0.1 + si as f64 * bar_w;
            Some(Rectangle::new(
                [(x0 + bar_w * 0.05, 0.0), (x0 + bar_w * 0.95, v)],
                c.filled(),
            ))
        });
        cc.draw_series(bars)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], c.filled()));
        // The value above each bar.
        let labels = s.values.iter().enumerate().filter_map(|(gi, v)| {
            let v = (*v)?;
            let x = gi as f64 + 0.1 + (si as f64 + 0.5) * bar_w;
            Some(Text::new(
                fmt_value(v),
                (x, v),
                text(12.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))
        });
        cc.draw_series(labels)?;
    }
    if let Some(ceiling) = chart.ceiling {
        cc.draw_series(DashedLineSeries::new(
            [(0.0, ceiling), (n as f64, ceiling)],
            10,
            6,
            REFERENCE.stroke_width(2),
        ))?
        .label(format!("CPU ceiling ({} GFLOP/s)", fmt_value(ceiling)))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], REFERENCE.stroke_width(2)));
    }
    cc.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(INK)
        .label_font(text(14.0))
        .draw()?;

    // Group labels under the axis, at each group's centre.
    for (gi, &(lr, batch)) in chart.groups.iter().enumerate() {
        let (x, y) = cc.backend_coord(&(gi as f64 + 0.5, 0.0));
        let (ox, oy) = main.get_base_pixel();
        main.draw(&Text::new(
            format!("LR {lr}, batch {batch}"),
            (x - ox, y - oy + 8),
            text(15.0).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(())
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic() -> BarChart {
        BarChart {
            flops: true,
            groups: vec![(64, 1), (128, 1), (256, 1)],
            series: vec![
                Series {
                    name: "ort-cpu".into(),
                    values: vec![Some(180.0), Some(190.0), Some(185.0)],
                },
                Series {
                    name: "tract-cpu".into(),
                    values: vec![Some(90.0), None, Some(110.0)],
                },
                Series {
                    name: "onnxruntime-python (py)".into(),
                    values: vec![Some(175.0), Some(188.0), Some(186.0)],
                },
            ],
            ceiling: Some(230.0),
        }
    }

    #[test]
    fn bench_chart_renders_bars_legend_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.png");
        let png = render(&synthetic(), "test chart", "footer").unwrap();
        std::fs::write(&path, &png).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // The plot area holds the three bar colours, the ceiling's red, grid, ink, white.
        let n =
            srgan_charts::distinct_colours(&png, (100, 60), (WIDTH - 20, HEIGHT - 100)).unwrap();
        assert!(n >= 6, "only {n} colours in the plot area");
        for si in 0..3 {
            let c = colour(si);
            assert!(
                img.pixels().any(|p| p.0 == [c.0, c.1, c.2]),
                "no bar of series {si}"
            );
        }
        assert!(img
            .pixels()
            .any(|p| p.0 == [REFERENCE.0, REFERENCE.1, REFERENCE.2]));
        // The title is drawn in the top strip.
        let title = srgan_charts::distinct_colours(&png, (0, 0), (WIDTH, 40)).unwrap();
        assert!(title > 3, "no title");
    }

    #[test]
    fn empty_report_draws_a_message() {
        let chart = BarChart {
            flops: true,
            groups: vec![],
            series: vec![],
            ceiling: None,
        };
        let png = render(&chart, "empty", "footer").unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        assert!(!img
            .pixels()
            .any(|p| p.0 == [colour(0).0, colour(0).1, colour(0).2]));
    }
}
