//! Paces a [`World`] in real time behind some hardware: every 20 ms the
//! daemon's controls reach the world, people's requests are served, the
//! world ticks (one receive frame per plugged line, and its signalling),
//! and what the daemon transmitted is heard.

use crate::{Applied, Control, LineKey, SimError, SimOk, SimOp, World, WorldEvent};
use pickupd_dsp::Frame;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One world tick.
pub const TICK: Duration = Duration::from_millis(20);

/// Delivers the answer to a [`Request`]; called exactly once.
pub type Reply = Box<dyn FnOnce(Result<SimOk, SimError>) + Send>;

/// An operation for the world, with where its answer goes.
pub struct Request {
    pub op: SimOp,
    pub reply: Reply,
}

/// The world's side of some hardware: the in-process driver's rings, or an
/// emulated device.
pub trait Hardware {
    /// Controls the daemon applied since the last tick, in order.
    fn controls(&mut self, out: &mut Vec<(LineKey, Control)>);
    /// A line's receive frame for this tick (what the daemon will hear).
    fn frame(&mut self, line: LineKey, frame: &Frame);
    /// Signalling the world produced this tick.
    fn event(&mut self, event: WorldEvent);
    /// Frames the daemon transmitted on any line since the last tick.
    fn transmitted(&mut self, out: &mut Vec<(LineKey, Frame)>);
    /// The end of a tick's frames (a consumer may be woken here).
    fn tick_done(&mut self) {}
}

/// Runs until `stop` is set. Requests are answered once what they caused
/// has been handed to the hardware, so a requester's next step comes after
/// it; a dial is answered once its digits have been played.
pub fn run(
    mut world: World,
    hw: &mut impl Hardware,
    requests: Receiver<Request>,
    stop: Arc<AtomicBool>,
) {
    let mut dial_waiters: Vec<(LineKey, Reply)> = Vec::new();
    let mut controls = Vec::new();
    let mut heard = Vec::new();
    let mut next = Instant::now() + TICK;
    while !stop.load(Ordering::Relaxed) {
        // What the daemon asked of the hardware comes first: a client may
        // have seen its effect on the bus before asking the world to act.
        hw.controls(&mut controls);
        for (line, control) in controls.drain(..) {
            world.command(line, &control);
        }
        let mut answered = Vec::new();
        while let Ok(req) = requests.try_recv() {
            match world.apply(req.op) {
                Applied::Now(result) => answered.push((req.reply, result)),
                Applied::Dialing(line) => dial_waiters.push((line, req.reply)),
            }
        }
        let events = world.tick(|line, frame| hw.frame(line, frame));
        for ev in events {
            hw.event(ev);
        }
        for (reply, result) in answered {
            reply(result);
        }
        hw.transmitted(&mut heard);
        for (line, frame) in heard.drain(..) {
            world.hear(line, &frame);
        }
        hw.tick_done();
        let (done, waiting): (Vec<_>, Vec<_>) = dial_waiters
            .drain(..)
            .partition(|(line, _)| world.dialing_done(*line));
        dial_waiters = waiting;
        for (_, reply) in done {
            reply(Ok(SimOk::Done));
        }
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_millis(200) {
            tracing::debug!(
                "simulated world fell {:?} behind; resynchronising",
                now - next
            );
            next = now;
        }
        next += TICK;
    }
}
