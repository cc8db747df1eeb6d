//! Where a key-system line's CTI link is: the `device` of a line of kind
//! `keysystem`.
//!
//! Spellings (options after `?`, separated by `&`):
//!
//! | `device` | link |
//! |---|---|
//! | `tcp:HOST:PORT` | CSTA XML over TCP, u16 length prefix |
//! | `tcp:HOST:PORT?framing=dmcc` | Avaya DMCC 8-byte header, with an application session |
//! | `tcp:[::1]:4721` | an IPv6 address in brackets |
//! | `/dev/ttyS0` | CSTA XML on a serial port, u16 length prefix, 9600 baud |
//! | `/dev/ttyUSB0?baud=19200&framing=dmcc` | the same with options |
//!
//! `framing` is `length-prefix` (the default) or `dmcc`; `baud` (serial
//! ports only) is the line speed, default [`DEFAULT_BAUD`]. The host name
//! is resolved at every connection attempt, so a switch that moves is
//! found again.

use std::fmt;
use std::path::PathBuf;

/// The serial line speed when the device names none: what older PBXs'
/// CTI ports default to.
pub const DEFAULT_BAUD: u32 = 9600;

/// How a link cuts its byte stream into CSTA messages (hardware.md §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// A big-endian `u16` payload length, then the XML. Replies come back in
    /// the order of the requests.
    #[default]
    LengthPrefix,
    /// Avaya DMCC's 8-byte header (version, length, invoke id); replies
    /// carry their request's invoke id, events `9999`. The link opens an
    /// ECMA-354 application session and keeps it alive.
    Dmcc,
}

impl Framing {
    /// The spelling in a device option.
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::LengthPrefix => "length-prefix",
            Framing::Dmcc => "dmcc",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `device`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LinkSpec {
    /// CSTA over TCP.
    Tcp {
        /// Host name or address (IPv6 without its brackets).
        host: String,
        /// TCP port.
        port: u16,
        /// Framing.
        framing: Framing,
    },
    /// CSTA on a serial port (a tty, or a pty in tests).
    Serial {
        /// The device path.
        path: PathBuf,
        /// Line speed.
        baud: u32,
        /// Framing.
        framing: Framing,
    },
}

/// Why a `device` is not a key-system link; the message names the forms
/// that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device \"{device}\" is not a key-system link: {why}; expected \"tcp:HOST:PORT\" (optionally \"?framing=dmcc\"; default framing length-prefix) or the absolute path of a serial port such as \"/dev/ttyS0\" (optionally \"?framing=dmcc&baud=19200\")")]
pub struct SpecError {
    /// The device as written.
    pub device: String,
    /// What is wrong with it.
    pub why: String,
}

impl LinkSpec {
    /// Parses a `device` (see the module documentation for the forms).
    pub fn parse(device: &str) -> Result<LinkSpec, SpecError> {
        let err = |why: String| SpecError {
            device: device.to_owned(),
            why,
        };
        let (base, options) = match device.split_once('?') {
            Some((b, o)) => (b, Some(o)),
            None => (device, None),
        };
        let serial = !base.starts_with("tcp:");
        let mut framing = Framing::default();
        let mut baud = None;
        let mut seen = Vec::new();
        for option in options.into_iter().flat_map(|o| o.split('&')) {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| err(format!("option \"{option}\" is not KEY=VALUE")))?;
            if seen.contains(&key) {
                return Err(err(format!("option \"{key}\" is given twice")));
            }
            seen.push(key);
            match key {
                "framing" => {
                    framing = match value {
                        "length-prefix" => Framing::LengthPrefix,
                        "dmcc" => Framing::Dmcc,
                        other => {
                            return Err(err(format!(
                            "framing \"{other}\" is unknown (framings are length-prefix and dmcc)"
                        )))
                        }
                    }
                }
                "baud" if serial => {
                    baud = Some(
                        value
                            .parse::<u32>()
                            .ok()
                            .filter(|b| *b > 0 && value.bytes().all(|c| c.is_ascii_digit()))
                            .ok_or_else(|| {
                                err(format!("baud \"{value}\" is not a positive number"))
                            })?,
                    );
                }
                "baud" => return Err(err("baud applies to serial ports only".into())),
                other => {
                    return Err(err(format!(
                        "option \"{other}\" is unknown (options are framing{})",
                        if serial { " and baud" } else { "" }
                    )))
                }
            }
        }
        if let Some(addr) = base.strip_prefix("tcp:") {
            let (host, port) = addr
                .rsplit_once(':')
                .ok_or_else(|| err("no port after the host".into()))?;
            let host = match host.strip_prefix('[') {
                Some(h) => h
                    .strip_suffix(']')
                    .ok_or_else(|| err("an IPv6 address lacks its closing \"]\"".into()))?,
                None if host.contains(':') => {
                    return Err(err("an IPv6 address must be written in brackets".into()))
                }
                None => host,
            };
            if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(err(format!("\"{host}\" is not a host name or address")));
            }
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0 && port.bytes().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| err(format!("port \"{port}\" is not a number in 1 … 65535")))?;
            return Ok(LinkSpec::Tcp {
                host: host.to_owned(),
                port,
                framing,
            });
        }
        if !base.starts_with('/') {
            let why = if base.contains("://") || base.starts_with("tcp") {
                "unknown scheme (TCP links start with \"tcp:\")".to_owned()
            } else {
                "a serial port must be given as an absolute path".to_owned()
            };
            return Err(err(why));
        }
        if base.len() < 2 || base.ends_with('/') {
            return Err(err("the path names a directory, not a serial port".into()));
        }
        Ok(LinkSpec::Serial {
            path: PathBuf::from(base),
            baud: baud.unwrap_or(DEFAULT_BAUD),
            framing,
        })
    }

    /// The link's framing.
    pub fn framing(&self) -> Framing {
        match self {
            LinkSpec::Tcp { framing, .. } | LinkSpec::Serial { framing, .. } => *framing,
        }
    }
}

