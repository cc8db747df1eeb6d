//! The media worker: drains every line's receive ring, runs the detectors
//! on the audio (DTMF at stations; the zone's call-waiting tone, and on
//! CIDCW lines the CPE alerting signal and caller id, on trunks) and
//! produces each line's transmit frame (a progress tone, the audio of the
//! line it is bridged to, or the CIDCW acknowledgement).
//!
//! Echo: while the office plays the call-waiting tone it mutes the far
//! party, so what competes with the tone on a trunk's receive audio is the
//! local user's own speech coming back through the line's hybrid. A trunk
//! therefore runs an NLMS line echo canceller ([`EchoCanceller`]) on its
//! receive audio before the SAS/CAS/FSK detectors, with the audio it
//! transmitted as the reference. Alignment: receive frame *k* is cancelled
//! against transmit frame *k − 1* (the last one this worker produced for the
//! trunk, kept per trunk) followed by the older history inside the filter.
//! The echo of a transmit frame cannot come back before the driver has
//! played it, i.e. not before receive frame *k*, so the echo path is causal
//! with respect to that reference; the unknown buffering of the driver is
//! covered by the filter length rather than estimated: [`ECHO_TAPS`] = 512
//! taps = 64 ms, enough for up to 48 ms of bulk delay (driver buffering and
//! line) plus a 16 ms hybrid tail. The simulated driver's round trip
//! (transmit frame *k* heard during tick *k + 1*) is one frame, 20 ms.

use crate::engine::{HwEvent, LineId, MediaSource};
use crate::runtime::EngineHandle;
use pickupd_dsp::callerid::MessageAssembler;
use pickupd_dsp::cas::CasDetector;
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent, DtmfGenerator};
use pickupd_dsp::echo::EchoCanceller;
use pickupd_dsp::fsk::FskReceiver;
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

const SAMPLES_PER_MS: u64 = 8;
/// On a CIDCW line a CAS follows the tone at once; a tone report waits this
/// long for it, so the waiting call is announced once, as CIDCW.
const SAS_HOLD_MS: u64 = 150;
/// The acknowledgement: DTMF 'D', 60 ms (signals.md §4 interval C).
const ACK_ON_MS: u32 = 60;
const ACK_LEVEL_DBM0: f32 = -10.0;
/// With no FSK by 500 ms after the acknowledgement, unmute (interval D);
/// a message that started may take up to this much longer.
const FSK_WAIT_MS: u64 = 500;
const FSK_MESSAGE_MAX_MS: u64 = 1_500;
/// Echo canceller length on trunks: 64 ms (see the module comment).
pub const ECHO_TAPS: usize = 512;

/// The detectors a line's receive audio goes through.
pub enum Detectors {
    /// a phone: the person dials
    Station(Box<DtmfDetector>),
    /// a line to an office: it signals call waiting
    Trunk(Box<TrunkDetectors>),
}

pub struct TrunkDetectors {
    /// removes the echo of our own transmit from the receive audio
    echo: EchoCanceller,
    /// the transmit frame produced after the previous receive frame: the
    /// echo canceller's reference for the next one
    last_tx: Frame,
    sas: CallWaitingToneDetector,
    /// present on lines with caller id on call waiting
    cas: Option<CasDetector>,
    /// a tone report held back for a CAS that may follow (sample to report at)
    held_sas: Option<u64>,
    cidcw: Option<CidcwSession>,
    samples: u64,
}

/// The CPE side of one CIDCW exchange, from CAS to unmute.
struct CidcwSession {
    ack: DtmfGenerator,
    fsk: FskReceiver,
    message: MessageAssembler,
    /// the sample after which, with no message under way, it ends
    give_up_at: Option<u64>,
    ends_at: u64,
}

