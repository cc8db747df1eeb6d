//! Start-up and shut-down: load the site, start the threads and tasks of
//! every layer, serve the bus, and end cleanly on SIGTERM or SIGINT.

use crate::authority::Authorization;
use crate::bus::{self, Mirror, ReloadFn, Shared};
use crate::config::{LineKind, Site, SiteSource};
use crate::driver::{
    DahdiDriver, DahdiLine, Driver, DriverContext, ModemDriver, ModemLine, Port, SimDriver,
    RING_FRAMES,
};
use crate::engine::{Command, Engine, LineId};
use crate::media::{MediaPort, MediaWorker};
use crate::runtime::{self, BusBatch, EngineHandle, Sinks};
use crate::sim::SimControl;
use pickupd_api as api;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;
use zbus::fdo::RequestNameFlags;

/// Which bus to serve on.
#[derive(Debug, Clone)]
pub enum BusChoice {
    System,
    Session,
    Address(String),
}

impl BusChoice {
    fn describe(&self) -> String {
        match self {
            BusChoice::System => "the system bus".into(),
            BusChoice::Session => "the session bus".into(),
            BusChoice::Address(a) => format!("the bus at {a}"),
        }
    }
}

/// Exit statuses (sysexits.h where one fits).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const UNAVAILABLE: u8 = 69;
    pub const CONFIG: u8 = 78;
}

/// Lines of a kind whose driver is not built yet are refused with a
/// message rather than half-served.
pub fn check_supported(site: &Site) -> Result<(), String> {
    match site.lines.iter().find(|l| l.kind == LineKind::KeySystem) {
        Some(l) => Err(format!(
            "line \"{}\" is of kind {}: this build of pickupd drives simulated, DAHDI \
             (fxo, fxs) and modem lines; the key-system driver is not built yet",
            l.name,
            l.kind.as_str()
        )),
        None => Ok(()),
    }
}

/// One driver and the lines it serves.
struct DriverPlan {
    driver: Box<dyn Driver>,
    lines: Vec<LineId>,
}

/// Hardware behind the lines: the drivers, the Simulator's way into the
/// simulated world (if any), and the emulated devices (if any).
struct Hardware {
    drivers: Vec<DriverPlan>,
    sim: Option<SimControl>,
    #[cfg(feature = "emulated-hardware")]
    emulation: Option<crate::emulated::Emulation>,
}

/// Chooses and opens the drivers for the lines of `site`.
fn plan_hardware(
    site: &Site,
    source: &SiteSource,
    line_ids: &[(LineId, String, bool)],
    engine: &EngineHandle,
) -> Result<Hardware, (u8, String)> {
    let ids: Vec<(LineId, String)> = line_ids.iter().map(|(id, n, _)| (*id, n.clone())).collect();
    let kind_of = |name: &str| site.lines.iter().find(|l| l.name == name);
    let mut hw = Hardware {
        drivers: Vec::new(),
        sim: None,
        #[cfg(feature = "emulated-hardware")]
        emulation: None,
    };
    let sim_lines: Vec<(LineId, String)> = ids
        .iter()
        .filter(|(_, n)| kind_of(n).is_some_and(|l| l.kind.is_simulated()))
        .cloned()
        .collect();
    if !sim_lines.is_empty() {
        let (sim_tx, sim_rx) = std::sync::mpsc::channel();
        hw.sim = Some(SimControl::new(sim_tx));
        let world = crate::sim::world_for(site, &sim_lines);
        hw.drivers.push(DriverPlan {
            driver: Box::new(SimDriver::new(world, sim_rx)),
            lines: sim_lines.iter().map(|(id, _)| *id).collect(),
        });
    }
    if let SiteSource::BuiltinEmulated { root } = source {
        #[cfg(feature = "emulated-hardware")]
        {
            let (emulation, control) =
                crate::emulated::Emulation::start(site, &ids, root, engine.clone())
                    .map_err(|e| (exit::UNAVAILABLE, e))?;
            hw.emulation = Some(emulation);
            hw.sim = Some(control);
        }
        #[cfg(not(feature = "emulated-hardware"))]
        {
            let _ = (root, engine);
            return Err((
                exit::UNAVAILABLE,
                "this build of pickupd has no emulated hardware (built without the \
                 emulated-hardware feature); run `pickupd --sim`"
                    .into(),
            ));
        }
    }
    let mut dahdi = Vec::new();
    for (id, name) in &ids {
        let Some(cfg) = kind_of(name) else { continue };
        if matches!(cfg.kind, LineKind::Fxo | LineKind::Fxs) {
            dahdi.push(
                DahdiLine::new(*id, name, cfg.kind, &cfg.device).map_err(|e| (exit::CONFIG, e))?,
            );
        }
    }
    if !dahdi.is_empty() {
        let lines = dahdi.iter().map(|l| l.line).collect();
        let driver = DahdiDriver::new(dahdi).map_err(|e| (exit::CONFIG, e.to_string()))?;
        hw.drivers.push(DriverPlan {
            driver: Box::new(driver),
            lines,
        });
    }
    // Modems are opened and identified on the driver's thread: one that is
    // missing or silent puts its line out of service and is retried.
    let mut modems = Vec::new();
    for (id, name) in &ids {
        let Some(cfg) = kind_of(name) else { continue };
        if cfg.kind == LineKind::Modem {
            modems.push(ModemLine::new(*id, name, &cfg.device).map_err(|e| (exit::CONFIG, e))?);
        }
    }
    if !modems.is_empty() {
        let lines = modems.iter().map(|l| l.line).collect();
        let driver = ModemDriver::new(modems).map_err(|e| (exit::CONFIG, e.to_string()))?;
        hw.drivers.push(DriverPlan {
            driver: Box::new(driver),
            lines,
        });
    }
    Ok(hw)
}

