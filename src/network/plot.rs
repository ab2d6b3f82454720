//! Raster and trace plots of a [`Recording`], as PNG or SVG (chosen by the
//! file's extension). TensorFlow-free.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::plotting::{legend, on_axes, range_of, render, span, COLORS};

use crate::network::model::{NucleusId, StateVar};
use crate::network::recording::{NucleusRecording, Recording};

/// The raster of `r`'s spikes between `times.start` and `times.end` (ms)
/// of the neurons `neurons`.
fn raster_on<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &NucleusRecording,
    dt: f64,
    times: Range<f64>,
    neurons: Range<usize>,
) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let (t0, t1) = (times.start, times.end.max(times.start + dt));
    let title = if neurons.len() == r.n {
        format!("Raster plot of {}", r.label)
    } else {
        format!(
            "Raster plot of {}[{}..{}]",
            r.label, neurons.start, neurons.end
        )
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(
            span(t0, t1)?,
            span(neurons.start as f64 - 0.5, neurons.end as f64 - 0.5)?,
        )
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("time (ms)")
        .y_desc("neuron")
        .disable_mesh()
        .draw()
        .map_err(|e| e.to_string())?;
    let size = if neurons.len() > 200 { 1 } else { 2 };
    chart
        .draw_series(
            r.spikes
                .iter()
                .map(|&(s, j)| (s as f64 * dt, j))
                .filter(|(t, j)| (t0..=t1).contains(t) && neurons.contains(j))
                .map(|(t, j)| Circle::new((t, j as f64), size, BLACK.filled())),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The largest finite value of `xs` and `floor` (values that are NaN or
/// infinite are left off the axis; their points are not drawn).
fn finite_max(xs: impl Iterator<Item = f64>, floor: f64) -> f64 {
    xs.filter(|x| x.is_finite()).fold(floor, f64::max)
}

fn end_time(rec: &Recording) -> f64 {
    (rec.first_step + rec.steps) as f64 * rec.dt
}

/// Raster plot of one nucleus (time in ms x neuron index), titled
/// `"Raster plot of <label>"`, to a PNG or SVG file.
pub fn raster_plot(rec: &Recording, id: NucleusId, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let r = rec.nucleus(id)?;
    let t_end = end_time(rec);
    render!(path, (900, 500), area => raster_on(&area, r, rec.dt, 0.0..t_end, 0..r.n))
}

/// Rasters of all nuclei of a recording, one panel each, in a grid.
pub fn raster_grid(rec: &Recording, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let k = rec.nuclei.len().max(1);
    let cols = if k > 3 { 2 } else { 1 };
    let rows = k.div_ceil(cols);
    let t_end = end_time(rec);
    render!(path, (700 * cols as u32, 300 * rows as u32), area => {
        let panels = area.split_evenly((rows, cols));
        rec.nuclei.iter().zip(panels.iter()).try_for_each(|(r, panel)| raster_on(panel, r, rec.dt, 0.0..t_end, 0..r.n))
    })
}

/// The raster of `of` (a nucleus, or a subgroup such as its first 50
/// neurons) between `times.start` and `times.end` (ms) over the population
/// rate of its whole nucleus ([`Recording::population_rate`] smoothed by a
/// flat window of `width_ms`), as Brian2's Brunel–Hakim and Brunel (2000)
/// examples draw them. To a PNG or SVG file.
pub fn raster_and_rate(
    rec: &Recording,
    of: impl Into<crate::network::Subgroup>,
    times: Range<f64>,
    width_ms: f64,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    if !(times.start.is_finite() && times.end.is_finite() && times.start <= times.end) {
        return Err(Error::InvalidOption {
            option: "raster_and_rate times".into(),
            problem: format!(
                "{}..{} ms: give finite times, the first not after the second",
                times.start, times.end
            ),
        });
    }
    let of = of.into();
    let r = rec.nucleus(of.id)?;
    of.check(&r.label, r.n)?;
    let neurons = of.range.clone().unwrap_or(0..r.n);
    let rate: Vec<(f64, f64)> = rec
        .population_rate(of.id, width_ms)?
        .into_iter()
        .filter(|(t, _)| times.contains(t))
        .collect();
    let top = finite_max(rate.iter().map(|p| p.1), 1.0) * 1.05;
    render!(path, (900, 700), area => {
        let (upper, lower) = area.split_vertically(420);
        raster_on(&upper, r, rec.dt, times.clone(), neurons.clone())?;
        let mut chart = ChartBuilder::on(&lower)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d(
                span(times.start, times.end.max(times.start + rec.dt))?,
                span(0.0, top)?,
            )
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("time (ms)")
            .y_desc(format!("rate (Hz, {width_ms} ms window)"))
            .disable_mesh()
            .draw()
            .map_err(|e| e.to_string())?;
        let on = on_axes(chart.x_range(), chart.y_range());
        chart
            .draw_series(LineSeries::new(
                rate.iter().copied().filter(on),
                COLORS[0].stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Traces of state variables of chosen neurons, one panel per variable,
/// legend entries `"Neuron <label> - <index>"` (the original's
/// `plot_neuron_by_idx`).
pub fn plot_neuron_by_idx(
    rec: &Recording,
    neurons: &[(NucleusId, usize)],
    vars: &[StateVar],
    path: impl AsRef<Path>,
) -> Result<()> {
    let names: Vec<&str> = vars.iter().map(|v| v.name()).collect();
    plot_traces(rec, neurons, &names, path)
}

/// Traces of variables by name (any model's: `"v"`, `"ge"`, ...) of chosen
/// neurons, one panel per variable, as [`plot_neuron_by_idx`] draws them.
pub fn plot_traces(
    rec: &Recording,
    neurons: &[(NucleusId, usize)],
    vars: &[&str],
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    if neurons.is_empty() || vars.is_empty() {
        return Err(Error::NotRecorded {
            what: "no neurons or variables to plot".into(),
        });
    }
    // Gather the series first so a missing trace is an error, not a blank plot.
    let mut panels = Vec::new();
    for &var in vars {
        let mut series = Vec::new();
        for &(id, j) in neurons {
            let r = rec.nucleus(id)?;
            let tr = rec.trace_of(id, var)?;
            let col = tr.column(j).ok_or_else(|| Error::NotRecorded {
                what: format!("{var} of neuron {j} of nucleus {:?}", r.label),
            })?;
            let pts: Vec<(f64, f64)> = tr
                .times
                .iter()
                .zip(col)
                .map(|(&t, x)| (t, x as f64))
                .collect();
            series.push((format!("Neuron {} - {j}", r.label), pts));
        }
        panels.push((var, series));
    }
    let t0 = rec.first_step as f64 * rec.dt;
    let t_end = end_time(rec);
    render!(path, (900, 300 * panels.len().max(1) as u32), area => {
        let areas = area.split_evenly((panels.len().max(1), 1));
        panels.iter().zip(areas.iter()).try_for_each(|((var, series), a)| {
            let (lo, hi) = range_of(series.iter().flat_map(|(_, p)| p.iter().map(|q| &q.1)));
            let mut chart = ChartBuilder::on(a)
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(span(t0, t_end.max(t0 + rec.dt))?, span(lo, hi)?)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("time (ms)")
                .y_desc(match *var {
                    "v" => "v (mV)",
                    other => other,
                })
                .draw()
                .map_err(|e| e.to_string())?;
            for (k, (label, pts)) in series.iter().enumerate() {
                let color = COLORS[k % COLORS.len()];
                let on = on_axes(chart.x_range(), chart.y_range());
                chart
                    .draw_series(LineSeries::new(
                        pts.iter().copied().filter(on),
                        color.stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)
        })
    })
}

/// What a plastic connection learned, as Brian2's STDP example draws it:
/// each synapse's weight over `w_max` against its index, the histogram of
/// those ratios (20 bins over [0, 1]), and `rate` (time in s, rate in Hz)
/// of the postsynaptic neuron over time. To a PNG or SVG file.
pub fn learned_weights(
    weights: &[f64],
    w_max: f64,
    rate: &[(f64, f64)],
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    if weights.is_empty() || w_max.is_nan() || w_max <= 0.0 {
        return Err(Error::NotRecorded {
            what: "no weights (or no positive w_max) to plot".into(),
        });
    }
    let ratio: Vec<f64> = weights.iter().map(|w| w / w_max).collect();
    let mut bins = [0u32; 20];
    for r in &ratio {
        bins[((r * 20.0).floor().max(0.0) as usize).min(19)] += 1;
    }
    let top = *bins.iter().max().unwrap_or(&1) as f64;
    render!(path, (900, 900), area => {
        let areas = area.split_evenly((3, 1));
        let mut chart = ChartBuilder::on(&areas[0])
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(span(0.0, ratio.len() as f64)?, 0.0..1.05)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("synapse index")
            .y_desc("weight / gmax")
            .draw()
            .map_err(|e| e.to_string())?;
        let on = on_axes(chart.x_range(), chart.y_range());
        chart
            .draw_series(
                ratio
                    .iter()
                    .enumerate()
                    .map(|(i, &r)| (i as f64, r))
                    .filter(on)
                    .map(|p| Circle::new(p, 1, BLACK.filled())),
            )
            .map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&areas[1])
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, span(0.0, top * 1.1)?)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("weight / gmax")
            .y_desc("synapses")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bins.iter().enumerate().map(|(k, &c)| {
                let x0 = k as f64 / 20.0;
                Rectangle::new([(x0, 0.0), (x0 + 0.05, c as f64)], COLORS[0].filled())
            }))
            .map_err(|e| e.to_string())?;
        rate_panel(&areas[2], rate)
    })
}

/// `rate` (time in s, rate in Hz) of a postsynaptic neuron over time.
fn rate_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rate: &[(f64, f64)],
) -> std::result::Result<(), String>
where
    DB::ErrorType: 'static,
{
    let t_end = finite_max(rate.iter().map(|p| p.0), 1e-9);
    let r_max = finite_max(rate.iter().map(|p| p.1), 1.0) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(span(0.0, t_end)?, span(0.0, r_max)?)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("output rate (Hz)")
        .draw()
        .map_err(|e| e.to_string())?;
    let on = on_axes(chart.x_range(), chart.y_range());
    chart
        .draw_series(LineSeries::new(
            rate.iter().copied().filter(on),
            COLORS[1].stroke_width(2),
        ))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// What a plastic connection with a delay per synapse learned: each
/// synapse's weight over `w_max` against its delay in ms (`delays` and
/// `weights` in the same order, as `Simulator::delays` and
/// `Simulator::weights` list them), and `rate` (time in s, rate in Hz) of
/// the postsynaptic neuron over time. To a PNG or SVG file.
pub fn weights_by_delay(
    delays: &[f64],
    weights: &[f64],
    w_max: f64,
    rate: &[(f64, f64)],
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    if weights.is_empty() || delays.len() != weights.len() || w_max.is_nan() || w_max <= 0.0 {
        return Err(Error::NotRecorded {
            what: "no weights, a delay per weight and a positive w_max to plot".into(),
        });
    }
    let d_max = finite_max(delays.iter().copied(), 1e-9) * 1.02;
    render!(path, (900, 600), area => {
        let areas = area.split_evenly((2, 1));
        let mut chart = ChartBuilder::on(&areas[0])
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(span(0.0, d_max)?, 0.0..1.05)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("delay (ms)")
            .y_desc("weight / gmax")
            .draw()
            .map_err(|e| e.to_string())?;
        let on = on_axes(chart.x_range(), chart.y_range());
        chart
            .draw_series(
                delays
                    .iter()
                    .zip(weights)
                    .map(|(&d, &w)| (d, w / w_max))
                    .filter(on)
                    .map(|p| Circle::new(p, 2, BLACK.filled())),
            )
            .map_err(|e| e.to_string())?;
        rate_panel(&areas[1], rate)
    })
}
