//! The four measurements. Every signal passes through G.711 (µ-law or
//! A-law, alternating per injection slot unless stated) before the
//! detectors, which are the `pickupd-dsp` ones the daemon uses, fed in
//! 20 ms frames.

use crate::audio::{self, Law, Rng};
use crate::corpus::Corpus;
use pickupd_dsp::callerid::{encode_mdmf, CallerId, MessageAssembler};
use pickupd_dsp::cas::{CasDetector, CAS_HIGH_HZ, CAS_LOW_HZ};
use pickupd_dsp::dtmf::DtmfGenerator;
use pickupd_dsp::echo::EchoCanceller;
use pickupd_dsp::fsk::{FskReceiver, FskTransmitter};
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::tones::ToneGenerator;
use pickupd_dsp::zones::{self, Segment};
use pickupd_dsp::FRAME_SAMPLES;

const MS: usize = 8;

/// A detector reduced to "events start at these samples".
pub trait Detect {
    fn feed(&mut self, pcm: &[i16], starts: &mut Vec<u64>);
}

impl Detect for CallWaitingToneDetector {
    fn feed(&mut self, pcm: &[i16], starts: &mut Vec<u64>) {
        for frame in pcm.chunks(FRAME_SAMPLES) {
            self.process(frame, &mut |e| starts.push(e.at_sample));
        }
    }
}

impl Detect for CasDetector {
    fn feed(&mut self, pcm: &[i16], starts: &mut Vec<u64>) {
        for frame in pcm.chunks(FRAME_SAMPLES) {
            self.process(frame, &mut |e| starts.push(e.at_sample));
        }
    }
}

fn zone(code: &str) -> &'static zones::Zone {
    zones::zone(code).unwrap_or_else(|| panic!("zone {code} missing from the embedded data"))
}

/// SAS detector for a zone.
pub fn sas_detector(code: &str) -> CallWaitingToneDetector {
    CallWaitingToneDetector::for_zone(zone(code))
}

// ---------------------------------------------------------------- talk-off

/// False detections of one detector over the corpus.
pub struct TalkOffRow {
    pub detector: String,
    pub law: Law,
    pub level_offset_db: f32,
    pub hours: f64,
    pub events: usize,
    /// Clip name and time (s) of the first few events.
    pub examples: Vec<(String, f64)>,
}

/// Names of the talk-off detectors.
pub const TALK_OFF_DETECTORS: [&str; 4] = [
    "SAS us (440 Hz)",
    "SAS de (425 Hz)",
    "SAS uk (400 Hz)",
    "CAS",
];

/// Run every detector over the whole corpus at each clip's nominal level
/// plus `level_offset_db`, through `law`.
pub fn talk_off(corpus: &Corpus, law: Law, level_offset_db: f32) -> Vec<TalkOffRow> {
    let mut dets: Vec<Box<dyn Detect>> = vec![
        Box::new(sas_detector("us")),
        Box::new(sas_detector("de")),
        Box::new(sas_detector("uk")),
        Box::new(CasDetector::new()),
    ];
    let mut examples: Vec<Vec<(String, f64)>> = vec![Vec::new(); dets.len()];
    let mut counts = vec![0usize; dets.len()];
    let mut offset = 0u64;
    let mut pcm = Vec::new();
    let mut starts = Vec::new();
    for clip in &corpus.clips {
        let g = audio::db_gain(clip.level_dbm0 + level_offset_db);
        pcm.clear();
        pcm.extend(clip.samples.iter().map(|&v| law.round_trip(v * g)));
        // One second of silence between clips, like a pause in conversation.
        pcm.extend(std::iter::repeat_n(0i16, audio::FS as usize));
        for (i, d) in dets.iter_mut().enumerate() {
            starts.clear();
            d.feed(&pcm, &mut starts);
            counts[i] += starts.len();
            for &s in &starts {
                if examples[i].len() < 5 {
                    let t = s.saturating_sub(offset) as f64 / f64::from(audio::FS);
                    examples[i].push((clip.name.clone(), t));
                }
            }
        }
        offset += pcm.len() as u64;
    }
    TALK_OFF_DETECTORS
        .iter()
        .zip(counts)
        .zip(examples)
        .map(|((name, events), examples)| TalkOffRow {
            detector: (*name).into(),
            law,
            level_offset_db,
            hours: corpus.hours(),
            events,
            examples,
        })
        .collect()
}

