//! Bell 202 FSK (1200 bit/s, mark 1200 Hz, space 2200 Hz) modulator and
//! demodulator for asynchronous characters: start bit 0, eight data bits LSB
//! first, stop bit 1 (signals.md §4).
//!
//! # Receiver
//!
//! Non-coherent quadrature correlators, as spandsp `fsk_rx`: for each sample
//! the last [`CORR_LEN`] samples are correlated with a complex mark and a
//! complex space tone; `|mark|² − |space|²` is the soft bit. Its sign is the
//! bit and its zero crossings are the bit edges, both delayed alike by the
//! correlator, so no separate delay compensation is needed.
//!
//! Bit timing is recovered on every start bit: while idle (line in mark),
//! the mark→space crossing is located to a fraction of a sample by linear
//! interpolation, and the ten bits of the character are sampled at their
//! centres from there. The start bit must still read space at its centre
//! (else it was a glitch) and the stop bit must read mark (else a framing
//! error; the character is dropped). Resynchronising on every character
//! tolerates the ±1 % bit-rate tolerance of Bell 202 with margin (±2 %
//! measured: ≤ 1 % of 40-byte messages damaged at 20 dB SNR).
//!
//! Noise must not turn into characters (a line can carry noise around
//! −35 dBm0 before and after the FSK), so the receiver is only *armed* after
//! eight bit times of clean mark (the caller-ID mark preamble is 58–75 ms,
//! about 70–90 bits): one tone at least 3× the other, `|soft| ≥ 0.5 ·
//! (|mark|² + |space|²)`. A character's bits must be clean on average (the
//! same measure averaged over its ten bit centres ≥ 0.7; a single bit may be
//! smeared by inter-symbol interference). A character failing that, or with
//! a framing error, is dropped and disarms the receiver until the next clean
//! mark; a good character keeps it armed, so characters may follow each
//! other back to back.
//!
//! The carrier is present while the smoothed input power stays above
//! −40 dBm0 (on) / −43 dBm0 (off); characters are only started with carrier.

use crate::{clamp_i16, dbm0_to_peak, SAMPLE_RATE};

/// Mark (binary 1) frequency.
pub const MARK_HZ: f32 = 1200.0;
/// Space (binary 0) frequency.
pub const SPACE_HZ: f32 = 2200.0;
/// Bit rate.
pub const BAUD: u32 = 1200;
/// Correlator length in samples (a little over one bit: better mark/space
/// separation than 6, little extra inter-symbol smearing).
pub const CORR_LEN: usize = 7;
/// Carrier-on threshold.
pub const CARRIER_ON_DBM0: f32 = -40.0;
/// Carrier-off threshold.
pub const CARRIER_OFF_DBM0: f32 = -43.0;

/// Samples per bit.
const BIT: f64 = SAMPLE_RATE as f64 / BAUD as f64;
/// Clean mark needed to arm the receiver (eight bit times).
const ARM_SAMPLES: u32 = 53;
/// Clean mark for arming: `|soft| / total` at least this (one tone ≥ 3×
/// the other).
const CLEAN: f32 = 0.5;
/// Mean `|soft| / total` over a character's bit centres. Clean FSK reads
/// 0.85–0.95 at 20 dB SNR (≥ 0.75 with ±2 % bit-rate error); white noise
/// gives a uniform 0…1 per bit (mean 0.5, σ ≈ 0.09 over ten bits), so a
/// noise "character" passes about 1 % of the time — and then disarms the
/// receiver. Such a stray byte after a message is harmless to
/// [`crate::callerid::MessageAssembler`], which stops at the checksum.
const CHAR_CLEAN: f32 = 0.7;
/// Mark bits after the data.
const TRAILING_MARK_BITS: u32 = 2;
/// Transmit phase in units of 1/40 cycle: 1200 Hz = 6/40, 2200 Hz = 11/40
/// cycle per sample at 8 kHz, so a 40-entry table is exact.
const PHASE_STEPS: usize = 40;
const MARK_STEP: usize = 6;
const SPACE_STEP: usize = 11;

