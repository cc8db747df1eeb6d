//! The daemon's command line (`spec/cli.md`), as clap definitions.
//!
//! They live in the library, not in `main.rs`, so that the man page
//! `pickupd(8)` and the shell completions can be generated from the same
//! [`clap::Command`] the daemon parses ([`command`]); see the `docgen` crate.

use std::path::PathBuf;

use clap::{CommandFactory, Parser};

use crate::daemon::exit;

/// clap's exit status for a usage error (unknown option, bad value).
pub const EXIT_USAGE: u8 = 2;

/// Every exit status of `pickupd` and what it means, in ascending order:
/// the source of the "Exit status" paragraph of `--help` and of the EXIT
/// STATUS section of `pickupd(8)`.
pub const EXIT_STATUS: &[(u8, &str)] = &[
    (
        exit::OK,
        "stopped cleanly on SIGTERM or SIGINT; with --check-config: the configuration is valid",
    ),
    (
        exit::FAILURE,
        "internal failure: the async runtime, a thread, the driver or the bus objects could not be started",
    ),
    (EXIT_USAGE, "usage error: unknown option or bad value"),
    (
        exit::UNAVAILABLE,
        "unavailable: the bus cannot be reached, org.pickupd.Pickup1 is already owned (another pickupd runs), \
         or the site has lines of a kind this build cannot drive",
    ),
    (
        exit::CONFIG,
        "the configuration is unreadable or invalid (the systemd unit does not restart on it)",
    ),
];

const LONG_ABOUT: &str = "\
pickupd drives analog telephone lines and serves TAPI-style call control on D-Bus as \
org.pickupd.Pickup1: lines, addresses (directory numbers) and calls, with call pickup \
(directed, group, across groups, of a held call on a shared line, of a waiting call), \
hold and swap. pickupctl(1) is its command line.

It reads its site (the lines, their numbers, pickup groups and call-waiting service) \
from a TOML file, by default /etc/pickupd/pickupd.toml, described in pickupd.toml(5). \
An invalid file stops it before it touches a device, with a message naming the file, \
line and column. --sim runs a simulated site instead: central offices, phones and the \
network are simulated inside the daemon, and the Simulator interface drives them. \
With --emulated-hardware the same simulated site sits behind emulated devices (a \
DAHDI device tree mounted with FUSE and a voice modem on a pty), which the daemon \
drives through its real DAHDI and modem drivers. This build drives simulated lines, DAHDI lines (fxo, fxs) and voice \
modems (modem): a site with key-system lines is refused (exit status 69).

On the system bus the methods that change anything are authorized with polkit \
(actions org.pickupd.pickup1.control and org.pickupd.pickup1.configure); on the \
session bus and with --address everyone may call them, unless --authorize says otherwise.

It logs to the journal when started by systemd and to stderr otherwise. On SIGTERM or \
SIGINT it stops cleanly: every call ends as DISCONNECTED with its signals, the lines go \
on hook and the bus name is released. The Reload method of org.pickupd.Pickup1.Manager \
(pickupctl reload, systemctl reload pickupd) re-reads the configuration.";

/// The "Exit status" paragraph of `--help`, from [`EXIT_STATUS`].
pub fn exit_status_help() -> String {
    let mut s = String::from("Exit status:");
    for (code, meaning) in EXIT_STATUS {
        s.push_str(&format!("\n  {code:>2}  {meaning}"));
    }
    s
}

