//! Cadence and call-progress tone generator.
//!
//! A cadence is a list of [`Segment`]s played in order and then repeated from
//! the first element not marked `once` (DAHDI `!`). Components are summed,
//! each at the element's level (or the generator default); `f1*f2` is f1
//! amplitude-modulated by f2 at 90 % depth as DAHDI does. The phase runs
//! continuously across elements so consecutive elements of the same
//! frequency join without a click.

use crate::zones::{self, Segment};
use crate::{clamp_i16, dbm0_to_peak, ms_to_samples, SAMPLE_RATE};

/// DAHDI's modulation depth for `f1*f2`.
const MODULATION_DEPTH: f64 = 0.9;
/// DAHDI's `f@` attenuation.
const ATTENUATED_GAIN: f32 = 0.3;
/// Level used by [`ToneGenerator::sas`] for elements without their own
/// (SAS at the exchange, signals.md §2).
pub const SAS_LEVEL_DBM0: f32 = -13.0;

/// Call-progress tones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressTone {
    /// Dial tone.
    Dial,
    /// Ringback (audible ringing).
    Ringback,
    /// Busy.
    Busy,
    /// Reorder / congestion.
    Reorder,
    /// The call-waiting beep a station hears in conversation.
    CallWaiting,
    /// Nothing.
    Silence,
}

#[derive(Debug, Clone)]
struct Element {
    /// (frequency in cycles per sample, peak amplitude)
    comps: Vec<(f64, f32)>,
    /// modulation frequency in cycles per sample
    modulation: Option<f64>,
    /// `None` = continuous
    samples: Option<u64>,
    once: bool,
}

/// Plays a cadence; see the module comment.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    elements: Vec<Element>,
    idx: usize,
    /// Sample position inside the current element.
    pos: u64,
    /// Samples generated in total, for continuous phase.
    t: u64,
    first_pass: bool,
    done: bool,
}

impl ToneGenerator {
    /// Generator for `segments`; elements without a level play at
    /// `default_level_dbm0` per component.
    pub fn new(segments: &[Segment], default_level_dbm0: f32) -> Self {
        let nyquist = f64::from(SAMPLE_RATE) / 2.0;
        let elements: Vec<Element> = segments
            .iter()
            .filter(|s| s.ms != Some(0))
            .map(|s| {
                let mut amp = dbm0_to_peak(s.level_dbm0.unwrap_or(default_level_dbm0));
                if s.attenuated {
                    amp *= ATTENUATED_GAIN;
                }
                let comps = s
                    .freqs
                    .iter()
                    .map(|&f| f64::from(f))
                    // Components at or above Nyquist would alias: not playable.
                    .filter(|&f| f > 0.0 && f < nyquist)
                    .map(|f| (f / f64::from(SAMPLE_RATE), amp))
                    .collect();
                Element {
                    comps,
                    modulation: s
                        .modulation_hz
                        .map(|m| f64::from(m) / f64::from(SAMPLE_RATE)),
                    samples: s.ms.map(ms_to_samples),
                    once: s.once,
                }
            })
            .collect();
        let mut g = Self {
            done: elements.is_empty(),
            elements,
            idx: 0,
            pos: 0,
            t: 0,
            first_pass: true,
        };
        g.settle();
        g
    }

    /// North American call-progress tone (signals.md §6). Every zone uses the
    /// `us` tones except for [`ProgressTone::CallWaiting`], which plays the
    /// zone's first call-waiting variant in a loop (falling back to `us`).
    pub fn progress(tone: ProgressTone, zone_code: &str) -> Self {
        let on_off = |freqs: &[f32], on: u32, off: u32, level: f32| {
            vec![
                Segment::tone(freqs, Some(on)).at(level),
                Segment::silence(Some(off)),
            ]
        };
        let segs = match tone {
            ProgressTone::Dial => vec![Segment::tone(&[350.0, 440.0], None).at(-13.0)],
            ProgressTone::Ringback => on_off(&[440.0, 480.0], 2000, 4000, -19.0),
            ProgressTone::Busy => on_off(&[480.0, 620.0], 500, 500, -24.0),
            ProgressTone::Reorder => on_off(&[480.0, 620.0], 250, 250, -24.0),
            ProgressTone::CallWaiting => {
                match zones::zone(zone_code)
                    .or_else(|| zones::zone("us"))
                    .and_then(|z| z.call_waiting.first())
                {
                    Some(cw) => cw.segments.clone(),
                    None => on_off(&[440.0], 300, 10_000, SAS_LEVEL_DBM0),
                }
            }
            ProgressTone::Silence => Vec::new(),
        };
        Self::new(&segs, SAS_LEVEL_DBM0)
    }