impl std::str::FromStr for LinkSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LinkSpec::parse(s)
    }
}

/// The canonical spelling, which [`LinkSpec::parse`] reads back; options
/// at their defaults are left out.
impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkSpec::Tcp {
                host,
                port,
                framing,
            } => {
                if host.contains(':') {
                    write!(f, "tcp:[{host}]:{port}")?;
                } else {
                    write!(f, "tcp:{host}:{port}")?;
                }
                if *framing != Framing::default() {
                    write!(f, "?framing={framing}")?;
                }
                Ok(())
            }
            LinkSpec::Serial {
                path,
                baud,
                framing,
            } => {
                write!(f, "{}", path.display())?;
                let mut sep = '?';
                if *framing != Framing::default() {
                    write!(f, "{sep}framing={framing}")?;
                    sep = '&';
                }
                if *baud != DEFAULT_BAUD {
                    write!(f, "{sep}baud={baud}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16, framing: Framing) -> LinkSpec {
        LinkSpec::Tcp {
            host: host.into(),
            port,
            framing,
        }
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            (
                "tcp:127.0.0.1:4721",
                tcp("127.0.0.1", 4721, Framing::LengthPrefix),
            ),
            (
                "tcp:aes.example.com:4721?framing=dmcc",
                tcp("aes.example.com", 4721, Framing::Dmcc),
            ),
            (
                "tcp:[::1]:2555?framing=length-prefix",
                tcp("::1", 2555, Framing::LengthPrefix),
            ),
            (
                "/dev/ttyS0",
                LinkSpec::Serial {
                    path: "/dev/ttyS0".into(),
                    baud: DEFAULT_BAUD,
                    framing: Framing::LengthPrefix,
                },
            ),
            (
                "/dev/ttyUSB1?baud=19200&framing=dmcc",
                LinkSpec::Serial {
                    path: "/dev/ttyUSB1".into(),
                    baud: 19200,
                    framing: Framing::Dmcc,
                },
            ),
        ];
        for (text, want) in cases {
            let got = LinkSpec::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            // The canonical spelling reads back the same.
            assert_eq!(LinkSpec::parse(&got.to_string()), Ok(got.clone()));
        }
        assert_eq!(
            tcp("::1", 1, Framing::Dmcc).to_string(),
            "tcp:[::1]:1?framing=dmcc"
        );
    }

    #[test]
    fn rejected_forms_say_what_to_write() {
        let cases = [
            ("tcp:host", "no port"),
            ("tcp::4721", "not a host"),
            ("tcp:host:0", "port \"0\""),
            ("tcp:host:70000", "port \"70000\""),
            ("tcp:host:+80", "port \"+80\""),
            ("tcp:::1:4721", "brackets"),
            ("tcp:[::1:4721", "closing"),
            ("tcp:host:4721?framing=ber", "framing \"ber\""),
            ("tcp:host:4721?baud=9600", "serial ports only"),
            ("tcp:host:4721?framing", "KEY=VALUE"),
            ("tcp:host:4721?tls=yes", "option \"tls\""),
            ("/dev/ttyS0?framing=dmcc&framing=dmcc", "twice"),
            ("/dev/ttyS0?baud=fast", "baud \"fast\""),
            ("/dev/ttyS0?baud=0", "baud \"0\""),
            ("ttyS0", "absolute path"),
            ("http://switch:80", "scheme"),
            ("/dev/", "directory"),
            ("", "absolute path"),
        ];
        for (text, part) in cases {
            let e = LinkSpec::parse(text).expect_err(text);
            let msg = e.to_string();
            assert!(msg.contains(part), "{text}: {msg}");
            assert!(msg.contains("tcp:HOST:PORT"), "{text}: {msg}");
            assert!(msg.contains("/dev/ttyS0"), "{text}: {msg}");
        }
    }
}
