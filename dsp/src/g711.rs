//! G.711 µ-law and A-law companding (ITU-T G.711, after the Sun reference
//! implementation used by spandsp and Asterisk).
//!
//! Encoders take 16-bit linear PCM; decoders return 16-bit linear PCM
//! (µ-law spans ±32 124, A-law ±32 256).

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32_635;

/// Encode one linear sample to µ-law.
pub fn ulaw_encode(s: i16) -> u8 {
    let mut v = i32::from(s);
    let sign: u8 = if v < 0 {
        v = -v;
        0x80
    } else {
        0
    };
    v = v.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 7 (0..=7).
    let exponent = (31 - v.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = ((v >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// Decode one µ-law byte to linear.
pub fn ulaw_decode(b: u8) -> i16 {
    let b = !b;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let t = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    // |t| <= 32 124, always in range.
    if b & 0x80 != 0 {
        -t as i16
    } else {
        t as i16
    }
}

/// Encode one linear sample to A-law.
pub fn alaw_encode(s: i16) -> u8 {
    // A-law works on 13 bits.
    let mut v = i32::from(s) >> 3;
    let mask: u8 = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    if v > 0xFFF {
        return 0x7F ^ mask;
    }
    // Segment end points 0x1F, 0x3F, 0x7F, ... 0xFFF.
    let seg = (32 - (v >> 5).leading_zeros()).min(7) as i32;
    let quant = if seg < 2 { v >> 1 } else { v >> seg };
    let aval = ((seg as u8) << 4) | (quant as u8 & 0x0F);
    aval ^ mask
}

/// Decode one A-law byte to linear.
pub fn alaw_decode(b: u8) -> i16 {
    let a = b ^ 0x55;
    let mut t = i32::from(a & 0x0F) << 4;
    let seg = i32::from((a & 0x70) >> 4);
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    // |t| <= 32 256, always in range.
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

/// Decode a slice of µ-law bytes into `out` (the shorter length wins).
pub fn ulaw_decode_slice(input: &[u8], out: &mut [i16]) {
    for (o, &b) in out.iter_mut().zip(input) {
        *o = ulaw_decode(b);
    }
}

/// Encode a slice of linear samples into µ-law bytes (the shorter length wins).
pub fn ulaw_encode_slice(input: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(input) {
        *o = ulaw_encode(s);
    }
}

/// Decode a slice of A-law bytes into `out` (the shorter length wins).
pub fn alaw_decode_slice(input: &[u8], out: &mut [i16]) {
    for (o, &b) in out.iter_mut().zip(input) {
        *o = alaw_decode(b);
    }
}

/// Encode a slice of linear samples into A-law bytes (the shorter length wins).
pub fn alaw_encode_slice(input: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(input) {
        *o = alaw_encode(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0xAA), 32_256);
        assert_eq!(alaw_decode(0x2A), -32_256);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
    }
}
