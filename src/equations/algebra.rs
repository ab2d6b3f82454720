//! Algebra on expression trees for the integration methods: building
//! expressions with numbers folded as they are made, renaming, and the
//! decomposition `f = A x + B` of an expression linear in a name.

use crate::single::expr::{BinOp, Expr};

/// The number `x`.
pub(crate) fn num(x: f64) -> Expr {
    Expr::Num(x)
}

/// The name `n`.
pub(crate) fn name(n: &str) -> Expr {
    Expr::Name(n.to_string())
}

fn value(e: &Expr) -> Option<f64> {
    match e {
        Expr::Num(x) => Some(*x),
        _ => None,
    }
}

/// `a + b`, with `0 + b = b` and numbers added.
pub(crate) fn add(a: Expr, b: Expr) -> Expr {
    match (value(&a), value(&b)) {
        (Some(x), Some(y)) => num(x + y),
        (Some(0.0), _) => b,
        (_, Some(0.0)) => a,
        _ => Expr::Bin(BinOp::Add, Box::new(a), Box::new(b)),
    }
}

/// `a - b`, with `a - 0 = a`, `0 - b = -b` and numbers subtracted.
pub(crate) fn sub(a: Expr, b: Expr) -> Expr {
    match (value(&a), value(&b)) {
        (Some(x), Some(y)) => num(x - y),
        (_, Some(0.0)) => a,
        (Some(0.0), _) => neg(b),
        _ => Expr::Bin(BinOp::Sub, Box::new(a), Box::new(b)),
    }
}

/// `a * b`, with `0 b = 0`, `1 b = b` and numbers multiplied.
pub(crate) fn mul(a: Expr, b: Expr) -> Expr {
    match (value(&a), value(&b)) {
        (Some(x), Some(y)) => num(x * y),
        (Some(0.0), _) | (_, Some(0.0)) => num(0.0),
        (Some(1.0), _) => b,
        (_, Some(1.0)) => a,
        _ => Expr::Bin(BinOp::Mul, Box::new(a), Box::new(b)),
    }
}

/// `a / b`, with `a / 1 = a`, `0 / b = 0` and numbers divided.
pub(crate) fn div(a: Expr, b: Expr) -> Expr {
    match (value(&a), value(&b)) {
        (Some(x), Some(y)) => num(x / y),
        (_, Some(1.0)) => a,
        (Some(0.0), _) => num(0.0),
        _ => Expr::Bin(BinOp::Div, Box::new(a), Box::new(b)),
    }
}

/// `-a`.
pub(crate) fn neg(a: Expr) -> Expr {
    match a {
        Expr::Num(x) => num(-x),
        Expr::Neg(x) => *x,
        a => Expr::Neg(Box::new(a)),
    }
}

/// `exp(a)`.
pub(crate) fn exp(a: Expr) -> Expr {
    Expr::Call("exp".into(), vec![a])
}

/// `then if cond else otherwise`.
pub(crate) fn select(cond: Expr, then: Expr, otherwise: Expr) -> Expr {
    Expr::If {
        cond: Box::new(cond),
        then: Box::new(then),
        otherwise: Box::new(otherwise),
    }
}

/// Whether `e` reads any of `names`.
pub(crate) fn reads_any(e: &Expr, names: &[&str]) -> bool {
    let mut read = Vec::new();
    crate::single::expr::names(e, &mut read);
    read.iter().any(|n| names.contains(&n.as_str()))
}

/// Whether `e` calls `rand()` or `randn()`.
pub(crate) fn draws(e: &Expr) -> bool {
    match e {
        Expr::Call(f, args) => f == "rand" || f == "randn" || args.iter().any(draws),
        Expr::Num(_) | Expr::Name(_) => false,
        Expr::Neg(x) | Expr::Not(x) => draws(x),
        Expr::Bin(_, a, b) => draws(a) || draws(b),
        Expr::Compare(a, rest) => draws(a) || rest.iter().any(|(_, x)| draws(x)),
        Expr::If {
            cond,
            then,
            otherwise,
        } => draws(cond) || draws(then) || draws(otherwise),
    }
}

/// `e` with each name `map` knows replaced by its expression (all at once:
/// the replacements are not themselves rewritten).
pub(crate) fn replace(e: &Expr, map: &dyn Fn(&str) -> Option<Expr>) -> Expr {
    let r = |x: &Expr| Box::new(replace(x, map));
    match e {
        Expr::Name(n) => map(n).unwrap_or_else(|| e.clone()),
        Expr::Num(_) => e.clone(),
        Expr::Neg(x) => Expr::Neg(r(x)),
        Expr::Not(x) => Expr::Not(r(x)),
        Expr::Bin(op, a, b) => Expr::Bin(*op, r(a), r(b)),
        Expr::Compare(a, rest) => Expr::Compare(
            r(a),
            rest.iter().map(|(o, x)| (*o, replace(x, map))).collect(),
        ),
        Expr::If {
            cond,
            then,
            otherwise,
        } => Expr::If {
            cond: r(cond),
            then: r(then),
            otherwise: r(otherwise),
        },
        Expr::Call(f, args) => {
            Expr::Call(f.clone(), args.iter().map(|a| replace(a, map)).collect())
        }
    }
}

