//! Byte searches for the hot loops, 16 or 64 bytes at a time with SSE2 (part of every x86_64
//! CPU), with plain loops elsewhere.

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

/// Bit `i` of `xs[w]` is set when `buf[64 * w + i]` is `x`, and likewise for `y` in `ys`,
/// over all of `buf` (which must be at least 64 and at most `64 * N` bytes long); returns the
/// number of words used. The last, partial word is read as the last 64 bytes of `buf`,
/// shifted.
#[inline]
pub(crate) fn line_masks<const N: usize>(
    buf: &[u8],
    (x, y): (u8, u8),
    xs: &mut [u64; N],
    ys: &mut [u64; N],
) -> usize {
    debug_assert!(buf.len() >= 64 && buf.len() <= 64 * N);
    let words = buf.len().div_ceil(64);
    for (w, chunk) in buf.chunks_exact(64).enumerate() {
        let chunk = chunk.try_into().expect("64 bytes");
        (xs[w], ys[w]) = (mask64(chunk, x), mask64(chunk, y));
    }
    let rest = buf.len() % 64;
    if rest > 0 {
        let last: &[u8; 64] = buf[buf.len() - 64..].try_into().expect("64 bytes");
        xs[words - 1] = mask64(last, x) >> (64 - rest);
        ys[words - 1] = mask64(last, y) >> (64 - rest);
    }
    words
}

/// Positions of one byte, asked for in increasing order, found 64 bytes at a time.
pub(crate) struct Finder<'b> {
    buf: &'b [u8],
    byte: u8,
    window: usize,
    mask: u64,
}

impl<'b> Finder<'b> {
    pub(crate) fn new(buf: &'b [u8], byte: u8) -> Finder<'b> {
        Finder {
            buf,
            byte,
            window: 0,
            mask: byte_mask(buf, 0, byte),
        }
    }

    /// The first position at or after `pos` that holds the byte.
    #[inline]
    pub(crate) fn next(&mut self, pos: usize) -> Option<usize> {
        if pos.wrapping_sub(self.window) >= 64 {
            self.window = pos & !63;
            self.mask = byte_mask(self.buf, self.window, self.byte);
        }
        let mut m = self.mask & (u64::MAX << (pos - self.window));
        while m == 0 {
            self.window += 64;
            if self.window >= self.buf.len() {
                return None;
            }
            self.mask = byte_mask(self.buf, self.window, self.byte);
            m = self.mask;
        }
        Some(self.window + m.trailing_zeros() as usize)
    }
}

/// The first `x` or `y` in `b[from..]`. Short runs (JSON keys and values) end within the
/// first 16 bytes, where a call into a general search would cost more than the search.
#[inline]
pub(crate) fn find2(x: u8, y: u8, b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = b.get(i..i + 16) {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads exactly the 16
        // bytes of `chunk`.
        let m = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr() as *const __m128i);
            let hits = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(x as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(y as i8)),
            );
            _mm_movemask_epi8(hits) as u32
        };
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

    #[test]
    fn masks_and_finds_match_plain_loops() {
        let mut data = Vec::new();
        for i in 0..300u32 {
            data.push(match i % 37 {
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
            let mut f = Finder::new(&data, b'"');
            let want = data[at..].iter().position(|&c| c == b'"').map(|n| at + n);
            assert_eq!(f.next(at), want, "at {at}");
            if let Some(w) = want {
                assert_eq!(
                    f.next(w + 1),
                    data[w + 1..]
                        .iter()
                        .position(|&c| c == b'"')
                        .map(|n| w + 1 + n)
                );
            }
            let want = data[at..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\')
                .map(|n| at + n);
            assert_eq!(find2(b'"', b'\\', &data, at), want, "at {at}");
        }
        for len in 64..data.len().min(256) {
            let (mut xs, mut ys) = ([0u64; 4], [0u64; 4]);
            let words = line_masks(&data[..len], (b'"', b'\\'), &mut xs, &mut ys);
            assert_eq!(words, len.div_ceil(64));
            for (i, &c) in data[..len].iter().enumerate() {
                assert_eq!(
                    xs[i / 64] >> (i % 64) & 1 == 1,
                    c == b'"',
                    "len {len} at {i}"
                );
                assert_eq!(
                    ys[i / 64] >> (i % 64) & 1 == 1,
                    c == b'\\',
                    "len {len} at {i}"
                );
            }
            if len % 64 != 0 {
                assert_eq!(xs[words - 1] >> (len % 64), 0, "no bits past the end");
            }
        }
        assert_eq!(find2(b'"', b'\\', b"abc", 3), None);
        assert_eq!(find2(b'"', b'\\', b"abc", 9), None);
    }
}
