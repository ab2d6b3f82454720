//! The expression language of model strings: Python's expression syntax
//! (SPEC §2), parsed by recursive descent into an [`Expr`] tree, printed as
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
            Expr::If { cond, then, otherwise } => write!(f, "(if {cond} {then} {otherwise})"),
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
    Error::Syntax { expr: src.to_string(), pos, message: message.into() }
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
            } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
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
                let x: f64 = text.parse().map_err(|_| syntax(src, start, format!("malformed number {text:?}")))?;
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
            Expr::If { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) }
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
        Ok(if rest.is_empty() { first } else { Expr::Compare(Box::new(first), rest) })
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
    let mut p = Parser { src, toks, i: 0, depth: 0 };
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
        Expr::If { cond, then, otherwise } => {
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
];

/// One instruction of a compiled program (a stack machine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Const(f64),
    Load(usize),
    Neg,
    Not,
    Bin(BinOp),
    Cmp(CmpOp),
    /// Chained comparison step: pops b, a; pushes (a op b) as 0/1 and keeps b
    /// for the next link (used for chains of length > 1).
    CmpKeep(CmpOp),
    /// Combine the boolean of a chain link with the running result.
    AndBool,
    Call(Func, usize),
    /// Pop; if zero jump to target.
    JumpIfZero(usize),
    Jump(usize),
}

/// A compiled expression: instructions over numbered slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub(crate) ops: Vec<Op>,
    pub(crate) max_stack: usize,
    pub(crate) uses_rng: bool,
}

/// The random source of a model's `rand()` and `randn()`.
pub(crate) trait Noise {
    fn uniform(&mut self) -> f64;
    fn normal(&mut self) -> f64;
}