/// False detections on the corpus arriving only as echo of pickupd's own
/// transmit: without and with the canceller.
pub struct EchoTalkOffRow {
    pub detector: String,
    pub law: Law,
    pub hours: f64,
    pub raw: usize,
    pub cancelled: usize,
}

/// Every clip is one call: transmitted at its nominal level, returned
/// through a random [`EchoPath`], coded with `law`; the detectors run on
/// the received echo as it is, and on the canceller's output.
pub fn talk_off_echo(corpus: &Corpus, law: Law, seed: u64) -> Vec<EchoTalkOffRow> {
    let make = || -> Vec<Box<dyn Detect>> {
        vec![
            Box::new(sas_detector("us")),
            Box::new(sas_detector("de")),
            Box::new(sas_detector("uk")),
            Box::new(CasDetector::new()),
        ]
    };
    let mut raw_dets = make();
    let mut ec_dets = make();
    let mut raw = vec![0usize; raw_dets.len()];
    let mut cancelled = vec![0usize; raw_dets.len()];
    let mut rng = Rng::new(seed);
    let mut ec = EchoCanceller::new(EC_TAPS);
    let (mut tx, mut echo, mut rx, mut out) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut starts = Vec::new();
    for clip in &corpus.clips {
        let g = audio::db_gain(clip.level_dbm0);
        tx.clear();
        tx.extend(clip.samples.iter().map(|&v| to_i16(v * g)));
        tx.extend(std::iter::repeat_n(0i16, audio::FS as usize));
        let path = EchoPath::random(&mut rng);
        echo.resize(tx.len(), 0.0);
        path.apply(&tx, law, &mut echo);
        rx.clear();
        rx.extend(echo.iter().map(|&e| law.round_trip(e)));
        out.resize(tx.len(), 0);
        ec.reset();
        for ((t, r), o) in tx
            .chunks(FRAME_SAMPLES)
            .zip(rx.chunks(FRAME_SAMPLES))
            .zip(out.chunks_mut(FRAME_SAMPLES))
        {
            ec.process(t, r, o);
        }
        for (i, d) in raw_dets.iter_mut().enumerate() {
            starts.clear();
            d.feed(&rx, &mut starts);
            raw[i] += starts.len();
        }
        for (i, d) in ec_dets.iter_mut().enumerate() {
            starts.clear();
            d.feed(&out, &mut starts);
            cancelled[i] += starts.len();
        }
    }
    TALK_OFF_DETECTORS
        .iter()
        .enumerate()
        .map(|(i, name)| EchoTalkOffRow {
            detector: (*name).into(),
            law,
            hours: corpus.hours(),
            raw: raw[i],
            cancelled: cancelled[i],
        })
        .collect()
}

// ------------------------------------------------------------ echo path

/// Taps of the echo canceller in the harness (16 ms): the echo paths below
/// have at most 6 ms of bulk delay plus a 4-sample response. (The daemon
/// runs 512 taps to cover its frame buffering; see daemon/src/media.rs.)
pub const EC_TAPS: usize = 128;

/// A line's hybrid as seen from pickupd: its transmit goes out G.711 coded,
/// comes back through a short impulse response (bulk delay 0–6 ms, four
/// taps) with 6–15 dB of loss (the response's energy gain), and is G.711
/// coded again together with whatever the office sends.
pub struct EchoPath {
    pub loss_db: f32,
    delay: usize,
    ir: [f32; 4],
}

