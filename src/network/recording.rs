//! What a run recorded, as plain arrays; firing rates; export to `.npy`,
//! `.npz` and CSV. TensorFlow-free.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::{Array1, Array2};
use ndarray_npy::NpzWriter;

use crate::error::{write_err, Error, Result};
use crate::network::model::{NucleusId, StateVar};
use crate::network::plan::NucleusInfo;
use crate::network::subgroup::Subgroup;

/// Traces of one state variable of one nucleus.
#[derive(Clone, PartialEq)]
pub struct Trace {
    /// The recorded neurons (columns of `values`).
    pub neurons: Vec<usize>,
    /// Time (ms) of each recorded row.
    pub times: Vec<f64>,
    /// Row-major `times.len() x neurons.len()`.
    pub(crate) values: Vec<f32>,
}

/// Every spike of `r` as `(step, neuron)`, for what `of` needs counted
/// neuron by neuron: [`Error::NotRecorded`] when they were only counted
/// (or streamed) rather than listed.
fn listed_spikes<'a>(r: &'a NucleusRecording, of: &Subgroup) -> Result<&'a [(usize, usize)]> {
    if r.spikes.len() as u64 != r.spike_count {
        return Err(Error::NotRecorded {
            what: format!(
                "the spike list of nucleus {:?} (for {})",
                r.label,
                of.name(&r.label)
            ),
        });
    }
    Ok(&r.spikes)
}

/// `first..last` of the times, or nothing.
fn span(times: &[f64]) -> String {
    match (times.first(), times.last()) {
        (Some(a), Some(b)) => format!("{a}..{b} ms"),
        _ => "none".into(),
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("neurons", &self.neurons.len())
            .field("rows", &self.times.len())
            .field("times", &span(&self.times))
            .finish()
    }
}

impl std::fmt::Debug for NucleusRecording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NucleusRecording")
            .field("label", &self.label)
            .field("n", &self.n)
            .field("spike_count", &self.spike_count)
            .field("spikes_listed", &self.spikes.len())
            .field("traces", &self.traces)
            .finish()
    }
}

impl std::fmt::Debug for WeightSnapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightSnapshots")
            .field("connection", &self.connection)
            .field("index", &self.index)
            .field("snapshots", &self.values.len())
            .field("times", &span(&self.times_ms))
            .finish()
    }
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("dt", &self.dt)
            .field("first_step", &self.first_step)
            .field("steps", &self.steps)
            .field("nuclei", &self.nuclei)
            .field("weights", &self.weights)
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// Values as an array of shape `(recorded_steps, recorded_neurons)`:
    /// every recorded row, whatever `times` and `neurons` have been edited
    /// to (the rows are the values recorded, `neurons.len()` to a row; with
    /// no neurons, one empty row per time).
    pub fn values(&self) -> Array2<f32> {
        let w = self.neurons.len();
        let rows = match w {
            0 => self.times.len(),
            w => self.values.len() / w,
        };
        let values = self.values[..rows * w].to_vec();
        Array2::from_shape_vec((rows, w), values).unwrap_or_else(|_| Array2::zeros((0, w)))
    }
    /// Time axis (ms).
    pub fn times(&self) -> Array1<f64> {
        Array1::from(self.times.clone())
    }
    /// The column of neuron `neuron` (an index into the nucleus), if recorded
    /// (one value per recorded row, as [`values`](Trace::values)).
    pub fn column(&self, neuron: usize) -> Option<Vec<f32>> {
        let k = self.neurons.iter().position(|&j| j == neuron)?;
        let w = self.neurons.len();
        Some(self.values.iter().skip(k).step_by(w).copied().collect())
    }
}

/// Everything recorded of one nucleus.
#[derive(Clone, PartialEq)]
pub struct NucleusRecording {
    /// Its label.
    pub label: String,
    /// Its size.
    pub n: usize,
    /// `(step, neuron)` of every spike, in step order (empty if spikes were not
    /// recorded).
    pub spikes: Vec<(usize, usize)>,
    /// Total spikes (counted even when spikes are not recorded).
    pub spike_count: u64,
    /// Traces per state variable.
    pub traces: BTreeMap<String, Trace>,
}

