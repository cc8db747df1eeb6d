//! The media worker: takes every line's receive audio from its ring, runs
//! the detectors on it (DTMF at stations; the zone's call-waiting tone, and
//! on CIDCW lines the CPE alerting signal and caller id, on trunks) and
//! produces each line's transmit frame (a progress tone, the audio of the
//! line it is bridged to, or the CIDCW acknowledgement).
//!
//! # Rounds and the detector bank
//!
//! The call-waiting tone, CAS and DTMF detectors of all lines are one
//! [`DetectorBank`] (signals.md §8, §10): it screens every line at once, in
//! structure-of-arrays form, and confirms candidates with the scalar
//! detectors, so its events are theirs. It takes exactly one frame per line
//! per call, so the worker works in *rounds*: a round takes one receive
//! frame from every line, echo-cancels the trunks' frames, runs the bank
//! over them, acts on its events (which events count depends on the line:
//! DTMF only from stations, the tone from trunks, CAS only from CIDCW
//! trunks), feeds the CIDCW session's FSK receiver, and then produces every
//! line's transmit frame (one per receive frame, as before). Each line's
//! bank channel therefore counts samples in step with the line's own
//! frames as long as its driver delivers.
//!
//! A round waits for every line's frame: drivers push one frame per line
//! per tick, and a line whose frame is merely late (the worker woke while a
//! driver was still pushing, or two drivers tick slightly apart) must not
//! get silence inserted into its audio. A line whose driver is not
//! delivering (stalled, unplugged) must not hold up the others either: when
//! another line has [`LATE_FRAMES`] frames (40 ms) waiting, every line with
//! none is marked *stalled* and rounds stop waiting for it. While it is
//! stalled the bank gets silence for it (its detectors see a gap, which
//! happens only when its driver is not delivering), its bridge partner
//! hears silence, and nothing else runs for it (echo canceller, CIDCW
//! timers and transmit follow its own frames). When its frames come back,
//! the backlog beyond the newest frame stands for ticks the bank already
//! had silence for: up to that many frames are dropped (each answered with
//! a silent transmit frame, keeping the driver's one-for-one exchange), so
//! the line neither keeps a backlog's latency nor gets its audio stretched.
//!
//! Latency: a line's signal is reported once every trunk's frame of the
//! round has been through its echo canceller and the bank has screened
//! every line (digits as the bank reports them, a trunk's signals after
//! the bank's tick), whatever the line's place among the ports; the echo
//! cancellers are most of that (`benches/ring_path.rs`).
//!
//! Allocation: the bank, the per-round buffers and the routes are made at
//! start-up (a route's tone generator when the engine changes the route);
//! a round allocates nothing (the bank allocates a scalar detector when a
//! line becomes a candidate, once per candidate episode).
//!
//! # Echo
//!
//! While the office plays the call-waiting tone it mutes the far party, so
//! what competes with the tone on a trunk's receive audio is the local
//! user's own speech coming back through the line's hybrid. A trunk
//! therefore runs an NLMS line echo canceller ([`EchoCanceller`]) on its
//! receive audio; the bank and the FSK receiver get the cancelled audio,
//! with the audio it transmitted as the reference. Alignment: receive frame
//! *k* is cancelled against transmit frame *k − 1* (the last one this worker
//! produced for the trunk, kept per trunk) followed by the older history
//! inside the filter. The echo of a transmit frame cannot come back before
//! the driver has played it, i.e. not before receive frame *k*, so the echo
//! path is causal with respect to that reference; the unknown buffering of
//! the driver is covered by the filter length rather than estimated:
//! [`ECHO_TAPS`] = 512 taps = 64 ms, enough for up to 48 ms of bulk delay
//! (driver buffering and line) plus a 16 ms hybrid tail. The simulated
//! driver's round trip (transmit frame *k* heard during tick *k + 1*) is one
//! frame, 20 ms.

use crate::driver::RING_FRAMES;
use crate::engine::{HwEvent, LineId, MediaSource};
use crate::runtime::EngineHandle;
use pickupd_dsp::bank::{BankEvent, DetectorBank};
use pickupd_dsp::callerid::MessageAssembler;
use pickupd_dsp::dtmf::DtmfGenerator;
use pickupd_dsp::echo::EchoCanceller;
use pickupd_dsp::fsk::FskReceiver;
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

const SAMPLES_PER_MS: u64 = 8;
const SILENCE: Frame = [0; FRAME_SAMPLES];
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
/// Frames waiting on one line after which a line with none is taken as not
/// delivering (see the module comment): 40 ms. Drivers push one frame per
/// line per tick, so a line that is merely late (its driver still pushing,
/// or ticking up to one tick out of phase) is at most one frame behind.
/// Every round waited for costs the other lines that much transmit latency
/// once (their transmit frames then leave in a burst, which a driver's
/// playout buffer keeps), so the bound is as short as that allows.
pub const LATE_FRAMES: usize = 2;