/// Bell 202 modulator. Messages are queued as bits (allocated in
/// [`FskTransmitter::queue_message`]); [`FskTransmitter::fill`] only reads
/// them.
#[derive(Debug, Clone)]
pub struct FskTransmitter {
    table: [i16; PHASE_STEPS],
    /// Queued bits (0/1).
    bits: Vec<u8>,
    next_bit: usize,
    /// Bit clock: +3 per sample, a new bit every 20 (8000/1200 = 20/3).
    clock: u32,
    phase: usize,
}

impl FskTransmitter {
    /// Modulator at `level_dbm0` (caller ID is typically −13.5 dBm0).
    pub fn new(level_dbm0: f32) -> Self {
        let a = dbm0_to_peak(level_dbm0);
        let mut table = [0i16; PHASE_STEPS];
        for (i, v) in table.iter_mut().enumerate() {
            *v = clamp_i16(a * (std::f32::consts::TAU * i as f32 / PHASE_STEPS as f32).sin());
        }
        Self {
            table,
            bits: Vec::with_capacity(4096),
            next_bit: 0,
            clock: 0,
            phase: 0,
        }
    }

    /// Queue `mark_ms` of mark (58–75 ms before caller-ID data off-hook,
    /// signals.md §4 E), then `bytes` as asynchronous characters, then two
    /// mark bits so the last stop bit is complete.
    pub fn queue_message(&mut self, bytes: &[u8], mark_ms: u32) {
        if self.is_idle() {
            self.bits.clear();
            self.next_bit = 0;
            self.clock = 0;
        }
        let mark_bits = (u64::from(mark_ms) * u64::from(BAUD)).div_ceil(1000);
        self.bits
            .extend(std::iter::repeat_n(1u8, mark_bits.min(1 << 20) as usize));
        for &b in bytes {
            self.bits.push(0);
            self.bits.extend((0..8).map(|i| (b >> i) & 1));
            self.bits.push(1);
        }
        self.bits
            .extend(std::iter::repeat_n(1u8, TRAILING_MARK_BITS as usize));
    }

    /// Drop anything queued.
    pub fn clear(&mut self) {
        self.bits.clear();
        self.next_bit = 0;
    }

    /// True when nothing is left to send.
    pub fn is_idle(&self) -> bool {
        self.next_bit >= self.bits.len()
    }

