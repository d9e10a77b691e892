//! HDR histograms on the wire: V2 + deflate, the format every HdrHistogram implementation reads.
//!
//! Encoding is hdrhistogram's own `V2DeflateSerializer`. Decoding is its `Deserializer` too, but
//! only after this module has inflated and checked the bytes itself, because the bytes come from
//! another process and the library trusts its input in ways that matter here:
//!
//! * the header's payload length is allocated up front (a 40-byte message could ask for 4 GiB);
//! * the header's precision and range size the counts array (5 significant digits and a range up
//!   to `u64::MAX` is tens of MB for one histogram);
//! * a zig-zag count of `i64::MIN` is negated, which panics in a build with overflow checks.
//!
//! So: the encoded and inflated sizes are capped, the precision and range are bounded to what
//! Stampede records (3 significant digits, microseconds), and every varint is scanned before the
//! library sees it. A corrupt or hostile histogram is an error, never a panic or a huge allocation.

use flate2::read::ZlibDecoder;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use std::io::Read;

/// Largest encoded histogram accepted. A realistic one is a few hundred bytes; one with every
/// bucket of a 3-digit, one-hour range populated is under 100 KB.
pub const MAX_ENCODED_BYTES: usize = 1 << 20;
/// Largest inflated payload accepted (same reasoning; also bounds a deflate bomb).
pub const MAX_INFLATED_BYTES: usize = 1 << 20;
/// Highest precision accepted. Stampede records at 3 (`stampede_metrics::new_histogram`); each
/// extra digit multiplies the counts array by about 8.
pub const MAX_SIGNIFICANT_DIGITS: u32 = 3;
/// Highest trackable value accepted: 2^48 µs is about 9 years, far above the one-hour clamp the
/// recorders apply, and keeps a 3-digit counts array under about 330 KB.
pub const MAX_TRACKABLE_VALUE: u64 = 1 << 48;

/// hdrhistogram's V2 cookies (the base cookie with the word size in bits 4..8).
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304 | 0x10;
/// cookie, payload length, normalizing offset, digits, low, high, integer-to-double ratio.
const V2_HEADER_BYTES: usize = 4 + 4 + 4 + 4 + 8 + 8 + 8;

/// Why a histogram could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum HdrError {
    #[error("cannot encode the histogram: {0}")]
    Encode(String),
    #[error("the histogram is {len} bytes, more than the {max} accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the histogram is truncated: {0}")]
    Truncated(&'static str),
    #[error("not an HDR V2 deflate histogram (cookie {0:#010x})")]
    BadCookie(u32),
    #[error("the histogram's compressed length says {declared} bytes but {actual} follow")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("the histogram does not inflate: {0}")]
    Inflate(std::io::Error),
    #[error("the inflated histogram exceeds {max} bytes")]
    InflatedTooLarge { max: usize },
    #[error("unsupported histogram header: {0}")]
    Header(String),
    #[error("corrupt histogram counts: {0}")]
    Counts(&'static str),
    #[error("the histogram does not decode: {0}")]
    Decode(#[from] hdrhistogram::serialization::DeserializeError),
}

/// Reusable encoder/decoder: the library keeps scratch buffers, so one codec per snapshot avoids
/// an allocation per histogram.
#[derive(Default)]
pub struct HdrCodec {
    serializer: V2DeflateSerializer,
    deserializer: Deserializer,
}

impl std::fmt::Debug for HdrCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HdrCodec")
    }
}

impl HdrCodec {
    pub fn new() -> Self {
        HdrCodec {
            serializer: V2DeflateSerializer::new(),
            deserializer: Deserializer::new(),
        }
    }

    /// V2 + deflate bytes of `h`; an empty histogram is empty bytes (most rows have no service or
    /// phase samples in some intervals, and the lag histogram is empty in the closed model).
    pub fn encode(&mut self, h: &Histogram<u64>) -> Result<Vec<u8>, HdrError> {
        let mut out = Vec::new();
        if h.is_empty() {
            return Ok(out);
        }
        self.serializer
            .serialize(h, &mut out)
            .map_err(|e| HdrError::Encode(format!("{e:?}")))?;
        Ok(out)
    }

