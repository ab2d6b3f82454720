//! The flat stack [`Program`] an [`Expr`] compiles to, its instructions and
//! built-in functions, and its evaluation.

use super::CmpOp;

/// Built-in functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Exp,
    Log,
    Log10,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sinh,
    Cosh,
    Asin,
    Acos,
    Atan,
    Floor,
    Ceil,
    Min,
    Max,
    Pow,
    Heaviside,
    Rand,
    Randn,
    Exprel,
}

pub(super) const FUNCS: &[(&str, Func, usize, usize)] = &[
    ("exp", Func::Exp, 1, 1),
    ("log", Func::Log, 1, 1),
    ("log10", Func::Log10, 1, 1),
    ("sqrt", Func::Sqrt, 1, 1),
    ("abs", Func::Abs, 1, 1),
    ("sin", Func::Sin, 1, 1),
    ("cos", Func::Cos, 1, 1),
    ("tan", Func::Tan, 1, 1),
    ("tanh", Func::Tanh, 1, 1),
    ("sinh", Func::Sinh, 1, 1),
    ("cosh", Func::Cosh, 1, 1),
    ("arcsin", Func::Asin, 1, 1),
    ("asin", Func::Asin, 1, 1),
    ("arccos", Func::Acos, 1, 1),
    ("acos", Func::Acos, 1, 1),
    ("arctan", Func::Atan, 1, 1),
    ("atan", Func::Atan, 1, 1),
    ("floor", Func::Floor, 1, 1),
    ("ceil", Func::Ceil, 1, 1),
    ("min", Func::Min, 2, 2),
    ("max", Func::Max, 2, 2),
    ("pow", Func::Pow, 2, 2),
    ("heaviside", Func::Heaviside, 1, 2),
    ("rand", Func::Rand, 0, 0),
    ("randn", Func::Randn, 0, 0),
    ("exprel", Func::Exprel, 1, 1),
];

/// `(exp(x) - 1) / x`, 1 at 0, accurate near 0 (`exp_m1`): Brian2's
/// `exprel`, as Hodgkin–Huxley rate functions use it.
pub(crate) fn exprel(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x.exp_m1() / x
    }
}

/// One instruction of a compiled program (a stack machine). Arithmetic
/// with a constant or a slot as right operand is one instruction
/// (`AddC`, `MulL`, ...), which halves the dispatches of typical model
/// strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Const(f64),
    Load(usize),
    Add,
    Sub,
    Mul,
    Div,
    AddC(f64),
    SubC(f64),
    MulC(f64),
    DivC(f64),
    /// `c - x`
    RSubC(f64),
    /// `c / x`
    RDivC(f64),
    AddL(usize),
    SubL(usize),
    MulL(usize),
    DivL(usize),
    /// Push `slot a op slot b`.
    AddLL(usize, usize),
    SubLL(usize, usize),
    MulLL(usize, usize),
    DivLL(usize, usize),
    /// Push `-slot`.
    NegL(usize),
    /// Push `slot * slot`, `slot * slot * slot`.
    SquareL(usize),
    CubeL(usize),
    Square,
    Cube,
    PowI(i32),
    Pow,
    Mod,
    And,
    Or,
    Neg,
    Not,
    Exp,
    Cmp(CmpOp),
    /// Chained comparison step: `.. acc a b -> .. acc' b` with
    /// `acc' = acc && (a op b)` (chains of length > 1).
    CmpKeep(CmpOp),
    /// End of a chain: drop the last operand, keeping the result.
    AndBool,
    Call(Func, usize),
    /// Pop into a slot (programs fused from several expressions).
    Store(usize),
    /// Pop; if zero jump to target.
    JumpIfZero(usize),
    Jump(usize),
}

/// A compiled expression: instructions over numbered slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub(crate) ops: Vec<Op>,
    pub(crate) max_stack: usize,
    /// One more than the largest slot the program loads or stores.
    pub(crate) min_slots: usize,
}

