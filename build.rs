//! Finds libtensorflow for snn, or provisions it, before anything links.
//!
//! On x86_64 Linux, `.cargo/config.toml` overrides tensorflow-sys's build script
//! (which would try pkg-config and then download from Google's storage). This
//! script takes its place. In order:
//!
//! 1. `TENSORFLOW_LIB_DIR`: the user's own folder with `libtensorflow.so` (the
//!    official C library) or `libtensorflow_cc.so.2` + `libtensorflow_framework.so.2`
//!    (from a TensorFlow pip wheel);
//! 2. a system `tensorflow.pc` found by `pkg-config`;
//! 3. a copy already provisioned in the per-user cache
//!    (`$SNN_TF_CACHE_DIR`, else `$XDG_CACHE_HOME/snn`, else `~/.cache/snn`);
//! 4. otherwise it provisions that cache: `python3 -m pip download` of the pinned
//!    wheel, sha256 check, extraction of the two libraries. Unless
//!    `SNN_TF_PROVISION=0`.
//!
//! The cache is written under an exclusive file lock, into a temporary folder
//! renamed into place when complete; a cache whose files are missing or of the
//! wrong size is provisioned again, never trusted.
//!
//! Every binary of this package gets an rpath to the library's folder, so
//! nothing needs `LD_LIBRARY_PATH`.

use std::env;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

const TF_VERSION: &str = "2.21.0";

/// One pinned wheel and the two libraries we take from it.
struct Wheel {
    package: &'static str,
    file: &'static str,
    sha256: &'static str,
    /// (member name in the wheel, uncompressed size)
    libs: [(&'static str, u64); 2],
}

const CPU_WHEEL: Wheel = Wheel {
    package: "tensorflow-cpu",
    file: "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl",
    sha256: "2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c",
    libs: [
        ("libtensorflow_cc.so.2", 788_086_608),
        ("libtensorflow_framework.so.2", 65_222_328),
    ],
};

const GPU_WHEEL: Wheel = Wheel {
    package: "tensorflow",
    file: "tensorflow-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl",
    sha256: "9056fbc9ba04235810b71ae6cbd958a196e8804fb53bbcffbf3e23b56155f124",
    libs: [
        ("libtensorflow_cc.so.2", 1_096_372_272),
        ("libtensorflow_framework.so.2", 162_648_808),
    ],
};

/// Marker written last into a complete cache folder.
const COMPLETE: &str = "SNN_COMPLETE";

type Res<T> = Result<T, String>;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "TENSORFLOW_LIB_DIR",
        "SNN_TF_CACHE_DIR",
        "SNN_TF_PROVISION",
        "SNN_PYTHON",
        "XDG_CACHE_HOME",
        "HOME",
        "PKG_CONFIG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    // Without the `network` feature nothing links libtensorflow: the
    // single-neuron toolkit alone needs no provisioning.
    if env::var_os("CARGO_FEATURE_NETWORK").is_none() {
        return;
    }
    // Other targets keep tensorflow-sys's own behaviour (the override in
    // .cargo/config.toml only names x86_64 Linux).
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return;
    }
    let wheel = if env::var_os("CARGO_FEATURE_GPU").is_some() {
        &GPU_WHEEL
    } else {
        &CPU_WHEEL
    };
    match find_or_provision(wheel).and_then(|dir| emit(&dir)) {
        Ok(()) => {}
        Err(msg) => {
            eprintln!("\nerror: snn could not find or provision libtensorflow {TF_VERSION}\n");
            eprintln!("{msg}\n");
            eprintln!("Ways out:");
            eprintln!("  - make pip reachable (`python3 -m pip --version` must work; the wheel comes from PyPI);");
            eprintln!("  - or set TENSORFLOW_LIB_DIR to a folder holding libtensorflow.so, or");
            eprintln!("    libtensorflow_cc.so.2 and libtensorflow_framework.so.2 (from a TensorFlow {TF_VERSION} wheel);");
            eprintln!("  - or install a system tensorflow.pc that pkg-config finds;");
            eprintln!("  - or, on a machine that reaches Google's storage, remove the");
            eprintln!(
                "    [target.x86_64-unknown-linux-gnu.tensorflow] table from .cargo/config.toml"
            );
            eprintln!("    and tensorflow-sys downloads libtensorflow itself.");
            eprintln!("See docs/building.md, \"Troubleshooting\".");
            std::process::exit(1);
        }
    }
}

