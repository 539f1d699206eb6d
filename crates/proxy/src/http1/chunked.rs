//! The chunked transfer coding, read strictly and written anew: sizes are hex digits only
//! (no sign, no overflow), extensions are skipped, trailers are read and dropped. A body is
//! re-chunked on the way out, so what the other side reads never depends on a lenient parser.

use std::ops::Range;

/// Longest chunk-size line accepted, extensions included.
const MAX_LINE: usize = 4096;
/// Most trailer bytes accepted after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChunkError {
    #[error("invalid chunk size line")]
    BadSize,
    #[error("chunk size too large")]
    TooLarge,
    #[error("chunk data not followed by CRLF")]
    MissingCrlf,
    #[error("malformed or oversized trailer section")]
    BadTrailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers(usize),
    Done,
}

/// One step of decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// Input bytes used by this step.
    pub consumed: usize,
    /// Body data within the input, if this step reached some.
    pub data: Option<Range<usize>>,
}

/// Incremental chunked decoder.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    state: State,
}

impl Decoder {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`. A step that consumes nothing and is not done needs more input.
    pub fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        let none = |consumed| {
            Ok(Step {
                consumed,
                data: None,
            })
        };
        match self.state {
            State::Done => none(0),
            State::Size => {
                let Some(line_end) = find_crlf(input, MAX_LINE)? else {
                    return none(0);
                };
                let size = parse_size(&input[..line_end])?;
                self.state = if size == 0 {
                    State::Trailers(0)
                } else {
                    State::Data(size)
                };
                none(line_end + 2)
            }
            State::Data(left) => {
                if input.is_empty() {
                    return none(0);
                }
                let n = (input.len() as u64).min(left) as usize;
                self.state = if n as u64 == left {
                    State::DataEnd
                } else {
                    State::Data(left - n as u64)
                };
                Ok(Step {
                    consumed: n,
                    data: Some(0..n),
                })
            }
            State::DataEnd => {
                if input.len() < 2 {
                    if input.first().is_some_and(|b| *b != b'\r') {
                        return Err(ChunkError::MissingCrlf);
                    }
                    return none(0);
                }
                if &input[..2] != b"\r\n" {
                    return Err(ChunkError::MissingCrlf);
                }
                self.state = State::Size;
                none(2)
            }
            State::Trailers(seen) => {
                let Some(line_end) =
                    find_crlf(input, MAX_TRAILERS - seen).map_err(|_| ChunkError::BadTrailers)?
                else {
                    return none(0);
                };
                if line_end == 0 {
                    self.state = State::Done;
                } else {
                    let line = &input[..line_end];
                    if !line.contains(&b':') || line.iter().any(|b| *b == 0 || *b == b'\r') {
                        return Err(ChunkError::BadTrailers);
                    }
                    self.state = State::Trailers(seen + line_end + 2);
                }
                none(line_end + 2)
            }
        }
    }
}

/// Index of the CRLF ending the first line, if complete; a bare LF or CR, or a line longer
/// than `max`, is an error.
fn find_crlf(input: &[u8], max: usize) -> Result<Option<usize>, ChunkError> {
    let window = &input[..input.len().min(max + 2)];
    match memchr::memchr(b'\n', window) {
        Some(i) if i > 0 && window[i - 1] == b'\r' => {
            if window[..i - 1].contains(&b'\r') {
                Err(ChunkError::BadSize)
            } else {
                Ok(Some(i - 1))
            }
        }
        Some(_) => Err(ChunkError::BadSize),
        None if input.len() > max + 1 => Err(ChunkError::BadSize),
        None => Ok(None),
    }
}

/// `1a`, `1A;name=value`, `5 ; ext`: hex digits, then optional extensions.
fn parse_size(line: &[u8]) -> Result<u64, ChunkError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkError::BadSize);
    }
    if digits > 16 {
        return Err(ChunkError::TooLarge);
    }
    let mut size: u64 = 0;
    for b in &line[..digits] {
        let d = (*b as char).to_digit(16).ok_or(ChunkError::BadSize)? as u64;
        size = size.checked_mul(16).ok_or(ChunkError::TooLarge)? + d;
    }
    let rest = &line[digits..];
    let after_ws = rest
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .map_or(&rest[rest.len()..], |p| &rest[p..]);
    if !after_ws.is_empty() && after_ws[0] != b';' {
        return Err(ChunkError::BadSize);
    }
    if after_ws
        .iter()
        .any(|b| *b < 0x20 && *b != b'\t' || *b == 0x7f)
    {
        return Err(ChunkError::BadSize);
    }
    Ok(size)
}

/// Writes the head of one chunk of `len` bytes.
pub(crate) fn chunk_head(out: &mut Vec<u8>, len: usize) {
    super::buf::write_hex(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body (no trailers).
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Whether `input` holds a whole chunked body (or one malformed enough that reading on is
/// pointless: the copy reports it).
pub(crate) fn complete(input: &[u8]) -> bool {
    let mut decoder = Decoder::default();
    let mut at = 0;
    loop {
        match decoder.step(&input[at..]) {
            Err(_) => return true,
            Ok(step) => {
                at += step.consumed;
                if decoder.is_done() {
                    return true;
                }
                if step.consumed == 0 {
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes all of `input`, feeding it `step` bytes at a time.
    fn decode(input: &[u8], feed: usize) -> Result<(Vec<u8>, bool), ChunkError> {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut fed = 0;
        loop {
            let s = d.step(&pending)?;
            if let Some(r) = s.data.clone() {
                out.extend_from_slice(&pending[r]);
            }
            pending.drain(..s.consumed);
            if d.is_done() {
                return Ok((out, true));
            }
            if s.consumed == 0 {
                if fed >= input.len() {
                    return Ok((out, false));
                }
                let end = (fed + feed).min(input.len());
                pending.extend_from_slice(&input[fed..end]);
                fed = end;
            }
        }
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-t: 1\r\n\r\n";
        for feed in [1, 2, 3, 7, 100] {
            assert_eq!(
                decode(body, feed).unwrap(),
                (b"hello, world".to_vec(), true)
            );
        }
    }

    #[test]
    fn refuses_what_could_be_read_two_ways() {
        for bad in [
            &b"-5\r\nhello\r\n0\r\n\r\n"[..],
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"5;a\0b\r\nhello\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"0\r\nbad trailer\r\n\r\n",
        ] {
            assert!(
                decode(bad, 3).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            decode(b"11111111111111111\r\n", 64),
            Err(ChunkError::TooLarge)
        );
        assert_eq!(
            decode(b"ffffffffffffffff\r\n", 64).unwrap(),
            (Vec::new(), false)
        );
    }

    #[test]
    fn an_endless_size_line_is_refused() {
        let long = vec![b'1'; 10];
        let mut line = long.clone();
        line.extend(std::iter::repeat_n(b';', MAX_LINE + 10));
        assert!(decode(&line, 512).is_err());
    }
}