    /// Decodes bytes made by [`encode`](Self::encode) (empty bytes are an empty histogram). The
    /// result auto-resizes, like the recorders' histograms, so adding a larger one into it later
    /// cannot fail.
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Histogram<u64>, HdrError> {
        if bytes.is_empty() {
            return Ok(stampede_metrics::new_histogram());
        }
        if bytes.len() > MAX_ENCODED_BYTES {
            return Err(HdrError::TooLarge {
                len: bytes.len(),
                max: MAX_ENCODED_BYTES,
            });
        }
        let (cookie, rest) = split_u32(bytes, "no cookie")?;
        if cookie != V2_COMPRESSED_COOKIE {
            return Err(HdrError::BadCookie(cookie));
        }
        let (declared, compressed) = split_u32(rest, "no compressed length")?;
        if declared as usize != compressed.len() {
            return Err(HdrError::LengthMismatch {
                declared: declared as usize,
                actual: compressed.len(),
            });
        }
        let mut inflated = Vec::new();
        ZlibDecoder::new(compressed)
            .take(MAX_INFLATED_BYTES as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(HdrError::Inflate)?;
        if inflated.len() > MAX_INFLATED_BYTES {
            return Err(HdrError::InflatedTooLarge {
                max: MAX_INFLATED_BYTES,
            });
        }
        check_v2(&inflated)?;
        let mut h: Histogram<u64> = self.deserializer.deserialize(&mut inflated.as_slice())?;
        h.auto(true);
        Ok(h)
    }
}

/// Checks an uncompressed V2 histogram so the library's deserializer cannot panic or over-allocate.
fn check_v2(bytes: &[u8]) -> Result<(), HdrError> {
    if bytes.len() < V2_HEADER_BYTES {
        return Err(HdrError::Truncated("the inflated header is incomplete"));
    }
    let u32_at =
        |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i..i + 8]);
        u64::from_be_bytes(b)
    };
    let cookie = u32_at(0);
    if cookie != V2_COOKIE {
        return Err(HdrError::BadCookie(cookie));
    }
    let payload = &bytes[V2_HEADER_BYTES..];
    let declared = u32_at(4) as usize;
    if declared != payload.len() {
        return Err(HdrError::LengthMismatch {
            declared,
            actual: payload.len(),
        });
    }
    let header = |m: String| Err(HdrError::Header(m));
    if u32_at(8) != 0 {
        return header("a normalizing offset is not supported".into());
    }
    let digits = u32_at(12);
    if digits > MAX_SIGNIFICANT_DIGITS {
        return header(format!(
            "{digits} significant digits (at most {MAX_SIGNIFICANT_DIGITS} accepted)"
        ));
    }
    let (low, high) = (u64_at(16), u64_at(24));
    if low == 0 || high < low.saturating_mul(2) {
        return header(format!("invalid range [{low}, {high}]"));
    }
    if high > MAX_TRACKABLE_VALUE {
        return header(format!(
            "highest trackable value {high} exceeds {MAX_TRACKABLE_VALUE}"
        ));
    }
    if f64::from_bits(u64_at(32)) != 1.0 {
        return header("a non-integer value ratio is not supported".into());
    }
    check_counts(payload)
}

