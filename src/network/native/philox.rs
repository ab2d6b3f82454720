//! Philox-4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
//! 1, 2, 3") and the uniform floats TensorFlow's `StatelessRandomUniform`
//! makes of it, eight counters at a time so that the compiler vectorises
//! the rounds. TensorFlow-free.
//!
//! What `StatelessRandomUniform` computes for a seed `[s0, s1]` (int64):
//! the key `[0x3ec8f720, 0x02461e29]` and the counter `[lo s0, hi s0, lo
//! s1, hi s1]` are mixed by one Philox call `m`; the stream then has key
//! `[m0, m1]` and counter `[0, 0, m2, m3]`. Output `4g + j` is word `j` of
//! the Philox call at that counter plus `g` (a 128-bit add), as the float
//! `1.mantissa - 1` built from its low 23 bits: uniform on [0, 1) in steps
//! of 2^-23.

/// The rounds' multipliers and the key's increments (the Weyl sequence).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Counters per block.
const LANES: usize = 8;

/// One Philox-4x32-10 call: the four words for `counter` under `key`.
pub(crate) fn philox(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter.map(|w| [w; LANES]);
    rounds(&mut c, key);
    c.map(|w| w[0])
}

/// Ten rounds on `LANES` counters at once (word-major), the key raised
/// between rounds. (Lane by lane across the four words' arrays, the shape
/// the compiler vectorises.)
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn rounds(c: &mut [[u32; LANES]; 4], key: [u32; 2]) {
    let (mut k0, mut k1) = (key[0], key[1]);
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        for l in 0..LANES {
            let p0 = u64::from(M0) * u64::from(c[0][l]);
            let p1 = u64::from(M1) * u64::from(c[2][l]);
            let (c1, c3) = (c[1][l], c[3][l]);
            c[0][l] = ((p1 >> 32) as u32) ^ c1 ^ k0;
            c[1][l] = p1 as u32;
            c[2][l] = ((p0 >> 32) as u32) ^ c3 ^ k1;
            c[3][l] = p0 as u32;
        }
    }
}

/// The key and first counter of the stream of seed `[s0, s1]`.
pub(crate) fn stream(seed: [i64; 2]) -> ([u32; 2], [u32; 4]) {
    let (s0, s1) = (seed[0] as u64, seed[1] as u64);
    let m = philox(
        [s0 as u32, (s0 >> 32) as u32, s1 as u32, (s1 >> 32) as u32],
        [0x3ec8_f720, 0x0246_1e29],
    );
    ([m[0], m[1]], [0, 0, m[2], m[3]])
}

/// `counter + g` as a 128-bit number in four little-endian words.
fn skip(counter: [u32; 4], g: u64) -> [u32; 4] {
    let low = (u64::from(counter[1]) << 32 | u64::from(counter[0])) as u128;
    let high = (u64::from(counter[3]) << 32 | u64::from(counter[2])) as u128;
    let x = (high << 64 | low).wrapping_add(u128::from(g));
    [
        x as u32,
        (x >> 32) as u32,
        (x >> 64) as u32,
        (x >> 96) as u32,
    ]
}

fn to_unit(x: u32) -> f32 {
    f32::from_bits((x & 0x007f_ffff) | 0x3f80_0000) - 1.0
}

/// `out.len()` uniform floats of the stream of `seed`, as
/// `StatelessRandomUniform` gives them.
pub(crate) fn fill_uniform(seed: [i64; 2], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { fill_avx2(seed, out) };
    }
    fill_any(seed, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2(seed: [i64; 2], out: &mut [f32]) {
    fill_any(seed, out)
}

#[inline(always)]
fn fill_any(seed: [i64; 2], out: &mut [f32]) {
    let (key, first) = stream(seed);
    let per_block = 4 * LANES;
    for (b, chunk) in out.chunks_mut(per_block).enumerate() {
        let mut c = [[0u32; LANES]; 4];
        for l in 0..LANES {
            let w = skip(first, (b * LANES + l) as u64);
            for (word, &x) in c.iter_mut().zip(&w) {
                word[l] = x;
            }
        }
        rounds(&mut c, key);
        // Output 4 (b LANES + l) + j is word j of lane l.
        for (k, o) in chunk.iter_mut().enumerate() {
            *o = to_unit(c[k % 4][k / 4]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known answers of Random123 (its `kat_vectors`) for
    /// Philox-4x32-10.
    #[test]
    fn philox_gives_the_known_answers() {
        assert_eq!(
            philox([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    /// The blocked fill gives, value by value, what one Philox call per
    /// group of four gives; a length that is not a multiple of four or of
    /// a block ends early, and the 128-bit counter carries.
    #[test]
    fn the_fill_is_one_call_per_group_of_four() {
        let seed = [12345, -7];
        let (key, first) = stream(seed);
        let mut out = vec![0.0f32; 75];
        fill_uniform(seed, &mut out);
        for (k, &x) in out.iter().enumerate() {
            let w = philox(skip(first, (k / 4) as u64), key);
            assert_eq!(x.to_bits(), to_unit(w[k % 4]).to_bits(), "value {k}");
            assert!((0.0..1.0).contains(&x));
        }
        assert_eq!(skip([u32::MAX, u32::MAX, 5, 0], 1), [0, 0, 6, 0]);
        assert_eq!(to_unit(0), 0.0);
        assert_eq!(to_unit(u32::MAX), 1.0 - f32::EPSILON);
    }
}
