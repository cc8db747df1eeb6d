//! Audio on the emulated line: the wire format chosen with `+VSM`, and the
//! call-progress tones the exchange plays (dial tone, busy, the call-waiting
//! SAS, DTMF), so a host that runs its own detectors on the received samples
//! finds them exactly as on a real line (hardware.md §3.3, §3.6).
//!
//! Far-end audio is injected in the wire format and passes through
//! byte-for-byte while no tone plays, so tests can compare it exactly; only
//! while a tone plays are the samples decoded, mixed and re-encoded. Tones
//! can only be synthesised for PCM formats: on ADPCM/GSM lines the far-end
//! bytes pass through and the modem reports tones by `<DLE>` code only.

use pickupd_dsp::g711;
use pickupd_hw::v253::SampleFormat;
use std::collections::VecDeque;

/// The audio format on the serial link and its sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireFormat {
    /// Encoding selected with `+VSM`.
    pub format: SampleFormat,
    /// Samples per second (8000, or 7200 on ELSA, §3.9).
    pub rate: u32,
}

impl WireFormat {
    /// Samples in one 20 ms frame, the pacing unit of the emulated modem.
    pub fn frame_samples(self) -> usize {
        (self.rate / 50) as usize
    }

    /// Bytes that `samples` samples take on the wire. GSM full rate packs
    /// 160 samples into 33 bytes.
    pub fn bytes_for(self, samples: usize) -> usize {
        match self.format {
            SampleFormat::Gsm => samples * 33 / 160,
            f => samples * usize::from(f.bits()) / 8,
        }
    }

    /// `len` bytes of silence: the byte that decodes to zero (0x80 for
    /// unsigned PCM, 0xFF for µ-law, 0xD5 for A-law); zero elsewhere.
    pub fn silence(self, len: usize) -> Vec<u8> {
        let byte = match self.format {
            SampleFormat::UnsignedPcm8 => 0x80,
            SampleFormat::MuLaw => 0xFF,
            SampleFormat::ALaw => 0xD5,
            _ => 0,
        };
        vec![byte; len]
    }

    /// Linear samples of wire bytes; `None` for formats the emulator does
    /// not decode (ADPCM, GSM).
    pub fn decode(self, bytes: &[u8]) -> Option<Vec<i16>> {
        Some(match self.format {
            SampleFormat::UnsignedPcm8 => {
                bytes.iter().map(|&b| (i16::from(b) - 128) << 8).collect()
            }
            SampleFormat::SignedPcm8 => bytes
                .iter()
                .map(|&b| i16::from(i8::from_ne_bytes([b])) << 8)
                .collect(),
            SampleFormat::SignedPcm16Le => bytes
                .chunks(2)
                .map(|c| i16::from_le_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                .collect(),
            SampleFormat::MuLaw => bytes.iter().map(|&b| g711::ulaw_decode(b)).collect(),
            SampleFormat::ALaw => bytes.iter().map(|&b| g711::alaw_decode(b)).collect(),
            SampleFormat::Adpcm4 | SampleFormat::Adpcm2 | SampleFormat::Gsm => return None,
        })
    }

    /// Wire bytes of linear samples, appended to `out` (PCM formats only:
    /// nothing for ADPCM and GSM).
    pub fn encode(self, samples: &[i16], out: &mut Vec<u8>) {
        for &s in samples {
            match self.format {
                SampleFormat::UnsignedPcm8 => out.push(((s >> 8) + 128) as u8),
                SampleFormat::SignedPcm8 => out.push((s >> 8) as i8 as u8),
                SampleFormat::SignedPcm16Le => out.extend_from_slice(&s.to_le_bytes()),
                SampleFormat::MuLaw => out.push(g711::ulaw_encode(s)),
                SampleFormat::ALaw => out.push(g711::alaw_encode(s)),
                SampleFormat::Adpcm4 | SampleFormat::Adpcm2 | SampleFormat::Gsm => {}
            }
        }
    }
}

/// One stretch of a tone: up to two frequencies (0 = none) for a duration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Frequencies in Hz; 0 for silence.
    pub freqs: [f32; 2],
    /// Length in milliseconds.
    pub ms: u32,
}