impl EchoPath {
    pub fn random(rng: &mut Rng) -> Self {
        let loss_db = 6.0 + 9.0 * rng.uniform();
        let delay = rng.below(6 * MS + 1);
        let mut ir = [
            1.0,
            rng.uniform() - 0.5,
            0.6 * (rng.uniform() - 0.5),
            0.3 * (rng.uniform() - 0.5),
        ];
        let norm = ir.iter().map(|v| v * v).sum::<f32>().sqrt();
        let g = audio::db_gain(-loss_db) / norm;
        ir.iter_mut().for_each(|v| *v *= g);
        EchoPath { loss_db, delay, ir }
    }

    /// Gain that puts the echo of a transmit at `gain` at `gain` in rx:
    /// the transmit level that makes the echo as loud as `rx_gain`.
    pub fn tx_gain(&self, rx_gain: f32) -> f32 {
        rx_gain * audio::db_gain(self.loss_db)
    }

    /// Echo of `tx` (as coded by `law` on the way out) into `out`
    /// (overwritten); the call starts with `tx[0]` (silence before).
    pub fn apply(&self, tx: &[i16], law: Law, out: &mut [f32]) {
        out.fill(0.0);
        for (n, &t) in tx.iter().enumerate() {
            let sent = f32::from(law.round_trip(f32::from(t)));
            for (k, &h) in self.ir.iter().enumerate() {
                if let Some(o) = out.get_mut(n + self.delay + k) {
                    *o += h * sent;
                }
            }
        }
    }
}

fn to_i16(x: f32) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

// ------------------------------------------------------- injection runner

/// How a stream of injections is built.
pub struct InjectionPlan<'a> {
    /// Speech ring at 0 dBm0, its gain and the start offset in it.
    pub speech: Option<(&'a [f32], f32, usize)>,
    /// Samples per injection slot.
    pub slot: usize,
    /// Injection start is uniform in this range within the slot.
    pub earliest: usize,
    pub latest: usize,
    pub count: usize,
    pub seed: u64,
    /// Detection window around the injected signal: before its start,
    /// after its end.
    pub before: usize,
    pub after: usize,
    /// The speech is near-end speech (signals.md §2: the exchange mutes the
    /// far end while it signals): pickupd's transmit at the speech level,
    /// returned through a random [`EchoPath`] (one per slot = one call) and
    /// removed by [`EchoCanceller`]; that is the measured condition. Two
    /// observations run beside it: the same echo made as loud in rx as the
    /// transmit (a hybrid with no loss), and the speech added straight into
    /// rx, where no canceller can reach it (far-end speech, which the
    /// exchange does not send during the tone). Without this flag the speech
    /// is added straight into rx and measured.
    pub near_end_echo: bool,
}

/// Detections and events outside every injection window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Score {
    pub detected: usize,
    pub false_events: usize,
}

/// Outcome of an injection run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub injected: usize,
    pub detected: usize,
    /// Events outside every injection window.
    pub false_events: usize,
    /// Observation: echo through a hybrid without loss, then the canceller.
    pub lossless_hybrid: Option<Score>,
    /// Observation: the speech added straight into rx.
    pub straight_into_rx: Option<Score>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.detected as f64 / self.injected.max(1) as f64
    }
}

fn score(windows: &[(u64, u64)], starts: &[u64]) -> Score {
    let detected = windows
        .iter()
        .filter(|(a, b)| starts.iter().any(|s| (a..=b).contains(&s)))
        .count();
    let false_events = starts
        .iter()
        .filter(|s| !windows.iter().any(|(a, b)| (a..=b).contains(s)))
        .count();
    Score {
        detected,
        false_events,
    }
}

/// One received stream through the echo canceller: the transmit, its echo
/// plus the injected signal, the canceller and a detector.
struct EchoedStream<D> {
    detector: D,
    canceller: EchoCanceller,
    tx: Vec<i16>,
    echo: Vec<f32>,
    rx: Vec<i16>,
    out: Vec<i16>,
    starts: Vec<u64>,
}

