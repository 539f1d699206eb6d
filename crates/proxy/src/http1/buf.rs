//! Buffers of the HTTP/1 engine: a read buffer taken from a per-thread free list only while a
//! connection has bytes to hold (an idle keep-alive connection holds none), the budget that
//! bounds what client buffers may grow to beyond that size, and the writer of message heads.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Size of a read buffer: room for most request and response heads and small bodies.
pub(crate) const BUF_SIZE: usize = 16 * 1024;
/// A buffer grows to this while it carries a large body, for fewer, larger reads.
pub(crate) const BODY_BUF_SIZE: usize = 64 * 1024;
/// Buffers kept for reuse per thread; the rest go back to the allocator.
const FREE_LIMIT: usize = 64;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn take_vec() -> Vec<u8> {
    FREE.with(|f| f.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; BUF_SIZE])
}

fn give_vec(v: Vec<u8>) {
    if v.len() != BUF_SIZE {
        // A grown buffer goes back to the allocator.
        return;
    }
    FREE.with(|f| {
        let mut f = f.borrow_mut();
        if f.len() < FREE_LIMIT {
            f.push(v);
        }
    });
}

/// Hands this thread's spare buffers back to the allocator, so that memory freed when many
/// connections went quiet can be returned to the system.
pub(crate) fn drop_spare_buffers() {
    FREE.with(|f| *f.borrow_mut() = Vec::new());
}

/// Memory that a listener's client read buffers may hold beyond [`BUF_SIZE`] each, all
/// connections together: request heads over 16 KiB and large bodies in flight draw from it.
/// With it, what clients can make the proxy hold is at most `max_connections` buffers of
/// [`BUF_SIZE`] plus this budget, however they split their bytes.
#[derive(Debug)]
pub(crate) struct BufferBudget {
    used: AtomicUsize,
    limit: usize,
}

impl BufferBudget {
    pub fn new(limit: usize) -> Self {
        BufferBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes drawn now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Bytes read from a peer and not yet used: `data[start..end]`.
#[derive(Default)]
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// Where growth past [`BUF_SIZE`] is drawn from (client connections); none: unbounded
    /// (upstream connections, whose answers the proxy asked for).
    budget: Option<Arc<BufferBudget>>,
    /// Bytes of `data` past [`BUF_SIZE`] drawn from `budget`.
    drawn: usize,
}

impl ReadBuf {
    /// A buffer whose growth past [`BUF_SIZE`] draws from `budget`.
    pub fn bounded(budget: Arc<BufferBudget>) -> Self {
        ReadBuf {
            data: Vec::new(),
            start: 0,
            end: 0,
            budget: Some(budget),
            drawn: 0,
        }
    }

    /// Resizes `data` to `len`, drawing from or returning to the budget what lies past
    /// [`BUF_SIZE`]; false (and nothing changed) when the budget cannot give it.
    fn resize(&mut self, len: usize) -> bool {
        let past = len.saturating_sub(BUF_SIZE);
        if let Some(budget) = &self.budget {
            if past > self.drawn {
                if !budget.reserve(past - self.drawn) {
                    return false;
                }
            } else {
                budget.release(self.drawn - past);
            }
            self.drawn = past;
        }
        self.data.resize(len, 0);
        true
    }

    /// Hands the memory to the free list (or the allocator) and returns what it drew.
    fn give_back(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(std::mem::take(&mut self.drawn));
        }
        give_vec(std::mem::take(&mut self.data));
        self.start = 0;
        self.end = 0;
    }

    /// The unread bytes.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Marks `n` bytes as used.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Gives the memory back when nothing is held: an idle connection costs no buffer.
    pub fn release_if_empty(&mut self) {
        if self.is_empty() && !self.data.is_empty() {
            self.give_back();
        }
    }

    /// Reads once from `io` into free space, growing the buffer up to `limit` bytes of
    /// content. Returns the bytes read (0: the peer closed), or `Ok(None)` when the buffer is
    /// full at `limit`; an error of kind `OutOfMemory` when it must grow and the budget is
    /// spent.
    pub async fn read_from<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        limit: usize,
    ) -> io::Result<Option<usize>> {
        if self.data.is_empty() {
            self.data = take_vec();
        }
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < limit {
                let grown = (self.data.len() * 2).min(limit.max(BUF_SIZE));
                if !self.resize(grown) {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "the listener's max_buffer_memory is in use",
                    ));
                }
            } else {
                return Ok(None);
            }
        }
        let n = io.read(&mut self.data[self.end..]).await?;
        self.end += n;
        Ok(Some(n))
    }

    /// Free bytes a read can fill now (a whole buffer when none is held yet).
    pub fn room(&self) -> usize {
        if self.data.is_empty() {
            BUF_SIZE
        } else {
            self.data.len() - self.end + self.start
        }
    }

    /// Makes room for larger reads while a large body passes through, when the budget allows
    /// (otherwise reads stay at the usual size).
    pub fn grow_for_body(&mut self) {
        if !self.data.is_empty() && self.data.len() < BODY_BUF_SIZE {
            self.resize(BODY_BUF_SIZE);
        }
    }

    /// Back to the usual size once a large body has passed (keeps unread bytes).
    pub fn shrink(&mut self) {
        if self.data.len() > BUF_SIZE && self.len() <= BUF_SIZE {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.resize(BUF_SIZE);
            self.data.shrink_to_fit();
        }
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        if !self.data.is_empty() {
            self.give_back();
        }
    }
}

