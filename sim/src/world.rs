//! The world model: pure state advanced in 20 ms ticks.

use crate::{Control, LineKey, LineSpec, WorldEvent};
use pickupd_dsp::callerid::{encode_mdmf, CallerId};
use pickupd_dsp::cas::CasGenerator;
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent, DtmfGenerator};
use pickupd_dsp::fsk::FskTransmitter;
use pickupd_dsp::tones::ToneGenerator;
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};
use std::collections::BTreeMap;

const TICK_MS: u64 = 20;
/// North American ringing: a ring every 6 s (2 s on, 4 s off).
const RING_PERIOD_MS: u64 = 6_000;
/// An unanswered caller gives up after ten rings.
const RINGS_BEFORE_GIVING_UP: u32 = 10;
/// The office repeats the call-waiting tone while the call waits.
const CALL_WAITING_REPEAT_MS: u64 = 10_000;
/// CIDCW as the exchange plays it (signals.md §4): CAS of 80 ms at about
/// −20 dBm0 per tone; the CPE's 'D' must start within 100 ms of its end;
/// FSK follows 50 ms after the 'D' with 80 ms of mark, at −13 dBm0.
const CAS_MS: u32 = 80;
const CAS_LEVEL_DBM0: f32 = -20.0;
const ACK_DEADLINE_MS: f64 = 100.0;
const ACK_WAIT_MS: f64 = 300.0;
const FSK_GAP_MS: f64 = 50.0;
const FSK_MARK_MS: u32 = 80;
const FSK_LEVEL_DBM0: f32 = -13.0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    NoSuchNumber(String),
    #[error("{0}")]
    NoSuchLine(String),
    #[error("{0}")]
    WrongState(String),
    #[error("{0}")]
    NoService(String),
    #[error("{0}")]
    Unplugged(String),
    #[error("{0}")]
    BadDigits(String),
}

#[derive(Debug, Clone)]
struct Party {
    tag: u64,
    number: String,
    name: String,
}

struct Ringing {
    party: Party,
    next_ring_ms: u64,
    rings: u32,
}

/// The central office at the far end of a trunk.
struct Office {
    call_waiting: bool,
    /// our side of the line (the daemon's hook)
    line_off_hook: bool,
    ringing: Option<Ringing>,
    active: Option<Party>,
    /// the second call: waiting (not yet taken) or held by the office
    other: Option<Party>,
    other_waiting: bool,
    tone: Option<ToneGenerator>,
    next_cw_tone_ms: u64,
    /// the exchange's side of caller id on call waiting, when subscribed
    cidcw: Option<Box<Cidcw>>,
}

/// The exchange's side of CIDCW: alert with CAS, hear the CPE's 'D' on the
/// line, then send the waiting caller's id by FSK.
struct Cidcw {
    stage: CidcwStage,
    /// samples of the call-waiting tone still to play before the CAS
    tone_left: u32,
    cas: Option<CasGenerator>,
    fsk: FskTransmitter,
    ack: DtmfDetector,
    /// line time (ms) of the first sample the daemon sent, for the detector
    heard_origin_ms: Option<f64>,
    heard_samples: u64,
    /// the last acknowledgement's delay after the CAS, for the log and tests
    pub last_ack_delay_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CidcwStage {
    Idle,
    /// the CAS is being played after the tone
    Alerting,
    AwaitAck {
        cas_end_ms: f64,
    },
    /// 'D' heard in time; send the FSK once it ends
    Acked,
    SendAt {
        at_ms: f64,
    },
    Sending,
}

impl Cidcw {
    fn new() -> Self {
        Cidcw {
            stage: CidcwStage::Idle,
            tone_left: 0,
            cas: None,
            fsk: FskTransmitter::new(FSK_LEVEL_DBM0),
            ack: DtmfDetector::new(),
            heard_origin_ms: None,
            heard_samples: 0,
            last_ack_delay_ms: None,
        }
    }

