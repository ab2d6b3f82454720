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
    /// The time step is not a positive finite number.
    #[error("time step dt = {dt} ms: it must be a finite number > 0")]
    InvalidDt {
        /// The step given.
        dt: f64,
    },
    /// A run shorter than one step, not finite, or of 2^53 steps or more.
    #[error(
        "duration T = {t} ms with dt = {dt} ms: T must be finite, at least dt and under 2^53 steps"
    )]
    InvalidDuration {
        /// The duration given.
        t: f64,
        /// The step.
        dt: f64,
    },
    /// A nucleus of size zero.
    #[error("nucleus {label:?} has no neurons")]
    EmptyNucleus {
        /// Its label.
        label: String,
    },
    /// Two nuclei with one label.
    #[error("two nuclei are labelled {label:?}; labels name graph scopes and must be unique")]
    DuplicateLabel {
        /// The label.
        label: String,
    },
    /// A label that cannot name a TensorFlow scope.
    #[error("nucleus label {label:?}: use letters, digits, '_', '-' and '.', starting with a letter or digit")]
    InvalidLabel {
        /// The label.
        label: String,
    },
    /// A per-neuron vector whose length is not the nucleus size.
    #[error("{what} of nucleus {nucleus:?} has {got} values, the nucleus has {expected} neurons")]
    WrongLength {
        /// The nucleus.
        nucleus: String,
        /// Which vector (parameter `a`, external input, ...).
        what: String,
        /// The nucleus size.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// NaN or infinity where a number is needed.
    #[error("{what} is {value}: it must be finite")]
    NonFinite {
        /// Where (e.g. "parameter a of nucleus \"CTX\", neuron 3").
        what: String,
        /// The value.
        value: f64,
    },
    /// A dense weight matrix of the wrong shape.
    #[error("weights of connection {connection} have shape {got:?}, expected (pre.n, post.n) = {expected:?}")]
    WeightShape {
        /// `pre->post`.
        connection: String,
        /// `(pre.n, post.n)`.
        expected: (usize, usize),
        /// The shape given.
        got: (usize, usize),
    },
    /// A sparse weight pointing outside the nuclei, or a malformed CSR matrix.
    #[error("sparse weights of connection {connection}: {problem}")]
    SparseWeights {
        /// `pre->post`.
        connection: String,
        /// What is wrong.
        problem: String,
    },
    /// A negative delay or window.
    #[error("{what} of connection {connection} is {value} ms: it must be >= 0")]
    Negative {
        /// `pre->post`.
        connection: String,
        /// `delay` or `window`.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// A delay or window that is not a whole number of steps.
    #[error(
        "{what} of connection {connection} is {value} ms, not a multiple of dt = {dt} ms; \
             call .round_to_step() on the connection to round it to {rounded} steps"
    )]
    NotMultipleOfDt {
        /// `pre->post`.
        connection: String,
        /// `delay` or `window`.
        what: &'static str,
        /// The value.
        value: f64,
        /// The step.
        dt: f64,
        /// The nearest whole number of steps.
        rounded: usize,
    },
    /// A kernel that returned NaN or infinity.
    #[error("kernel of connection {connection} returned {value} at lag {lag_ms} ms")]
    KernelValue {
        /// `pre->post`.
        connection: String,
        /// The lag it was sampled at.
        lag_ms: f64,
        /// The value.
        value: f64,
    },
    /// A nucleus handle from another network.
    #[error("nucleus handle #{index} belongs to another network")]
    ForeignNucleus {
        /// The handle's index.
        index: usize,
    },
    /// A connection handle from another network.
    #[error("connection handle #{index} belongs to another network")]
    ForeignConnection {
        /// The handle's index.
        index: usize,
    },
    /// A recorded neuron index outside the nucleus.
    #[error("recording {variable} of nucleus {nucleus:?}: neuron {index} does not exist (the nucleus has {n})")]
    RecordIndex {
        /// The nucleus.
        nucleus: String,
        /// `v`, `u` or `I`.
        variable: String,
        /// The index asked for.
        index: usize,
        /// The nucleus size.
        n: usize,
    },
    /// A network run stopped early; everything recorded before `step` is in
    /// `recording`.
    #[cfg(feature = "network")]
    #[error("run stopped at step {step}: {reason} (the {recorded_steps} steps recorded before are kept in the error's recording)")]
    RunInterrupted {
        /// The step that failed.
        step: usize,
        /// Steps completed and recorded.
        recorded_steps: usize,
        /// What went wrong.
        reason: Box<Error>,
        /// What was recorded up to then.
        recording: Box<crate::network::Recording>,
    },
    /// Reading or writing a file (plot, export, TensorBoard event file,
    /// checkpoint, stream) failed; the operating system's error is the source.
    #[error("{action} {path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// Reading or writing.
        action: IoAction,
        /// What went wrong (an encoder's error is wrapped as
        /// [`std::io::ErrorKind::Other`]).
        #[source]
        source: std::io::Error,
    },
    /// A recording or history that would not fit in the memory allowed for
    /// it: nothing was allocated.
    #[error("{what} would take {bytes} bytes, over the limit of {limit} bytes; {ways_out}")]
    MemoryLimit {
        /// What (the nucleus and its traces, a single-neuron history, a
        /// connection's spike ring).
        what: String,
        /// The bytes it would take.
        bytes: u64,
        /// The limit in force.
        limit: u64,
        /// How to get under it.
        ways_out: String,
    },
    /// A state variable of a nucleus turned NaN or infinite during a run.
    #[error("variable {variable} of nucleus {nucleus:?} became {value} at neuron {neuron}, found at step {step} (t = {t_ms} ms; all finite at step {last_finite_step})")]
    NetworkDiverged {
        /// The nucleus.
        nucleus: String,
        /// The first neuron found non-finite.
        neuron: usize,
        /// `v`, `u` or `I`.
        variable: String,
        /// Its value.
        value: f32,
        /// The step after which the check found it.
        step: usize,
        /// Its time (ms).
        t_ms: f64,
        /// The last step the check found every state finite (or the run's
        /// first step).
        last_finite_step: usize,
    },
    /// An option (of the network's `SimOptions`,
    /// [`SimulationOptions`](crate::single::SimulationOptions), a
    /// checkpointing schedule) that cannot be used.
    #[error("option {option}: {problem}")]
    InvalidOption {
        /// The option.
        option: String,
        /// What is wrong and what would do.
        problem: String,
    },
    /// A broken invariant inside snn: a bug, not the user's input.
    #[error("internal error while {context}: {message} (a bug in snn; please report it)")]
    Internal {
        /// What snn was doing.
        context: String,
        /// What did not hold.
        message: String,
    },
    /// An expression that does not parse.
    #[error("{}", caret(.expr, *.pos, .message))]
    Syntax {
        /// The expression.
        expr: String,
        /// Byte offset of the problem.
        pos: usize,
        /// What is wrong.
        message: String,
    },
    /// A neuron model written as equations that cannot run as written:
    /// names the model, the item (an equation, the threshold, a reset
    /// statement, a parameter, an `on_pre` statement), its text, and what is
    /// wrong, with a caret under the culprit when it has a position.
    #[error("{}", equation_message(.model, .item, .text, *.pos, .problem))]
    Equation {
        /// The model's name.
        model: String,
        /// What in the model: `equation dv/dt`, `threshold`, `reset`, ...
        item: String,
        /// Its text.
        text: String,
        /// Byte offset of the culprit in `text`, if it has one.
        pos: Option<usize>,
        /// What is wrong.
        problem: String,
    },
    /// A name that is not a variable, parameter, `t`, constant or function.
    #[error("unknown name {name:?} in {expr:?}{}; known: {}", .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default(), .known.join(", "))]
    UnknownName {
        /// The expression.
        expr: String,
        /// The unknown name (`f()` for a function).
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// The names that can be used.
        known: Vec<String>,
    },
    /// A function called with the wrong number of arguments.
    #[error("{function}() takes {expected} argument(s), {got} given, in {expr:?}")]
    Arity {
        /// The expression.
        expr: String,
        /// The function.
        function: String,
        /// How many it takes.
        expected: String,
        /// How many were given.
        got: usize,
    },
    /// Parameters defined in terms of themselves.
    #[error("parameters defined in terms of themselves: {}", .cycle.join(" -> "))]
    CyclicParameter {
        /// The cycle, first name repeated at the end.
        cycle: Vec<String>,
    },
    /// A name given to `Model::set` or asked of a model that it does not have.
    #[error("model has no variable or parameter {name:?}{}", .suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default())]
    NoSuchName {
        /// The name.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
    },
    /// A model definition problem (no variables, duplicate names, bad option).
    #[error("invalid model: {message}")]
    InvalidModel {
        /// What is wrong.
        message: String,
    },
    /// A single-neuron simulation whose state turned NaN or infinite; the
    /// history up to the last finite state is kept.
    #[error("variable {variable:?} became {value} at t = {t}; last finite state at t = {}: {last_state:?} (history up to there is kept in the error)", .t - .dt)]
    Diverged {
        /// The variable.
        variable: String,
        /// Its value.
        value: f64,
        /// The time it happened.
        t: f64,
        /// The step.
        dt: f64,
        /// `(name, value)` of every variable in the last finite state.
        last_state: Vec<(String, f64)>,
        /// Everything simulated before.
        history: Box<crate::single::History>,
    },
    /// A checkpoint that cannot be used: missing, unreadable, truncated,
    /// corrupt (a checksum differs) or malformed.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint {
        /// The checkpoint folder (or file in it).
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// A checkpoint written by a different network (or time step) than the
    /// simulator restoring it.
    #[error("checkpoint {path} does not fit this network: {what} is {found} in the checkpoint but {expected} here")]
    CheckpointMismatch {
        /// The checkpoint folder.
        path: String,
        /// The variable or setting that differs.
        what: String,
        /// This simulator's.
        expected: String,
        /// The checkpoint's.
        found: String,
    },
    /// A cluster spec that does not parse or lacks the task asked for.
    #[error("{origin}: {problem}")]
    Cluster {
        /// The cluster file, or "cluster JSON" / "the cluster".
        origin: String,
        /// What is wrong.
        problem: String,
    },
    /// A session target (a cluster task's server) that cannot be reached.
    #[error("cannot reach {target}: {problem}")]
    Unreachable {
        /// The target, `grpc://host:port`.
        target: String,
        /// What happened (connection refused, timed out, bad address).
        problem: String,
    },
    /// A nucleus or variable asked of a recording that does not hold it.
    #[error("not recorded: {what}")]
    NotRecorded {
        /// What was asked for.
        what: String,
    },
}

