//! Drivers: one I/O thread per driver moves 8 kHz PCM frames between the
//! hardware and lock-free rings, and signalling between the hardware and
//! the engine. Everything above this trait runs the same code for simulated
//! and real ports.

mod dahdi;
mod modem;
mod sim;

pub use dahdi::{parse_device, DahdiDriver, DahdiError, DahdiLine, PortKind};
pub use modem::{ModemDriver, ModemError, ModemLine, ModemTimings};
pub use sim::SimDriver;

use crate::engine::{LineCommand, LineId};
use crate::runtime::EngineHandle;
use pickupd_dsp::Frame;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};

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
