//! HDR histograms on the wire: the V2 format every HdrHistogram implementation reads.
//!
//! Encoding is hdrhistogram's own `V2Serializer`: the counts as zig-zag varints, with runs of
//! empty buckets collapsed. It is not deflated histogram by histogram: a snapshot holds hundreds of
//! small histograms, and building a Huffman table per histogram cost the controller more CPU than
//! everything else it does with them. The agent session compresses whole messages instead (gRPC
//! gzip), which also compresses better. The deflated V2 form (`V2DeflateSerializer`) is still
//! decoded, so either is accepted.
//!
//! Decoding is done here, not by the library, for two reasons.
//!
//! The bytes come from another process, and the library's deserializer trusts its input in ways
//! that matter: it allocates the header's payload length up front (a 40-byte message could ask for
//! 4 GiB), sizes the counts array from the header's precision and range (tens of MB for one
//! histogram), and negates a zig-zag count of `i64::MIN` (a panic with overflow checks). Here the
//! encoded and inflated sizes are capped, the precision and range are bounded to what Stampede
//! records (3 significant digits, microseconds), and every varint is checked. A corrupt or hostile
//! histogram is an error, never a panic or a huge allocation.
//!
//! And a controller merges hundreds of histograms per agent per second: building each as a dense
//! counts array (~10,000 counters, allocated and zeroed) only to add it to the second's total and
//! drop it was most of its ingest cost. [`HdrCodec::decode_buckets`] yields the non-empty buckets
//! only (a few hundred for a typical row), which [`add_buckets`] records into the total: the
//! result is the same histogram, bucket for bucket.

use flate2::{Decompress, FlushDecompress, Status};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2Serializer};

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

/// One non-empty bucket of a decoded histogram: the lowest value it holds, and its count.
pub type Bucket = (u64, u64);

/// Why a histogram could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum HdrError {
    #[error("cannot encode the histogram: {0}")]
    Encode(String),
    #[error("the histogram is {len} bytes, more than the {max} accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the histogram is truncated: {0}")]
    Truncated(&'static str),
    #[error("not an HDR V2 histogram (cookie {0:#010x})")]
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
}

/// Reusable encoder/decoder: the serializer, the inflater and the inflate buffer are kept, so one
/// codec per agent session (or per snapshot) avoids allocations per histogram.
pub struct HdrCodec {
    serializer: V2Serializer,
    inflater: Decompress,
    inflated: Vec<u8>,
    buckets: Vec<Bucket>,
}

impl Default for HdrCodec {
    fn default() -> Self {
        HdrCodec {
            serializer: V2Serializer::new(),
            inflater: Decompress::new(true),
            inflated: Vec::new(),
            buckets: Vec::new(),
        }
    }
}

impl std::fmt::Debug for HdrCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HdrCodec")
    }
}

impl HdrCodec {
    pub fn new() -> Self {
        HdrCodec::default()
    }

