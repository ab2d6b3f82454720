//! Checkpoint and resume: a run saved in one process and resumed in another
//! gives exactly the spikes of an uninterrupted run (in-graph noise, delays,
//! exponential and alpha kernel traces, host input); a checkpointed run that
//! crashes resumes from its last checkpoint and loses no streamed spike;
//! corrupt, truncated and foreign checkpoints are refused.
//!
//! "Another process" is this test binary run again with `SNN_CKPT_CHILD`
//! set: its `child` test then does one job and exits.

mod common;

use std::path::Path;
use std::process::Command;

use common::{tempdir, to_array, Rng};
use snn::network::{
    Checkpointing, Connection, Input, Network, Nucleus, Propagation, Record, Recording, SimOptions,
    Simulator,
};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;
/// Per nucleus, `(step, neuron)` of every spike.
type Spikes = Vec<Vec<(usize, usize)>>;

const DT: f64 = 0.1;
const T_MS: f64 = 150.0;

/// Three nuclei exercising every kind of state: noise keyed by the step
/// counter, a host input function of t, delays, exponential and alpha
/// kernels (recursive traces), an arbitrary kernel (window over the ring),
/// event-driven and dense propagation.
fn network() -> snn::Result<Simulator> {
    network_dying_at(f64::INFINITY)
}

/// [`network`], whose process aborts (no unwinding, no cleanup: as if
/// killed) when its host input function is asked for time `die_at`.
fn network_dying_at(die_at: f64) -> snn::Result<Simulator> {
    let mut net = Network::new().named("checkpointed");
    let a = net.add(
        Nucleus::new("A", 30)
            .input(Input::noise(6.0, 3.0, 17))
            .record(Record::spikes()),
    )?;
    let b = net.add(
        Nucleus::new("B", 20)
            .abcd(0.1, 0.2, -65.0, 2.0)
            .input(Input::function(move |t, out| {
                if t >= die_at {
                    std::process::abort();
                }
                for (i, x) in out.iter_mut().enumerate() {
                    *x = 3.0 + 0.1 * i as f64 + (t / 10.0).sin();
                }
            }))
            .record(Record::spikes()),
    )?;
    let c = net.add(
        Nucleus::new("C", 10)
            .input(Input::noise(4.0, 1.0, 5))
            .record(Record::spikes()),
    )?;
    net.connect_with(Connection::new(a, b, to_array(&Rng(3).matrix(30, 20, 0.0, 4.0))).delay(1.5))?;
    net.connect_with(
        Connection::new(a, c, to_array(&Rng(4).matrix(30, 10, 0.0, 3.0)))
            .kernel(|t| 2.0 * (-t / 3.0).exp(), 8.0)
            .propagation(Propagation::Dense),
    )?;
    net.connect_with(
        Connection::new(b, a, to_array(&Rng(5).matrix(20, 30, -2.0, 0.5)))
            .delay(0.7)
            .kernel(|t| t * (-t / 2.0).exp(), 6.0),
    )?;
    net.connect_with(
        Connection::new(c, b, to_array(&Rng(6).matrix(10, 20, 0.0, 2.0)))
            .kernel(|t| if t < 1.0 { 1.0 } else { 0.3 }, 3.0),
    )?;
    net.build_with(DT, SimOptions::default().quiet().tensorboard(None))
}

fn spikes_of(rec: &Recording) -> Spikes {
    rec.nuclei.iter().map(|r| r.spikes.clone()).collect()
}

fn uninterrupted() -> Result<Spikes, Box<dyn std::error::Error>> {
    let rec = network()?.run(T_MS)?;
    let spikes = spikes_of(&rec);
    for (k, s) in spikes.iter().enumerate() {
        assert!(
            s.len() > 20,
            "nucleus {k} needs spikes for the test: {}",
            s.len()
        );
    }
    Ok(spikes)
}

/// Run this test binary's `child` test with `job` and wait for it.
fn in_child(job: &str, dir: &Path) -> Result<std::process::ExitStatus, Box<dyn std::error::Error>> {
    let status = Command::new(std::env::current_exe()?)
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SNN_CKPT_CHILD", job)
        .env("SNN_CKPT_DIR", dir)
        .stdout(std::process::Stdio::null())
        .status()?;
    Ok(status)
}

