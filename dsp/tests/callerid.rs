//! Caller-ID messages: encode/parse, assembly, and end-to-end through FSK.

mod common;

use common::*;
use pickupd_dsp::callerid::{
    encode_mdmf, encode_sdmf, parse, CallerId, CallerIdError, MessageAssembler,
};
use pickupd_dsp::fsk::{FskReceiver, FskTransmitter};
use pickupd_dsp::g711::{ulaw_decode, ulaw_encode};
use pickupd_dsp::FRAME_SAMPLES;

fn id(dt: &str, number: Option<&str>, name: Option<&str>) -> CallerId {
    CallerId {
        datetime: Some(dt.into()),
        number: number.map(Into::into),
        name: name.map(Into::into),
        ..CallerId::default()
    }
}

fn sums_to_zero(m: &[u8]) -> bool {
    m.iter().fold(0u8, |a, &b| a.wrapping_add(b)) == 0
}

#[test]
fn sdmf_known_bytes() {
    // The classic Bellcore example: 0x04, 0x12, "01011234" "5551212..." etc.
    let m = encode_sdmf(&id("01011234", Some("9195551212"), None));
    assert_eq!(m[0], 0x04);
    assert_eq!(m[1], 18);
    assert_eq!(&m[2..20], b"010112349195551212");
    assert!(sums_to_zero(&m));
    assert_eq!(m.len(), 21);
    assert_eq!(parse(&m), Ok(id("01011234", Some("9195551212"), None)));
}

#[test]
fn mdmf_known_bytes() {
    let m = encode_mdmf(&id("11031945", Some("5551234"), Some("DOE JOHN")));
    let mut expect = vec![0x80, 29, 0x01, 8];
    expect.extend_from_slice(b"11031945");
    expect.extend([0x02, 7]);
    expect.extend_from_slice(b"5551234");
    expect.extend([0x07, 8]);
    expect.extend_from_slice(b"DOE JOHN");
    let sum = expect.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    expect.push(sum.wrapping_neg());
    assert_eq!(m, expect);
    assert_eq!(
        parse(&m),
        Ok(id("11031945", Some("5551234"), Some("DOE JOHN")))
    );
}

#[test]
fn private_and_unavailable() {
    for c in ['O', 'P'] {
        let want = CallerId {
            datetime: Some("12312359".into()),
            number_absent: Some(c),
            name_absent: Some(c),
            ..CallerId::default()
        };
        assert_eq!(parse(&encode_mdmf(&want)), Ok(want.clone()));
        let sdmf = encode_sdmf(&want);
        assert_eq!(&sdmf[10..11], &[c as u8]);
        let got = parse(&sdmf).unwrap();
        assert_eq!(got.number_absent, Some(c));
        assert_eq!(got.number, None);
        assert_eq!(got.name_absent, None, "SDMF carries no name");
    }
    // No number and no reason given: MDMF says "unavailable".
    let m = encode_mdmf(&CallerId::default());
    assert_eq!(parse(&m).unwrap().number_absent, Some('O'));
}

#[test]
fn errors() {
    let mut m = encode_mdmf(&id("01020304", Some("123"), Some("X")));
    assert_eq!(parse(&m[..m.len() - 1]), Err(CallerIdError::Truncated));
    assert_eq!(parse(&[]), Err(CallerIdError::Truncated));
    assert_eq!(parse(&[0x80]), Err(CallerIdError::Truncated));
    let last = m.len() - 1;
    m[last] = m[last].wrapping_add(1);
    assert_eq!(parse(&m), Err(CallerIdError::BadChecksum));
    let bad_type = [0x42, 1, b'x', 0u8.wrapping_sub(0x42 + 1 + b'x')];
    assert_eq!(parse(&bad_type), Err(CallerIdError::UnknownType(0x42)));
    // MDMF parameter that overruns its message.
    let mut o = vec![0x80, 3, 0x02, 5, b'1'];
    let s = o.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    o.push(s.wrapping_neg());
    assert!(matches!(parse(&o), Err(CallerIdError::Malformed(_))));
    // SDMF with a non-digit date.
    let mut sd = encode_sdmf(&id("0101x234", Some("5"), None));
    assert!(matches!(parse(&sd), Err(CallerIdError::Malformed(_))));
    sd.truncate(3);
    assert_eq!(parse(&sd), Err(CallerIdError::Truncated));
    assert!(!CallerIdError::BadChecksum.to_string().is_empty());
    assert!(CallerIdError::UnknownType(0x42)
        .to_string()
        .contains("0x42"));
}

