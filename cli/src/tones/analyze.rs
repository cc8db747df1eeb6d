//! The analysis behind `tones analyze`: the daemon's own detectors from
//! `pickupd_dsp`, run side by side over one stream of 8 kHz samples.
//!
//! * [`CallWaitingToneDetector::for_zone`] → `sas`
//! * [`CasDetector`] → `cas`; after each CAS a [`FskReceiver`] is run from
//!   the end of the CAS (replayed from a short history, since the CAS is
//!   reported ≈ 15 ms after it ends) and its bytes go to a
//!   [`MessageAssembler`] → `cidcw`. The FSK must start within
//!   [`FSK_START_WINDOW_MS`] of the end of the CAS (signals.md §4: ACK
//!   within 100 ms, 55–65 ms long, FSK within 500 ms after it); once its
//!   carrier is up the message is followed until it completes, the carrier
//!   drops or [`FSK_MAX_MS`] have passed.
//! * [`DtmfDetector`] → `dtmf`, one event per digit at its start, with its
//!   duration.
//! * [`ProgressDetector::for_zone`] → `dialtone`, `ringback`, `busy`,
//!   `reorder`.
//!
//! Detectors report some events late (a SAS pattern once it cannot grow any
//! more, a ringback at the end of its ring, a DTMF digit's duration when it
//! ends), so events are held back until nothing earlier can still be
//! reported ([`Analyzer::take_ready`]): by [`REPORT_LAG_SAMPLES`], and while
//! a DTMF digit or a caller-ID reception is still open. At the end of the
//! recording [`Analyzer::finish`] feeds [`FLUSH_MS`] of silence so that
//! tones running into the end of the file are judged as if the line went
//! quiet there.

use pickupd_dsp::callerid::{CallerId, CallerIdError, MessageAssembler};
use pickupd_dsp::cas::{CasDetector, CasEvent};
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent};
use pickupd_dsp::fsk::FskReceiver;
use pickupd_dsp::progress::{ProgressDetector, ProgressEvent, ProgressKind};
use pickupd_dsp::sas::{CallWaitingToneDetector, CallWaitingToneEvent};
use pickupd_dsp::zones::Zone;
use pickupd_dsp::{ms_to_samples, FRAME_SAMPLES, SAMPLE_RATE};

/// How long after the end of a CAS the FSK carrier may start.
pub const FSK_START_WINDOW_MS: u32 = 1000;
/// Longest caller-ID reception after a CAS (255 bytes take 2.1 s).
pub const FSK_MAX_MS: u32 = 4000;
/// Silence fed after the last sample so pending detections complete (longer
/// than any pattern gap a SAS group may still wait for).
pub const FLUSH_MS: u32 = 3000;
/// Events older than this (in samples) are final: no detector reports an
/// event this long after its start (the longest is a multi-burst SAS
/// pattern, ≲ 21 s).
pub const REPORT_LAG_SAMPLES: u64 = 30 * SAMPLE_RATE as u64;
/// Samples kept to replay into the FSK receiver from the end of a CAS.
const HISTORY: usize = 2048;

/// What was detected.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A call-waiting tone pattern of the zone.
    Sas {
        freq_hz: f32,
        dur_ms: u32,
        bursts: u8,
    },
    /// A CPE alerting signal.
    Cas { dur_ms: u32 },
    /// A DTMF digit; `dur_ms` is `None` while it lasts.
    Dtmf { digit: char, dur_ms: Option<u32> },
    /// A call-progress tone.
    Progress {
        kind: ProgressKind,
        freqs: (f32, f32),
    },
    /// Caller id decoded after a CAS.
    CallerId(CallerId),
}

/// Event names, in the order the summary counts them.
pub const EVENT_NAMES: [&str; 8] = [
    "sas", "cas", "cidcw", "dtmf", "dialtone", "ringback", "busy", "reorder",
];

impl EventKind {
    /// The `event` value of the JSON output.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Sas { .. } => "sas",
            EventKind::Cas { .. } => "cas",
            EventKind::Dtmf { .. } => "dtmf",
            EventKind::CallerId(_) => "cidcw",
            EventKind::Progress { kind, .. } => match kind {
                ProgressKind::DialTone => "dialtone",
                ProgressKind::Ringback => "ringback",
                ProgressKind::Busy => "busy",
                ProgressKind::Reorder => "reorder",
            },
        }
    }
}

/// A detection, placed at the start of its signal.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// First sample of the signal, counted from the start of the recording.
    pub at_sample: u64,
    pub kind: EventKind,
}

impl Event {
    /// Start in milliseconds from the start of the recording.
    pub fn t_ms(&self) -> u64 {
        self.at_sample * 1000 / u64::from(SAMPLE_RATE)
    }
}

