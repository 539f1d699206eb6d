//! Byte searches for the hot loops, 16 or 64 bytes at a time with SSE2 (part of every x86_64
//! CPU) and, for the masks made over a whole block or line, 64 bytes at a time with AVX-512 or
//! 32 with AVX2 when the CPU has them (checked at run time); plain loops elsewhere.

/// Bit `i` is set when `buf[at + i]` is `byte` (bytes past the end count as not).
#[inline]
pub(crate) fn byte_mask(buf: &[u8], at: usize, byte: u8) -> u64 {
    match buf.get(at..at + 64) {
        Some(chunk) => mask64(chunk.try_into().expect("64 bytes"), byte),
        None => buf
            .get(at..)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .fold(0, |m, (i, &c)| m | ((c == byte) as u64) << i),
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn mask64(chunk: &[u8; 64], byte: u8) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let p = chunk.as_ptr() as *const __m128i;
    // SAFETY: SSE2 is part of the x86_64 baseline, and the four unaligned 16-byte loads read
    // exactly the 64 bytes of `chunk`.
    unsafe {
        let want = _mm_set1_epi8(byte as i8);
        let m = |k: usize| {
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(k)), want)) as u32 as u64
        };
        m(0) | m(1) << 16 | m(2) << 32 | m(3) << 48
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn mask64(chunk: &[u8; 64], byte: u8) -> u64 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |m, (i, &c)| m | ((c == byte) as u64) << i)
}

/// What a pass that makes masks saw of the buffer besides them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The second byte asked about occurs somewhere.
    pub(crate) y: bool,
    /// Every byte is ASCII (below 0x80), so the buffer is valid UTF-8.
    pub(crate) ascii: bool,
}

/// Writes the mask of `x` for every 64 bytes of `buf` into `out` in turn (bit `i` of `out[w]`
/// is set when `buf[64 * w + i]` is `x`); says whether `buf` holds a `y` anywhere and whether
/// it is all ASCII. `out` holds at least one word for every 64 bytes (or part of them). With
/// AVX-512 or AVX2 (checked once per call, at run time) each 64 bytes take one load or two.
#[inline]
fn masks(buf: &[u8], (x, y): (u8, u8), out: &mut [u64]) -> Seen {
    assert!(out.len() >= buf.len().div_ceil(64));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: AVX-512 BW (and so F) was just detected.
        return unsafe { avx512::masks(buf, (x, y), out) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just detected.
        return unsafe { avx2::masks(buf, (x, y), out) };
    }
    masks_16(buf, (x, y), out)
}

/// [`masks`] 16 bytes at a time.
fn masks_16(buf: &[u8], (x, y): (u8, u8), out: &mut [u64]) -> Seen {
    let mut ys = 0;
    let whole = buf.len() / 64;
    for (chunk, o) in buf.chunks_exact(64).zip(out.iter_mut()) {
        let chunk = chunk.try_into().expect("64 bytes");
        *o = mask64(chunk, x);
        ys |= mask64(chunk, y);
    }
    let rest = buf.len() % 64;
    if rest > 0 {
        match buf.len().checked_sub(64) {
            Some(from) => {
                let last: &[u8; 64] = buf[from..].try_into().expect("64 bytes");
                out[whole] = mask64(last, x) >> (64 - rest);
                ys |= mask64(last, y);
            }
            None => {
                out[whole] = byte_mask(buf, 0, x);
                ys |= byte_mask(buf, 0, y);
            }
        }
    }
    Seen {
        y: ys != 0,
        ascii: buf.is_ascii(),
    }
}

