//! Nothing a user asks for kills the process: recordings over the memory
//! limit are refused before they are allocated (or stream to disk, where
//! they equal an in-memory run), oversized spike rings and kernel windows
//! are refused before TensorFlow allocates them, a diverging nucleus stops
//! the run with the culprit named, a checkpointed run streams its traces.

mod common;

use common::{tempdir, to_array, Rng};
use snn::network::{
    Checkpointing, Connection, Input, Network, Nucleus, NucleusId, Record, Recording, SimOptions,
    Simulator, StateVar, WeightValue, Weights,
};
use snn::Error;

type R = Result<(), Box<dyn std::error::Error>>;

const DT: f64 = 0.1;

fn options() -> SimOptions {
    SimOptions::default().quiet().tensorboard(None)
}

/// Two noisy nuclei, every variable of A recorded, some of B every third
/// step, a delayed and a kernel connection, and compressed rows from A to
/// A; the weights of the delayed and the compressed ones recorded.
fn network(options: SimOptions) -> snn::Result<(Simulator, NucleusId, NucleusId)> {
    let mut net = Network::new().named("reliability");
    let a = net.add(
        Nucleus::new("A", 40)
            .input(Input::noise(6.0, 3.0, 11))
            .record(Record::everything()),
    )?;
    let b = net.add(
        Nucleus::new("B", 25)
            .input(Input::noise(5.0, 2.0, 12))
            .record(Record::traces(&[0, 7, 24]).every(3)),
    )?;
    net.connect_with(
        Connection::new(a, b, to_array(&Rng(1).matrix(40, 25, 0.0, 3.0)))
            .delay(1.2)
            .record_weights(10.0),
    )?;
    net.connect_with(
        Connection::new(
            a,
            a,
            Weights::fixed_in_degree(5, WeightValue::Uniform(0.0, 1.0), 3),
        )
        .record_weights(10.0),
    )?;
    net.connect_with(
        Connection::new(b, a, to_array(&Rng(2).matrix(25, 40, -2.0, 1.0)))
            .kernel(|t| (-t / 2.0).exp(), 4.0),
    )?;
    Ok((net.build_with(DT, options)?, a, b))
}

/// The bytes the in-memory traces of `steps` steps of [`network`] take:
/// A records 3 variables x 40 neurons every step, B 3 x 3 every 3rd; each
/// row also has its f64 time.
fn trace_bytes(steps: u64) -> u64 {
    let a = steps * 3 * (8 + 4 * 40);
    let b = steps.div_ceil(3) * 3 * (8 + 4 * 3);
    a + b
}

