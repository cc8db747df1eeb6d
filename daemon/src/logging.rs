//! Logging: to the journal when systemd started the daemon, to stderr
//! otherwise; the level can be changed while it runs, over D-Bus, through
//! `org.freedesktop.LogControl1` (`systemctl service-log-level pickupd debug`).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};
use zbus::{fdo, interface};

pub const LOG_CONTROL_PATH: &str = "/org/freedesktop/LogControl1";
const SYSLOG_IDENTIFIER: &str = "pickupd";

/// The running logger: its level can be changed, its target is fixed.
pub struct LogControl {
    filter: reload::Handle<EnvFilter, Registry>,
    level: Mutex<&'static str>,
    journal: bool,
}

fn filter_for(level: &str) -> EnvFilter {
    EnvFilter::new(format!("pickupd={level},warn"))
}

/// Install the logger; `level` is one of `error warn info debug trace`.
pub fn init(level: &str) -> Arc<LogControl> {
    let level = tracing_level(level).unwrap_or("info");
    let (filter, handle) = reload::Layer::new(filter_for(level));
    // systemd sets JOURNAL_STREAM for a service whose output goes to the journal.
    let journal = std::env::var_os("JOURNAL_STREAM")
        .and_then(|_| tracing_journald::layer().ok())
        .map(|l| l.with_syslog_identifier(SYSLOG_IDENTIFIER.into()));
    let is_journal = journal.is_some();
    let stderr = (!is_journal).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(journal)
        .with(stderr)
        .try_init();
    Arc::new(LogControl {
        filter: handle,
        level: Mutex::new(level),
        journal: is_journal,
    })
}

/// A tracing level name from a pickupd or syslog level name.
fn tracing_level(level: &str) -> Option<&'static str> {
    Some(match level {
        "emerg" | "alert" | "crit" | "err" | "error" => "error",
        "warning" | "warn" => "warn",
        "notice" | "info" => "info",
        "debug" => "debug",
        "trace" => "trace",
        _ => return None,
    })
}

/// The syslog name LogControl1 reports for a tracing level.
fn syslog_level(level: &str) -> &'static str {
    match level {
        "error" => "err",
        "warn" => "warning",
        "info" => "info",
        _ => "debug",
    }
}

impl LogControl {
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        let tracing = tracing_level(level).ok_or_else(|| {
            format!("unknown log level \"{level}\"; use emerg, alert, crit, err, warning, notice, info or debug")
        })?;
        self.filter
            .reload(filter_for(tracing))
            .map_err(|e| e.to_string())?;
        *self.level.lock().unwrap_or_else(|p| p.into_inner()) = tracing;
        tracing::info!("log level is now {tracing}");
        Ok(())
    }

    pub fn level(&self) -> &'static str {
        *self.level.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn target(&self) -> &'static str {
        if self.journal {
            "journal"
        } else {
            "console"
        }
    }
}

/// `org.freedesktop.LogControl1` on `/org/freedesktop/LogControl1`.
pub struct LogControlIface(pub Arc<LogControl>);

#[interface(name = "org.freedesktop.LogControl1")]
impl LogControlIface {
    #[zbus(property)]
    fn log_level(&self) -> String {
        syslog_level(self.0.level()).to_string()
    }
    #[zbus(property)]
    fn set_log_level(&mut self, level: String) -> fdo::Result<()> {
        self.0.set_level(&level).map_err(fdo::Error::InvalidArgs)
    }
    #[zbus(property)]
    fn log_target(&self) -> String {
        self.0.target().to_string()
    }
    #[zbus(property)]
    fn set_log_target(&mut self, target: String) -> fdo::Result<()> {
        if target == self.0.target() {
            Ok(())
        } else {
            Err(fdo::Error::NotSupported(format!(
                "pickupd logs to the {} and cannot switch to \"{target}\" while running; restart it under systemd for the journal",
                self.0.target()
            )))
        }
    }
    #[zbus(property(emits_changed_signal = "const"))]
    fn syslog_identifier(&self) -> String {
        SYSLOG_IDENTIFIER.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_and_tracing_levels_map_both_ways() {
        for (syslog, tracing) in [
            ("err", "error"),
            ("warning", "warn"),
            ("info", "info"),
            ("debug", "debug"),
        ] {
            assert_eq!(tracing_level(syslog), Some(tracing));
            assert_eq!(syslog_level(tracing), syslog);
        }
        assert_eq!(tracing_level("notice"), Some("info"));
        assert_eq!(tracing_level("loud"), None);
    }
}
