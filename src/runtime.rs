//! The TensorFlow runtime snn links: version, devices, logging.
//!
//! TensorFlow's C++ logging (oneDNN banners, CPU feature notices) goes to
//! stderr, some of it while the library loads, before `main`. TensorFlow
//! 2.21 logs through Abseil, which does not read `TF_CPP_MIN_LOG_LEVEL`
//! itself; snn sets Abseil's threshold from it before any shared library is
//! initialised (an ELF `.preinit_array` entry in every program that links
//! snn's runtime): `0` shows everything, `1` warnings and errors, `2` errors,
//! `3` only fatal messages. Unset (or not one of those), snn uses `2`: errors
//! still show, INFO banners and warnings do not.

use std::ffi::c_char;
use std::sync::Once;

use tensorflow::{Graph, Session, SessionOptions};

use crate::error::{Result, TfContext};

static QUIET: Once = Once::new();

/// Runs before the initialisers of libtensorflow, which log while loading:
/// `.preinit_array` entries of the executable run before those of any shared
/// library. Abseil's threshold is a plain global that its (already
/// relocated) `absl::SetMinLogLevel` sets; the symbol is looked up by name
/// and skipped if this libtensorflow lacks it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".preinit_array"]
static QUIET_BEFORE_LOAD: extern "C" fn(i32, *const *const c_char, *const *const c_char) =
    quiet_before_load;

/// The Abseil threshold for a `TF_CPP_MIN_LOG_LEVEL` value: `0`–`3` as
/// given, anything else (or unset) `2`.
pub fn log_level_for(value: Option<&[u8]>) -> i32 {
    match value {
        Some(b"0") => 0,
        Some(b"1") => 1,
        Some(b"3") => 3,
        _ => 2,
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn quiet_before_load(
    _argc: i32,
    _argv: *const *const c_char,
    envp: *const *const c_char,
) {
    const KEY: &[u8] = b"TF_CPP_MIN_LOG_LEVEL=";
    // SAFETY: glibc passes the process's NULL-terminated environment array;
    // each entry is a NUL-terminated string.
    unsafe {
        if envp.is_null() {
            return;
        }
        let mut value = None;
        let mut p = envp;
        while !(*p).is_null() {
            let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
            if let Some(v) = entry.strip_prefix(KEY) {
                value = Some(v);
            }
            p = p.add(1);
        }
        let f = dlsym(std::ptr::null_mut(), ABSL_SET_MIN_LOG_LEVEL.as_ptr());
        if !f.is_null() {
            // SAFETY: `void absl::SetMinLogLevel(absl::LogSeverityAtLeast)`,
            // an int-sized enum: 0 info, 1 warning, 2 error, 3 fatal.
            let set: extern "C" fn(i32) = std::mem::transmute(f);
            set(log_level_for(value.map(|v| v.trim_ascii())));
        }
    }
}

/// The threshold TensorFlow's logging (Abseil's) has now: 0 info, 1
/// warning, 2 error, 3 fatal; `None` if this libtensorflow does not say.
pub fn log_level() -> Option<i32> {
    quiet_tensorflow();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `absl::LogSeverityAtLeast absl::MinLogLevel()`, an int-sized
    // enum, looked up by name and called only if present.
    unsafe {
        let f = dlsym(std::ptr::null_mut(), ABSL_MIN_LOG_LEVEL.as_ptr());
        if !f.is_null() {
            let get: extern "C" fn() -> i32 = std::mem::transmute(f);
            return Some(get());
        }
    }
    None
}

/// `absl::lts_20250814::MinLogLevel()`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ABSL_MIN_LOG_LEVEL: &std::ffi::CStr = c"_ZN4absl12lts_2025081411MinLogLevelEv";

/// `absl::lts_20250814::SetMinLogLevel(absl::lts_20250814::LogSeverityAtLeast)`,
/// the Abseil release TensorFlow 2.21 is built with.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ABSL_SET_MIN_LOG_LEVEL: &std::ffi::CStr =
    c"_ZN4absl12lts_2025081414SetMinLogLevelENS0_18LogSeverityAtLeastE";

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn dlsym(handle: *mut std::ffi::c_void, name: *const c_char) -> *mut std::ffi::c_void;
}

/// Make sure TensorFlow's logging follows `TF_CPP_MIN_LOG_LEVEL` (quiet
/// when unset) in this program (see the module docs).
///
/// The silencing itself happens before `main`; this function only guarantees
/// that the code doing it is linked into the program. snn's entry points call
/// it; call it yourself if you use the `tensorflow` crate directly and nothing
/// else of snn's runtime.
pub fn quiet_tensorflow() {
    QUIET.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: reads a plain static function pointer.
        let _ = unsafe { std::ptr::read_volatile(&QUIET_BEFORE_LOAD) };
    });
}

/// The allocator behind the C `malloc` of this process, which TensorFlow
/// allocates its tensors with: `"mimalloc"` when the `mimalloc` feature is
/// on and its override took effect (checked on a fresh allocation),
/// `"system"` otherwise.
pub fn allocator() -> &'static str {
    #[cfg(feature = "mimalloc")]
    {
        extern "C" {
            fn malloc(size: usize) -> *mut std::ffi::c_void;
            fn free(ptr: *mut std::ffi::c_void);
        }
        // SAFETY: a 64-byte allocation freed right after the check.
        unsafe {
            let p = malloc(64);
            let ours = !p.is_null() && libmimalloc_sys::mi_is_in_heap_region(p);
            free(p);
            if ours {
                return "mimalloc";
            }
        }
    }
    "system"
}

/// Hands memory freed by this thread back to the operating system now.
/// mimalloc keeps freed pages for a while before returning them, so a large
/// array freed while building a network (a weight matrix copied into its
/// TensorFlow tensor) would otherwise still count while the next one is
/// copied; glibc returns such large blocks at once, and this does nothing.
pub(crate) fn return_freed_memory() {
    #[cfg(feature = "mimalloc")]
    // SAFETY: mi_collect only walks and trims mimalloc's own heaps.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// The version string of the linked libtensorflow, e.g. `"2.21.0"`.
pub fn tf_version() -> String {
    tensorflow::version().unwrap_or_else(|_| "unknown".to_string())
}

/// The folder libtensorflow was linked from at build time (x86_64 Linux).
pub fn tf_lib_dir() -> Option<&'static str> {
    option_env!("SNN_TF_LIB_DIR")
}

/// One device TensorFlow can place ops on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Full name, e.g. `/job:localhost/replica:0/task:0/device:CPU:0`.
    pub name: String,
    /// `CPU`, `GPU`, `TPU`, ...
    pub device_type: String,
    /// Memory limit in bytes as TensorFlow reports it.
    pub memory_bytes: i64,
}

/// The devices a default session sees on this machine.
pub fn devices() -> Result<Vec<DeviceInfo>> {
    quiet_tensorflow();
    let graph = Graph::new();
    let session =
        Session::new(&SessionOptions::new(), &graph).tf(|| "creating a session".into())?;
    let list = session.device_list().tf(|| "listing devices".into())?;
    Ok(list
        .into_iter()
        .map(|d| DeviceInfo {
            name: d.name,
            device_type: d.device_type,
            memory_bytes: d.memory_bytes,
        })
        .collect())
}
