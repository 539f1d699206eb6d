//! Reading a file in large blocks, splitting it into lines and lines into records.
//!
//! The hot loop works on one block at a time: a line ends at the next `\n` (found from a bit
//! mask of 64 bytes at a time), NUL bytes are looked for once per block, and UTF-8 is
//! validated once per block (by that same pass when the block is all ASCII) and again only
//! from a line that failed. A record is its first line (one the format's parser accepts as a
//! start) and the lines after it that are not starts. A record is handed
//! to the sink once the next start is seen, so a record cut by the end of the block is read
//! again from its first line after the block is refilled; nothing about it is counted until
//! then.

use std::io::{ErrorKind, Read};
use std::path::Path;

use memchr::{memchr, memrchr};

use super::bytes::ByteMap;
use super::{InputError, Record, Sink, Skipped, SourceInfo};
use crate::record::{Line, Request};

/// What a format contributes to the scan.
pub(crate) trait Parser {
    /// What [`Parser::start`] learned about a line, handed back to [`Parser::parse`] so that
    /// nothing is parsed twice.
    type Start: Copy + Default;

    /// Whether `line` (non-empty, valid UTF-8, no NUL) starts a record. By default every
    /// line does (formats without continuation lines).
    #[inline]
    fn start(&mut self, _line: &str) -> Option<Self::Start> {
        Some(Self::Start::default())
    }

    /// Parses a line that [`Parser::start`] accepted. Text that must be decoded (JSON escapes)
    /// goes into `scratch`, which is empty on entry. `None` when the line is unparsable.
    fn parse<'a>(
        &mut self,
        line: &'a str,
        start: Self::Start,
        scratch: &'a mut String,
    ) -> Option<Line<'a>>;

    /// A line that [`Parser::start`] accepted, when it is a request that is not an error and
    /// the parser reads for counts: what [`Parser::parse`] would give, as a [`Request`].
    /// `None` (the default) sends the line to [`Parser::parse`].
    #[inline]
    fn request<'a>(&mut self, _line: &'a str, _start: Self::Start) -> Option<Request<'a>> {
        None
    }
}

/// Bytes read at a time.
pub(crate) const BLOCK: usize = 256 * 1024;
/// A single line longer than this is skipped (counted as unparsable); a record longer than a
/// block is handed on with the continuation lines that fit, and the rest of it is dropped.
pub(crate) const MAX_LINE: usize = 16 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Garbage {
    Binary,
    InvalidUtf8,
}

enum Class<S> {
    Empty,
    Garbage(Garbage),
    Start(S),
    Continuation,
}

impl Garbage {
    fn count(self, skipped: &mut Skipped) {
        match self {
            Garbage::Binary => skipped.binary += 1,
            Garbage::InvalidUtf8 => skipped.invalid_utf8 += 1,
        }
    }
}

/// Lines of one block.
struct Block<'b> {
    buf: &'b [u8],
    /// The block holds the end of the input: its last line is complete without a `\n`.
    eof: bool,
    /// Lines end before this: the byte after the last `\n`, or the end of the data at EOF.
    complete: usize,
    /// `buf[valid_from..valid_until]` is known to be valid UTF-8.
    valid_from: usize,
    valid_until: usize,
    /// The next NUL byte at or after the line being looked at.
    next_nul: usize,
    /// Where the newlines are.
    newlines: &'b ByteMap,
}

impl<'b> Block<'b> {
    /// `newlines` is filled for this block; it is kept by the scanner for the next.
    fn new(buf: &'b [u8], eof: bool, newlines: &'b mut ByteMap) -> Block<'b> {
        let complete = if eof {
            buf.len()
        } else {
            memrchr(b'\n', buf).map_or(0, |n| n + 1)
        };
        let seen = newlines.fill(&buf[..complete], (b'\n', 0));
        // A block of ASCII is valid UTF-8 without another look.
        let (valid_from, valid_until) = match seen.ascii {
            true => (0, complete),
            false => (usize::MAX, 0),
        };
        Block {
            buf,
            eof,
            complete,
            valid_until,
            valid_from,
            next_nul: match seen.y {
                true => memchr(0, &buf[..complete]).unwrap_or(usize::MAX),
                false => usize::MAX,
            },
            newlines,
        }
    }

    /// The line starting at `pos`: (start, end without `\r\n`, start of the next line).
    /// Lines must be asked for in order.
    #[inline]
    fn line(&mut self, pos: usize) -> Option<(usize, usize, usize)> {
        if pos >= self.complete {
            return None;
        }
        let (end, next) = match self.newline(pos) {
            Some(n) => (n, n + 1),
            None => (self.complete, self.complete),
        };
        let end = if end > pos && self.buf[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        Some((pos, end, next))
    }

    /// The first `\n` at or after `pos`, if it ends a complete line.
    #[inline]
    fn newline(&mut self, pos: usize) -> Option<usize> {
        self.newlines.next(pos)
    }

    #[inline(always)]
    fn classify<P: Parser>(&mut self, parser: &mut P, a: usize, b: usize) -> Class<P::Start> {
        if a == b {
            return Class::Empty;
        }
        if self.next_nul < b {
            self.next_nul = memchr(0, &self.buf[b..self.complete]).map_or(usize::MAX, |n| b + n);
            return Class::Garbage(Garbage::Binary);
        }
        match self.text(a, b) {
            Some(line) => match parser.start(line) {
                Some(s) => Class::Start(s),
                None => Class::Continuation,
            },
            None => Class::Garbage(Garbage::InvalidUtf8),
        }
    }

    /// `buf[a..b]` as text, if it is valid UTF-8. Validation runs over the rest of the block
    /// at once, so a block of valid text is checked in one pass.
    #[inline]
    fn text(&mut self, a: usize, b: usize) -> Option<&'b str> {
        if !(self.valid_from <= a && b <= self.valid_until) {
            self.valid_from = a;
            self.valid_until = match simdutf8::compat::from_utf8(&self.buf[a..self.complete]) {
                Ok(_) => self.complete,
                Err(e) => a + e.valid_up_to(),
            };
            if b > self.valid_until {
                return None;
            }
        }
        // SAFETY: `buf[valid_from..valid_until]` was validated as UTF-8 (just above or by an
        // earlier call) and `a..b` lies inside it. `a` is `valid_from` itself or a later line
        // start, which follows a `\n`; `b` is `valid_until` or the position of a `\r` or `\n`.
        // Those are ASCII bytes, never inside a multi-byte sequence, so `a` and `b` fall on
        // character boundaries of that valid text and the slice is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(&self.buf[a..b]) })
    }
}

