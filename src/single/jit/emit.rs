//! The translation of one stack program into Cranelift instructions:
//! where its loads and stores go ([`Env`]), and [`emit`], which follows the
//! interpreter's stack instruction by instruction.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, Block, FuncRef, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use super::{enter, Layout};
use crate::single::expr::{CmpOp, Func, Op, Program};

/// Where a program's loads come from and its stores go.
pub(super) struct Env {
    pub(super) slots: Value,
    pub(super) noise: Value,
    /// Slots whose value is held in a register (the stage's `t` and state
    /// in a whole step), read without a load.
    pub(super) regs: HashMap<usize, Value>,
    /// Slot ranges that live behind another pointer: (first slot, count,
    /// base pointer).
    pub(super) ptrs: Vec<(usize, usize, Value)>,
    /// Stores into these slots are kept as registers (the stage's
    /// derivatives in a whole step), not written.
    pub(super) capture: std::ops::Range<usize>,
    pub(super) captured: HashMap<usize, Value>,
}

impl Env {
    fn place(&self, s: usize) -> Option<(Value, i32)> {
        let (base, i) = self
            .ptrs
            .iter()
            .find(|&&(first, n, _)| (first..first + n).contains(&s))
            .map_or((self.slots, s), |&(first, _, base)| (base, s - first));
        Some((base, i32::try_from(i.checked_mul(8)?).ok()?))
    }
    fn load(&self, b: &mut FunctionBuilder, s: usize) -> Option<Value> {
        if let Some(&v) = self.regs.get(&s) {
            return Some(v);
        }
        let (base, off) = self.place(s)?;
        Some(b.ins().load(types::F64, MemFlagsData::trusted(), base, off))
    }
    fn store(&mut self, b: &mut FunctionBuilder, s: usize, v: Value) -> Option<()> {
        if self.capture.contains(&s) {
            self.captured.insert(s, v);
            return Some(());
        }
        let (base, off) = self.place(s)?;
        b.ins().store(MemFlagsData::trusted(), v, base, off);
        Some(())
    }
}

/// A whole function for one program: `fn(slots, x, dx, noise, dt) -> f64`.
pub(super) fn translate(
    p: &Program,
    layout: Layout,
    b: &mut FunctionBuilder,
    refs: &HashMap<&str, FuncRef>,
) -> Option<()> {
    let params = enter(b);
    let mut env = Env {
        slots: params[0],
        noise: params[3],
        regs: HashMap::new(),
        ptrs: vec![
            (layout.state, layout.n, params[1]),
            (layout.deriv, layout.n, params[2]),
        ],
        capture: 0..0,
        captured: HashMap::new(),
    };
    let v = emit(p, b, refs, &mut env)?;
    b.ins().return_(&[v]);
    Some(())
}

