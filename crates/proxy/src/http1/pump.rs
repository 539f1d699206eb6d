//! Copying a message body from one side to the other according to its framing, re-chunking
//! it when the reader expects chunks, in one write per read; the rest of a large raw body
//! between two plain TCP sockets is spliced instead (`super::splice`).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::buf::{ReadBuf, BODY_BUF_SIZE};
use super::chunked::{self, ChunkError, Decoder};
use super::head::Framing;
use super::rate::{self, Pace};
use super::splice::{self, Pipe, Splice};

/// A raw body with at least this much left after what was buffered is spliced, when both
/// sides allow it; a smaller rest takes one read and one write anyway.
const SPLICE_MIN: u64 = 16 * 1024;

/// Which end of a copy is the client, held to its minimum data rate when it has one.
pub(crate) enum Paced<'a> {
    /// The client sends the body.
    Source(Option<&'a mut Pace>),
    /// The client reads it.
    Sink(Option<&'a mut Pace>),
}

/// Where a body copy went wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PumpError {
    /// The sending side failed, closed early or was silent too long.
    #[error("{0}")]
    Read(#[source] io::Error),
    /// The receiving side could not be written to.
    #[error("{0}")]
    Write(#[source] io::Error),
    /// The sending side's chunked coding was malformed.
    #[error("{0}")]
    Chunk(#[source] ChunkError),
}

/// How the body is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encode {
    /// The bytes as they are.
    Raw,
    /// In chunks, ending with the last chunk.
    Chunked,
}

/// Copies a body framed by `framing` from `src` (bytes already read first, from `buf`) to
/// `dst`, writing `prefix` (a head) before it in the same write. Returns the body bytes
/// written. `Framing::UntilClose` ends at the sender's EOF. `source_done` is called with the
/// body's size once all of it has been read, before the last write: what depends only on
/// the sender (its slot, the log line) is settled before the receiver can see the end.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pump<R, W>(
    src: &mut R,
    buf: &mut ReadBuf,
    framing: Framing,
    dst: &mut W,
    encode: Encode,
    prefix: &[u8],
    scratch: &mut Vec<u8>,
    read_timeout: Duration,
    paced: Paced<'_>,
    source_done: &mut dyn FnMut(u64),
) -> Result<u64, PumpError>
where
    R: AsyncRead + Unpin + Splice,
    W: AsyncWrite + Unpin + Splice,
{
    let (mut src_pace, mut dst_pace) = match paced {
        Paced::Source(pace) => (pace, None),
        Paced::Sink(pace) => (None, pace),
    };
    scratch.clear();
    scratch.extend_from_slice(prefix);
    let mut sent: u64 = 0;
    let mut left = match framing {
        Framing::Empty => {
            source_done(0);
            finish(dst, scratch, Encode::Raw, dst_pace.as_deref_mut()).await?;
            return Ok(0);
        }
        Framing::Length(n) => n,
        Framing::Chunked | Framing::UntilClose => u64::MAX,
    };
    let mut decoder = (framing == Framing::Chunked).then(Decoder::default);
    loop {
        // Use what is buffered.
        let mut progressed = false;
        match decoder.as_mut() {
            Some(d) => loop {
                let step = d.step(buf.filled()).map_err(PumpError::Chunk)?;
                if let Some(range) = step.data.clone() {
                    let data = &buf.filled()[range];
                    emit(scratch, data, encode);
                    sent += data.len() as u64;
                }
                buf.consume(step.consumed);
                if d.is_done() {
                    source_done(sent);
                    finish(dst, scratch, encode, dst_pace.as_deref_mut()).await?;
                    return Ok(sent);
                }
                if step.consumed == 0 {
                    break;
                }
                progressed = true;
            },
            None => {
                let n = (buf.len() as u64).min(left) as usize;
                if n > 0 {
                    let data = &buf.filled()[..n];
                    if encode == Encode::Raw && scratch.is_empty() && left > n as u64 {
                        // The middle of a raw body goes out straight from the read buffer.
                        rate::write_all(dst, data, dst_pace.as_deref_mut())
                            .await
                            .map_err(PumpError::Write)?;
                    } else {
                        emit(scratch, data, encode);
                        progressed = true;
                    }
                    buf.consume(n);
                    sent += n as u64;
                    if framing != Framing::UntilClose {
                        left -= n as u64;
                    }
                }
                if left == 0 {
                    source_done(sent);
                    finish(dst, scratch, encode, dst_pace.as_deref_mut()).await?;
                    return Ok(sent);
                }
            }
        }
        if progressed || !scratch.is_empty() {
            rate::write_all(dst, scratch, dst_pace.as_deref_mut())
                .await
                .map_err(PumpError::Write)?;
            scratch.clear();
        }
        // With nothing buffered, the rest of a large raw body may go socket to socket.
        if encode == Encode::Raw && decoder.is_none() && left >= SPLICE_MIN && buf.is_empty() {
            if let (Some(from), Some(to)) = (src.tcp(), dst.tcp()) {
                if let Some(pipe) = Pipe::take() {
                    let len = (framing != Framing::UntilClose).then_some(left);
                    let moved = splice::body(
                        pipe,
                        from,
                        to,
                        len,
                        read_timeout,
                        src_pace,
                        dst_pace,
                        &mut |n| source_done(sent + n),
                    )
                    .await?;
                    return Ok(sent + moved);
                }
            }
        }
        // Read more; a read that fills the buffer asks for a larger one next time.
        let room = buf.room();
        let read = rate::read(
            buf,
            src,
            BODY_BUF_SIZE,
            read_timeout,
            src_pace.as_deref_mut(),
        )
        .await;
        if matches!(read, Ok(Some(n)) if n == room) {
            buf.grow_for_body();
        }
        match read {
            Err(e) => return Err(PumpError::Read(e)),
            Ok(None) => {
                return Err(PumpError::Chunk(ChunkError::BadSize));
            }
            Ok(Some(0)) => {
                if framing == Framing::UntilClose {
                    source_done(sent);
                    finish(dst, scratch, encode, dst_pace.as_deref_mut()).await?;
                    return Ok(sent);
                }
                return Err(PumpError::Read(cut_short()));
            }
            Ok(Some(_)) => {}
        }
    }
}

/// The error of a sender that closed before the end of the body its framing announced.
pub(super) fn cut_short() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "closed before the end of the body",
    )
}

fn emit(scratch: &mut Vec<u8>, data: &[u8], encode: Encode) {
    if data.is_empty() {
        return;
    }
    if encode == Encode::Chunked {
        chunked::chunk_head(scratch, data.len());
        scratch.extend_from_slice(data);
        scratch.extend_from_slice(b"\r\n");
    } else {
        scratch.extend_from_slice(data);
    }
}

async fn finish<W: AsyncWrite + Unpin>(
    dst: &mut W,
    scratch: &mut Vec<u8>,
    encode: Encode,
    pace: Option<&mut Pace>,
) -> Result<(), PumpError> {
    if encode == Encode::Chunked {
        scratch.extend_from_slice(chunked::LAST_CHUNK);
    }
    if !scratch.is_empty() {
        rate::write_all(dst, scratch, pace)
            .await
            .map_err(PumpError::Write)?;
        scratch.clear();
    }
    if scratch.capacity() > 2 * BODY_BUF_SIZE {
        *scratch = Vec::new();
    }
    Ok(())
}
