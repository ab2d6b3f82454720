//! Subgroups: a contiguous range of a nucleus's neurons as one end of a
//! connection (Brian2's `P[:3200]`), so that one population can be updated
//! as one vector while its parts connect differently (docs/design.md,
//! "Subgroups").

use std::ops::Range;

use super::model::NucleusId;
use crate::error::{Error, Result};

/// Neurons `range` of a nucleus (all of it when made from a [`NucleusId`]).
/// A connection from or to a subgroup takes weights of the subgroup's size
/// (`range.len()` rows or columns); in the graph they are the rows or
/// columns of the whole nucleus's, so [`Simulator::weights`] reports them
/// in the nucleus's numbering.
///
/// ```no_run
/// use snn::network::{Connection, Network, Nucleus, Weights};
/// # fn main() -> snn::Result<()> {
/// let mut net = Network::new();
/// let p = net.add(Nucleus::new("P", 4000))?;
/// let (exc, inh) = (p.subgroup(0..3200), p.subgroup(3200..4000));
/// net.connect_with(Connection::new(exc, p, Weights::random(0.02, 1.0, 1)))?;
/// net.connect_with(Connection::new(inh, p, Weights::random(0.02, -2.0, 2)))?;
/// # Ok(()) }
/// ```
///
/// [`Simulator::weights`]: crate::network::Simulator::weights
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subgroup {
    pub(crate) id: NucleusId,
    /// `None`: the whole nucleus.
    pub(crate) range: Option<Range<usize>>,
}

impl NucleusId {
    /// Neurons `range` of this nucleus (checked against its size when a
    /// connection uses it).
    pub fn subgroup(self, range: Range<usize>) -> Subgroup {
        Subgroup {
            id: self,
            range: Some(range),
        }
    }
}

impl From<NucleusId> for Subgroup {
    fn from(id: NucleusId) -> Self {
        Subgroup { id, range: None }
    }
}

impl Subgroup {
    /// The nucleus.
    pub fn nucleus(&self) -> NucleusId {
        self.id
    }

    /// The neurons, in the nucleus's numbering, for a nucleus of `n`.
    pub fn neurons(&self, n: usize) -> Range<usize> {
        self.range.clone().unwrap_or(0..n)
    }

    /// An error unless the range is a non-empty part of a nucleus `label`
    /// of `n` neurons.
    pub(crate) fn check(&self, label: &str, n: usize) -> Result<()> {
        match &self.range {
            Some(r) if r.start >= r.end || r.end > n => Err(Error::InvalidModel {
                message: format!(
                    "subgroup {label}[{}..{}]: nucleus {label} has neurons 0..{n}, and a \
                     subgroup needs a non-empty range within them",
                    r.start, r.end
                ),
            }),
            _ => Ok(()),
        }
    }

    /// `label` or `label[a..b]`.
    pub(crate) fn name(&self, label: &str) -> String {
        match &self.range {
            None => label.to_string(),
            Some(r) => format!("{label}[{}..{}]", r.start, r.end),
        }
    }
}