/// Bit `i` of `xs[w]` is set when `buf[64 * w + i]` is `x`, over all of `buf` (at most
/// `64 * N` bytes); returns the number of words used, or `None` when `buf` holds a `y`.
#[inline]
pub(crate) fn masks_without<const N: usize>(
    buf: &[u8],
    (x, y): (u8, u8),
    xs: &mut [u64; N],
) -> Option<usize> {
    let seen = masks(buf, (x, y), xs);
    (!seen.y).then_some(buf.len().div_ceil(64))
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256, _mm256_testz_si256,
    };

    /// Where `x` is in the 64 bytes at `c` as a mask; `y` is added to the running `ys` and
    /// the bytes themselves to the running `all` (whose top bits say whether any is not ASCII).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn chunk(
        c: &[u8; 64],
        want_x: __m256i,
        want_y: __m256i,
        ys: &mut __m256i,
        all: &mut __m256i,
    ) -> u64 {
        let p = c.as_ptr() as *const __m256i;
        // SAFETY: the two unaligned 32-byte loads read exactly the 64 bytes of `c`.
        let (lo, hi) = unsafe { (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1))) };
        *all = _mm256_or_si256(*all, _mm256_or_si256(lo, hi));
        *ys = _mm256_or_si256(
            *ys,
            _mm256_or_si256(_mm256_cmpeq_epi8(lo, want_y), _mm256_cmpeq_epi8(hi, want_y)),
        );
        let m = |v| _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, want_x)) as u32 as u64;
        m(lo) | m(hi) << 32
    }

    /// [`super::masks`] 32 bytes at a time.
    #[target_feature(enable = "avx2")]
    pub(super) fn masks(buf: &[u8], (x, y): (u8, u8), out: &mut [u64]) -> super::Seen {
        let (want_x, want_y) = (_mm256_set1_epi8(x as i8), _mm256_set1_epi8(y as i8));
        let (mut ys, mut all) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for (c, o) in buf.chunks_exact(64).zip(out.iter_mut()) {
            *o = chunk(
                c.try_into().expect("64 bytes"),
                want_x,
                want_y,
                &mut ys,
                &mut all,
            );
        }
        let rest = buf.len() % 64;
        if rest > 0 {
            let Some(from) = buf.len().checked_sub(64) else {
                // Under 64 bytes in all: no 64 to load.
                return super::masks_16(buf, (x, y), out);
            };
            let last = buf[from..].try_into().expect("64 bytes");
            out[buf.len() / 64] = chunk(last, want_x, want_y, &mut ys, &mut all) >> (64 - rest);
        }
        super::Seen {
            y: _mm256_testz_si256(ys, ys) == 0,
            ascii: _mm256_movemask_epi8(all) == 0,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_maskz_loadu_epi8, _mm512_movepi8_mask,
        _mm512_set1_epi8,
    };

    /// [`super::masks`] 64 bytes at a time, each compare giving its mask at once; the last,
    /// partial 64 with a masked load, which reads only the bytes that are there.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn masks(buf: &[u8], (x, y): (u8, u8), out: &mut [u64]) -> super::Seen {
        let (want_x, want_y) = (_mm512_set1_epi8(x as i8), _mm512_set1_epi8(y as i8));
        let (mut ys, mut high) = (0u64, 0u64);
        // `there`: the bytes of `v` that are in `buf`.
        let mut chunk = |v, there: u64| {
            ys |= _mm512_cmpeq_epi8_mask(v, want_y) & there;
            high |= _mm512_movepi8_mask(v) & there;
            _mm512_cmpeq_epi8_mask(v, want_x) & there
        };
        for (c, o) in buf.chunks_exact(64).zip(out.iter_mut()) {
            // SAFETY: the load reads exactly the 64 bytes of `c`.
            *o = chunk(unsafe { _mm512_loadu_si512(c.as_ptr().cast()) }, u64::MAX);
        }
        let rest = buf.len() % 64;
        if rest > 0 {
            let last = &buf[buf.len() - rest..];
            let there = (1u64 << rest) - 1;
            // SAFETY: the mask lets the load read only the `rest` bytes of `last`; the others
            // are not touched (they read as zero, and `there` leaves them out).
            let v = unsafe { _mm512_maskz_loadu_epi8(there, last.as_ptr().cast()) };
            out[buf.len() / 64] = chunk(v, there);
        }
        super::Seen {
            y: ys != 0,
            ascii: high == 0,
        }
    }
}

/// Where one byte is in a block: a bit mask for each 64 bytes, made in one pass (with AVX2
/// when the CPU has it), so that consecutive short lines cost a few instructions each rather
/// than a search each. Kept by a scanner and filled again for each block.
#[derive(Default)]
pub(crate) struct ByteMap {
    words: Vec<u64>,
}

impl ByteMap {
    /// Maps where `x` is in `buf`; says whether `buf` holds a `y` anywhere and whether it is
    /// all ASCII.
    pub(crate) fn fill(&mut self, buf: &[u8], (x, y): (u8, u8)) -> Seen {
        self.words.clear();
        self.words.resize(buf.len().div_ceil(64), 0);
        masks(buf, (x, y), &mut self.words)
    }

    /// The first position at or after `pos` that holds the byte.
    #[inline]
    pub(crate) fn next(&self, pos: usize) -> Option<usize> {
        let mut w = pos / 64;
        let mut m = *self.words.get(w)? & (u64::MAX << (pos % 64));
        while m == 0 {
            w += 1;
            m = *self.words.get(w)?;
        }
        Some(w * 64 + m.trailing_zeros() as usize)
    }
}

/// Bit `i` is set when `c[i]` is `x` or `y`: one 16-byte compare with SSE2 (part of every
/// x86_64 CPU), a plain loop elsewhere.
#[inline(always)]
fn mask16_of2(c: &[u8; 16], x: u8, y: u8) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads exactly the 16
        // bytes of `c`.
        unsafe {
            let v = _mm_loadu_si128(c.as_ptr() as *const __m128i);
            let hits = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(x as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(y as i8)),
            );
            _mm_movemask_epi8(hits) as u32
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        c.iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | u32::from(b == x || b == y) << i)
    }
}

/// Whether `b` (16 to 32 bytes long) holds neither `x` nor `y`: two 16-byte compares, the
/// first and the last 16 bytes.
#[inline(always)]
pub(crate) fn none_of2(x: u8, y: u8, b: &[u8]) -> bool {
    debug_assert!((16..=32).contains(&b.len()));
    match (b.first_chunk::<16>(), b.last_chunk::<16>()) {
        (Some(head), Some(tail)) => mask16_of2(head, x, y) | mask16_of2(tail, x, y) == 0,
        _ => !b.iter().any(|&c| c == x || c == y),
    }
}