    /// Write the next samples; silence when idle.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            let Some(&bit) = self.bits.get(self.next_bit) else {
                *o = 0;
                continue;
            };
            // Phase-continuous: only the step changes between bits.
            *o = self.table[self.phase];
            let step = if bit != 0 { MARK_STEP } else { SPACE_STEP };
            self.phase = (self.phase + step) % PHASE_STEPS;
            self.clock += 3;
            if self.clock >= 20 {
                self.clock -= 20;
                self.next_bit += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum RxState {
    /// Waiting for a start-bit edge.
    Idle,
    /// In a character: `edge` is the start-bit edge time (in samples),
    /// `bit` the next bit to sample (0 = start bit), `byte` the data so far.
    Char {
        edge: f64,
        bit: u32,
        byte: u16,
        /// Sum of the bits' cleanness `|soft| / total`.
        clean: f32,
    },
}

/// Bell 202 demodulator; see the module comment.
#[derive(Debug, Clone)]
pub struct FskReceiver {
    /// Correlator coefficients (cos, sin) for mark and space.
    coef: [[f32; CORR_LEN]; 4],
    hist: [f32; CORR_LEN],
    hist_pos: usize,
    /// Samples seen.
    n: u64,
    prev_soft: f32,
    state: RxState,
    /// Consecutive samples of clean mark while idle.
    mark_run: u32,
    armed: bool,
    power: f32,
    carrier: bool,
    on_power: f32,
    off_power: f32,
}

impl Default for FskReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl FskReceiver {
    /// Receiver for Bell 202 at any level down to about −40 dBm0.
    pub fn new() -> Self {
        let w = |f: f32, k: usize| std::f32::consts::TAU * f / SAMPLE_RATE as f32 * k as f32;
        let coef = [
            std::array::from_fn(|k| w(MARK_HZ, k).cos()),
            std::array::from_fn(|k| w(MARK_HZ, k).sin()),
            std::array::from_fn(|k| w(SPACE_HZ, k).cos()),
            std::array::from_fn(|k| w(SPACE_HZ, k).sin()),
        ];
        let p = |dbm0: f32| {
            let a = dbm0_to_peak(dbm0);
            a * a / 2.0
        };
        Self {
            coef,
            hist: [0.0; CORR_LEN],
            hist_pos: 0,
            n: 0,
            prev_soft: 0.0,
            state: RxState::Idle,
            mark_run: 0,
            armed: false,
            power: 0.0,
            carrier: false,
            on_power: p(CARRIER_ON_DBM0),
            off_power: p(CARRIER_OFF_DBM0),
        }
    }

    /// Forget everything received so far.
    pub fn reset(&mut self) {
        let n = self.n;
        *self = Self::new();
        self.n = n;
    }

    /// True while an FSK-level signal is present.
    pub fn carrier_present(&self) -> bool {
        self.carrier
    }

    /// Feed samples; every correctly framed character is passed to `on_byte`.
    pub fn process(&mut self, samples: &[i16], on_byte: &mut dyn FnMut(u8)) {
        for &s in samples {
            let x = f32::from(s);
            self.hist[self.hist_pos] = x;
            self.hist_pos = (self.hist_pos + 1) % CORR_LEN;
            self.n += 1;

            // Power with a ≈ 4 ms time constant.
            self.power += (x * x - self.power) * (1.0 / 32.0);
            if self.carrier && self.power < self.off_power {
                self.carrier = false;
            } else if !self.carrier && self.power > self.on_power {
                self.carrier = true;
            }

            if !self.carrier {
                self.armed = false;
            }
            let (soft, total) = self.soft_bit();
            let clean = soft.abs() >= CLEAN * total && total > 0.0;
            let now = (self.n - 1) as f64;
            match self.state {
                RxState::Idle => {
                    if clean && soft > 0.0 {
                        self.mark_run = self.mark_run.saturating_add(1);
                        if self.mark_run >= ARM_SAMPLES && self.carrier {
                            self.armed = true;
                        }
                    } else {
                        self.mark_run = 0;
                    }
                    if self.armed && self.prev_soft > 0.0 && soft <= 0.0 {
                        let frac = f64::from(self.prev_soft / (self.prev_soft - soft));
                        self.state = RxState::Char {
                            edge: now - 1.0 + frac,
                            bit: 0,
                            byte: 0,
                            clean: 0.0,
                        };
                    }
                }
                RxState::Char {
                    edge,
                    bit,
                    byte,
                    clean: sum,
                } => {
                    let centre = edge + (f64::from(bit) + 0.5) * BIT;
                    if now + 0.5 >= centre {
                        let one = soft > 0.0;
                        let sum = sum + if total > 0.0 { soft.abs() / total } else { 0.0 };
                        self.state = match bit {
                            0 if one => RxState::Idle,
                            0..=8 => RxState::Char {
                                edge,
                                bit: bit + 1,
                                byte: if bit == 0 {
                                    byte
                                } else {
                                    byte | (u16::from(one) << (bit - 1))
                                },
                                clean: sum,
                            },
                            _ => {
                                if one && sum >= CHAR_CLEAN * 10.0 {
                                    on_byte(byte as u8);
                                } else {
                                    // Framing error or noise.
                                    self.armed = false;
                                }
                                self.mark_run = 0;
                                RxState::Idle
                            }
                        };
                    }
                }
            }
            self.prev_soft = soft;
        }
    }

    /// `|mark|² − |space|²` and `|mark|² + |space|²` over the last
    /// [`CORR_LEN`] samples.
    #[inline]
    fn soft_bit(&self) -> (f32, f32) {
        let mut acc = [0.0f32; 4];
        for k in 0..CORR_LEN {
            // k = 0 is the oldest sample; the reference phase is arbitrary
            // since only magnitudes are used.
            let x = self.hist[(self.hist_pos + k) % CORR_LEN];
            for (a, c) in acc.iter_mut().zip(&self.coef) {
                *a += x * c[k];
            }
        }
        let m = acc[0] * acc[0] + acc[1] * acc[1];
        let s = acc[2] * acc[2] + acc[3] * acc[3];
        (m - s, m + s)
    }
}
