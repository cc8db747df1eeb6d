//! The simulated hardware driver: the world of `pickupd-sim`, paced in real
//! time, in process. Its signalling becomes the engine's hardware events
//! one to one; its PCM goes through the same rings as a real port's.

use super::{Driver, DriverContext};
use crate::engine::{HwEvent, LineCommand};
use crate::sim::{key, line, SimRequest, World};
use pickupd_dsp::Frame;
use pickupd_sim::host::{self, Hardware};
use pickupd_sim::{Control, LineKey, WorldEvent};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

pub struct SimDriver {
    world: World,
    requests: Receiver<SimRequest>,
}

impl SimDriver {
    pub fn new(world: World, requests: Receiver<SimRequest>) -> Self {
        SimDriver { world, requests }
    }
}

impl Driver for SimDriver {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn start(self: Box<Self>, ctx: DriverContext) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("pickupd-sim-io".into())
            .spawn(move || {
                let stop = ctx.stop.clone();
                let mut rings = Rings { ctx, overruns: 0 };
                host::run(self.world, &mut rings, self.requests, stop);
            })
    }
}

/// The world's view of the daemon's rings and engine.
struct Rings {
    ctx: DriverContext,
    overruns: u64,
}

impl Hardware for Rings {
    fn controls(&mut self, out: &mut Vec<(LineKey, Control)>) {
        while let Ok((id, cmd)) = self.ctx.commands.try_recv() {
            let control = match cmd {
                LineCommand::Ring(on) => Control::Ring(on),
                LineCommand::Hook(off) => Control::Hook(off),
                LineCommand::Flash => Control::Flash,
            };
            out.push((key(id), control));
        }
    }

    fn frame(&mut self, k: LineKey, frame: &Frame) {
        let id = line(k);
        if let Some(p) = self.ctx.ports.iter_mut().find(|p| p.line == id) {
            if p.rx.push(*frame).is_err() {
                self.overruns += 1;
            }
        }
    }

    fn event(&mut self, event: WorldEvent) {
        self.ctx.engine.hw(hw_event(event));
    }

    fn transmitted(&mut self, out: &mut Vec<(LineKey, Frame)>) {
        for p in self.ctx.ports.iter_mut() {
            while let Ok(frame) = p.tx.pop() {
                out.push((key(p.line), frame));
            }
        }
    }

    fn tick_done(&mut self) {
        self.ctx.media.unpark();
        if self.overruns > 0 {
            tracing::warn!(
                "media worker fell behind: {} receive frames dropped",
                self.overruns
            );
            self.overruns = 0;
        }
    }
}

/// The engine's event for the world's signalling.
pub fn hw_event(event: WorldEvent) -> HwEvent {
    match event {
        WorldEvent::PhoneHook { line: l, off_hook } => HwEvent::Hook {
            line: line(l),
            off_hook,
        },
        WorldEvent::PhoneFlash { line: l } => HwEvent::Flash { line: line(l) },
        WorldEvent::RingStart {
            line: l,
            caller_number,
            caller_name,
            tag,
        } => HwEvent::RingStart {
            line: line(l),
            caller_number,
            caller_name,
            tag,
        },
        WorldEvent::RingStop { line: l } => HwEvent::RingStop { line: line(l) },
        WorldEvent::FarEndDisconnect { line: l } => HwEvent::FarEndDisconnect { line: line(l) },
        WorldEvent::NetworkCall {
            line: l,
            caller_number,
            caller_name,
            tag,
        } => HwEvent::NetworkCall {
            line: line(l),
            caller_number,
            caller_name,
            tag,
        },
        WorldEvent::NetworkHangup { tag } => HwEvent::NetworkHangup { tag },
        WorldEvent::Unplugged { line: l, why } => HwEvent::DeviceGone { line: line(l), why },
        WorldEvent::Plugged { line: l, off_hook } => HwEvent::DeviceBack {
            line: line(l),
            off_hook,
        },
    }
}