impl<D: Detect> EchoedStream<D> {
    fn new(detector: D, slot: usize) -> Self {
        Self {
            detector,
            canceller: EchoCanceller::new(EC_TAPS),
            tx: vec![0; slot],
            echo: vec![0.0; slot],
            rx: vec![0; slot],
            out: vec![0; slot],
            starts: Vec::new(),
        }
    }

    /// One slot (one call): `near` scaled by `tx_gain` is transmitted.
    fn slot(
        &mut self,
        near: &[f32],
        tx_gain: f32,
        path: &EchoPath,
        law: Law,
        sig: (usize, &[f32]),
    ) {
        for (t, &n) in self.tx.iter_mut().zip(near) {
            *t = to_i16(n * tx_gain);
        }
        path.apply(&self.tx, law, &mut self.echo);
        let (pos, sig) = sig;
        for (e, s) in self.echo[pos..].iter_mut().zip(sig) {
            *e += s;
        }
        for (p, &e) in self.rx.iter_mut().zip(&self.echo) {
            *p = law.round_trip(e);
        }
        // A new call: the canceller starts from zero.
        self.canceller.reset();
        for ((t, r), o) in self
            .tx
            .chunks(FRAME_SAMPLES)
            .zip(self.rx.chunks(FRAME_SAMPLES))
            .zip(self.out.chunks_mut(FRAME_SAMPLES))
        {
            self.canceller.process(t, r, o);
        }
        self.detector.feed(&self.out, &mut self.starts);
    }
}

/// Inject `signal(rng)` once per slot into speech (or silence) and count
/// detections.
pub fn run_injections<D: Detect>(
    plan: &InjectionPlan,
    signal: &mut dyn FnMut(&mut Rng) -> Vec<f32>,
    make: &dyn Fn() -> D,
) -> Outcome {
    let mut rng = Rng::new(plan.seed);
    let mut det = make();
    let mut windows = Vec::with_capacity(plan.count);
    let mut starts = Vec::new();
    let mut mix = vec![0f32; plan.slot];
    let mut near = vec![0f32; plan.slot];
    let mut pcm = vec![0i16; plan.slot];
    let mut natural = EchoedStream::new(make(), plan.slot);
    let mut lossless = EchoedStream::new(make(), plan.slot);
    let mut path_rng = Rng::new(plan.seed ^ 0x5eed_ec40);
    let mut ring_pos = plan.speech.map_or(0, |(r, _, o)| o % r.len().max(1));
    for i in 0..plan.count {
        let slot_start = (i * plan.slot) as u64;
        near.fill(0.0);
        if let Some((ring, gain, _)) = plan.speech {
            for v in near.iter_mut() {
                *v = ring[ring_pos] * gain;
                ring_pos = (ring_pos + 1) % ring.len();
            }
        }
        mix.copy_from_slice(&near);
        let sig = signal(&mut rng);
        let pos = plan.earliest + rng.below(plan.latest.saturating_sub(plan.earliest).max(1));
        for (m, s) in mix[pos..].iter_mut().zip(&sig) {
            *m += s;
        }
        let end = (pos + sig.len()).min(plan.slot);
        windows.push((
            slot_start + pos.saturating_sub(plan.before) as u64,
            slot_start + (end + plan.after) as u64,
        ));
        let law = if i % 2 == 0 { Law::Mu } else { Law::A };
        for (p, &m) in pcm.iter_mut().zip(&mix) {
            *p = law.round_trip(m);
        }
        det.feed(&pcm, &mut starts);
        if plan.near_end_echo {
            let path = EchoPath::random(&mut path_rng);
            natural.slot(&near, 1.0, &path, law, (pos, &sig));
            lossless.slot(&near, path.tx_gain(1.0), &path, law, (pos, &sig));
        }
    }
    let straight = score(&windows, &starts);
    if plan.near_end_echo {
        let measured = score(&windows, &natural.starts);
        Outcome {
            injected: plan.count,
            detected: measured.detected,
            false_events: measured.false_events,
            lossless_hybrid: Some(score(&windows, &lossless.starts)),
            straight_into_rx: Some(straight),
        }
    } else {
        Outcome {
            injected: plan.count,
            detected: straight.detected,
            false_events: straight.false_events,
            lossless_hybrid: None,
            straight_into_rx: None,
        }
    }
}