/// Walks the zig-zag LEB128 counts exactly as the library will, rejecting what it cannot handle.
fn check_counts(mut payload: &[u8]) -> Result<(), HdrError> {
    while !payload.is_empty() {
        let mut value: u64 = 0;
        let mut used = 0;
        loop {
            let Some(&b) = payload.get(used) else {
                return Err(HdrError::Counts("a count is cut off"));
            };
            if used == 8 {
                // The ninth byte contributes all 8 bits (hdrhistogram's varint variant).
                value |= u64::from(b) << 56;
                used += 1;
                break;
            }
            value |= u64::from(b & 0x7f) << (7 * used);
            used += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        payload = &payload[used..];
        let decoded = ((value >> 1) as i64) ^ -((value & 1) as i64);
        if decoded == i64::MIN {
            return Err(HdrError::Counts("a run of zeros is out of range"));
        }
    }
    Ok(())
}

fn split_u32<'a>(bytes: &'a [u8], what: &'static str) -> Result<(u32, &'a [u8]), HdrError> {
    match bytes.split_first_chunk::<4>() {
        Some((head, rest)) => Ok((u32::from_be_bytes(*head), rest)),
        None => Err(HdrError::Truncated(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use std::io::Write;

    fn sample() -> Histogram<u64> {
        let mut h = stampede_metrics::new_histogram();
        for v in [1u64, 7, 150, 2_000, 35_000, 1_200_000, 3_600_000_000] {
            h.record_n(v, v % 13 + 1).expect("auto-resizing");
        }
        h
    }

    /// Wraps an uncompressed V2 histogram as the deflate form.
    fn deflate(v2: &[u8]) -> Vec<u8> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(v2).expect("in memory");
        let compressed = z.finish().expect("in memory");
        let mut out = V2_COMPRESSED_COOKIE.to_be_bytes().to_vec();
        out.extend((compressed.len() as u32).to_be_bytes());
        out.extend(compressed);
        out
    }

    fn v2_header(digits: u32, low: u64, high: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = V2_COOKIE.to_be_bytes().to_vec();
        v.extend((payload.len() as u32).to_be_bytes());
        v.extend(0u32.to_be_bytes());
        v.extend(digits.to_be_bytes());
        v.extend(low.to_be_bytes());
        v.extend(high.to_be_bytes());
        v.extend(1.0f64.to_bits().to_be_bytes());
        v.extend(payload);
        v
    }

    #[test]
    fn round_trip_is_exact_and_decoded_histograms_grow() {
        let mut codec = HdrCodec::new();
        let h = sample();
        let bytes = codec.encode(&h).expect("encodes");
        let mut back = codec.decode(&bytes).expect("decodes");
        assert_eq!(back, h);
        back.record(7_000_000_000)
            .expect("decoded histograms auto-resize");
        assert!(
            codec
                .encode(&stampede_metrics::new_histogram())
                .unwrap()
                .is_empty()
        );
        assert!(codec.decode(&[]).unwrap().is_empty());
    }

    #[test]
    fn truncations_and_bit_flips_are_errors_not_panics() {
        let mut codec = HdrCodec::new();
        let bytes = codec.encode(&sample()).unwrap();
        for cut in 1..bytes.len() {
            assert!(codec.decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // Flipping bits may still decode (a count changes) but must never panic.
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let _ = codec.decode(&b);
            }
        }
    }

    #[test]
    fn hostile_headers_are_refused_before_allocating() {
        let mut codec = HdrCodec::new();
        // Claims a 4 GiB payload.
        let mut huge = v2_header(3, 1, 1 << 20, &[]);
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            codec.decode(&deflate(&huge)),
            Err(HdrError::LengthMismatch { .. })
        ));
        // 5 significant digits over the whole u64 range.
        let wide = v2_header(5, 1, u64::MAX, &[2]);
        let err = codec.decode(&deflate(&wide)).unwrap_err().to_string();
        assert!(err.contains("5 significant digits"), "{err}");
        let far = v2_header(3, 1, u64::MAX, &[2]);
        let err = codec.decode(&deflate(&far)).unwrap_err().to_string();
        assert!(err.contains("highest trackable value"), "{err}");
        // A zig-zag i64::MIN would overflow the library's negation.
        let min = v2_header(3, 1, 1 << 20, &[0xff; 9]);
        assert!(matches!(
            codec.decode(&deflate(&min)),
            Err(HdrError::Counts(_))
        ));
        // A deflate bomb: 2 MiB of zeros inflating from a few KB.
        let bomb = v2_header(3, 1, 1 << 20, &vec![0u8; 2 << 20]);
        assert!(matches!(
            codec.decode(&deflate(&bomb)),
            Err(HdrError::InflatedTooLarge { .. })
        ));
        // Counts beyond the declared range are the library's error, not a panic.
        let long = v2_header(3, 1, 2048, &[0x02; 100_000]);
        assert!(codec.decode(&deflate(&long)).is_err());
        let oversized = vec![0u8; MAX_ENCODED_BYTES + 1];
        assert!(matches!(
            codec.decode(&oversized),
            Err(HdrError::TooLarge { .. })
        ));
    }
}