impl Op {
    /// The slots this instruction reads or writes (at most two). Every
    /// variant is listed: a new instruction that touches slots must say so
    /// here, or `min_slots`, which the unchecked slot accesses of
    /// [`Program::eval`] and the native code rely on, would miss it.
    fn slots(&self) -> [Option<usize>; 2] {
        match *self {
            Op::Load(s)
            | Op::AddL(s)
            | Op::SubL(s)
            | Op::MulL(s)
            | Op::DivL(s)
            | Op::NegL(s)
            | Op::SquareL(s)
            | Op::CubeL(s)
            | Op::Store(s) => [Some(s), None],
            Op::AddLL(a, b) | Op::SubLL(a, b) | Op::MulLL(a, b) | Op::DivLL(a, b) => {
                [Some(a), Some(b)]
            }
            Op::Const(_)
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::AddC(_)
            | Op::SubC(_)
            | Op::MulC(_)
            | Op::DivC(_)
            | Op::RSubC(_)
            | Op::RDivC(_)
            | Op::Square
            | Op::Cube
            | Op::PowI(_)
            | Op::Pow
            | Op::Mod
            | Op::And
            | Op::Or
            | Op::Neg
            | Op::Not
            | Op::Exp
            | Op::Cmp(_)
            | Op::CmpKeep(_)
            | Op::AndBool
            | Op::Call(..)
            | Op::JumpIfZero(_)
            | Op::Jump(_) => [None, None],
        }
    }
}

/// One more than the largest slot `ops` touch.
pub(super) fn min_slots(ops: &[Op]) -> usize {
    ops.iter()
        .flat_map(|op| op.slots())
        .flatten()
        .map(|s| s + 1)
        .max()
        .unwrap_or(0)
}

impl Program {
    /// An empty program (fuse others into it with [`Program::append_store`]).
    pub(crate) fn empty() -> Program {
        Program {
            ops: Vec::new(),
            max_stack: 1,
            min_slots: 0,
        }
    }

    /// Append `other`, storing its value into `slot`: several expressions
    /// evaluated by one call, without a dispatch per expression.
    pub(crate) fn append_store(&mut self, other: &Program, slot: usize) {
        let base = self.ops.len();
        self.ops.extend(other.ops.iter().map(|op| match *op {
            Op::JumpIfZero(t) => Op::JumpIfZero(t + base),
            Op::Jump(t) => Op::Jump(t + base),
            op => op,
        }));
        self.ops.push(Op::Store(slot));
        self.min_slots = self.min_slots.max(other.min_slots).max(slot + 1);
        self.max_stack = self.max_stack.max(other.max_stack);
    }
}

/// The random source of a model's `rand()` and `randn()`.
pub(crate) trait Noise {
    fn uniform(&mut self) -> f64;
    fn normal(&mut self) -> f64;
}

pub(crate) fn python_mod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && (r < 0.0) != (b < 0.0) {
        r + b
    } else {
        r
    }
}

fn truthy(x: f64) -> bool {
    x != 0.0
}

