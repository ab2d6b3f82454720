//! One step of each integration method written out as bindings
//! (docs/semantics.md §3): `x__new` is the new value of state variable `x`.
//! Bindings read the state at the start of the step, the pulse inputs,
//! per-neuron parameters, `t` and `__active`.

use super::algebra::{
    add, affine_in, div, exp, linear_in, mul, name, neg, num, reads_any, replace, select,
};
use super::eval::NoDraws;
use super::expm::propagators;
use super::lower::{Ctx, Lowered};
use super::{Method, NeuronModel};
use crate::error::Result;
use crate::single::expr::{self, Expr, Program};

/// The name of the binding that holds `x`'s new value.
pub(crate) fn new_name(x: &str) -> String {
    format!("{x}__new")
}

/// One step of a method, written out.
pub(crate) struct Step {
    pub bindings: Vec<(String, Expr)>,
    /// Per state variable, the binding of its new value.
    pub next: Vec<Option<String>>,
    /// Per-neuron parameters the method generated (propagator entries that
    /// differ between neurons).
    pub params: Vec<(String, Vec<f64>)>,
}

/// One step of `model.method` for the right-hand sides `rhs` (inlined and
/// folded, in equation order).
pub(crate) fn lower_method(
    ctx: &Ctx,
    model: &NeuronModel,
    lowered: &Lowered,
    rhs: &[Expr],
) -> Result<Step> {
    let vars: Vec<&str> = model.equations.iter().map(|e| e.var.as_str()).collect();
    let gated: Vec<bool> = model
        .equations
        .iter()
        .map(|e| e.unless_refractory)
        .collect();
    let dt = lowered.dt;
    let mut bindings = Vec::new();
    let mut params = Vec::new();
    let noises: Vec<&str> = lowered.noises.iter().map(|s| s.as_str()).collect();
    if model.method != Method::Euler {
        if let Some(k) = rhs.iter().position(|f| reads_any(f, &noises)) {
            let eq = &model.equations[k];
            return Err(ctx.err(
                &format!("equation d{}/dt", eq.var),
                &eq.rhs,
                None,
                &format!(
                    "an equation with white noise integrates with euler (Euler–Maruyama), \
                     as in Brian2; {} cannot integrate it",
                    match model.method {
                        Method::Rk4 => "rk4",
                        Method::ExponentialEuler => "exponential_euler",
                        _ => "exact",
                    }
                ),
            ));
        }
    }
    match model.method {
        Method::Euler => {
            // One standard normal draw per neuron, step and noise, shared by
            // the equations that read it.
            for xi in &noises {
                bindings.push((noise_name(xi), expr::Expr::Call("randn".into(), Vec::new())));
            }
            for (k, ((x, f), &g)) in vars.iter().zip(rhs).zip(&gated).enumerate() {
                let value = if reads_any(f, &noises) {
                    let (drift, diffusion) = split_noise(ctx, model, lowered, k, f, &noises)?;
                    // x + dt f + Σ sqrt(dt) g_k ξ_k: a step of Euler–Maruyama.
                    let mut inc = mul(num(dt), drift);
                    for (xi, g) in diffusion {
                        inc = add(inc, mul(mul(num(dt.sqrt()), g), name(&noise_name(xi))));
                    }
                    add(name(x), gate(inc, g))
                } else {
                    add(name(x), mul(num(dt), gate(f.clone(), g)))
                };
                bindings.push((new_name(x), value));
            }
        }
        Method::Rk4 => rk4(&vars, rhs, &gated, dt, &mut bindings),
        Method::ExponentialEuler => {
            for (k, ((x, f), &g)) in vars.iter().zip(rhs).zip(&gated).enumerate() {
                let Some((a, b)) = linear_in(f, x) else {
                    let eq = &model.equations[k];
                    return Err(ctx.err(
                        &format!("equation d{x}/dt"),
                        &eq.rhs,
                        None,
                        &format!(
                            "exponential_euler needs d{x}/dt = A {x} + B with A and B free of {x}; \
                             this equation is not linear in {x}"
                        ),
                    ));
                };
                let value = if matches!(a, Expr::Num(z) if z == 0.0) {
                    add(name(x), mul(num(dt), b))
                } else {
                    let (an, bn) = (format!("__A_{x}"), format!("__BA_{x}"));
                    bindings.push((an.clone(), a));
                    bindings.push((bn.clone(), div(b, name(&an))));
                    // x' = -B/A + (x + B/A) exp(A dt)
                    add(
                        neg(name(&bn)),
                        mul(add(name(&bn), name(x)), exp(mul(name(&an), num(dt)))),
                    )
                };
                let value = if g {
                    select(name("__active"), value, name(x))
                } else {
                    value
                };
                bindings.push((new_name(x), value));
            }
        }
        Method::Exact => exact(
            ctx,
            model,
            lowered,
            &vars,
            rhs,
            &gated,
            &mut bindings,
            &mut params,
        )?,
    }
    let next = lowered
        .state
        .iter()
        .map(|x| vars.contains(&x.as_str()).then(|| new_name(x)))
        .collect();
    Ok(Step {
        bindings,
        next,
        params,
    })
}

