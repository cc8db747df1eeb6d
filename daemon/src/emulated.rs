//! `pickupd --sim --emulated-hardware`: the built-in site's simulated world
//! behind emulated devices, which the daemon drives through its real
//! drivers and their real system calls. `pickupd-emu`'s site plays them in
//! a private directory (layout in [`crate::config::builtin_emulated_site`]):
//! `fxo` and `fxs` lines are DAHDI channels of a device tree mounted with
//! FUSE on `<root>/dev`, `modem` lines are V.253 voice modems (Conexant) on
//! ptys, each reached through the symlink its line names as its device.
//!
//! What has no wire form reaches the engine beside the hardware: the
//! simulated network's calls straight to a desk (a DID the real world would
//! bring over a trunk) and the network's tag of the call ringing on a
//! trunk, so that `Simulator.IncomingCall` can still name the call it made.
//! Everything else — rings, hook changes, flashes, caller id (FSK between
//! the rings on a DAHDI trunk, `NMBR`/`NAME` from a modem), tones and
//! digits — travels as DAHDI events, modem results and `<DLE>` codes, and
//! audio.

use crate::config::{LineKind, Site};
use crate::driver::parse_device;
use crate::engine::{HwEvent, LineId};
use crate::runtime::EngineHandle;
use crate::sim::{key, line, world_for, SimControl};
use pickupd_emu::site::{DahdiPort, EmulatedSite, ModemPort, SideSignal, SitePort, DAHDI_DIR};
use pickupd_hw::v253::ModemProfile;
use std::path::{Path, PathBuf};

/// The running emulation; dropping it stops the world and the modems and
/// unmounts the tree.
pub struct Emulation {
    site: EmulatedSite,
}

impl Emulation {
    /// Starts the emulated ports of `site`'s lines under `root` (a DAHDI
    /// tree on `<root>/dev` for its `fxo`/`fxs` lines, a modem linked at
    /// the device of each `modem` line) and the world behind them.
    pub fn start(
        site: &Site,
        ids: &[(LineId, String)],
        root: &Path,
        engine: EngineHandle,
    ) -> Result<(Emulation, SimControl), String> {
        let ports = ports(site, ids, root)?;
        let world = world_for(site, ids);
        let side = Box::new(move |signal| engine.hw(hw_event(signal)));
        let emulated = EmulatedSite::start(root, world, ports, side).map_err(|e| {
            format!(
                "cannot start the emulated hardware under {}: {e} \
                 (the DAHDI tree needs /dev/fuse and root, or the fusermount3 helper)",
                root.display()
            )
        })?;
        let control = SimControl::new(emulated.requests());
        Ok((Emulation { site: emulated }, control))
    }

    /// Stops the world and the modems and unmounts the tree.
    pub fn stop(self) {
        if let Err(e) = self.site.stop() {
            tracing::warn!("emulated hardware did not stop cleanly: {e}");
        }
    }
}

/// The emulated port of each line: `fxo`/`fxs` lines are channels of the
/// tree the site mounts on `<root>/dev` (their devices must name it), a
/// `modem` line is a Conexant modem linked at its device.
fn ports(site: &Site, ids: &[(LineId, String)], root: &Path) -> Result<Vec<SitePort>, String> {
    let tree = root.join(DAHDI_DIR);
    let mut ports = Vec::new();
    for (id, name) in ids {
        let Some(cfg) = site.lines.iter().find(|l| &l.name == name) else {
            continue;
        };
        let port = match cfg.kind {
            LineKind::Fxs | LineKind::Fxo => {
                let (dir, channo) = parse_device(&cfg.device)?;
                if dir != tree {
                    return Err(format!(
                        "line \"{name}\": device \"{}\" is not in the emulated DAHDI tree \
                         ({}/dahdi/channel:<N>)",
                        cfg.device,
                        tree.display()
                    ));
                }
                SitePort::Dahdi(DahdiPort {
                    key: key(*id),
                    channo,
                    station: cfg.kind == LineKind::Fxs,
                })
            }
            LineKind::Modem => SitePort::Modem(ModemPort {
                key: key(*id),
                profile: ModemProfile::conexant(),
                link: PathBuf::from(&cfg.device),
            }),
            other => {
                return Err(format!(
                    "line \"{name}\" is of kind {}; the emulated hardware has DAHDI ports \
                     (fxo, fxs) and voice modems (modem) only",
                    other.as_str()
                ))
            }
        };
        ports.push(port);
    }
    Ok(ports)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin_emulated_site;

    #[test]
    fn the_builtin_site_is_dahdi_channels_and_one_modem() {
        let root = Path::new("/run/emu");
        let site = builtin_emulated_site(root);
        let ids: Vec<(LineId, String)> = (1..)
            .zip(&site.lines)
            .map(|(i, l)| (LineId(i), l.name.clone()))
            .collect();
        let ports = ports(&site, &ids, root).expect("the built-in site has emulated ports");
        assert_eq!(ports.len(), 7);
        let port_of = |name: &str| {
            let (id, _) = ids.iter().find(|(_, n)| n == name).expect("a line");
            ports
                .iter()
                .find(|p| p.key() == key(*id))
                .expect("a port")
                .clone()
        };
        assert!(matches!(
            port_of("trunk1"),
            SitePort::Dahdi(DahdiPort {
                channo: 1,
                station: false,
                ..
            })
        ));
        match port_of("trunk2") {
            SitePort::Modem(m) => {
                assert_eq!(m.link, Path::new("/run/emu/tty/trunk2"));
                assert_eq!(m.profile, ModemProfile::conexant());
            }
            other => panic!("trunk2 is a modem: {other:?}"),
        }
        assert!(matches!(
            port_of("desk-205"),
            SitePort::Dahdi(DahdiPort {
                channo: 7,
                station: true,
                ..
            })
        ));

        // A DAHDI device outside the tree the site mounts is refused.
        let mut moved = site.clone();
        moved.lines[0].device = "/dev/dahdi/channel:1".into();
        let e = super::ports(&moved, &ids, root).unwrap_err();
        assert!(e.contains("not in the emulated DAHDI tree"), "{e}");
    }
}