    /// V2 bytes of `h`; an empty histogram is empty bytes (most rows have no service or
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
        let mut buckets = std::mem::take(&mut self.buckets);
        buckets.clear();
        let decoded = self.decode_buckets(bytes, &mut buckets);
        let mut h = stampede_metrics::new_histogram();
        if decoded.is_ok() {
            add_buckets(&mut h, &buckets);
        }
        self.buckets = buckets;
        decoded.map(|()| h)
    }

    /// Appends the non-empty buckets of the histogram in `bytes` (V2, or V2 + deflate) to `out`,
    /// in increasing value order (empty bytes append nothing). On error `out` may hold some of
    /// them: discard it.
    pub fn decode_buckets(&mut self, bytes: &[u8], out: &mut Vec<Bucket>) -> Result<(), HdrError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if bytes.len() > MAX_ENCODED_BYTES {
            return Err(HdrError::TooLarge {
                len: bytes.len(),
                max: MAX_ENCODED_BYTES,
            });
        }
        let (cookie, rest) = split_u32(bytes, "no cookie")?;
        if cookie == V2_COOKIE {
            let (layout, payload) = header(bytes)?;
            return walk_counts(payload, layout, out);
        }
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
        self.inflate(compressed)?;
        let (layout, payload) = header(&self.inflated)?;
        walk_counts(payload, layout, out)
    }

    /// Inflates `compressed` (a zlib stream) into `self.inflated`, at most
    /// [`MAX_INFLATED_BYTES`].
    fn inflate(&mut self, compressed: &[u8]) -> Result<(), HdrError> {
        let (z, out) = (&mut self.inflater, &mut self.inflated);
        z.reset(true);
        out.clear();
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().clamp(4096, MAX_INFLATED_BYTES));
            }
            let (read, written) = (z.total_in(), z.total_out());
            let input = &compressed[read as usize..];
            let status = z
                .decompress_vec(input, out, FlushDecompress::None)
                .map_err(|e| HdrError::Inflate(e.into()))?;
            if out.len() > MAX_INFLATED_BYTES {
                return Err(HdrError::InflatedTooLarge {
                    max: MAX_INFLATED_BYTES,
                });
            }
            match status {
                Status::StreamEnd if z.total_in() as usize == compressed.len() => return Ok(()),
                Status::StreamEnd => {
                    return Err(HdrError::Truncated(
                        "bytes follow the end of the compressed data",
                    ));
                }
                _ if z.total_in() == read && z.total_out() == written => {
                    return Err(HdrError::Truncated("the compressed data ends early"));
                }
                _ => {}
            }
        }
    }
}

/// Records decoded buckets into `h` (an auto-resizing histogram, as `new_histogram` makes): the
/// result equals `h` plus the histogram the buckets came from.
pub fn add_buckets(h: &mut Histogram<u64>, buckets: &[Bucket]) {
    for &(value, count) in buckets {
        h.record_n(value, count)
            .expect("auto-resizing histograms take any value up to MAX_TRACKABLE_VALUE");
    }
}

/// How a histogram's counts array maps index → value (hdrhistogram's layout for its precision and
/// lowest discernible value).
#[derive(Clone, Copy, Debug)]
struct Layout {
    /// log2 of half the sub-bucket count.
    half_magnitude: u32,
    /// log2 of the lowest discernible value, rounded down.
    unit_magnitude: u32,
}

impl Layout {
    /// The lowest value counted at `index`, or `None` beyond [`MAX_TRACKABLE_VALUE`] (the same
    /// arithmetic as hdrhistogram's private `value_for`).
    fn value_at(self, index: u64) -> Option<u64> {
        let half = 1u64 << self.half_magnitude;
        let bucket = (index >> self.half_magnitude) as i64 - 1;
        let mut sub = (index & (half - 1)) + half;
        let bucket = if bucket < 0 {
            sub -= half;
            0
        } else {
            bucket as u64
        };
        let shift = bucket + u64::from(self.unit_magnitude);
        if shift >= 64 {
            return None;
        }
        let value = u128::from(sub) << shift;
        (value <= u128::from(MAX_TRACKABLE_VALUE)).then_some(value as u64)
    }
}

/// Checks an uncompressed V2 header; returns the counts layout and the payload.
fn header(bytes: &[u8]) -> Result<(Layout, &[u8]), HdrError> {
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
    let bad = |m: String| Err(HdrError::Header(m));
    if u32_at(8) != 0 {
        return bad("a normalizing offset is not supported".into());
    }
    let digits = u32_at(12);
    if digits > MAX_SIGNIFICANT_DIGITS {
        return bad(format!(
            "{digits} significant digits (at most {MAX_SIGNIFICANT_DIGITS} accepted)"
        ));
    }
    let (low, high) = (u64_at(16), u64_at(24));
    if low == 0 || high < low.saturating_mul(2) {
        return bad(format!("invalid range [{low}, {high}]"));
    }
    if high > MAX_TRACKABLE_VALUE {
        return bad(format!(
            "highest trackable value {high} exceeds {MAX_TRACKABLE_VALUE}"
        ));
    }
    if f64::from_bits(u64_at(32)) != 1.0 {
        return bad("a non-integer value ratio is not supported".into());
    }
    // hdrhistogram: unit resolution up to 2 × 10^digits, in a power-of-two sub-bucket count.
    let largest = 2 * 10u64.pow(digits);
    let layout = Layout {
        half_magnitude: largest.next_power_of_two().trailing_zeros() - 1,
        unit_magnitude: low.ilog2(),
    };
    Ok((layout, payload))
}