#[test]
fn every_byte_sequence_is_safe() {
    let mut rng = Noise::new(1);
    let mut asm = MessageAssembler::new();
    for _ in 0..20_000 {
        let b = (rng.uniform() * 256.0) as u8;
        let _ = asm.push(b);
    }
    for n in 0..300 {
        let v: Vec<u8> = (0..n).map(|_| (rng.uniform() * 256.0) as u8).collect();
        let _ = parse(&v);
    }
}

#[test]
fn assembler_skips_noise_and_resyncs() {
    let want = id("02281530", Some("0123456789"), Some("ÅSA"));
    let m = encode_mdmf(&want);
    let mut asm = MessageAssembler::new();
    let mut results = Vec::new();
    // Noise before, including a byte that looks like a type (0x04) with a
    // short bogus length, which swallows the start of the real message.
    for b in [0xFF, 0x13, 0x04, 0x03]
        .into_iter()
        .chain(m.iter().copied())
        .chain([0x55])
    {
        if let Some(r) = asm.push(b) {
            results.push(r);
        }
    }
    assert!(results.contains(&Ok(want.clone())), "{results:?}");
    asm.reset();
    let mut got = None;
    for &b in &encode_sdmf(&want) {
        got = asm.push(b).or(got);
    }
    assert_eq!(got.unwrap().unwrap().number.as_deref(), Some("0123456789"));
}

/// encode → transmitter → (µ-law) → receiver → assembler.
fn over_the_line(
    message: &[u8],
    level: f32,
    ulaw: bool,
    noise_snr: Option<f64>,
    seed: u64,
) -> Vec<Result<CallerId, CallerIdError>> {
    let mut tx = FskTransmitter::new(level);
    tx.queue_message(message, 70);
    let mut rng = Noise::new(seed);
    let mut line: Vec<f64> = vec![0.0; 200 + (rng.uniform() * 300.0) as usize];
    let mut frame = [0i16; FRAME_SAMPLES];
    while !tx.is_idle() {
        tx.fill(&mut frame);
        line.extend(frame.iter().map(|&s| f64::from(s)));
    }
    line.extend(silence(100));
    if let Some(snr) = noise_snr {
        rng.add(&mut line, f64::from(level) - snr);
    }
    let mut pcm = to_pcm(&line);
    if ulaw {
        pcm.iter_mut()
            .for_each(|s| *s = ulaw_decode(ulaw_encode(*s)));
    }
    let mut rx = FskReceiver::new();
    let mut asm = MessageAssembler::new();
    let mut out = Vec::new();
    for f in pcm.chunks(FRAME_SAMPLES) {
        rx.process(f, &mut |b| {
            if let Some(r) = asm.push(b) {
                out.push(r);
            }
        });
    }
    out
}

#[test]
fn end_to_end_sdmf_and_mdmf() {
    let cases = [
        id("01011234", Some("9195551212"), Some("SMITH JANE")),
        id("12312359", Some("+44 20 7946 0018"), Some("O'Brien, Zoë")),
        CallerId {
            datetime: Some("07040000".into()),
            number_absent: Some('P'),
            name_absent: Some('P'),
            ..CallerId::default()
        },
        CallerId {
            datetime: Some("07040000".into()),
            number_absent: Some('O'),
            name_absent: Some('O'),
            ..CallerId::default()
        },
        CallerId {
            datetime: Some("03151200".into()),
            number: Some("5551234".into()),
            name_absent: Some('P'),
            ..CallerId::default()
        },
    ];
    let mut seed = 10;
    for want in &cases {
        for (level, ulaw, snr) in [
            (-13.5, false, None),
            (-13.5, true, Some(25.0)),
            (-32.0, true, Some(20.0)),
        ] {
            seed += 1;
            let got = over_the_line(&encode_mdmf(want), level, ulaw, snr, seed);
            assert_eq!(got, vec![Ok(want.clone())], "MDMF {want:?} {level} {ulaw}");
            let sd = CallerId {
                name: None,
                name_absent: None,
                ..want.clone()
            };
            let got = over_the_line(&encode_sdmf(&sd), level, ulaw, snr, seed + 100);
            assert_eq!(got, vec![Ok(sd.clone())], "SDMF {sd:?} {level} {ulaw}");
        }
    }
}
