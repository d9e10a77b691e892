//! Where an HTTP/1.1 response body ends (RFC 9112 §6.3) and how it is decoded: no body, a
//! `Content-Length`, `chunked` transfer coding, or everything until the server closes.
//!
//! The decoder is incremental: it takes whatever bytes arrived, hands the body's data to a sink
//! as it goes and keeps no copy, so a chunked body of any size costs no memory (chunk extensions
//! and trailer fields are skipped, never stored).

/// A response body that does not follow its framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadFraming(pub &'static str);

/// How the rest of a response body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decoder {
    /// This many body bytes remain.
    Length(u64),
    Chunked(Chunked),
    /// Until the server closes the connection.
    UntilClose,
    /// The body is complete.
    Done,
}

/// Where a chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunked {
    /// In a chunk-size line: the size so far and how many hex digits it had.
    Size {
        size: u64,
        digits: u8,
    },
    /// Whitespace after the size, before an extension or the line end.
    SizeSpace {
        size: u64,
    },
    /// In a chunk extension, skipped up to the line end.
    Extension {
        size: u64,
    },
    /// After the chunk-size line's CR.
    SizeLf {
        size: u64,
    },
    /// This many data bytes of the chunk remain.
    Data(u64),
    DataCr,
    DataLf,
    /// At the start of a line of the trailer section (after the last chunk).
    TrailerStart,
    /// In a trailer field line, skipped up to the line end.
    TrailerLine,
    TrailerLf,
    /// After the final empty line's CR.
    EndLf,
    /// The final empty line was read.
    Finished,
}

/// At most 15 hex digits: sizes stay below 2^60, far beyond any real body.
const MAX_SIZE_DIGITS: u8 = 15;

impl Decoder {
    pub fn chunked() -> Decoder {
        Decoder::Chunked(Chunked::Size { size: 0, digits: 0 })
    }

