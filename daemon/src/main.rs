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

    let source = match (&args.config, args.sim) {
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