fn equation_message(
    model: &str,
    item: &str,
    text: &str,
    pos: Option<usize>,
    problem: &str,
) -> String {
    match pos {
        Some(pos) => {
            let (line, col, at) = pointed(text, pos);
            format!(
                "model {model:?}, {item}{at}: {problem}\n    {line}\n    {}^",
                " ".repeat(col)
            )
        }
        None => format!("model {model:?}, {item}: {problem}\n    {text}"),
    }
}

fn caret(expr: &str, pos: usize, message: &str) -> String {
    let (line, col, at) = pointed(expr, pos);
    format!("syntax error{at}: {message}\n{line}\n{}^", " ".repeat(col))
}

/// The line of `text` holding byte `pos`, the column (in characters) of
/// `pos` in it, and, when `text` has several lines, ", line k" to name it:
/// a caret under a string of several statements points into its line.
fn pointed(text: &str, pos: usize) -> (&str, usize, String) {
    let pos = pos.min(text.len());
    let start = text
        .get(..pos)
        .and_then(|p| p.rfind('\n'))
        .map_or(0, |k| k + 1);
    let end = text[start..].find('\n').map_or(text.len(), |k| start + k);
    let col = text.get(start..pos).map_or(0, |p| p.chars().count());
    let at = match text.contains('\n') {
        true => format!(", line {}", text[..start].matches('\n').count() + 1),
        false => String::new(),
    };
    (&text[start..end], col, at)
}

