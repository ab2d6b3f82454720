//! Philox-4x32-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
//! 1, 2, 3") and the uniform floats TensorFlow's `StatelessRandomUniform`
//! makes of it, 32 counters at a time: with AVX-512 or AVX2 when the CPU
//! has them (chosen at run time), else in plain Rust the compiler
//! vectorises as it can. TensorFlow-free.
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
const LANES: usize = 32;

/// The four words of `LANES` counters, word-major.
type Block = [[u32; LANES]; 4];

/// One Philox-4x32-10 call: the four words for `counter` under `key`.
pub(crate) fn philox(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c: Block = counter.map(|w| [w; LANES]);
    rounds(&mut c, key);
    c.map(|w| w[0])
}

/// Ten rounds on a block, the key raised between rounds. (Lane by lane
/// across the four words' arrays, the shape the compiler vectorises.)
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn rounds(c: &mut Block, key: [u32; 2]) {
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

#[cfg(target_arch = "x86_64")]
mod simd {
    //! The rounds with AVX2 (8 counters a vector) and AVX-512 (16): the
    //! products' high and low words from `mul_epu32` on the even and the
    //! odd lanes, blended back into place.
    use super::{Block, LANES, M0, M1, W0, W1};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    #[allow(clippy::needless_range_loop)]
    pub(super) fn rounds_avx2(c: &mut Block, key: [u32; 2]) {
        const V: usize = LANES / 8;
        let hilo = |x: __m256i, m: __m256i| {
            let even = _mm256_mul_epu32(x, m);
            let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), m);
            let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            (hi, lo)
        };
        let mut w = [[_mm256_setzero_si256(); V]; 4];
        for (word, lanes) in w.iter_mut().zip(c.iter()) {
            for (v, x) in word.iter_mut().enumerate() {
                // SAFETY: lanes 8v .. 8v + 8 of a LANES-array.
                *x = unsafe { _mm256_loadu_si256(lanes.as_ptr().add(8 * v).cast()) };
            }
        }
        let (m0, m1) = (_mm256_set1_epi64x(M0.into()), _mm256_set1_epi64x(M1.into()));
        let (mut k0, mut k1) = (key[0], key[1]);
        for round in 0..10 {
            if round > 0 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
            let (kk0, kk1) = (_mm256_set1_epi32(k0 as i32), _mm256_set1_epi32(k1 as i32));
            for v in 0..V {
                let (hi0, lo0) = hilo(w[0][v], m0);
                let (hi1, lo1) = hilo(w[2][v], m1);
                w[0][v] = _mm256_xor_si256(_mm256_xor_si256(hi1, w[1][v]), kk0);
                w[2][v] = _mm256_xor_si256(_mm256_xor_si256(hi0, w[3][v]), kk1);
                w[1][v] = lo1;
                w[3][v] = lo0;
            }
        }
        for (word, lanes) in w.iter().zip(c.iter_mut()) {
            for (v, x) in word.iter().enumerate() {
                // SAFETY: as the loads.
                unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().add(8 * v).cast(), *x) };
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::needless_range_loop)]
    pub(super) fn rounds_avx512(c: &mut Block, key: [u32; 2]) {
        const V: usize = LANES / 16;
        let hilo = |x: __m512i, m: __m512i| {
            let even = _mm512_mul_epu32(x, m);
            let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(x), m);
            let lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
            let hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64::<32>(even), odd);
            (hi, lo)
        };
        let mut w = [[_mm512_setzero_si512(); V]; 4];
        for (word, lanes) in w.iter_mut().zip(c.iter()) {
            for (v, x) in word.iter_mut().enumerate() {
                // SAFETY: lanes 16v .. 16v + 16 of a LANES-array.
                *x = unsafe { _mm512_loadu_si512(lanes.as_ptr().add(16 * v).cast()) };
            }
        }
        let (m0, m1) = (_mm512_set1_epi64(M0.into()), _mm512_set1_epi64(M1.into()));
        let (mut k0, mut k1) = (key[0], key[1]);
        for round in 0..10 {
            if round > 0 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
            let (kk0, kk1) = (_mm512_set1_epi32(k0 as i32), _mm512_set1_epi32(k1 as i32));
            for v in 0..V {
                let (hi0, lo0) = hilo(w[0][v], m0);
                let (hi1, lo1) = hilo(w[2][v], m1);
                // 0x96: a ^ b ^ c.
                w[0][v] = _mm512_ternarylogic_epi32::<0x96>(hi1, w[1][v], kk0);
                w[2][v] = _mm512_ternarylogic_epi32::<0x96>(hi0, w[3][v], kk1);
                w[1][v] = lo1;
                w[3][v] = lo0;
            }
        }
        for (word, lanes) in w.iter().zip(c.iter_mut()) {
            for (v, x) in word.iter().enumerate() {
                // SAFETY: as the loads.
                unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().add(16 * v).cast(), *x) };
            }
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

