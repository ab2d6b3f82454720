//! A [`Model`] compiled to programs over numbered slots, the random
//! generator its expressions draw from, and its right-hand side for other
//! integrators ([`Rhs`]).

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::single::expr::{self, Expr, Noise, Program};
use crate::single::integrate::{copy_small, step, Tableau, Workspace};
use crate::single::model::{Model, Value, Variable};

/// The random generator behind `rand()` and `randn()`.
pub(crate) struct ModelNoise(rand::rngs::StdRng);

impl Noise for ModelNoise {
    fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }
    fn normal(&mut self) -> f64 {
        self.0.sample(StandardNormal)
    }
}

/// A compiled program and, when the `jit` feature could translate it, the
/// same program as native code (identical results, no dispatch).
#[derive(Debug)]
pub(crate) struct Exec {
    pub program: Program,
    #[cfg(feature = "jit")]
    native: Option<crate::single::jit::NativeFn>,
}

impl Exec {
    /// Evaluate (see [`Program::eval`]).
    #[inline]
    pub(crate) fn eval(&self, slots: &mut [f64], stack: &mut [f64], noise: &mut dyn Noise) -> f64 {
        #[cfg(feature = "jit")]
        if let Some(f) = &self.native {
            return f.call(slots, noise);
        }
        self.program.eval(slots, stack, noise)
    }

    fn interpreted(program: Program) -> Exec {
        Exec {
            program,
            #[cfg(feature = "jit")]
            native: None,
        }
    }
}

/// A model compiled to programs over slots `[t, variables..., parameters...]`.
pub(crate) struct Compiled {
    pub nvars: usize,
    pub names: Vec<String>,
    /// Every derivative, stored into the slots after the parameters.
    pub ddt: Exec,
    /// First derivative slot.
    pub dslot: usize,
    pub reset: Vec<Option<Exec>>,
    /// Expression parameters, in dependency order, each stored into its slot.
    pub params: Exec,
    pub spike: Option<Exec>,
    pub slots: Vec<f64>,
    pub stack: Vec<f64>,
    pub noise: ModelNoise,
    pub clamp: Option<f64>,
    /// The slot of `not_refractory`, with a refractory period.
    pub active: Option<usize>,
    /// A whole step as native code (feature `jit`, long simulations).
    #[cfg(feature = "jit")]
    pub native_step: Option<crate::single::jit::NativeStep>,
}

/// The name expressions read for "not refractory" (1 or 0), as Brian2's.
pub(crate) const NOT_REFRACTORY: &str = "not_refractory";

/// Fewer integration steps than this are interpreted: translating a model
/// to native code costs about as much as interpreting this many steps
/// (0.3 ms for FitzHugh–Nagumo, 1 ms for Hodgkin–Huxley).
pub(crate) const NATIVE_FROM_STEPS: usize = 5_000;

impl Compiled {
    /// Translate every program to native code (feature `jit`; where that is
    /// not possible the interpreter stays). Results do not change.
    /// With a tableau, also one whole integration step as native code
    /// ([`Compiled::native_step`]).
    /// Whether the derivatives run as native code.
    pub(crate) fn runs_native(&self) -> bool {
        #[cfg(feature = "jit")]
        {
            self.ddt.native.is_some()
        }
        #[cfg(not(feature = "jit"))]
        {
            false
        }
    }

    pub(crate) fn translate_native(&mut self, tab: Option<&Tableau>) {
        #[cfg(feature = "jit")]
        {
            let ddt_first = self.ddt.native.is_none() && !self.ddt.program.ops.is_empty();
            let mut execs: Vec<&mut Exec> = vec![&mut self.ddt, &mut self.params];
            execs.extend(self.spike.iter_mut());
            execs.extend(self.reset.iter_mut().flatten());
            execs.retain(|e| e.native.is_none() && !e.program.ops.is_empty());
            let programs: Vec<&Program> = execs.iter().map(|e| &e.program).collect();
            let layout = crate::single::jit::Layout {
                state: 1,
                deriv: self.dslot,
                n: self.nvars,
            };
            // The derivatives come first in `execs` when still to translate.
            let step = tab.filter(|_| ddt_first).map(|t| (0, t));
            if let Some((native, step)) =
                crate::single::jit::compile_with_step(&programs, layout, step)
            {
                for (e, f) in execs.into_iter().zip(native) {
                    e.native = Some(f);
                }
                self.native_step = step;
            }
        }
        #[cfg(not(feature = "jit"))]
        let _ = tab;
    }

    /// One integration step from `(t, x)` into `out`: native code when
    /// translated, else [`step`] over the interpreted derivatives.
    pub(crate) fn step(
        &mut self,
        tab: &Tableau,
        t: f64,
        x: &[f64],
        dt: f64,
        ws: &mut Workspace,
        out: &mut [f64],
    ) {
        #[cfg(feature = "jit")]
        if let Some(s) = &self.native_step {
            self.slots[0] = t;
            if s.call(&mut self.slots, x, dt, out, &mut self.noise) {
                return;
            }
        }
        let mut f = |tt: f64, xx: &[f64], o: &mut [f64]| self.deriv(tt, xx, o);
        step(tab, &mut f, t, x, dt, ws, out);
    }

