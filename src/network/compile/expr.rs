//! Expressions of the crate's one expression language ([`Expr`], parsed by
//! `single::expr`) as float32 graph ops, vectorised over a population: each
//! name is a `[n]` vector or a scalar of the environment, numbers are
//! scalar constants, and broadcasting does the rest.

use tensorflow::{ops, DataType, Output, Scope};

use super::graph::{scalar_f32, select, tf_err};
use crate::error::Result;
use crate::single::expr::{BinOp, CmpOp, Expr};

/// A value: float32, or a condition (bool).
#[derive(Clone)]
enum Val {
    F(Output),
    B(Output),
}

/// The in-graph draws of `rand()` (uniform on [0, 1)) and `randn()`
/// (standard normal) in one copy of a model nucleus's step: `n` values per
/// call, keyed by the two-word Philox key (`seed` plus the call's index in
/// the step, the step number), so a resumed or multi-step run draws the
/// same numbers (docs/semantics.md §3.2).
pub(super) struct Draws {
    pub(super) n: u64,
    /// The step number (int64 scalar).
    pub(super) step: Output,
    pub(super) seed: i64,
    /// The next call's index.
    pub(super) next: std::cell::Cell<i64>,
    /// The op of the uniform draws.
    pub(super) by: super::noise::UniformOp,
}

/// Emits expressions into one scope, reading names from `env`.
pub(super) struct Emitter<'a> {
    pub(super) scope: Scope,
    pub(super) env: &'a dyn Fn(&str) -> Option<Output>,
    /// For error messages: the model.
    pub(super) model: &'a str,
    /// Where `rand()` and `randn()` may be called (threshold, reset).
    pub(super) draws: Option<&'a Draws>,
}

fn op_err(e: tensorflow::Status) -> crate::Error {
    tf_err("expression")(e)
}