/// The first block, read before the scan to detect the format.
pub(crate) struct Head {
    /// The block buffer, [`BLOCK`] bytes long.
    pub(crate) buf: Vec<u8>,
    /// Bytes of `buf` that hold data.
    pub(crate) filled: usize,
    /// Offset in the file (or the decompressed stream) of `buf[0]`.
    pub(crate) base: u64,
}

/// What happened to a block.
struct Step {
    /// Bytes that are done with; the rest starts a record that needs more data.
    consumed: usize,
    /// The range is finished.
    done: bool,
}

enum RecordEnd<S> {
    Next((usize, usize, usize, S)),
    End,
    Cut,
    Incomplete,
}

pub(crate) struct Scanner<'s, P, S> {
    parser: P,
    sink: &'s mut S,
    source: &'s SourceInfo,
    pub(crate) skipped: Skipped,
    scratch: String,
    details: String,
    /// The newlines of the block being read, kept from block to block.
    newlines: ByteMap,
    /// Lines before the first record are garbage (`no_timestamp`); false once a record was
    /// seen, and for a range that does not start the file (its first lines belong to the
    /// range before it).
    count_lead: bool,
    /// Lines consumed so far.
    line_no: u64,
}

impl<'s, P: Parser, S: Sink> Scanner<'s, P, S> {
    pub(crate) fn new(
        parser: P,
        source: &'s SourceInfo,
        sink: &'s mut S,
        count_lead: bool,
    ) -> Self {
        Scanner {
            parser,
            sink,
            source,
            skipped: Skipped::default(),
            scratch: String::new(),
            details: String::new(),
            newlines: ByteMap::default(),
            count_lead,
            line_no: 0,
        }
    }

