//! Synapse models with state (docs/semantics.md §3.6): the weight `w` of
//! each synapse, event-driven traces, and the statements run when a
//! presynaptic spike arrives (`on_pre`) and when the postsynaptic neuron
//! fires (`on_post`), written in the expression language and lowered here,
//! TensorFlow-free.
//!
//! ```
//! use snn::equations::SynapseModel;
//! let stdp = SynapseModel::new()
//!     .named("stdp")
//!     .trace("Apre", "-Apre / taupre")
//!     .trace("Apost", "-Apost / taupost")
//!     .param("taupre", 20.0).param("taupost", 20.0)
//!     .param("gmax", 0.01).param("dApre", 1e-4).param("dApost", -1.05e-4)
//!     .on_pre("ge += w; Apre += dApre; w = clip(w + Apost, 0, gmax)")
//!     .on_post("Apost += dApost; w = clip(w + Apre, 0, gmax)");
//! ```

use super::algebra::{linear_in, reads_any};
use super::lower::{split_statement, Ctx};
use super::{Lowered, OnPre};
use crate::error::Result;
use crate::single::expr::{self, BinOp, Expr};

/// A synapse model: the weight `w`, traces that decay exponentially
/// between events, parameters, and the `on_pre` / `on_post` statements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SynapseModel {
    pub(crate) name: String,
    pub(crate) traces: Vec<(String, String)>,
    pub(crate) params: Vec<(String, f64)>,
    pub(crate) on_pre: Option<String>,
    pub(crate) on_post: Option<String>,
}

impl SynapseModel {
    /// An empty model named "synapses".
    pub fn new() -> Self {
        SynapseModel {
            name: "synapses".into(),
            ..Default::default()
        }
    }
    /// Name the model (error messages use it).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// An event-driven trace `dX/dt = rhs` (Brian2's `(event-driven)`
    /// flag): `rhs` is `a · X` with `a` a constant (`-X / tau`), so the
    /// trace decays exactly between the events that change it. A trace
    /// changed only by `on_pre` statements is one per presynaptic neuron,
    /// one changed only by `on_post` one per postsynaptic neuron.
    pub fn trace(mut self, var: impl Into<String>, rhs: impl Into<String>) -> Self {
        self.traces.push((var.into(), rhs.into()));
        self
    }
    /// A parameter, the same for every synapse.
    pub fn param(mut self, name: impl Into<String>, value: f64) -> Self {
        self.params.push((name.into(), value));
        self
    }
    /// Statements run in order for each arriving presynaptic spike,
    /// separated by `;` or new lines: `x += c · w` into the postsynaptic
    /// model (as `Connection::on_pre`), a trace (`Apre += dApre`), the
    /// weight (`w = clip(w + Apost, 0, gmax)`).
    pub fn on_pre(mut self, statements: impl Into<String>) -> Self {
        self.on_pre = Some(statements.into());
        self
    }
    /// Statements run in order for each postsynaptic spike: a trace, the
    /// weight.
    pub fn on_post(mut self, statements: impl Into<String>) -> Self {
        self.on_post = Some(statements.into());
        self
    }
}

/// Which neuron a trace belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// One value per presynaptic neuron (changed by `on_pre`).
    Pre,
    /// One value per postsynaptic neuron (changed by `on_post`).
    Post,
}

/// A trace, lowered: one per neuron of its side, multiplied by `decay`
/// every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Its name in the statements.
    pub name: String,
    /// Whose neurons it belongs to.
    pub side: Side,
    /// `exp(a dt)`.
    pub decay: f64,
}

/// One statement, lowered (names: `w`, the traces; parameters folded in).
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `traces[index] = value` (value reads that trace and numbers only).
    Trace {
        /// The trace.
        index: usize,
        /// Its new value.
        value: Expr,
    },
    /// `w = value` (reads `w` and the traces).
    Weight {
        /// The new weight.
        value: Expr,
    },
    /// `target += coefficient · w` into the postsynaptic model.
    Deliver(OnPre),
}

/// A synapse model lowered for its postsynaptic model and time step.
#[derive(Debug, Clone, PartialEq)]
pub struct LoweredSynapses {
    /// The model's name.
    pub model: String,
    /// Its traces.
    pub traces: Vec<Trace>,
    /// What an arriving presynaptic spike does, in order.
    pub on_pre: Vec<Statement>,
    /// What a postsynaptic spike does, in order.
    pub on_post: Vec<Statement>,
}