fn python_mod(a: f64, b: f64) -> f64 {
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
    pub(crate) fn eval(&self, slots: &[f64], stack: &mut [f64], noise: &mut dyn Noise) -> f64 {
        let mut sp = 0usize;
        let mut pc = 0usize;
        let ops = &self.ops;
        while pc < ops.len() {
            match ops[pc] {
                Op::Const(x) => {
                    stack[sp] = x;
                    sp += 1;
                }
                Op::Load(s) => {
                    stack[sp] = slots[s];
                    sp += 1;
                }
                Op::Neg => stack[sp - 1] = -stack[sp - 1],
                Op::Not => stack[sp - 1] = if truthy(stack[sp - 1]) { 0.0 } else { 1.0 },
                Op::Bin(op) => {
                    let b = stack[sp - 1];
                    let a = stack[sp - 2];
                    sp -= 1;
                    stack[sp - 1] = match op {
                        BinOp::Add => a + b,
                        BinOp::Sub => a - b,
                        BinOp::Mul => a * b,
                        BinOp::Div => a / b,
                        BinOp::Mod => python_mod(a, b),
                        BinOp::Pow => a.powf(b),
                        BinOp::And => {
                            if truthy(a) {
                                b
                            } else {
                                a
                            }
                        }
                        BinOp::Or => {
                            if truthy(a) {
                                a
                            } else {
                                b
                            }
                        }
                    };
                }
                Op::Cmp(op) => {
                    let b = stack[sp - 1];
                    let a = stack[sp - 2];
                    sp -= 1;
                    stack[sp - 1] = if op.apply(a, b) { 1.0 } else { 0.0 };
                }
                Op::CmpKeep(op) => {
                    // stack: .. acc a b  ->  .. acc' b   with acc' = acc && (a op b)
                    let b = stack[sp - 1];
                    let a = stack[sp - 2];
                    let acc = stack[sp - 3];
                    stack[sp - 3] = if truthy(acc) && op.apply(a, b) { 1.0 } else { 0.0 };
                    stack[sp - 2] = b;
                    sp -= 1;
                }
                Op::AndBool => {
                    // .. acc last -> .. acc
                    sp -= 1;
                }
                Op::Call(f, argc) => {
                    let args = &stack[sp - argc..sp];
                    let x = args.first().copied().unwrap_or(0.0);
                    let y = args.get(1).copied().unwrap_or(0.5);
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
                    };
                    sp -= argc;
                    stack[sp] = r;
                    sp += 1;
                }
                Op::JumpIfZero(target) => {
                    sp -= 1;
                    if !truthy(stack[sp]) {
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
        if sp == 0 {
            f64::NAN
        } else {
            stack[sp - 1]
        }
    }
}

/// Compile `e` with `resolve` mapping a name to its slot. `src` is the
/// expression's text, for error messages; `known` the names one may use.
pub(crate) fn compile(e: &Expr, src: &str, resolve: &dyn Fn(&str) -> Option<usize>, known: &[String]) -> Result<Program> {
    let mut ops = Vec::new();
    let mut uses_rng = false;
    emit(e, src, resolve, known, &mut ops, &mut uses_rng)?;
    let max_stack = stack_depth(&ops);
    Ok(Program { ops, max_stack, uses_rng })
}

fn emit(e: &Expr, src: &str, resolve: &dyn Fn(&str) -> Option<usize>, known: &[String], ops: &mut Vec<Op>, rng: &mut bool) -> Result<()> {
    match e {
        Expr::Num(x) => ops.push(Op::Const(*x)),
        Expr::Name(n) => match resolve(n) {
            Some(slot) => ops.push(Op::Load(slot)),
            None => match n.as_str() {
                "pi" => ops.push(Op::Const(std::f64::consts::PI)),
                "e" => ops.push(Op::Const(std::f64::consts::E)),
                _ => return Err(unknown_name(src, n, known)),
            },
        },
        Expr::Neg(x) => {
            emit(x, src, resolve, known, ops, rng)?;
            ops.push(Op::Neg);
        }
        Expr::Not(x) => {
            emit(x, src, resolve, known, ops, rng)?;
            ops.push(Op::Not);
        }
        Expr::Bin(op, a, b) => {
            emit(a, src, resolve, known, ops, rng)?;
            emit(b, src, resolve, known, ops, rng)?;
            ops.push(Op::Bin(*op));
        }
        Expr::Compare(first, rest) => {
            if rest.len() == 1 {
                emit(first, src, resolve, known, ops, rng)?;
                emit(&rest[0].1, src, resolve, known, ops, rng)?;
                ops.push(Op::Cmp(rest[0].0));
            } else {
                ops.push(Op::Const(1.0));
                emit(first, src, resolve, known, ops, rng)?;
                for (op, x) in rest {
                    emit(x, src, resolve, known, ops, rng)?;
                    ops.push(Op::CmpKeep(*op));
                }
                ops.push(Op::AndBool);
            }
        }
        Expr::If { cond, then, otherwise } => {
            emit(cond, src, resolve, known, ops, rng)?;
            let jz = ops.len();
            ops.push(Op::JumpIfZero(0));
            emit(then, src, resolve, known, ops, rng)?;
            let jmp = ops.len();
            ops.push(Op::Jump(0));
            let else_at = ops.len();
            emit(otherwise, src, resolve, known, ops, rng)?;
            let end = ops.len();
            ops[jz] = Op::JumpIfZero(else_at);
            ops[jmp] = Op::Jump(end);
        }
        Expr::Call(name, args) => {
            let Some(&(_, f, lo, hi)) = FUNCS.iter().find(|(n, ..)| n == name) else {
                let names: Vec<String> = FUNCS.iter().map(|f| f.0.to_string()).collect();
                return Err(Error::UnknownName {
                    expr: src.to_string(),
                    name: format!("{name}()"),
                    suggestion: closest(name, &names).map(|s| format!("{s}()")),
                    known: names,
                });
            };
            if args.len() < lo || args.len() > hi {
                let expected = if lo == hi { format!("{lo}") } else { format!("{lo} or {hi}") };
                return Err(Error::Arity { expr: src.to_string(), function: name.clone(), expected, got: args.len() });
            }
            if matches!(f, Func::Rand | Func::Randn) {
                *rng = true;
            }
            for a in args {
                emit(a, src, resolve, known, ops, rng)?;
            }
            ops.push(Op::Call(f, args.len()));
        }
    }
    Ok(())
}

/// Deepest stack a program reaches (a linear scan; both branches of a
/// conditional leave the same depth).
fn stack_depth(ops: &[Op]) -> usize {
    let (mut d, mut max) = (0isize, 0isize);
    for op in ops {
        d += match op {
            Op::Const(_) | Op::Load(_) => 1,
            Op::Neg | Op::Not | Op::Jump(_) => 0,
            Op::Bin(_) | Op::Cmp(_) | Op::CmpKeep(_) | Op::AndBool | Op::JumpIfZero(_) => -1,
            Op::Call(_, argc) => 1 - *argc as isize,
        };
        max = max.max(d);
    }
    // A conditional's two branches each push one value; the scan counts both.
    max.max(1) as usize
}

fn unknown_name(src: &str, name: &str, known: &[String]) -> Error {
    let mut all: Vec<String> = known.to_vec();
    all.extend(["t", "pi", "e"].iter().map(|s| s.to_string()));
    all.sort();
    all.dedup();
    Error::UnknownName { expr: src.to_string(), name: name.to_string(), suggestion: closest(name, &all), known: all }
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
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
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

    fn sx(s: &str) -> String {
        match parse(s) {
            Ok(e) => e.to_string(),
            Err(e) => format!("error: {e}"),
        }
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
        assert_eq!(sx("max(a, b) + exp(-t/10)"), "(+ (max a b) (exp (/ (- t) 10)))");
    }

    #[test]
    fn seed_strings_parse() {
        assert_eq!(sx("v -(1/3)* v **3 - w + I"), "(+ (- (- v (* (/ 1 3) (** v 3))) w) I)");
        assert_eq!(sx("(1/ tau )*( v +a - b * w )"), "(* (/ 1 tau) (- (+ v a) (* b w)))");
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
        p.eval(&slots, &mut stack, &mut Fixed)
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
        assert_eq!(eval("heaviside(0) + heaviside(-1) + heaviside(2)", &[]), 1.5);
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
            Error::UnknownName { name, suggestion, known, .. } => {
                assert_eq!(name, "tua");
                assert_eq!(suggestion.as_deref(), Some("tau"));
                assert!(known.contains(&"v".to_string()));
            }
            other => panic!("{other:?}"),
        }
        let e = parse("exp(1, 2)").unwrap();
        let err = compile(&e, "exp(1, 2)", &|_| None, &[]).unwrap_err();
        assert!(matches!(err, Error::Arity { ref function, got: 2, .. } if function == "exp"), "{err}");
        let e = parse("expp(1)").unwrap();
        let err = compile(&e, "expp(1)", &|_| None, &[]).unwrap_err();
        assert!(matches!(err, Error::UnknownName { ref suggestion, .. } if suggestion.as_deref() == Some("exp()")), "{err}");
    }
}
