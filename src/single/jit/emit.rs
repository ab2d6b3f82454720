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
    let mut e = Emitter::new(ops, b, refs, env.noise)?;
    for (pc, op) in ops.iter().enumerate() {
        e.enter(b, pc)?;
        match *op {
            Op::Store(s) => {
                let v = e.pop()?;
                env.store(b, s, v)?;
            }
            Op::JumpIfZero(target) => e.branch(b, target)?,
            Op::Jump(target) => e.jump(b, target)?,
            Op::Call(f, argc) => e.call_func(b, f, argc)?,
            _ => e.arithmetic(b, *op, env)?,
        }
    }
    e.finish(b, ops.len())
}

/// The state of one program's translation: the interpreter's stack as
/// Cranelift values, and the blocks its jumps lead to.
struct Emitter<'r> {
    refs: &'r HashMap<&'r str, FuncRef>,
    noise: Value,
    zero: Value,
    one: Value,
    stack: Vec<Value>,
    /// Blocks at jump targets: an `else` start (target of JumpIfZero,
    /// entered with the stack as it was below the condition) or a join
    /// (target of Jump, entered with one block parameter: the value of the
    /// branch).
    else_at: HashMap<usize, Block>,
    join_at: HashMap<usize, Block>,
    /// The stack below the value of each branch, saved at its JumpIfZero
    /// (for the else block) and checked at the join (keyed `usize::MAX -
    /// target`, apart from the else starts).
    saved: HashMap<usize, Vec<Value>>,
    /// Whether the current block still needs a terminator (false right
    /// after an unconditional jump, until the next block starts).
    open: bool,
}

impl<'r> Emitter<'r> {
    fn new(
        ops: &[Op],
        b: &mut FunctionBuilder,
        refs: &'r HashMap<&'r str, FuncRef>,
        noise: Value,
    ) -> Option<Self> {
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
        let nan = b.ins().f64const(f64::NAN);
        let zero = b.ins().f64const(0.0);
        let one = b.ins().f64const(1.0);
        Some(Emitter {
            refs,
            noise,
            zero,
            one,
            // The interpreter's accumulator starts as NaN above an empty
            // stack.
            stack: vec![nan],
            else_at,
            join_at,
            saved: HashMap::new(),
            open: true,
        })
    }

    fn pop(&mut self) -> Option<Value> {
        self.stack.pop()
    }

    fn push(&mut self, v: Value) -> Option<()> {
        self.stack.push(v);
        Some(())
    }

    /// Start the block at `pc`, if a jump leads there, and check that the
    /// instruction is reachable.
    fn enter(&mut self, b: &mut FunctionBuilder, pc: usize) -> Option<()> {
        if let Some(&blk) = self.join_at.get(&pc) {
            // Fall through from the else branch into the join.
            if self.open {
                let v = self.pop()?;
                b.ins().jump(blk, &[v.into()]);
            }
            b.switch_to_block(blk);
            self.stack = self.saved.remove(&(usize::MAX - pc)).unwrap_or_default();
            if self.stack.is_empty() {
                return None;
            }
            self.stack.push(b.block_params(blk)[0]);
            self.open = true;
        }
        if let Some(&blk) = self.else_at.get(&pc) {
            if self.open {
                // Only reachable through the jump.
                return None;
            }
            b.switch_to_block(blk);
            self.stack = self.saved.get(&pc)?.clone();
            self.open = true;
        }
        self.open.then_some(())
    }

    /// `JumpIfZero(target)`: the then branch follows; the else block starts
    /// at `target` with the stack as it is now.
    fn branch(&mut self, b: &mut FunctionBuilder, target: usize) -> Option<()> {
        let cond = self.pop()?;
        let truthy = b.ins().fcmp(FloatCC::NotEqual, cond, self.zero);
        let then_blk = b.create_block();
        let else_blk = *self.else_at.get(&target)?;
        b.ins().brif(truthy, then_blk, &[], else_blk, &[]);
        if self.saved.insert(target, self.stack.clone()).is_some() {
            return None;
        }
        b.switch_to_block(then_blk);
        Some(())
    }

    /// `Jump(target)`: the branch's value to the join at `target`.
    fn jump(&mut self, b: &mut FunctionBuilder, target: usize) -> Option<()> {
        let v = self.pop()?;
        let blk = *self.join_at.get(&target)?;
        b.ins().jump(blk, &[v.into()]);
        let key = usize::MAX - target;
        match self.saved.get(&key) {
            Some(s) if *s != self.stack => return None,
            Some(_) => {}
            None => {
                self.saved.insert(key, self.stack.clone());
            }
        }
        self.open = false;
        Some(())
    }