/// The binding of white noise `xi`'s draw.
pub(crate) fn noise_name(xi: &str) -> String {
    format!("__noise_{xi}")
}

/// Equation `k`'s right-hand side `f` as `drift + Σ g_j ξ_j` over the white
/// noises it reads, each `g_j` free of the state variables and of every
/// noise (additive noise, the kind Euler–Maruyama integrates: Brian2's
/// `euler` refuses multiplicative noise too).
fn split_noise<'n>(
    ctx: &Ctx,
    model: &NeuronModel,
    lowered: &Lowered,
    k: usize,
    f: &Expr,
    noises: &[&'n str],
) -> Result<(Expr, Vec<(&'n str, Expr)>)> {
    let eq = &model.equations[k];
    let fail =
        |problem: String| ctx.err(&format!("equation d{}/dt", eq.var), &eq.rhs, None, &problem);
    let state: Vec<&str> = lowered.state.iter().map(|s| s.as_str()).collect();
    let mut drift = f.clone();
    let mut diffusion = Vec::new();
    for &xi in noises {
        if !reads_any(&drift, &[xi]) {
            continue;
        }
        let Some((g, rest)) = linear_in(&drift, xi) else {
            return Err(fail(format!(
                "white noise enters an equation as a term g·{xi}; this equation is not linear \
                 in {xi}"
            )));
        };
        if reads_any(&g, noises) || reads_any(&g, &state) {
            return Err(fail(format!(
                "the factor of {xi} reads a state variable or another noise (multiplicative \
                 noise); euler integrates additive noise only, as in Brian2"
            )));
        }
        diffusion.push((xi, g));
        drift = rest;
    }
    Ok((drift, diffusion))
}

/// `f` while active, 0 while refractory (for `unless refractory`).
fn gate(f: Expr, gated: bool) -> Expr {
    if gated {
        select(name("__active"), f, num(0.0))
    } else {
        f
    }
}

/// The classical Runge–Kutta step over the whole system: stage `s` reads
/// the stage state `x__s{s}` and time `t + c_s dt`.
fn rk4(vars: &[&str], rhs: &[Expr], gated: &[bool], dt: f64, out: &mut Vec<(String, Expr)>) {
    let stage_rhs = |stage: usize, f: &Expr, shift: f64| -> Expr {
        replace(f, &|n| {
            if stage > 1 && vars.contains(&n) {
                Some(name(&format!("{n}__s{stage}")))
            } else if n == "t" && shift != 0.0 {
                Some(add(name("t"), num(shift)))
            } else {
                None
            }
        })
    };
    let weights = [(1, 0.0), (2, dt / 2.0), (3, dt / 2.0), (4, dt)];
    for (stage, shift) in weights {
        if stage > 1 {
            // The stage state from the previous stage's slopes.
            for x in vars {
                let k = name(&format!("{x}__k{}", stage - 1));
                out.push((format!("{x}__s{stage}"), add(name(x), mul(num(shift), k))));
            }
        }
        for ((x, f), &g) in vars.iter().zip(rhs).zip(gated) {
            out.push((
                format!("{x}__k{stage}"),
                gate(stage_rhs(stage, f, shift), g),
            ));
        }
    }
    for x in vars {
        let k = |s: usize| name(&format!("{x}__k{s}"));
        let sum = add(
            add(add(k(1), mul(num(2.0), k(2))), mul(num(2.0), k(3))),
            k(4),
        );
        out.push((new_name(x), add(name(x), mul(num(dt / 6.0), sum))));
    }
}

/// The exact step of `x' = M x + c` (`M` constant: parameters only; `c`
/// may read pulse inputs, `t` and parameters): `x_new = P x + G c` with the
/// propagators of `M` per distinct parameter set. Variables `unless
/// refractory` have derivative 0 while refractory: a second pair of
/// propagators (their rows of `M` and `c` zero), chosen per neuron by
/// `__active`.
#[allow(clippy::too_many_arguments)]
fn exact(
    ctx: &Ctx,
    model: &NeuronModel,
    lowered: &Lowered,
    vars: &[&str],
    rhs: &[Expr],
    gated: &[bool],
    out: &mut Vec<(String, Expr)>,
    generated: &mut Vec<(String, Vec<f64>)>,
) -> Result<()> {
    let k = vars.len();
    // What may change from step to step besides the state with equations.
    let runtime: Vec<&str> = lowered
        .pulses
        .iter()
        .chain(lowered.state.iter().filter(|x| !vars.contains(&x.as_str())))
        .map(String::as_str)
        .chain(["t"])
        .collect();
    // M's entries (expressions of per-neuron parameters) and c.
    let mut m_exprs = Vec::with_capacity(k * k);
    let mut c_exprs = Vec::with_capacity(k);
    for (i, f) in rhs.iter().enumerate() {
        let eq = &model.equations[i];
        let bad = |why: &str| {
            ctx.err(
                &format!("equation d{}/dt", eq.var),
                &eq.rhs,
                None,
                &format!(
                    "the exact method needs a linear system with constant coefficients: {why}"
                ),
            )
        };
        let (coef, c) = affine_in(f, vars)
            .ok_or_else(|| bad("this equation is not linear in the state variables"))?;
        if coef.iter().any(|a| reads_any(a, &runtime)) {
            return Err(bad(
                "a coefficient of a state variable changes with time or input",
            ));
        }
        m_exprs.extend(coef);
        c_exprs.push(c);
    }
    // M per neuron, evaluated from the per-neuron parameters.
    let names: Vec<String> = lowered.params.iter().map(|(p, _)| p.clone()).collect();
    let resolve = |n: &str| names.iter().position(|p| p == n);
    let programs: Vec<Program> = m_exprs
        .iter()
        .map(|e| expr::compile(e, &e.to_string(), &resolve, &names))
        .collect::<Result<_>>()?;
    let mut slots = vec![0.0; names.len() + 1];
    let mut stack = vec![0.0; programs.iter().map(|p| p.max_stack).max().unwrap_or(1)];
    let dt = lowered.dt;
    // Distinct parameter sets get their propagators once.
    let mut cache: Vec<(Vec<u64>, [Vec<f64>; 4])> = Vec::new();
    let mut per_neuron: Vec<usize> = Vec::with_capacity(lowered.n);
    for i in 0..lowered.n {
        for (slot, (_, v)) in slots.iter_mut().zip(&lowered.params) {
            *slot = v[i];
        }
        let m: Vec<f64> = programs
            .iter()
            .map(|p| p.eval(&mut slots, &mut stack, &mut NoDraws))
            .collect();
        let key: Vec<u64> = m.iter().map(|x| x.to_bits()).collect();
        let j = match cache.iter().position(|(kk, _)| *kk == key) {
            Some(j) => j,
            None => {
                if m.iter().any(|x| !x.is_finite()) {
                    let eq = &model.equations[0];
                    return Err(ctx.err(
                        "exact method",
                        &eq.rhs,
                        None,
                        &format!("the system's coefficients are not finite for neuron {i}"),
                    ));
                }
                let (p, g) = propagators(&m, k, dt);
                let mut mr = m.clone();
                for (row, &gt) in gated.iter().enumerate() {
                    if gt {
                        mr[row * k..(row + 1) * k].fill(0.0);
                    }
                }
                let (pr, gr) = propagators(&mr, k, dt);
                cache.push((key, [p, g, pr, gr]));
                cache.len() - 1
            }
        };
        per_neuron.push(j);
    }
    // An entry is a number when every neuron has the same, else a
    // generated per-neuron parameter `__P{i}_{j}` (and G, Pr, Gr).
    let mut entry = |which: usize, label: &str, i: usize, j: usize| -> Expr {
        let values: Vec<f64> = per_neuron
            .iter()
            .map(|&c| cache[c].1[which][i * k + j])
            .collect();
        if values.iter().all(|v| v.to_bits() == values[0].to_bits()) {
            num(values[0])
        } else {
            let n = format!("__{label}{i}_{j}");
            generated.push((n.clone(), values));
            name(&n)
        }
    };
    // The affine terms that are not 0, as bindings `__c{i}`.
    let has_c: Vec<bool> = c_exprs
        .iter()
        .map(|c| !matches!(c, Expr::Num(z) if *z == 0.0))
        .collect();
    for (i, c) in c_exprs.iter().enumerate().filter(|(i, _)| has_c[*i]) {
        out.push((format!("__c{i}"), c.clone()));
    }
    let any_gated = gated.iter().any(|&g| g);
    for i in 0..k {
        let mut full = num(0.0);
        let mut refr = num(0.0);
        for j in 0..k {
            full = add(full, mul(entry(0, "P", i, j), name(vars[j])));
            if has_c[j] {
                full = add(full, mul(entry(1, "G", i, j), name(&format!("__c{j}"))));
            }
            if any_gated {
                refr = add(refr, mul(entry(2, "Pr", i, j), name(vars[j])));
                if has_c[j] && !gated[j] {
                    refr = add(refr, mul(entry(3, "Gr", i, j), name(&format!("__c{j}"))));
                }
            }
        }
        // A variable whose refractory step is its ordinary one (it does not
        // depend on the variables held while refractory) needs no choice.
        let value = if any_gated && refr != full {
            select(name("__active"), full, refr)
        } else {
            full
        };
        out.push((new_name(vars[i]), value));
    }
    Ok(())
}