/// `f = A x + B` with `A` and `B` free of `x`, if `f` is linear in `x`
/// (sums, differences, negation, products with one factor free of `x`,
/// quotients by a divisor free of `x`); `None` otherwise.
pub(crate) fn linear_in(f: &Expr, x: &str) -> Option<(Expr, Expr)> {
    if !reads_any(f, &[x]) {
        return Some((num(0.0), f.clone()));
    }
    match f {
        Expr::Name(n) if n == x => Some((num(1.0), num(0.0))),
        Expr::Neg(a) => {
            let (a1, b1) = linear_in(a, x)?;
            Some((neg(a1), neg(b1)))
        }
        Expr::Bin(BinOp::Add, a, b) => {
            let ((a1, b1), (a2, b2)) = (linear_in(a, x)?, linear_in(b, x)?);
            Some((add(a1, a2), add(b1, b2)))
        }
        Expr::Bin(BinOp::Sub, a, b) => {
            let ((a1, b1), (a2, b2)) = (linear_in(a, x)?, linear_in(b, x)?);
            Some((sub(a1, a2), sub(b1, b2)))
        }
        Expr::Bin(BinOp::Mul, a, b) if !reads_any(a, &[x]) => {
            let (a2, b2) = linear_in(b, x)?;
            Some((mul((**a).clone(), a2), mul((**a).clone(), b2)))
        }
        Expr::Bin(BinOp::Mul, a, b) if !reads_any(b, &[x]) => {
            let (a1, b1) = linear_in(a, x)?;
            Some((mul(a1, (**b).clone()), mul(b1, (**b).clone())))
        }
        Expr::Bin(BinOp::Div, a, b) if !reads_any(b, &[x]) => {
            let (a1, b1) = linear_in(a, x)?;
            Some((div(a1, (**b).clone()), div(b1, (**b).clone())))
        }
        _ => None,
    }
}

/// `f = Σ_j A_j x_j + c` over the names `xs`, with every `A_j` and `c` free
/// of all of them, if `f` is affine in them.
pub(crate) fn affine_in(f: &Expr, xs: &[&str]) -> Option<(Vec<Expr>, Expr)> {
    let mut rest = f.clone();
    let mut coefficients = Vec::with_capacity(xs.len());
    for x in xs {
        let (a, b) = linear_in(&rest, x)?;
        if reads_any(&a, xs) {
            return None;
        }
        coefficients.push(a);
        rest = b;
    }
    (!reads_any(&rest, xs)).then_some((coefficients, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::single::expr::parse;

    fn lin(src: &str, x: &str) -> Option<(String, String)> {
        linear_in(&parse(src).unwrap(), x).map(|(a, b)| (a.to_string(), b.to_string()))
    }

    #[test]
    fn linear_parts_are_found_and_nonlinear_ones_refused() {
        assert_eq!(
            lin("(ge + gi - (v - El)) / taum", "v"),
            Some(("(/ -1 taum)".into(), "(/ (- (+ ge gi) (- El)) taum)".into()))
        );
        assert_eq!(
            lin("-ge / taue", "ge"),
            Some(("(/ -1 taue)".into(), "0".into()))
        );
        assert_eq!(
            lin("a * (b * v - u)", "u"),
            Some(("(* a -1)".into(), "(* a (* b v))".into()))
        );
        assert_eq!(lin("v * v", "v"), None);
        assert_eq!(lin("exp(v)", "v"), None);
        assert_eq!(lin("1 / v", "v"), None);
        assert_eq!(
            lin("exp(w) + 2", "v"),
            Some(("0".into(), "(+ (exp w) 2)".into()))
        );
    }

    #[test]
    fn affine_systems_split_into_coefficients_and_rest() {
        let f = parse("(ge + gi - (v - El)) / taum").unwrap();
        let (m, c) = affine_in(&f, &["v", "ge", "gi"]).unwrap();
        let m: Vec<String> = m.iter().map(|e| e.to_string()).collect();
        assert_eq!(m, ["(/ -1 taum)", "(/ 1 taum)", "(/ 1 taum)"]);
        assert_eq!(c.to_string(), "(/ El taum)");
        // A product of two state variables is not affine.
        assert!(affine_in(&parse("ge * v").unwrap(), &["v", "ge"]).is_none());
    }
}