// -------------------------------------------------------------- SAS recall

/// The zone's first call-waiting group as the exchange plays it: its first
/// variant's line cadence up to the first silence of a second or more.
pub fn sas_group(code: &str) -> Vec<Segment> {
    let cadence = zone(code)
        .call_waiting
        .first()
        .map(|cw| cw.line_cadence())
        .unwrap_or_default();
    let mut group = Vec::new();
    for s in cadence {
        if s.is_silence() && s.ms.is_none_or(|ms| ms >= 1000) {
            break;
        }
        group.push(s);
    }
    group
}

/// One SAS recall condition.
pub struct SasRow {
    pub zone: &'static str,
    pub pattern: String,
    pub tone_dbm0: f32,
    /// Tone level minus speech long-term level; `None` = no speech.
    pub ratio_db: Option<f32>,
    pub outcome: Outcome,
}

pub const SAS_ZONES: [&str; 3] = ["us", "de", "uk"];
pub const SAS_TONE_LEVELS: [f32; 3] = [-13.0, -20.0, -25.0];
pub const SAS_RATIOS: [Option<f32>; 4] = [None, Some(10.0), Some(5.0), Some(0.0)];

pub fn sas_recall(
    ring: &[f32],
    zone_code: &'static str,
    tone_dbm0: f32,
    ratio_db: Option<f32>,
    count: usize,
    seed: u64,
) -> SasRow {
    let group = sas_group(zone_code);
    let len: usize = group
        .iter()
        .filter_map(|s| s.ms)
        .map(|ms| ms as usize * MS)
        .sum();
    let pattern = group
        .iter()
        .map(|s| {
            let f = if s.is_silence() {
                "0".to_owned()
            } else {
                s.freqs
                    .iter()
                    .map(|f| format!("{f}"))
                    .collect::<Vec<_>>()
                    .join("+")
            };
            format!("{f}/{}", s.ms.unwrap_or(0))
        })
        .collect::<Vec<_>>()
        .join(",");
    let mut tone = vec![0i16; len];
    ToneGenerator::new(&group, tone_dbm0).fill(&mut tone);
    let tone: Vec<f32> = tone.iter().map(|&v| f32::from(v)).collect();
    let plan = InjectionPlan {
        speech: ratio_db.map(|r| {
            (
                ring,
                audio::db_gain(tone_dbm0 - r),
                (seed as usize).wrapping_mul(7_919_993),
            )
        }),
        slot: 20 * audio::FS as usize,
        earliest: 3 * audio::FS as usize,
        latest: 16 * audio::FS as usize,
        count,
        seed,
        before: 150 * MS,
        after: 50 * MS,
        near_end_echo: ratio_db.is_some(),
    };
    let outcome = run_injections(&plan, &mut |_| tone.clone(), &|| sas_detector(zone_code));
    SasRow {
        zone: zone_code,
        pattern,
        tone_dbm0,
        ratio_db,
        outcome,
    }
}

// -------------------------------------------------------------- CAS recall

/// A CAS test signal.
#[derive(Debug, Clone, Copy)]
pub struct CasSignal {
    pub label: &'static str,
    /// Levels of 2130 and 2750 Hz (dBm0); `None` leaves a tone out.
    pub levels: [Option<f32>; 2],
    /// Relative frequency error of each tone.
    pub offsets: [f32; 2],
    pub ms: u32,
}