    fn stop(&mut self) {
        self.stage = CidcwStage::Idle;
        self.cas = None;
        self.fsk.clear();
    }
}

/// The phone at a station port, and the person using it.
struct Phone {
    off_hook: bool,
    ringing: bool,
    dtmf: DtmfGenerator,
}

enum Device {
    Office(Office),
    Phone(Phone),
}

struct Port {
    name: String,
    number: String,
    plugged: bool,
    device: Device,
}

pub struct World {
    zone: &'static zones::Zone,
    ports: BTreeMap<LineKey, Port>,
    now_ms: u64,
    next_tag: u64,
    events: Vec<WorldEvent>,
}

impl World {
    /// A world with one port per line, its tones from `zone` (a zone name of
    /// `pickupd_dsp::zones`; unknown names fall back to the US tones).
    pub fn new(zone: &str, lines: &[LineSpec]) -> World {
        let zone = zones::zone(zone)
            .or_else(|| zones::zone("us"))
            .expect("zone us is built in");
        let ports = lines.iter().map(|l| (l.key, Port::new(l))).collect();
        World {
            zone,
            ports,
            now_ms: 0,
            next_tag: 1,
            events: Vec::new(),
        }
    }

    /// Milliseconds of world time since it began (20 ms per tick).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn line_ids(&self) -> Vec<LineKey> {
        self.ports.keys().copied().collect()
    }