/// Builds message heads.
#[derive(Default)]
pub(crate) struct Out {
    pub bytes: Vec<u8>,
}

impl Out {
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    pub fn status_line(&mut self, status: u16) {
        self.bytes.extend_from_slice(b"HTTP/1.1 ");
        write_u64(&mut self.bytes, u64::from(status));
        self.bytes.push(b' ');
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        self.bytes.extend_from_slice(reason.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
    }

    pub fn header(&mut self, name: &[u8], value: &[u8]) {
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(b": ");
        self.bytes.extend_from_slice(value);
        self.bytes.extend_from_slice(b"\r\n");
    }

    pub fn header_u64(&mut self, name: &[u8], value: u64) {
        self.bytes.extend_from_slice(name);
        self.bytes.extend_from_slice(b": ");
        write_u64(&mut self.bytes, value);
        self.bytes.extend_from_slice(b"\r\n");
    }

    pub fn end_head(&mut self) {
        self.bytes.extend_from_slice(b"\r\n");
    }

    /// Shrinks the buffer after an unusually large head.
    pub fn trim(&mut self) {
        if self.bytes.capacity() > BUF_SIZE {
            self.bytes = Vec::new();
        }
    }
}

/// Appends `n` in decimal.
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends `n` in lowercase hexadecimal (chunk sizes).
pub(crate) fn write_hex(out: &mut Vec<u8>, n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = HEX[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        write_u64(&mut v, 0);
        v.push(b' ');
        write_u64(&mut v, 18_446_744_073_709_551_615);
        v.push(b' ');
        write_hex(&mut v, 0x1f_ffff);
        assert_eq!(v, b"0 18446744073709551615 1fffff");
    }

    #[tokio::test]
    async fn reads_grow_to_the_limit_then_stop() {
        let data = vec![b'a'; 40 * 1024];
        let mut src: &[u8] = &data;
        let mut buf = ReadBuf::default();
        let mut total = 0;
        while let Some(n) = buf.read_from(&mut src, 32 * 1024).await.unwrap() {
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, 32 * 1024);
        assert_eq!(buf.len(), 32 * 1024);
        buf.consume(32 * 1024);
        assert!(buf.is_empty());
    }

    /// Reads `src` into `buf` until it ends or `buf` stops taking more.
    async fn fill(buf: &mut ReadBuf, mut src: &[u8]) -> io::Result<()> {
        loop {
            match buf.read_from(&mut src, 4 * BUF_SIZE).await? {
                Some(n) if n > 0 => {}
                _ => return Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn growth_past_the_usual_size_draws_from_the_budget_and_returns_to_it() {
        let budget = Arc::new(BufferBudget::new(BODY_BUF_SIZE - BUF_SIZE));
        let data = vec![b'a'; 4 * BUF_SIZE];
        // The first buffer grows to four times the usual size and draws the whole budget.
        let mut first = ReadBuf::bounded(budget.clone());
        fill(&mut first, &data).await.unwrap();
        assert_eq!(first.len(), 4 * BUF_SIZE);
        assert_eq!(budget.used(), 3 * BUF_SIZE);
        // A second one may fill its usual size but not grow.
        let mut second = ReadBuf::bounded(budget.clone());
        let err = fill(&mut second, &data).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        assert_eq!(second.len(), BUF_SIZE);
        // Bodies only grow when the budget allows.
        second.grow_for_body();
        assert_eq!(budget.used(), 3 * BUF_SIZE);
        // Emptied and dropped buffers give their share back.
        first.consume(4 * BUF_SIZE);
        first.release_if_empty();
        assert_eq!(budget.used(), 0);
        second.grow_for_body();
        assert_eq!(budget.used(), BODY_BUF_SIZE - BUF_SIZE);
        drop(second);
        assert_eq!(budget.used(), 0);
    }
}