impl CasSignal {
    const fn new(label: &'static str, lo: f32, hi: f32, offset: f32, ms: u32) -> Self {
        Self {
            label,
            levels: [Some(lo), Some(hi)],
            offsets: [offset, offset],
            ms,
        }
    }

    pub fn weaker_dbm0(&self) -> f32 {
        self.levels
            .iter()
            .flatten()
            .copied()
            .fold(f32::INFINITY, f32::min)
    }

    pub fn describe(&self) -> String {
        let lv = |l: Option<f32>| l.map_or("off".to_owned(), |v| format!("{v}"));
        let off = if self.offsets[0] == self.offsets[1] {
            format!("{:+.1} %", self.offsets[0] * 100.0)
        } else {
            format!(
                "{:+.1} / {:+.1} %",
                self.offsets[0] * 100.0,
                self.offsets[1] * 100.0
            )
        };
        format!(
            "{} / {} dBm0, {off}, {} ms",
            lv(self.levels[0]),
            lv(self.levels[1]),
            self.ms
        )
    }

    fn render(&self, rng: &mut Rng) -> Vec<f32> {
        let comps: Vec<(f32, f32)> = [CAS_LOW_HZ, CAS_HIGH_HZ]
            .iter()
            .zip(self.levels)
            .zip(self.offsets)
            .filter_map(|((&f, l), o)| l.map(|l| (f * (1.0 + o), l)))
            .collect();
        audio::sines(&comps, self.ms as usize * MS, rng)
    }
}

/// Accept-range conditions of signals.md §3 (Bellcore/ETSI), TIA-777 style:
/// nominal, each parameter at its limit, and corners combining limits.
pub fn cas_accept_conditions() -> Vec<CasSignal> {
    let mut v = vec![
        CasSignal::new("nominal", -20.0, -20.0, 0.0, 80),
        CasSignal::new("max level", -14.0, -14.0, 0.0, 80),
        CasSignal::new("min level", -32.0, -32.0, 0.0, 80),
        CasSignal::new("freq +0.5 %", -20.0, -20.0, 0.005, 80),
        CasSignal::new("freq −0.5 %", -20.0, -20.0, -0.005, 80),
        CasSignal::new("twist +6 dB", -17.0, -23.0, 0.0, 80),
        CasSignal::new("twist −6 dB", -23.0, -17.0, 0.0, 80),
        CasSignal::new("75 ms", -20.0, -20.0, 0.0, 75),
        CasSignal::new("85 ms", -20.0, -20.0, 0.0, 85),
        CasSignal::new("corner: low, +6 dB, +0.5 %, 75 ms", -26.0, -32.0, 0.005, 75),
        CasSignal::new(
            "corner: low, −6 dB, −0.5 %, 75 ms",
            -32.0,
            -26.0,
            -0.005,
            75,
        ),
        CasSignal::new(
            "corner: high, +6 dB, −0.5 %, 85 ms",
            -14.0,
            -20.0,
            -0.005,
            85,
        ),
        CasSignal::new(
            "corner: high, −6 dB, +0.5 %, 85 ms",
            -20.0,
            -14.0,
            0.005,
            85,
        ),
    ];
    let mut split = CasSignal::new("freq ±0.5 % opposite", -20.0, -20.0, 0.0, 80);
    split.offsets = [-0.005, 0.005];
    v.push(split);
    v
}

/// Out-of-spec signals that must be rejected.
pub fn cas_reject_conditions() -> Vec<CasSignal> {
    let single = |label, lo: Option<f32>, hi: Option<f32>| CasSignal {
        label,
        levels: [lo, hi],
        offsets: [0.0, 0.0],
        ms: 80,
    };
    vec![
        CasSignal::new("−45 dBm0 per tone", -45.0, -45.0, 0.0, 80),
        CasSignal::new("freq +3.5 %", -20.0, -20.0, 0.035, 80),
        CasSignal::new("freq −3.5 %", -20.0, -20.0, -0.035, 80),
        CasSignal::new("twist +8 dB", -16.0, -24.0, 0.0, 80),
        CasSignal::new("twist −8 dB", -24.0, -16.0, 0.0, 80),
        CasSignal::new("twist +10 dB", -15.0, -25.0, 0.0, 80),
        CasSignal::new("40 ms", -20.0, -20.0, 0.0, 40),
        CasSignal::new("150 ms", -20.0, -20.0, 0.0, 150),
        single("2130 Hz alone", Some(-20.0), None),
        single("2750 Hz alone", None, Some(-20.0)),
    ]
}

