//! Chrome native-messaging framing: a 32-bit native-endian length, then that many bytes of UTF-8 JSON.
//!
//! Reading distinguishes a clean end of stream (at a frame boundary: the browser closed the port)
//! from a broken one (the stream ended inside a length prefix or a body). The length is checked
//! against a cap *before* any buffer is allocated, and an over-cap frame can be skipped without
//! buffering it, so a hostile or buggy peer cannot make the host allocate 4 GiB.
//!
//! See <https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-protocol>.

use std::io::{self, Read, Write};

/// Largest message the host sends to the browser. Chrome rejects anything larger (1 MiB).
pub const MAX_OUTBOUND: usize = 1024 * 1024;

/// Largest message the host accepts from the browser. Chrome would send up to 4 GiB; nothing in
/// this protocol needs more than a fraction of a mebibyte.
pub const MAX_INBOUND: usize = 1024 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream ended inside the 4-byte length prefix.
    #[error("stream ended inside a length prefix ({got} of 4 bytes)")]
    TruncatedPrefix {
        /// Bytes of the prefix that arrived.
        got: usize,
    },
    /// The stream ended inside a message body.
    #[error("stream ended inside a message body ({got} of {expected} bytes)")]
    TruncatedBody {
        /// The length the prefix announced.
        expected: usize,
        /// Bytes that arrived before the end of the stream.
        got: usize,
    },
    /// The announced length is over the cap. The body has not been read; the stream is still in
    /// sync only if the caller skips it with [`skip_body`].
    #[error("message of {len} bytes is over the {cap}-byte limit")]
    TooLarge {
        /// The announced length.
        len: u64,
        /// The cap in force.
        cap: usize,
    },
    /// Reading or writing the stream failed.
    #[error("i/o error on the native-messaging stream: {0}")]
    Io(#[from] io::Error),
}

/// Reads one frame. `Ok(None)` is a clean end of stream at a frame boundary.
///
/// # Errors
/// [`FrameError::TooLarge`] when the prefix announces more than `cap` bytes (nothing is
/// allocated; call [`skip_body`] to stay in sync); the truncation variants when the stream ends
/// inside a frame; [`FrameError::Io`] when the stream fails.
pub fn read_frame<R: Read>(reader: &mut R, cap: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; 4];
    let got = read_full(reader, &mut prefix)?;
    match got {
        0 => return Ok(None),
        4 => {}
        got => return Err(FrameError::TruncatedPrefix { got }),
    }
    let len = u32::from_ne_bytes(prefix);
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > cap {
        return Err(FrameError::TooLarge { len: u64::from(len), cap });
    }
    let mut body = vec![0u8; len_usize];
    let got = read_full(reader, &mut body)?;
    if got < len_usize {
        return Err(FrameError::TruncatedBody { expected: len_usize, got });
    }
    Ok(Some(body))
}

/// Discards the body of an over-cap frame without buffering it, so the next frame can be read.
///
/// # Errors
/// [`FrameError::TruncatedBody`] when the stream ends first; [`FrameError::Io`] on failure.
pub fn skip_body<R: Read>(reader: &mut R, len: u64) -> Result<(), FrameError> {
    let skipped = io::copy(&mut reader.by_ref().take(len), &mut io::sink())?;
    if skipped < len {
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        return Err(FrameError::TruncatedBody { expected: to_usize(len), got: to_usize(skipped) });
    }
    Ok(())
}

/// Writes one frame and flushes, so the browser sees it at once.
///
/// # Errors
/// [`FrameError::TooLarge`] when `body` is over [`MAX_OUTBOUND`] (nothing is written);
/// [`FrameError::Io`] when the stream fails (typically: the browser closed the port).
pub fn write_frame<W: Write>(writer: &mut W, body: &[u8]) -> Result<(), FrameError> {
    if body.len() > MAX_OUTBOUND {
        return Err(FrameError::TooLarge { len: body.len() as u64, cap: MAX_OUTBOUND });
    }
    // MAX_OUTBOUND < u32::MAX, so the conversion cannot fail after the check above.
    let len = u32::try_from(body.len())
        .map_err(|_| FrameError::TooLarge { len: body.len() as u64, cap: MAX_OUTBOUND })?;
    writer.write_all(&len.to_ne_bytes())?;
    writer.write_all(body)?;
    writer.flush()?;
    Ok(())
}