    /// Reads `reader` to the end (or, past `end`, to the next record start), starting with
    /// the bytes already in `head`. A `failure` already met while reading those bytes is
    /// returned once they are scanned.
    pub(crate) fn run(
        &mut self,
        path: &Path,
        reader: &mut dyn Read,
        head: Head,
        end: u64,
        failure: Option<InputError>,
    ) -> Result<(), InputError> {
        let Head {
            mut buf,
            mut filled,
            mut base,
        } = head;
        let mut eof = failure.is_some();
        let mut force = false;
        let mut failure = failure;
        loop {
            while filled < buf.len() && !eof {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => eof = true,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Hand on what came before the failure, then report it.
                        failure = Some(InputError::Read {
                            path: path.to_path_buf(),
                            offset: base + filled as u64,
                            source: e,
                        });
                        eof = true;
                    }
                }
            }
            let end_rel = usize::try_from(end.saturating_sub(base)).unwrap_or(usize::MAX);
            let step = self.process(&buf[..filled], eof, end_rel, force);
            force = false;
            if step.done || eof {
                break;
            }
            if step.consumed == 0 && filled == buf.len() {
                if memchr(b'\n', &buf[..filled]).is_some() {
                    // One record fills the block: hand it on with what fits.
                    force = true;
                } else if buf.len() < MAX_LINE {
                    buf.resize(buf.len() * 2, 0);
                } else {
                    self.skipped.unparsable += 1;
                    self.line_no += 1;
                    let (skipped_bytes, rest) =
                        skip_line(reader, &mut buf, path, base + filled as u64)?;
                    base += (filled + skipped_bytes) as u64;
                    filled = rest;
                    if rest == 0 {
                        eof = true;
                    }
                }
                continue;
            }
            buf.copy_within(step.consumed..filled, 0);
            filled -= step.consumed;
            base += step.consumed as u64;
        }
        super::open::recycle(buf);
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Hands on every record in `buf` that is known to be complete.
    fn process(&mut self, buf: &[u8], eof: bool, end: usize, force: bool) -> Step {
        let mut newlines = std::mem::take(&mut self.newlines);
        let step = self.process_block(Block::new(buf, eof, &mut newlines), end, force);
        self.newlines = newlines;
        step
    }

    fn process_block(&mut self, mut block: Block<'_>, end: usize, force: bool) -> Step {
        let (buf, eof) = (block.buf, block.eof);
        let mut pos = 0;
        let mut line_no = self.line_no;
        let mut next = None;
        loop {
            let (a, b, after, start) = match next.take() {
                Some(found) => found,
                None => {
                    let Some((a, b, after)) = block.line(pos) else {
                        self.line_no = line_no;
                        return Step {
                            consumed: pos,
                            done: eof && pos >= buf.len(),
                        };
                    };
                    match block.classify(&mut self.parser, a, b) {
                        Class::Start(s) => (a, b, after, s),
                        other => {
                            if self.count_lead {
                                match other {
                                    Class::Garbage(g) => g.count(&mut self.skipped),
                                    Class::Continuation => self.skipped.no_timestamp += 1,
                                    _ => {}
                                }
                            }
                            line_no += 1;
                            pos = after;
                            continue;
                        }
                    }
                }
            };
            if a >= end {
                self.line_no = line_no;
                return Step {
                    consumed: pos,
                    done: true,
                };
            }
            let record_line_no = line_no + 1;
            let (ended, lines) = self.record(&mut block, a, b, after, start, record_line_no, force);
            match ended {
                RecordEnd::Incomplete => {
                    self.line_no = line_no;
                    return Step {
                        consumed: pos,
                        done: false,
                    };
                }
                RecordEnd::Next((na, nb, nafter, ns)) => {
                    next = Some((na, nb, nafter, ns));
                    pos = na;
                }
                RecordEnd::End | RecordEnd::Cut => pos = block.complete,
            }
            self.count_lead = false;
            line_no += lines;
        }
    }

    /// Reads the record whose first line is `buf[a..b]` and hands it to the sink. Returns how
    /// it ended and how many lines it took.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        block: &mut Block<'_>,
        a: usize,
        b: usize,
        after: usize,
        start: P::Start,
        line_no: u64,
        force: bool,
    ) -> (RecordEnd<P::Start>, u64) {
        let Scanner {
            parser,
            sink,
            source,
            skipped,
            scratch,
            details,
            ..
        } = self;
        // The first line was checked by `classify`, so this is a cheap re-borrow.
        let text = block.text(a, b).unwrap_or_default();
        // A plain request needs no line (and a format without requests never looks).
        let request = parser.request(text, start);
        let line = match request {
            Some(_) => None,
            None => {
                scratch.clear();
                parser.parse(text, start, scratch)
            }
        };
        let want_details = line.as_ref().is_some_and(Line::is_error);
        details.clear();
        let mut garbage = Skipped::default();
        let mut lines = 1;
        let mut pos = after;
        let ended = loop {
            let Some((ca, cb, cafter)) = block.line(pos) else {
                break if block.eof {
                    RecordEnd::End
                } else if force {
                    RecordEnd::Cut
                } else {
                    RecordEnd::Incomplete
                };
            };
            match block.classify(parser, ca, cb) {
                Class::Start(s) => break RecordEnd::Next((ca, cb, cafter, s)),
                Class::Empty => {}
                Class::Garbage(g) => g.count(&mut garbage),
                Class::Continuation => {
                    if want_details {
                        if !details.is_empty() {
                            details.push('\n');
                        }
                        details.push_str(block.text(ca, cb).unwrap_or_default());
                    }
                }
            }
            lines += 1;
            pos = cafter;
        };
        if let RecordEnd::Incomplete = ended {
            return (ended, 0);
        }
        match line {
            Some(line) => {
                let details = if want_details { details.as_str() } else { "" };
                sink.record(
                    source,
                    &Record {
                        line,
                        details,
                        line_no,
                    },
                );
            }
            None => match request {
                Some(request) => sink.request(source, &request, line_no),
                None => skipped.unparsable += 1,
            },
        }
        skipped.add(&garbage);
        (ended, lines)
    }
}

/// Drops the rest of an over-long line: reads until a `\n`, then moves what follows it to the
/// front of `buf`. Returns the bytes dropped beyond the current `buf` and how many bytes of
/// `buf` are filled afterwards.
fn skip_line(
    reader: &mut dyn Read,
    buf: &mut [u8],
    path: &Path,
    offset: u64,
) -> Result<(usize, usize), InputError> {
    let mut dropped = 0usize;
    loop {
        let n = loop {
            match reader.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(InputError::Read {
                        path: path.to_path_buf(),
                        offset: offset + dropped as u64,
                        source: e,
                    })
                }
            }
        };
        if n == 0 {
            return Ok((dropped, 0));
        }
        if let Some(i) = memchr(b'\n', &buf[..n]) {
            buf.copy_within(i + 1..n, 0);
            return Ok((dropped + i + 1, n - i - 1));
        }
        dropped += n;
    }
}