/// Speech with a CAS condition: none, or long-term level relative to the
/// weaker tone (or absolute).
#[derive(Debug, Clone, Copy)]
pub enum CasSpeech {
    None,
    BelowWeaker(f32),
    Absolute(f32),
}

impl CasSpeech {
    pub fn describe(&self) -> String {
        match self {
            CasSpeech::None => "none".into(),
            CasSpeech::BelowWeaker(d) if *d == 0.0 => "= weaker tone".into(),
            CasSpeech::BelowWeaker(d) => format!("{d} dB below weaker tone"),
            CasSpeech::Absolute(l) => format!("{l} dBm0"),
        }
    }
}

pub struct CasRow {
    pub signal: CasSignal,
    pub speech: CasSpeech,
    pub outcome: Outcome,
}

pub fn cas_run(
    ring: &[f32],
    signal: CasSignal,
    speech: CasSpeech,
    count: usize,
    seed: u64,
) -> CasRow {
    let level = match speech {
        CasSpeech::None => None,
        CasSpeech::BelowWeaker(d) => Some(signal.weaker_dbm0() - d),
        CasSpeech::Absolute(l) => Some(l),
    };
    let plan = InjectionPlan {
        speech: level.map(|l| {
            (
                ring,
                audio::db_gain(l),
                (seed as usize).wrapping_mul(104_729),
            )
        }),
        slot: 4 * audio::FS as usize,
        // At least 3 s between injections: more than the 2 s hold-off.
        earliest: audio::FS as usize,
        latest: 2 * audio::FS as usize,
        count,
        seed,
        before: 50 * MS,
        after: 50 * MS,
        near_end_echo: level.is_some(),
    };
    let outcome = run_injections(&plan, &mut |rng| signal.render(rng), &CasDetector::new);
    CasRow {
        signal,
        speech,
        outcome,
    }
}

// ------------------------------------------------------------------ CIDCW

/// Interference during a CIDCW attempt.
#[derive(Debug, Clone, Copy)]
pub enum Interference {
    Clean,
    /// White noise this many dB below the FSK level.
    Noise(f32),
    /// Speech (long-term level) this many dB below the FSK level.
    Speech(f32),
}

impl Interference {
    pub fn describe(&self) -> String {
        match self {
            Interference::Clean => "none".into(),
            Interference::Noise(d) => format!("white noise, SNR {d} dB"),
            Interference::Speech(d) => format!("speech {d} dB below FSK"),
        }
    }
}

pub struct CidcwRow {
    pub fsk_dbm0: f32,
    pub cas_dbm0: f32,
    pub interference: Interference,
    pub attempts: usize,
    pub cas_detected: usize,
    pub decoded: usize,
}

fn random_caller(rng: &mut Rng) -> CallerId {
    const NAMES: [&str; 6] = [
        "DOE JOHN",
        "SMITH MARY",
        "O'BRIEN PAT",
        "MUELLER-LUEDENSCHEIDT",
        "WONG K",
        "GARCIA MARQUEZ GABRIEL",
    ];
    let digits = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    };
    CallerId {
        datetime: Some(format!(
            "{:02}{:02}{:02}{:02}",
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60)
        )),
        number: Some(digits(rng, 10)),
        name: Some(NAMES[rng.below(NAMES.len())].into()),
        ..CallerId::default()
    }
}