/// What a run recorded. Its `Debug` form is a summary (sizes and counts,
/// not the data), so an error carrying a recording prints in a few lines.
#[derive(Clone, PartialEq)]
pub struct Recording {
    pub(crate) network: u64,
    /// Time step (ms).
    pub dt: f64,
    /// Index of the first step of this run (0 for a fresh simulator).
    pub first_step: usize,
    /// Steps completed.
    pub steps: usize,
    /// Per nucleus, in network order.
    pub nuclei: Vec<NucleusRecording>,
    /// Per connection that records its weights
    /// ([`Connection::record_weights`](crate::network::Connection::record_weights)),
    /// the snapshots of this run.
    pub weights: Vec<WeightSnapshots>,
}

/// A connection's weights over a run.
#[derive(Clone, PartialEq)]
pub struct WeightSnapshots {
    /// `pre->post`.
    pub connection: String,
    /// Its position in the network (the [`ConnectionId`]'s index).
    ///
    /// [`ConnectionId`]: crate::network::ConnectionId
    pub index: usize,
    /// Simulated time of each snapshot (ms).
    pub times_ms: Vec<f64>,
    /// The weights then ([`Weights::DenseF32`] or [`Weights::CsrF32`]).
    ///
    /// [`Weights::DenseF32`]: crate::network::Weights::DenseF32
    /// [`Weights::CsrF32`]: crate::network::Weights::CsrF32
    pub values: Vec<crate::network::Weights>,
}

impl Recording {
    /// A recording of `nuclei` with no steps yet, starting at step `first`,
    /// with room for `steps` steps of traces.
    pub(crate) fn empty(
        network: u64,
        dt: f64,
        first: usize,
        nuclei: &[NucleusInfo],
        steps: usize,
    ) -> Recording {
        let nuclei = nuclei
            .iter()
            .map(|nu| NucleusRecording {
                label: nu.label.clone(),
                n: nu.n,
                spikes: Vec::new(),
                spike_count: 0,
                traces: nu
                    .traces
                    .iter()
                    .map(|(var, idx)| {
                        let rows = steps / nu.every + 1;
                        let trace = Trace {
                            neurons: idx.clone(),
                            times: Vec::with_capacity(rows),
                            values: Vec::with_capacity(rows * idx.len()),
                        };
                        (var.clone(), trace)
                    })
                    .collect(),
            })
            .collect();
        Recording {
            network,
            dt,
            first_step: first,
            steps: 0,
            nuclei,
            weights: Vec::new(),
        }
    }

    /// Record the spikes of nucleus `idx` at `step` (`fired`: their neuron
    /// indices): counted always, listed if `list`.
    pub(crate) fn add_spikes(&mut self, idx: usize, step: usize, fired: &[i64], list: bool) {
        let r = &mut self.nuclei[idx];
        r.spike_count += fired.len() as u64;
        if list {
            r.spikes.extend(fired.iter().map(|&i| (step, i as usize)));
        }
    }

    /// Record one row of trace `var` of nucleus `idx`: its recorded
    /// neurons' `values` at `step`.
    pub(crate) fn add_trace_row(&mut self, idx: usize, var: &str, step: usize, values: &[f32]) {
        let dt = self.dt;
        if let Some(tr) = self.nuclei[idx].traces.get_mut(var) {
            tr.times.push(step as f64 * dt);
            tr.values.extend_from_slice(values);
        }
    }

    /// Simulated duration covered (ms): `steps * dt`.
    pub fn duration_ms(&self) -> f64 {
        self.steps as f64 * self.dt
    }

