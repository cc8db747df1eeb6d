//! `pickupd`: the daemon's command line (see `spec/cli.md`).

use clap::Parser;
use pickupd::authority::Authorization;
use pickupd::config::{self, SiteSource};
use pickupd::daemon::{self, exit, BusChoice};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "pickupd",
    version,
    about = "Telephony daemon: TAPI-style call pickup on analog lines, over D-Bus"
)]
struct Args {
    /// Configuration file
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run the built-in simulated site, or with --config a simulated site from the file
    #[arg(long)]
    sim: bool,
    /// Serve on the system bus (default)
    #[arg(long, conflicts_with_all = ["session", "address"])]
    system: bool,
    /// Serve on the session bus
    #[arg(long, conflicts_with = "address")]
    session: bool,
    /// Serve on the bus at this D-Bus address
    #[arg(long, value_name = "ADDR")]
    address: Option<String>,
    /// Who may call the mutating methods: polkit (default on the system bus)
    /// or none (everyone; default on the session bus and with --address)
    #[arg(long, value_name = "MODE", value_parser = ["polkit", "none"])]
    authorize: Option<String>,
    /// Validate the configuration and exit (0 valid, 78 invalid)
    #[arg(long)]
    check_config: bool,
    /// error, warn, info, debug or trace
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: String,
}

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