/// Fills `buf` as far as the stream allows; returns how many bytes arrived (less only at EOF).
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_ne_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn clean_eof_on_empty_stream_is_none() {
        let mut r = Cursor::new(Vec::new());
        assert!(read_frame(&mut r, MAX_INBOUND).unwrap().is_none());
    }

    #[test]
    fn reads_consecutive_frames_then_clean_eof() {
        let mut bytes = framed(b"{\"a\":1}");
        bytes.extend(framed(b"[]"));
        let mut r = Cursor::new(bytes);
        assert_eq!(read_frame(&mut r, MAX_INBOUND).unwrap().unwrap(), b"{\"a\":1}");
        assert_eq!(read_frame(&mut r, MAX_INBOUND).unwrap().unwrap(), b"[]");
        assert!(read_frame(&mut r, MAX_INBOUND).unwrap().is_none());
    }

    #[test]
    fn truncated_prefix_is_an_error_not_eof() {
        for n in 1..4 {
            let mut r = Cursor::new(vec![1u8; n]);
            match read_frame(&mut r, MAX_INBOUND) {
                Err(FrameError::TruncatedPrefix { got }) => assert_eq!(got, n),
                other => panic!("{n} bytes: expected truncated prefix, got {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_body_reports_how_much_arrived() {
        let mut bytes = 10u32.to_ne_bytes().to_vec();
        bytes.extend_from_slice(b"{\"v\"");
        match read_frame(&mut Cursor::new(bytes), MAX_INBOUND) {
            Err(FrameError::TruncatedBody { expected: 10, got: 4 }) => {}
            other => panic!("expected truncated body, got {other:?}"),
        }
    }

    #[test]
    fn over_cap_length_is_rejected_before_allocating() {
        // u32::MAX would be a 4 GiB allocation if the cap were checked after `vec!`.
        let bytes = u32::MAX.to_ne_bytes().to_vec();
        match read_frame(&mut Cursor::new(bytes), MAX_INBOUND) {
            Err(FrameError::TooLarge { len, cap }) => {
                assert_eq!(len, u64::from(u32::MAX));
                assert_eq!(cap, MAX_INBOUND);
            }
            other => panic!("expected too large, got {other:?}"),
        }
    }

    #[test]
    fn length_exactly_at_cap_is_accepted() {
        let body = vec![b' '; 64];
        let mut r = Cursor::new(framed(&body));
        assert_eq!(read_frame(&mut r, 64).unwrap().unwrap().len(), 64);
        let mut r = Cursor::new(framed(&[b' '; 65]));
        assert!(matches!(read_frame(&mut r, 64), Err(FrameError::TooLarge { len: 65, .. })));
    }

    #[test]
    fn skipping_an_over_cap_body_resynchronises_the_stream() {
        let mut bytes = framed(&[b'x'; 100]);
        bytes.extend(framed(b"{}"));
        let mut r = Cursor::new(bytes);
        let Err(FrameError::TooLarge { len, .. }) = read_frame(&mut r, 10) else {
            panic!("expected too large");
        };
        skip_body(&mut r, len).unwrap();
        assert_eq!(read_frame(&mut r, 10).unwrap().unwrap(), b"{}");
    }

    #[test]
    fn skipping_past_the_end_is_truncation() {
        let mut r = Cursor::new(vec![0u8; 5]);
        assert!(matches!(skip_body(&mut r, 10), Err(FrameError::TruncatedBody { got: 5, .. })));
    }

    #[test]
    fn zero_length_frame_is_an_empty_body() {
        let mut r = Cursor::new(framed(b""));
        assert_eq!(read_frame(&mut r, MAX_INBOUND).unwrap().unwrap(), b"");
    }

    #[test]
    fn write_frame_prefixes_native_endian_length() {
        let mut out = Vec::new();
        write_frame(&mut out, b"{\"ok\":true}").unwrap();
        assert_eq!(out, framed(b"{\"ok\":true}"));
    }

    #[test]
    fn write_frame_refuses_over_one_mebibyte() {
        let mut out = Vec::new();
        let body = vec![b'a'; MAX_OUTBOUND + 1];
        assert!(matches!(write_frame(&mut out, &body), Err(FrameError::TooLarge { .. })));
        assert!(out.is_empty(), "nothing may reach stdout for a refused frame");
        write_frame(&mut out, &body[..MAX_OUTBOUND]).unwrap();
        assert_eq!(out.len(), MAX_OUTBOUND + 4);
    }

    /// A reader that hands out one byte at a time and interrupts between them, like a pipe
    /// under signal pressure.
    struct Trickle(Cursor<Vec<u8>>, bool);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn partial_reads_and_interrupts_are_reassembled() {
        let mut r = Trickle(Cursor::new(framed(b"{\"type\":\"hello\"}")), false);
        assert_eq!(read_frame(&mut r, MAX_INBOUND).unwrap().unwrap(), b"{\"type\":\"hello\"}");
        assert!(read_frame(&mut r, MAX_INBOUND).unwrap().is_none());
    }
}