/// `pickupd`'s options.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "pickupd",
    version,
    about = "Telephony daemon: TAPI-style call pickup on analog lines, over D-Bus",
    long_about = LONG_ABOUT,
    after_long_help = exit_status_help()
)]
pub struct Args {
    /// Configuration file [default: /etc/pickupd/pickupd.toml]
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// Run the built-in simulated site, or with --config a simulated site from the file
    #[arg(long)]
    pub sim: bool,
    /// With --sim: run the built-in site on emulated hardware, driven through the real drivers. `dahdi` (the default): trunk1 and the desks are DAHDI channels of a FUSE-mounted device tree in a private directory (needs /dev/fuse and root), trunk2 a V.253 voice modem on a pty; `keysystem`: desks and trunks on an emulated key system over CSTA (not built yet)
    #[arg(
        long,
        value_name = "KIND",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "dahdi",
        value_parser = ["dahdi", "keysystem"],
        requires = "sim",
        conflicts_with = "config"
    )]
    pub emulated_hardware: Option<String>,
    /// Serve on the system bus (default)
    #[arg(long, conflicts_with_all = ["session", "address"])]
    pub system: bool,
    /// Serve on the session bus
    #[arg(long, conflicts_with = "address")]
    pub session: bool,
    /// Serve on the bus at this D-Bus address (e.g. unix:path=/run/pickupd-test/bus)
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// Who may call the mutating methods: polkit (default on the system bus)
    /// or none (everyone; default on the session bus and with --address)
    #[arg(long, value_name = "MODE", value_parser = ["polkit", "none"])]
    pub authorize: Option<String>,
    /// Validate the configuration and exit (0 valid, 78 invalid)
    #[arg(long)]
    pub check_config: bool,
    /// Log level: error, warn, info, debug or trace
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: String,
}

/// The complete command definition, for man pages and completions.
pub fn command() -> clap::Command {
    Args::command()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_CONFIG_PATH;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("pickupd").chain(args.iter().copied()))
    }

    #[test]
    fn command_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).expect("no options");
        assert_eq!(a.config, None);
        assert!(!a.sim && !a.system && !a.session && !a.check_config);
        assert_eq!(a.emulated_hardware, None);
        assert_eq!(a.address, None);
        assert_eq!(a.authorize, None);
        assert_eq!(a.log_level, "info");
    }

    #[test]
    fn options_parse() {
        let a = parse(&[
            "--config",
            "/tmp/x.toml",
            "--sim",
            "--address",
            "unix:path=/tmp/bus",
            "--authorize",
            "none",
            "--check-config",
            "--log-level",
            "debug",
        ])
        .expect("all options");
        assert_eq!(a.config, Some(PathBuf::from("/tmp/x.toml")));
        assert!(a.sim && a.check_config);
        assert_eq!(a.address.as_deref(), Some("unix:path=/tmp/bus"));
        assert_eq!(a.authorize.as_deref(), Some("none"));
        assert_eq!(a.log_level, "debug");
    }

    #[test]
    fn emulated_hardware_takes_an_optional_kind_and_needs_sim() {
        let a = parse(&["--sim", "--emulated-hardware"]).expect("bare flag");
        assert_eq!(a.emulated_hardware.as_deref(), Some("dahdi"));
        let a = parse(&["--sim", "--emulated-hardware=keysystem"]).expect("with a kind");
        assert_eq!(a.emulated_hardware.as_deref(), Some("keysystem"));
        for bad in [
            &["--emulated-hardware"][..],
            &["--sim", "--emulated-hardware=modem"],
            &["--sim", "--emulated-hardware", "--config", "/x.toml"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn bad_usage_exits_with_the_documented_status() {
        let bad: &[&[&str]] = &[
            &["--frobnicate"],
            &["--system", "--session"],
            &["--session", "--address", "unix:path=/x"],
            &["--authorize", "everyone"],
            &["--log-level", "loud"],
            &["--config"],
            &["extra"],
        ];
        for args in bad {
            match parse(args) {
                Ok(a) => panic!("{args:?} parsed: {a:?}"),
                Err(e) => assert_eq!(i32::from(EXIT_USAGE), e.exit_code(), "{args:?}: {e}"),
            }
        }
        let e = parse(&["--help"]).expect_err("help");
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        assert_eq!(e.exit_code(), 0);
    }

    #[test]
    fn exit_status_table_matches_the_constants() {
        let codes: Vec<u8> = EXIT_STATUS.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            codes,
            [
                exit::OK,
                exit::FAILURE,
                EXIT_USAGE,
                exit::UNAVAILABLE,
                exit::CONFIG
            ]
        );
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
    }

    #[test]
    fn long_help_documents_exit_status_and_default_config() {
        // Compared with the line wrapping of the help undone.
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let help = words(&command().render_long_help().to_string());
        for (code, meaning) in EXIT_STATUS {
            assert!(
                help.contains(&words(&format!("{code} {meaning}"))),
                "{help}"
            );
        }
        assert!(help.contains(DEFAULT_CONFIG_PATH), "{help}");
        assert!(help.contains("pickupd.toml(5)"), "{help}");
    }
}
