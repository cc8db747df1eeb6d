//! The world model: pure state advanced in 20 ms ticks.

use crate::config::{LineConfig, Site};
use crate::engine::{HwEvent, LineCommand, LineId};
use pickupd_dsp::dtmf::DtmfGenerator;
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
    ports: BTreeMap<LineId, Port>,
    now_ms: u64,
    next_tag: u64,
    events: Vec<HwEvent>,
}

impl World {
    /// A world for the simulated lines of `site`, with the engine's ids.
    pub fn new(site: &Site, ids: &[(LineId, String)]) -> World {
        let zone = zones::zone(&site.zone)
            .or_else(|| zones::zone("us"))
            .expect("zone us is built in");
        let mut ports = BTreeMap::new();
        for (id, name) in ids {
            if let Some(cfg) = site.lines.iter().find(|l| &l.name == name) {
                ports.insert(*id, Port::new(cfg));
            }
        }
        World {
            zone,
            ports,
            now_ms: 0,
            next_tag: 1,
            events: Vec::new(),
        }
    }

    pub fn line_ids(&self) -> Vec<LineId> {
        self.ports.keys().copied().collect()
    }

    fn by_number(&self, number: &str) -> Result<LineId, SimError> {
        self.ports
            .iter()
            .find(|(_, p)| p.number == number)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                SimError::NoSuchNumber(format!("no simulated line has the number {number}"))
            })
    }

    fn by_name(&self, name: &str) -> Result<LineId, SimError> {
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

    fn phone(&mut self, number: &str) -> Result<(LineId, &mut Port), SimError> {
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
                self.events.push(HwEvent::NetworkCall {
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
            self.events.push(HwEvent::Hook { line: id, off_hook });
        }
        Ok(())
    }

    pub fn phone_on_hook_line(&mut self, line: LineId) -> Result<(), SimError> {
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
        self.events.push(HwEvent::Flash { line: id });
        Ok(())
    }

    /// Queue digits as DTMF audio; returns the line whose generator plays them.
    pub fn dial(&mut self, number: &str, digits: &str) -> Result<LineId, SimError> {
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

    pub fn dialing_done(&self, line: LineId) -> bool {
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
        Ok(())
    }

    /// The far party on a trunk hangs up, or its ringing caller gives up.
    pub fn trunk_far_end_hangup(&mut self, line: LineId) -> Result<(), SimError> {
        let port = self
            .ports
            .get_mut(&line)
            .ok_or_else(|| SimError::NoSuchLine(format!("line {} is not simulated", line.0)))?;
        let name = port.name.clone();
        let Device::Office(o) = &mut port.device else {
            return Err(SimError::WrongState(format!("{name} is a station")));
        };
        if o.ringing.take().is_some() {
            self.events.push(HwEvent::RingStop { line });
        } else if o.active.take().is_some() {
            self.events.push(HwEvent::FarEndDisconnect { line });
        } else if o.other.take().is_some() {
            o.tone = None;
            self.events.push(HwEvent::FarEndDisconnect { line });
        } else {
            return Err(SimError::WrongState(format!(
                "{name} has no call whose far party could hang up"
            )));
        }
        Ok(())
    }

    pub fn network_hangup(&mut self, tag: u64) {
        self.events.push(HwEvent::NetworkHangup { tag });
    }

    pub fn set_plugged(&mut self, name: &str, plugged: bool) -> Result<LineId, SimError> {
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
            HwEvent::DeviceBack { line: id, off_hook }
        } else {
            HwEvent::DeviceGone {
                line: id,
                why: format!("{name} was unplugged"),
            }
        });
        Ok(id)
    }

    pub fn is_plugged(&self, line: LineId) -> bool {
        self.ports.get(&line).is_some_and(|p| p.plugged)
    }

    /// What the daemon asks of the hardware.
    pub fn command(&mut self, line: LineId, cmd: &LineCommand) {
        let now = self.now_ms;
        let Some(port) = self.ports.get_mut(&line) else {
            return;
        };
        if !port.plugged {
            return;
        }
        match (&mut port.device, cmd) {
            (Device::Phone(p), LineCommand::Ring(on)) => p.ringing = *on,
            (Device::Office(o), LineCommand::Hook(off)) => {
                o.line_off_hook = *off;
                if *off {
                    if let Some(r) = o.ringing.take() {
                        o.active = Some(r.party);
                    }
                } else {
                    o.active = None;
                    o.tone = None;
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
            (Device::Office(o), LineCommand::Flash) => {
                if !o.line_off_hook {
                    return;
                }
                o.tone = None;
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
    pub fn tick(&mut self, mut on_frame: impl FnMut(LineId, &Frame)) -> Vec<HwEvent> {
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
                                self.events.push(HwEvent::RingStop { line: *id });
                            } else {
                                r.rings += 1;
                                r.next_ring_ms = now + RING_PERIOD_MS;
                                self.events.push(HwEvent::RingStart {
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
                    if let Some(t) = &mut o.tone {
                        t.fill(&mut frame);
                        if t.finished() {
                            o.tone = None;
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
    pub fn hear(&mut self, _line: LineId, _frame: &Frame) {}
}

impl Port {
    fn new(cfg: &LineConfig) -> Port {
        let device = if cfg.kind.is_station_port() {
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
