//! The expression language of model strings: Python's expression syntax
//! (docs/semantics.md §2.2), parsed by recursive descent into an [`Expr`] tree, printed as
//! S-expressions for tests, and compiled once into a flat stack [`Program`]
//! whose names are resolved to slots, so evaluation neither looks up names nor
//! allocates.

use std::fmt;

use crate::error::{Error, Result};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number.
    Num(f64),
    /// A name (variable, parameter, `t`, constant).
    Name(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// A binary operator.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// A chain of comparisons, `a < b <= c` (Python: `a < b and b <= c`).
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `then if cond else otherwise`.
    If {
        /// The condition.
        cond: Box<Expr>,
        /// Value when true.
        then: Box<Expr>,
        /// Value when false.
        otherwise: Box<Expr>,
    },
    /// A function call.
    Call(String, Vec<Expr>),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%` (Python's: the result has the sign of the divisor)
    Mod,
    /// `**`
    Pow,
    /// `and` (Python's: `a` if `a` is false, else `b`)
    And,
    /// `or` (Python's: `a` if `a` is true, else `b`)
    Or,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
    fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }
}

/// S-expression form: `(+ 1 (* 2 3))`, `(- (** v 2))`, `(if c a b)`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(x) => write!(f, "{x}"),
            Expr::Name(n) => write!(f, "{n}"),
            Expr::Neg(x) => write!(f, "(- {x})"),
            Expr::Not(x) => write!(f, "(not {x})"),
            Expr::Bin(op, a, b) => write!(f, "({} {a} {b})", op.symbol()),
            Expr::Compare(first, rest) => {
                if rest.len() == 1 {
                    write!(f, "({} {first} {})", rest[0].0.symbol(), rest[0].1)
                } else {
                    write!(f, "(chain {first}")?;
                    for (op, e) in rest {
                        write!(f, " {} {e}", op.symbol())?;
                    }
                    write!(f, ")")
                }
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => write!(f, "(if {cond} {then} {otherwise})"),
            Expr::Call(name, args) => {
                write!(f, "({name}")?;
                for a in args {
                    write!(f, " {a}")?;
                }
                write!(f, ")")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(&'static str),
    End,
}

struct Lexer {
    toks: Vec<(Tok, usize)>,
}

fn syntax(src: &str, pos: usize, message: impl Into<String>) -> Error {
    Error::Syntax {
        expr: src.to_string(),
        pos,
        message: message.into(),
    }
}

impl Lexer {
    fn run(src: &str) -> Result<Vec<(Tok, usize)>> {
        let mut lx = Lexer { toks: Vec::new() };
        let b = src.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_whitespace() {
                i += 1;
            } else if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                    let mut j = i + 1;
                    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                        j += 1;
                    }
                    if j < b.len() && b[j].is_ascii_digit() {
                        i = j;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text = &src[start..i];
                let x: f64 = text
                    .parse()
                    .map_err(|_| syntax(src, start, format!("malformed number {text:?}")))?;
                lx.toks.push((Tok::Num(x), start));
            } else if c.is_ascii_alphabetic() || c == b'_' {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                lx.toks.push((Tok::Name(src[start..i].to_string()), start));
            } else {
                let two = src.get(i..i + 2).unwrap_or("");
                let op: Option<&'static str> = match two {
                    "**" => Some("**"),
                    "<=" => Some("<="),
                    ">=" => Some(">="),
                    "==" => Some("=="),
                    "!=" => Some("!="),
                    _ => None,
                };
                if let Some(op) = op {
                    lx.toks.push((Tok::Op(op), i));
                    i += 2;
                    continue;
                }
                let op: &'static str = match c {
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    b'%' => "%",
                    b'<' => "<",
                    b'>' => ">",
                    b'(' => "(",
                    b')' => ")",
                    b',' => ",",
                    _ => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(syntax(src, i, format!("unexpected character {ch:?}")));
                    }
                };
                lx.toks.push((Tok::Op(op), i));
                i += 1;
            }
        }
        lx.toks.push((Tok::End, src.len()));
        Ok(lx.toks)
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    i: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].0
    }
    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }
    fn err(&self, message: impl Into<String>) -> Error {
        syntax(self.src, self.pos(), message)
    }
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("expression nested too deeply"));
        }
        Ok(())
    }

    // cond := or ['if' or 'else' cond]
    fn cond(&mut self) -> Result<Expr> {
        self.enter()?;
        let then = self.or()?;
        let e = if self.is_kw("if") {
            self.bump();
            let cond = self.or()?;
            if !self.is_kw("else") {
                return Err(self.err("expected 'else' in a conditional expression"));
            }
            self.bump();
            let otherwise = self.cond()?;
            Expr::If {
                cond: Box::new(cond),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            }
        } else {
            then
        };
        self.depth -= 1;
        Ok(e)
    }
    fn or(&mut self) -> Result<Expr> {
        let mut a = self.and()?;
        while self.is_kw("or") {
            self.bump();
            let b = self.and()?;
            a = Expr::Bin(BinOp::Or, Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn and(&mut self) -> Result<Expr> {
        let mut a = self.not()?;
        while self.is_kw("and") {
            self.bump();
            let b = self.not()?;
            a = Expr::Bin(BinOp::And, Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn not(&mut self) -> Result<Expr> {
        if self.is_kw("not") {
            self.bump();
            self.enter()?;
            let x = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(x)));
        }
        self.comparison()
    }
    fn comparison(&mut self) -> Result<Expr> {
        let first = self.arith()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                _ => break,
            };
            self.bump();
            rest.push((op, self.arith()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), rest)
        })
    }
    fn arith(&mut self) -> Result<Expr> {
        let mut a = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => break,
            };
            self.bump();
            let b = self.term()?;
            a = Expr::Bin(op, Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    fn term(&mut self) -> Result<Expr> {
        let mut a = self.factor()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Mod,
                _ => break,
            };
            self.bump();
            let b = self.factor()?;
            a = Expr::Bin(op, Box::new(a), Box::new(b));
        }
        Ok(a)
    }
    // factor := ('-'|'+') factor | power
    fn factor(&mut self) -> Result<Expr> {
        if self.is_op("-") || self.is_op("+") {
            let neg = self.is_op("-");
            self.bump();
            self.enter()?;
            let x = self.factor()?;
            self.depth -= 1;
            return Ok(if neg { Expr::Neg(Box::new(x)) } else { x });
        }
        self.power()
    }
    // power := atom ['**' factor]  (right-associative, tighter than unary minus on its left)
    fn power(&mut self) -> Result<Expr> {
        let base = self.atom()?;
        if self.is_op("**") {
            self.bump();
            self.enter()?;
            let exp = self.factor()?;
            self.depth -= 1;
            return Ok(Expr::Bin(BinOp::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<Expr> {
        match self.bump() {
            Tok::Num(x) => Ok(Expr::Num(x)),
            Tok::Name(n) if ["if", "else", "and", "or", "not"].contains(&n.as_str()) => {
                self.i -= 1;
                Err(self.err(format!("unexpected keyword '{n}'")))
            }
            Tok::Name(n) => {
                if self.is_op("(") {
                    self.bump();
                    let mut args = Vec::new();
                    if !self.is_op(")") {
                        loop {
                            args.push(self.cond()?);
                            if self.is_op(",") {
                                self.bump();
                                continue;
                            }
                            break;
                        }
                    }
                    if !self.is_op(")") {
                        return Err(self.err(format!("expected ',' or ')' in the call of {n}")));
                    }
                    self.bump();
                    if n == "clip" {
                        // NumPy's clip(x, lo, hi) = min(max(x, lo), hi).
                        let [x, lo, hi]: [Expr; 3] = args.try_into().map_err(|a: Vec<Expr>| {
                            self.err(format!(
                                "clip takes 3 arguments (x, lo, hi), not {}",
                                a.len()
                            ))
                        })?;
                        let max = Expr::Call("max".into(), vec![x, lo]);
                        return Ok(Expr::Call("min".into(), vec![max, hi]));
                    }
                    Ok(Expr::Call(n, args))
                } else {
                    Ok(Expr::Name(n))
                }
            }
            Tok::Op("(") => {
                let e = self.cond()?;
                if !self.is_op(")") {
                    return Err(self.err("expected ')'"));
                }
                self.bump();
                Ok(e)
            }
            Tok::End => {
                self.i = self.toks.len() - 1;
                Err(self.err("unexpected end of expression"))
            }
            Tok::Op(o) => {
                self.i -= 1;
                Err(self.err(format!("unexpected '{o}'")))
            }
        }
    }
}

/// Parse an expression string.
pub fn parse(src: &str) -> Result<Expr> {
    let toks = Lexer::run(src)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        depth: 0,
    };
    let e = p.cond()?;
    if !matches!(p.peek(), Tok::End) {
        return Err(p.err("unexpected text after the expression"));
    }
    Ok(e)
}

/// Names an expression reads (not functions), in order of appearance.
pub fn names(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Num(_) => {}
        Expr::Name(n) => {
            if !out.contains(n) {
                out.push(n.clone())
            }
        }
        Expr::Neg(x) | Expr::Not(x) => names(x, out),
        Expr::Bin(_, a, b) => {
            names(a, out);
            names(b, out);
        }
        Expr::Compare(a, rest) => {
            names(a, out);
            for (_, x) in rest {
                names(x, out);
            }
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            names(cond, out);
            names(then, out);
            names(otherwise, out);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| names(a, out)),
    }
}

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

const FUNCS: &[(&str, Func, usize, usize)] = &[
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
fn min_slots(ops: &[Op]) -> usize {
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

/// Compile `e` with `resolve` mapping a name to its slot. `src` is the
/// expression's text, for error messages; `known` the names one may use.
pub(crate) fn compile(
    e: &Expr,
    src: &str,
    resolve: &dyn Fn(&str) -> Option<usize>,
    known: &[String],
) -> Result<Program> {
    let mut em = Emitter {
        src,
        resolve,
        known,
        ops: Vec::new(),
    };
    let e = fold(e);
    em.emit(&e)?;
    let max_stack = stack_depth(&em.ops);
    let min_slots = min_slots(&em.ops);
    Ok(Program {
        ops: em.ops,
        max_stack,
        min_slots,
    })
}

/// Replace names that `constant` knows by their values (parameters that are
/// plain numbers: fixed for the life of a compiled model), so folding can
/// combine them.
pub(crate) fn substitute(e: &Expr, constant: &dyn Fn(&str) -> Option<f64>) -> Expr {
    let sub = |x: &Expr| Box::new(substitute(x, constant));
    match e {
        Expr::Name(n) => constant(n).map_or_else(|| e.clone(), Expr::Num),
        Expr::Num(_) => e.clone(),
        Expr::Neg(x) => Expr::Neg(sub(x)),
        Expr::Not(x) => Expr::Not(sub(x)),
        Expr::Bin(op, a, b) => Expr::Bin(*op, sub(a), sub(b)),
        Expr::Compare(a, rest) => Expr::Compare(
            sub(a),
            rest.iter()
                .map(|(o, x)| (*o, substitute(x, constant)))
                .collect(),
        ),
        Expr::If {
            cond,
            then,
            otherwise,
        } => Expr::If {
            cond: sub(cond),
            then: sub(then),
            otherwise: sub(otherwise),
        },
        Expr::Call(f, args) => Expr::Call(
            f.clone(),
            args.iter().map(|x| substitute(x, constant)).collect(),
        ),
    }
}

/// Constant folding: a subtree of numbers (no names, no noise) becomes its
/// value, computed with the same f64 operations evaluation would use.
pub(crate) fn fold(e: &Expr) -> Expr {
    let num = |e: &Expr| if let Expr::Num(x) = e { Some(*x) } else { None };
    match e {
        Expr::Neg(x) => {
            let x = fold(x);
            match num(&x) {
                Some(v) => Expr::Num(-v),
                None => Expr::Neg(Box::new(x)),
            }
        }
        Expr::Bin(op, a, b) => {
            let (a, b) = (fold(a), fold(b));
            match (num(&a), num(&b), op) {
                (Some(x), Some(y), BinOp::Add) => Expr::Num(x + y),
                (Some(x), Some(y), BinOp::Sub) => Expr::Num(x - y),
                (Some(x), Some(y), BinOp::Mul) => Expr::Num(x * y),
                (Some(x), Some(y), BinOp::Div) => Expr::Num(x / y),
                _ => Expr::Bin(*op, Box::new(a), Box::new(b)),
            }
        }
        Expr::Not(x) => Expr::Not(Box::new(fold(x))),
        Expr::Compare(a, rest) => Expr::Compare(
            Box::new(fold(a)),
            rest.iter().map(|(o, x)| (*o, fold(x))).collect(),
        ),
        Expr::If {
            cond,
            then,
            otherwise,
        } => Expr::If {
            cond: Box::new(fold(cond)),
            then: Box::new(fold(then)),
            otherwise: Box::new(fold(otherwise)),
        },
        Expr::Call(f, args) => Expr::Call(f.clone(), args.iter().map(fold).collect()),
        Expr::Num(_) | Expr::Name(_) => e.clone(),
    }
}

struct Emitter<'a> {
    src: &'a str,
    resolve: &'a dyn Fn(&str) -> Option<usize>,
    known: &'a [String],
    ops: Vec<Op>,
}

impl Emitter<'_> {
    /// The slot of a plain name, if `e` is one that resolves.
    fn slot(&self, e: &Expr) -> Option<usize> {
        match e {
            Expr::Name(n) => (self.resolve)(n),
            _ => None,
        }
    }

    fn emit(&mut self, e: &Expr) -> Result<()> {
        match e {
            Expr::Num(x) => self.ops.push(Op::Const(*x)),
            Expr::Name(n) => match (self.resolve)(n) {
                Some(slot) => self.ops.push(Op::Load(slot)),
                None => match n.as_str() {
                    "pi" => self.ops.push(Op::Const(std::f64::consts::PI)),
                    "e" => self.ops.push(Op::Const(std::f64::consts::E)),
                    _ => return Err(unknown_name(self.src, n, self.known)),
                },
            },
            Expr::Neg(x) => {
                if let Some(s) = self.slot(x) {
                    self.ops.push(Op::NegL(s));
                } else {
                    self.emit(x)?;
                    self.ops.push(Op::Neg);
                }
            }
            Expr::Not(x) => {
                self.emit(x)?;
                self.ops.push(Op::Not);
            }
            Expr::Bin(op, a, b) => self.binary(*op, a, b)?,
            Expr::Compare(first, rest) => {
                if rest.len() == 1 {
                    self.emit(first)?;
                    self.emit(&rest[0].1)?;
                    self.ops.push(Op::Cmp(rest[0].0));
                } else {
                    self.ops.push(Op::Const(1.0));
                    self.emit(first)?;
                    for (op, x) in rest {
                        self.emit(x)?;
                        self.ops.push(Op::CmpKeep(*op));
                    }
                    self.ops.push(Op::AndBool);
                }
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                self.emit(cond)?;
                let jz = self.ops.len();
                self.ops.push(Op::JumpIfZero(0));
                self.emit(then)?;
                let jmp = self.ops.len();
                self.ops.push(Op::Jump(0));
                let else_at = self.ops.len();
                self.emit(otherwise)?;
                let end = self.ops.len();
                self.ops[jz] = Op::JumpIfZero(else_at);
                self.ops[jmp] = Op::Jump(end);
            }
            Expr::Call(name, args) => {
                let Some(&(_, f, lo, hi)) = FUNCS.iter().find(|(n, ..)| n == name) else {
                    let names: Vec<String> = FUNCS.iter().map(|f| f.0.to_string()).collect();
                    return Err(Error::UnknownName {
                        expr: self.src.to_string(),
                        name: format!("{name}()"),
                        suggestion: closest(name, &names).map(|s| format!("{s}()")),
                        known: names,
                    });
                };
                if args.len() < lo || args.len() > hi {
                    let expected = if lo == hi {
                        format!("{lo}")
                    } else {
                        format!("{lo} or {hi}")
                    };
                    return Err(Error::Arity {
                        expr: self.src.to_string(),
                        function: name.clone(),
                        expected,
                        got: args.len(),
                    });
                }
                for a in args {
                    self.emit(a)?;
                }
                self.ops.push(if f == Func::Exp {
                    Op::Exp
                } else {
                    Op::Call(f, args.len())
                });
            }
        }
        Ok(())
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr) -> Result<()> {
        // x ** k for a small whole k: multiplications.
        if op == BinOp::Pow {
            if let Expr::Num(k) = b {
                if k.fract() == 0.0 && k.abs() <= 64.0 {
                    if let (Some(s), 2 | 3) = (self.slot(a), *k as i32) {
                        self.ops.push(if *k == 2.0 {
                            Op::SquareL(s)
                        } else {
                            Op::CubeL(s)
                        });
                        return Ok(());
                    }
                    self.emit(a)?;
                    self.ops.push(match *k as i32 {
                        2 => Op::Square,
                        3 => Op::Cube,
                        k => Op::PowI(k),
                    });
                    return Ok(());
                }
            }
        }
        let arith = matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div);
        // Two plain names: one instruction.
        if arith {
            if let (Some(x), Some(y)) = (self.slot(a), self.slot(b)) {
                self.ops.push(match op {
                    BinOp::Add => Op::AddLL(x, y),
                    BinOp::Sub => Op::SubLL(x, y),
                    BinOp::Mul => Op::MulLL(x, y),
                    _ => Op::DivLL(x, y),
                });
                return Ok(());
            }
        }
        // Constant left operand: c - x, c / x, c + x, c * x after x.
        if arith {
            if let Expr::Num(c) = a {
                self.emit(b)?;
                self.ops.push(match op {
                    BinOp::Add => Op::AddC(*c),
                    BinOp::Sub => Op::RSubC(*c),
                    BinOp::Mul => Op::MulC(*c),
                    _ => Op::RDivC(*c),
                });
                return Ok(());
            }
        }
        self.emit(a)?;
        if arith {
            if let Expr::Num(c) = b {
                self.ops.push(match op {
                    BinOp::Add => Op::AddC(*c),
                    BinOp::Sub => Op::SubC(*c),
                    BinOp::Mul => Op::MulC(*c),
                    _ => Op::DivC(*c),
                });
                return Ok(());
            }
            if let Some(s) = self.slot(b) {
                self.ops.push(match op {
                    BinOp::Add => Op::AddL(s),
                    BinOp::Sub => Op::SubL(s),
                    BinOp::Mul => Op::MulL(s),
                    _ => Op::DivL(s),
                });
                return Ok(());
            }
        }
        self.emit(b)?;
        self.ops.push(match op {
            BinOp::Add => Op::Add,
            BinOp::Sub => Op::Sub,
            BinOp::Mul => Op::Mul,
            BinOp::Div => Op::Div,
            BinOp::Mod => Op::Mod,
            BinOp::Pow => Op::Pow,
            BinOp::And => Op::And,
            BinOp::Or => Op::Or,
        });
        Ok(())
    }
}

/// Deepest stack a program reaches (a linear scan; both branches of a
/// conditional leave the same depth).
fn stack_depth(ops: &[Op]) -> usize {
    let (mut d, mut max) = (0isize, 0isize);
    for op in ops {
        d += match op {
            Op::Const(_) | Op::Load(_) | Op::NegL(_) | Op::SquareL(_) | Op::CubeL(_) => 1,
            Op::AddLL(..) | Op::SubLL(..) | Op::MulLL(..) | Op::DivLL(..) => 1,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Mod | Op::And | Op::Or => -1,
            Op::Cmp(_) | Op::CmpKeep(_) | Op::AndBool | Op::JumpIfZero(_) | Op::Store(_) => -1,
            Op::Call(_, argc) => 1 - *argc as isize,
            _ => 0,
        };
        max = max.max(d);
    }
    // A conditional's two branches each push one value; the linear scan
    // counts both, which only overestimates.
    max.max(1) as usize + 1
}

fn unknown_name(src: &str, name: &str, known: &[String]) -> Error {
    let mut all: Vec<String> = known.to_vec();
    all.extend(["t", "pi", "e"].iter().map(|s| s.to_string()));
    all.sort();
    all.dedup();
    Error::UnknownName {
        expr: src.to_string(),
        name: name.to_string(),
        suggestion: closest(name, &all),
        known: all,
    }
}

/// The known name at the smallest edit distance (at most 2, or a third of the length).
pub(crate) fn closest(name: &str, known: &[String]) -> Option<String> {
    let limit = (name.len() / 3).max(2);
    known
        .iter()
        .map(|k| (levenshtein(name, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// Optimal-string-alignment distance: edits and adjacent transpositions.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_slots_covers_every_slot_reading_instruction() {
        assert_eq!(min_slots(&[]), 0);
        assert_eq!(min_slots(&[Op::Const(1.0), Op::Add]), 0);
        assert_eq!(min_slots(&[Op::AddLL(2, 7), Op::SquareL(3)]), 8);
        assert_eq!(min_slots(&[Op::NegL(5), Op::Load(1)]), 6);
        assert_eq!(min_slots(&[Op::CubeL(9), Op::Store(4)]), 10);
        assert_eq!(min_slots(&[Op::DivLL(11, 0)]), 12);
    }

    fn sx(s: &str) -> String {
        match parse(s) {
            Ok(e) => e.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    /// `exprel` as Brian2's: 1 at 0, `expm1(x)/x` elsewhere, accurate near 0
    /// (where `(exp(x) - 1)/x` loses every digit).
    #[test]
    fn exprel_is_accurate_near_zero() {
        assert_eq!(exprel(0.0), 1.0);
        assert!((exprel(1e-12) - (1.0 + 5e-13)).abs() < 1e-15);
        assert!((exprel(1.0) - (std::f64::consts::E - 1.0)).abs() < 1e-15);
        assert!((exprel(-20.0) - (1.0 - (-20.0f64).exp()) / 20.0).abs() < 1e-15);
    }

    /// NumPy's `clip(x, lo, hi)`, written as `min(max(x, lo), hi)`.
    #[test]
    fn clip_is_min_of_max() {
        assert_eq!(sx("clip(w + a, 0, g)"), sx("min(max(w + a, 0), g)"));
        assert!(sx("clip(w, 1)").contains("clip takes 3 arguments"));
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(sx("-v**2"), "(- (** v 2))");
        assert_eq!(sx("2**3**2"), "(** 2 (** 3 2))");
        assert_eq!(sx("2**-1"), "(** 2 (- 1))");
        assert_eq!(sx("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(sx("a - b - c"), "(- (- a b) c)");
        assert_eq!(sx("a / b * c % d"), "(% (* (/ a b) c) d)");
        assert_eq!(sx("a if b else c if d else e"), "(if b a (if d c e))");
        assert_eq!(sx("(a if b else c) if d else e"), "(if d (if b a c) e)");
        assert_eq!(sx("not a and b or c"), "(or (and (not a) b) c)");
        assert_eq!(sx("a < b <= c"), "(chain a < b <= c)");
        assert_eq!(sx("-x + y >= 0 and z"), "(and (>= (+ (- x) y) 0) z)");
        assert_eq!(
            sx("max(a, b) + exp(-t/10)"),
            "(+ (max a b) (exp (/ (- t) 10)))"
        );
    }

    #[test]
    fn seed_strings_parse() {
        assert_eq!(
            sx("v -(1/3)* v **3 - w + I"),
            "(+ (- (- v (* (/ 1 3) (** v 3))) w) I)"
        );
        assert_eq!(
            sx("(1/ tau )*( v +a - b * w )"),
            "(* (/ 1 tau) (- (+ v a) (* b w)))"
        );
        assert_eq!(sx(".5 if t <500 else 0"), "(if (< t 500) 0.5 0)");
        assert_eq!(
            sx("0.01*(-V-55)/(exp((-V-55)/10) -1)"),
            "(/ (* 0.01 (- (- V) 55)) (- (exp (/ (- (- V) 55) 10)) 1))"
        );
        assert_eq!(sx("V>=30"), "(>= V 30)");
        assert_eq!(sx("u+d"), "(+ u d)");
        assert_eq!(sx("1e-3 * 2.5E+2"), "(* 0.001 250)");
    }

    #[test]
    fn syntax_errors_point_at_the_culprit() {
        let e = parse("v + * 2").unwrap_err();
        match &e {
            Error::Syntax { pos, .. } => assert_eq!(*pos, 4),
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(text.contains("v + * 2\n    ^"), "{text}");
        assert!(matches!(parse("(a + b"), Err(Error::Syntax { pos: 6, .. })));
        assert!(matches!(parse("a if b"), Err(Error::Syntax { .. })));
        assert!(matches!(parse("a $ b"), Err(Error::Syntax { pos: 2, .. })));
        assert!(matches!(parse(""), Err(Error::Syntax { pos: 0, .. })));
    }

    struct Fixed;
    impl Noise for Fixed {
        fn uniform(&mut self) -> f64 {
            0.25
        }
        fn normal(&mut self) -> f64 {
            -1.0
        }
    }

    fn eval(src: &str, vars: &[(&str, f64)]) -> f64 {
        let names: Vec<String> = vars.iter().map(|v| v.0.to_string()).collect();
        let slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
        let e = parse(src).unwrap();
        let p = compile(&e, src, &|n| names.iter().position(|k| k == n), &names).unwrap();
        let mut stack = vec![0.0; p.max_stack];
        let mut slots = slots;
        p.eval(&mut slots, &mut stack, &mut Fixed)
    }

    #[test]
    fn evaluation_follows_python() {
        assert_eq!(eval("-2**2", &[]), -4.0);
        assert_eq!(eval("2**3**2", &[]), 512.0);
        assert_eq!(eval("-7 % 3", &[]), 2.0);
        assert_eq!(eval("7 % -3", &[]), -2.0);
        assert_eq!(eval(".5 if t < 500 else 0", &[("t", 499.0)]), 0.5);
        assert_eq!(eval(".5 if t < 500 else 0", &[("t", 500.0)]), 0.0);
        assert_eq!(eval("1 < x < 3", &[("x", 2.0)]), 1.0);
        assert_eq!(eval("1 < x < 3", &[("x", 3.0)]), 0.0);
        assert_eq!(eval("3 > x > 1 > 0", &[("x", 2.0)]), 1.0);
        assert_eq!(eval("2 and 3", &[]), 3.0);
        assert_eq!(eval("0 or 5", &[]), 5.0);
        assert_eq!(eval("not 0", &[]), 1.0);
        assert_eq!(eval("(x >= 1) * 10", &[("x", 1.0)]), 10.0);
        assert_eq!(eval("max(1, 2) + min(1, 2) + pow(2, 3)", &[]), 11.0);
        assert_eq!(
            eval("heaviside(0) + heaviside(-1) + heaviside(2)", &[]),
            1.5
        );
        assert_eq!(eval("rand() + randn()", &[]), -0.75);
        assert!((eval("pi - arccos(-1)", &[]) - 0.0).abs() < 1e-15);
        assert!((eval("log(e)", &[]) - 1.0).abs() < 1e-15);
        // A user's own `e` wins over the constant.
        assert_eq!(eval("e", &[("e", 3.0)]), 3.0);
        let nested = "(1 if a > 0 else 2) + (3 if b > 0 else (4 if c > 0 else 5))";
        assert_eq!(eval(nested, &[("a", 1.0), ("b", -1.0), ("c", -1.0)]), 6.0);
    }

    #[test]
    fn unknown_names_and_arity() {
        let names = vec!["tau".to_string(), "v".to_string()];
        let e = parse("1/tua").unwrap();
        let err = compile(&e, "1/tua", &|n| names.iter().position(|k| k == n), &names).unwrap_err();
        match err {
            Error::UnknownName {
                name,
                suggestion,
                known,
                ..
            } => {
                assert_eq!(name, "tua");
                assert_eq!(suggestion.as_deref(), Some("tau"));
                assert!(known.contains(&"v".to_string()));
            }
            other => panic!("{other:?}"),
        }
        let e = parse("exp(1, 2)").unwrap();
        let err = compile(&e, "exp(1, 2)", &|_| None, &[]).unwrap_err();
        assert!(
            matches!(err, Error::Arity { ref function, got: 2, .. } if function == "exp"),
            "{err}"
        );
        let e = parse("expp(1)").unwrap();
        let err = compile(&e, "expp(1)", &|_| None, &[]).unwrap_err();
        assert!(
            matches!(err, Error::UnknownName { ref suggestion, .. } if suggestion.as_deref() == Some("exp()")),
            "{err}"
        );
    }

    /// Walks the tree directly: the reference for the compiled programs.
    fn walk(e: &Expr, vars: &[(&str, f64)]) -> f64 {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match e {
            Expr::Num(x) => *x,
            Expr::Name(n) => vars
                .iter()
                .find(|v| v.0 == n)
                .map(|v| v.1)
                .unwrap_or(f64::NAN),
            Expr::Neg(x) => -walk(x, vars),
            Expr::Not(x) => b(walk(x, vars) == 0.0),
            Expr::Bin(op, x, y) => {
                let (x, y) = (walk(x, vars), walk(y, vars));
                match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                    BinOp::Mod => python_mod(x, y),
                    BinOp::Pow => x.powf(y),
                    BinOp::And => {
                        if x != 0.0 {
                            y
                        } else {
                            x
                        }
                    }
                    BinOp::Or => {
                        if x != 0.0 {
                            x
                        } else {
                            y
                        }
                    }
                }
            }
            Expr::Compare(first, rest) => {
                let mut a = walk(first, vars);
                for (op, x) in rest {
                    let c = walk(x, vars);
                    if !op.apply(a, c) {
                        return 0.0;
                    }
                    a = c;
                }
                1.0
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                if walk(cond, vars) != 0.0 {
                    walk(then, vars)
                } else {
                    walk(otherwise, vars)
                }
            }
            Expr::Call(f, args) => {
                let a: Vec<f64> = args.iter().map(|x| walk(x, vars)).collect();
                match f.as_str() {
                    "exp" => a[0].exp(),
                    "max" => a[0].max(a[1]),
                    "abs" => a[0].abs(),
                    _ => f64::NAN,
                }
            }
        }
    }

    /// Random expressions in infix form: the compiled program (with its
    /// fused instructions, register-held top of stack and unchecked
    /// indexing) agrees with walking the parsed tree.
    #[test]
    fn compiled_programs_agree_with_the_tree() {
        let vars = [("v", -1.25), ("w", 0.5), ("a", 3.0), ("b", 0.0)];
        let mut state = 99u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        fn gen(depth: u32, next: &mut dyn FnMut() -> u64) -> String {
            let atoms = ["v", "w", "a", "b", "2", "0.5", "3", "1e-2"];
            if depth == 0 || next() % 4 == 0 {
                return atoms[(next() % atoms.len() as u64) as usize].to_string();
            }
            let x = gen(depth - 1, next);
            let y = gen(depth - 1, next);
            match next() % 14 {
                0 => format!("({x} + {y})"),
                1 => format!("({x} - {y})"),
                2 => format!("({x} * {y})"),
                3 => format!("({x} / {y})"),
                4 => format!("({x})**2"),
                5 => format!("({x})**3"),
                6 => format!("(-{x})"),
                7 => format!("({x} if {y} > 0 else {x} - {y})"),
                8 => format!("({x} < {y} <= 2)"),
                9 => format!("({x} and {y})"),
                10 => format!("(not {x} or {y})"),
                11 => format!("exp({x} / 10)"),
                12 => format!("max({x}, {y})"),
                _ => format!("({x} % 3)"),
            }
        }
        let names: Vec<String> = vars.iter().map(|v| v.0.to_string()).collect();
        let mut compiled = Vec::new();
        for _ in 0..3000 {
            let src = gen(5, &mut next);
            let e = parse(&src).unwrap();
            let p = compile(&e, &src, &|n| names.iter().position(|k| k == n), &names).unwrap();
            let mut slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
            let mut stack = vec![0.0; p.max_stack];
            let got = p.eval(&mut slots, &mut stack, &mut Fixed);
            let want = walk(&e, &vars);
            assert!(
                got == want
                    || (got.is_nan() && want.is_nan())
                    || (got - want).abs() <= 1e-12 * want.abs(),
                "{src}: {got} vs {want}"
            );
            compiled.push((src, p, got));
        }
        // Native code (feature `jit`) gives the interpreter's results bit for
        // bit, one program at a time and fused into one (every value stored
        // into a slot of its own, jumps relocated).
        // The layout makes `w` (slot 1) come from `x` and every value stored
        // to slot 6 go to `dx`.
        #[cfg(feature = "jit")]
        let layout = crate::single::jit::Layout {
            state: 1,
            deriv: vars.len() + 2,
            n: 1,
        };
        #[cfg(feature = "jit")]
        for chunk in compiled.chunks(200) {
            let programs: Vec<&Program> = chunk.iter().map(|c| &c.1).collect();
            let native = crate::single::jit::compile(&programs, layout).expect("jit");
            for ((src, _, want), f) in chunk.iter().zip(&native) {
                let mut slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
                slots.resize(layout.deriv + 1, 0.0);
                let got = f.call(&mut slots, &mut Fixed);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "native {src}: {got} vs {want}"
                );
                // `w` read from `x`, not from its (spoilt) slot.
                slots[1] = f64::NAN;
                let got = f.call_with(&mut slots, &[vars[1].1], &mut [0.0], &mut Fixed);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "native, state from x: {src}: {got} vs {want}"
                );
            }
            let mut fused = Program::empty();
            for (i, c) in chunk.iter().enumerate() {
                fused.append_store(&c.1, vars.len() + i);
            }
            let native = crate::single::jit::compile(&[&fused], layout).expect("jit");
            let mut slots: Vec<f64> = vars.iter().map(|v| v.1).collect();
            slots.resize(vars.len() + chunk.len(), f64::INFINITY);
            let mut interp = slots.clone();
            let mut direct = slots.clone();
            native[0].call(&mut direct, &mut Fixed);
            let mut dx = [f64::NAN];
            native[0].call_with(&mut slots, &[vars[1].1], &mut dx, &mut Fixed);
            fused.eval(&mut interp, &mut vec![0.0; fused.max_stack], &mut Fixed);
            assert_eq!(
                direct.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                interp.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
            // Through `call_with`, slot 6 keeps its value and `dx` has it.
            assert!(
                dx[0].to_bits() == interp[layout.deriv].to_bits()
                    || (dx[0].is_nan() && interp[layout.deriv].is_nan())
            );
            slots[layout.deriv] = interp[layout.deriv];
            for (i, (a, b)) in slots.iter().zip(&interp).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "fused slot {i}: {a} vs {b}"
                );
            }
        }
    }
}