impl Program {
    /// Evaluate with `slots` as the values of the resolved names; `stack` must
    /// have room for `max_stack` values (it is not resized).
    #[inline]
    // `acc = pop!() op acc` throughout: the left operand first, as the
    // stack holds it (for `+` and `*` the same as `acc op= ...`).
    #[allow(clippy::assign_op_pattern)]
    pub(crate) fn eval(&self, slots: &mut [f64], stack: &mut [f64], noise: &mut dyn Noise) -> f64 {
        // The top of the stack lives in `acc` (a register); `stack` holds the
        // values below it, above a sentinel at index 0, so a push never
        // branches on emptiness.
        //
        // The loop indexes without bounds checks. Sound because: every
        // program is built by `compile`/`append_store`, whose instructions
        // never pop below the sentinel, keep at most `max_stack - 1` values in
        // memory (a linear scan that overestimates), touch slots below
        // `min_slots`, and jump to at most `ops.len()`; the two sizes are
        // checked here once.
        if stack.len() < self.max_stack || slots.len() < self.min_slots {
            return f64::NAN;
        }
        debug_assert!(
            self.ops
                .iter()
                .flat_map(Op::slots)
                .flatten()
                .all(|s| s < self.min_slots),
            "min_slots {} does not cover the program's slots",
            self.min_slots
        );
        let ops = &self.ops;
        let mut acc = f64::NAN;
        let mut depth = 0usize;
        let mut pc = 0usize;
        macro_rules! st {
            ($i:expr) => {
                *stack.get_unchecked_mut($i)
            };
        }
        macro_rules! sl {
            ($i:expr) => {
                *slots.get_unchecked_mut($i)
            };
        }
        macro_rules! push {
            ($v:expr) => {{
                let v = $v;
                st!(depth) = acc;
                depth += 1;
                acc = v;
            }};
        }
        macro_rules! pop {
            () => {{
                depth -= 1;
                st!(depth)
            }};
        }
        // SAFETY: see above.
        unsafe {
            while pc < ops.len() {
                match *ops.get_unchecked(pc) {
                    Op::Const(x) => push!(x),
                    Op::Load(s) => push!(sl!(s)),
                    Op::Add => acc = pop!() + acc,
                    Op::Sub => acc = pop!() - acc,
                    Op::Mul => acc = pop!() * acc,
                    Op::Div => acc = pop!() / acc,
                    Op::AddC(c) => acc += c,
                    Op::SubC(c) => acc -= c,
                    Op::MulC(c) => acc *= c,
                    Op::DivC(c) => acc /= c,
                    Op::RSubC(c) => acc = c - acc,
                    Op::RDivC(c) => acc = c / acc,
                    Op::AddL(s) => acc += sl!(s),
                    Op::SubL(s) => acc -= sl!(s),
                    Op::MulL(s) => acc *= sl!(s),
                    Op::DivL(s) => acc /= sl!(s),
                    Op::AddLL(a, b) => push!(sl!(a) + sl!(b)),
                    Op::SubLL(a, b) => push!(sl!(a) - sl!(b)),
                    Op::MulLL(a, b) => push!(sl!(a) * sl!(b)),
                    Op::DivLL(a, b) => push!(sl!(a) / sl!(b)),
                    Op::NegL(a) => push!(-sl!(a)),
                    Op::SquareL(a) => {
                        let x = sl!(a);
                        push!(x * x)
                    }
                    Op::CubeL(a) => {
                        let x = sl!(a);
                        push!(x * x * x)
                    }
                    Op::Square => acc *= acc,
                    Op::Cube => acc = acc * acc * acc,
                    Op::PowI(4) => {
                        let x2 = acc * acc;
                        acc = x2 * x2;
                    }
                    Op::PowI(k) => acc = acc.powi(k),
                    Op::Exp => acc = acc.exp(),
                    Op::Neg => acc = -acc,
                    Op::Not => acc = if truthy(acc) { 0.0 } else { 1.0 },
                    Op::Pow => acc = pop!().powf(acc),
                    Op::Mod => acc = python_mod(pop!(), acc),
                    Op::And => {
                        let a = pop!();
                        if !truthy(a) {
                            acc = a;
                        }
                    }
                    Op::Or => {
                        let a = pop!();
                        if truthy(a) {
                            acc = a;
                        }
                    }
                    Op::Cmp(op) => acc = if op.apply(pop!(), acc) { 1.0 } else { 0.0 },
                    Op::CmpKeep(op) => {
                        // memory .. acc0 a, top b  ->  memory .. acc0', top b
                        let a = pop!();
                        let acc0 = st!(depth - 1);
                        st!(depth - 1) = if truthy(acc0) && op.apply(a, acc) {
                            1.0
                        } else {
                            0.0
                        };
                    }
                    Op::AndBool => acc = pop!(),
                    Op::Call(f, argc) => {
                        let (x, y) = match argc {
                            0 => (0.0, 0.5),
                            1 => (acc, 0.5),
                            _ => (pop!(), acc),
                        };
                        let r = match f {
                            Func::Exp => x.exp(),
                            Func::Log => x.ln(),
                            Func::Log10 => x.log10(),
                            Func::Sqrt => x.sqrt(),
                            Func::Abs => x.abs(),
                            Func::Sin => x.sin(),
                            Func::Cos => x.cos(),
                            Func::Tan => x.tan(),
                            Func::Tanh => x.tanh(),
                            Func::Sinh => x.sinh(),
                            Func::Cosh => x.cosh(),
                            Func::Asin => x.asin(),
                            Func::Acos => x.acos(),
                            Func::Atan => x.atan(),
                            Func::Floor => x.floor(),
                            Func::Ceil => x.ceil(),
                            Func::Min => x.min(y),
                            Func::Max => x.max(y),
                            Func::Pow => x.powf(y),
                            Func::Heaviside => {
                                if x > 0.0 {
                                    1.0
                                } else if x < 0.0 {
                                    0.0
                                } else {
                                    y
                                }
                            }
                            Func::Rand => noise.uniform(),
                            Func::Randn => noise.normal(),
                            Func::Exprel => exprel(x),
                        };
                        if argc == 0 {
                            push!(r);
                        } else {
                            acc = r;
                        }
                    }
                    Op::Store(s) => {
                        sl!(s) = acc;
                        acc = pop!();
                    }
                    Op::JumpIfZero(target) => {
                        let cond = acc;
                        acc = pop!();
                        if !truthy(cond) {
                            pc = target;
                            continue;
                        }
                    }
                    Op::Jump(target) => {
                        pc = target;
                        continue;
                    }
                }
                pc += 1;
            }
        }
        acc
    }
}