/// The other process's jobs (ignored in a normal test run; the tests above
/// run it with `--ignored` in a child process).
#[test]
#[ignore = "run as a separate process by the checkpoint tests"]
fn child() -> R {
    let job = std::env::var("SNN_CKPT_CHILD")?;
    let dir = std::path::PathBuf::from(std::env::var("SNN_CKPT_DIR")?);
    match job.as_str() {
        // Run 60 ms, write the spikes so far and a checkpoint.
        "save" => {
            let mut sim = network()?;
            let rec = sim.run(60.0)?;
            std::fs::write(dir.join("first.txt"), format!("{:?}", spikes_of(&rec)))?;
            sim.save_checkpoint(dir.join("at60"))?;
        }
        // A checkpointed run that dies at t = 97 ms, between checkpoints.
        "crash" => {
            let ck = Checkpointing::new(dir.join("run")).every_ms(20.0);
            network_dying_at(97.0)?.run_checkpointed(T_MS, &ck)?;
        }
        other => return Err(format!("unknown job {other}").into()),
    }
    Ok(())
}

#[test]
fn resuming_in_another_process_gives_the_uninterrupted_spikes() -> R {
    let dir = tempdir("ckpt-resume")?;
    let whole = uninterrupted()?;
    assert!(
        in_child("save", &dir)?.success(),
        "the saving process failed"
    );
    let first = std::fs::read_to_string(dir.join("first.txt"))?;

    let mut sim = network()?;
    sim.restore_checkpoint(dir.join("at60"))?;
    assert_eq!(sim.steps_done(), 600);
    let rest = sim.run(T_MS - 60.0)?;
    assert_eq!(rest.first_step, 600);
    for (k, whole_k) in whole.iter().enumerate() {
        let (before, after): (Vec<_>, Vec<(usize, usize)>) =
            whole_k.iter().partition(|s| s.0 < 600);
        assert_eq!(
            after, rest.nuclei[k].spikes,
            "nucleus {k}: spikes after the resume differ"
        );
        assert!(!before.is_empty());
    }
    let before: Spikes = whole
        .iter()
        .map(|s| s.iter().copied().filter(|s| s.0 < 600).collect())
        .collect();
    assert_eq!(
        first,
        format!("{before:?}"),
        "spikes before the checkpoint differ"
    );

    // A checkpoint restores the state it was taken at, also into a
    // simulator that has moved on.
    let mut sim = network()?;
    sim.run(10.0)?;
    sim.restore_checkpoint(dir.join("at60"))?;
    let again = sim.run(T_MS - 60.0)?;
    assert_eq!(spikes_of(&again), spikes_of(&rest));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn a_crashed_checkpointed_run_resumes_without_losing_spikes() -> R {
    let dir = tempdir("ckpt-crash")?;
    let whole = uninterrupted()?;
    let status = in_child("crash", &dir)?;
    assert!(!status.success(), "the child was meant to die");
    let ck = Checkpointing::new(dir.join("run")).every_ms(20.0);
    // Checkpoints were taken at 0, 20, .., 80 ms.
    let latest = ck.latest()?.ok_or("no checkpoint survived the crash")?;
    assert!(latest.ends_with("step-000000800"), "{}", latest.display());

    let mut sim = network()?;
    let rec = sim.run_checkpointed(T_MS, &ck)?;
    assert_eq!(
        rec.first_step, 800,
        "did not resume from the last checkpoint"
    );
    let streamed = sim.streamed_spikes(&ck)?;
    assert_eq!(streamed.steps, 1500);
    assert_eq!(spikes_of(&streamed), whole);
    // Nothing but the latest checkpoint is kept.
    let kept: Vec<_> = std::fs::read_dir(ck.dir())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    assert_eq!(kept, vec!["step-000001500".to_string()]);
    // Running again to the same end is a no-op that keeps the stream.
    let rec = network()?.run_checkpointed(T_MS, &ck)?;
    assert_eq!(rec.steps, 0);
    assert_eq!(spikes_of(&network()?.streamed_spikes(&ck)?), whole);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[test]
fn corrupt_truncated_and_foreign_checkpoints_are_refused() -> R {
    let dir = tempdir("ckpt-corrupt")?;
    let mut sim = network()?;
    sim.run(5.0)?;
    let ck = dir.join("ck");
    sim.save_checkpoint(&ck)?;
    let data = ck.join("state.data-00000-of-00001");
    let index = ck.join("state.index");
    let good_data = std::fs::read(&data)?;
    let good_index = std::fs::read(&index)?;

    let mut fresh = network()?;
    let mut flipped = good_data.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&data, &flipped)?;
    let err = fresh.restore_checkpoint(&ck).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert_eq!(
        fresh.steps_done(),
        0,
        "a refused checkpoint changed the simulator"
    );

    std::fs::write(&data, &good_data)?;
    std::fs::write(&index, &good_index[..good_index.len() - 7])?;
    let err = fresh.restore_checkpoint(&ck).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");

    std::fs::write(&index, &good_index)?;
    std::fs::remove_file(ck.join("checkpoint.json"))?;
    assert!(matches!(
        fresh.restore_checkpoint(&ck),
        Err(Error::Checkpoint { .. })
    ));
    assert!(matches!(
        fresh.restore_checkpoint(dir.join("no-such")),
        Err(Error::Checkpoint { .. })
    ));

    // Intact again: restores.
    sim.save_checkpoint(&ck)?;
    fresh.restore_checkpoint(&ck)?;
    assert_eq!(fresh.steps_done(), 50);

    // A different network: the first differing variable is named.
    let mut net = Network::new().named("checkpointed");
    net.add(Nucleus::new("A", 31))?;
    let mut other = net.build_with(DT, SimOptions::default().quiet().tensorboard(None))?;
    let err = other.restore_checkpoint(&ck).unwrap_err();
    assert!(matches!(err, Error::CheckpointMismatch { .. }), "{err}");
    assert!(err.to_string().contains("A/v"), "{err}");

    // A checkpoint interval that is no interval.
    for bad in [0.0, -5.0, f64::NAN] {
        let ck = Checkpointing::new(dir.join("never")).every_ms(bad);
        let err = network()?.run_checkpointed(10.0, &ck).unwrap_err();
        assert!(err.to_string().contains("checkpoint interval"), "{err}");
    }
    assert!(!dir.join("never").exists(), "a refused run wrote files");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `run(t)` and `run_checkpointed(until)` turn milliseconds into steps the
/// same way, `floor(t/dt)` (docs/design.md, "Time arguments"): `run` counts
/// from the current step, `run_checkpointed` from step 0 (so a program
/// started again after a crash asks for the same end); both refuse a time
/// shorter than one step.
#[test]
fn run_and_run_checkpointed_read_their_time_alike() -> R {
    let dir = tempdir("ckpt-time")?;
    let quiet = || SimOptions::default().quiet().tensorboard(None);
    let one = || -> snn::Result<Simulator> {
        let mut net = Network::new().named("time");
        net.add(Nucleus::new("A", 4).input(10.0))?;
        net.build_with(DT, quiet())
    };
    // 10.05 ms at dt = 0.1 ms: 100 steps (not 101) either way.
    let mut a = one()?;
    assert_eq!(a.run(10.05)?.steps, 100);
    let mut b = one()?;
    let ck = Checkpointing::new(dir.join("b")).every_ms(3.0);
    assert_eq!(b.run_checkpointed(10.05, &ck)?.steps, 100);
    assert_eq!(b.steps_done(), 100);
    // After 5 ms of `run`, "until 10.05 ms" is 50 more steps.
    let mut c = one()?;
    c.run(5.0)?;
    let ck = Checkpointing::new(dir.join("c")).every_ms(3.0);
    assert_eq!(c.run_checkpointed(10.05, &ck)?.steps, 50);
    assert_eq!(c.steps_done(), 100);
    // Less than one step: the same typed error.
    let ck = Checkpointing::new(dir.join("d"));
    assert!(matches!(
        one()?.run(0.05),
        Err(Error::InvalidDuration { .. })
    ));
    assert!(matches!(
        one()?.run_checkpointed(0.05, &ck),
        Err(Error::InvalidDuration { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A checkpoint written before the graph's names followed the model (the
/// connections' variables then lived in `X->Y/`, `X->Y_1/`, the time step
/// in `dt`; `tests/fixtures/checkpoint-before-graph-names`, written by the
/// code of that time for the network below) restores into today's graph,
/// and the run goes on exactly as an uninterrupted one.
#[test]
fn a_checkpoint_from_before_the_graph_names_moved_restores() -> R {
    let build = || -> snn::Result<Simulator> {
        let mut net = Network::new().named("legacy");
        let a = net.add(Nucleus::new("A", 4).input(vec![9.0, 10.0, 11.0, 12.0]))?;
        let b = net.add(Nucleus::new("B", 3).abcd(0.1, 0.2, -65.0, 2.0).input(4.0))?;
        let w =
            ndarray::Array2::from_shape_fn((4, 3), |(i, j)| 1.0 + 0.5 * i as f64 + 0.25 * j as f64);
        net.connect_with(
            Connection::new(a, b, w)
                .delay(1.0)
                .kernel(|t| (-t / 5.0).exp(), 10.0),
        )?;
        net.connect_with(Connection::new(a, b, 2.0).delay(0.5))?;
        net.connect_with(Connection::new(b, a, -1.0))?;
        net.build_with(DT, SimOptions::default().quiet().tensorboard(None))
    };
    let whole = spikes_of(&build()?.run(80.0)?);
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoint-before-graph-names");
    let names = std::fs::read_to_string(fixture.join("checkpoint.json"))?;
    assert!(names.contains("\"A->B_1/weights\"") && names.contains("\"dt\""));
    let mut sim = build()?;
    sim.restore_checkpoint(&fixture)?;
    assert_eq!(sim.steps_done(), 200);
    let rest = sim.run(60.0)?;
    for (k, whole_k) in whole.iter().enumerate() {
        let (before, after): (Vec<_>, Vec<(usize, usize)>) =
            whole_k.iter().partition(|s| s.0 < 200);
        assert!(
            !before.is_empty() && !after.is_empty(),
            "nucleus {k}: {whole_k:?}"
        );
        assert_eq!(after, rest.nuclei[k].spikes, "nucleus {k}");
    }
    Ok(())
}

/// A checkpoint's files damaged every way a disk or a hand can (truncated
/// at any length, bytes overwritten, emptied, deleted; the manifest's
/// numbers changed): restoring gives `Error::Checkpoint` or
/// `Error::CheckpointMismatch` and leaves the simulator as it was, or
/// restores (a change TensorFlow's checksums do not cover, such as a
/// manifest field it does not read); never a panic, an abort or
/// TensorFlow's own error.
#[test]
fn damaged_checkpoints_are_refused_without_harm() -> R {
    let dir = tempdir("ckpt-damage")?;
    let mut sim = network()?;
    sim.run(5.0)?;
    let ck = dir.join("ck");
    sim.save_checkpoint(&ck)?;
    let (files, originals) = common::files_of(&ck)?;
    let mut fresh = network()?;
    let before = fresh.run(1.0)?;
    let mut draws = common::draws::Draws(0x5EED);
    let mut pick = |n: usize| draws.below(n);
    let mut refused = 0;
    for case in 0..300 {
        let k = pick(files.len());
        let mut bytes = originals[k].clone();
        match pick(5) {
            0 => bytes.truncate(pick(bytes.len() + 1)),
            1 => {
                for _ in 0..1 + pick(3) {
                    let at = pick(bytes.len());
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << pick(8);
                    }
                }
            }
            2 => {
                let text = String::from_utf8_lossy(&bytes)
                    .replace("50", ["-1", "99999999999999999999", "0", "5e9"][pick(4)]);
                bytes = text.into_bytes();
            }
            3 => bytes.clear(),
            _ => {}
        }
        if bytes.is_empty() && pick(2) == 0 {
            std::fs::remove_file(&files[k])?;
        } else {
            std::fs::write(&files[k], &bytes)?;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fresh.restore_checkpoint(&ck)
        }));
        std::fs::write(&files[k], &originals[k])?;
        match result {
            Err(_) => panic!(
                "case {case}: restoring with {:?} damaged panicked",
                files[k]
            ),
            Ok(Err(Error::Checkpoint { .. } | Error::CheckpointMismatch { .. })) => {
                refused += 1;
                // Refused: the simulator is where it was.
                assert_eq!(fresh.steps_done(), 10, "case {case}");
            }
            Ok(Err(other)) => panic!("case {case}: {:?} damaged: {other}", files[k]),
            Ok(Ok(())) => {
                // Restored: then it is the checkpoint's state; back to 10.
                assert_eq!(fresh.steps_done(), 50, "case {case}");
                fresh = network()?;
                assert_eq!(fresh.run(1.0)?.nuclei[0].spikes, before.nuclei[0].spikes);
            }
        }
    }
    assert!(refused > 150, "refused {refused} of 300");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