/// What a line's receive audio is listened for.
enum Role {
    /// a phone: the person dials
    Station,
    /// a line to an office: it signals call waiting
    Trunk(Box<Trunk>),
}

struct Trunk {
    /// removes the echo of our own transmit from the receive audio
    echo: EchoCanceller,
    /// the transmit frame produced after the previous receive frame: the
    /// echo canceller's reference for the next one
    last_tx: Frame,
    /// caller id on call waiting: CAS counts, and starts a CIDCW exchange
    cidcw_line: bool,
    /// the bank reported the tone / a CAS in this round
    heard_tone: bool,
    heard_cas: bool,
    /// a tone report held back for a CAS that may follow (sample to report at)
    held_sas: Option<u64>,
    cidcw: Option<CidcwSession>,
    /// on-hook caller id being received (FSK between the first and second
    /// ring, on lines whose caller id comes in band)
    caller_id: Option<OnHookCallerId>,
    /// samples of this line's own frames
    samples: u64,
}

/// Receives one on-hook caller-id message. Started by receive energy on an
/// idle trunk, so an idle line costs one energy sum per frame.
struct OnHookCallerId {
    fsk: FskReceiver,
    message: MessageAssembler,
    /// frames in a row with neither carrier nor a message under way
    quiet_frames: u32,
}

/// Mean square of a frame above which an idle trunk starts listening for
/// caller id: a sine at the FSK receiver's carrier-on level (−40 dBm0).
const CALLER_ID_GATE: f32 = {
    let peak = pickupd_dsp::DBM0_PEAK / 100.0;
    peak * peak / 2.0
};
/// An on-hook caller-id session ends after this long without carrier.
const CALLER_ID_QUIET_FRAMES: u32 = 10;

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
    role: Role,
    /// its driver stopped delivering: rounds no longer wait for it
    stalled: bool,
    /// rounds the bank had silence for this line while it was stalled
    owed: usize,
}

impl MediaPort {
    pub fn new(
        line: LineId,
        station: bool,
        cidcw: bool,
        rx: rtrb::Consumer<Frame>,
        tx: rtrb::Producer<Frame>,
    ) -> Self {
        let role = if station {
            Role::Station
        } else {
            Role::Trunk(Box::new(Trunk {
                echo: EchoCanceller::new(ECHO_TAPS),
                last_tx: SILENCE,
                cidcw_line: cidcw,
                heard_tone: false,
                heard_cas: false,
                held_sas: None,
                cidcw: None,
                caller_id: None,
                samples: 0,
            }))
        };
        MediaPort {
            line,
            rx,
            tx,
            role,
            stalled: false,
            owed: 0,
        }
    }

    /// Is a CIDCW exchange under way (the user's audio muted)?
    fn in_cidcw(&self) -> bool {
        matches!(&self.role, Role::Trunk(t) if t.cidcw.is_some())
    }

    /// Back from a stall with `queued` frames waiting: drop those the bank
    /// already had silence for, keeping the newest; each dropped frame is
    /// answered with a silent transmit frame.
    fn resume(&mut self, queued: usize) {
        let stale = self.owed.min(queued.saturating_sub(1));
        for _ in 0..stale {
            let _ = self.rx.pop();
            let _ = self.tx.push(SILENCE);
        }
        if stale > 0 {
            if let Role::Trunk(t) = &mut self.role {
                t.last_tx = SILENCE;
            }
            tracing::debug!(
                "line {}: back after a stall; {stale} late frames dropped",
                self.line.0
            );
        }
        self.stalled = false;
        self.owed = 0;
    }
}

struct Route {
    /// the port whose receive audio this line hears (a bridge)
    bridge: Option<usize>,
    tone: Option<ToneGenerator>,
}

/// The per-round buffers, one entry per port (made once).
struct RoundBuffers {
    /// the bank's input: each port's frame, echo-cancelled on trunks;
    /// silence for a stalled port
    frames: Vec<Frame>,
    /// each port's receive frame as received (what a bridge passes on)
    heard: Vec<Frame>,
    /// the port delivered a frame in this round
    present: Vec<bool>,
    /// the port's audio is muted (CIDCW under way)
    muted: Vec<bool>,
}

pub struct MediaWorker {
    ports: Vec<MediaPort>,
    zone_code: String,
    bank: DetectorBank,
    engine: EngineHandle,
    commands: Receiver<(LineId, MediaSource)>,
    stop: Arc<AtomicBool>,
}

