//! The command line, as clap definitions.
//!
//! [`command`] returns the whole [`clap::Command`] so that man pages and
//! shell completions can be generated from it without running anything.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use pickupd_api::CALL_PATH_PREFIX;

/// Default for `--timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 25;
const DEFAULT_TIMEOUT: &str = "25";

/// pickupctl — control pickupd, the telephony daemon with TAPI-style call
/// pickup, over D-Bus.
#[derive(Debug, Parser)]
#[command(
    name = "pickupctl",
    version,
    about = "Control pickupd, the call pickup daemon, over D-Bus",
    long_about = "Control pickupd, the call pickup daemon, over D-Bus.\n\n\
        Every method and property of pickupd's D-Bus API (org.pickupd.Pickup1) is reachable \
        from a subcommand. Objects are named by number (201), line name (trunk1), call id (7) \
        or full object path. The tones commands work offline, without the daemon or a bus.",
    after_long_help = "Exit status: 0 success, 1 operation failed, 2 usage error, 3 timeout, \
        4 not authorized, 8 daemon not running, 10 no such object.",
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Options accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// Print one JSON object per result (lists: one object per line)
    #[arg(long, global = true)]
    pub json: bool,
    /// Talk to pickupd on the system bus (default)
    #[arg(long, global = true, conflicts_with_all = ["session", "bus_address"])]
    pub system: bool,
    /// Talk to pickupd on the session bus
    #[arg(long, global = true, conflicts_with_all = ["system", "bus_address"])]
    pub session: bool,
    /// Talk to pickupd on the bus at this D-Bus address (e.g. unix:path=/run/x)
    #[arg(
        long = "address",
        id = "bus_address",
        value_name = "ADDR",
        global = true,
        conflicts_with_all = ["system", "session"],
        value_parser = parse_bus_address
    )]
    pub bus_address: Option<String>,
    /// Give up on each D-Bus call (and on waiting for the daemon) after this long
    #[arg(
        long,
        value_name = "SECONDS",
        global = true,
        default_value = DEFAULT_TIMEOUT,
        value_parser = parse_timeout
    )]
    pub timeout: Duration,
    /// Do not ask for a password (no interactive polkit authorization)
    #[arg(long, global = true)]
    pub no_ask_password: bool,
}

impl GlobalOpts {
    /// The bus chosen by `--system` / `--session` / `--address`.
    pub fn bus(&self) -> BusChoice {
        if let Some(addr) = &self.bus_address {
            BusChoice::Address(addr.clone())
        } else if self.session {
            BusChoice::Session
        } else {
            BusChoice::System
        }
    }
}

/// Which bus to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusChoice {
    System,
    Session,
    Address(String),
}

impl std::fmt::Display for BusChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusChoice::System => f.write_str("the system bus"),
            BusChoice::Session => f.write_str("the session bus"),
            BusChoice::Address(a) => write!(f, "the bus at {a}"),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Show the daemon's version, tone zone, whether it is simulated, and object counts
    Status,
    /// List lines (ports and devices)
    Lines,
    /// Show every property of one line
    Line {
        /// Line name (trunk1) or object path
        line: String,
    },
    /// List addresses (directory numbers)
    Addresses,
    /// Show every property of one address
    Address {
        /// Number (201) or object path
        number: String,
    },
    /// List calls
    Calls,
    /// Show every property of one call
    Call {
        /// Call id (7) or object path
        #[arg(value_parser = parse_call_ref)]
        id: CallRef,
    },
    /// Pick up a call (TAPI linePickup) and print the new call
    Pickup(PickupArgs),
    /// Place a call from an address
    Dial {
        /// The address that places the call (number or object path)
        #[arg(long, value_name = "NUMBER")]
        at: String,
        /// The number to dial
        target: String,
    },
    /// Answer an offering call
    Answer {
        /// Call id (7) or object path
        #[arg(value_parser = parse_call_ref)]
        id: CallRef,
    },
    /// Hang up a call
    Drop {
        /// Call id (7) or object path
        #[arg(value_parser = parse_call_ref)]
        id: CallRef,
    },
    /// Put a connected call on hold
    Hold {
        /// Call id (7) or object path
        #[arg(value_parser = parse_call_ref)]
        id: CallRef,
    },
    /// Take a held call back
    Unhold {
        /// Call id (7) or object path
        #[arg(value_parser = parse_call_ref)]
        id: CallRef,
    },
    /// Put the connected call ID on hold and connect HELD_ID (TAPI lineSwapHold)
    Swap {
        /// The connected call
        #[arg(value_parser = parse_call_ref)]
        id: CallRef,
        /// The held (or waiting) call to connect
        #[arg(value_parser = parse_call_ref)]
        held_id: CallRef,
    },
    /// Print every change of lines, addresses and calls until interrupted
    Monitor,
    /// Make the daemon re-read its configuration
    Reload,
    /// Drive the simulated world (only when the daemon runs a simulated site)
    #[command(subcommand)]
    Sim(SimCmd),
    /// Offline tone tools: run the daemon's detectors over a recording, list
    /// the tone zones (no daemon and no bus needed)
    #[command(subcommand)]
    Tones(TonesCmd),
}

