//! `pickupd --sim --emulated-hardware`: the built-in site's simulated world
//! behind emulated devices, which the daemon drives through its real
//! drivers and their real system calls. The trunks and desks are DAHDI
//! channels of a device tree that `pickupd-emu` mounts with FUSE in a
//! private directory (see [`crate::config::builtin_emulated_site`]).
//!
//! What has no wire form on a DAHDI line reaches the engine beside the
//! hardware: the simulated network's calls straight to a desk (a DID the
//! real world would bring over a trunk) and the network's tag of the call
//! ringing on a trunk, so that `Simulator.IncomingCall` can still name the
//! call it made. Everything else — rings, hook changes, flashes, caller id
//! (FSK between the rings), tones and digits — travels as DAHDI events and
//! audio.

use crate::config::{LineKind, Site};
use crate::driver::parse_device;
use crate::engine::{HwEvent, LineId};
use crate::runtime::EngineHandle;
use crate::sim::{key, line, world_for, SimControl};
use pickupd_emu::site::{DahdiPort, EmulatedSite, SideSignal};
use std::path::Path;

/// The running emulation; dropping it stops the world and unmounts.
pub struct Emulation {
    site: EmulatedSite,
}

impl Emulation {
    /// Mounts the emulated tree under `root` for the DAHDI lines of `site`
    /// and starts the world behind it.
    pub fn start(
        site: &Site,
        ids: &[(LineId, String)],
        root: &Path,
        engine: EngineHandle,
    ) -> Result<(Emulation, SimControl), String> {
        let mut ports = Vec::new();
        for (id, name) in ids {
            let Some(cfg) = site.lines.iter().find(|l| &l.name == name) else {
                continue;
            };
            let station = match cfg.kind {
                LineKind::Fxs => true,
                LineKind::Fxo => false,
                other => {
                    return Err(format!(
                        "line \"{name}\" is of kind {}; the emulated hardware has DAHDI ports only",
                        other.as_str()
                    ))
                }
            };
            let (_, channo) = parse_device(&cfg.device)?;
            ports.push(DahdiPort {
                key: key(*id),
                channo,
                station,
            });
        }
        let world = world_for(site, ids);
        let side = Box::new(move |signal| engine.hw(hw_event(signal)));
        let emulated = EmulatedSite::start(root, world, ports, side).map_err(|e| {
            format!(
                "cannot mount the emulated DAHDI tree under {}: {e} \
                 (it needs /dev/fuse and root, or the fusermount3 helper)",
                root.display()
            )
        })?;
        let control = SimControl::new(emulated.requests());
        Ok((Emulation { site: emulated }, control))
    }

    /// Stops the world and unmounts the tree.
    pub fn stop(self) {
        if let Err(e) = self.site.stop() {
            tracing::warn!("emulated hardware did not stop cleanly: {e}");
        }
    }
}

fn hw_event(signal: SideSignal) -> HwEvent {
    match signal {
        SideSignal::NetworkCall {
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
        SideSignal::NetworkHangup { tag } => HwEvent::NetworkHangup { tag },
        SideSignal::Offered { line: l, tag } => HwEvent::Offered { line: line(l), tag },
    }
}
