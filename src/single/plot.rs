//! Plots of single-neuron simulations: time series, phase portraits, phase
//! planes (PNG or SVG by extension), an animated GIF of a trajectory, f–I
//! curves.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{write_err, Error, Result};
use crate::plotting::{ensure_parent, legend, on_axes, range_of, render, span, COLORS};
use crate::single::model::{History, Model};
use crate::single::phase::{FixedPointKind, PhasePlaneData};

fn label(model: &Model, name: &str) -> String {
    match model.variables().iter().find(|v| v.name == name) {
        Some(v) if !v.unit.is_empty() => format!("{name} ({})", v.unit),
        _ => name.to_string(),
    }
}

/// Time series of `names` from a history: all in one panel, or one panel
/// each with `stacked`. Axis labels carry the model's units.
pub fn time_plot(
    model: &Model,
    history: &History,
    names: &[&str],
    stacked: bool,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let t = history.column("t")?;
    let series: Vec<(&str, &ndarray::Array1<f64>)> = names
        .iter()
        .map(|&n| history.column(n).map(|c| (n, c)))
        .collect::<Result<_>>()?;
    let (t0, t1) = (
        t.first().copied().unwrap_or(0.0),
        t.last().copied().unwrap_or(1.0).max(1e-9),
    );
    let panels: Vec<Vec<(usize, &str, &ndarray::Array1<f64>)>> = if stacked {
        series
            .iter()
            .enumerate()
            .map(|(k, (n, c))| vec![(k, *n, *c)])
            .collect()
    } else {
        vec![series
            .iter()
            .enumerate()
            .map(|(k, (n, c))| (k, *n, *c))
            .collect()]
    };
    let x_desc = format!("t ({})", model.unit_of_time());
    render!(path, (900, if stacked { 250 * panels.len() as u32 } else { 450 }), area => {
        let areas = area.split_evenly((panels.len().max(1), 1));
        panels.iter().zip(areas.iter()).try_for_each(|(panel, a)| {
            let (lo, hi) = range_of(panel.iter().flat_map(|(_, _, c)| c.iter()));
            let mut chart = ChartBuilder::on(a)
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(55)
                .build_cartesian_2d(span(t0, t1)?, span(lo, hi)?)
                .map_err(|e| e.to_string())?;
            let y_desc = if panel.len() == 1 { label(model, panel[0].1) } else { String::new() };
            chart.configure_mesh().x_desc(x_desc.as_str()).y_desc(y_desc).draw().map_err(|e| e.to_string())?;
            for (k, name, col) in panel {
                let color = COLORS[k % COLORS.len()];
                chart
                    .draw_series(LineSeries::new(t.iter().zip(col.iter()).map(|(&a, &b)| (a, b)).filter(on_axes(chart.x_range(), chart.y_range())), color.stroke_width(1)))
                    .map_err(|e| e.to_string())?
                    .label(name.to_string())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)
        })
    })
}