#[derive(Debug, Subcommand)]
pub enum TonesCmd {
    /// Run the daemon's own detectors over a recording and list what they find
    ///
    /// Reports call-waiting tones (sas), CPE alerting signals (cas), caller id
    /// decoded after a CAS (cidcw), DTMF digits, dial tone, ringback, busy and
    /// reorder, in time order, with t_ms = start of the signal in the file.
    /// Progress is shown on stderr when it is a terminal and the recording is
    /// longer than 5 s.
    Analyze(AnalyzeArgs),
    /// List the tone zones and their call-waiting tones
    Zones,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Recording at 8000 Hz: WAV (16-bit PCM, µ-law or A-law; of several
    /// channels the first is used), or headerless .ul/.ulaw/.mulaw (µ-law),
    /// .al/.alaw (A-law), .raw/.s16/.sln (signed 16-bit little-endian)
    pub file: PathBuf,
    /// Tone zone (country code) whose call-waiting tone is looked for; `pickupctl tones zones` lists them
    #[arg(long, value_name = "ZONE", default_value = "us", value_parser = parse_zone)]
    pub zone: String,
    /// Audio format [default: from the WAV header, else from the file extension]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<AudioFormat>,
}

/// `--format` of `tones analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AudioFormat {
    /// RIFF WAVE: 16-bit PCM, µ-law (format 7) or A-law (format 6)
    Wav,
    /// Headerless G.711 µ-law
    Ulaw,
    /// Headerless G.711 A-law
    Alaw,
    /// Headerless signed 16-bit little-endian PCM
    S16le,
}

/// Check `--zone` against the zones of the tone data; returns its code.
pub fn parse_zone(s: &str) -> Result<String, String> {
    pickupd_dsp::zones::zone(s)
        .map(|z| z.code.clone())
        .ok_or_else(|| {
            format!(
                "unknown tone zone '{s}'; `pickupctl tones zones` lists the {} zones",
                pickupd_dsp::zones::all().len()
            )
        })
}

#[derive(Debug, Args)]
pub struct PickupArgs {
    /// The address that picks up (number or object path)
    #[arg(long, value_name = "NUMBER")]
    pub at: String,
    /// Directed pickup: the number where the call is alerting
    #[arg(long, value_name = "NUMBER")]
    pub dest: Option<String>,
    /// Group pickup: the pickup group
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SimCmd {
    /// A call arrives for NUMBER (a trunk or a station)
    Incoming {
        /// Trunk or station number
        number: String,
        /// The caller's number
        #[arg(long = "from", value_name = "CALLER")]
        from: String,
        /// The caller's name
        #[arg(long, value_name = "NAME", default_value = "")]
        name: String,
    },
    /// The phone at station N goes off hook
    Offhook {
        /// Station number
        number: String,
    },
    /// The phone at station N hangs up
    Onhook {
        /// Station number
        number: String,
    },
    /// Hook flash at the phone of station N
    Flash {
        /// Station number
        number: String,
    },
    /// The person at station N dials DIGITS (as DTMF audio)
    Dial {
        /// Station number
        number: String,
        /// Digits, e.g. '*8' or '**201'
        digits: String,
    },
    /// The central office signals a waiting call on TRUNK
    Callwaiting {
        /// Trunk number
        trunk: String,
        /// The waiting caller's number
        #[arg(long = "from", value_name = "CALLER")]
        from: String,
        /// The waiting caller's name
        #[arg(long, value_name = "NAME", default_value = "")]
        name: String,
    },
    /// The far party of the connected call at N hangs up
    Hangup {
        /// Trunk or station number
        number: String,
    },
    /// The device of LINE disappears
    Unplug {
        /// Line name or object path
        line: String,
    },
    /// The device of LINE comes back
    Plug {
        /// Line name or object path
        line: String,
    },
}

/// A call named on the command line: its id or its full object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRef {
    pub path: String,
}

