//! G.711 round trips over every input.

use pickupd_dsp::g711::*;

#[test]
fn ulaw_round_trip_all_samples() {
    let mut prev = i16::MIN;
    for s in i16::MIN..=i16::MAX {
        let d = ulaw_decode(ulaw_encode(s));
        // Monotonic.
        assert!(d >= prev, "{s}: {d} < {prev}");
        prev = d;
        // Error within half a quantisation step: segment e has step
        // 2^(e+3) and holds |s| + 132 >= 2^(e+7), so half a step is at most
        // (|s| + 132) / 32; beyond ±32 124 the value clips.
        let clipped = i32::from(s).clamp(-32_124, 32_124);
        let err = (i32::from(d) - clipped).abs();
        assert!(err <= (clipped.abs() + 132) / 32 + 1, "{s} -> {d}");
        assert_eq!(d.signum(), if d == 0 { 0 } else { s.signum() });
    }
}

#[test]
fn alaw_round_trip_all_samples() {
    let mut prev = i16::MIN;
    for s in i16::MIN..=i16::MAX {
        let d = alaw_decode(alaw_encode(s));
        assert!(d >= prev, "{s}: {d} < {prev}");
        prev = d;
        let err = (i32::from(d) - i32::from(s)).abs();
        assert!(err <= (i32::from(s).abs() / 32).max(8) + 1, "{s} -> {d}");
    }
}

#[test]
fn codes_round_trip() {
    for b in 0..=255u8 {
        let u = ulaw_decode(b);
        assert_eq!(ulaw_decode(ulaw_encode(u)), u, "ulaw {b:#x}");
        // Only the two zero codes (0x7F, 0xFF) share a value.
        if b != 0x7F {
            assert_eq!(ulaw_encode(u), b, "ulaw {b:#x}");
        }
        let a = alaw_decode(b);
        assert_eq!(alaw_encode(a), b, "alaw {b:#x}");
    }
}

#[test]
fn slices() {
    let pcm = [0i16, 1000, -1000, 32767, -32768];
    let mut enc = [0u8; 5];
    let mut dec = [0i16; 5];
    ulaw_encode_slice(&pcm, &mut enc);
    ulaw_decode_slice(&enc, &mut dec);
    assert_eq!(dec, [0, 988, -988, 32124, -32124]);
    alaw_encode_slice(&pcm, &mut enc);
    alaw_decode_slice(&enc, &mut dec);
    assert_eq!(dec, [8, 1008, -1008, 32256, -32256]);
}