    fn by_number(&self, number: &str) -> Result<LineKey, SimError> {
        self.ports
            .iter()
            .find(|(_, p)| p.number == number)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                SimError::NoSuchNumber(format!("no simulated line has the number {number}"))
            })
    }

    fn by_name(&self, name: &str) -> Result<LineKey, SimError> {
        self.ports
            .iter()
            .find(|(_, p)| p.name == name)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                let names: Vec<&str> = self.ports.values().map(|p| p.name.as_str()).collect();
                SimError::NoSuchLine(format!(
                    "no simulated line named \"{name}\"; lines are: {}",
                    names.join(", ")
                ))
            })
    }

    fn phone(&mut self, number: &str) -> Result<(LineKey, &mut Port), SimError> {
        let id = self.by_number(number)?;
        let port = self.ports.get_mut(&id).expect("found by number");
        match port.device {
            Device::Phone(_) => Ok((id, port)),
            Device::Office(_) => Err(SimError::NoSuchNumber(format!(
                "{number} is a trunk, not a station with a phone"
            ))),
        }
    }

    fn new_tag(&mut self) -> u64 {
        let t = self.next_tag;
        self.next_tag += 1;
        t
    }

    /// A call arrives for `number`. Returns the network's tag for it.
    pub fn incoming_call(
        &mut self,
        number: &str,
        caller: &str,
        name: &str,
    ) -> Result<u64, SimError> {
        let id = self.by_number(number)?;
        let tag = self.new_tag();
        let now = self.now_ms;
        let party = Party {
            tag,
            number: caller.to_string(),
            name: name.to_string(),
        };
        let port = self.ports.get_mut(&id).expect("found");
        if !port.plugged {
            return Err(SimError::Unplugged(format!(
                "{} is unplugged; plug it in first",
                port.name
            )));
        }
        match &mut port.device {
            Device::Office(o) => {
                if o.ringing.is_some() || o.active.is_some() || o.other.is_some() || o.line_off_hook
                {
                    return Err(SimError::WrongState(format!(
                        "{} is busy; use CallWaiting for a second call on a line in conversation",
                        port.name
                    )));
                }
                o.ringing = Some(Ringing {
                    party,
                    next_ring_ms: now,
                    rings: 0,
                });
            }
            Device::Phone(_) => {
                self.events.push(WorldEvent::NetworkCall {
                    line: id,
                    caller_number: caller.to_string(),
                    caller_name: name.to_string(),
                    tag,
                });
            }
        }
        Ok(tag)
    }

    pub fn set_phone_hook(&mut self, number: &str, off_hook: bool) -> Result<(), SimError> {
        let (id, port) = self.phone(number)?;
        let plugged = port.plugged;
        if let Device::Phone(p) = &mut port.device {
            if p.off_hook == off_hook {
                return Ok(());
            }
            p.off_hook = off_hook;
            if !off_hook {
                p.dtmf.clear();
            }
        }
        if plugged {
            self.events
                .push(WorldEvent::PhoneHook { line: id, off_hook });
        }
        Ok(())
    }

    pub fn phone_on_hook_line(&mut self, line: LineKey) -> Result<(), SimError> {
        let number = self
            .ports
            .get(&line)
            .map(|p| p.number.clone())
            .ok_or_else(|| SimError::NoSuchLine(format!("line {} is not simulated", line.0)))?;
        self.set_phone_hook(&number, false)
    }

    pub fn flash(&mut self, number: &str) -> Result<(), SimError> {
        let (id, port) = self.phone(number)?;
        let (plugged, name) = (port.plugged, port.name.clone());
        if let Device::Phone(p) = &port.device {
            if !p.off_hook {
                return Err(SimError::WrongState(format!(
                    "the phone at {number} is on hook; lift the handset (OffHook) before a flash"
                )));
            }
        }
        if !plugged {
            return Err(SimError::Unplugged(format!("{name} is unplugged")));
        }
        self.events.push(WorldEvent::PhoneFlash { line: id });
        Ok(())
    }

    /// Queue digits as DTMF audio; returns the line whose generator plays them.
    pub fn dial(&mut self, number: &str, digits: &str) -> Result<LineKey, SimError> {
        if digits.is_empty() || digits.len() > 64 {
            return Err(SimError::BadDigits("dial 1 to 64 of 0-9 * # A-D".into()));
        }
        let (id, port) = self.phone(number)?;
        let Device::Phone(p) = &mut port.device else {
            unreachable!("phone() returns phones")
        };
        if !p.off_hook {
            return Err(SimError::WrongState(format!(
                "the phone at {number} is on hook; lift the handset (OffHook) before dialling"
            )));
        }
        p.dtmf.push_digits(digits).map_err(|e| {
            SimError::BadDigits(format!("'{}' is not a DTMF digit; dial 0-9 * # A-D", e.0))
        })?;
        Ok(id)
    }

    pub fn dialing_done(&self, line: LineKey) -> bool {
        match self.ports.get(&line).map(|p| &p.device) {
            Some(Device::Phone(p)) => p.dtmf.is_idle(),
            _ => true,
        }
    }

    pub fn call_waiting(
        &mut self,
        trunk_number: &str,
        caller: &str,
        name: &str,
    ) -> Result<(), SimError> {
        let id = self.by_number(trunk_number)?;
        let tag = self.new_tag();
        let now = self.now_ms;
        let zone = self.zone;
        let port = self.ports.get_mut(&id).expect("found");
        let Device::Office(o) = &mut port.device else {
            return Err(SimError::NoSuchNumber(format!(
                "{trunk_number} is a station; call waiting comes from a trunk's office"
            )));
        };
        if !o.call_waiting {
            return Err(SimError::NoService(format!(
                "{} has no call-waiting service",
                port.name
            )));
        }
        if o.active.is_none() || !o.line_off_hook {
            return Err(SimError::WrongState(format!(
                "{} has no call in conversation; call waiting needs one (use IncomingCall for an idle line)",
                port.name
            )));
        }
        if o.other.is_some() {
            return Err(SimError::WrongState(format!(
                "{} already has a second call",
                port.name
            )));
        }
        o.other = Some(Party {
            tag,
            number: caller.to_string(),
            name: name.to_string(),
        });
        o.other_waiting = true;
        o.tone = Some(ToneGenerator::sas(zone));
        o.next_cw_tone_ms = now + CALL_WAITING_REPEAT_MS;
        if let Some(c) = &mut o.cidcw {
            c.stop();
            c.stage = CidcwStage::Alerting;
            c.tone_left = tone_burst_ms(zone) * 8;
        }
        Ok(())
    }

    /// The far party on a trunk hangs up, or its ringing caller gives up.
    pub fn trunk_far_end_hangup(&mut self, line: LineKey) -> Result<(), SimError> {
        let port = self
            .ports
            .get_mut(&line)
            .ok_or_else(|| SimError::NoSuchLine(format!("line {} is not simulated", line.0)))?;
        let name = port.name.clone();
        let Device::Office(o) = &mut port.device else {
            return Err(SimError::WrongState(format!("{name} is a station")));
        };
        if o.ringing.take().is_some() {
            self.events.push(WorldEvent::RingStop { line });
        } else if o.active.take().is_some() {
            self.events.push(WorldEvent::FarEndDisconnect { line });
        } else if o.other.take().is_some() {
            o.tone = None;
            self.events.push(WorldEvent::FarEndDisconnect { line });
        } else {
            return Err(SimError::WrongState(format!(
                "{name} has no call whose far party could hang up"
            )));
        }
        Ok(())
    }

    pub fn network_hangup(&mut self, tag: u64) {
        self.events.push(WorldEvent::NetworkHangup { tag });
    }

    pub fn set_plugged(&mut self, name: &str, plugged: bool) -> Result<LineKey, SimError> {
        let id = self.by_name(name)?;
        let port = self.ports.get_mut(&id).expect("found by name");
        if port.plugged == plugged {
            return Ok(id);
        }
        port.plugged = plugged;
        match &mut port.device {
            Device::Office(o) => {
                // Without the line the office drops what it had on it.
                if !plugged {
                    o.ringing = None;
                    o.active = None;
                    o.other = None;
                    o.tone = None;
                    o.line_off_hook = false;
                }
            }
            Device::Phone(p) => p.ringing = false,
        }
        let off_hook = matches!(&port.device, Device::Phone(p) if p.off_hook);
        self.events.push(if plugged {
            WorldEvent::Plugged { line: id, off_hook }
        } else {
            WorldEvent::Unplugged {
                line: id,
                why: format!("{name} was unplugged"),
            }
        });
        Ok(id)
    }

    pub fn is_plugged(&self, line: LineKey) -> bool {
        self.ports.get(&line).is_some_and(|p| p.plugged)
    }

    /// What the daemon asks of the hardware.
    pub fn command(&mut self, line: LineKey, cmd: &Control) {
        let now = self.now_ms;
        let Some(port) = self.ports.get_mut(&line) else {
            return;
        };
        if !port.plugged {
            return;
        }
        match (&mut port.device, cmd) {
            (Device::Phone(p), Control::Ring(on)) => p.ringing = *on,
            (Device::Office(o), Control::Hook(off)) => {
                o.line_off_hook = *off;
                if *off {
                    if let Some(r) = o.ringing.take() {
                        o.active = Some(r.party);
                    }
                } else {
                    o.active = None;
                    o.tone = None;
                    if let Some(c) = &mut o.cidcw {
                        c.stop();
                    }
                    // A second call still there rings the line again.
                    if let Some(party) = o.other.take() {
                        o.ringing = Some(Ringing {
                            party,
                            next_ring_ms: now + 1_000,
                            rings: 0,
                        });
                    }
                }
            }
            (Device::Office(o), Control::Flash) => {
                if !o.line_off_hook {
                    return;
                }
                o.tone = None;
                if let Some(c) = &mut o.cidcw {
                    c.stop();
                }
                let other = o.other.take();
                o.other = o.active.take();
                o.other_waiting = false;
                o.active = other;
            }
            _ => {}
        }
    }

    /// Advance 20 ms: signalling happens now, and every plugged port gives
    /// its receive frame (what the daemon hears from it).
    pub fn tick(&mut self, mut on_frame: impl FnMut(LineKey, &Frame)) -> Vec<WorldEvent> {
        self.now_ms += TICK_MS;
        let now = self.now_ms;
        let zone = self.zone;
        let mut frame: Frame = [0; FRAME_SAMPLES];
        for (id, port) in self.ports.iter_mut() {
            if !port.plugged {
                continue;
            }
            frame.fill(0);
            match &mut port.device {
                Device::Office(o) => {
                    if let Some(r) = &mut o.ringing {
                        if now >= r.next_ring_ms {
                            if r.rings >= RINGS_BEFORE_GIVING_UP {
                                o.ringing = None;
                                self.events.push(WorldEvent::RingStop { line: *id });
                            } else {
                                r.rings += 1;
                                r.next_ring_ms = now + RING_PERIOD_MS;
                                self.events.push(WorldEvent::RingStart {
                                    line: *id,
                                    caller_number: r.party.number.clone(),
                                    caller_name: r.party.name.clone(),
                                    tag: Some(r.party.tag),
                                });
                            }
                        }
                    }
                    if o.other.is_some()
                        && o.other_waiting
                        && o.active.is_some()
                        && now >= o.next_cw_tone_ms
                    {
                        o.tone = Some(ToneGenerator::sas(zone));
                        o.next_cw_tone_ms = now + CALL_WAITING_REPEAT_MS;
                    }
                    let frame_end_ms = now as f64;
                    let alerting = o
                        .cidcw
                        .as_ref()
                        .is_some_and(|c| c.stage == CidcwStage::Alerting && c.cas.is_none());
                    if let Some(t) = &mut o.tone {
                        t.fill(&mut frame);
                        if t.finished() {
                            o.tone = None;
                        }
                        // CIDCW: the CAS follows the tone's burst at once.
                        if let Some(c) = o.cidcw.as_mut().filter(|_| alerting) {
                            c.tone_left = c.tone_left.saturating_sub(frame.len() as u32);
                            if c.tone_left == 0 {
                                o.tone = None;
                                c.cas = Some(CasGenerator::new(CAS_MS, CAS_LEVEL_DBM0));
                            }
                        }
                    } else if let Some(c) = &mut o.cidcw {
                        match c.stage {
                            CidcwStage::Alerting => {
                                if let Some(cas) = &mut c.cas {
                                    cas.fill(&mut frame);
                                    if cas.finished() {
                                        c.cas = None;
                                        // Frames are whole 20 ms and the CAS 80 ms: it ends with this frame.
                                        c.stage = CidcwStage::AwaitAck {
                                            cas_end_ms: frame_end_ms,
                                        };
                                    }
                                } else {
                                    c.stage = CidcwStage::Idle;
                                }
                            }
                            CidcwStage::AwaitAck { cas_end_ms }
                                if frame_end_ms > cas_end_ms + ACK_WAIT_MS =>
                            {
                                tracing::info!(
                                    "{}: no CIDCW acknowledgement; no caller id sent",
                                    port.name
                                );
                                c.stage = CidcwStage::Idle;
                            }
                            CidcwStage::SendAt { at_ms } if frame_end_ms - 20.0 >= at_ms => {
                                let party = o.other.as_ref();
                                let id = CallerId {
                                    number: party
                                        .map(|p| p.number.clone())
                                        .filter(|n| !n.is_empty()),
                                    name: party.map(|p| p.name.clone()).filter(|n| !n.is_empty()),
                                    number_absent: party
                                        .filter(|p| p.number.is_empty())
                                        .map(|_| 'O'),
                                    ..Default::default()
                                };
                                c.fsk.queue_message(&encode_mdmf(&id), FSK_MARK_MS);
                                c.stage = CidcwStage::Sending;
                                c.fsk.fill(&mut frame);
                            }
                            CidcwStage::Sending => {
                                c.fsk.fill(&mut frame);
                                if c.fsk.is_idle() {
                                    c.stage = CidcwStage::Idle;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Device::Phone(p) => {
                    if p.off_hook {
                        p.dtmf.fill(&mut frame);
                    }
                }
            }
            on_frame(*id, &frame);
        }
        std::mem::take(&mut self.events)
    }

    /// The daemon's transmit audio reaching a port (a person or the far end
    /// hears it). The simulation has no listener yet, so it is consumed.
    pub fn hear(&mut self, line: LineKey, frame: &Frame) {
        let now = self.now_ms as f64;
        let Some(port) = self.ports.get_mut(&line) else {
            return;
        };
        let Device::Office(o) = &mut port.device else {
            return;
        };
        let Some(c) = &mut o.cidcw else { return };
        // What the daemon sends fills the line after what it sent before.
        let origin = *c.heard_origin_ms.get_or_insert(now - 20.0);
        let start_ms = origin + c.heard_samples as f64 / 8.0;
        if start_ms < now - 40.0 {
            // a gap (the daemon sent nothing for a while): resynchronise
            c.heard_origin_ms = Some(now - 20.0 - c.heard_samples as f64 / 8.0);
        }
        let origin = c.heard_origin_ms.unwrap_or(origin);
        c.heard_samples += frame.len() as u64;
        let mut heard = Vec::new();
        c.ack.process(frame, &mut |ev| heard.push(ev));
        for ev in heard {
            match (c.stage, ev) {
                (
                    CidcwStage::AwaitAck { cas_end_ms },
                    DtmfEvent::Begin {
                        digit: 'D',
                        at_sample,
                    },
                ) => {
                    let delay = origin + at_sample as f64 / 8.0 - cas_end_ms;
                    c.last_ack_delay_ms = Some(delay);
                    if delay <= ACK_DEADLINE_MS {
                        tracing::info!(
                            "{}: CIDCW acknowledgement D began {delay:.0} ms after the CAS",
                            port.name
                        );
                        c.stage = CidcwStage::Acked;
                    } else {
                        tracing::warn!(
                            "{}: CIDCW acknowledgement D began {delay:.0} ms after the CAS, later than 100 ms; no caller id sent",
                            port.name
                        );
                        c.stage = CidcwStage::Idle;
                    }
                }
                (
                    CidcwStage::Acked,
                    DtmfEvent::End {
                        digit: 'D',
                        at_sample,
                        ..
                    },
                ) => {
                    c.stage = CidcwStage::SendAt {
                        at_ms: origin + at_sample as f64 / 8.0 + FSK_GAP_MS,
                    };
                }
                _ => {}
            }
        }
    }

    /// Delay of the last CIDCW acknowledgement after its CAS, in ms.
    pub fn last_ack_delay_ms(&self, line: LineKey) -> Option<f64> {
        match self.ports.get(&line).map(|p| &p.device) {
            Some(Device::Office(Office { cidcw: Some(c), .. })) => c.last_ack_delay_ms,
            _ => None,
        }
    }
}

/// How long the zone's call-waiting tone sounds before its first long
/// pause: what plays before the CAS on a CIDCW line.
fn tone_burst_ms(zone: &zones::Zone) -> u32 {
    let Some(tone) = zone.call_waiting.first() else {
        return 300;
    };
    let mut ms = 0;
    for seg in tone.line_cadence() {
        let len = seg.ms.unwrap_or(0);
        if seg.is_silence() && len >= 1_000 {
            break;
        }
        ms += len;
    }
    // Frames are 20 ms; the CAS starts on the frame after the burst.
    ms.div_ceil(20) * 20
}

impl Port {
    fn new(cfg: &LineSpec) -> Port {
        let device = if cfg.station {
            Device::Phone(Phone {
                off_hook: false,
                ringing: false,
                dtmf: DtmfGenerator::new(),
            })
        } else {
            Device::Office(Office {
                call_waiting: cfg.call_waiting,
                line_off_hook: false,
                ringing: None,
                active: None,
                other: None,
                other_waiting: false,
                tone: None,
                next_cw_tone_ms: 0,
                cidcw: cfg.cidcw.then(|| Box::new(Cidcw::new())),
            })
        };
        Port {
            name: cfg.name.clone(),
            number: cfg.number.clone(),
            plugged: true,
            device,
        }
    }
}