impl Segment {
    /// A tone of one or two frequencies.
    pub const fn tone(f1: f32, f2: f32, ms: u32) -> Self {
        Self {
            freqs: [f1, f2],
            ms,
        }
    }

    /// A pause.
    pub const fn pause(ms: u32) -> Self {
        Self::tone(0.0, 0.0, ms)
    }
}

/// North American precise dial tone, continuous.
pub const DIAL_TONE: [Segment; 1] = [Segment::tone(350.0, 440.0, 1000)];
/// Busy: 480 + 620 Hz, 0.5 s on, 0.5 s off.
pub const BUSY_TONE: [Segment; 2] = [Segment::tone(480.0, 620.0, 500), Segment::pause(500)];
/// The call-waiting subscriber alerting signal: 440 Hz for 300 ms.
pub const SAS: [Segment; 1] = [Segment::tone(440.0, 0.0, 300)];

/// The DTMF pair of a digit, 70 ms on and 50 ms off as exchanges send them.
pub fn dtmf(digit: u8) -> Option<[Segment; 2]> {
    const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let (row, col) = match digit {
        b'1' => (0, 0),
        b'2' => (0, 1),
        b'3' => (0, 2),
        b'A' => (0, 3),
        b'4' => (1, 0),
        b'5' => (1, 1),
        b'6' => (1, 2),
        b'B' => (1, 3),
        b'7' => (2, 0),
        b'8' => (2, 1),
        b'9' => (2, 2),
        b'C' => (2, 3),
        b'*' => (3, 0),
        b'0' => (3, 1),
        b'#' => (3, 2),
        b'D' => (3, 3),
        _ => return None,
    };
    Some([Segment::tone(ROWS[row], COLS[col], 70), Segment::pause(50)])
}

/// Plays a list of segments, once or looped, sample by sample.
#[derive(Debug, Clone, Default)]
struct Player {
    segments: Vec<Segment>,
    looped: bool,
    index: usize,
    /// Samples played of the current segment.
    pos: u64,
}

impl Player {
    fn next_sample(&mut self, rate: u32) -> Option<f32> {
        loop {
            let seg = *self.segments.get(self.index)?;
            let len = u64::from(seg.ms) * u64::from(rate) / 1000;
            if self.pos < len {
                let t = self.pos as f32 / rate as f32;
                self.pos += 1;
                let v: f32 = seg
                    .freqs
                    .iter()
                    .filter(|&&f| f > 0.0)
                    .map(|&f| (std::f32::consts::TAU * f * t).sin())
                    .sum();
                return Some(v);
            }
            self.pos = 0;
            self.index += 1;
            if self.index >= self.segments.len() {
                if !self.looped {
                    return None;
                }
                self.index = 0;
            }
        }
    }
}

/// Most far-end audio kept waiting (bytes): a minute of 16-bit audio. An
/// injector far ahead of real time loses the excess rather than growing
/// memory.
const MAX_FAR_END: usize = 60 * 16_000;

/// What the line carries towards the modem: far-end audio plus tones.
#[derive(Debug, Clone, Default)]
pub struct LineAudio {
    far_end: VecDeque<u8>,
    /// Dial or busy tone, looped until replaced.
    background: Option<Player>,
    /// One-shot tones (SAS, DTMF) played in order on top.
    overlay: VecDeque<Player>,
    /// Bytes of far-end audio dropped because [`MAX_FAR_END`] was reached.
    pub dropped: usize,
}

/// Tone amplitude per frequency (about −16 dBm0 for a pair).
const LEVEL: f32 = 5000.0;

impl LineAudio {
    /// Queues far-end audio in wire bytes.
    pub fn push_far_end(&mut self, bytes: &[u8]) {
        let room = MAX_FAR_END.saturating_sub(self.far_end.len());
        let take = bytes.len().min(room);
        self.far_end.extend(&bytes[..take]);
        self.dropped += bytes.len() - take;
    }

    /// Far-end bytes not yet on the wire.
    pub fn far_end_pending(&self) -> usize {
        self.far_end.len()
    }

    /// Drops queued far-end audio (the call ended).
    pub fn clear_far_end(&mut self) {
        self.far_end.clear();
    }