    /// Append a recording of the same network that continues this one
    /// (the next run of the same simulator): its steps, spikes, trace rows
    /// and weight snapshots follow this one's. A recording of another
    /// network, or one that does not start at the step after this one's
    /// last, is refused ([`Error::InvalidOption`]) and nothing changes.
    pub fn append(&mut self, later: Recording) -> Result<()> {
        let same_nuclei = later.nuclei.len() == self.nuclei.len()
            && later
                .nuclei
                .iter()
                .zip(&self.nuclei)
                .all(|(a, b)| a.label == b.label && a.n == b.n);
        let next = self.first_step + self.steps;
        if later.network != self.network || later.dt != self.dt || !same_nuclei {
            return Err(Error::InvalidOption {
                option: "Recording::append".into(),
                problem: "the recording is of another network (or another dt)".into(),
            });
        }
        if later.first_step != next {
            return Err(Error::InvalidOption {
                option: "Recording::append".into(),
                problem: format!(
                    "the recording starts at step {}, this one ends before step {next}: \
                     append the runs of one simulator in order",
                    later.first_step
                ),
            });
        }
        self.extend(later);
        Ok(())
    }

    /// [`append`](Self::append) for a recording known to continue this one.
    pub(crate) fn extend(&mut self, later: Recording) {
        self.steps += later.steps;
        for (mine, theirs) in self.nuclei.iter_mut().zip(later.nuclei) {
            mine.spikes.extend(theirs.spikes);
            mine.spike_count += theirs.spike_count;
            for (var, tr) in theirs.traces {
                match mine.traces.get_mut(&var) {
                    Some(t) => {
                        t.times.extend(tr.times);
                        t.values.extend(tr.values);
                    }
                    None => {
                        mine.traces.insert(var, tr);
                    }
                }
            }
        }
        for snap in later.weights {
            match self.weights.iter_mut().find(|w| w.index == snap.index) {
                Some(w) => {
                    w.times_ms.extend(snap.times_ms);
                    w.values.extend(snap.values);
                }
                None => self.weights.push(snap),
            }
        }
    }

    /// The recording of one nucleus.
    pub fn nucleus(&self, id: NucleusId) -> Result<&NucleusRecording> {
        if id.network != self.network {
            return Err(Error::ForeignNucleus { index: id.index });
        }
        self.nuclei
            .get(id.index)
            .ok_or(Error::ForeignNucleus { index: id.index })
    }

    /// The recording of the nucleus labelled `label`.
    pub fn by_label(&self, label: &str) -> Result<&NucleusRecording> {
        self.nuclei
            .iter()
            .find(|n| n.label == label)
            .ok_or_else(|| Error::NotRecorded {
                what: format!("nucleus {label:?}"),
            })
    }

    /// Spike times (ms) and neuron indices of a nucleus, as two arrays.
    pub fn spikes(&self, id: NucleusId) -> Result<(Array1<f64>, Array1<usize>)> {
        let r = self.nucleus(id)?;
        Ok(spike_arrays(r, self.dt))
    }

    /// The trace of `var` of a nucleus.
    pub fn trace(&self, id: NucleusId, var: StateVar) -> Result<&Trace> {
        self.trace_of(id, var.name())
    }

    /// The recorded trace of the state variable named `var` of a nucleus
    /// (any model's variables; `v`, `u`, `I` for Izhikevich nuclei).
    pub fn trace_of(&self, id: NucleusId, var: &str) -> Result<&Trace> {
        let r = self.nucleus(id)?;
        r.traces.get(var).ok_or_else(|| Error::NotRecorded {
            what: format!("{var} of nucleus {:?}", r.label),
        })
    }