/// CAS (80 ms, `cas_dbm0` per tone), echo of the CPE's 'D' ACK (60 ms at
/// −22 dBm0, 40 ms after the CAS), 150 ms later the FSK MDMF message with
/// 70 ms of mark, all µ-law. The receiver chain is the daemon's: the CAS
/// detector runs continuously; on its event a fresh `FskReceiver` and
/// `MessageAssembler` take the following frames for 1.5 s.
pub fn cidcw(
    ring: &[f32],
    fsk_dbm0: f32,
    interference: Interference,
    attempts: usize,
    seed: u64,
) -> CidcwRow {
    let cas_dbm0 = fsk_dbm0 - 4.0;
    let mut rng = Rng::new(seed);
    let slot = 3 * audio::FS as usize;
    let mut cas = CasDetector::new();
    let mut ring_pos = (seed as usize).wrapping_mul(15_485_863) % ring.len().max(1);
    let (mut cas_detected, mut decoded) = (0, 0);
    let mut mix = vec![0f32; slot];
    let mut pcm = vec![0i16; slot];
    for _ in 0..attempts {
        mix.fill(0.0);
        match interference {
            Interference::Clean => {}
            Interference::Noise(snr) => {
                let sigma = audio::dbm0_rms() * audio::db_gain(fsk_dbm0 - snr);
                mix.iter_mut().for_each(|v| *v = sigma * rng.gauss());
            }
            Interference::Speech(below) => {
                let g = audio::db_gain(fsk_dbm0 - below);
                for v in mix.iter_mut() {
                    *v = ring[ring_pos] * g;
                    ring_pos = (ring_pos + 1) % ring.len();
                }
            }
        }
        let expected = random_caller(&mut rng);
        let mut at = audio::FS as usize / 2 + rng.below(audio::FS as usize / 2);
        let tone = CasSignal::new("cidcw", cas_dbm0, cas_dbm0, 0.0, 80).render(&mut rng);
        let add = |mix: &mut [f32], at: usize, sig: &[i16]| {
            for (m, &s) in mix[at..].iter_mut().zip(sig) {
                *m += f32::from(s);
            }
        };
        for (m, s) in mix[at..].iter_mut().zip(&tone) {
            *m += s;
        }
        at += tone.len() + 40 * MS;
        let mut ack = vec![0i16; 60 * MS];
        let mut dtmf = DtmfGenerator::with_timing(60, 0, -22.0);
        dtmf.push_digits("D").ok();
        dtmf.fill(&mut ack);
        add(&mut mix, at, &ack);
        at += ack.len() + 150 * MS;
        let mut tx = FskTransmitter::new(fsk_dbm0);
        tx.queue_message(&encode_mdmf(&expected), 70);
        let mut fsk = vec![0i16; slot - at];
        tx.fill(&mut fsk);
        add(&mut mix, at, &fsk);
        for (p, &m) in pcm.iter_mut().zip(&mix) {
            *p = Law::Mu.round_trip(m);
        }

        let mut rx: Option<(FskReceiver, MessageAssembler, usize)> = None;
        let mut got = None;
        let mut detected = false;
        for frame in pcm.chunks(FRAME_SAMPLES) {
            if let Some((r, asm, left)) = rx.as_mut() {
                r.process(frame, &mut |b| {
                    if got.is_none() {
                        if let Some(res) = asm.push(b) {
                            got = Some(res);
                        }
                    }
                });
                *left = left.saturating_sub(frame.len());
                if *left == 0 {
                    rx = None;
                }
            }
            let mut fired = false;
            cas.process(frame, &mut |_| fired = true);
            if fired && !detected {
                detected = true;
                rx = Some((FskReceiver::new(), MessageAssembler::new(), 1500 * MS));
            }
        }
        if detected {
            cas_detected += 1;
        }
        if got == Some(Ok(expected)) {
            decoded += 1;
        }
    }
    CidcwRow {
        fsk_dbm0,
        cas_dbm0,
        interference,
        attempts,
        cas_detected,
        decoded,
    }
}
