//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in `snn`, with the culprit named.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// TensorFlow itself reported an error (graph construction or a session run).
    #[error("TensorFlow error while {context}: {message}")]
    TensorFlow {
        /// What snn was doing.
        context: String,
        /// TensorFlow's own message.
        message: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Attach what snn was doing to a TensorFlow status.
pub(crate) trait TfContext<T> {
    fn tf(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> TfContext<T> for std::result::Result<T, tensorflow::Status> {
    fn tf(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|status| Error::TensorFlow {
            context: context(),
            message: status.to_string(),
        })
    }
}