pub async fn run(
    source: SiteSource,
    bus_choice: BusChoice,
    authorization: Authorization,
    log: std::sync::Arc<crate::logging::LogControl>,
) -> u8 {
    let site = match source.load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pickupd: {e}");
            return exit::CONFIG;
        }
    };
    if let Err(e) = check_supported(&site) {
        eprintln!("pickupd: {e}");
        return exit::UNAVAILABLE;
    }
    let Some(zone) = pickupd_dsp::zones::zone(&site.zone) else {
        eprintln!("pickupd: zone {} has no tone data", site.zone);
        return exit::CONFIG;
    };

    let (engine, initial) = Engine::new(&site, runtime::now_us());
    let line_ids: Vec<(LineId, String, bool)> = engine
        .line_ids()
        .into_iter()
        .filter_map(|id| {
            engine
                .line_view(id)
                .map(|v| (id, v.name, v.kind.is_station_port()))
        })
        .collect();

    // Audio rings, one pair per line: driver → media (rx), media → driver (tx).
    let mut driver_ports = Vec::new();
    let mut media_ports = Vec::new();
    for (id, name, station) in &line_ids {
        let cidcw = site.lines.iter().any(|l| &l.name == name && l.cidcw);
        let (rx_prod, rx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
        let (tx_prod, tx_cons) = rtrb::RingBuffer::new(RING_FRAMES);
        driver_ports.push(Port {
            line: *id,
            rx: rx_prod,
            tx: tx_cons,
        });
        media_ports.push(MediaPort::new(*id, *station, cidcw, rx_cons, tx_prod));
    }

    let (engine_tx, engine_rx) = mpsc::unbounded_channel();
    let handle = EngineHandle::new(engine_tx);
    let (bus_tx, bus_rx) = mpsc::unbounded_channel::<BusBatch>();
    let (media_tx, media_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));

    let hardware = match plan_hardware(&site, &source, &line_ids, &handle) {
        Ok(h) => h,
        Err((code, e)) => {
            eprintln!("pickupd: {e}");
            return code;
        }
    };

    let media =
        match MediaWorker::new(media_ports, zone, handle.clone(), media_rx, stop.clone()).spawn() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("pickupd: cannot start the media thread: {e}");
                return exit::FAILURE;
            }
        };
    let mut line_commands = HashMap::new();
    let mut io_threads = Vec::new();
    for plan in hardware.drivers {
        let (cmd_tx, cmd_rx) = std::sync::mpsc::channel();
        let mut ports = Vec::new();
        for line in &plan.lines {
            line_commands.insert(*line, cmd_tx.clone());
            if let Some(i) = driver_ports.iter().position(|p: &Port| p.line == *line) {
                ports.push(driver_ports.swap_remove(i));
            }
        }
        let name = plan.driver.name();
        match plan.driver.start(DriverContext {
            ports,
            engine: handle.clone(),
            media: media.thread().clone(),
            commands: cmd_rx,
            stop: stop.clone(),
        }) {
            Ok(t) => io_threads.push(t),
            Err(e) => {
                eprintln!("pickupd: cannot start the {name} driver: {e}");
                stop.store(true, Ordering::Relaxed);
                return exit::FAILURE;
            }
        }
    }

    let sinks = Sinks {
        bus: bus_tx,
        line_commands,
        media: media_tx,
    };
    let code = serve(
        &site,
        source,
        bus_choice,
        authorization,
        engine,
        initial,
        engine_rx,
        bus_rx,
        sinks,
        handle,
        hardware.sim,
        log,
    )
    .await;

    stop.store(true, Ordering::Relaxed);
    media.thread().unpark();
    for io in io_threads {
        let _ = io.join();
    }
    let _ = media.join();
    #[cfg(feature = "emulated-hardware")]
    if let Some(emulation) = hardware.emulation {
        emulation.stop();
    }
    code
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    site: &Site,
    source: SiteSource,
    bus_choice: BusChoice,
    authorization: Authorization,
    engine: Engine,
    initial: Vec<crate::engine::Output>,
    engine_rx: mpsc::UnboundedReceiver<runtime::Input>,
    bus_rx: mpsc::UnboundedReceiver<BusBatch>,
    sinks: Sinks,
    handle: EngineHandle,
    sim: Option<SimControl>,
    log: std::sync::Arc<crate::logging::LogControl>,
) -> u8 {
    let builder = match &bus_choice {
        BusChoice::System => zbus::connection::Builder::system(),
        BusChoice::Session => zbus::connection::Builder::session(),
        BusChoice::Address(a) => zbus::connection::Builder::address(a.as_str()),
    };
    let conn = match builder {
        Ok(b) => b.build().await,
        Err(e) => Err(e),
    };
    let conn = match conn {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "pickupd: cannot connect to {}: {e}; start a bus or choose another with --session or --address",
                bus_choice.describe()
            );
            return exit::UNAVAILABLE;
        }
    };
    let simulated = source.simulated();
    let reload_source = source.clone();
    let reload: ReloadFn = Arc::new(move || reload_source.load().map_err(|e| e.to_string()));
    let shared = Arc::new(Shared {
        mirror: RwLock::new(Mirror::new(&site.zone)),
        engine: handle.clone(),
        sim: if simulated { sim } else { None },
        reload,
        simulated,
        authorization,
    });
    if let Err(e) = bus::serve_root(&conn, &shared).await {
        eprintln!("pickupd: cannot serve the root object: {e}");
        return exit::FAILURE;
    }
    let log_control = crate::logging::LogControlIface(log);
    if let Err(e) = conn
        .object_server()
        .at(crate::logging::LOG_CONTROL_PATH, log_control)
        .await
    {
        eprintln!(
            "pickupd: cannot serve {}: {e}",
            crate::logging::LOG_CONTROL_PATH
        );
        return exit::FAILURE;
    }
    let adapter = tokio::spawn(bus::run_adapter(conn.clone(), shared.clone(), bus_rx));
    // Show the site before taking the name, so a client that sees the name
    // sees every line and address.
    let (batch, _) = runtime::route_outputs(initial, &sinks);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let _ = sinks.bus.send(BusBatch {
        done: Some(done_tx),
        ..batch
    });
    let _ = done_rx.await;
    let engine_task = tokio::spawn(runtime::run(engine, engine_rx, sinks));

    match conn
        .request_name_with_flags(api::BUS_NAME, RequestNameFlags::DoNotQueue.into())
        .await
    {
        Ok(zbus::fdo::RequestNameReply::PrimaryOwner)
        | Ok(zbus::fdo::RequestNameReply::AlreadyOwner) => {}
        Ok(_) => {
            eprintln!(
                "pickupd: {} is already owned on {}: is another pickupd running?",
                api::BUS_NAME,
                bus_choice.describe()
            );
            return exit::UNAVAILABLE;
        }
        Err(e) => {
            eprintln!(
                "pickupd: cannot own {} on {}: {e}",
                api::BUS_NAME,
                bus_choice.describe()
            );
            return exit::UNAVAILABLE;
        }
    }
    tracing::info!(
        "serving {} on {} with {} lines ({} site, authorization: {})",
        api::BUS_NAME,
        bus_choice.describe(),
        site.lines.len(),
        if simulated { "simulated" } else { "configured" },
        authorization.as_str()
    );

    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    wait_for_signal().await;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopping: ending calls");
    let _ = handle.command(Command::Shutdown).await;
    handle.stop().await;
    let _ = engine_task.await;
    drop(handle);
    let _ = conn.release_name(api::BUS_NAME).await;
    adapter.abort();
    exit::OK
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the daemon could not stop cleanly; wait forever
        // rather than exit at once.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