    /// Mean firing rate of a nucleus, or of a [`Subgroup`] of it, in Hz:
    /// `1000 * spikes / (T * n)` with `T` the duration in ms. A subgroup's
    /// rate counts its neurons' spikes in the spike list, so the nucleus
    /// must record spikes in memory (not only count them, or stream them:
    /// [`Error::NotRecorded`]).
    pub fn firing_rate(&self, of: impl Into<Subgroup>) -> Result<f64> {
        let of = of.into();
        let r = self.nucleus(of.id)?;
        let Some(range) = of.range.clone() else {
            return Ok(rate_hz(r.spike_count, r.n, self.duration_ms()));
        };
        of.check(&r.label, r.n)?;
        let count = listed_spikes(r, &of)?
            .iter()
            .filter(|(_, k)| range.contains(k))
            .count();
        Ok(rate_hz(count as u64, range.len(), self.duration_ms()))
    }

    /// The population rate of a nucleus or a [`Subgroup`] in Hz at every
    /// recorded step, `(time in ms, rate)`: the step's spikes among its `n`
    /// neurons over `n · dt`, smoothed by a flat window of `2
    /// round(width / 2dt) + 1` steps centred on the step (steps outside the
    /// recording count as 0), as Brian2's `PopulationRateMonitor.smooth_rate(
    /// window='flat', width=...)`; `width_ms = 0` gives the raw rate. Needs
    /// the spike list in memory ([`Error::NotRecorded`] otherwise).
    pub fn population_rate(
        &self,
        of: impl Into<Subgroup>,
        width_ms: f64,
    ) -> Result<Vec<(f64, f64)>> {
        let of = of.into();
        let r = self.nucleus(of.id)?;
        of.check(&r.label, r.n)?;
        if !(width_ms.is_finite() && width_ms >= 0.0) {
            return Err(Error::InvalidOption {
                option: "population_rate width".into(),
                problem: format!("{width_ms} ms: a width is a time >= 0"),
            });
        }
        let spikes = listed_spikes(r, &of)?;
        let range = of.range.clone().unwrap_or(0..r.n);
        let mut counts = vec![0u64; self.steps];
        for &(step, k) in spikes {
            if range.contains(&k) {
                if let Some(c) = step
                    .checked_sub(self.first_step)
                    .and_then(|i| counts.get_mut(i))
                {
                    *c += 1;
                }
            }
        }
        // NumPy's rounding (half to even), as Brian2: 0.5 ms at 0.1 ms is 5 steps.
        let half = (width_ms / (2.0 * self.dt)).round_ties_even();
        let hz = 1000.0 / (range.len() as f64 * self.dt * (2.0 * half + 1.0));
        // A window reaching past both ends of the recording sums all of it
        // (what lies beyond counts 0), however much wider it is.
        let half = half.min(self.steps as f64) as usize;
        // A running sum over the window.
        let mut sum: u64 = counts.iter().take(half).sum();
        let mut out = Vec::with_capacity(self.steps);
        for i in 0..self.steps {
            if let Some(c) = counts.get(i + half) {
                sum += c;
            }
            if i > half {
                sum -= counts[i - half - 1];
            }
            out.push(((self.first_step + i) as f64 * self.dt, sum as f64 * hz));
        }
        Ok(out)
    }