impl LoweredSynapses {
    /// Whether any statement changes `w`.
    pub fn plastic(&self) -> bool {
        self.on_pre
            .iter()
            .chain(&self.on_post)
            .any(|s| matches!(s, Statement::Weight { .. }))
    }
}

/// Split statements on `;` and new lines, with their byte offsets.
fn statements(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ';')))
    {
        if c == ';' || c == '\n' {
            let piece = &text[start..i];
            let trimmed = piece.trim_start();
            if !trimmed.trim().is_empty() {
                out.push((start + piece.len() - trimmed.len(), trimmed.trim_end()));
            }
            start = i + c.len_utf8();
        }
    }
    out
}

impl SynapseModel {
    /// Lower for a postsynaptic model (`None`: an Izhikevich nucleus,
    /// which takes no `on_pre` delivery) and time step `dt` (ms).
    pub fn lower(&self, post: Option<&Lowered>, dt: f64) -> Result<LoweredSynapses> {
        let ctx = Ctx { model: &self.name };
        let names: Vec<&str> = self.traces.iter().map(|(t, _)| t.as_str()).collect();
        let mut defined: Vec<&str> = vec!["w"];
        for n in names
            .iter()
            .copied()
            .chain(self.params.iter().map(|(p, _)| p.as_str()))
        {
            if defined.contains(&n) || matches!(n, "t" | "dt") {
                return Err(ctx.err(
                    "definitions",
                    n,
                    None,
                    "defined twice (or a reserved name: w, t, dt)",
                ));
            }
            defined.push(n);
        }
        let fold = |e: &Expr| {
            let e = expr::substitute(e, &|n| match n {
                "dt" => Some(dt),
                _ => self.params.iter().find(|(p, _)| p == n).map(|(_, v)| *v),
            });
            expr::fold(&e)
        };
        let mut known: Vec<String> = defined.iter().map(|s| s.to_string()).collect();
        known.push("dt".into());
        let mut traces = Vec::with_capacity(self.traces.len());
        for (name, rhs) in &self.traces {
            let item = format!("trace d{name}/dt");
            let e = fold(&ctx.parse(&item, rhs, rhs, 0, &known)?);
            let rate = match linear_in(&e, name) {
                Some((Expr::Num(a), Expr::Num(0.0))) => a,
                _ => {
                    return Err(ctx.err(
                        &item,
                        rhs,
                        None,
                        &format!(
                        "an event-driven trace decays exponentially: d{name}/dt = -{name} / tau \
                             (a constant rate times {name}, nothing else)"
                    ),
                    ))
                }
            };
            traces.push(Trace {
                name: name.clone(),
                side: Side::Pre,
                decay: (rate * dt).exp(),
            });
        }
        let mut lowered = LoweredSynapses {
            model: self.name.clone(),
            traces,
            on_pre: Vec::new(),
            on_post: Vec::new(),
        };
        let mut written = [Vec::new(), Vec::new()];
        for (k, (pathway, text)) in [("on_pre", &self.on_pre), ("on_post", &self.on_post)]
            .into_iter()
            .enumerate()
        {
            let Some(text) = text else { continue };
            for (at, stmt) in statements(text) {
                let s = self.statement(&ctx, pathway, stmt, text, at, &known, post, &fold)?;
                if let Statement::Trace { index, .. } = &s {
                    written[k].push(*index);
                }
                if k == 0 {
                    lowered.on_pre.push(s);
                } else {
                    lowered.on_post.push(s);
                }
            }
        }
        for (i, trace) in lowered.traces.iter_mut().enumerate() {
            match (written[0].contains(&i), written[1].contains(&i)) {
                (true, true) => {
                    return Err(ctx.err(
                        &format!("trace {}", trace.name),
                        &trace.name,
                        None,
                        "changed by both on_pre and on_post: it would be one per synapse, which \
                         snn does not support (a trace is one per presynaptic neuron, changed by \
                         on_pre, or one per postsynaptic neuron, changed by on_post)",
                    ))
                }
                (false, true) => trace.side = Side::Post,
                _ => trace.side = Side::Pre,
            }
        }
        Ok(lowered)
    }

