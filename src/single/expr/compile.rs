//! [`Expr`] to [`Program`]: names resolved to slots, constants substituted
//! and folded, fused instructions chosen; unknown names get the closest
//! known one as a suggestion.

use super::program::{min_slots, Func, Op, Program, FUNCS};
use super::{BinOp, Expr};
use crate::error::{Error, Result};

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
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
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
