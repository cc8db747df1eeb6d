//! The engine task: the single place where the engine runs. Everything
//! reaches it as a message on one queue, so inputs are handled strictly one
//! at a time in arrival order; its outputs are routed to the bus adapter,
//! the drivers and the media worker.

use crate::engine::{
    BusEvent, CallId, Command, Engine, HwEvent, LineCommand, LineId, MediaSource, Output, Reply,
};
use pickupd_api::PickupError;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// CLOCK_REALTIME in microseconds.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A read-only look at the engine, answered in order with everything else.
pub type Query = Box<dyn FnOnce(&Engine) + Send>;

pub enum Input {
    Command {
        cmd: Command,
        reply: oneshot::Sender<CommandOutcome>,
    },
    Hw(HwEvent),
    Query(Query),
    /// Resolves with the call the network delivered under this tag, once
    /// the engine has made it (or `None` if it did not within the wait).
    AwaitTag {
        tag: u64,
        reply: oneshot::Sender<Option<CallId>>,
    },
    /// Resolves once the bus shows everything handled before it.
    Flush(oneshot::Sender<()>),
    /// Stop after the bus has shown the last batch.
    Stop(oneshot::Sender<()>),
}

/// The answer to a command. For a new call, the adapter registers it and
/// waits for the method reply to be sent before announcing it.
pub struct CommandOutcome {
    pub result: Result<Reply, PickupError>,
    pub gate: Option<ReplyGate>,
    /// fires once the bus shows the command's effects (ungated commands),
    /// so a read right after the reply sees them
    pub applied: Option<oneshot::Receiver<()>>,
}

impl CommandOutcome {
    /// Wait until the bus shows this command's effects (no-op for a gated
    /// command, whose new object is registered before the reply).
    pub async fn settled(mut self) -> Result<Reply, PickupError> {
        if let Some(applied) = self.applied.take() {
            let _ = applied.await;
        }
        self.result
    }
}

/// Hand-shake between a method handler and the bus adapter so that the new
/// call object exists when the reply arrives and no signal of it precedes
/// the reply.
pub struct ReplyGate {
    /// the new call as it first appears; the handler registers it quietly
    pub view: crate::engine::CallView,
    /// the handler sends the reply-dispatch listener here
    pub dispatched: oneshot::Sender<event_listener::EventListener>,
}

/// A batch of bus events from one input, applied in order.
pub struct BusBatch {
    pub events: Vec<BusEvent>,
    pub gate: Option<AdapterGate>,
    pub done: Option<oneshot::Sender<()>>,
}

pub struct AdapterGate {
    pub call: CallId,
    /// taken once the reply has been sent
    pub dispatched: Option<oneshot::Receiver<event_listener::EventListener>>,
}

/// Where the engine's outputs go.
pub struct Sinks {
    pub bus: mpsc::UnboundedSender<BusBatch>,
    pub line_commands: HashMap<LineId, std::sync::mpsc::Sender<(LineId, LineCommand)>>,
    pub media: std::sync::mpsc::Sender<(LineId, MediaSource)>,
}

#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::UnboundedSender<Input>,
}

impl EngineHandle {
    pub fn new(tx: mpsc::UnboundedSender<Input>) -> Self {
        EngineHandle { tx }
    }

    pub fn hw(&self, ev: HwEvent) {
        let _ = self.tx.send(Input::Hw(ev));
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<Input> {
        self.tx.clone()
    }

    pub async fn command(&self, cmd: Command) -> CommandOutcome {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Input::Command { cmd, reply }).is_err() {
            return stopping();
        }
        rx.await.unwrap_or_else(|_| stopping())
    }

    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let q: Query = Box::new(move |e| {
            let _ = tx.send(f(e));
        });
        self.tx.send(Input::Query(q)).ok()?;
        rx.await.ok()
    }

    pub async fn await_tag(&self, tag: u64) -> Option<CallId> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Input::AwaitTag { tag, reply }).ok()?;
        rx.await.ok().flatten()
    }

    /// Wait until the bus shows everything the engine handled so far.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn stopping() -> CommandOutcome {
    CommandOutcome {
        result: Err(PickupError::ResourceUnavailable(
            "pickupd is shutting down".into(),
        )),
        gate: None,
        applied: None,
    }
}

