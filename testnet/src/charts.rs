//! SVG charts for `tim testnet bench`: empirical CDFs and scaling curves.
//!
//! Drawn with plotters' SVG backend only: SVG text is laid out by the viewer, so no font files
//! or font libraries are needed (plotters estimates text widths for layout). Every chart is
//! 800×500 and copes with empty series, single points, zeros and non-finite values:
//! non-finite values are dropped, and on a logarithmic axis values at or below zero are clamped
//! to a small positive floor.

use std::ops::Range;
use std::path::Path;

use anyhow::Context as _;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Width and height of every chart, in pixels.
const SIZE: (u32, u32) = (800, 500);
/// Most points drawn per CDF curve; longer series are drawn through this many quantiles.
const MAX_CDF_POINTS: usize = 1000;
/// A log axis is used for CDFs whose largest value exceeds the smallest by this factor.
const LOG_RATIO: f64 = 100.0;
/// Floor of a log axis when no value is positive.
const LOG_FLOOR: f64 = 1e-3;
const FONT: &str = "sans-serif";

/// Tableau 10: distinct on white and for most colour-blind readers.
const PALETTE: [RGBColor; 10] = [
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

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws empirical CDFs, one coloured line per series with a legend, into an SVG file at `path`.
///
/// The x axis is the value (for example a latency in ms), logarithmic when the largest value is
/// more than 100 times the smallest positive one; the y axis is the fraction of values at or
/// below x, from 0 to 1.
pub fn cdf(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[(String, Vec<f64>)],
) -> anyhow::Result<()> {
    let sorted: Vec<(String, Vec<f64>)> = series
        .iter()
        .map(|(name, values)| {
            let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            (name.clone(), v)
        })
        .collect();
    let all = || sorted.iter().flat_map(|(_, v)| v.iter().copied());
    let (lo, hi) = bounds(all());
    let min_positive = all().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
    let log_x = min_positive.is_finite() && hi / min_positive > LOG_RATIO;
    let (x_lo, x_hi) = if log_x {
        log_range(min_positive, hi)
    } else {
        (lo, hi)
    };
    let curves: Vec<(String, Vec<(f64, f64)>)> = sorted
        .iter()
        .map(|(name, v)| {
            let pts = cdf_points(v)
                .into_iter()
                .map(|(x, y)| (if log_x { x.max(x_lo) } else { x }, y))
                .collect();
            (name.clone(), pts)
        })
        .collect();
    let style = Style {
        title,
        x_label,
        y_label: "fraction of values ≤ x",
        points: false,
        legend: SeriesLabelPosition::LowerRight,
    };
    draw(path, |root| {
        if log_x {
            plot(root, &style, (x_lo..x_hi).log_scale(), 0.0..1.0, &curves)
        } else {
            plot(root, &style, linear_range(x_lo, x_hi), 0.0..1.0, &curves)
        }
    })
}

/// Draws curves with points (for example a figure against the number of nodes), one coloured
/// line per series with a legend, into an SVG file at `path`; `log_y` makes the y axis
/// logarithmic.
pub fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) -> anyhow::Result<()> {
    let clean: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, pts)| {
            let mut p: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name.clone(), p)
        })
        .collect();
    let all = || clean.iter().flat_map(|(_, p)| p.iter().copied());
    let (x_lo, x_hi) = bounds(all().map(|(x, _)| x));
    let (y_lo, y_hi) = bounds(all().map(|(_, y)| y));
    let style = Style {
        title,
        x_label,
        y_label,
        points: true,
        legend: SeriesLabelPosition::UpperLeft,
    };
    draw(path, |root| {
        if log_y {
            let min_positive = all()
                .map(|(_, y)| y)
                .filter(|y| *y > 0.0)
                .fold(f64::INFINITY, f64::min);
            let (a, b) = log_range(min_positive, y_hi);
            let clamped: Vec<(String, Vec<(f64, f64)>)> = clean
                .iter()
                .map(|(n, p)| (n.clone(), p.iter().map(|&(x, y)| (x, y.max(a))).collect()))
                .collect();
            plot(
                root,
                &style,
                linear_range(x_lo, x_hi),
                (a..b).log_scale(),
                &clamped,
            )
        } else {
            // A quantity axis starts at zero unless values go below it.
            let y = linear_range(y_lo.min(0.0), y_hi);
            plot(root, &style, linear_range(x_lo, x_hi), y, &clean)
        }
    })
}

