//! Stepping a [`Lowered`] model in f64, one neuron after another: the
//! reference the network engine is tested against, and the way to run a
//! network's model on its own.

use super::lower::Lowered;
use crate::error::Result;
use crate::single::expr::{self, Expr, Noise, Program};

/// What [`Lowered::simulate`] recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    /// `(step, neuron)` of every spike, in step order.
    pub spikes: Vec<(usize, usize)>,
    /// `state[m][i][k]`: state variable `i` of neuron `k` at the end of step
    /// `m` (after the reset).
    pub state: Vec<Vec<Vec<f64>>>,
}

/// For expressions that cannot draw (the exact method's coefficients).
pub(crate) struct NoDraws;

impl Noise for NoDraws {
    fn uniform(&mut self) -> f64 {
        f64::NAN
    }
    fn normal(&mut self) -> f64 {
        f64::NAN
    }
}

impl Lowered {
    /// Step the model `steps` times from its initial state (docs/semantics.md
    /// §3: update, threshold on the new state for neurons that are not
    /// refractory, reset, refractory period), with `pulse(m, p, out)`
    /// writing pulse input `p`'s value at step `m` for every neuron (read by
    /// step `m`'s update).
    pub fn simulate(
        &self,
        steps: usize,
        mut pulse: impl FnMut(usize, usize, &mut [f64]),
    ) -> Result<Simulated> {
        let k = self.state.len();
        // Slots: old state, pulses, parameters, t, __active, bindings, new state.
        let mut names: Vec<String> = self.state.clone();
        names.extend(self.pulses.iter().cloned());
        names.extend(self.params.iter().map(|(p, _)| p.clone()));
        names.extend(["t".to_string(), "__active".to_string()]);
        let base = names.len();
        names.extend(self.bindings.iter().map(|(b, _)| b.clone()));
        let new_at = names.len();
        let new_names: Vec<String> = self.state.iter().map(|x| format!("{x}__state")).collect();
        names.extend(new_names.iter().cloned());
        let resolve = |n: &str| names.iter().position(|k| k == n);
        let compile = |e: &Expr| expr::compile(e, &e.to_string(), &resolve, &names);
        let bindings: Vec<Program> = self
            .bindings
            .iter()
            .map(|(_, e)| compile(e))
            .collect::<Result<_>>()?;
        // The threshold and resets read the new state.
        let on_new = |e: &Expr| {
            super::algebra::replace(e, &|n| {
                self.state
                    .iter()
                    .position(|x| x == n)
                    .map(|i| Expr::Name(new_names[i].clone()))
            })
        };
        let threshold = compile(&on_new(&self.threshold))?;
        let resets: Vec<(usize, Program)> = self
            .reset
            .iter()
            .map(|(i, e)| Ok((*i, compile(&on_new(e))?)))
            .collect::<Result<_>>()?;
        let next: Vec<Option<usize>> = self
            .next
            .iter()
            .map(|b| b.as_ref().and_then(|b| resolve(b)))
            .collect();
        let depth = bindings
            .iter()
            .chain([&threshold])
            .chain(resets.iter().map(|(_, p)| p))
            .map(|p| p.max_stack)
            .max()
            .unwrap_or(1);
        // `rand()`/`randn()` (the threshold's and reset's, and white noise)
        // from a generator of the model's own: the same distributions as the
        // engine's draws, not the same numbers.
        let mut draws = {
            use rand::SeedableRng;
            super::lower::Draws(rand::rngs::StdRng::seed_from_u64(self.draw_seed))
        };
        // Poisson inputs: the slot they add to (state or pulse input) and
        // their distribution.
        let mut poisson = Vec::with_capacity(self.poisson_inputs.len());
        for input in &self.poisson_inputs {
            let target = match self.state.iter().position(|x| *x == input.target) {
                Some(x) => Ok(x),
                None => Err(self
                    .pulses
                    .iter()
                    .position(|p| *p == input.target)
                    .unwrap_or(0)),
            };
            poisson.push((target, &input.cdf, input.weight));
        }
        // What Poisson inputs into pulse inputs add to the next step's.
        let mut next_pulses = vec![vec![0.0; self.n]; self.pulses.len()];
        let mut stack = vec![0.0; depth];
        let mut slots = vec![0.0; names.len()];
        let mut state: Vec<Vec<f64>> = self.init.clone();
        let mut pulses = vec![vec![0.0; self.n]; self.pulses.len()];
        let mut last = vec![i64::MIN / 2; self.n];
        let mut out = Simulated {
            spikes: Vec::new(),
            state: Vec::with_capacity(steps),
        };
        for m in 0..steps {
            for (p, values) in pulses.iter_mut().enumerate() {
                pulse(m, p, values);
                for (v, extra) in values.iter_mut().zip(&mut next_pulses[p]) {
                    *v += std::mem::take(extra);
                }
            }
            for i in 0..self.n {
                for (x, values) in state.iter().enumerate() {
                    slots[x] = values[i];
                }
                for (p, values) in pulses.iter().enumerate() {
                    slots[k + p] = values[i];
                }
                let at = k + self.pulses.len();
                for (j, (_, values)) in self.params.iter().enumerate() {
                    slots[at + j] = values[i];
                }
                let refractory = self.refractory_steps(i).map(|r| r as i64);
                // Refractory while m - last < R: no update, no spike.
                let active = refractory.is_none_or(|r| m as i64 - last[i] >= r);
                slots[base - 2] = m as f64 * self.dt;
                slots[base - 1] = if active { 1.0 } else { 0.0 };
                for (j, program) in bindings.iter().enumerate() {
                    slots[base + j] = program.eval(&mut slots, &mut stack, &mut draws);
                }
                for x in 0..k {
                    slots[new_at + x] = match next[x] {
                        Some(b) => slots[b],
                        None => slots[x],
                    };
                }
                let fires = active && threshold.eval(&mut slots, &mut stack, &mut draws) != 0.0;
                for (target, cdf, weight) in &poisson {
                    let events = super::binomial::invert(cdf, draws.uniform()) as f64;
                    match *target {
                        // Read-only while refractory (and in the spike step).
                        Ok(x) if self.held[x] && (!active || fires) => {}
                        Ok(x) => slots[new_at + x] += weight * events,
                        Err(p) => next_pulses[p][i] += weight * events,
                    }
                }
                if fires {
                    out.spikes.push((m, i));
                    for (x, program) in &resets {
                        slots[new_at + x] = program.eval(&mut slots, &mut stack, &mut draws);
                    }
                    last[i] = m as i64;
                }
                for (x, values) in state.iter_mut().enumerate() {
                    values[i] = slots[new_at + x];
                }
            }
            out.state.push(state.clone());
        }
        Ok(out)
    }
}
