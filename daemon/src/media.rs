//! The media worker: drains every line's receive ring, runs the detectors
//! on the audio (DTMF at stations, the zone's call-waiting tone on trunks)
//! and produces each line's transmit frame (a progress tone or the audio of
//! the line it is bridged to).

use crate::engine::{HwEvent, LineId, MediaSource};
use crate::runtime::EngineHandle;
use pickupd_dsp::dtmf::{DtmfDetector, DtmfEvent};
use pickupd_dsp::sas::CallWaitingToneDetector;
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::{zones, Frame, FRAME_SAMPLES};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

/// The detectors a line's receive audio goes through.
pub enum Detectors {
    /// a phone: the person dials
    Station(Box<DtmfDetector>),
    /// a line to an office: it signals call waiting with a tone
    Trunk(Box<CallWaitingToneDetector>),
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
        zone: &zones::Zone,
        rx: rtrb::Consumer<Frame>,
        tx: rtrb::Producer<Frame>,
    ) -> Self {
        let detectors = if station {
            Detectors::Station(Box::new(DtmfDetector::new()))
        } else {
            Detectors::Trunk(Box::new(CallWaitingToneDetector::for_zone(zone)))
        };
        MediaPort {
            line,
            rx,
            tx,
            detectors,
        }
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
                    let mut out: Frame = silence;
                    if let Some(route) = routes.get_mut(&port.line) {
                        match (route.source, route.tone.as_mut()) {
                            (MediaSource::Bridge(other), _) => {
                                if let Some(f) = last_rx.get(&other) {
                                    out = *f;
                                }
                            }
                            (_, Some(tone)) => tone.fill(&mut out),
                            _ => {}
                        }
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
        Detectors::Trunk(sas) => sas.process(frame, &mut |_ev| {
            engine.hw(HwEvent::CallWaitingTone { line });
        }),
    }
}