    /// Write every spike list and trace to one `.npz` archive that NumPy
    /// loads: `<label>_spike_times` (ms), `<label>_spike_neurons`,
    /// `<label>_<var>` (steps x neurons), `<label>_<var>_times`,
    /// `<label>_<var>_neurons`.
    pub fn write_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| write_err(path, e))?;
        let mut npz = NpzWriter::new(file);
        for r in &self.nuclei {
            let (t, i) = spike_arrays(r, self.dt);
            let i: Array1<i64> = i.mapv(|x| x as i64);
            npz.add_array(format!("{}_spike_times", r.label), &t)
                .map_err(|e| write_err(path, e))?;
            npz.add_array(format!("{}_spike_neurons", r.label), &i)
                .map_err(|e| write_err(path, e))?;
            for (var, tr) in &r.traces {
                npz.add_array(format!("{}_{}", r.label, var), &tr.values())
                    .map_err(|e| write_err(path, e))?;
                npz.add_array(format!("{}_{}_times", r.label, var), &tr.times())
                    .map_err(|e| write_err(path, e))?;
                let neurons: Array1<i64> = tr.neurons.iter().map(|&j| j as i64).collect();
                npz.add_array(format!("{}_{}_neurons", r.label, var), &neurons)
                    .map_err(|e| write_err(path, e))?;
            }
        }
        npz.finish().map_err(|e| write_err(path, e))?;
        Ok(())
    }

    /// Write all spikes as CSV: `nucleus,time_ms,neuron`.
    pub fn write_spikes_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut w = BufWriter::new(File::create(path).map_err(|e| write_err(path, e))?);
        writeln!(w, "nucleus,time_ms,neuron").map_err(|e| write_err(path, e))?;
        for r in &self.nuclei {
            for &(step, neuron) in &r.spikes {
                writeln!(w, "{},{},{}", r.label, step as f64 * self.dt, neuron)
                    .map_err(|e| write_err(path, e))?;
            }
        }
        w.flush().map_err(|e| write_err(path, e))
    }

    /// Write one trace as CSV: `time_ms,<neuron>,<neuron>,...`.
    pub fn write_trace_csv(
        &self,
        id: NucleusId,
        var: StateVar,
        path: impl AsRef<Path>,
    ) -> Result<()> {
        let path = path.as_ref();
        let tr = self.trace(id, var)?;
        let values = tr.values();
        if values.nrows() != tr.times.len() {
            return Err(Error::WrongLength {
                nucleus: self.nucleus(id)?.label.clone(),
                what: format!(
                    "times of the trace of {} (one per recorded row)",
                    var.name()
                ),
                expected: values.nrows(),
                got: tr.times.len(),
            });
        }
        let mut w = BufWriter::new(File::create(path).map_err(|e| write_err(path, e))?);
        let head: Vec<String> = tr.neurons.iter().map(|j| format!("neuron_{j}")).collect();
        writeln!(w, "time_ms,{}", head.join(",")).map_err(|e| write_err(path, e))?;
        for (t, row) in tr.times.iter().zip(values.rows()) {
            let row: Vec<String> = row.iter().map(|x| x.to_string()).collect();
            writeln!(w, "{t},{}", row.join(",")).map_err(|e| write_err(path, e))?;
        }
        w.flush().map_err(|e| write_err(path, e))
    }
}

pub(crate) fn rate_hz(spikes: u64, n: usize, duration_ms: f64) -> f64 {
    if duration_ms <= 0.0 || n == 0 {
        0.0
    } else {
        1000.0 * spikes as f64 / (duration_ms * n as f64)
    }
}

fn spike_arrays(r: &NucleusRecording, dt: f64) -> (Array1<f64>, Array1<usize>) {
    let t = r.spikes.iter().map(|&(s, _)| s as f64 * dt).collect();
    let i = r.spikes.iter().map(|&(_, j)| j).collect();
    (t, i)
}

#[cfg(test)]
mod tests {
    use super::Trace;

    /// A trace whose public fields were edited still gives every recorded
    /// value, and `column` never reads past them.
    #[test]
    fn edited_fields_lose_nothing_and_never_panic() {
        let mut t = Trace {
            neurons: vec![3, 7],
            times: vec![0.1, 0.2, 0.3],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        assert_eq!(t.values().shape(), &[3, 2]);
        assert_eq!(t.column(7), Some(vec![2.0, 4.0, 6.0]));
        t.times.push(0.4);
        t.times.remove(0);
        t.times.remove(0);
        assert_eq!(
            t.values().as_slice(),
            Some(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0][..])
        );
        assert_eq!(t.column(3), Some(vec![1.0, 3.0, 5.0]));
        t.neurons.push(9);
        assert_eq!(t.values().shape(), &[2, 3]);
        assert_eq!(t.column(9), Some(vec![3.0, 6.0]));
        t.neurons.clear();
        assert_eq!(t.values().shape(), &[2, 0]);
        assert_eq!(t.column(3), None);
    }
}