/// One variable against another along a simulation.
pub fn phase_portrait(
    model: &Model,
    history: &History,
    x: &str,
    y: &str,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let (cx, cy) = (history.column(x)?, history.column(y)?);
    let (xr, yr) = (range_of(cx.iter()), range_of(cy.iter()));
    render!(path, (700, 600), area => {
        let mut chart = ChartBuilder::on(&area)
            .caption(format!("Phase portrait {y} vs {x}"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(span(xr.0, xr.1)?, span(yr.0, yr.1)?)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(label(model, x)).y_desc(label(model, y)).draw().map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(cx.iter().zip(cy.iter()).map(|(&a, &b)| (a, b)).filter(on_axes(chart.x_range(), chart.y_range())), COLORS[0].stroke_width(1)))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn draw_plane<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    data: &PhasePlaneData,
) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let (x0, x1) = (data.spec.x.1, data.spec.x.2);
    let (y0, y1) = (data.spec.y.1, data.spec.y.2);
    // What lies off the plane is not drawn (plotters' pixel arithmetic
    // overflows on points far off it).
    let on = on_axes(chart.x_range(), chart.y_range());
    let g = data.spec.grid.max(2) as f64;
    // Arrows of equal length (a direction field), scaled to the axes.
    let (cx, cy) = ((x1 - x0) / g, (y1 - y0) / g);
    let grey = RGBColor(120, 120, 120);
    for &(x, y, dx, dy) in &data.arrows {
        let (ux, uy) = (dx / (x1 - x0), dy / (y1 - y0));
        let norm = (ux * ux + uy * uy).sqrt();
        if !norm.is_finite() || norm <= 0.0 {
            continue;
        }
        let (ax, ay) = (0.8 * cx * ux / norm, 0.8 * cy * uy / norm);
        let (ex, ey) = (x + ax, y + ay);
        if !(on(&(x, y)) && on(&(ex, ey))) {
            continue;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y), (ex, ey)],
                grey,
            )))
            .map_err(|e| e.to_string())?;
        // Head: two short strokes back from the tip.
        let (bx, by) = (-ax * 0.35, -ay * 0.35);
        let (px, py) = (-by * (cx / cy), bx * (cy / cx));
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (ex + bx + 0.5 * px, ey + by + 0.5 * py),
                    (ex, ey),
                    (ex + bx - 0.5 * px, ey + by - 0.5 * py),
                ],
                grey,
            )))
            .map_err(|e| e.to_string())?;
    }
    for (k, (lines, name)) in [
        (&data.x_nullcline, &data.spec.x.0),
        (&data.y_nullcline, &data.spec.y.0),
    ]
    .iter()
    .enumerate()
    {
        let color = COLORS[k + 1];
        let mut first = true;
        for line in lines.iter() {
            let s = chart
                .draw_series(LineSeries::new(
                    line.iter().copied().filter(&on),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            if first {
                s.label(format!("{name}-nullcline")).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
                first = false;
            }
        }
    }
    for (k, tr) in data.trajectories.iter().enumerate() {
        let color = COLORS[(k + 3) % COLORS.len()];
        // Only the parts inside the plane: plotters would flatten the rest
        // onto the border.
        for (r, run) in inside_runs(tr, (x0, x1, y0, y1)).into_iter().enumerate() {
            let s = chart
                .draw_series(LineSeries::new(run, color.stroke_width(1)))
                .map_err(|e| e.to_string())?;
            if k == 0 && r == 0 {
                s.label("trajectory")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
        }
        if let Some(&p) = tr.first().filter(|p| on(p)) {
            chart
                .draw_series(std::iter::once(Circle::new(p, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    for fp in data.fixed_points.iter().filter(|fp| on(&(fp.x, fp.y))) {
        let stable = matches!(
            fp.kind,
            FixedPointKind::StableNode | FixedPointKind::StableFocus
        );
        let style = if stable {
            BLACK.filled()
        } else {
            BLACK.stroke_width(2)
        };
        chart
            .draw_series(std::iter::once(Circle::new((fp.x, fp.y), 6, style)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{} ({:.3}, {:.3})", fp.kind.name(), fp.x, fp.y),
                (fp.x, fp.y),
                ("sans-serif", 14).into_font().color(&BLACK),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The runs of consecutive points of `line` inside the rectangle.
fn inside_runs(
    line: &[(f64, f64)],
    (x0, x1, y0, y1): (f64, f64, f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for &(x, y) in line {
        if x >= x0 && x <= x1 && y >= y0 && y <= y1 {
            if let Some(last) = runs.last_mut() {
                last.push((x, y));
            }
        } else if runs.last().is_some_and(|r| !r.is_empty()) {
            runs.push(Vec::new());
        }
    }
    runs.retain(|r| r.len() > 1);
    runs
}

fn plane_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    model: &Model,
    data: &PhasePlaneData,
) -> std::result::Result<Chart<'a, DB>, String>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Phase plane {} - {}", data.spec.x.0, data.spec.y.0),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(
            span(data.spec.x.1, data.spec.x.2)?,
            span(data.spec.y.1, data.spec.y.2)?,
        )
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(label(model, &data.spec.x.0))
        .y_desc(label(model, &data.spec.y.0))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

/// The phase plane: arrows, both nullclines (labelled `<x>-nullcline`,
/// `<y>-nullcline`), trajectories, fixed points (filled: stable) with their
/// kind.
pub fn phase_plane(model: &Model, data: &PhasePlaneData, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    render!(path, (800, 700), area => {
        let mut chart = plane_chart(&area, model, data)?;
        draw_plane(&mut chart, data)?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// An animated GIF of a point travelling along trajectory `index` of `data`
/// through the plane, in `frames` frames.
pub fn phase_plane_gif(
    model: &Model,
    data: &PhasePlaneData,
    index: usize,
    frames: usize,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let tr = data
        .trajectories
        .get(index)
        .ok_or_else(|| Error::NotRecorded {
            what: format!("trajectory {index}"),
        })?;
    if tr.is_empty() {
        return Err(Error::NotRecorded {
            what: format!("points of trajectory {index}"),
        });
    }
    ensure_parent(path)?;
    let frames = frames.clamp(2, 500);
    let root = BitMapBackend::gif(path, (640, 560), 60)
        .map_err(|e| write_err(path, e))?
        .into_drawing_area();
    for f in 0..frames {
        let k = (f * (tr.len().saturating_sub(1))) / (frames - 1);
        let draw = || -> std::result::Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut chart = plane_chart(&root, model, data)?;
            draw_plane(&mut chart, data)?;
            let (x0, x1, y0, y1) = (data.spec.x.1, data.spec.x.2, data.spec.y.1, data.spec.y.2);
            for run in inside_runs(&tr[..=k], (x0, x1, y0, y1)) {
                chart
                    .draw_series(LineSeries::new(run, RED.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
            }
            let (px, py) = tr[k];
            if px >= x0 && px <= x1 && py >= y0 && py <= y1 {
                chart
                    .draw_series(std::iter::once(Circle::new(tr[k], 6, RED.filled())))
                    .map_err(|e| e.to_string())?;
            }
            root.present().map_err(|e| e.to_string())
        };
        draw().map_err(|e| write_err(path, e))?;
    }
    Ok(())
}

/// f–I curves: firing rate against input, one line per series.
pub fn fi_plot(
    series: &[(&str, &[(f64, f64)])],
    x_label: &str,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let xr = range_of(series.iter().flat_map(|s| s.1.iter().map(|p| &p.0)));
    let yr = range_of(
        series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| &p.1))
            .chain(std::iter::once(&0.0)),
    );
    render!(path, (800, 550), area => {
        let mut chart = ChartBuilder::on(&area)
            .caption("f-I curve", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(span(xr.0, xr.1)?, span(yr.0, yr.1)?)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc(x_label).y_desc("firing rate (Hz)").draw().map_err(|e| e.to_string())?;
        for (k, (name, pts)) in series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(name.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(|e| e.to_string())?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}
