//! The expression language of model strings: Python's expression syntax
//! (docs/semantics.md §2.2), parsed by recursive descent into an [`Expr`] tree, printed as
//! S-expressions for tests, and compiled once into a flat stack [`Program`]
//! whose names are resolved to slots, so evaluation neither looks up names nor
//! allocates. Here the tree; the submodule `parse` reads text into it,
//! `compile` turns it into a [`Program`], and `program` runs that.

use std::fmt;

mod compile;
mod parse;
mod program;
#[cfg(test)]
mod tests;

pub(crate) use compile::{closest, compile, fold, substitute};
pub use parse::{names, parse};
pub use program::Program;
// Read by the native code (`jit`) and the graph (`network`) features.
#[allow(unused_imports)]
pub(crate) use program::{exprel, python_mod, Func, Noise, Op};

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
