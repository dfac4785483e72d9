//! Printing from places where `println!` is not allowed: a [`Task`](crate::Task) body or a
//! child after clone. Formats into a fixed buffer on the stack and writes it with one raw
//! `write(2)`: no allocation, no lock.

/// A fixed-size text buffer implementing [`core::fmt::Write`]; text beyond `N` bytes is cut.
pub struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Writes the buffer to `fd` with one raw write(2).
    pub fn write_to(&self, fd: i32) {
        let _ = cleave_child::sys::write(fd, self.as_bytes());
    }
}

impl<const N: usize> Default for StackBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = N - self.len;
        let take = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// `println!` for task bodies and fresh children: formats on the stack (up to 256 bytes) and
/// writes to stdout with one raw write(2).
#[macro_export]
macro_rules! raw_println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut b = $crate::rawio::StackBuf::<256>::new();
        let _ = writeln!(b, $($arg)*);
        b.write_to(1);
    }};
}
