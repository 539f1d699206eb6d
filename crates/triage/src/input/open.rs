//! Opening a file for a scan, one way per start: the whole file from its first byte (maybe
//! gzip-compressed, maybe with a byte order mark), or a plain file from inside, after the line
//! that the range's start cuts.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::scan::{Head, BLOCK};
use super::{detect, read_full, Format, InputError, InputOptions, SAMPLE};

thread_local! {
    /// The block buffer of the scan this thread finished last. Each range of a file is a scan
    /// of its own; reusing the buffer spares each one a fresh allocation, which the allocator
    /// may take from new pages that the kernel must clear first.
    static SPARE: Cell<Option<Vec<u8>>> = const { Cell::new(None) };
}

/// A block buffer of [`BLOCK`] bytes (whatever they hold).
fn block_buffer() -> Vec<u8> {
    SPARE
        .take()
        .filter(|b| b.len() == BLOCK)
        .unwrap_or_else(|| vec![0u8; BLOCK])
}

/// Keeps a scan's block buffer for the next scan on this thread (unless a long line grew it).
pub(super) fn recycle(buf: Vec<u8>) {
    if buf.len() == BLOCK {
        SPARE.set(Some(buf));
    }
}

/// A file opened for a scan: positioned after its first block, which is read already.
pub(super) struct Opened {
    pub(super) reader: Box<dyn Read>,
    pub(super) head: Head,
    pub(super) format: Format,
    /// A read error met while reading the first block; the bytes before it are scanned first.
    pub(super) failure: Option<InputError>,
}

impl Opened {
    /// From the start of the file, decompressed when `gz`: the first block, without a UTF-8
    /// byte order mark, tells the format unless the options name it.
    pub(super) fn at_start(
        file: File,
        gz: bool,
        options: &InputOptions,
        read_error: impl Fn(u64, io::Error) -> InputError,
    ) -> Opened {
        let mut reader: Box<dyn Read> = if gz {
            let buffered = BufReader::with_capacity(BLOCK, file);
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else {
            Box::new(file)
        };
        let mut buf = block_buffer();
        // A read error here still leaves the bytes before it to scan; the scanner reports it.
        let (mut filled, mut failure) = (0, None);
        while filled < SAMPLE {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(read_error(filled as u64, e));
                    break;
                }
            }
        }
        // A UTF-8 byte order mark is not part of the first line.
        let bom = if buf[..filled].starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        buf.copy_within(bom..filled, 0);
        filled -= bom;
        let format = match options.format_hint {
            Some(f) => f,
            None if options.needs_detect() => detect(&buf[..filled.min(SAMPLE)]),
            None => Format::Plain,
        };
        Opened {
            reader,
            head: Head {
                buf,
                filled,
                base: bom as u64,
            },
            format,
            failure,
        }
    }

    /// From byte `start` (> 0) of a plain file: the line that `start` cuts, or ends, belongs to
    /// the range before and is skipped. The format comes from the start of the file.
    pub(super) fn within(
        mut file: File,
        start: u64,
        options: &InputOptions,
        read_error: impl Fn(u64, io::Error) -> InputError,
    ) -> Result<Opened, InputError> {
        let mut buf = block_buffer();
        let format = match options.format_hint {
            Some(f) => f,
            None if options.needs_detect() => {
                let got = read_full(&mut file, &mut buf[..SAMPLE]).map_err(|e| read_error(0, e))?;
                detect(&buf[..got])
            }
            None => Format::Plain,
        };
        // Start at the byte before the range: the line it ends (or cuts) is the range before's.
        let from = start - 1;
        file.seek(SeekFrom::Start(from))
            .map_err(|e| read_error(from, e))?;
        let mut reader: Box<dyn Read> = Box::new(file);
        let mut dropped = 0u64;
        let filled = loop {
            let got =
                read_full(&mut reader, &mut buf).map_err(|e| read_error(from + dropped, e))?;
            match memchr::memchr(b'\n', &buf[..got]) {
                Some(i) => {
                    buf.copy_within(i + 1..got, 0);
                    dropped += i as u64 + 1;
                    break got - i - 1;
                }
                None if got < buf.len() => {
                    dropped += got as u64;
                    break 0;
                }
                None => dropped += got as u64,
            }
        };
        Ok(Opened {
            reader,
            head: Head {
                buf,
                filled,
                base: from + dropped,
            },
            format,
            failure: None,
        })
    }
}
