//! Drivers: one I/O thread per driver moves 8 kHz PCM frames between the
//! hardware and lock-free rings, and signalling between the hardware and
//! the engine. Everything above this trait runs the same code for simulated
//! and real ports.

use crate::engine::{LineCommand, LineId};
use crate::runtime::EngineHandle;
use crate::sim::{SimError, SimOk, SimOp, SimRequest, World};
use pickupd_dsp::Frame;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type SimResult = Result<SimOk, SimError>;
type SimReply = oneshot::Sender<SimResult>;

/// Frames per ring: 32 × 20 ms = 640 ms of jitter room; drained every tick.
pub const RING_FRAMES: usize = 32;

/// One line's audio path between its driver and the media worker.
pub struct Port {
    pub line: LineId,
    /// what the line receives (driver → media)
    pub rx: rtrb::Producer<Frame>,
    /// what the daemon transmits on it (media → driver)
    pub tx: rtrb::Consumer<Frame>,
}

/// What a started driver needs from the daemon.
pub struct DriverContext {
    pub ports: Vec<Port>,
    pub engine: EngineHandle,
    /// the media worker, woken after each block of frames
    pub media: Thread,
    pub commands: Receiver<(LineId, LineCommand)>,
    pub stop: Arc<AtomicBool>,
}

pub trait Driver: Send {
    /// A short name for logs ("sim", "dahdi").
    fn name(&self) -> &'static str;
    /// Start the I/O thread.
    fn start(self: Box<Self>, ctx: DriverContext) -> std::io::Result<JoinHandle<()>>;
}

/// The simulated hardware: the world's PCM and signalling, paced in real
/// time, in process.
pub struct SimDriver {
    world: World,
    requests: Receiver<SimRequest>,
}

impl SimDriver {
    pub fn new(world: World, requests: Receiver<SimRequest>) -> Self {
        SimDriver { world, requests }
    }
}

const TICK: Duration = Duration::from_millis(20);

impl Driver for SimDriver {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn start(self: Box<Self>, ctx: DriverContext) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("pickupd-sim-io".into())
            .spawn(move || self.run(ctx))
    }
}

impl SimDriver {
    fn run(mut self, mut ctx: DriverContext) {
        let mut dial_waiters: Vec<(LineId, SimReply)> = Vec::new();
        let mut next = Instant::now() + TICK;
        let mut overruns = 0u64;
        while !ctx.stop.load(Ordering::Relaxed) {
            // What the daemon asked of the hardware comes first: a client may
            // have seen its effect on the bus before asking the world to act.
            while let Ok((line, cmd)) = ctx.commands.try_recv() {
                self.world.command(line, &cmd);
            }
            // What people and the network do.
            let mut answered = Vec::new();
            loop {
                match self.requests.try_recv() {
                    Ok(req) => {
                        if let Some(reply) = self.serve(req, &mut dial_waiters) {
                            answered.push(reply);
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            let ports = &mut ctx.ports;
            let events = self.world.tick(|line, frame| {
                if let Some(p) = ports.iter_mut().find(|p| p.line == line) {
                    if p.rx.push(*frame).is_err() {
                        overruns += 1;
                    }
                }
            });
            for ev in events {
                ctx.engine.hw(ev);
            }
            // Answer only now: what the request caused is on its way to the
            // engine, ahead of anything the requester sends next.
            for (reply, result) in answered {
                let _ = reply.send(result);
            }
            for p in ctx.ports.iter_mut() {
                while let Ok(frame) = p.tx.pop() {
                    self.world.hear(p.line, &frame);
                }
            }
            ctx.media.unpark();
            // Dial returns once the digits have been played.
            let (done, waiting): (Vec<_>, Vec<_>) = dial_waiters
                .drain(..)
                .partition(|(line, _)| self.world.dialing_done(*line));
            dial_waiters = waiting;
            for (_, reply) in done {
                let _ = reply.send(Ok(SimOk::Done));
            }
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else if now - next > Duration::from_millis(200) {
                tracing::debug!(
                    "simulated hardware fell {:?} behind; resynchronising",
                    now - next
                );
                next = now;
            }
            next += TICK;
            if overruns > 0 {
                tracing::warn!("media worker fell behind: {overruns} receive frames dropped");
                overruns = 0;
            }
        }
    }

    fn serve(
        &mut self,
        req: SimRequest,
        dial_waiters: &mut Vec<(LineId, SimReply)>,
    ) -> Option<(SimReply, SimResult)> {
        let w = &mut self.world;
        let result = match req.op {
            SimOp::IncomingCall {
                number,
                caller_number,
                caller_name,
            } => w
                .incoming_call(&number, &caller_number, &caller_name)
                .map(SimOk::Tag),
            SimOp::OffHook(n) => w.set_phone_hook(&n, true).map(|_| SimOk::Done),
            SimOp::OnHook(n) => w.set_phone_hook(&n, false).map(|_| SimOk::Done),
            SimOp::Flash(n) => w.flash(&n).map(|_| SimOk::Done),
            SimOp::Dial(n, digits) => match w.dial(&n, &digits) {
                Ok(line) => {
                    dial_waiters.push((line, req.reply));
                    return None;
                }
                Err(e) => Err(e),
            },
            SimOp::CallWaiting {
                trunk_number,
                caller_number,
                caller_name,
            } => w
                .call_waiting(&trunk_number, &caller_number, &caller_name)
                .map(|_| SimOk::Done),
            SimOp::TrunkFarEndHangup(line) => w.trunk_far_end_hangup(line).map(|_| SimOk::Done),
            SimOp::PhoneOnHook(line) => w.phone_on_hook_line(line).map(|_| SimOk::Done),
            SimOp::NetworkHangup(tag) => {
                w.network_hangup(tag);
                Ok(SimOk::Done)
            }
            SimOp::Unplug(name) => w.set_plugged(&name, false).map(|_| SimOk::Done),
            SimOp::Plug(name) => w.set_plugged(&name, true).map(|_| SimOk::Done),
        };
        Some((req.reply, result))
    }
}