/// Where the library is, as a folder holding the real files.
fn find_or_provision(wheel: &Wheel) -> Res<PathBuf> {
    let mut tried = Vec::new();

    if let Some(dir) = env::var_os("TENSORFLOW_LIB_DIR") {
        let dir = PathBuf::from(dir);
        return match main_library(&dir) {
            Some(_) => Ok(dir),
            None => Err(format!(
                "TENSORFLOW_LIB_DIR={} holds neither libtensorflow.so nor libtensorflow_cc.so.2.",
                dir.display()
            )),
        };
    }
    tried.push("TENSORFLOW_LIB_DIR: not set".to_string());

    match pkg_config_dir() {
        Some(dir) => return Ok(dir),
        None => tried.push("pkg-config tensorflow: not found".to_string()),
    }

    let cache = cache_root()?.join(format!("{}-{}", wheel.package, TF_VERSION));
    if cache_is_complete(&cache, wheel) {
        return Ok(cache);
    }
    tried.push(format!(
        "cache {}: not provisioned (or incomplete)",
        cache.display()
    ));

    if env::var("SNN_TF_PROVISION").as_deref() == Ok("0") {
        tried.push("provisioning: disabled by SNN_TF_PROVISION=0".to_string());
        return Err(format!("Tried:\n  - {}", tried.join("\n  - ")));
    }
    provision(&cache, wheel).map_err(|e| {
        tried.push(format!("provisioning from PyPI: {e}"));
        format!("Tried:\n  - {}", tried.join("\n  - "))
    })?;
    Ok(cache)
}

/// The file to link against in `dir`: the official C library's name first.
fn main_library(dir: &Path) -> Option<PathBuf> {
    [
        "libtensorflow.so",
        "libtensorflow.so.2",
        "libtensorflow_cc.so.2",
    ]
    .iter()
    .map(|name| dir.join(name))
    .find(|p| p.is_file())
}

fn pkg_config_dir() -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args(["--libs-only-L", "tensorflow"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut dirs: Vec<PathBuf> = text
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-L"))
        .map(PathBuf::from)
        .collect();
    dirs.push(PathBuf::from("/usr/lib"));
    dirs.push(PathBuf::from("/usr/local/lib"));
    dirs.into_iter().find(|d| main_library(d).is_some())
}

fn cache_root() -> Res<PathBuf> {
    if let Some(dir) = env::var_os("SNN_TF_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("snn"));
    }
    match env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("snn")),
        None => {
            Err("no cache folder: none of SNN_TF_CACHE_DIR, XDG_CACHE_HOME, HOME is set".into())
        }
    }
}

/// A cache folder counts only with its marker and both libraries at their
/// exact sizes (the marker is written after the folder is complete, and the
/// folder is renamed into place in one step).
fn cache_is_complete(dir: &Path, wheel: &Wheel) -> bool {
    dir.join(COMPLETE).is_file()
        && wheel.libs.iter().all(|(name, size)| {
            fs::metadata(dir.join(name))
                .map(|m| m.len() == *size)
                .unwrap_or(false)
        })
        && dir.join("libtensorflow.so").is_file()
}

