//! `pickupd`: the daemon's command line (see `spec/cli.md`).

use clap::Parser;
use pickupd::args::Args;
use pickupd::authority::Authorization;
use pickupd::config::{self, SiteSource};
use pickupd::daemon::{self, exit, BusChoice};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let log = pickupd::logging::init(&args.log_level);

    // Holds the emulated hardware's private directory until exit.
    let mut _emulation_dir = None;
    let source = match (&args.config, args.sim) {
        (None, true) if args.emulated_hardware.as_deref() == Some("keysystem") => {
            eprintln!(
                "pickupd: the emulated key system is not built yet; \
                 use --emulated-hardware (DAHDI) or plain --sim"
            );
            return ExitCode::from(exit::UNAVAILABLE);
        }
        (None, true) if args.emulated_hardware.is_some() => {
            match tempfile::Builder::new()
                .prefix("pickupd-emulated-")
                .tempdir()
            {
                Ok(dir) => {
                    let root = dir.path().to_path_buf();
                    _emulation_dir = Some(dir);
                    SiteSource::BuiltinEmulated { root }
                }
                Err(e) => {
                    eprintln!(
                        "pickupd: cannot make a private directory for the emulated hardware: {e}"
                    );
                    return ExitCode::from(exit::FAILURE);
                }
            }
        }
        (None, true) => SiteSource::BuiltinSim,
        (Some(path), simulated) => SiteSource::File {
            path: path.clone(),
            simulated,
        },
        (None, false) => SiteSource::File {
            path: config::DEFAULT_CONFIG_PATH.into(),
            simulated: false,
        },
    };
    if args.check_config {
        return match source.load() {
            Ok(site) => {
                println!(
                    "configuration is valid: {} lines, zone {}",
                    site.lines.len(),
                    site.zone
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pickupd: {e}");
                ExitCode::from(exit::CONFIG)
            }
        };
    }
    let bus = match (&args.address, args.session) {
        (Some(a), _) => BusChoice::Address(a.clone()),
        (None, true) => BusChoice::Session,
        (None, false) => BusChoice::System,
    };
    let authorization = match args.authorize.as_deref() {
        Some("polkit") => Authorization::Polkit,
        Some(_) => Authorization::None,
        None => Authorization::default_for(&bus),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pickupd: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    ExitCode::from(runtime.block_on(daemon::run(source, bus, authorization, log)))
}