    /// The zone's call-waiting tone as the exchange plays it into the line:
    /// first variant, one cycle (see [`zones::CallWaitingTone::line_cadence`]),
    /// then silence. Elements without a level play at [`SAS_LEVEL_DBM0`].
    pub fn sas(zone: &zones::Zone) -> Self {
        let segs = zone
            .call_waiting
            .first()
            .map(|cw| cw.line_cadence())
            .unwrap_or_default();
        Self::new(&segs, SAS_LEVEL_DBM0)
    }

    /// True once a non-repeating tone has played out (only silence follows).
    pub fn finished(&self) -> bool {
        self.done
    }

    /// Write the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let tau = std::f64::consts::TAU;
        for o in out.iter_mut() {
            let Some(el) = self.elements.get(self.idx).filter(|_| !self.done) else {
                *o = 0;
                continue;
            };
            let t = self.t as f64;
            let mut v = 0.0f32;
            for &(f, a) in &el.comps {
                // Reduce the phase before sin() to keep f64 precision.
                v += a * (tau * (f * t).fract()).sin() as f32;
            }
            if let Some(m) = el.modulation {
                v *= (1.0 + MODULATION_DEPTH * (tau * (m * t).fract()).cos()) as f32;
            }
            *o = clamp_i16(v);
            self.t = self.t.wrapping_add(1);
            self.pos += 1;
            if el.samples.is_some_and(|n| self.pos >= n) {
                self.advance();
            }
        }
    }

    /// Move to the next element to play, honouring `once`.
    fn advance(&mut self) {
        self.pos = 0;
        self.idx += 1;
        self.settle();
    }

    /// Make `idx` point at a playable element, or mark the tone done.
    fn settle(&mut self) {
        if self.done {
            return;
        }
        loop {
            if self.idx >= self.elements.len() {
                self.first_pass = false;
                match self.elements.iter().position(|e| !e.once) {
                    Some(i) => self.idx = i,
                    None => {
                        self.done = true;
                        return;
                    }
                }
            }
            let el = &self.elements[self.idx];
            if !self.first_pass && el.once {
                self.idx += 1;
                continue;
            }
            if el.samples.is_none() && el.comps.is_empty() {
                // Continuous silence: nothing more will sound.
                self.done = true;
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(g: &mut ToneGenerator, n: usize) -> Vec<i16> {
        let mut v = vec![0; n];
        g.fill(&mut v);
        v
    }

    #[test]
    fn once_elements_then_loop() {
        let segs = zones::parse_tone_string("!440/10,!0/10,1000/10,0/10").unwrap();
        let mut g = ToneGenerator::new(&segs, -10.0);
        let v = run(&mut g, 80 * 6);
        // 440 first, then silence, then 1000/0 alternating for ever.
        assert!(v[..80].iter().any(|&x| x != 0));
        assert!(v[80..160].iter().all(|&x| x == 0));
        assert!(v[160..240].iter().any(|&x| x != 0));
        assert!(v[240..320].iter().all(|&x| x == 0));
        assert!(v[320..400].iter().any(|&x| x != 0));
        assert!(!g.finished());
    }

    #[test]
    fn all_once_finishes() {
        let segs = zones::parse_tone_string("!440/10,!0/10").unwrap();
        let mut g = ToneGenerator::new(&segs, -10.0);
        run(&mut g, 160);
        assert!(g.finished());
        assert!(run(&mut g, 100).iter().all(|&x| x == 0));
        assert!(ToneGenerator::progress(ProgressTone::Silence, "us").finished());
        let mut dial = ToneGenerator::progress(ProgressTone::Dial, "us");
        run(&mut dial, 8000);
        assert!(!dial.finished());
    }
}
