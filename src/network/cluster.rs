//! TensorFlow's distributed runtime: cluster specs and TensorFlow's own gRPC
//! servers, started in-process through the C API's `TF_NewServer`.
//!
//! A cluster is named jobs of tasks, each task a `host:port`, as in
//! TensorFlow's `TF_CONFIG`:
//!
//! ```json
//! {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}
//! ```
//!
//! Every machine runs one server per task it hosts ([`Server::start`], or
//! `cargo run --example worker -- --cluster cluster.json --task K`); the
//! simulating program places nuclei on tasks with
//! [`Nucleus::device`](crate::network::Nucleus::device) and
//! [`ClusterSpec::device`], and targets any task's server as its master with
//! [`SimOptions::target`](crate::network::SimOptions::target).

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::network::proto::{bytes_field, varint_field};
use crate::network::tf_status::Status;

/// Jobs of a TensorFlow cluster and the `host:port` of each of their tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterSpec {
    jobs: BTreeMap<String, Vec<String>>,
}

fn cluster_err(source: &str, problem: impl Into<String>) -> Error {
    Error::Cluster {
        origin: source.into(),
        problem: problem.into(),
    }
}

impl ClusterSpec {
    /// An empty cluster.
    pub fn new() -> ClusterSpec {
        ClusterSpec::default()
    }

    /// Add (or replace) job `name` with tasks at these `host:port` addresses
    /// (task `k` is `addresses[k]`).
    pub fn job(mut self, name: &str, addresses: &[&str]) -> Result<ClusterSpec> {
        check_job_name(name, "the cluster")?;
        if addresses.is_empty() {
            return Err(cluster_err(
                "the cluster",
                format!("job {name:?} has no tasks"),
            ));
        }
        for a in addresses {
            check_address(a, name, "the cluster")?;
        }
        self.jobs.insert(
            name.into(),
            addresses.iter().map(|a| a.to_string()).collect(),
        );
        Ok(self)
    }

    /// Parse JSON: `{"worker": ["host:port", ...], ...}`, or a whole
    /// `TF_CONFIG` with that object under `"cluster"`.
    pub fn from_json(text: &str) -> Result<ClusterSpec> {
        Self::parse(text, "cluster JSON")
    }