/// The labels of one chart of curves.
struct Style<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    /// Mark every data point, not only the line through them.
    points: bool,
    legend: SeriesLabelPosition,
}

/// Opens an 800×500 SVG at `path`, lets `body` draw on a white background, and writes the file.
fn draw(path: &Path, body: impl FnOnce(&Area<'_>) -> anyhow::Result<()>) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    body(&root).with_context(|| format!("drawing {}", path.display()))?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Draws `series` as lines (and points if asked) on the given axes, with a legend.
fn plot<X, Y>(
    root: &Area<'_>,
    style: &Style<'_>,
    x: X,
    y: Y,
    series: &[(String, Vec<(f64, f64)>)],
) -> anyhow::Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(style.title, (FONT, 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_desc(style.x_label)
        .y_desc(style.y_label)
        .axis_desc_style((FONT, 15))
        .draw()?;
    let mut labelled = false;
    for (i, (name, pts)) in series.iter().enumerate() {
        if pts.is_empty() {
            continue;
        }
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        labelled = true;
        if style.points || pts.len() == 1 {
            chart.draw_series(
                pts.iter()
                    .map(|&p| Circle::new(p, 3, c.filled()).into_dyn()),
            )?;
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .position(style.legend.clone())
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 14))
            .draw()?;
    }
    Ok(())
}

/// The points of the empirical CDF of sorted values: a step function, or the line through
/// [`MAX_CDF_POINTS`] quantiles for longer series.
fn cdf_points(sorted: &[f64]) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return vec![];
    }
    let frac = |i: usize| i as f64 / n as f64;
    if n <= MAX_CDF_POINTS {
        let mut pts = Vec::with_capacity(2 * n);
        for (i, &v) in sorted.iter().enumerate() {
            pts.push((v, frac(i)));
            pts.push((v, frac(i + 1)));
        }
        pts
    } else {
        (0..MAX_CDF_POINTS)
            .map(|k| {
                let i = k * (n - 1) / (MAX_CDF_POINTS - 1);
                (sorted[i], frac(i + 1))
            })
            .collect()
    }
}

/// Smallest and largest of the values, `(0, 1)` when there are none.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// A linear axis over `[lo, hi]` with 5% of room on each side (not below zero for values that
/// are all non-negative), or around the single value when `lo == hi`.
fn linear_range(lo: f64, hi: f64) -> Range<f64> {
    if hi > lo {
        let pad = (hi - lo) * 0.05;
        let start = if lo >= 0.0 {
            (lo - pad).max(0.0)
        } else {
            lo - pad
        };
        start..hi + pad
    } else if lo == 0.0 {
        0.0..1.0
    } else {
        let pad = lo.abs() * 0.5;
        lo - pad..hi + pad
    }
}

/// The ends of a log axis over `[lo, hi]`, widened a little, and by a factor of 2 each way
/// around a single value. `lo` is the smallest positive value (not finite when there is none:
/// the axis then starts at [`LOG_FLOOR`]). Values below the start are drawn at the start.
fn log_range(lo: f64, hi: f64) -> (f64, f64) {
    let lo = if lo.is_finite() && lo > 0.0 {
        lo
    } else {
        LOG_FLOOR
    };
    let hi = hi.max(lo);
    if hi > lo {
        (lo / 1.2, hi * 1.2)
    } else {
        (lo / 2.0, hi * 2.0)
    }
}

/// An axis tick label: like [`format_value`], in scientific notation below 0.001.
fn tick(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.0e}")
    } else {
        format_value(v)
    }
}