fn samples_to_ms(n: u64) -> u32 {
    u32::try_from(n * 1000 / u64::from(SAMPLE_RATE)).unwrap_or(u32::MAX)
}

/// Caller-ID reception started by a CAS.
struct FskSession {
    rx: FskReceiver,
    asm: MessageAssembler,
    /// End of the CAS that started it.
    cas_end: u64,
    /// Next sample the receiver gets.
    pos: u64,
    /// When the carrier came up (for this message attempt).
    carrier_start: Option<u64>,
    last_error: Option<CallerIdError>,
    decoded: bool,
    done: bool,
}

impl FskSession {
    fn new(cas_end: u64) -> Self {
        Self {
            rx: FskReceiver::new(),
            asm: MessageAssembler::new(),
            cas_end,
            pos: cas_end,
            carrier_start: None,
            last_error: None,
            decoded: false,
            done: false,
        }
    }

    /// Feed samples starting at `self.pos`; a decoded message is returned.
    fn feed(&mut self, samples: &[i16]) -> Option<Event> {
        // Small slices: the carrier start is known to 1 ms.
        for slice in samples.chunks(8) {
            if self.done {
                return None;
            }
            let slice_start = self.pos;
            self.pos += slice.len() as u64;
            let mut bytes = [0u8; 8];
            let mut n = 0;
            self.rx.process(slice, &mut |b| {
                if n < bytes.len() {
                    bytes[n] = b;
                    n += 1;
                }
            });
            if self.rx.carrier_present() {
                self.carrier_start.get_or_insert(slice_start);
            }
            for &b in &bytes[..n] {
                match self.asm.push(b) {
                    Some(Ok(id)) => {
                        self.decoded = true;
                        self.done = true;
                        return Some(Event {
                            at_sample: self.carrier_start.unwrap_or(self.cas_end),
                            kind: EventKind::CallerId(id),
                        });
                    }
                    Some(Err(e)) => self.last_error = Some(e),
                    None => {}
                }
            }
            if !self.rx.carrier_present() && self.carrier_start.is_some() {
                // The carrier dropped: whatever came was not a message.
                self.carrier_start = None;
                self.asm.reset();
                if self.pos > self.cas_end + ms_to_samples(FSK_START_WINDOW_MS) {
                    self.done = true;
                }
            }
            let since = self.pos - self.cas_end;
            let receiving = self.carrier_start.is_some() || self.asm.in_message();
            if (!receiving && since > ms_to_samples(FSK_START_WINDOW_MS))
                || since > ms_to_samples(FSK_MAX_MS)
            {
                self.done = true;
            }
        }
        None
    }
}

/// All detectors over one recording; see the module comment.
pub struct Analyzer {
    sas: CallWaitingToneDetector,
    cas: CasDetector,
    dtmf: DtmfDetector,
    progress: ProgressDetector,
    fsk: Option<FskSession>,
    /// The last samples fed, for replay into the FSK receiver.
    history: Vec<i16>,
    /// Samples fed so far.
    fed: u64,
    /// Samples of the recording itself (without the flush).
    recording: u64,
    pending: Vec<Event>,
    notes: Vec<String>,
    finished: bool,
}

impl Analyzer {
    /// Detectors configured for `zone`.
    pub fn new(zone: &Zone) -> Self {
        Self {
            sas: CallWaitingToneDetector::for_zone(zone),
            cas: CasDetector::new(),
            dtmf: DtmfDetector::new(),
            progress: ProgressDetector::for_zone(&zone.code),
            fsk: None,
            history: Vec::with_capacity(HISTORY * 2),
            fed: 0,
            recording: 0,
            pending: Vec::new(),
            notes: Vec::new(),
            finished: false,
        }
    }

    /// Samples of the recording analysed so far.
    pub fn samples(&self) -> u64 {
        self.recording
    }

    /// Analyse the next samples of the recording.
    pub fn feed(&mut self, samples: &[i16]) {
        if self.finished {
            return;
        }
        self.recording += samples.len() as u64;
        for frame in samples.chunks(FRAME_SAMPLES) {
            self.frame(frame);
        }
    }