impl MediaWorker {
    pub fn new(
        ports: Vec<MediaPort>,
        zone: &zones::Zone,
        engine: EngineHandle,
        commands: Receiver<(LineId, MediaSource)>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        MediaWorker {
            bank: DetectorBank::new(zone, ports.len()),
            ports,
            zone_code: zone.code.clone(),
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
        let n = self.ports.len();
        let index: HashMap<LineId, usize> = self
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| (p.line, i))
            .collect();
        let mut routes: Vec<Option<Route>> = (0..n).map(|_| None).collect();
        let mut buf = RoundBuffers {
            frames: vec![SILENCE; n],
            heard: vec![SILENCE; n],
            present: vec![false; n],
            muted: vec![false; n],
        };
        while !self.stop.load(Ordering::Relaxed) {
            // Woken by the driver after each block; the timeout only guards
            // against a driver that stopped waking us.
            std::thread::park_timeout(Duration::from_millis(50));
            while let Ok((line, source)) = self.commands.try_recv() {
                let Some(&i) = index.get(&line) else { continue };
                let tone = match source {
                    MediaSource::DialTone => Some(ProgressTone::Dial),
                    MediaSource::Ringback => Some(ProgressTone::Ringback),
                    MediaSource::Reorder => Some(ProgressTone::Reorder),
                    MediaSource::Silence | MediaSource::Bridge(_) => None,
                }
                .map(|t| ToneGenerator::progress(t, &self.zone_code));
                let bridge = match source {
                    MediaSource::Bridge(other) => index.get(&other).copied(),
                    _ => None,
                };
                routes[i] = Some(Route { bridge, tone });
            }
            while self.round_ready() {
                self.round(&mut buf, &mut routes);
            }
        }
    }

    /// Can a round run now? Every port that is not stalled has a frame, or
    /// one has [`LATE_FRAMES`] waiting: then the ports with none are marked
    /// stalled.
    fn round_ready(&mut self) -> bool {
        let mut most = 0;
        let mut waiting = false;
        for p in &self.ports {
            let queued = p.rx.slots();
            most = most.max(queued);
            waiting |= queued == 0 && !p.stalled;
        }
        if most == 0 {
            return false;
        }
        if !waiting {
            return true;
        }
        if most < LATE_FRAMES {
            // Merely late: its driver is still pushing.
            return false;
        }
        for p in self.ports.iter_mut() {
            if !p.stalled && p.rx.slots() == 0 {
                tracing::debug!("line {}: no receive audio; not waiting for it", p.line.0);
                p.stalled = true;
            }
        }
        true
    }

    /// One frame from every port (silence in the bank for stalled ones),
    /// the bank, the events, the transmit frames.
    fn round(&mut self, buf: &mut RoundBuffers, routes: &mut [Option<Route>]) {
        for (i, p) in self.ports.iter_mut().enumerate() {
            if p.stalled {
                let queued = p.rx.slots();
                if queued > 0 {
                    p.resume(queued);
                }
            }
            let Ok(frame) = p.rx.pop() else {
                // Only a stalled port can be empty here: round_ready saw a
                // frame on every other one, and only this worker takes them.
                buf.present[i] = false;
                buf.frames[i] = SILENCE;
                buf.heard[i] = SILENCE;
                p.owed = (p.owed + 1).min(RING_FRAMES);
                continue;
            };
            buf.present[i] = true;
            buf.heard[i] = frame;
            match &mut p.role {
                // The receive audio without the echo of what we sent.
                Role::Trunk(t) => t.echo.process(&t.last_tx, &frame, &mut buf.frames[i]),
                Role::Station => buf.frames[i] = frame,
            }
        }

        // Digits go to the engine as the bank reports them; a trunk's
        // signals are acted on below, once its frame is through the bank.
        let (ports, engine) = (&mut self.ports, &self.engine);
        self.bank.process_tick(&buf.frames, &mut |c, e| {
            let Some(p) = ports.get_mut(c) else { return };
            match (&mut p.role, e) {
                (Role::Station, BankEvent::Dtmf { digit, .. }) => {
                    engine.hw(HwEvent::Digit {
                        line: p.line,
                        digit,
                    });
                }
                (Role::Trunk(t), BankEvent::CallWaitingTone { .. }) => t.heard_tone = true,
                (Role::Trunk(t), BankEvent::Cas { end_sample }) if t.cidcw_line => {
                    tracing::debug!("line {}: CAS ending at sample {end_sample}", p.line.0);
                    t.heard_cas = true;
                }
                // Not a signal on this kind of line.
                _ => {}
            }
        });

        for (i, p) in self.ports.iter_mut().enumerate() {
            if let Role::Trunk(t) = &mut p.role {
                let clean = buf.present[i].then_some(&buf.frames[i]);
                let idle = routes[i]
                    .as_ref()
                    .is_none_or(|r| r.bridge.is_none() && r.tone.is_none());
                t.after_tick(&self.engine, p.line, clean, idle);
            }
            // During CIDCW the trunk carries the acknowledgement and the
            // user's audio is muted both ways.
            buf.muted[i] = p.in_cidcw();
        }

        for (i, p) in self.ports.iter_mut().enumerate() {
            if !buf.present[i] {
                continue;
            }
            let mut out: Frame = SILENCE;
            match &mut p.role {
                Role::Trunk(t) if t.cidcw.is_some() => {
                    if let Some(s) = &mut t.cidcw {
                        s.ack.fill(&mut out);
                    }
                }
                _ => {
                    if let Some(route) = routes[i].as_mut() {
                        match (route.bridge, route.tone.as_mut()) {
                            (Some(other), _) => {
                                if !buf.muted[other] {
                                    out = buf.heard[other];
                                }
                            }
                            (None, Some(tone)) => tone.fill(&mut out),
                            (None, None) => {}
                        }
                    }
                }
            }
            if let Role::Trunk(t) = &mut p.role {
                t.last_tx = out;
            }
            // A full transmit ring means the driver is gone or stalled:
            // drop rather than block the other lines.
            let _ = p.tx.push(out);
        }
    }
}

