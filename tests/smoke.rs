//! The linked libtensorflow really runs a graph.

use snn::runtime;
use tensorflow::{ops, DataType, Scope, Session, SessionOptions, SessionRunArgs, Tensor};

#[test]
fn version_is_the_pinned_one() {
    runtime::quiet_tensorflow();
    assert_eq!(runtime::tf_version(), "2.21.0");
}

#[test]
fn a_cpu_device_is_listed() -> Result<(), Box<dyn std::error::Error>> {
    let devices = runtime::devices()?;
    assert!(
        devices
            .iter()
            .any(|d| d.device_type == "CPU" && d.name.ends_with("device:CPU:0")),
        "devices: {devices:?}"
    );
    Ok(())
}

/// A variable `x` (init 1.5) and `x <- 2x + 1` run five times: the values follow
/// the recurrence computed here, x_k = 2^k * 2.5 - 1.
#[test]
fn variable_and_assign_run_repeatedly() -> Result<(), Box<dyn std::error::Error>> {
    runtime::quiet_tensorflow();
    let mut scope = Scope::new_root_scope();
    let init = ops::Placeholder::new()
        .dtype(DataType::Float)
        .build(&mut scope.with_op_name("x_init"))?;
    let var = ops::VarHandleOp::new()
        .dtype(DataType::Float)
        .shape(tensorflow::Shape::from(Some(vec![Some(3)])))
        .shared_name("x")
        .build(&mut scope.with_op_name("x"))?;
    let assign_init = ops::AssignVariableOp::new().build(
        var.clone(),
        init.clone(),
        &mut scope.with_op_name("x/init"),
    )?;
    let read = ops::ReadVariableOp::new()
        .dtype(DataType::Float)
        .build(var.clone(), &mut scope.with_op_name("x/read"))?;
    let two = ops::constant(2.0f32, &mut scope)?;
    let one = ops::constant(1.0f32, &mut scope)?;
    let next = ops::add(ops::mul(read.clone(), two, &mut scope)?, one, &mut scope)?;
    let step = ops::AssignVariableOp::new().build(var, next, &mut scope.with_op_name("x/step"))?;

    let session = Session::new(&SessionOptions::new(), &scope.graph())?;
    let start = Tensor::new(&[3]).with_values(&[1.5f32, 0.0, -1.0])?;
    let mut args = SessionRunArgs::new();
    args.add_feed(&init, 0, &start);
    args.add_target(&assign_init);
    session.run(&mut args)?;

    let mut expected = [1.5f32, 0.0, -1.0];
    for _ in 0..5 {
        let mut args = SessionRunArgs::new();
        args.add_target(&step);
        session.run(&mut args)?;
        for x in expected.iter_mut() {
            *x = 2.0 * *x + 1.0;
        }
        let mut args = SessionRunArgs::new();
        let fetch = args.request_fetch(&read, 0);
        session.run(&mut args)?;
        let got: Tensor<f32> = args.fetch(fetch)?;
        assert_eq!(&got[..], &expected[..]);
    }
    // Closed form for the first element: x_5 = 2^5 * (1.5 + 1) - 1 = 79.
    assert_eq!(expected[0], 79.0);
    Ok(())
}

/// Prints the logging threshold TensorFlow has in this process (for the
/// child processes of `tensorflow_logging_follows_tf_cpp_min_log_level`),
/// after running a graph so that the first session's banners are out.
#[test]
fn report_log_level() -> Result<(), Box<dyn std::error::Error>> {
    variable_and_assign_run_repeatedly()?;
    eprintln!("SNN_LOG_LEVEL={:?}", runtime::log_level());
    Ok(())
}

/// Runs `report_log_level` in a child process of this test binary with the
/// given `TF_CPP_MIN_LOG_LEVEL` (None: unset) and returns its stderr.
fn child_stderr(level: Option<&str>) -> Result<String, Box<dyn std::error::Error>> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args([
        "--exact",
        "report_log_level",
        "--test-threads=1",
        "--nocapture",
    ]);
    match level {
        Some(l) => cmd.env("TF_CPP_MIN_LOG_LEVEL", l),
        None => cmd.env_remove("TF_CPP_MIN_LOG_LEVEL"),
    };
    let out = cmd.output()?;
    assert!(out.status.success(), "child failed: {out:?}");
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The oneDNN banner TensorFlow prints (INFO) while it loads.
const BANNER: &str = "oneDNN custom operations are on";

/// `TF_CPP_MIN_LOG_LEVEL` works as TensorFlow documents it: 0 shows the INFO
/// banners printed while the library loads and when the first session
/// starts, 1, 2 and 3 silence them (and set the threshold to warnings,
/// errors and fatal messages: the child reports the threshold it has);
/// unset is quiet too (threshold 2).
#[test]
fn tensorflow_logging_follows_tf_cpp_min_log_level() -> Result<(), Box<dyn std::error::Error>> {
    assert_eq!(runtime::log_level_for(None), 2);
    for (value, level) in [
        (None, 2),
        (Some("0"), 0),
        (Some("1"), 1),
        (Some("2"), 2),
        (Some("3"), 3),
    ] {
        let err = child_stderr(value)?;
        assert!(
            err.contains(&format!("SNN_LOG_LEVEL=Some({level})")),
            "TF_CPP_MIN_LOG_LEVEL={value:?}: expected threshold {level}:\n{err}"
        );
        let info = err.contains("I0000") || err.contains(BANNER);
        assert_eq!(
            info,
            level == 0,
            "TF_CPP_MIN_LOG_LEVEL={value:?}: INFO lines shown = {info}:\n{err}"
        );
    }
    let chatty = child_stderr(Some("0"))?;
    assert!(
        chatty.contains(BANNER),
        "no oneDNN banner at level 0:\n{chatty}"
    );
    Ok(())
}

/// The C `malloc` TensorFlow allocates its tensors with is the allocator
/// the build chose: with the `mimalloc` feature, the buffer of a tensor a
/// kernel wrote (a `Fill` of 4096 floats, fetched without a copy) lies in
/// mimalloc's heap; without it, the system's malloc serves.
#[test]
fn tensorflow_allocates_from_the_chosen_allocator() -> Result<(), Box<dyn std::error::Error>> {
    runtime::quiet_tensorflow();
    let mut scope = Scope::new_root_scope();
    let dims = ops::constant(&[4096i32][..], &mut scope)?;
    let value = ops::constant(1.5f32, &mut scope)?;
    let filled = ops::fill(dims, value, &mut scope)?;
    let session = Session::new(&SessionOptions::new(), &scope.graph())?;
    let mut args = SessionRunArgs::new();
    let token = args.request_fetch(&filled, 0);
    session.run(&mut args)?;
    let t: Tensor<f32> = args.fetch(token)?;
    assert_eq!(t.len(), 4096);
    assert!(t.iter().all(|&x| x == 1.5));
    #[cfg(feature = "mimalloc")]
    {
        assert_eq!(runtime::allocator(), "mimalloc");
        let p = t.as_ptr() as *const std::ffi::c_void;
        // SAFETY: a pointer query, nothing is dereferenced.
        assert!(unsafe { libmimalloc_sys::mi_is_in_heap_region(p) });
    }
    #[cfg(not(feature = "mimalloc"))]
    assert_eq!(runtime::allocator(), "system");
    Ok(())
}