/// Walks the zig-zag LEB128 counts (a negative number is a run of empty buckets) and appends the
/// non-empty buckets to `out`.
fn walk_counts(mut payload: &[u8], layout: Layout, out: &mut Vec<Bucket>) -> Result<(), HdrError> {
    let mut index: u64 = 0;
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
        if decoded < 0 {
            let zeros = decoded
                .checked_neg()
                .ok_or(HdrError::Counts("a run of zeros is out of range"))?;
            index = index
                .checked_add(zeros as u64)
                .ok_or(HdrError::Counts("a run of zeros is out of range"))?;
            continue;
        }
        if decoded > 0 {
            let at = layout.value_at(index).ok_or(HdrError::Counts(
                "a count lies beyond the highest trackable value",
            ))?;
            out.push((at, decoded as u64));
        }
        index = index.saturating_add(1);
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
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()),
            V2_COOKIE
        );
        let mut back = codec.decode(&bytes).expect("decodes");
        assert_eq!(back, h);
        // The deflated form (what agents of protocol 2 sent) decodes to the same histogram.
        let mut deflated = Vec::new();
        hdrhistogram::serialization::V2DeflateSerializer::new()
            .serialize(&h, &mut deflated)
            .unwrap();
        assert_eq!(codec.decode(&deflated).expect("decodes"), h);
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
    fn buckets_are_the_librarys_buckets_at_every_precision_and_unit() {
        let mut codec = HdrCodec::new();
        for digits in 0..=3u8 {
            for low in [1u64, 7, 1_000] {
                let mut h = Histogram::<u64>::new_with_bounds(low, 1 << 40, digits).unwrap();
                let mut v = low;
                while v < 1 << 40 {
                    h.record_n(v, v % 5 + 1).unwrap();
                    v = v * 3 / 2 + 1;
                }
                h.record_n(0, 2).unwrap();
                let bytes = codec.encode(&h).unwrap();
                let mut buckets = Vec::new();
                codec.decode_buckets(&bytes, &mut buckets).unwrap();
                let expected: Vec<Bucket> = (h.iter_recorded())
                    .map(|b| {
                        (
                            h.lowest_equivalent(b.value_iterated_to()),
                            b.count_at_value(),
                        )
                    })
                    .collect();
                assert_eq!(buckets, expected, "digits {digits}, low {low}");
            }
        }
    }

    #[test]
    fn buckets_add_up_to_the_sum_of_histograms() {
        let mut codec = HdrCodec::new();
        let (a, mut b) = (sample(), stampede_metrics::new_histogram());
        for v in (0..5_000u64).map(|i| i * i * 37 % 9_000_000) {
            b.record(v).unwrap();
        }
        let mut sum = a.clone();
        sum.add(&b).unwrap();
        let mut merged = stampede_metrics::new_histogram();
        let mut buckets = Vec::new();
        for h in [&a, &b] {
            let bytes = codec.encode(h).unwrap();
            codec.decode_buckets(&bytes, &mut buckets).unwrap();
        }
        add_buckets(&mut merged, &buckets);
        assert_eq!(merged, sum);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(merged.value_at_quantile(q), sum.value_at_quantile(q));
        }
        assert_eq!((merged.min(), merged.max()), (sum.min(), sum.max()));
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
        // Counts beyond the highest trackable value are an error, not a panic or a huge histogram.
        let long = v2_header(3, 1, 2048, &[0x02; 100_000]);
        assert!(codec.decode(&deflate(&long)).is_err());
        let oversized = vec![0u8; MAX_ENCODED_BYTES + 1];
        assert!(matches!(
            codec.decode(&oversized),
            Err(HdrError::TooLarge { .. })
        ));
    }
}