/// The first `x` or `y` in `b[from..]`. Short runs (JSON keys and values) end within the
/// first 16 bytes, where a call into a general search would cost more than the search; so
/// does a call to this one, which is always inlined.
#[inline(always)]
pub(crate) fn find2(x: u8, y: u8, b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 16) {
        let m = mask16_of2(chunk.try_into().expect("16 bytes"), x, y);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == x || c == y)
        .map(|n| i + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`masks`] (with AVX-512 or AVX2 where the CPU has it) and [`masks_16`]: each one's
    /// masks and what it saw.
    fn both(buf: &[u8], pair: (u8, u8)) -> ((Vec<u64>, Seen), (Vec<u64>, Seen)) {
        let words = buf.len().div_ceil(64);
        let (mut fast, mut sse2) = (vec![0; words], vec![0; words]);
        let fast_seen = masks(buf, pair, &mut fast);
        let sse2_seen = masks_16(buf, pair, &mut sse2);
        // The AVX2 pass too, where the CPU has it and `masks` took the AVX-512 one.
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut avx2 = vec![0; words];
            // SAFETY: AVX2 was just detected.
            let avx2_seen = unsafe { avx2::masks(buf, pair, &mut avx2) };
            assert_eq!(
                (&avx2, avx2_seen),
                (&sse2, sse2_seen),
                "AVX2, {} bytes",
                buf.len()
            );
        }
        ((fast, fast_seen), (sse2, sse2_seen))
    }

    #[test]
    fn masks_and_finds_match_plain_loops() {
        let mut data = Vec::new();
        for i in 0..300u32 {
            data.push(match i % 37 {
                // One byte that is not ASCII: shorter prefixes are all ASCII, longer ones not.
                _ if i == 200 => 0xc3,
                0 => b'\n',
                5 => b'"',
                11 => b'\\',
                _ => b'a' + (i % 26) as u8,
            });
        }
        for at in 0..data.len() {
            let want = data[at..]
                .iter()
                .take(64)
                .enumerate()
                .fold(0u64, |m, (i, &c)| m | ((c == b'\n') as u64) << i);
            assert_eq!(byte_mask(&data, at, b'\n'), want, "at {at}");
            for len in [at, at + 1, data.len().min(at + 70), data.len()] {
                let mut map = ByteMap::default();
                let seen = map.fill(&data[..len], (b'"', b'\\'));
                assert_eq!(seen.y, data[..len].contains(&b'\\'), "len {len}");
                assert_eq!(seen.ascii, data[..len].is_ascii(), "len {len}");
                let (fast, sse2) = both(&data[..len], (b'"', b'\\'));
                assert_eq!(fast, sse2, "len {len}");
                assert_eq!((map.words.clone(), seen), fast, "len {len}");
                // As a block's newline map asks: NUL as the second byte.
                let (lines, lines_sse2) = both(&data[..len], (b'\n', 0));
                assert_eq!(lines, lines_sse2, "len {len}");
                let want = data[at..len]
                    .iter()
                    .position(|&c| c == b'"')
                    .map(|n| at + n);
                assert_eq!(map.next(at), want, "at {at} len {len}");
            }
            let want = data[at..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\')
                .map(|n| at + n);
            assert_eq!(find2(b'"', b'\\', &data, at), want, "at {at}");
        }
        for len in 64..data.len().min(256) {
            let mut xs = [0u64; 4];
            let slashed = data[..len].contains(&b'\\');
            let words = masks_without(&data[..len], (b'"', b'\\'), &mut xs);
            assert_eq!(words, (!slashed).then_some(len.div_ceil(64)), "len {len}");
            let (fast, sse2) = both(&data[..len], (b'"', b'#'));
            assert_eq!(fast, sse2, "len {len}");
            let words = masks_without(&data[..len], (b'"', b'#'), &mut xs);
            assert_eq!(words, Some(len.div_ceil(64)));
            assert_eq!(xs[..len.div_ceil(64)].to_vec(), fast.0, "len {len}");
            assert!(!fast.1.y);
            let words = len.div_ceil(64);
            for (i, &c) in data[..len].iter().enumerate() {
                assert_eq!(
                    xs[i / 64] >> (i % 64) & 1 == 1,
                    c == b'"',
                    "len {len} at {i}"
                );
            }
            if len % 64 != 0 {
                assert_eq!(xs[words - 1] >> (len % 64), 0, "no bits past the end");
            }
        }
        for len in 16..=32 {
            for at in 0..data.len() - len {
                let s = &data[at..at + len];
                let want = !s.iter().any(|&c| c == b'"' || c == b'\\');
                assert_eq!(none_of2(b'"', b'\\', s), want, "at {at} len {len}");
            }
        }
        assert_eq!(find2(b'"', b'\\', b"abc", 3), None);
        assert_eq!(find2(b'"', b'\\', b"abc", 9), None);
    }
}