    /// A body of `length` bytes (done at once when 0).
    pub fn length(length: u64) -> Decoder {
        if length == 0 {
            Decoder::Done
        } else {
            Decoder::Length(length)
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(self, Decoder::Done)
    }

    /// Decodes from `input`, passing body data to `sink`; returns how many bytes of `input`
    /// belong to the body (the rest, if any, came after it).
    pub fn decode(
        &mut self,
        input: &[u8],
        sink: &mut impl FnMut(&[u8]),
    ) -> Result<usize, BadFraming> {
        match self {
            Decoder::Done => Ok(0),
            Decoder::UntilClose => {
                sink(input);
                Ok(input.len())
            }
            Decoder::Length(left) => {
                let n = usize::try_from(*left).map_or(input.len(), |left| left.min(input.len()));
                sink(&input[..n]);
                *left -= n as u64;
                if *left == 0 {
                    *self = Decoder::Done;
                }
                Ok(n)
            }
            Decoder::Chunked(state) => {
                let used = decode_chunked(state, input, sink)?;
                if state_done(state) {
                    *self = Decoder::Done;
                }
                Ok(used)
            }
        }
    }

    /// The server closed the connection: fine for a body read until then, an error for any other
    /// that is not complete.
    pub fn end_of_input(&mut self) -> Result<(), BadFraming> {
        match self {
            Decoder::Done => Ok(()),
            Decoder::UntilClose => {
                *self = Decoder::Done;
                Ok(())
            }
            Decoder::Length(_) | Decoder::Chunked(_) => Err(BadFraming(
                "the connection closed before the end of the response body",
            )),
        }
    }
}

fn state_done(state: &Chunked) -> bool {
    *state == Chunked::Finished
}

fn decode_chunked(
    state: &mut Chunked,
    input: &[u8],
    sink: &mut impl FnMut(&[u8]),
) -> Result<usize, BadFraming> {
    let bad = |what| Err(BadFraming(what));
    let mut i = 0;
    while i < input.len() {
        if state_done(state) {
            return Ok(i);
        }
        if let Chunked::Data(left) = state {
            let n = usize::try_from(*left).map_or(input.len() - i, |l| l.min(input.len() - i));
            sink(&input[i..i + n]);
            *left -= n as u64;
            i += n;
            if *left == 0 {
                *state = Chunked::DataCr;
            }
            continue;
        }
        let byte = input[i];
        i += 1;
        *state = match (*state, byte) {
            (Chunked::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                if digits >= MAX_SIZE_DIGITS {
                    return bad("invalid chunked body: chunk size too large");
                }
                let digit = (b as char).to_digit(16).unwrap_or(0);
                Chunked::Size {
                    size: size * 16 + u64::from(digit),
                    digits: digits + 1,
                }
            }
            (Chunked::Size { digits: 0, .. }, _) => {
                return bad("invalid chunked body: expected a hexadecimal chunk size");
            }
            (Chunked::Size { size, .. } | Chunked::SizeSpace { size }, b' ' | b'\t') => {
                Chunked::SizeSpace { size }
            }
            (Chunked::Size { size, .. } | Chunked::SizeSpace { size }, b';') => {
                Chunked::Extension { size }
            }
            (
                Chunked::Size { size, .. }
                | Chunked::SizeSpace { size }
                | Chunked::Extension { size },
                b'\r',
            ) => Chunked::SizeLf { size },
            (Chunked::Size { .. } | Chunked::SizeSpace { .. }, _) => {
                return bad("invalid chunked body: unexpected byte in a chunk-size line");
            }
            (Chunked::Extension { .. }, b'\n') => {
                return bad("invalid chunked body: bare LF in a chunk extension");
            }
            (Chunked::Extension { size }, _) => Chunked::Extension { size },
            (Chunked::SizeLf { size: 0 }, b'\n') => Chunked::TrailerStart,
            (Chunked::SizeLf { size }, b'\n') => Chunked::Data(size),
            (Chunked::SizeLf { .. }, _) => {
                return bad("invalid chunked body: expected LF after a chunk size");
            }
            (Chunked::Data(_) | Chunked::Finished, _) => unreachable!("handled above"),
            (Chunked::DataCr, b'\r') => Chunked::DataLf,
            (Chunked::DataLf, b'\n') => Chunked::Size { size: 0, digits: 0 },
            (Chunked::DataCr | Chunked::DataLf, _) => {
                return bad("invalid chunked body: chunk data longer than its size");
            }
            (Chunked::TrailerStart, b'\r') => Chunked::EndLf,
            (Chunked::TrailerStart | Chunked::TrailerLine, b'\n') => {
                return bad("invalid chunked body: bare LF in the trailer section");
            }
            (Chunked::TrailerLine, b'\r') => Chunked::TrailerLf,
            (Chunked::TrailerStart | Chunked::TrailerLine, _) => Chunked::TrailerLine,
            (Chunked::TrailerLf, b'\n') => Chunked::TrailerStart,
            (Chunked::TrailerLf, _) => {
                return bad("invalid chunked body: expected LF after a trailer field");
            }
            (Chunked::EndLf, b'\n') => Chunked::Finished,
            (Chunked::EndLf, _) => {
                return bad("invalid chunked body: expected LF at the end of the body");
            }
        };
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; returns (body, bytes used, done).
    fn decode_in_pieces(
        mut decoder: Decoder,
        input: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, usize, bool), BadFraming> {
        let mut body = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            let n = decoder.decode(piece, &mut |data| body.extend_from_slice(data))?;
            used += n;
            if n < piece.len() {
                break;
            }
        }
        Ok((body, used, decoder.is_done()))
    }

    const CHUNKED: &[u8] =
        b"5\r\nhello\r\n7;name=value;x\r\n, world\r\n0\r\nx-trailer: 1\r\nother: 2\r\n\r\nNEXT";

    #[test]
    fn chunked_bodies_decode_whatever_the_pieces() {
        for step in 1..CHUNKED.len() {
            let (body, used, done) = decode_in_pieces(Decoder::chunked(), CHUNKED, step).unwrap();
            assert_eq!(body, b"hello, world", "pieces of {step}");
            assert_eq!(used, CHUNKED.len() - 4, "pieces of {step}");
            assert!(done);
        }
    }

    #[test]
    fn chunk_sizes_are_hexadecimal_with_optional_whitespace() {
        let input = b"A \r\n0123456789\r\n1f;ext\r\n0123456789012345678901234567890\r\n0\r\n\r\n";
        let (body, used, done) = decode_in_pieces(Decoder::chunked(), input, 3).unwrap();
        assert_eq!(body.len(), 10 + 31);
        assert_eq!(used, input.len());
        assert!(done);
    }

    #[test]
    fn broken_chunked_bodies_are_refused() {
        let cases: &[(&[u8], &str)] = &[
            (b"x\r\n", "expected a hexadecimal chunk size"),
            (b"5\r\nhello!\r\n", "chunk data longer than its size"),
            (b"5\nhello\r\n", "unexpected byte in a chunk-size line"),
            (b"5\r\rhello", "expected LF after a chunk size"),
            (b"1000000000000000\r\n", "chunk size too large"),
            (b"0\r\nbad\nfield\r\n\r\n", "bare LF in the trailer section"),
            (b"0\r\n\rX", "expected LF at the end of the body"),
        ];
        for (input, message) in cases {
            let error = decode_in_pieces(Decoder::chunked(), input, 1).unwrap_err();
            assert!(
                error.0.ends_with(message),
                "{:?}: {error:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn a_length_stops_at_its_end() {
        let (body, used, done) = decode_in_pieces(Decoder::length(5), b"helloNEXT", 2).unwrap();
        assert_eq!((body.as_slice(), used, done), (&b"hello"[..], 5, true));
        assert!(Decoder::length(0).is_done());
    }

    #[test]
    fn closing_early_is_an_error_except_for_a_body_read_until_close() {
        let mut until_close = Decoder::UntilClose;
        let mut body = Vec::new();
        until_close
            .decode(b"abc", &mut |d| body.extend_from_slice(d))
            .unwrap();
        assert_eq!(until_close.end_of_input(), Ok(()));
        assert!(until_close.is_done());
        assert_eq!(body, b"abc");

        let mut length = Decoder::length(10);
        length.decode(b"abc", &mut |_| {}).unwrap();
        assert!(length.end_of_input().is_err());
        let mut chunked = Decoder::chunked();
        chunked.decode(b"5\r\nab", &mut |_| {}).unwrap();
        assert!(chunked.end_of_input().is_err());
    }
}