impl CidcwSession {
    fn start(now: u64) -> Self {
        let mut ack = DtmfGenerator::with_timing(ACK_ON_MS, 0, ACK_LEVEL_DBM0);
        // 'D' is a DTMF digit, always accepted by the generator.
        let _ = ack.push_digits("D");
        CidcwSession {
            ack,
            fsk: FskReceiver::new(),
            message: MessageAssembler::new(),
            give_up_at: None,
            ends_at: now
                + (u64::from(ACK_ON_MS) + FSK_WAIT_MS + FSK_MESSAGE_MAX_MS) * SAMPLES_PER_MS,
        }
    }
}

/// One line's end of the audio path, on the media side.
pub struct MediaPort {
    pub line: LineId,
    pub rx: rtrb::Consumer<Frame>,
    pub tx: rtrb::Producer<Frame>,
    pub detectors: Detectors,
}

impl MediaPort {
    pub fn new(
        line: LineId,
        station: bool,
        cidcw: bool,
        zone: &zones::Zone,
        rx: rtrb::Consumer<Frame>,
        tx: rtrb::Producer<Frame>,
    ) -> Self {
        let detectors = if station {
            Detectors::Station(Box::new(DtmfDetector::new()))
        } else {
            Detectors::Trunk(Box::new(TrunkDetectors {
                echo: EchoCanceller::new(ECHO_TAPS),
                last_tx: [0; FRAME_SAMPLES],
                sas: CallWaitingToneDetector::for_zone(zone),
                cas: cidcw.then(CasDetector::new),
                held_sas: None,
                cidcw: None,
                samples: 0,
            }))
        };
        MediaPort {
            line,
            rx,
            tx,
            detectors,
        }
    }

    /// Is a CIDCW exchange under way (the user's audio muted)?
    fn in_cidcw(&self) -> bool {
        matches!(&self.detectors, Detectors::Trunk(t) if t.cidcw.is_some())
    }
}

struct Route {
    source: MediaSource,
    tone: Option<ToneGenerator>,
}

pub struct MediaWorker {
    ports: Vec<MediaPort>,
    zone_code: String,
    engine: EngineHandle,
    commands: Receiver<(LineId, MediaSource)>,
    stop: Arc<AtomicBool>,
}

impl MediaWorker {
    pub fn new(
        ports: Vec<MediaPort>,
        zone_code: &str,
        engine: EngineHandle,
        commands: Receiver<(LineId, MediaSource)>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        MediaWorker {
            ports,
            zone_code: zone_code.to_string(),
            engine,
            commands,
            stop,
        }
    }

    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("pickupd-media".into())
            .spawn(move || self.run())
    }

    fn run(mut self) {
        let mut routes: HashMap<LineId, Route> = HashMap::new();
        let mut last_rx: HashMap<LineId, Frame> = HashMap::new();
        let mut muted: HashSet<LineId> = HashSet::new();
        let silence: Frame = [0; FRAME_SAMPLES];
        while !self.stop.load(Ordering::Relaxed) {
            // Woken by the driver after each block; the timeout only guards
            // against a driver that stopped waking us.
            std::thread::park_timeout(Duration::from_millis(50));
            while let Ok((line, source)) = self.commands.try_recv() {
                let tone = match source {
                    MediaSource::DialTone => Some(ProgressTone::Dial),
                    MediaSource::Ringback => Some(ProgressTone::Ringback),
                    MediaSource::Reorder => Some(ProgressTone::Reorder),
                    MediaSource::Silence | MediaSource::Bridge(_) => None,
                }
                .map(|t| ToneGenerator::progress(t, &self.zone_code));
                routes.insert(line, Route { source, tone });
            }
            for port in self.ports.iter_mut() {
                while let Ok(frame) = port.rx.pop() {
                    detect(&self.engine, port.line, &mut port.detectors, &frame);
                    last_rx.insert(port.line, frame);
                    // During CIDCW the trunk carries the acknowledgement and
                    // the user's audio is muted both ways.
                    if port.in_cidcw() {
                        muted.insert(port.line);
                    } else {
                        muted.remove(&port.line);
                    }
                    let mut out: Frame = silence;
                    if let Detectors::Trunk(t) = &mut port.detectors {
                        if let Some(s) = &mut t.cidcw {
                            s.ack.fill(&mut out);
                            t.last_tx = out;
                            let _ = port.tx.push(out);
                            continue;
                        }
                    }
                    if let Some(route) = routes.get_mut(&port.line) {
                        match (route.source, route.tone.as_mut()) {
                            (MediaSource::Bridge(other), _) if !muted.contains(&other) => {
                                if let Some(f) = last_rx.get(&other) {
                                    out = *f;
                                }
                            }
                            (_, Some(tone)) => tone.fill(&mut out),
                            _ => {}
                        }
                    }
                    if let Detectors::Trunk(t) = &mut port.detectors {
                        t.last_tx = out;
                    }
                    // A full transmit ring means the driver is gone or stalled:
                    // drop rather than block the other lines.
                    let _ = port.tx.push(out);
                }
            }
        }
    }
}