impl Trunk {
    /// After the bank's tick: act on what it heard on this line, and run
    /// the CIDCW exchange on the line's echo-cancelled frame (`None` when
    /// the line is stalled: its own clock does not advance).
    fn after_tick(
        &mut self,
        engine: &EngineHandle,
        line: LineId,
        clean: Option<&Frame>,
        idle: bool,
    ) {
        if clean.is_some() {
            self.samples += FRAME_SAMPLES as u64;
        }
        let now = self.samples;
        if std::mem::take(&mut self.heard_tone) {
            if self.cidcw_line {
                self.held_sas = Some(now + SAS_HOLD_MS * SAMPLES_PER_MS);
            } else {
                engine.hw(HwEvent::CallWaitingTone { line });
            }
        }
        if std::mem::take(&mut self.heard_cas) && self.cidcw.is_none() {
            self.held_sas = None;
            engine.hw(HwEvent::CallWaitingAlert { line });
            self.cidcw = Some(CidcwSession::start(now));
            tracing::debug!("line {}: CAS; acknowledging with D", line.0);
        }
        if self.held_sas.is_some_and(|at| now >= at) {
            self.held_sas = None;
            engine.hw(HwEvent::CallWaitingTone { line });
        }
        let Some(frame) = clean else { return };
        if idle && self.cidcw.is_none() {
            self.receive_caller_id(engine, line, frame);
        } else {
            self.caller_id = None;
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

    /// On-hook caller id on an idle trunk: FSK once the line carries
    /// energy, until a message completes or the carrier is gone.
    fn receive_caller_id(&mut self, engine: &EngineHandle, line: LineId, frame: &Frame) {
        if self.caller_id.is_none() {
            let energy = frame
                .iter()
                .map(|&x| f32::from(x) * f32::from(x))
                .sum::<f32>()
                / FRAME_SAMPLES as f32;
            if energy < CALLER_ID_GATE {
                return;
            }
            self.caller_id = Some(OnHookCallerId {
                fsk: FskReceiver::new(),
                message: MessageAssembler::new(),
                quiet_frames: 0,
            });
        }
        let Some(c) = &mut self.caller_id else { return };
        let mut done = None;
        let message = &mut c.message;
        c.fsk.process(frame, &mut |byte| {
            if let Some(result) = message.push(byte) {
                done = Some(result);
            }
        });
        match done {
            Some(Ok(id)) => {
                tracing::debug!("line {}: caller id {:?} {:?}", line.0, id.number, id.name);
                engine.hw(HwEvent::CallerId {
                    line,
                    number: id.number.unwrap_or_default(),
                    name: id.name.unwrap_or_default(),
                });
                self.caller_id = None;
            }
            Some(Err(e)) => {
                tracing::warn!("line {}: caller id did not decode: {e}", line.0);
                self.caller_id = None;
            }
            None => {
                if c.fsk.carrier_present() || c.message.in_message() {
                    c.quiet_frames = 0;
                } else {
                    c.quiet_frames += 1;
                    if c.quiet_frames > CALLER_ID_QUIET_FRAMES {
                        self.caller_id = None;
                    }
                }
            }
        }
    }
}