/// Run the engine until every sender is gone or `Stop` arrives.
pub async fn run(mut engine: Engine, mut rx: mpsc::UnboundedReceiver<Input>, sinks: Sinks) {
    let mut tag_waiters: Vec<(u64, oneshot::Sender<Option<CallId>>, std::time::Instant)> =
        Vec::new();
    while let Some(input) = rx.recv().await {
        match input {
            Input::Command { cmd, reply } => {
                let gated = matches!(cmd, Command::Pickup { .. } | Command::Dial { .. });
                let (result, outputs) = engine.command(now_us(), cmd);
                let (mut batch, gate) = route_outputs(outputs, &sinks);
                let gate = match (&result, gated) {
                    (Ok(Reply::Call(call)), true) => {
                        let view = batch.events.iter().find_map(|ev| match ev {
                            BusEvent::CallAdded(v) if v.id == *call => Some(v.clone()),
                            _ => None,
                        });
                        view.map(|view| {
                            let (disp_tx, disp_rx) = oneshot::channel();
                            batch.gate = Some(AdapterGate {
                                call: *call,
                                dispatched: Some(disp_rx),
                            });
                            ReplyGate {
                                view,
                                dispatched: disp_tx,
                            }
                        })
                    }
                    _ => gate,
                };
                let applied = if gate.is_none() {
                    let (tx, rx) = oneshot::channel();
                    batch.done = Some(tx);
                    Some(rx)
                } else {
                    None
                };
                let _ = sinks.bus.send(batch);
                let _ = reply.send(CommandOutcome {
                    result,
                    gate,
                    applied,
                });
            }
            Input::Hw(ev) => {
                let outputs = engine.hardware(now_us(), ev);
                let (batch, _) = route_outputs(outputs, &sinks);
                let _ = sinks.bus.send(batch);
            }
            Input::Query(q) => q(&engine),
            Input::Flush(done) => {
                let _ = sinks.bus.send(BusBatch {
                    events: Vec::new(),
                    gate: None,
                    done: Some(done),
                });
            }
            Input::AwaitTag { tag, reply } => {
                tag_waiters.push((tag, reply, std::time::Instant::now()));
            }
            Input::Stop(done) => {
                let _ = sinks.bus.send(BusBatch {
                    events: Vec::new(),
                    gate: None,
                    done: Some(done),
                });
                break;
            }
        }
        // Serve tag waiters whose call exists now; give up on old ones.
        if !tag_waiters.is_empty() {
            let calls = engine.call_ids();
            let mut still = Vec::new();
            for (tag, reply, since) in tag_waiters.drain(..) {
                if let Some(id) = calls
                    .iter()
                    .copied()
                    .find(|c| engine.call_tag(*c) == Some(tag))
                {
                    let _ = reply.send(Some(id));
                } else if since.elapsed() > std::time::Duration::from_secs(5) {
                    let _ = reply.send(None);
                } else {
                    still.push((tag, reply, since));
                }
            }
            tag_waiters = still;
        }
    }
}

pub fn route_outputs(outputs: Vec<Output>, sinks: &Sinks) -> (BusBatch, Option<ReplyGate>) {
    let mut events = Vec::new();
    for o in outputs {
        match o {
            Output::Bus(ev) => events.push(ev),
            Output::Line(line, cmd) => {
                if let Some(tx) = sinks.line_commands.get(&line) {
                    let _ = tx.send((line, cmd));
                }
            }
            Output::Media(line, src) => {
                let _ = sinks.media.send((line, src));
            }
        }
    }
    (
        BusBatch {
            events,
            gate: None,
            done: None,
        },
        None,
    )
}