fn provision(cache: &Path, wheel: &Wheel) -> Res<()> {
    let root = cache.parent().ok_or("cache folder has no parent")?;
    fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;

    // One provisioner at a time; the others wait here and then find the cache.
    let lock_path = root.join(format!(".{}-{}.lock", wheel.package, TF_VERSION));
    let lock = File::create(&lock_path)
        .map_err(|e| format!("cannot create lock {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if cache_is_complete(cache, wheel) {
        // Another build provisioned it while this one waited.
        return Ok(());
    }
    println!(
        "cargo:warning=snn: provisioning libtensorflow {TF_VERSION} ({}) into {} (once per machine)",
        wheel.package,
        cache.display()
    );

    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = root.join(format!(
        ".tmp-{}-{}-{}",
        wheel.package,
        std::process::id(),
        nonce
    ));
    let result = provision_into(&tmp, cache, wheel);
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn provision_into(tmp: &Path, cache: &Path, wheel: &Wheel) -> Res<()> {
    let download = tmp.join("download");
    let lib = tmp.join("lib");
    fs::create_dir_all(&download)
        .map_err(|e| format!("cannot create {}: {e}", download.display()))?;
    fs::create_dir_all(&lib).map_err(|e| format!("cannot create {}: {e}", lib.display()))?;

    let python = env::var("SNN_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let spec = format!("{}=={}", wheel.package, TF_VERSION);
    // The wheel is pinned to one file (CPython 3.11 ABI, manylinux_2_27) whatever
    // Python runs pip: only the C libraries inside are used.
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--platform",
            "manylinux_2_27_x86_64",
            "--progress-bar",
            "off",
            "-d",
        ])
        .arg(&download)
        .arg(&spec)
        .output()
        .map_err(|e| {
            format!("could not run `{python} -m pip` ({e}); is Python with pip installed?")
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "`{python} -m pip download {spec}` failed ({}):\n      {}",
            out.status,
            tail.join("\n      ")
        ));
    }
    let whl = download.join(wheel.file);
    if !whl.is_file() {
        return Err(format!(
            "pip reported success but {} is missing",
            whl.display()
        ));
    }

    let digest = sha256_file(&whl).map_err(|e| format!("cannot read {}: {e}", whl.display()))?;
    if digest != wheel.sha256 {
        return Err(format!(
            "checksum mismatch for {}: expected sha256 {}, got {digest}",
            wheel.file, wheel.sha256
        ));
    }

    let file = File::open(&whl).map_err(|e| format!("cannot open {}: {e}", whl.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a readable wheel: {e}", wheel.file))?;
    for (name, size) in wheel.libs {
        let member = format!("tensorflow/{name}");
        let mut entry = archive
            .by_name(&member)
            .map_err(|e| format!("{member} not found in {}: {e}", wheel.file))?;
        let dest = lib.join(name);
        let mut out =
            File::create(&dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
        let written = io::copy(&mut entry, &mut out).map_err(|e| {
            format!(
                "cannot extract {member} to {} (disk full?): {e}",
                dest.display()
            )
        })?;
        out.sync_all()
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        if written != size {
            return Err(format!(
                "{member}: extracted {written} bytes, expected {size}"
            ));
        }
    }
    // The unversioned name the linker asks for (`-ltensorflow`).
    std::os::unix::fs::symlink("libtensorflow_cc.so.2", lib.join("libtensorflow.so"))
        .map_err(|e| format!("cannot create symlink in {}: {e}", lib.display()))?;
    std::os::unix::fs::symlink(
        "libtensorflow_framework.so.2",
        lib.join("libtensorflow_framework.so"),
    )
    .map_err(|e| format!("cannot create symlink in {}: {e}", lib.display()))?;
    let mut marker =
        File::create(lib.join(COMPLETE)).map_err(|e| format!("cannot write marker: {e}"))?;
    writeln!(
        marker,
        "{} {}\nsha256 {}",
        wheel.package, TF_VERSION, wheel.sha256
    )
    .map_err(|e| format!("cannot write marker: {e}"))?;

    // Replace whatever incomplete folder was there, in one rename.
    if cache.exists() {
        fs::remove_dir_all(cache)
            .map_err(|e| format!("cannot remove stale {}: {e}", cache.display()))?;
    }
    fs::rename(&lib, cache)
        .map_err(|e| format!("cannot move {} to {}: {e}", lib.display(), cache.display()))
}

fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Link search path (a small folder of symlinks, so `-ltensorflow` and
/// `-ltensorflow_framework` resolve whatever the files are called) and rpath
/// for this package's binaries.
fn emit(dir: &Path) -> Res<()> {
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let main =
        main_library(&dir).ok_or_else(|| format!("no libtensorflow in {}", dir.display()))?;
    let framework = ["libtensorflow_framework.so", "libtensorflow_framework.so.2"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("no libtensorflow_framework.so(.2) in {}", dir.display()))?;
    let out =
        PathBuf::from(env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?).join("tflib");
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // The link names, and the names the binaries ask the loader for (the
    // libraries' sonames, e.g. libtensorflow_cc.so.2). Cargo puts search
    // paths inside the target directory on the loader path of `cargo run`
    // and `cargo test`, in this package and in any crate depending on it, so
    // this folder alone lets their binaries start.
    let mut links = vec![
        (main.clone(), "libtensorflow.so".to_string()),
        (framework.clone(), "libtensorflow_framework.so".to_string()),
    ];
    let entries = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("libtensorflow") && name.contains(".so.") {
            links.push((entry.path(), name));
        }
    }
    for (target, name) in &links {
        let link = out.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link)
            .map_err(|e| format!("cannot create {}: {e}", link.display()))?;
        println!("cargo:rerun-if-changed={}", target.display());
    }
    if dir.join(COMPLETE).is_file() {
        // A deleted or damaged cache makes the next build provision it again.
        println!("cargo:rerun-if-changed={}", dir.join(COMPLETE).display());
    }
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:rustc-env=SNN_TF_LIB_DIR={}", dir.display());
    Ok(())
}