fn detect(engine: &EngineHandle, line: LineId, detectors: &mut Detectors, frame: &Frame) {
    match detectors {
        Detectors::Station(dtmf) => dtmf.process(frame, &mut |ev| {
            if let DtmfEvent::Begin { digit, .. } = ev {
                engine.hw(HwEvent::Digit { line, digit });
            }
        }),
        Detectors::Trunk(t) => t.process(engine, line, frame),
    }
}

impl TrunkDetectors {
    fn process(&mut self, engine: &EngineHandle, line: LineId, received: &Frame) {
        // The receive audio without the echo of what we sent.
        let mut clean: Frame = [0; FRAME_SAMPLES];
        self.echo.process(&self.last_tx, received, &mut clean);
        let frame = &clean;
        self.samples += frame.len() as u64;
        let now = self.samples;
        let cidcw_line = self.cas.is_some();
        let mut tone = false;
        self.sas.process(frame, &mut |_| tone = true);
        if tone {
            if cidcw_line {
                self.held_sas = Some(now + SAS_HOLD_MS * SAMPLES_PER_MS);
            } else {
                engine.hw(HwEvent::CallWaitingTone { line });
            }
        }
        let mut alert = false;
        if let Some(cas) = &mut self.cas {
            cas.process(frame, &mut |_| alert = true);
        }
        if alert && self.cidcw.is_none() {
            self.held_sas = None;
            engine.hw(HwEvent::CallWaitingAlert { line });
            self.cidcw = Some(CidcwSession::start(now));
            tracing::debug!("line {}: CAS; acknowledging with D", line.0);
        }
        if self.held_sas.is_some_and(|at| now >= at) {
            self.held_sas = None;
            engine.hw(HwEvent::CallWaitingTone { line });
        }
        let Some(s) = &mut self.cidcw else { return };
        // Listen for the caller id once the acknowledgement has been sent.
        if s.ack.is_idle() {
            let give_up_at = *s
                .give_up_at
                .get_or_insert(now + FSK_WAIT_MS * SAMPLES_PER_MS);
            let mut done = None;
            let message = &mut s.message;
            s.fsk.process(frame, &mut |byte| {
                if let Some(result) = message.push(byte) {
                    done = Some(result);
                }
            });
            match done {
                Some(Ok(id)) => {
                    engine.hw(HwEvent::CallWaitingCallerId {
                        line,
                        number: id.number.unwrap_or_default(),
                        name: id.name.unwrap_or_default(),
                    });
                    self.cidcw = None;
                }
                Some(Err(e)) => {
                    tracing::warn!(
                        "line {}: caller id on call waiting did not decode: {e}",
                        line.0
                    );
                    self.cidcw = None;
                }
                None => {
                    let silent = !s.fsk.carrier_present() && !s.message.in_message();
                    if (now >= give_up_at && silent) || now >= s.ends_at {
                        self.cidcw = None;
                    }
                }
            }
        }
    }
}