    /// The recording has ended: complete what is pending.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        let silence = [0i16; FRAME_SAMPLES];
        let mut left = ms_to_samples(FLUSH_MS);
        while left > 0 {
            let n = left.min(FRAME_SAMPLES as u64) as usize;
            self.frame(&silence[..n]);
            left -= n as u64;
        }
        if let Some(s) = self.fsk.take() {
            self.end_session(&s);
        }
        self.finished = true;
    }

    fn frame(&mut self, frame: &[i16]) {
        if self.history.len() + frame.len() > HISTORY * 2 {
            let cut = self.history.len() + frame.len() - HISTORY;
            self.history.drain(..cut.min(self.history.len()));
        }
        self.history.extend_from_slice(frame);
        self.fed += frame.len() as u64;

        let pending = &mut self.pending;
        self.sas.process(frame, &mut |e: CallWaitingToneEvent| {
            pending.push(Event {
                at_sample: e.at_sample,
                kind: EventKind::Sas {
                    freq_hz: e.freq_hz,
                    dur_ms: e.duration_ms,
                    bursts: e.bursts,
                },
            });
        });
        let mut cas_ends = [0u64; 2];
        let mut n_cas = 0;
        self.cas.process(frame, &mut |e: CasEvent| {
            pending.push(Event {
                at_sample: e.at_sample,
                kind: EventKind::Cas {
                    dur_ms: e.duration_ms,
                },
            });
            if n_cas < cas_ends.len() {
                cas_ends[n_cas] = e.end_sample;
                n_cas += 1;
            }
        });
        self.dtmf.process(frame, &mut |e| match e {
            DtmfEvent::Begin { digit, at_sample } => pending.push(Event {
                at_sample,
                kind: EventKind::Dtmf {
                    digit,
                    dur_ms: None,
                },
            }),
            DtmfEvent::End {
                digit,
                duration_samples,
                ..
            } => {
                let open = pending.iter_mut().rev().find_map(|ev| match &mut ev.kind {
                    EventKind::Dtmf { digit: d, dur_ms } if *d == digit && dur_ms.is_none() => {
                        Some(dur_ms)
                    }
                    _ => None,
                });
                if let Some(dur) = open {
                    *dur = Some(samples_to_ms(u64::from(duration_samples)));
                }
            }
        });
        self.progress.process(frame, &mut |e: ProgressEvent| {
            pending.push(Event {
                at_sample: e.at_sample,
                kind: EventKind::Progress {
                    kind: e.kind,
                    freqs: e.freqs,
                },
            });
        });

        // Caller id: the session in progress gets this frame ...
        if let Some(s) = &mut self.fsk {
            if let Some(ev) = s.feed(frame) {
                self.pending.push(ev);
            }
            if s.done {
                if let Some(s) = self.fsk.take() {
                    self.end_session(&s);
                }
            }
        }
        // ... and a CAS just reported starts one, replayed from its end.
        for &end in &cas_ends[..n_cas] {
            if let Some(s) = self.fsk.take() {
                self.end_session(&s);
            }
            let mut s = FskSession::new(end);
            let first = self.fed - self.history.len() as u64;
            let from = end.clamp(first, self.fed);
            s.pos = from;
            let skip = (from - first) as usize;
            let replay = self.history[skip..].to_vec();
            if let Some(ev) = s.feed(&replay) {
                self.pending.push(ev);
            }
            if s.done {
                self.end_session(&s);
            } else {
                self.fsk = Some(s);
            }
        }
    }

    fn end_session(&mut self, s: &FskSession) {
        if let (Some(err), false) = (s.last_error, s.decoded) {
            self.notes.push(format!(
                "caller id after the CAS ending at {} could not be decoded: {err}",
                super::clock(s.cas_end * 1000 / u64::from(SAMPLE_RATE))
            ));
        }
    }

    /// Remarks gathered since the last call (undecodable caller id).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Events that are final, in time order. Before [`Analyzer::finish`]
    /// this holds back recent events (see the module comment); after it,
    /// everything is returned.
    pub fn take_ready(&mut self) -> Vec<Event> {
        self.pending.sort_by_key(|e| e.at_sample);
        let mut limit = if self.finished {
            u64::MAX
        } else {
            self.fed.saturating_sub(REPORT_LAG_SAMPLES)
        };
        if !self.finished {
            if let Some(s) = &self.fsk {
                limit = limit.min(s.cas_end);
            }
        }
        let mut n = 0;
        for e in &self.pending {
            let open = matches!(e.kind, EventKind::Dtmf { dur_ms: None, .. });
            if e.at_sample >= limit || (open && !self.finished) {
                break;
            }
            n += 1;
        }
        let mut out: Vec<Event> = self.pending.drain(..n).collect();
        for e in &mut out {
            // A digit still sounding when the flush ended (cannot happen
            // with 3 s of silence, but keep the event whole).
            if let EventKind::Dtmf { dur_ms, .. } = &mut e.kind {
                if dur_ms.is_none() {
                    *dur_ms = Some(samples_to_ms(self.recording.saturating_sub(e.at_sample)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_dsp::callerid::encode_mdmf;
    use pickupd_dsp::cas::CasGenerator;
    use pickupd_dsp::dtmf::DtmfGenerator;
    use pickupd_dsp::fsk::FskTransmitter;
    use pickupd_dsp::tones::ToneGenerator;
    use pickupd_dsp::zones;

    /// SAS, CAS, 'D', caller id, a digit, in `len_ms` of audio.
    fn cycle(len_ms: usize, number: &str) -> Vec<i16> {
        let ms = |n: usize| n * 8;
        let mut s = vec![0i16; ms(1000)];
        let mut add = |n: usize, f: &mut dyn FnMut(&mut [i16])| {
            let at = s.len();
            s.resize(at + n, 0);
            f(&mut s[at..]);
        };
        let mut sas = ToneGenerator::sas(zones::zone("us").unwrap());
        add(ms(300), &mut |o| sas.fill(o));
        let mut cas = CasGenerator::new(80, -20.0);
        add(ms(80), &mut |o| {
            cas.fill(o);
        });
        add(ms(50), &mut |_| {});
        let mut ack = DtmfGenerator::new();
        ack.push_digits("D").unwrap();
        add(ms(120), &mut |o| ack.fill(o));
        let mut fsk = FskTransmitter::new(-13.5);
        fsk.queue_message(
            &encode_mdmf(&CallerId {
                number: Some(number.into()),
                ..CallerId::default()
            }),
            70,
        );
        add(ms(400), &mut |o| fsk.fill(o));
        add(ms(1000), &mut |_| {});
        let mut d = DtmfGenerator::new();
        d.push_digits("7").unwrap();
        add(ms(120), &mut |o| d.fill(o));
        s.resize(ms(len_ms), 0);
        s
    }

    #[test]
    fn streams_in_order_and_releases_before_the_end() {
        let zone = zones::zone("us").unwrap();
        let mut a = Analyzer::new(zone);
        let mut audio = Vec::new();
        for i in 0..4 {
            audio.extend(cycle(45_000, &format!("55500{i}")));
        }
        let mut got = Vec::new();
        let mut released_early = 0;
        // Odd chunk sizes, as a reader might deliver them.
        for chunk in audio.chunks(999) {
            a.feed(chunk);
            let ready = a.take_ready();
            released_early += ready.len();
            got.extend(ready);
        }
        a.finish();
        got.extend(a.take_ready());
        assert!(released_early >= 10, "nothing streamed: {released_early}");
        let kinds: Vec<&str> = got.iter().map(|e| e.kind.name()).collect();
        assert_eq!(
            kinds,
            ["sas", "cas", "dtmf", "cidcw", "dtmf"].repeat(4),
            "{got:#?}"
        );
        assert!(got.windows(2).all(|w| w[0].at_sample <= w[1].at_sample));
        for (i, e) in got.iter().filter(|e| e.kind.name() == "cidcw").enumerate() {
            match &e.kind {
                EventKind::CallerId(id) => {
                    assert_eq!(id.number.as_deref(), Some(format!("55500{i}").as_str()))
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(a.samples(), audio.len() as u64);
    }

    #[test]
    fn a_damaged_caller_id_is_a_note() {
        let mut s = vec![0i16; 8000];
        let at = s.len();
        s.resize(at + 640, 0);
        CasGenerator::new(80, -20.0).fill(&mut s[at..]);
        s.resize(s.len() + 800, 0);
        let mut msg = encode_mdmf(&CallerId {
            number: Some("5551234".into()),
            ..CallerId::default()
        });
        let last = msg.len() - 1;
        msg[last] ^= 0x55; // bad checksum
        let mut fsk = FskTransmitter::new(-13.5);
        fsk.queue_message(&msg, 70);
        let at = s.len();
        s.resize(at + 4000, 0);
        fsk.fill(&mut s[at..]);
        s.resize(s.len() + 8000, 0);
        let mut a = Analyzer::new(zones::zone("us").unwrap());
        a.feed(&s);
        a.finish();
        let kinds: Vec<&str> = a.take_ready().iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["cas"]);
        let notes = a.take_notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("checksum"), "{notes:?}");
        assert!(notes[0].contains("00:01.080"), "{notes:?}");
    }

    #[test]
    fn cas_without_caller_id_is_just_a_cas() {
        let mut s = vec![0i16; 8000];
        let at = s.len();
        s.resize(at + 640, 0);
        CasGenerator::new(80, -20.0).fill(&mut s[at..]);
        s.resize(s.len() + 16_000, 0);
        let mut a = Analyzer::new(zones::zone("us").unwrap());
        a.feed(&s);
        a.finish();
        let got = a.take_ready();
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].kind.name(), "cas");
        assert!(a.take_notes().is_empty());
    }
}