    /// Replaces the looped background tone (`None` for quiet).
    pub fn set_background(&mut self, segments: Option<&[Segment]>) {
        self.background = segments.map(|s| Player {
            segments: s.to_vec(),
            looped: true,
            ..Player::default()
        });
    }

    /// Plays `segments` once on top of everything else.
    pub fn play_once(&mut self, segments: &[Segment]) {
        // Bounded: a flood of injected digits keeps the last few dozen.
        if self.overlay.len() >= 64 {
            self.overlay.pop_front();
        }
        self.overlay.push_back(Player {
            segments: segments.to_vec(),
            ..Player::default()
        });
    }

    /// Stops all tones.
    pub fn silence_tones(&mut self) {
        self.background = None;
        self.overlay.clear();
    }

    /// One frame of `samples` samples in `wire` format, and whether it
    /// carried anything but silence (for the modem's silence detection).
    pub fn frame(&mut self, wire: WireFormat, samples: usize) -> (Vec<u8>, bool) {
        let len = wire.bytes_for(samples);
        let n = len.min(self.far_end.len());
        let mut bytes: Vec<u8> = self.far_end.drain(..n).collect();
        let voice = n > 0;
        let toned = self.background.is_some() || !self.overlay.is_empty();
        let decoded = if toned { wire.decode(&bytes) } else { None };
        let Some(mut linear) = decoded else {
            // Pass-through (or a format the emulator cannot mix into):
            // advance the tones anyway so their timing stays real.
            for _ in 0..samples {
                self.tone_sample(wire.rate);
            }
            let pad = wire.silence(len - bytes.len());
            bytes.extend_from_slice(&pad);
            return (bytes, voice || toned);
        };
        linear.resize(samples, 0);
        let mut any_tone = false;
        for s in linear.iter_mut() {
            if let Some(t) = self.tone_sample(wire.rate) {
                any_tone = true;
                let mixed = f32::from(*s) + t * LEVEL;
                *s = mixed.clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16;
            }
        }
        let mut out = Vec::with_capacity(len);
        wire.encode(&linear, &mut out);
        (out, voice || any_tone)
    }

    fn tone_sample(&mut self, rate: u32) -> Option<f32> {
        let mut sum = None;
        if let Some(bg) = self.background.as_mut() {
            sum = bg.next_sample(rate);
        }
        while let Some(front) = self.overlay.front_mut() {
            match front.next_sample(rate) {
                Some(v) => {
                    sum = Some(sum.unwrap_or(0.0) + v);
                    break;
                }
                None => {
                    self.overlay.pop_front();
                }
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCM8: WireFormat = WireFormat {
        format: SampleFormat::UnsignedPcm8,
        rate: 8000,
    };

    #[test]
    fn far_end_passes_through_untouched_without_tones() {
        let mut audio = LineAudio::default();
        let sent: Vec<u8> = (0..=255).collect();
        audio.push_far_end(&sent);
        let (a, voice) = audio.frame(PCM8, 160);
        let (b, _) = audio.frame(PCM8, 160);
        assert!(voice);
        assert_eq!(&a[..], &sent[..160]);
        assert_eq!(&b[..96], &sent[160..]);
        assert!(b[96..].iter().all(|&x| x == 0x80));
    }

    #[test]
    fn sas_is_audible_for_300_ms() {
        let mut audio = LineAudio::default();
        audio.play_once(&SAS);
        let (frame, voice) = audio.frame(PCM8, 160);
        assert!(voice);
        assert!(frame.iter().any(|&b| b.abs_diff(0x80) > 10));
        for _ in 0..15 {
            audio.frame(PCM8, 160);
        }
        let (after, voice) = audio.frame(PCM8, 160);
        assert!(!voice);
        assert!(after.iter().all(|&b| b == 0x80));
    }

    #[test]
    fn sixteen_bit_frames_have_two_bytes_per_sample() {
        let wire = WireFormat {
            format: SampleFormat::SignedPcm16Le,
            rate: 8000,
        };
        let mut audio = LineAudio::default();
        audio.set_background(Some(&DIAL_TONE));
        let (frame, _) = audio.frame(wire, 160);
        assert_eq!(frame.len(), 320);
    }
}
