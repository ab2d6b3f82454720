//! TensorBoard event files, written by TensorFlow's own summary ops
//! (`CreateSummaryFileWriter`, `WriteGraphSummary`, `WriteScalarSummary`,
//! `WriteHistogramSummary`, `FlushSummaryWriter`) in a small graph and session of their own, so the
//! model's graph holds only the model.

use std::path::{Path, PathBuf};

use tensorflow::{
    ops, DataType, Operation, Scope, Session, SessionOptions, SessionRunArgs, Tensor,
};

use crate::error::{write_err, Result, TfContext};

/// Writes one run's events into `dir`.
pub(crate) struct EventWriter {
    session: Session,
    dir: PathBuf,
    step_ph: Operation,
    tag_ph: Operation,
    value_ph: Operation,
    values_ph: Operation,
    path_ph: Operation,
    write_scalar: Operation,
    write_histogram: Operation,
    write_graph: Operation,
    flush: Operation,
    _scope: Scope,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl EventWriter {
    /// A writer into `dir`; earlier `events.out.tfevents.*` files there are
    /// removed (one run per folder, so TensorBoard shows one graph).
    pub(crate) fn new(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("events.out.tfevents.")
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let ctx = || "creating the TensorBoard writer".to_string();
        let s = Scope::new_root_scope();
        let writer = ops::SummaryWriter::new()
            .shared_name("snn_events")
            .build(&mut s.with_op_name("writer"))
            .tf(ctx)?;
        let logdir = ops::constant(
            dir.to_string_lossy().to_string(),
            &mut s.with_op_name("logdir"),
        )
        .tf(ctx)?;
        let max_queue = ops::constant(10i32, &mut s.with_op_name("max_queue")).tf(ctx)?;
        let flush_ms = ops::constant(120_000i32, &mut s.with_op_name("flush_millis")).tf(ctx)?;
        let suffix = ops::constant(".snn".to_string(), &mut s.with_op_name("suffix")).tf(ctx)?;
        let create = ops::create_summary_file_writer(
            writer.clone(),
            logdir,
            max_queue,
            flush_ms,
            suffix,
            &mut s.with_op_name("create"),
        )
        .tf(ctx)?;
        let step_ph = ops::Placeholder::new()
            .dtype(DataType::Int64)
            .build(&mut s.with_op_name("step"))
            .tf(ctx)?;
        let tag_ph = ops::Placeholder::new()
            .dtype(DataType::String)
            .build(&mut s.with_op_name("tag"))
            .tf(ctx)?;
        let value_ph = ops::Placeholder::new()
            .dtype(DataType::Float)
            .build(&mut s.with_op_name("value"))
            .tf(ctx)?;
        let values_ph = ops::Placeholder::new()
            .dtype(DataType::Float)
            .build(&mut s.with_op_name("values"))
            .tf(ctx)?;
        let write_histogram = ops::write_histogram_summary(
            writer.clone(),
            step_ph.clone(),
            tag_ph.clone(),
            values_ph.clone(),
            &mut s.with_op_name("histogram"),
        )
        .tf(ctx)?;
        let path_ph = ops::Placeholder::new()
            .dtype(DataType::String)
            .build(&mut s.with_op_name("graph_path"))
            .tf(ctx)?;
        let write_scalar = ops::write_scalar_summary(
            writer.clone(),
            step_ph.clone(),
            tag_ph.clone(),
            value_ph.clone(),
            &mut s.with_op_name("scalar"),
        )
        .tf(ctx)?;
        // The serialized GraphDef is binary; it travels through a file and
        // TensorFlow's ReadFile, since string tensors from Rust must be UTF-8.
        let contents =
            ops::read_file(path_ph.clone(), &mut s.with_op_name("graph_bytes")).tf(ctx)?;
        let write_graph = ops::write_graph_summary(
            writer.clone(),
            step_ph.clone(),
            contents,
            &mut s.with_op_name("graph"),
        )
        .tf(ctx)?;
        let flush = ops::flush_summary_writer(writer, &mut s.with_op_name("flush")).tf(ctx)?;
        let session = Session::new(&SessionOptions::new(), &s.graph()).tf(ctx)?;
        let mut args = SessionRunArgs::new();
        args.add_target(&create);
        session.run(&mut args).tf(ctx)?;
        Ok(EventWriter {
            session,
            dir: dir.to_path_buf(),
            step_ph,
            tag_ph,
            value_ph,
            values_ph,
            path_ph,
            write_scalar,
            write_histogram,
            write_graph,
            flush,
            _scope: s,
        })
    }

    /// Write the model's serialized GraphDef as the run's graph.
    pub(crate) fn graph(&self, graph_def: &[u8]) -> Result<()> {
        let tmp = self.dir.join(".graph_def.pb");
        std::fs::write(&tmp, graph_def).map_err(|e| write_err(&tmp, e))?;
        let path = Tensor::from(tmp.to_string_lossy().to_string());
        let step = Tensor::from(0i64);
        let mut args = SessionRunArgs::new();
        args.add_feed(&self.path_ph, 0, &path);
        args.add_feed(&self.step_ph, 0, &step);
        args.add_target(&self.write_graph);
        let r = self
            .session
            .run(&mut args)
            .tf(|| "writing the graph to TensorBoard".into());
        let _ = std::fs::remove_file(&tmp);
        r
    }

    /// One scalar at `step`.
    pub(crate) fn scalar(&self, tag: &str, step: i64, value: f32) -> Result<()> {
        let tag_t = Tensor::from(tag.to_string());
        let step_t = Tensor::from(step);
        let value_t = Tensor::from(value);
        let mut args = SessionRunArgs::new();
        args.add_feed(&self.tag_ph, 0, &tag_t);
        args.add_feed(&self.step_ph, 0, &step_t);
        args.add_feed(&self.value_ph, 0, &value_t);
        args.add_target(&self.write_scalar);
        self.session
            .run(&mut args)
            .tf(|| format!("writing scalar {tag} to TensorBoard"))
    }

    /// A histogram of `values` at `step`.
    pub(crate) fn histogram(&self, tag: &str, step: i64, values: &[f32]) -> Result<()> {
        let tag_t = Tensor::from(tag.to_string());
        let step_t = Tensor::from(step);
        let values_t = Tensor::new(&[values.len() as u64])
            .with_values(values)
            .tf(|| format!("writing histogram {tag} to TensorBoard"))?;
        let mut args = SessionRunArgs::new();
        args.add_feed(&self.tag_ph, 0, &tag_t);
        args.add_feed(&self.step_ph, 0, &step_t);
        args.add_feed(&self.values_ph, 0, &values_t);
        args.add_target(&self.write_histogram);
        self.session
            .run(&mut args)
            .tf(|| format!("writing histogram {tag} to TensorBoard"))
    }

    pub(crate) fn flush(&self) -> Result<()> {
        let mut args = SessionRunArgs::new();
        args.add_target(&self.flush);
        self.session
            .run(&mut args)
            .tf(|| "flushing the TensorBoard writer".into())
    }
}