impl CallRef {
    /// The `<N>` of the call's path.
    pub fn id(&self) -> Option<u32> {
        pickupd_api::object_number(&self.path)
    }
}

/// Parse `7` or `/org/pickupd/Pickup1/Call/7`.
pub fn parse_call_ref(s: &str) -> Result<CallRef, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u32>()
            .map(|n| CallRef {
                path: pickupd_api::call_path(n),
            })
            .map_err(|_| format!("call id '{s}' is too large"));
    }
    if s.starts_with(CALL_PATH_PREFIX) && pickupd_api::object_number(s).is_some() {
        return Ok(CallRef { path: s.to_owned() });
    }
    Err(format!(
        "'{s}' is not a call: give its id (7) or its path ({CALL_PATH_PREFIX}7)"
    ))
}

/// Check `--address`: a D-Bus address such as `unix:path=/run/x`.
pub fn parse_bus_address(s: &str) -> Result<String, String> {
    s.parse::<zbus::Address>()
        .map(|_| s.to_owned())
        .map_err(|e| {
            format!("'{s}' is not a D-Bus address (e.g. unix:path=/run/pickupd-test/bus): {e}")
        })
}

/// Parse `--timeout`: positive seconds, fractions allowed.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!(
            "timeout must be a positive number of seconds, not '{s}'"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("timeout '{s}' is too large"))
}