impl Emitter<'_> {
    /// `e` as a float32 output.
    pub(super) fn float(&mut self, e: &Expr) -> Result<Output> {
        let v = self.emit(e)?;
        self.as_f(v)
    }

    /// `e` as a condition (bool output).
    pub(super) fn condition(&mut self, e: &Expr) -> Result<Output> {
        let v = self.emit(e)?;
        self.as_b(v)
    }

    fn as_f(&mut self, v: Val) -> Result<Output> {
        match v {
            Val::F(x) => Ok(x),
            Val::B(b) => Ok(ops::Cast::new()
                .DstT(DataType::Float)
                .build(b, &mut self.scope)
                .map_err(op_err)?
                .into()),
        }
    }

    fn as_b(&mut self, v: Val) -> Result<Output> {
        match v {
            Val::B(b) => Ok(b),
            Val::F(x) => {
                let zero = scalar_f32(&mut self.scope, "zero", 0.0)?;
                Ok(ops::not_equal(x, zero, &mut self.scope)
                    .map_err(op_err)?
                    .into())
            }
        }
    }

    fn num(&mut self, x: f64) -> Result<Output> {
        Ok(scalar_f32(&mut self.scope, "c", x as f32)?.into())
    }

    fn emit(&mut self, e: &Expr) -> Result<Val> {
        let s = &mut self.scope;
        Ok(match e {
            Expr::Num(x) => Val::F(self.num(*x)?),
            Expr::Name(n) => match (self.env)(n) {
                // A bool in the environment is a condition (`__active`).
                Some(o) if o.operation.output_type(o.index as usize) == DataType::Bool => Val::B(o),
                Some(o) => Val::F(o),
                None => match n.as_str() {
                    "pi" => Val::F(self.num(std::f64::consts::PI)?),
                    "e" => Val::F(self.num(std::f64::consts::E)?),
                    _ => {
                        return Err(crate::Error::Internal {
                            context: format!("building model {:?}", self.model),
                            message: format!("name {n} has no value in the graph"),
                        })
                    }
                },
            },
            Expr::Neg(x) => {
                let x = self.float(x)?;
                Val::F(ops::neg(x, &mut self.scope).map_err(op_err)?.into())
            }
            Expr::Not(x) => {
                let b = self.condition(x)?;
                Val::B(ops::logical_not(b, &mut self.scope).map_err(op_err)?.into())
            }
            Expr::Bin(op @ (BinOp::And | BinOp::Or), a, b) => {
                let (a, b) = (self.emit(a)?, self.emit(b)?);
                match (a, b, op) {
                    (Val::B(a), Val::B(b), BinOp::And) => Val::B(
                        ops::logical_and(a, b, &mut self.scope)
                            .map_err(op_err)?
                            .into(),
                    ),
                    (Val::B(a), Val::B(b), _) => Val::B(
                        ops::logical_or(a, b, &mut self.scope)
                            .map_err(op_err)?
                            .into(),
                    ),
                    // Python's values: `a and b` is b if a is true, else a.
                    (a, b, op) => {
                        let cond = self.as_b(a.clone())?;
                        let (a, b) = (self.as_f(a)?, self.as_f(b)?);
                        let (t, f) = if *op == BinOp::And { (b, a) } else { (a, b) };
                        Val::F(select(&mut self.scope, cond, t, f)?)
                    }
                }
            }
            Expr::Bin(op, a, b) => {
                let (a, b) = (self.float(a)?, self.float(b)?);
                let s = &mut self.scope;
                let out: Output = match op {
                    BinOp::Add => ops::add(a, b, s).map_err(op_err)?.into(),
                    BinOp::Sub => ops::sub(a, b, s).map_err(op_err)?.into(),
                    BinOp::Mul => ops::mul(a, b, s).map_err(op_err)?.into(),
                    BinOp::Div => ops::real_div(a, b, s).map_err(op_err)?.into(),
                    // Python's %: the sign of the divisor, as FloorMod.
                    BinOp::Mod => ops::floor_mod(a, b, s).map_err(op_err)?.into(),
                    BinOp::Pow => ops::pow(a, b, s).map_err(op_err)?.into(),
                    BinOp::And | BinOp::Or => unreachable_and_or()?,
                };
                Val::F(out)
            }
            Expr::Compare(first, rest) => {
                let mut left = self.float(first)?;
                let mut all: Option<Output> = None;
                for (op, x) in rest {
                    let right = self.float(x)?;
                    let s = &mut self.scope;
                    let (l, r) = (left.clone(), right.clone());
                    let c: Output = match op {
                        CmpOp::Lt => ops::less(l, r, s).map_err(op_err)?.into(),
                        CmpOp::Le => ops::less_equal(l, r, s).map_err(op_err)?.into(),
                        CmpOp::Gt => ops::greater(l, r, s).map_err(op_err)?.into(),
                        CmpOp::Ge => ops::greater_equal(l, r, s).map_err(op_err)?.into(),
                        CmpOp::Eq => ops::equal(l, r, s).map_err(op_err)?.into(),
                        CmpOp::Ne => ops::not_equal(l, r, s).map_err(op_err)?.into(),
                    };
                    all = Some(match all {
                        None => c,
                        Some(prev) => ops::logical_and(prev, c, s).map_err(op_err)?.into(),
                    });
                    left = right;
                }
                match all {
                    Some(b) => Val::B(b),
                    None => Val::F(left),
                }
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.condition(cond)?;
                let (t, f) = (self.float(then)?, self.float(otherwise)?);
                Val::F(select(&mut self.scope, c, t, f)?)
            }
            Expr::Call(f, args) => {
                let _ = s;
                Val::F(self.call(f, args)?)
            }
        })
    }

    fn call(&mut self, f: &str, args: &[Expr]) -> Result<Output> {
        if let (Some(d), "rand" | "randn", true) = (self.draws, f, args.is_empty()) {
            return self.draw(d, f == "randn");
        }
        let mut xs = Vec::with_capacity(args.len());
        for a in args {
            xs.push(self.float(a)?);
        }
        let s = &mut self.scope;
        let one = |i: usize| xs[i].clone();
        Ok(match (f, xs.len()) {
            ("exp", 1) => ops::exp(one(0), s).map_err(op_err)?.into(),
            ("log", 1) => ops::log(one(0), s).map_err(op_err)?.into(),
            ("log10", 1) => {
                let ln10 = scalar_f32(s, "ln10", std::f32::consts::LN_10)?;
                let l = ops::log(one(0), s).map_err(op_err)?;
                ops::real_div(l, ln10, s).map_err(op_err)?.into()
            }
            ("sqrt", 1) => ops::sqrt(one(0), s).map_err(op_err)?.into(),
            ("abs", 1) => ops::abs(one(0), s).map_err(op_err)?.into(),
            ("sin", 1) => ops::sin(one(0), s).map_err(op_err)?.into(),
            ("cos", 1) => ops::cos(one(0), s).map_err(op_err)?.into(),
            ("tan", 1) => ops::tan(one(0), s).map_err(op_err)?.into(),
            ("tanh", 1) => ops::tanh(one(0), s).map_err(op_err)?.into(),
            ("sinh", 1) => ops::sinh(one(0), s).map_err(op_err)?.into(),
            ("cosh", 1) => ops::cosh(one(0), s).map_err(op_err)?.into(),
            ("asin" | "arcsin", 1) => ops::asin(one(0), s).map_err(op_err)?.into(),
            ("acos" | "arccos", 1) => ops::acos(one(0), s).map_err(op_err)?.into(),
            ("atan" | "arctan", 1) => ops::atan(one(0), s).map_err(op_err)?.into(),
            ("floor", 1) => ops::floor(one(0), s).map_err(op_err)?.into(),
            ("ceil", 1) => ops::ceil(one(0), s).map_err(op_err)?.into(),
            ("min", 2) => ops::minimum(one(0), one(1), s).map_err(op_err)?.into(),
            ("max", 2) => ops::maximum(one(0), one(1), s).map_err(op_err)?.into(),
            ("pow", 2) => ops::pow(one(0), one(1), s).map_err(op_err)?.into(),
            ("exprel", 1) => {
                // expm1(x) / x, 1 at 0 (Expm1 keeps it accurate near 0).
                let zero = scalar_f32(s, "zero", 0.0)?;
                let unit = scalar_f32(s, "one", 1.0)?;
                let at_zero = ops::equal(one(0), zero, s).map_err(op_err)?;
                let safe =
                    ops::select_v2(at_zero.clone(), unit.clone(), one(0), s).map_err(op_err)?;
                let m1 = ops::expm1(safe.clone(), s).map_err(op_err)?;
                let q = ops::div(m1, safe, s).map_err(op_err)?;
                ops::select_v2(at_zero, unit, q, s).map_err(op_err)?.into()
            }
            ("heaviside", 1 | 2) => {
                // NumPy's: 0 below 0, 1 above, h0 (0.5 by default) at 0.
                let zero = scalar_f32(s, "zero", 0.0)?;
                let unit = scalar_f32(s, "one", 1.0)?;
                let h0: Output = match xs.get(1) {
                    Some(h) => h.clone(),
                    None => scalar_f32(s, "half", 0.5)?.into(),
                };
                let above = ops::greater(one(0), zero.clone(), s).map_err(op_err)?;
                let below = ops::less(one(0), zero.clone(), s).map_err(op_err)?;
                let at = ops::select_v2(below, zero, h0, s).map_err(op_err)?;
                ops::select_v2(above, unit, at, s).map_err(op_err)?.into()
            }
            (f, _) => {
                return Err(crate::Error::InvalidModel {
                    message: format!(
                        "model {:?}: {f}() is not available here in the network engine \
                         (random draws: in parameters, initial values, the threshold and the \
                         reset; white noise xi in equations)",
                        self.model
                    ),
                })
            }
        })
    }
}

impl Emitter<'_> {
    /// One call's `n` draws.
    fn draw(&mut self, d: &Draws, normal: bool) -> Result<Output> {
        let index = d.next.get();
        d.next.set(index + 1);
        let s = &mut self.scope;
        let key = super::noise::step_key(s, &d.step, d.seed.wrapping_add(index))?;
        Ok(if normal {
            // Box–Muller as whole-tensor ops, as the nuclei's noise.
            super::noise::scaled_normal(&mut s.new_sub_scope("randn"), d.n, key, 1.0, &d.by)?
        } else {
            let dims = super::graph::const_i32(s, "draw_shape", &[d.n as i32], &[1])?;
            super::noise::uniform(s, dims.into(), key, "rand", &d.by)?
        })
    }
}

fn unreachable_and_or() -> Result<Output> {
    Err(crate::Error::Internal {
        context: "building an expression".into(),
        message: "and/or reached the arithmetic operators".into(),
    })
}
