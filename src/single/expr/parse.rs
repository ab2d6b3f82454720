//! Text to [`Expr`]: a lexer and a recursive-descent parser for Python's
//! expression syntax, with errors that point into the text.

use super::{BinOp, CmpOp, Expr};
use crate::error::{Error, Result};

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
