//! How much memory a recording or history may take before anything is
//! allocated. TensorFlow-free.

/// Bytes of memory the operating system says are available now
/// (`MemAvailable` of `/proc/meminfo`), if it says.
pub fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The limit used when none is given: half of the memory available now
/// ([`available_bytes`]), or 4 GiB where the system does not say.
pub fn default_limit() -> u64 {
    available_bytes().map_or(4 << 30, |b| b / 2)
}

/// `a * b * c` in bytes, saturating (a size too large to count is too large
/// for any limit).
pub(crate) fn bytes(a: u64, b: u64, c: u64) -> u64 {
    a.saturating_mul(b).saturating_mul(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_memory_is_read_and_the_default_is_half_of_it() {
        // This machine is Linux: /proc/meminfo exists and says something
        // positive; the default limit is at most what is available.
        if let Some(avail) = available_bytes() {
            assert!(avail > 0);
            assert!(default_limit() <= avail);
        }
        assert_eq!(bytes(u64::MAX, 2, 1), u64::MAX);
        assert_eq!(bytes(3, 4, 5), 60);
    }
}