    /// Evaluate parameter expressions into their slots.
    pub(crate) fn update_params(&mut self) {
        if !self.params.program.ops.is_empty() {
            self.params
                .eval(&mut self.slots, &mut self.stack, &mut self.noise);
        }
    }

    /// Put `(t, x)` into the slots.
    pub(crate) fn set_state(&mut self, t: f64, x: &[f64]) {
        self.slots[0] = t;
        if let Some(state) = self.slots.get_mut(1..=self.nvars) {
            copy_small(state, x);
        }
    }

    /// Derivatives at `(t, x)` (parameters as in the slots).
    pub(crate) fn deriv(&mut self, t: f64, x: &[f64], out: &mut [f64]) {
        #[cfg(feature = "jit")]
        if let Some(f) = &self.ddt.native {
            // Native code reads `x` and writes `out` directly.
            self.slots[0] = t;
            f.call_with(&mut self.slots, x, out, &mut self.noise);
            return;
        }
        self.set_state(t, x);
        self.deriv_prepared(out);
    }

    /// Derivatives at the state already in the slots.
    pub(crate) fn deriv_prepared(&mut self, out: &mut [f64]) {
        self.ddt
            .eval(&mut self.slots, &mut self.stack, &mut self.noise);
        if let Some(d) = self.slots.get(self.dslot..self.dslot + self.nvars) {
            copy_small(out, d);
        }
    }

    pub(crate) fn spiking(&mut self, t: f64, x: &[f64]) -> bool {
        self.set_state(t, x);
        self.spiking_prepared()
    }

    /// The spike condition at the state already in the slots.
    pub(crate) fn spiking_prepared(&mut self) -> bool {
        let Some(p) = &self.spike else { return false };
        p.eval(&mut self.slots, &mut self.stack, &mut self.noise) != 0.0
    }
}

impl Model {
    /// Parse and compile everything; errors name the expression at fault.
    pub(crate) fn compile(&self) -> Result<Compiled> {
        if self.variables.is_empty() {
            return Err(Error::InvalidModel {
                message: "a model needs at least one variable".into(),
            });
        }
        if let Some(r) = self.refractory.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(Error::InvalidModel {
                message: format!("the refractory period {r} is not a finite number >= 0"),
            });
        }
        let mut names: Vec<String> = vec!["t".into()];
        for n in self.all_names() {
            if names.contains(&n) {
                return Err(Error::InvalidModel {
                    message: format!("the name {n:?} is used twice (or is the reserved time `t`)"),
                });
            }
            names.push(n);
        }
        let known: Vec<String> = names.clone();
        let resolve = |n: &str| names.iter().position(|k| k == n);
        // Parameters that are plain numbers are fixed for the life of a
        // compiled model: inline them so constant folding can combine them.
        let constant = |n: &str| {
            self.params
                .iter()
                .find(|p| p.0 == n)
                .and_then(|p| match p.1 {
                    Value::Number(x) => Some(x),
                    Value::Expr(_) => None,
                })
        };
        // A parsed expression of the text `src`, numbers inlined.
        let comp_expr = |e: &Expr, src: &str| -> Result<Program> {
            expr::compile(&expr::substitute(e, &constant), src, &resolve, &known)
        };
        let comp = |src: &str| comp_expr(&expr::parse(src)?, src);
        let nvars = self.variables.len();
        // A held variable's derivative is 0 while refractory.
        let held = |v: &Variable| -> Result<Program> {
            let gated = Expr::If {
                cond: Box::new(Expr::Name(NOT_REFRACTORY.into())),
                then: Box::new(expr::parse(&v.ddt)?),
                otherwise: Box::new(Expr::Num(0.0)),
            };
            comp_expr(&gated, &v.ddt)
        };
        let ddt = self
            .variables
            .iter()
            .map(|v| match (v.unless_refractory, self.refractory) {
                (true, Some(_)) => held(v),
                _ => comp(&v.ddt),
            })
            .collect::<Result<Vec<_>>>()?;
        let reset = self
            .variables
            .iter()
            .map(|v| v.reset.as_deref().map(comp).transpose())
            .collect::<Result<Vec<_>>>()?;
        let spike = self.spike.as_deref().map(comp).transpose()?;