    /// A join at the end of the program, then the value it returns.
    fn finish(mut self, b: &mut FunctionBuilder, len: usize) -> Option<Value> {
        if let Some(&blk) = self.join_at.get(&len) {
            if self.open {
                let v = self.pop()?;
                b.ins().jump(blk, &[v.into()]);
            }
            b.switch_to_block(blk);
            self.stack = self.saved.remove(&(usize::MAX - len))?;
            self.stack.push(b.block_params(blk)[0]);
            self.open = true;
        }
        if !self.open {
            return None;
        }
        self.stack.last().copied()
    }

    fn call(&self, b: &mut FunctionBuilder, name: &str, args: &[Value]) -> Option<Value> {
        let f = *self.refs.get(name)?;
        let inst = b.ins().call(f, args);
        Some(b.inst_results(inst)[0])
    }

    /// 1.0 where `c` holds, else 0.0.
    fn to_f64(&self, b: &mut FunctionBuilder, c: Value) -> Value {
        b.ins().select(c, self.one, self.zero)
    }

    /// Every instruction but calls, stores and jumps.
    fn arithmetic(&mut self, b: &mut FunctionBuilder, op: Op, env: &Env) -> Option<()> {
        let v = match op {
            Op::Const(x) => b.ins().f64const(x),
            Op::Load(s) => env.load(b, s)?,
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let y = self.pop()?;
                let x = self.pop()?;
                binary(b, op, x, y)
            }
            Op::AddC(c) | Op::SubC(c) | Op::MulC(c) | Op::DivC(c) | Op::RSubC(c) | Op::RDivC(c) => {
                let x = self.pop()?;
                let c = b.ins().f64const(c);
                match op {
                    Op::AddC(_) => b.ins().fadd(x, c),
                    Op::SubC(_) => b.ins().fsub(x, c),
                    Op::MulC(_) => b.ins().fmul(x, c),
                    Op::DivC(_) => b.ins().fdiv(x, c),
                    Op::RSubC(_) => b.ins().fsub(c, x),
                    _ => b.ins().fdiv(c, x),
                }
            }
            Op::AddL(s) | Op::SubL(s) | Op::MulL(s) | Op::DivL(s) => {
                let x = self.pop()?;
                let y = env.load(b, s)?;
                binary(b, op, x, y)
            }
            Op::AddLL(s, t) | Op::SubLL(s, t) | Op::MulLL(s, t) | Op::DivLL(s, t) => {
                let x = env.load(b, s)?;
                let y = env.load(b, t)?;
                binary(b, op, x, y)
            }
            Op::NegL(s) => {
                let x = env.load(b, s)?;
                b.ins().fneg(x)
            }
            Op::SquareL(s) => {
                let x = env.load(b, s)?;
                b.ins().fmul(x, x)
            }
            Op::CubeL(s) => {
                let x = env.load(b, s)?;
                let x2 = b.ins().fmul(x, x);
                b.ins().fmul(x2, x)
            }
            Op::Square => {
                let x = self.pop()?;
                b.ins().fmul(x, x)
            }
            Op::Cube => {
                let x = self.pop()?;
                let x2 = b.ins().fmul(x, x);
                b.ins().fmul(x2, x)
            }
            Op::PowI(4) => {
                let x = self.pop()?;
                let x2 = b.ins().fmul(x, x);
                b.ins().fmul(x2, x2)
            }
            Op::PowI(k) => {
                let x = self.pop()?;
                let k = b.ins().iconst(types::I32, i64::from(k));
                self.call(b, "snn_powi", &[x, k])?
            }
            Op::Pow | Op::Mod => {
                let y = self.pop()?;
                let x = self.pop()?;
                let name = if op == Op::Pow { "snn_pow" } else { "snn_mod" };
                self.call(b, name, &[x, y])?
            }
            Op::And | Op::Or => {
                let y = self.pop()?;
                let x = self.pop()?;
                let truthy = b.ins().fcmp(FloatCC::NotEqual, x, self.zero);
                if op == Op::And {
                    b.ins().select(truthy, y, x)
                } else {
                    b.ins().select(truthy, x, y)
                }
            }
            Op::Neg => {
                let x = self.pop()?;
                b.ins().fneg(x)
            }
            Op::Not => {
                let x = self.pop()?;
                let truthy = b.ins().fcmp(FloatCC::NotEqual, x, self.zero);
                b.ins().select(truthy, self.zero, self.one)
            }
            Op::Exp => {
                let x = self.pop()?;
                self.call(b, "snn_exp", &[x])?
            }
            Op::Cmp(c) => {
                let y = self.pop()?;
                let x = self.pop()?;
                let t = b.ins().fcmp(cc(c), x, y);
                self.to_f64(b, t)
            }
            Op::CmpKeep(c) => {
                // .. acc0 x y -> .. acc0' y
                let y = self.pop()?;
                let x = self.pop()?;
                let acc0 = self.pop()?;
                let t = b.ins().fcmp(cc(c), x, y);
                let truthy = b.ins().fcmp(FloatCC::NotEqual, acc0, self.zero);
                let both = b.ins().band(t, truthy);
                let v = self.to_f64(b, both);
                self.push(v)?;
                y
            }
            Op::AndBool => {
                let _last = self.pop()?;
                self.stack.last()?;
                return Some(());
            }
            Op::Call(..) | Op::Store(_) | Op::JumpIfZero(_) | Op::Jump(_) => return None,
        };
        self.push(v)
    }

    /// `Call(f, argc)`: the function of the top `argc` values.
    fn call_func(&mut self, b: &mut FunctionBuilder, f: Func, argc: usize) -> Option<()> {
        let zero = self.zero;
        let (x, y) = match argc {
            0 => (zero, zero),
            1 => (self.pop()?, zero),
            _ => {
                let y = self.pop()?;
                (self.pop()?, y)
            }
        };
        let name = match f {
            Func::Sqrt => return self.push(b.ins().sqrt(x)),
            Func::Abs => return self.push(b.ins().fabs(x)),
            Func::Floor => return self.push(b.ins().floor(x)),
            Func::Ceil => return self.push(b.ins().ceil(x)),
            Func::Rand | Func::Randn => {
                let name = if f == Func::Rand {
                    "snn_rand"
                } else {
                    "snn_randn"
                };
                let v = self.call(b, name, &[self.noise])?;
                return self.push(v);
            }
            Func::Heaviside => {
                let half = b.ins().f64const(0.5);
                let y = if argc == 1 { half } else { y };
                let v = self.call(b, "snn_heaviside", &[x, y])?;
                return self.push(v);
            }
            Func::Min | Func::Max | Func::Pow => {
                let name = match f {
                    Func::Min => "snn_min",
                    Func::Max => "snn_max",
                    _ => "snn_pow",
                };
                let v = self.call(b, name, &[x, y])?;
                return self.push(v);
            }
            Func::Exp => "snn_exp",
            Func::Log => "snn_ln",
            Func::Log10 => "snn_log10",
            Func::Sin => "snn_sin",
            Func::Cos => "snn_cos",
            Func::Tan => "snn_tan",
            Func::Tanh => "snn_tanh",
            Func::Sinh => "snn_sinh",
            Func::Cosh => "snn_cosh",
            Func::Asin => "snn_asin",
            Func::Acos => "snn_acos",
            Func::Atan => "snn_atan",
            Func::Exprel => "snn_exprel",
        };
        let v = self.call(b, name, &[x])?;
        self.push(v)
    }
}

/// `x op y` for the four arithmetic operators, whatever their operands'
/// form (stack, slot, two slots).
fn binary(b: &mut FunctionBuilder, op: Op, x: Value, y: Value) -> Value {
    match op {
        Op::Add | Op::AddL(_) | Op::AddLL(..) => b.ins().fadd(x, y),
        Op::Sub | Op::SubL(_) | Op::SubLL(..) => b.ins().fsub(x, y),
        Op::Mul | Op::MulL(_) | Op::MulLL(..) => b.ins().fmul(x, y),
        _ => b.ins().fdiv(x, y),
    }
}

fn cc(op: CmpOp) -> FloatCC {
    match op {
        CmpOp::Lt => FloatCC::LessThan,
        CmpOp::Le => FloatCC::LessThanOrEqual,
        CmpOp::Gt => FloatCC::GreaterThan,
        CmpOp::Ge => FloatCC::GreaterThanOrEqual,
        CmpOp::Eq => FloatCC::Equal,
        CmpOp::Ne => FloatCC::NotEqual,
    }
}
