//! The simulated outside world: a central office behind each trunk, a phone
//! at each station, and a network that can call stations directly.
//!
//! The world knows nothing of the engine. It speaks to the daemon only as
//! hardware would: PCM frames it sends and hears, and signalling (rings,
//! hook changes, flashes). A simulated dialled digit is DTMF audio and a
//! call-waiting signal is the zone's tone, which the daemon's detectors
//! must find. The world itself is the `pickupd-sim` crate;
//! [`crate::driver::SimDriver`] carries it to the daemon in process, and the
//! same world sits behind emulated devices.

pub use pickupd_sim::host::Request as SimRequest;
pub use pickupd_sim::{LineKey, LineSpec, SimError, SimOk, SimOp, World};

use crate::config::Site;
use crate::engine::LineId;
use pickupd_api::PickupError;
use std::time::Duration;
use tokio::sync::oneshot;

/// The world's key for an engine line.
pub fn key(line: LineId) -> LineKey {
    LineKey(line.0)
}

/// The engine line of a world key.
pub fn line(key: LineKey) -> LineId {
    LineId(key.0)
}

/// A world for the lines of `site`, under the engine's line ids.
pub fn world_for(site: &Site, ids: &[(LineId, String)]) -> World {
    let specs: Vec<LineSpec> = ids
        .iter()
        .filter_map(|(id, name)| {
            let cfg = site.lines.iter().find(|l| &l.name == name)?;
            Some(LineSpec {
                key: key(*id),
                name: cfg.name.clone(),
                number: cfg.number.clone(),
                station: cfg.kind.is_station_port(),
                call_waiting: cfg.call_waiting,
                cidcw: cfg.cidcw,
            })
        })
        .collect();
    World::new(&site.zone, &specs)
}

/// Hands simulator operations to the thread that owns the world.
#[derive(Clone)]
pub struct SimControl {
    tx: std::sync::mpsc::Sender<SimRequest>,
}

impl SimControl {
    pub fn new(tx: std::sync::mpsc::Sender<SimRequest>) -> Self {
        SimControl { tx }
    }

    pub async fn request(&self, op: SimOp) -> Result<SimOk, PickupError> {
        let (reply, rx) = oneshot::channel();
        let reply = Box::new(move |r| {
            let _ = reply.send(r);
        });
        self.tx.send(SimRequest { op, reply }).map_err(|_| {
            PickupError::ResourceUnavailable("the simulated world has stopped".into())
        })?;
        match tokio::time::timeout(Duration::from_secs(30), rx).await {
            Ok(Ok(r)) => r.map_err(api_error),
            Ok(Err(_)) => Err(PickupError::ResourceUnavailable(
                "the simulated world has stopped".into(),
            )),
            Err(_) => Err(PickupError::OperationFailed(
                "the simulated world did not answer in 30 s".into(),
            )),
        }
    }
}

/// The API error for a world's refusal.
fn api_error(e: SimError) -> PickupError {
    {
        match e {
            SimError::NoSuchNumber(m) | SimError::NoSuchLine(m) => PickupError::InvalidAddress(m),
            SimError::WrongState(m) => PickupError::InvalidCallState(m),
            SimError::NoService(m) => PickupError::OperationUnavailable(m),
            SimError::Unplugged(m) => PickupError::ResourceUnavailable(m),
            SimError::BadDigits(m) => PickupError::InvalidAddress(m),
        }
    }
}
