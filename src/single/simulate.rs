//! [`Model::simulation`]: the step loop of docs/semantics.md §2.3 (resets,
//! rising-edge spikes, refractoriness, clamping, divergence) over a
//! compiled model, and the history it keeps.

use std::collections::BTreeMap;

use ndarray::Array1;

use crate::error::{Error, Result};
use crate::single::compiled::{Compiled, NATIVE_FROM_STEPS};
use crate::single::expr::closest;
use crate::single::integrate::Workspace;
use crate::single::model::{Engine, History, Model, SimulationOptions, Value};

impl Model {
    /// Simulate `t_end` (in the model's time unit) with step `dt`, keeping
    /// every name, from the variables' initial values.
    pub fn simulation(&self, t_end: f64, dt: f64) -> Result<History> {
        self.simulation_with(t_end, dt, &SimulationOptions::default())
    }

    /// Simulate with options: which names to keep, start values.
    ///
    /// `M = floor(t_end / dt)` steps. Each step: if the spike condition held
    /// for the previous state, variables with a reset expression take it
    /// (evaluated on the previous state) and the others integrate; otherwise
    /// all integrate (the whole system as one vector). With a refractory
    /// period of `R` steps, the `R` steps after a reset hold the variables
    /// marked `unless_refractory` and do not check the spike condition. A
    /// spike is recorded at the time of a state where the condition turns
    /// true. Updated
    /// variables are clamped to `max_spike_value`. Parameter expressions are
    /// re-evaluated after each step. A variable that turns NaN or infinite
    /// stops the run with [`Error::Diverged`], which keeps the history.
    pub fn simulation_with(
        &self,
        t_end: f64,
        dt: f64,
        options: &SimulationOptions,
    ) -> Result<History> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::InvalidDt { dt });
        }
        if !t_end.is_finite() || t_end < 0.0 {
            return Err(Error::InvalidDuration { t: t_end, dt });
        }
        let mut c = self.compile()?;
        for (name, x) in &options.start {
            let i = self
                .variables
                .iter()
                .position(|v| &v.name == name)
                .ok_or_else(|| Error::NoSuchName {
                    name: name.clone(),
                    suggestion: closest(name, &self.all_names()),
                })?;
            c.slots[1 + i] = *x;
        }
        c.update_params();
        let keep: Vec<usize> = match &options.keep {
            None => (0..c.names.len()).collect(),
            Some(list) => list
                .iter()
                .map(|n| {
                    c.names
                        .iter()
                        .position(|k| k == n)
                        .ok_or_else(|| Error::NoSuchName {
                            name: n.clone(),
                            suggestion: closest(n, &c.names),
                        })
                })
                .collect::<Result<_>>()?,
        };
        let steps = (t_end / dt + 1e-9).floor();
        // More steps than f64 counts exactly never end: refused.
        if steps >= 2f64.powi(53) {
            return Err(Error::InvalidDuration { t: t_end, dt });
        }
        let steps = steps as usize;
        let every = options.every.max(1);
        let n = c.nvars;
        let tab = self.method.tableau();
        let native = match options.engine {
            Engine::Auto => steps >= NATIVE_FROM_STEPS,
            Engine::Native => true,
            Engine::Interpreter => false,
        };
        if native {
            c.translate_native(Some(tab));
        }
        let engine = if c.runs_native() {
            Engine::Native
        } else {
            Engine::Interpreter
        };
        let mut ws = Workspace::new(n, tab.b.len());
        let mut x: Vec<f64> = c.slots[1..=n].to_vec();
        let mut next = vec![0.0; n];
        let mut spikes = Vec::new();
        // Parameters that are numbers never change: their columns are
        // filled once at the end instead of pushed to at every step.
        let first_param = 1 + n;
        let varying: Vec<(usize, usize)> = keep
            .iter()
            .enumerate()
            .filter(|&(_, &slot)| {
                slot < first_param
                    || !matches!(
                        self.params.get(slot - first_param),
                        Some((_, Value::Number(_)))
                    )
            })
            .map(|(i, &slot)| (i, slot))
            .collect();
        let rows = steps / every + 1;
        let bytes = crate::memory::bytes(rows as u64, keep.len() as u64, 8);
        let limit = options
            .memory_limit
            .unwrap_or_else(crate::memory::default_limit);
        if bytes > limit {
            return Err(Error::MemoryLimit {
                what: format!(
                    "the history of {steps} steps ({rows} rows x {} columns of f64)",
                    keep.len()
                ),
                bytes,
                limit,
                ways_out: "keep fewer names (SimulationOptions::keep), keep every k-th row \
                           (SimulationOptions::every), simulate less time, or raise \
                           SimulationOptions::memory_limit"
                    .into(),
            });
        }
        let mut cols: Vec<Vec<f64>> = (0..keep.len())
            .map(|i| {
                if varying.iter().any(|v| v.0 == i) {
                    Vec::with_capacity(rows)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let record = |c: &Compiled, cols: &mut Vec<Vec<f64>>| {
            for &(i, slot) in &varying {
                cols[i].push(c.slots[slot]);
            }
        };
        c.slots[0] = 0.0;
        record(&c, &mut cols);
        let mut before_prev = false; // the condition before the initial state
        let mut prev_cond = c.spiking(0.0, &x);
        // Steps still to hold after a reset (semantics §2.3).
        let hold = self.refractory.map(|r| (r / dt).round() as usize);
        let mut refractory_left = 0usize;
        for m in 1..=steps {
            let t_prev = (m - 1) as f64 * dt;
            let t = m as f64 * dt;
            let reset_step = prev_cond;
            c.step(tab, t_prev, &x, dt, &mut ws, &mut next);
            if prev_cond {
                if !before_prev {
                    spikes.push(t_prev);
                }
                c.set_state(t_prev, &x);
                for (i, r) in c.reset.iter().enumerate() {
                    if let Some(p) = r {
                        next[i] = p.eval(&mut c.slots, &mut c.stack, &mut c.noise);
                    }
                }
            }
            if let Some(max) = c.clamp {
                for y in next.iter_mut() {
                    if *y > max {
                        *y = max;
                    }
                }
            }
            if let Some(i) = next.iter().position(|y| !y.is_finite()) {
                let last_state = self
                    .variables
                    .iter()
                    .map(|v| v.name.clone())
                    .zip(x.iter().copied())
                    .collect();
                let history = Box::new(History {
                    columns: columns(&c, &keep, cols, (m - 1) / every + 1),
                    spikes,
                    engine,
                });
                return Err(Error::Diverged {
                    variable: self.variables[i].name.clone(),
                    value: next[i],
                    t,
                    dt,
                    last_state,
                    history,
                });
            }
            std::mem::swap(&mut x, &mut next);
            c.set_state(t, &x);
            if let (Some(k), Some(h)) = (c.active, hold) {
                refractory_left = if reset_step {
                    h
                } else {
                    refractory_left.saturating_sub(1)
                };
                c.slots[k] = if refractory_left == 0 { 1.0 } else { 0.0 };
            }
            c.update_params();
            if m % every == 0 {
                record(&c, &mut cols);
            }
            before_prev = prev_cond;
            prev_cond = refractory_left == 0 && c.spiking_prepared();
        }
        // A condition that turned true in the final state is a spike too.
        if prev_cond && !before_prev && steps > 0 {
            spikes.push(steps as f64 * dt);
        }
        Ok(History {
            columns: columns(&c, &keep, cols, rows),
            spikes,
            engine,
        })
    }
}

/// The kept columns as arrays; `rows` states were recorded (`t` is always
/// a varying column), constant columns left empty are filled here.
fn columns(
    c: &Compiled,
    keep: &[usize],
    cols: Vec<Vec<f64>>,
    rows: usize,
) -> BTreeMap<String, Array1<f64>> {
    keep.iter()
        .zip(cols)
        .map(|(&slot, col)| {
            let col = if col.len() == rows {
                Array1::from(col)
            } else {
                Array1::from_elem(rows, c.slots[slot])
            };
            (c.names[slot].clone(), col)
        })
        .collect()
}