        // Parameter expressions in dependency order; cycles are errors.
        let first_param = 1 + nvars;
        let mut deps: Vec<Vec<usize>> = Vec::new();
        let mut progs: Vec<Option<Program>> = Vec::new();
        for (_, value) in &self.params {
            match value {
                Value::Number(_) => {
                    deps.push(Vec::new());
                    progs.push(None);
                }
                Value::Expr(src) => {
                    let e = expr::parse(src)?;
                    let mut used = Vec::new();
                    expr::names(&e, &mut used);
                    deps.push(
                        used.iter()
                            .filter_map(|n| self.params.iter().position(|p| &p.0 == n))
                            .collect(),
                    );
                    progs.push(Some(comp_expr(&e, src)?));
                }
            }
        }
        let order = topo_order(
            &deps,
            &self.params.iter().map(|p| p.0.clone()).collect::<Vec<_>>(),
        )?;
        let mut params = Program::empty();
        for i in order {
            if let Some(p) = progs[i].take() {
                params.append_store(&p, first_param + i);
            }
        }
        let dslot = names.len();
        let mut fused = Program::empty();
        for (i, p) in ddt.iter().enumerate() {
            fused.append_store(p, dslot + i);
        }
        let ddt = fused;

        let max_stack = std::iter::once(&ddt)
            .chain(reset.iter().flatten())
            .chain(spike.iter())
            .chain(std::iter::once(&params))
            .map(|p| p.max_stack)
            .max()
            .unwrap_or(1);
        let mut slots = vec![0.0; names.len() + nvars];
        for (i, v) in self.variables.iter().enumerate() {
            slots[1 + i] = v.init;
        }
        for (i, (_, value)) in self.params.iter().enumerate() {
            if let Value::Number(x) = value {
                slots[first_param + i] = *x;
            }
        }
        let active = self.refractory.map(|_| first_param + self.params.len());
        if let Some(k) = active {
            slots[k] = 1.0;
        }
        let mut c = Compiled {
            nvars,
            names,
            ddt: Exec::interpreted(ddt),
            dslot,
            reset: reset
                .into_iter()
                .map(|r| r.map(Exec::interpreted))
                .collect(),
            params: Exec::interpreted(params),
            spike: spike.map(Exec::interpreted),
            slots,
            stack: vec![0.0; max_stack + 1],
            noise: ModelNoise(rand::rngs::StdRng::seed_from_u64(self.seed)),
            clamp: self.max_spike_value,
            active,
            #[cfg(feature = "jit")]
            native_step: None,
        };
        c.update_params();
        Ok(c)
    }
}

/// A model's right-hand side, compiled: for benchmarks and for embedding the
/// model in another integrator.
pub struct Rhs {
    c: Compiled,
}

impl std::fmt::Debug for Rhs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rhs")
            .field("variables", &self.c.nvars)
            .finish_non_exhaustive()
    }
}

impl Rhs {
    /// Number of variables.
    pub fn len(&self) -> usize {
        self.c.nvars
    }
    /// True for a model without variables (which cannot be compiled).
    pub fn is_empty(&self) -> bool {
        self.c.nvars == 0
    }
    /// The initial state.
    pub fn initial_state(&self) -> Vec<f64> {
        self.c.slots[1..=self.c.nvars].to_vec()
    }
    /// Derivatives at `(t, x)` into `out`, with expression parameters
    /// evaluated for that state (as the simulation does after each step).
    /// Allocates nothing.
    pub fn derivatives(&mut self, t: f64, x: &[f64], out: &mut [f64]) {
        self.c.set_state(t, x);
        self.c.update_params();
        self.c.deriv(t, x, out);
    }
}

impl Model {
    /// Compile the right-hand side.
    pub fn rhs(&self) -> Result<Rhs> {
        let mut c = self.compile()?;
        c.translate_native(None);
        Ok(Rhs { c })
    }
}

/// Kahn's algorithm over "parameter i reads parameter j" edges; a cycle is an
/// error listing it.
fn topo_order(deps: &[Vec<usize>], names: &[String]) -> Result<Vec<usize>> {
    let n = deps.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut order = Vec::with_capacity(n);
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
        names: &[String],
    ) -> Result<()> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|&p| names[p].clone()).collect();
                cycle.push(names[i].clone());
                return Err(Error::CyclicParameter { cycle });
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &j in &deps[i] {
            visit(j, deps, state, order, path, names)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..n {
        visit(i, deps, &mut state, &mut order, &mut Vec::new(), names)?;
    }
    Ok(order)
}

#[cfg(all(test, feature = "jit"))]
mod tests {
    use crate::single::usual_models::{hodgkin_huxley, izhikevich};

    /// On this (x86-64 or aarch64) host every non-empty program of the
    /// usual models translates, so the agreement tests in `tests/single.rs`
    /// do compare native code with the interpreter.
    #[test]
    fn usual_models_translate_to_native_code() -> crate::Result<()> {
        for m in [hodgkin_huxley(), izhikevich()] {
            let mut c = m.compile()?;
            assert!(c.ddt.native.is_none());
            c.translate_native(Some(&crate::single::integrate::RK4));
            assert!(c.ddt.native.is_some());
            assert!(c.native_step.is_some());
            assert!(c.spike.as_ref().is_some_and(|s| s.native.is_some()));
            for r in c.reset.iter().flatten() {
                assert!(r.native.is_some());
            }
        }
        Ok(())
    }
}
