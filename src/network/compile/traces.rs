//! The kernel traces of each nucleus with exponential or alpha afferents
//! (exact, semantics §1.4):
//!
//! ```text
//! G_m = r G_{m-1} + Σ [y(m - D) - r^K y(m - D - K)]
//! A_m = r A_{m-1} + r G_{m-1} + Σ [-K r^K y(m - D - K)]
//! ```
//!
//! with the sums over a group's connections (their terms, from
//! [`super::synapses`]), all groups of the nucleus as the rows of its bank,
//! and one step of the bank one `MatMul` of the constant
//! [`bank_matrix`] with the old traces and the terms' inputs stacked.

use tensorflow::{ops, Operation, Output, Scope};

use super::graph::{after, const_f32, const_i32, constant, tf_err};
use super::layout::{bank_matrix, BankLayout};
use super::state::TraceBank;
use crate::error::Result;

/// One bank's step in this copy: the current it gives its nucleus, and the
/// write of its new traces (to be made after every read).
pub(super) struct BankStep {
    pub(super) current: Output,
    pub(super) new: Operation,
    pub(super) write_scope: Scope,
}

/// Step `bank` (variable `var`) of a nucleus of `n` neurons with its
/// afferent connections' `terms`; pushes the read of the old traces.
pub(super) fn step_bank(
    bank: &BankLayout,
    var: &TraceBank,
    n: usize,
    terms: Vec<super::synapses::BankTerm>,
    copy_after: Option<&Operation>,
    reads: &mut Vec<Operation>,
) -> Result<BankStep> {
    let mut s = after(&var.scope, copy_after);
    let e = tf_err("kernel traces");
    let old = var.var.read_in(&mut s, "read")?;
    reads.push(old.clone());
    // new = [M | C_1 | C_2 ...] [old; y_1; y_2 ...]: the decay and every
    // connection's terms in one product, summed in one fixed order.
    let blocks: Vec<(Vec<f32>, usize)> = terms.iter().map(|(_, c, m)| (c.clone(), *m)).collect();
    let coef = bank_matrix(bank, &blocks);
    let t = bank.rows as u64;
    let width = coef.len() as u64 / t;
    let mut parts: Vec<Output> = vec![old.into()];
    parts.extend(terms.into_iter().map(|(y, _, _)| y));
    let axis = constant(0i32, &mut s.with_op_name("axis")).map_err(&e)?;
    let stacked = ops::ConcatV2::new()
        .build_instance(parts, axis.into(), &mut s.with_op_name("inputs"))
        .map_err(&e)?
        .op;
    let coef = const_f32(&mut s, "coefficients", &coef, &[t, width])?;
    let new = ops::mat_mul(coef, stacked, &mut s.with_op_name("new")).map_err(&e)?;
    let write_scope = s.new_sub_scope("write");
    let scale = const_f32(&mut s, "scale", &bank.scale, &[1, t])?;
    let current = ops::mat_mul(scale, new.clone(), &mut s.with_op_name("scaled")).map_err(&e)?;
    let flat = const_i32(&mut s, "flat", &[n as i32], &[1])?;
    let current = ops::reshape(current, flat, &mut s.with_op_name("current")).map_err(&e)?;
    Ok(BankStep {
        current: current.into(),
        new,
        write_scope,
    })
}
