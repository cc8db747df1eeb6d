//! Fuzzes the CSTA framings (`LengthPrefixFramer`, `DmccFramer`).
//!
//! Byte 0 picks the frame limits (bit 0: small limits, so the "too large"
//! paths are reached with short inputs) and, in its high bits, how many of
//! the following bytes are chunk lengths; the rest is the received stream.
//! Each framer reads the stream whole, byte by byte and in the fuzzer's
//! chunks: the frames and the final error must be the same every time (a
//! driver's reads split the stream anywhere), and re-encoding the frames must
//! give back exactly the bytes they were read from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pickupd_hw::csta::{DmccFramer, FrameError, Framer, LengthPrefixFramer};

/// Feeds `stream` cut into pieces of the given lengths (cycled; a length of
/// 0 means "the rest") and records the frames and the error, if any.
fn run<F: Framer>(
    mut framer: F,
    stream: &[u8],
    lengths: &[usize],
) -> (Vec<F::Frame>, Option<FrameError>) {
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let want = lengths.get(i % lengths.len().max(1)).copied().unwrap_or(0);
        let n = if want == 0 {
            rest.len()
        } else {
            want.min(rest.len())
        };
        let (head, tail) = rest.split_at(n);
        if let Err(e) = framer.feed(head, |f| frames.push(f)) {
            return (frames, Some(e));
        }
        rest = tail;
        i += 1;
    }
    (frames, None)
}

fn check<F, M>(make: M, stream: &[u8], chunks: &[usize])
where
    F: Framer,
    F::Frame: PartialEq + std::fmt::Debug,
    M: Fn() -> F,
{
    let whole = run(make(), stream, &[]);
    let bytewise = run(make(), stream, &[1]);
    let chunked = run(make(), stream, chunks);
    assert_eq!(whole, bytewise, "byte-by-byte reads framed differently");
    assert_eq!(whole, chunked, "chunked reads framed differently");

    // The frames re-encode to the very bytes they came from.
    let encoder = make();
    let mut wire = Vec::new();
    for frame in &whole.0 {
        encoder
            .encode(frame, &mut wire)
            .expect("a received frame fits its own framing");
    }
    assert_eq!(
        &stream[..wire.len()],
        &wire[..],
        "re-encoded frames differ from the stream"
    );
    if whole.1.is_none() {
        // Without an error, only an incomplete frame may be left over.
        let mut framer = make();
        framer
            .feed(stream, |_| {})
            .expect("no error the first time");
        assert_eq!(framer.buffered(), stream.len() - wire.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let n_chunks = usize::from(control >> 4).min(rest.len());
    let (chunk_bytes, stream) = rest.split_at(n_chunks);
    let chunks: Vec<usize> = chunk_bytes.iter().map(|&b| usize::from(b)).collect();
    let small = control & 1 == 1;

    if small {
        check(|| LengthPrefixFramer::with_max_payload(64), stream, &chunks);
        check(|| DmccFramer::with_max_frame(72), stream, &chunks);
    } else {
        check(LengthPrefixFramer::new, stream, &chunks);
        check(DmccFramer::new, stream, &chunks);
    }
});