    /// One statement of `pathway`.
    #[allow(clippy::too_many_arguments)]
    fn statement(
        &self,
        ctx: &Ctx,
        pathway: &str,
        stmt: &str,
        text: &str,
        at: usize,
        known: &[String],
        post: Option<&Lowered>,
        fold: &dyn Fn(&Expr) -> Expr,
    ) -> Result<Statement> {
        let (target, op, rhs_at) = split_statement(stmt).ok_or_else(|| {
            ctx.err(
                pathway,
                text,
                Some(at),
                "write a statement `x = expr` (or +=, -=, *=, /=)",
            )
        })?;
        let index = self.traces.iter().position(|(t, _)| *t == target);
        if target != "w" && index.is_none() {
            // Into the postsynaptic model: only from on_pre, as
            // Connection::on_pre.
            return match (pathway, post) {
                ("on_pre", Some(model)) => model.on_pre(stmt).map(Statement::Deliver),
                ("on_pre", None) => Err(ctx.err(
                    pathway,
                    text,
                    Some(at),
                    &format!(
                        "{target:?} is not w or a trace of the synapses, and the target's \
                         Izhikevich neurons take their input in I without on_pre"
                    ),
                )),
                _ => Err(ctx.err(
                    pathway,
                    text,
                    Some(at),
                    &format!(
                        "{target:?} is not w or a trace: on_post statements change w and the \
                         synapses' traces"
                    ),
                )),
            };
        }
        let rhs = &stmt[rhs_at..];
        let e = fold(&ctx.parse(pathway, text, rhs, at + rhs_at, known)?);
        let old = Expr::Name(target.clone());
        let bin = |op: BinOp| Expr::Bin(op, Box::new(old.clone()), Box::new(e.clone()));
        let value = match op {
            "=" => e.clone(),
            "+=" => bin(BinOp::Add),
            "-=" => bin(BinOp::Sub),
            "*=" => bin(BinOp::Mul),
            _ => bin(BinOp::Div),
        };
        match index {
            None => Ok(Statement::Weight { value }),
            Some(index) => {
                let others: Vec<&str> = std::iter::once("w")
                    .chain(
                        self.traces
                            .iter()
                            .map(|(t, _)| t.as_str())
                            .filter(|t| *t != target),
                    )
                    .collect();
                if reads_any(&value, &others) {
                    return Err(ctx.err(
                        pathway,
                        text,
                        Some(at + rhs_at),
                        &format!(
                            "a statement for the trace {target} may read only {target} and \
                             the parameters: reading w or another trace would make it one per \
                             synapse, which snn does not support"
                        ),
                    ));
                }
                Ok(Statement::Trace { index, value })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdp() -> SynapseModel {
        SynapseModel::new()
            .named("stdp")
            .trace("Apre", "-Apre / taupre")
            .trace("Apost", "-Apost / taupost")
            .param("taupre", 20.0)
            .param("taupost", 10.0)
            .param("gmax", 0.01)
            .param("dApre", 1e-4)
            .param("dApost", -1e-4)
            .on_post("Apost += dApost\n w = clip(w + Apre, 0, gmax)")
    }

    #[test]
    fn statements_split_on_semicolons_and_lines() {
        assert_eq!(
            statements(" a += 1;b = 2\n\n  c *= 3 ; "),
            [(1, "a += 1"), (8, "b = 2"), (17, "c *= 3")]
        );
    }

    #[test]
    fn traces_take_their_side_and_decay() -> Result<()> {
        let l = stdp()
            .on_pre("Apre += dApre; w = clip(w + Apost, 0, gmax)")
            .lower(None, 0.1)?;
        assert_eq!(l.traces[0].side, Side::Pre);
        assert_eq!(l.traces[1].side, Side::Post);
        assert!((l.traces[0].decay - (-0.1f64 / 20.0).exp()).abs() < 1e-15);
        assert!((l.traces[1].decay - (-0.1f64 / 10.0).exp()).abs() < 1e-15);
        assert!(matches!(l.on_pre[0], Statement::Trace { index: 0, .. }));
        assert!(matches!(l.on_pre[1], Statement::Weight { .. }));
        assert!(l.plastic());
        Ok(())
    }

    #[test]
    fn per_synapse_traces_and_bad_statements_are_refused() {
        let problem = |m: SynapseModel| match m.lower(None, 0.1) {
            Err(crate::Error::Equation { problem, .. }) => problem,
            other => panic!("{other:?}"),
        };
        let both = stdp().on_pre("Apost += 1");
        assert!(problem(both).contains("both on_pre and on_post"));
        let reads_w = stdp().on_pre("Apre += w");
        assert!(problem(reads_w).contains("one per synapse"));
        let not_decay = stdp().trace("B", "1 - B");
        assert!(problem(not_decay).contains("decays exponentially"));
        let into_post = stdp().on_post("v += w");
        assert!(problem(into_post).contains("on_post statements change w"));
        let no_model = stdp().on_pre("ge += w");
        assert!(problem(no_model).contains("Izhikevich"));
    }
}