    /// Read a cluster file (see [`from_json`](Self::from_json)).
    pub fn from_file(path: impl AsRef<Path>) -> Result<ClusterSpec> {
        let path = path.as_ref();
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| cluster_err(&source, format!("cannot read: {e}")))?;
        Self::parse(&text, &source)
    }

    fn parse(text: &str, source: &str) -> Result<ClusterSpec> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| cluster_err(source, format!("not valid JSON: {e}")))?;
        let value = match value.get("cluster") {
            Some(inner) => inner.clone(),
            None => value,
        };
        let Value::Object(jobs) = value else {
            return Err(cluster_err(
                source,
                "expected an object of jobs, like {\"worker\": [\"host:port\", ...]}",
            ));
        };
        let mut spec = ClusterSpec::new();
        for (name, tasks) in jobs {
            check_job_name(&name, source)?;
            let Value::Array(tasks) = tasks else {
                return Err(cluster_err(
                    source,
                    format!("job {name:?}: expected a list of \"host:port\" strings"),
                ));
            };
            let mut addresses = Vec::with_capacity(tasks.len());
            for (k, t) in tasks.iter().enumerate() {
                let Some(a) = t.as_str() else {
                    return Err(cluster_err(
                        source,
                        format!("job {name:?}, task {k}: {t} is not a \"host:port\" string"),
                    ));
                };
                check_address(a, &name, source)?;
                addresses.push(a.to_string());
            }
            if addresses.is_empty() {
                return Err(cluster_err(source, format!("job {name:?} has no tasks")));
            }
            spec.jobs.insert(name, addresses);
        }
        if spec.jobs.is_empty() {
            return Err(cluster_err(source, "no jobs"));
        }
        Ok(spec)
    }

    /// The `host:port` of a task.
    pub fn address(&self, job: &str, task: usize) -> Result<&str> {
        let tasks = self
            .jobs
            .get(job)
            .ok_or_else(|| cluster_err("the cluster", format!("has no job {job:?}")))?;
        tasks.get(task).map(|s| s.as_str()).ok_or_else(|| {
            cluster_err(
                "the cluster",
                format!("job {job:?} has {} tasks, no task {task}", tasks.len()),
            )
        })
    }

    /// `grpc://host:port` of a task, for [`SimOptions::target`](crate::network::SimOptions::target).
    pub fn target(&self, job: &str, task: usize) -> Result<String> {
        Ok(format!("grpc://{}", self.address(job, task)?))
    }

    /// The device name of a task's CPU, for
    /// [`Nucleus::device`](crate::network::Nucleus::device):
    /// `/job:worker/task:1/device:CPU:0`.
    pub fn device(&self, job: &str, task: usize) -> Result<String> {
        self.address(job, task)?;
        Ok(format!("/job:{job}/task:{task}/device:CPU:0"))
    }

    /// The jobs and their task addresses.
    pub fn jobs(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.jobs.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// `ServerDef` proto (tensorflow/core/protobuf/tensorflow_server.proto)
    /// for task `task` of `job`: cluster (1), job_name (2), task_index (3),
    /// protocol (5) = "grpc".
    fn server_def(&self, job: &str, task: usize) -> Vec<u8> {
        let mut cluster = Vec::new();
        for (name, tasks) in &self.jobs {
            let mut jd = Vec::new();
            bytes_field(&mut jd, 1, name.as_bytes());
            for (k, addr) in tasks.iter().enumerate() {
                let mut entry = Vec::new();
                varint_field(&mut entry, 1, k as u64);
                bytes_field(&mut entry, 2, addr.as_bytes());
                bytes_field(&mut jd, 2, &entry);
            }
            bytes_field(&mut cluster, 1, &jd);
        }
        let mut out = Vec::new();
        bytes_field(&mut out, 1, &cluster);
        bytes_field(&mut out, 2, job.as_bytes());
        varint_field(&mut out, 3, task as u64);
        bytes_field(&mut out, 5, b"grpc");
        out
    }
}

fn check_job_name(name: &str, source: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(cluster_err(
            source,
            format!("job name {name:?}: use letters, digits, '_' or '-'"),
        ))
    }
}

fn check_address(a: &str, job: &str, source: &str) -> Result<()> {
    let port = a.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>()));
    match port {
        Some((host, Ok(p))) if !host.is_empty() && p > 0 && !a.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(cluster_err(
            source,
            format!("job {job:?}: {a:?} is not a host:port address"),
        )),
    }
}

/// One of TensorFlow's own gRPC servers (a task of a cluster), running in
/// this process until the process ends.
///
/// TensorFlow cannot stop a gRPC server ("Clean shutdown is not currently
/// implemented": deleting one aborts the process), so dropping a `Server`
/// leaves it serving; to stop a worker, end its process. Run workers as
/// their own processes (the `worker` example) where that matters.
#[derive(Debug)]
pub struct Server {
    inner: *mut tensorflow_sys::TF_Server,
    target: String,
    job: String,
    task: usize,
}

// SAFETY: TensorFlow's server object is thread-safe (its methods lock).
unsafe impl Send for Server {}
unsafe impl Sync for Server {}

