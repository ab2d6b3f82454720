//! Shared plotting helpers: one drawing body for PNG and SVG, a palette.

use std::path::Path;

use plotters::prelude::RGBColor;

use crate::error::{write_err, Result};

pub(crate) const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
];

/// Draw a chart's legend (series labels) in a white box, at `position`.
pub(crate) fn legend<'a, DB: plotters::prelude::DrawingBackend + 'a>(
    chart: &mut plotters::prelude::ChartContext<
        'a,
        DB,
        plotters::prelude::Cartesian2d<
            plotters::coord::types::RangedCoordf64,
            plotters::coord::types::RangedCoordf64,
        >,
    >,
    position: plotters::prelude::SeriesLabelPosition,
) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::{Color, BLACK, WHITE};
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// The range of the finite values, padded by 5% (or ±1 around a constant;
/// (-1, 1) when there are none).
pub(crate) fn range_of<'a>(it: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (lo, hi) = it
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0, hi + 1.0);
    }
    // `0.05 hi - 0.05 lo`, not `0.05 (hi - lo)`: that overflows for values
    // at the ends of f64, and an infinite axis never finishes drawing.
    let pad = 0.05 * hi - 0.05 * lo;
    ((lo - pad).max(f64::MIN), (hi + pad).min(f64::MAX))
}

/// Whether a point lies on the axes `x` and `y` (inside them, ends
/// included): plotters maps a point far off its axes to pixels through
/// integer arithmetic that overflows (a panic in debug builds), so the
/// series drawn from data keep only these (`chart.x_range()`,
/// `chart.y_range()`).
pub(crate) fn on_axes(
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> impl Fn(&(f64, f64)) -> bool {
    move |&(a, b)| a >= x.start && a <= x.end && b >= y.start && b <= y.end
}

/// An axis from `lo` to `hi` for plotters, or why not: plotters computes
/// the ticks of an axis with infinite ends or width forever (a hang, not
/// an error), so every chart's axes pass through here.
pub(crate) fn span(lo: f64, hi: f64) -> std::result::Result<std::ops::Range<f64>, String> {
    if lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite() {
        Ok(lo..hi)
    } else {
        Err(format!(
            "an axis from {lo} to {hi} cannot be drawn (its ends must be finite, the first below the second)"
        ))
    }
}

pub(crate) fn is_svg(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
}

pub(crate) fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
    }
    Ok(())
}

/// Draw `$body` (which uses the drawing area `$area`) into `$path` with the
/// backend its extension asks for: `.svg` is SVG, anything else PNG. The body
/// is expanded once per backend, since plotters' backends are distinct types.
macro_rules! render {
    ($path:expr, $size:expr, $area:ident => $body:expr) => {{
        let path: &std::path::Path = $path;
        $crate::plotting::ensure_parent(path)?;
        let outcome: std::result::Result<(), String> = if $crate::plotting::is_svg(path) {
            let $area = plotters::prelude::SVGBackend::new(path, $size).into_drawing_area();
            $area
                .fill(&plotters::prelude::WHITE)
                .map_err(|e| e.to_string())
                .and_then(|_| $body)
                .and_then(|_| $area.present().map_err(|e| e.to_string()))
        } else {
            let $area = plotters::prelude::BitMapBackend::new(path, $size).into_drawing_area();
            $area
                .fill(&plotters::prelude::WHITE)
                .map_err(|e| e.to_string())
                .and_then(|_| $body)
                .and_then(|_| $area.present().map_err(|e| e.to_string()))
        };
        outcome.map_err(|e| $crate::error::write_err(path, e))
    }};
}

pub(crate) use render;