#[test]
fn a_recording_over_the_limit_is_refused_before_the_run() -> R {
    let steps = 1000;
    let limit = trace_bytes(steps) - 1;
    let (mut sim, _, _) = network(options().memory_limit(limit))?;
    assert_eq!(sim.recording_bytes(steps as f64 * DT)?, trace_bytes(steps));
    match sim.run(steps as f64 * DT) {
        Err(Error::MemoryLimit {
            what,
            bytes,
            limit: l,
            ways_out,
        }) => {
            assert_eq!(bytes, trace_bytes(steps), "{what}");
            assert_eq!(l, limit);
            assert!(what.contains("\"A\""), "names the largest nucleus: {what}");
            assert!(ways_out.contains("stream"), "{ways_out}");
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    // Nothing ran.
    assert_eq!(sim.steps_done(), 0);
    // With room for the traces and 10 000 spikes it runs.
    let (mut sim, _, _) = network(options().memory_limit(trace_bytes(steps) + 16 * 10_000))?;
    let rec = sim.run(steps as f64 * DT)?;
    assert_eq!(rec.steps, steps as usize);
    Ok(())
}

#[test]
fn spikes_growing_past_the_limit_stop_the_run_and_keep_what_was_recorded() -> R {
    let mut net = Network::new().named("spiky");
    let a = net.add(Nucleus::new("A", 50).input(20.0).record(Record::spikes()))?;
    let _ = a;
    // 50 neurons at 20 mA fire every few ms: 16 bytes a spike; a limit of
    // 200 spikes is passed well within 100 ms.
    let mut sim = net.build_with(DT, options().memory_limit(16 * 200))?;
    match sim.run(100.0) {
        Err(Error::RunInterrupted {
            step,
            recorded_steps,
            reason,
            recording,
        }) => {
            assert!(matches!(*reason, Error::MemoryLimit { .. }), "{reason}");
            assert_eq!(step, recorded_steps);
            assert!(step < 1000);
            assert_eq!(recording.steps, recorded_steps);
            let spikes = recording.nuclei[0].spikes.len();
            assert!(spikes > 200, "the spikes recorded are kept: {spikes}");
            assert_eq!(recording.nuclei[0].spike_count, spikes as u64);
        }
        other => panic!("expected RunInterrupted, got {other:?}"),
    }
    Ok(())
}

fn assert_same(streamed: &Recording, memory: &Recording) {
    assert_eq!(streamed.steps, memory.steps);
    assert_eq!(streamed.first_step, memory.first_step);
    assert_eq!(streamed.dt, memory.dt);
    for (s, m) in streamed.nuclei.iter().zip(&memory.nuclei) {
        assert_eq!(s.label, m.label);
        assert_eq!(s.spike_count, m.spike_count, "{}", s.label);
        assert_eq!(s.spikes, m.spikes, "{}", s.label);
        assert_eq!(s.traces, m.traces, "{}", s.label);
    }
    assert!(
        streamed.weights == memory.weights,
        "weight snapshots differ"
    );
}

/// A run whose in-memory recording would exceed the limit streams to disk
/// instead, in two runs that append; the files hold exactly what an
/// in-memory run records, as our reader and as NumPy's `.npy` layout says.
#[test]
fn a_streamed_run_equals_an_in_memory_run() -> R {
    let dir = tempdir("stream")?;
    // Room for the model's tensors (spike rings, weights), not for the
    // recording of 1050 steps.
    let small = trace_bytes(100);
    let (mut streamed, a, _) = network(options().memory_limit(small).stream_to(&dir))?;
    let first = streamed.run(60.0)?;
    let second = streamed.run(45.0)?;
    // The returned recordings keep counts, not lists.
    assert!(
        first.nuclei[0].spikes.is_empty()
            && first.nuclei[0].traces.values().all(|t| t.times.is_empty())
            && first.weights.iter().all(|w| w.values.is_empty())
    );
    assert_eq!(first.steps + second.steps, 1050);

    let (mut memory, a_memory, _) = network(options())?;
    let mut whole = memory.run(60.0)?;
    whole.append(memory.run(45.0)?)?;
    assert!(whole.nuclei[0].spike_count > 0, "the network fires");
    let back = Recording::read_streamed(&dir)?;
    assert_same(&back, &whole);
    // The recording read back answers the streamed network's handles.
    assert_eq!(back.firing_rate(a)?, whole.firing_rate(a_memory)?);
    assert_eq!(
        first.nuclei[0].spike_count + second.nuclei[0].spike_count,
        whole.nuclei[0].spike_count
    );

    // The files are NumPy's: the header says the shape of what follows.
    let v = std::fs::read(dir.join("A_v.npy"))?;
    let head = String::from_utf8_lossy(&v[..128]).into_owned();
    assert!(
        head.starts_with("\u{93}NUMPY") || v.starts_with(b"\x93NUMPY"),
        "{head}"
    );
    assert!(
        head.contains("'descr': '<f4'") && head.contains("'shape': (1050, 40)"),
        "{head}"
    );
    assert_eq!(v.len(), 128 + 1050 * 40 * 4);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A checkpointed run streams its traces into `traces/` and resumes them
/// with the state: a run stopped half way and resumed by a new simulator
/// reads back the traces of one uninterrupted in-memory run.
#[test]
fn a_checkpointed_run_streams_and_resumes_its_traces() -> R {
    let dir = tempdir("ckpt-traces")?;
    let ck = Checkpointing::new(dir.join("run")).every_ms(20.0);
    let (mut first, _, _) = network(options())?;
    let part = first.run_checkpointed(50.0, &ck)?;
    assert!(
        part.nuclei[0].traces.values().all(|t| t.times.is_empty())
            && part.weights.iter().all(|w| w.times_ms.is_empty()),
        "traces and weights stay on disk"
    );
    drop(first);
    let (mut second, _, _) = network(options())?;
    second.run_checkpointed(120.0, &ck)?;
    let streamed = second.streamed_spikes(&ck)?;

    let (mut memory, _, _) = network(options())?;
    let whole = memory.run(120.0)?;
    assert_same(&streamed, &whole);
    assert_eq!(streamed.nuclei[0].traces["v"].times.len(), 1200);
    assert_eq!(streamed.weights[1].times_ms.len(), 12);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A delay of 10^7 ms is 10^8 steps of spike ring: refused by name before
/// TensorFlow is asked for it. So is a kernel window as long.
#[test]
fn oversized_rings_and_windows_are_refused_by_name() -> R {
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 1000))?;
    let b = net.add(Nucleus::new("B", 10))?;
    net.connect_with(Connection::new(a, b, 1.0).delay(1e7))?;
    match net.build_with(DT, options()) {
        Err(Error::MemoryLimit { what, bytes, .. }) => {
            assert!(
                what.contains("A->B") && what.contains("100000001 steps"),
                "{what}"
            );
            // f32, held twice while the ring's initial value is assigned.
            assert_eq!(bytes, 100_000_001 * 1000 * 4 * 2);
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 10))?;
    net.connect_with(Connection::new(a, a, 1.0).kernel(|t| (-t).exp(), 1e12))?;
    match net.build_with(DT, options().memory_limit(1 << 30)) {
        Err(Error::MemoryLimit { what, .. }) => {
            assert!(
                what.contains("kernel window") && what.contains("A->A"),
                "{what}"
            );
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    let mut net = Network::new();
    let a = net.add(Nucleus::new("A", 100_000))?;
    let b = net.add(Nucleus::new("B", 100_000))?;
    net.connect(a, b, 0.5)?;
    match net.build_with(DT, options().memory_limit(1 << 30)) {
        Err(Error::MemoryLimit { what, bytes, .. }) => {
            assert!(
                what.contains("dense weights") && what.contains("A->B"),
                "{what}"
            );
            assert_eq!(bytes, 100_000 * 100_000 * 4);
        }
        other => panic!("expected MemoryLimit, got {other:?}"),
    }
    Ok(())
}

/// Neuron 3 of A gets an input of 3e38 and excites itself with weight 3e38:
/// at step 1 it spikes and its I becomes 3e38 + 3e38 = inf; at step 2 its
/// v and u become inf; at step 3, v = (.. - inf + inf) is NaN and stays so.
/// The check at the end of step 9 (every 1 ms at dt = 0.1) finds v NaN at
/// neuron 3, and the run stops there with ten steps recorded.
#[test]
fn a_diverging_nucleus_stops_the_run_naming_the_neuron() -> R {
    let mut net = Network::new();
    let mut iext = vec![5.0; 8];
    iext[3] = 3e38;
    let a = net.add(
        Nucleus::new("A", 8)
            .input(iext)
            .record(Record::traces(&[3])),
    )?;
    let mut w = ndarray::Array2::<f64>::zeros((8, 8));
    w[[3, 3]] = 3e38;
    net.connect(a, a, w)?;
    let mut sim = net.build_with(DT, options())?;
    match sim.run(50.0) {
        Err(Error::RunInterrupted {
            step,
            reason,
            recording,
            ..
        }) => {
            match *reason {
                Error::NetworkDiverged {
                    ref nucleus,
                    neuron,
                    ref variable,
                    value,
                    step: found,
                    last_finite_step,
                    ..
                } => {
                    assert_eq!((nucleus.as_str(), neuron, variable.as_str()), ("A", 3, "v"));
                    assert!(value.is_nan());
                    assert_eq!(found, 9);
                    assert_eq!(last_finite_step, 0);
                }
                ref other => panic!("expected NetworkDiverged, got {other}"),
            }
            assert_eq!(step, 10);
            assert_eq!(recording.steps, 10);
            let v = recording.trace(a, StateVar::V)?.column(3).ok_or("column")?;
            assert_eq!(v.len(), 10);
            assert!(v[9].is_nan());
        }
        other => panic!("expected RunInterrupted, got {other:?}"),
    }
    // With the check off, the run goes on (the user asked for it).
    let mut net = Network::new();
    let mut iext = vec![5.0; 8];
    iext[3] = 3e38;
    let a = net.add(Nucleus::new("A", 8).input(iext))?;
    let mut w = ndarray::Array2::<f64>::zeros((8, 8));
    w[[3, 3]] = 3e38;
    net.connect(a, a, w)?;
    let mut sim = net.build_with(DT, options().finite_check_ms(0.0))?;
    assert_eq!(sim.run(5.0)?.steps, 50);
    assert!(matches!(
        Network::new().build_with(DT, options().finite_check_ms(f64::NAN)),
        Err(Error::InvalidOption { .. })
    ));
    Ok(())
}

/// A streaming simulator restored to an earlier checkpoint drops what it
/// streamed after it and goes on from there: the folder then holds exactly
/// an uninterrupted run. A fresh simulator restored and streaming starts
/// its stream at the checkpoint.
#[test]
fn a_stream_follows_a_restored_checkpoint() -> R {
    let dir = tempdir("stream-restore")?;
    let (mut sim, _, _) = network(options().stream_to(dir.join("a")))?;
    sim.run(30.0)?;
    sim.save_checkpoint(dir.join("ck"))?;
    sim.run(25.0)?; // streamed, then undone by the restore
    sim.restore_checkpoint(dir.join("ck"))?;
    sim.run(40.0)?;
    let (mut memory, _, _) = network(options())?;
    let whole = memory.run(70.0)?;
    assert_same(&Recording::read_streamed(dir.join("a"))?, &whole);

    let (mut fresh, _, _) = network(options().stream_to(dir.join("b")))?;
    fresh.restore_checkpoint(dir.join("ck"))?;
    fresh.run(40.0)?;
    let tail = memory_tail(70.0, 30.0)?;
    assert_eq!(tail.first_step, 300);
    let back = Recording::read_streamed(dir.join("b"))?;
    assert_same(&back, &tail);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A new stream into a folder an earlier stream wrote removes the earlier
/// stream's files (those its manifest names): none of another network's
/// nuclei or connections is left to pass for part of the new recording,
/// and a file of the user's in the folder stays.
#[test]
fn a_new_stream_removes_an_earlier_streams_files() -> R {
    let dir = tempdir("stream-reuse")?;
    let names = || -> std::io::Result<Vec<String>> {
        let mut v = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<Vec<_>>>()?;
        v.sort();
        Ok(v)
    };
    // 1. Compressed rows (density 0.025) whose weights are streamed with
    // their structure.
    let mut net = Network::new().named("sparse");
    let c = net.add(Nucleus::new("C", 200).input(Input::noise(6.0, 3.0, 4)))?;
    net.connect_with(
        Connection::new(
            c,
            c,
            Weights::fixed_in_degree(5, WeightValue::Constant(0.5), 9),
        )
        .record_weights(10.0),
    )?;
    net.build_with(DT, options().stream_to(&dir))?.run(25.0)?;
    assert!(names()?.contains(&"weights_0_indptr.npy".to_string()));
    std::fs::write(dir.join("notes.txt"), "mine")?;
    // 2. The reliability network: nuclei A and B, two dense connections'
    // weights.
    network(options().stream_to(&dir))?.0.run(25.0)?;
    let second = names()?;
    assert!(!second
        .iter()
        .any(|f| f.contains("indptr") || f.contains("indices")));
    assert!(second.contains(&"B_v.npy".to_string()));
    // 3. One nucleus A of another size, spikes only.
    let small = |options: SimOptions| -> snn::Result<Simulator> {
        let mut net = Network::new().named("small");
        net.add(
            Nucleus::new("A", 10)
                .input(Input::noise(6.0, 3.0, 5))
                .record(Record::spikes()),
        )?;
        net.build_with(DT, options)
    };
    small(options().stream_to(&dir))?.run(15.0)?;
    let mine = [
        "A_spike_neurons.npy",
        "A_spike_steps.npy",
        "notes.txt",
        "stream.json",
    ];
    assert_eq!(names()?, mine);
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt"))?, "mine");
    assert_same(
        &Recording::read_streamed(&dir)?,
        &small(options())?.run(15.0)?,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// What an in-memory run of [`network`] records from `from` ms to `to` ms.
fn memory_tail(to: f64, from: f64) -> snn::Result<Recording> {
    let (mut sim, _, _) = network(options())?;
    sim.run(from)?;
    sim.run(to - from)
}

/// A streamed recording's files damaged every way a disk or a hand can
/// damage them (truncated at any length, bytes overwritten, a header's
/// shape made huge, a file deleted, the manifest's numbers and names
/// changed): `Recording::read_streamed` gives our typed error, or a
/// recording whose every part is consistent (spike lists of equal
/// lengths, trace values of times x neurons, neurons inside the nucleus,
/// a finite dt > 0). Never a panic.
#[test]
fn damaged_streamed_recordings_are_refused_or_consistent() -> R {
    let dir = tempdir("stream-damage")?;
    let (mut sim, _, _) = network(options().stream_to(&dir))?;
    // Two weight snapshots, so their files (and the compressed rows'
    // structure) are there to damage.
    sim.run(20.0)?;
    drop(sim);
    let (files, originals) = common::files_of(&dir)?;
    assert!(files.len() > 5, "{files:?}");
    let mut draws = common::draws::Draws(77);
    let mut pick = |n: usize| draws.below(n);
    let (mut refused, mut read) = (0, 0);
    for case in 0..600 {
        let k = pick(files.len());
        let original = &originals[k];
        let mut bytes = original.clone();
        match pick(6) {
            0 => bytes.truncate(pick(bytes.len() + 1)),
            1 => {
                for _ in 0..1 + pick(4) {
                    let at = pick(bytes.len());
                    if let Some(b) = bytes.get_mut(at) {
                        *b = pick(256) as u8;
                    }
                }
            }
            2 => {
                // A shape, count or length made huge or negative.
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let huge = ["99999999999999999999", "-1", "1e30", "0", "4294967296"][pick(5)];
                let mut out = String::new();
                let mut digits = false;
                for ch in text.chars() {
                    match (ch.is_ascii_digit(), digits) {
                        (true, false) if pick(3) == 0 => {
                            out.push_str(huge);
                            digits = true;
                        }
                        (true, true) => {}
                        _ => {
                            digits = false;
                            out.push(ch);
                        }
                    }
                }
                bytes = out.into_bytes();
            }
            3 => bytes.clear(),
            4 => {
                let text = String::from_utf8_lossy(&bytes)
                    .replace("\"A\"", "\"../A\"")
                    .replace("\"v\"", "\"w\"")
                    .replace("0.1", "NaN");
                bytes = text.into_bytes();
            }
            _ => {
                std::fs::remove_file(&files[k])?;
                bytes.clear();
            }
        }
        if !bytes.is_empty() || original.is_empty() {
            std::fs::write(&files[k], &bytes)?;
        }
        let result = std::panic::catch_unwind(|| Recording::read_streamed(&dir));
        std::fs::write(&files[k], original)?;
        match result {
            Err(_) => panic!("case {case}: reading {:?} panicked", files[k]),
            Ok(Err(Error::Io { .. })) => refused += 1,
            Ok(Err(other)) => panic!("case {case}: not an Io error: {other}"),
            Ok(Ok(rec)) => {
                read += 1;
                assert!(
                    rec.dt.is_finite() && rec.dt > 0.0,
                    "case {case}: dt {}",
                    rec.dt
                );
                // Snapshots as many as their times, compressed rows whose
                // pointers and columns agree (the manifest says the shape:
                // a consistent change of it reads as another shape).
                for w in &rec.weights {
                    assert_eq!(w.times_ms.len(), w.values.len(), "case {case}");
                    for x in &w.values {
                        match x {
                            Weights::DenseF32(_) => {}
                            Weights::CsrF32 {
                                indptr,
                                indices,
                                values,
                            } => {
                                assert!(indptr.windows(2).all(|p| p[0] <= p[1]), "case {case}");
                                assert_eq!(indptr.last(), Some(&values.len()), "case {case}");
                                assert_eq!(indices.len(), values.len(), "case {case}");
                            }
                            other => panic!("case {case}: {other:?}"),
                        }
                    }
                }
                for nu in &rec.nuclei {
                    assert!(nu.spikes.iter().all(|&(_, i)| i < nu.n), "case {case}");
                    for tr in nu.traces.values() {
                        assert!(tr.neurons.iter().all(|&j| j < nu.n), "case {case}");
                        assert_eq!(
                            tr.values().dim(),
                            (tr.times.len(), tr.neurons.len()),
                            "case {case}"
                        );
                        assert_eq!(
                            tr.values().len(),
                            tr.times.len() * tr.neurons.len(),
                            "case {case}"
                        );
                    }
                }
            }
        }
    }
    assert!(refused > 100 && read > 20, "refused {refused}, read {read}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A recording whose public trace fields were edited keeps every recorded
/// value (`values`, `column`), writes no CSV whose rows would not match
/// (a typed error naming the nucleus) and never panics.
#[test]
fn edited_traces_lose_nothing_and_fail_typed() -> R {
    let mut net = Network::new();
    let a = net.add(
        Nucleus::new("A", 3)
            .input(10.0)
            .record(Record::everything()),
    )?;
    let mut rec = net.build_with(DT, options())?.run(5.0)?;
    let before = rec.trace(a, StateVar::V)?.values();
    assert_eq!(before.shape(), &[50, 3]);
    let trace = rec.nuclei[0].traces.get_mut("v").ok_or("no v")?;
    trace.times.push(5.1);
    assert_eq!(trace.values(), before);
    assert_eq!(trace.column(2), Some(before.column(2).to_vec()));
    let dir = tempdir("edited-trace")?;
    match rec.write_trace_csv(a, StateVar::V, dir.join("v.csv")) {
        Err(Error::WrongLength {
            nucleus,
            expected: 50,
            got: 51,
            ..
        }) => assert_eq!(nucleus, "A"),
        other => return Err(format!("{other:?}").into()),
    }
    rec.nuclei[0].traces.get_mut("v").ok_or("no v")?.times.pop();
    rec.write_trace_csv(a, StateVar::V, dir.join("v.csv"))?;
    let csv = std::fs::read_to_string(dir.join("v.csv"))?;
    assert_eq!(csv.lines().count(), 51);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