/// Emit `p` into the current block (ending in a block that falls through),
/// returning the value the interpreter would return.
pub(super) fn emit(
    p: &Program,
    b: &mut FunctionBuilder,
    refs: &HashMap<&str, FuncRef>,
    env: &mut Env,
) -> Option<Value> {
    let ops = &p.ops;
    // Blocks at jump targets: an `else` start (target of JumpIfZero, entered
    // with the stack as it was below the condition) or a join (target of
    // Jump, entered with one block parameter: the value of the branch).
    let mut else_at: HashMap<usize, Block> = HashMap::new();
    let mut join_at: HashMap<usize, Block> = HashMap::new();
    for op in ops {
        match *op {
            Op::JumpIfZero(t) => {
                else_at.entry(t).or_insert_with(|| b.create_block());
            }
            Op::Jump(t) => {
                join_at.entry(t).or_insert_with(|| {
                    let blk = b.create_block();
                    b.append_block_param(blk, types::F64);
                    blk
                });
            }
            _ => {}
        }
    }
    if else_at.keys().any(|t| join_at.contains_key(t)) {
        return None;
    }
    let noise = env.noise;
    let nan = b.ins().f64const(f64::NAN);
    // The interpreter's accumulator starts as NaN above an empty stack.
    let mut stack: Vec<Value> = vec![nan];
    // The stack below the value of each branch, saved at its JumpIfZero
    // (for the else block) and checked at the join.
    let mut saved: HashMap<usize, Vec<Value>> = HashMap::new();
    // Whether the current block still needs a terminator (false right after
    // an unconditional jump, until the next block starts).
    let mut open = true;

    let zero = b.ins().f64const(0.0);
    let one = b.ins().f64const(1.0);

    macro_rules! pop {
        () => {
            stack.pop()?
        };
    }
    macro_rules! top {
        () => {
            *stack.last()?
        };
    }
    let bool_to_f64 = |b: &mut FunctionBuilder, c: Value, zero: Value, one: Value| -> Value {
        b.ins().select(c, one, zero)
    };
    let cc = |op: CmpOp| match op {
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
    };
    let call = |b: &mut FunctionBuilder, name: &str, args: &[Value]| -> Option<Value> {
        let f = *refs.get(name)?;
        let inst = b.ins().call(f, args);
        Some(b.inst_results(inst)[0])
    };

    for (pc, op) in ops.iter().enumerate() {
        if let Some(&blk) = join_at.get(&pc) {
            // Fall through from the else branch into the join.
            if open {
                let v = pop!();
                b.ins().jump(blk, &[v.into()]);
            }
            b.switch_to_block(blk);
            stack = saved.remove(&(usize::MAX - pc)).unwrap_or_default();
            if stack.is_empty() {
                return None;
            }
            stack.push(b.block_params(blk)[0]);
            open = true;
        }
        if let Some(&blk) = else_at.get(&pc) {
            if open {
                // Only reachable through the jump.
                return None;
            }
            b.switch_to_block(blk);
            stack = saved.get(&pc)?.clone();
            open = true;
        }
        if !open {
            return None;
        }
        let load = |b: &mut FunctionBuilder, s: usize| env.load(b, s);
        match *op {
            Op::Const(x) => {
                let v = b.ins().f64const(x);
                stack.push(v);
            }
            Op::Load(s) => {
                let v = load(b, s)?;
                stack.push(v);
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let y = pop!();
                let x = pop!();
                let v = match op {
                    Op::Add => b.ins().fadd(x, y),
                    Op::Sub => b.ins().fsub(x, y),
                    Op::Mul => b.ins().fmul(x, y),
                    _ => b.ins().fdiv(x, y),
                };
                stack.push(v);
            }
            Op::AddC(c) | Op::SubC(c) | Op::MulC(c) | Op::DivC(c) | Op::RSubC(c) | Op::RDivC(c) => {
                let x = pop!();
                let c = b.ins().f64const(c);
                let v = match op {
                    Op::AddC(_) => b.ins().fadd(x, c),
                    Op::SubC(_) => b.ins().fsub(x, c),
                    Op::MulC(_) => b.ins().fmul(x, c),
                    Op::DivC(_) => b.ins().fdiv(x, c),
                    Op::RSubC(_) => b.ins().fsub(c, x),
                    _ => b.ins().fdiv(c, x),
                };
                stack.push(v);
            }
            Op::AddL(s) | Op::SubL(s) | Op::MulL(s) | Op::DivL(s) => {
                let x = pop!();
                let y = load(b, s)?;
                let v = match op {
                    Op::AddL(_) => b.ins().fadd(x, y),
                    Op::SubL(_) => b.ins().fsub(x, y),
                    Op::MulL(_) => b.ins().fmul(x, y),
                    _ => b.ins().fdiv(x, y),
                };
                stack.push(v);
            }
            Op::AddLL(s, t) | Op::SubLL(s, t) | Op::MulLL(s, t) | Op::DivLL(s, t) => {
                let x = load(b, s)?;
                let y = load(b, t)?;
                let v = match op {
                    Op::AddLL(..) => b.ins().fadd(x, y),
                    Op::SubLL(..) => b.ins().fsub(x, y),
                    Op::MulLL(..) => b.ins().fmul(x, y),
                    _ => b.ins().fdiv(x, y),
                };
                stack.push(v);
            }
            Op::NegL(s) => {
                let x = load(b, s)?;
                let v = b.ins().fneg(x);
                stack.push(v);
            }
            Op::SquareL(s) => {
                let x = load(b, s)?;
                let v = b.ins().fmul(x, x);
                stack.push(v);
            }
            Op::CubeL(s) => {
                let x = load(b, s)?;
                let x2 = b.ins().fmul(x, x);
                let v = b.ins().fmul(x2, x);
                stack.push(v);
            }
            Op::Square => {
                let x = pop!();
                let v = b.ins().fmul(x, x);
                stack.push(v);
            }
            Op::Cube => {
                let x = pop!();
                let x2 = b.ins().fmul(x, x);
                let v = b.ins().fmul(x2, x);
                stack.push(v);
            }
            Op::PowI(4) => {
                let x = pop!();
                let x2 = b.ins().fmul(x, x);
                let v = b.ins().fmul(x2, x2);
                stack.push(v);
            }
            Op::PowI(k) => {
                let x = pop!();
                let k = b.ins().iconst(types::I32, i64::from(k));
                let v = call(b, "snn_powi", &[x, k])?;
                stack.push(v);
            }
            Op::Pow | Op::Mod => {
                let y = pop!();
                let x = pop!();
                let name = if *op == Op::Pow { "snn_pow" } else { "snn_mod" };
                let v = call(b, name, &[x, y])?;
                stack.push(v);
            }
            Op::And | Op::Or => {
                let y = pop!();
                let x = pop!();
                let truthy = b.ins().fcmp(FloatCC::NotEqual, x, zero);
                let v = if *op == Op::And {
                    b.ins().select(truthy, y, x)
                } else {
                    b.ins().select(truthy, x, y)
                };
                stack.push(v);
            }
            Op::Neg => {
                let x = pop!();
                let v = b.ins().fneg(x);
                stack.push(v);
            }
            Op::Not => {
                let x = pop!();
                let truthy = b.ins().fcmp(FloatCC::NotEqual, x, zero);
                let v = b.ins().select(truthy, zero, one);
                stack.push(v);
            }
            Op::Exp => {
                let x = pop!();
                let v = call(b, "snn_exp", &[x])?;
                stack.push(v);
            }
            Op::Cmp(c) => {
                let y = pop!();
                let x = pop!();
                let t = b.ins().fcmp(cc(c), x, y);
                let v = bool_to_f64(b, t, zero, one);
                stack.push(v);
            }
            Op::CmpKeep(c) => {
                // .. acc0 x y -> .. acc0' y
                let y = pop!();
                let x = pop!();
                let acc0 = pop!();
                let t = b.ins().fcmp(cc(c), x, y);
                let truthy = b.ins().fcmp(FloatCC::NotEqual, acc0, zero);
                let both = b.ins().band(t, truthy);
                let v = bool_to_f64(b, both, zero, one);
                stack.push(v);
                stack.push(y);
            }
            Op::AndBool => {
                let _last = pop!();
                let _ = top!();
            }
            Op::Call(f, argc) => {
                let (x, y) = match argc {
                    0 => (zero, zero),
                    1 => (pop!(), zero),
                    _ => {
                        let y = pop!();
                        (pop!(), y)
                    }
                };
                let v = match f {
                    Func::Sqrt => b.ins().sqrt(x),
                    Func::Abs => b.ins().fabs(x),
                    Func::Floor => b.ins().floor(x),
                    Func::Ceil => b.ins().ceil(x),
                    Func::Rand => call(b, "snn_rand", &[noise])?,
                    Func::Randn => call(b, "snn_randn", &[noise])?,
                    Func::Heaviside => {
                        let half = b.ins().f64const(0.5);
                        let y = if argc == 1 { half } else { y };
                        call(b, "snn_heaviside", &[x, y])?
                    }
                    Func::Min => call(b, "snn_min", &[x, y])?,
                    Func::Max => call(b, "snn_max", &[x, y])?,
                    Func::Pow => call(b, "snn_pow", &[x, y])?,
                    Func::Exp => call(b, "snn_exp", &[x])?,
                    Func::Log => call(b, "snn_ln", &[x])?,
                    Func::Log10 => call(b, "snn_log10", &[x])?,
                    Func::Sin => call(b, "snn_sin", &[x])?,
                    Func::Cos => call(b, "snn_cos", &[x])?,
                    Func::Tan => call(b, "snn_tan", &[x])?,
                    Func::Tanh => call(b, "snn_tanh", &[x])?,
                    Func::Sinh => call(b, "snn_sinh", &[x])?,
                    Func::Cosh => call(b, "snn_cosh", &[x])?,
                    Func::Asin => call(b, "snn_asin", &[x])?,
                    Func::Acos => call(b, "snn_acos", &[x])?,
                    Func::Atan => call(b, "snn_atan", &[x])?,
                    Func::Exprel => call(b, "snn_exprel", &[x])?,
                };
                stack.push(v);
            }
            Op::Store(s) => {
                let v = pop!();
                env.store(b, s, v)?;
            }
            Op::JumpIfZero(target) => {
                let cond = pop!();
                let truthy = b.ins().fcmp(FloatCC::NotEqual, cond, zero);
                let then_blk = b.create_block();
                let else_blk = *else_at.get(&target)?;
                b.ins().brif(truthy, then_blk, &[], else_blk, &[]);
                if saved.insert(target, stack.clone()).is_some() {
                    return None;
                }
                b.switch_to_block(then_blk);
            }
            Op::Jump(target) => {
                let v = pop!();
                let blk = *join_at.get(&target)?;
                b.ins().jump(blk, &[v.into()]);
                // The stack below the branch value, for the join (keyed
                // apart from the else starts).
                let key = usize::MAX - target;
                match saved.get(&key) {
                    Some(s) if *s != stack => return None,
                    Some(_) => {}
                    None => {
                        saved.insert(key, stack.clone());
                    }
                }
                open = false;
            }
        }
    }
    if let Some(&blk) = join_at.get(&ops.len()) {
        if open {
            let v = pop!();
            b.ins().jump(blk, &[v.into()]);
        }
        b.switch_to_block(blk);
        stack = saved.remove(&(usize::MAX - ops.len()))?;
        stack.push(b.block_params(blk)[0]);
        open = true;
    }
    if !open {
        return None;
    }
    Some(top!())
}
