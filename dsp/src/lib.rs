//! Pure signal processing for pickupd: detectors and generators on 8 kHz
//! linear PCM (`i16`), in the spirit of spandsp: one module per function,
//! each with a descriptor, a constructor and a `process`/`fill` method.
//!
//! * [`g711`]: µ-law / A-law companding.
//! * [`goertzel`]: single-bin DFT filters (single and bank).
//! * [`dtmf`]: DTMF receiver (Q.24 figures) and generator.
//! * [`zones`]: per-country call-waiting tones parsed from the embedded CSV.
//! * [`sas`]: call-waiting tone (SAS) detector, configured per zone.
//! * [`tones`]: cadence / call-progress tone generator.
//! * [`cas`]: CPE Alerting Signal (2130 + 2750 Hz) detector and generator.
//! * [`fsk`]: Bell 202 FSK modulator and demodulator.
//! * [`callerid`]: SDMF/MDMF caller-ID messages and their assembly from bytes.
//! * [`progress`]: call-progress tone detector (dial, ringback, busy, reorder).
//! * [`echo`]: NLMS line echo canceller of the daemon's own transmit audio.
//!
//! Levels are in dBm0; a 0 dBm0 sine has a peak of about 22 800 (spandsp
//! `DBM0_MAX_SINE_POWER`). Nothing here allocates in a `process`/`fill` path
//! and no input can make it panic.

pub mod bank;
pub mod callerid;
pub mod cas;
pub mod dtmf;
pub mod echo;
mod filters;
pub mod fsk;
pub mod g711;
pub mod goertzel;
pub mod progress;
pub mod sas;
pub mod tones;
pub mod zones;

/// Sample rate of all signals handled by this crate.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples per 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// One 20 ms frame of linear PCM.
pub type Frame = [i16; FRAME_SAMPLES];

/// Peak of a 0 dBm0 sine in s16 (G.711 full scale is +3.14 dBm0).
pub const DBM0_PEAK: f32 = 22_800.0;

/// Amplitude (peak) of a sine at `dbm0`.
pub fn dbm0_to_peak(dbm0: f32) -> f32 {
    DBM0_PEAK * 10f32.powf(dbm0 / 20.0)
}

/// Energy (sum of squares) of `n` samples of a sine at `dbm0`.
///
/// Detectors compare their Goertzel outputs and block energies against this,
/// so thresholds stay in dBm0 whatever the block length.
pub fn sine_energy(dbm0: f32, n: usize) -> f32 {
    let a = dbm0_to_peak(dbm0);
    a * a * 0.5 * n as f32
}

/// Convert a duration in milliseconds to samples at [`SAMPLE_RATE`].
pub fn ms_to_samples(ms: u32) -> u64 {
    u64::from(ms) * u64::from(SAMPLE_RATE) / 1000
}

/// Saturating conversion of a generated value to s16.
pub(crate) fn clamp_i16(x: f32) -> i16 {
    // `as` saturates for floats (and maps NaN to 0), which is what we want.
    x.round() as i16
}