/// How the rounds are computed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Plain,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// The fastest path this CPU has.
fn best_path() -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Path::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return Path::Avx2;
        }
    }
    Path::Plain
}

/// `out.len()` uniform floats of the stream of `seed`, as
/// `StatelessRandomUniform` gives them.
pub(crate) fn fill_uniform(seed: [i64; 2], out: &mut [f32]) {
    fill_by(best_path(), seed, out)
}

fn fill_by(path: Path, seed: [i64; 2], out: &mut [f32]) {
    let (key, first) = stream(seed);
    let rounds_of = |c: &mut Block| match path {
        Path::Plain => rounds(c, key),
        // SAFETY: `best_path` (or a test) saw the CPU has the feature.
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe { simd::rounds_avx2(c, key) },
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => unsafe { simd::rounds_avx512(c, key) },
    };
    let mut chunks = out.chunks_exact_mut(4 * LANES);
    let mut b = 0u64;
    for chunk in &mut chunks {
        let c = block(first, b, rounds_of);
        // Output 4 (b LANES + l) + j is word j of lane l.
        for (l, four) in chunk.chunks_exact_mut(4).enumerate() {
            for (j, o) in four.iter_mut().enumerate() {
                *o = to_unit(c[j][l]);
            }
        }
        b += 1;
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let c = block(first, b, rounds_of);
        for (k, o) in rest.iter_mut().enumerate() {
            *o = to_unit(c[k % 4][k / 4]);
        }
    }
}

/// Block `b` of the stream from counter `first`: counters `first + b LANES
/// + l`, through `rounds_of`.
fn block(first: [u32; 4], b: u64, rounds_of: impl Fn(&mut Block)) -> Block {
    let base = skip(first, b * LANES as u64);
    let mut c: Block = [[0; LANES]; 4];
    for (l, lane) in (0..LANES).map(|l| skip(base, l as u64)).enumerate() {
        for (word, x) in c.iter_mut().zip(lane) {
            word[l] = x;
        }
    }
    rounds_of(&mut c);
    c
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
        let mut out = vec![0.0f32; 175];
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

    /// Every path this CPU can take gives the plain path's floats, for
    /// lengths around the block size.
    #[test]
    fn every_path_gives_the_same_floats() {
        let mut paths = vec![Path::Plain];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                paths.push(Path::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                paths.push(Path::Avx512);
            }
        }
        for seed in [[0, 0], [-3, 99], [i64::MAX, i64::MIN]] {
            for n in [0, 1, 127, 128, 129, 1000] {
                let mut expected = vec![0.0f32; n];
                fill_by(Path::Plain, seed, &mut expected);
                for &path in &paths {
                    let mut out = vec![0.0f32; n];
                    fill_by(path, seed, &mut out);
                    assert_eq!(out, expected, "{path:?}, {n} values");
                }
            }
        }
        assert_eq!(paths.last(), Some(&best_path()));
    }
}