/// A value for a bar label: at most three significant decimals, no trailing zeros.
fn format_value(v: f64) -> String {
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(path: &Path, title: &str) -> String {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("<svg"), "{text}");
        assert!(text.trim_end().ends_with("</svg>"));
        assert!(text.len() > 1000, "only {} bytes", text.len());
        assert!(text.contains(title), "no title in {text}");
        text
    }

    #[test]
    fn cdf_linear_log_and_degenerate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lin.svg");
        let a: Vec<f64> = (1..=50).map(|i| i as f64).collect();
        cdf(&p, "Latency (linear)", "ms", &[("a".into(), a.clone())]).unwrap();
        let text = svg(&p, "Latency (linear)");
        assert!(text.contains("<polyline"));

        let p = dir.path().join("log.svg");
        let wide: Vec<f64> = (0..5000).map(|i| 0.01 * 1.002f64.powi(i)).collect();
        cdf(
            &p,
            "Latency & more <log>",
            "ms",
            &[
                ("wide".into(), wide),
                ("with zeros".into(), vec![0.0, 0.0, 5.0, 300.0, f64::NAN]),
                ("empty".into(), vec![]),
            ],
        )
        .unwrap();
        let text = svg(&p, "Latency &amp; more &lt;log&gt;");
        assert!(text.contains("with zeros") && text.contains("wide"));

        for (name, series) in [
            ("none", vec![]),
            ("empty", vec![("e".to_string(), vec![])]),
            ("single", vec![("one".to_string(), vec![3.0])]),
            ("zeros", vec![("z".to_string(), vec![0.0, 0.0])]),
        ] {
            let p = dir.path().join(format!("{name}.svg"));
            cdf(&p, &format!("CDF {name}"), "ms", &series).unwrap();
            svg(&p, &format!("CDF {name}"));
        }
    }

    #[test]
    fn lines_linear_log_and_degenerate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/lines.svg");
        let series = vec![
            (
                "p50".to_string(),
                vec![(2.0, 1.5), (4.0, 2.0), (8.0, 3.1), (16.0, 5.0)],
            ),
            (
                "p99".to_string(),
                vec![(16.0, 40.0), (2.0, 3.0), (8.0, 0.0)],
            ),
            ("empty".to_string(), vec![]),
        ];
        lines(&p, "Scaling", "nodes", "ms", &series, false).unwrap();
        svg(&p, "Scaling");
        let p = dir.path().join("log.svg");
        lines(&p, "Scaling log", "nodes", "ms", &series, true).unwrap();
        svg(&p, "Scaling log");
        for (name, series) in [
            ("none", vec![]),
            ("single", vec![("one".to_string(), vec![(1.0, 1.0)])]),
            ("zero", vec![("z".to_string(), vec![(0.0, 0.0)])]),
            (
                "neg",
                vec![("n".to_string(), vec![(1.0, -2.0), (2.0, 3.0)])],
            ),
        ] {
            for log_y in [false, true] {
                let p = dir.path().join(format!("{name}-{log_y}.svg"));
                lines(&p, &format!("Lines {name}"), "x", "y", &series, log_y).unwrap();
                svg(&p, &format!("Lines {name}"));
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(format_value(0.42), "0.42");
        assert_eq!(format_value(3.5), "3.5");
        assert_eq!(format_value(1234.4), "1234");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(tick(0.0001), "1e-4");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(
            log_range(f64::INFINITY, 0.0),
            (LOG_FLOOR / 2.0, LOG_FLOOR * 2.0)
        );
        assert_eq!(cdf_points(&[1.0, 2.0]).last(), Some(&(2.0, 1.0)));
        let long: Vec<f64> = (0..5000).map(f64::from).collect();
        let pts = cdf_points(&long);
        assert_eq!(pts.len(), MAX_CDF_POINTS);
        assert_eq!(pts.last(), Some(&(4999.0, 1.0)));
        assert_eq!(linear_range(3.0, 3.0), 1.5..4.5);
        assert_eq!(bounds(std::iter::empty()), (0.0, 1.0));
    }
}