/// The complete command definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("pickupctl").chain(args.iter().copied()))
    }

    #[test]
    fn command_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_subcommand_parses() {
        let ok: &[&[&str]] = &[
            &["status"],
            &["lines"],
            &["line", "trunk1"],
            &["line", "/org/pickupd/Pickup1/Line/1"],
            &["addresses"],
            &["address", "201"],
            &["calls"],
            &["call", "7"],
            &["call", "/org/pickupd/Pickup1/Call/7"],
            &["pickup", "--at", "201"],
            &["pickup", "--at", "201", "--dest", "204"],
            &["pickup", "--at", "201", "--group", "sales"],
            &["pickup", "--at", "201", "--dest", "204", "--group", "sales"],
            &["dial", "--at", "201", "5550100"],
            &["answer", "7"],
            &["drop", "7"],
            &["hold", "7"],
            &["unhold", "7"],
            &["swap", "7", "8"],
            &["monitor"],
            &["reload"],
            &["sim", "incoming", "5550100", "--from", "5551234"],
            &[
                "sim", "incoming", "201", "--from", "5551234", "--name", "ALICE",
            ],
            &["sim", "offhook", "201"],
            &["sim", "onhook", "201"],
            &["sim", "flash", "201"],
            &["sim", "dial", "201", "*8"],
            &[
                "sim",
                "callwaiting",
                "5550100",
                "--from",
                "5559876",
                "--name",
                "BOB",
            ],
            &["sim", "hangup", "5550100"],
            &["sim", "unplug", "trunk1"],
            &["sim", "plug", "trunk1"],
            &["tones", "zones"],
            &["tones", "analyze", "x.wav"],
            &[
                "tones", "analyze", "x.raw", "--zone", "DE", "--format", "s16le",
            ],
            &["--json", "tones", "analyze", "--format", "ulaw", "x"],
        ];
        for args in ok {
            if let Err(e) = parse(args) {
                panic!("{args:?} did not parse: {e}");
            }
        }
    }

    #[test]
    fn global_options_go_before_or_after() {
        let a = parse(&["--json", "--session", "calls"]).expect("before");
        assert!(a.global.json);
        assert_eq!(a.global.bus(), BusChoice::Session);
        let b = parse(&["calls", "--json", "--address", "unix:path=/tmp/x"]).expect("after");
        assert!(b.global.json);
        assert_eq!(
            b.global.bus(),
            BusChoice::Address("unix:path=/tmp/x".into())
        );
        let c = parse(&[
            "sim",
            "offhook",
            "201",
            "--timeout",
            "1.5",
            "--no-ask-password",
        ])
        .expect("nested");
        assert_eq!(c.global.timeout, Duration::from_millis(1500));
        assert!(c.global.no_ask_password);
        let d = parse(&["status"]).expect("defaults");
        assert_eq!(d.global.bus(), BusChoice::System);
        assert_eq!(d.global.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
        assert!(!d.global.json && !d.global.no_ask_password);
    }

    #[test]
    fn call_refs() {
        let a = parse(&["call", "7"]).expect("id");
        match a.command {
            Cmd::Call { id } => {
                assert_eq!(id.path, "/org/pickupd/Pickup1/Call/7");
                assert_eq!(id.id(), Some(7));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_call_ref("/org/pickupd/Pickup1/Line/7").is_err());
        assert!(parse_call_ref("seven").is_err());
        assert!(parse_call_ref("").is_err());
        assert!(parse_call_ref("99999999999999999999").is_err());
    }

    #[test]
    fn bad_usage_is_a_usage_error() {
        let bad: &[&[&str]] = &[
            &[],
            &["frobnicate"],
            &["line"],
            &["call", "x7"],
            &["pickup"],
            &["pickup", "--dest", "204"],
            &["dial", "5550100"],
            &["dial", "--at", "201"],
            &["swap", "7"],
            &["answer"],
            &["sim"],
            &["sim", "incoming", "201"],
            &["sim", "dial", "201"],
            &["sim", "callwaiting", "5550100"],
            &["status", "extra"],
            &["--system", "--session", "status"],
            &["status", "--session", "--address", "unix:path=/x"],
            &["--timeout", "0", "status"],
            &["--timeout", "-1", "status"],
            &["--timeout", "soon", "status"],
            &["--address", "nonsense", "status"],
            &["tones"],
            &["tones", "analyze"],
            &["tones", "analyze", "x.wav", "--zone", "atlantis"],
            &["tones", "analyze", "x.wav", "--format", "mp3"],
            &["tones", "zones", "extra"],
        ];
        for args in bad {
            match parse(args) {
                Ok(c) => panic!("{args:?} parsed: {c:?}"),
                Err(e) => assert_eq!(e.exit_code(), 2, "{args:?}: {:?} {e}", e.kind()),
            }
        }
    }

    #[test]
    fn zones_are_canonical() {
        let a = parse(&["tones", "analyze", "x.wav", "--zone", " UK "]).expect("zone");
        match a.command {
            Cmd::Tones(TonesCmd::Analyze(args)) => {
                assert_eq!(args.zone, "uk");
                assert_eq!(args.format, None);
            }
            other => panic!("{other:?}"),
        }
        let d = parse(&["tones", "analyze", "x.wav"]).expect("default");
        match d.command {
            Cmd::Tones(TonesCmd::Analyze(args)) => assert_eq!(args.zone, "us"),
            other => panic!("{other:?}"),
        }
        let e = parse_zone("atlantis").expect_err("unknown");
        assert!(e.contains("pickupctl tones zones"), "{e}");
    }

    #[test]
    fn help_and_version_are_not_errors() {
        let e = parse(&["--help"]).expect_err("help");
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        assert_eq!(e.exit_code(), 0);
        let e = parse(&["--version"]).expect_err("version");
        assert_eq!(e.kind(), ErrorKind::DisplayVersion);
    }
}
