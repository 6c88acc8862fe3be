//! Splitting a protobuf watch body (`application/vnd.kubernetes.protobuf;stream=watch`) into
//! frames as its chunks arrive: each frame is a 4-byte big-endian length and that many bytes
//! (a `WatchEvent` message). Frames are handed out in place; the unfinished tail is moved to
//! the front once per chunk.

use crate::lines::MAX_LINE;

/// The longest frame accepted (the same limit as a JSON event line).
pub(crate) const MAX_FRAME: usize = MAX_LINE;

/// A frame splitter for a stream of chunks.
#[derive(Debug, Default)]
pub(crate) struct FrameSplitter {
    buf: Vec<u8>,
}

/// A frame announced a length past [`MAX_FRAME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameTooLong;

impl FrameSplitter {
    /// Adds `chunk` and calls `on_frame` with each complete frame, without its length. When
    /// `on_frame` returns `false`, the rest is dropped and the buffer emptied. A frame longer
    /// than [`MAX_FRAME`] empties the buffer and is an error (before it is buffered).
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        mut on_frame: impl FnMut(&[u8]) -> bool,
    ) -> Result<(), FrameTooLong> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(len) = buf.get(start..start + 4) {
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > MAX_FRAME {
                return Err(FrameTooLong);
            }
            let Some(frame) = buf.get(start + 4..start + 4 + len) else {
                break;
            };
            start += 4 + len;
            if !on_frame(frame) {
                return Ok(());
            }
        }
        buf.drain(..start);
        self.buf = buf;
        Ok(())
    }

    /// Drops what is buffered.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = (payload.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(payload);
        f
    }

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = FrameSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |f| {
                out.push(f.to_vec());
                true
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn frames_do_not_depend_on_chunk_boundaries() {
        let mut whole = frame(b"first");
        whole.extend(frame(b""));
        whole.extend(frame(b"third\n"));
        whole.extend(&frame(b"unfinished")[..7]);
        let expected = split(&[&whole]);
        assert_eq!(
            expected,
            vec![b"first".to_vec(), Vec::new(), b"third\n".to_vec()]
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
    fn a_frame_past_the_limit_is_refused_before_it_is_buffered() {
        let mut s = FrameSplitter::default();
        let len = (MAX_FRAME as u32 + 1).to_be_bytes();
        assert_eq!(s.push(&len, |_| true), Err(FrameTooLong));
    }

    #[test]
    fn stopping_drops_the_rest() {
        let mut s = FrameSplitter::default();
        let mut chunk = frame(b"a");
        chunk.extend(frame(b"b"));
        let mut seen = 0;
        s.push(&chunk, |_| {
            seen += 1;
            false
        })
        .unwrap();
        assert_eq!(seen, 1);
        assert!(s.buf.is_empty());
    }
}