impl Server {
    /// Start the server of task `task` of `job` in `cluster`; it listens on
    /// that task's port.
    pub fn start(cluster: &ClusterSpec, job: &str, task: usize) -> Result<Server> {
        crate::runtime::quiet_tensorflow();
        let addr = cluster.address(job, task)?.to_string();
        let def = cluster.server_def(job, task);
        let status = Status::new();
        // SAFETY: `def` is a valid buffer for the call; status is live.
        let inner =
            unsafe { tensorflow_sys::TF_NewServer(def.as_ptr().cast(), def.len(), status.0) };
        status.check(|| format!("creating the server of /job:{job}/task:{task} at {addr}"))?;
        if inner.is_null() {
            return Err(Error::TensorFlow {
                context: format!("creating the server of /job:{job}/task:{task}"),
                message: "TF_NewServer returned nothing".into(),
            });
        }
        let mut server = Server {
            inner,
            target: String::new(),
            job: job.into(),
            task,
        };
        // SAFETY: live server, live status.
        unsafe { tensorflow_sys::TF_ServerStart(server.inner, status.0) };
        status.check(|| format!("starting the server of /job:{job}/task:{task} at {addr}"))?;
        // SAFETY: TF_ServerTarget returns a NUL-terminated string owned by the server.
        server.target = unsafe { CStr::from_ptr(tensorflow_sys::TF_ServerTarget(server.inner)) }
            .to_string_lossy()
            .into_owned();
        Ok(server)
    }

    /// Its own target, `grpc://localhost:port`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The task it serves, `/job:<job>/task:<k>`.
    pub fn task_name(&self) -> String {
        format!("/job:{}/task:{}", self.job, self.task)
    }

    /// Block until the server stops (in practice, until the process is
    /// killed: a worker's main loop).
    pub fn join(&self) -> Result<()> {
        let status = Status::new();
        // SAFETY: live server, live status.
        unsafe { tensorflow_sys::TF_ServerJoin(self.inner, status.0) };
        status.check(|| format!("joining {}", self.task_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_files_parse_or_say_what_is_wrong() -> Result<()> {
        let c = ClusterSpec::from_json(r#"{"worker": ["a:1", "b:2"], "ps": ["c:3"]}"#)?;
        assert_eq!(c.address("worker", 1)?, "b:2");
        assert_eq!(c.target("ps", 0)?, "grpc://c:3");
        assert_eq!(c.device("worker", 1)?, "/job:worker/task:1/device:CPU:0");
        let tf_config = ClusterSpec::from_json(
            r#"{"cluster": {"worker": ["a:1", "b:2"], "ps": ["c:3"]}, "task": {"type": "worker", "index": 0}}"#,
        )?;
        assert_eq!(tf_config, c);
        for (bad, says) in [
            ("{\"worker\": [\"a:1\",", "not valid JSON"),
            ("[1, 2]", "object of jobs"),
            ("{\"worker\": \"a:1\"}", "list of"),
            ("{\"worker\": [\"a\"]}", "host:port"),
            ("{\"worker\": [\"a:99999\"]}", "host:port"),
            ("{\"worker\": [3]}", "task 0"),
            ("{\"worker\": []}", "no tasks"),
            ("{}", "no jobs"),
            ("{\"w/x\": [\"a:1\"]}", "job name"),
        ] {
            let err = ClusterSpec::from_json(bad).unwrap_err();
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
        assert!(c.address("worker", 2).is_err());
        assert!(c.address("chief", 0).is_err());
        Ok(())
    }

    #[test]
    fn server_def_is_the_proto_encoding() {
        let c = ClusterSpec::new().job("w", &["h:7"]).unwrap();
        // ServerDef{cluster{job{name:"w", tasks{0:"h:7"}}}, job_name:"w", task_index:0, protocol:"grpc"}
        let entry = [0x08, 0x00, 0x12, 0x03, b'h', b':', b'7'];
        let mut job = vec![0x0a, 0x01, b'w', 0x12, entry.len() as u8];
        job.extend_from_slice(&entry);
        let mut cluster = vec![0x0a, job.len() as u8];
        cluster.extend_from_slice(&job);
        let mut want = vec![0x0a, cluster.len() as u8];
        want.extend_from_slice(&cluster);
        want.extend_from_slice(&[
            0x12, 0x01, b'w', 0x18, 0x00, 0x2a, 0x04, b'g', b'r', b'p', b'c',
        ]);
        assert_eq!(c.server_def("w", 0), want);
    }
}
