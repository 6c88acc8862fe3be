//! Splitting a watch body into lines as its chunks arrive, whatever the chunk boundaries.
//!
//! Bytes already buffered hold no newline, so only new bytes are scanned; lines are handed out
//! in place (no copy per line), and the unfinished tail is moved to the front once per chunk.
//! Blank lines (only ASCII whitespace) are skipped, as the API server never sends them as
//! events.

/// The longest line accepted: one watch event.
pub const MAX_LINE: usize = 64 << 20;

/// A line splitter for a stream of chunks.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

/// The unfinished line grew past [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

impl LineSplitter {
    /// A splitter with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `chunk` and calls `on_line` with each complete, non-blank line, without its `\n`.
    /// When `on_line` returns `false`, the rest is dropped (the stream ended) and the buffer is
    /// emptied. An unfinished line longer than [`MAX_LINE`] empties the buffer and is an error.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), LineTooLong> {
        let scanned = self.buf.len();
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut from = scanned;
        while let Some(off) = buf[from..].iter().position(|b| *b == b'\n') {
            let end = from + off;
            let line = &buf[start..end];
            start = end + 1;
            from = start;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if !on_line(line) {
                return Ok(());
            }
        }
        buf.drain(..start);
        if buf.len() > MAX_LINE {
            return Err(LineTooLong);
        }
        self.buf = buf;
        Ok(())
    }

    /// Drops what is buffered.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Bytes of the unfinished line.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| {
                out.push(l.to_vec());
                true
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn lines_do_not_depend_on_chunk_boundaries() {
        let whole: &[u8] = b"{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\"";
        let expected = split(&[whole]);
        assert_eq!(
            expected,
            vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}\r".to_vec()]
        );
        for cut in 0..whole.len() {
            assert_eq!(
                split(&[&whole[..cut], &whole[cut..]]),
                expected,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(split(&bytes), expected);
    }

    #[test]
    fn stopping_drops_the_rest() {
        let mut s = LineSplitter::new();
        let mut seen = 0;
        s.push(b"a\nb\nc", |_| {
            seen += 1;
            false
        })
        .unwrap();
        assert_eq!(seen, 1);
        assert_eq!(s.buffered(), 0);
    }
}