#[cfg(test)]
mod tests {
    use super::{caret, equation_message};

    #[test]
    fn a_caret_points_into_the_line_of_a_statement_list() {
        let one = equation_message("m", "reset", "v = vr", Some(4), "unknown name");
        assert_eq!(
            one,
            "model \"m\", reset: unknown name\n    v = vr\n        ^"
        );
        let many = equation_message("m", "on_pre", "x += 1\nI += w", Some(7), "not a trace");
        assert_eq!(
            many,
            "model \"m\", on_pre, line 2: not a trace\n    I += w\n    ^"
        );
        assert_eq!(
            caret("a +\nb +* 2", 6, "x"),
            "syntax error, line 2: x\nb +* 2\n  ^"
        );
        assert_eq!(caret("v +* 2", 3, "x"), "syntax error: x\nv +* 2\n   ^");
    }
}

/// `Result` with [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Attach what snn was doing to a TensorFlow status.
#[cfg(feature = "network")]
pub(crate) trait TfContext<T> {
    fn tf(self, context: impl FnOnce() -> String) -> Result<T>;
}

#[cfg(feature = "network")]
impl<T> TfContext<T> for std::result::Result<T, tensorflow::Status> {
    fn tf(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|status| Error::TensorFlow {
            context: context(),
            message: status.to_string(),
        })
    }
}

/// Whether a failed file operation was reading or writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoAction {
    /// Opening, reading, listing, verifying.
    Reading,
    /// Creating, writing, renaming, removing, syncing.
    Writing,
}

impl std::fmt::Display for IoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IoAction::Reading => "reading",
            IoAction::Writing => "writing",
        })
    }
}

/// An error of any kind as an `std::io::Error`: itself if it is one, else
/// wrapped (so the original stays reachable as the source's inner error).
fn as_io(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> std::io::Error {
    let boxed: Box<dyn std::error::Error + Send + Sync> = e.into();
    match boxed.downcast::<std::io::Error>() {
        Ok(io) => *io,
        Err(other) => std::io::Error::other(other),
    }
}

/// A failure writing `path` (creating, writing, renaming, removing).
pub(crate) fn write_err(
    path: &std::path::Path,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Io {
        path: path.display().to_string(),
        action: IoAction::Writing,
        source: as_io(e),
    }
}

/// A failure reading `path` (opening, reading, listing).
#[cfg_attr(not(feature = "network"), allow(dead_code))]
pub(crate) fn read_err(
    path: &std::path::Path,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Io {
        path: path.display().to_string(),
        action: IoAction::Reading,
        source: as_io(e),
    }
}
