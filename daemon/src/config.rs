//! The site: configuration file (`pickupd.toml`) and the built-in simulated
//! site. Parsing is strict (unknown keys are errors) and every error names
//! file, line and column and says what to write instead.

use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use toml::Spanned;

pub const DEFAULT_CONFIG_PATH: &str = "/etc/pickupd/pickupd.toml";

/// Kind of port, as in `Line.Kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LineKind {
    #[serde(rename = "fxo")]
    Fxo,
    #[serde(rename = "fxs")]
    Fxs,
    #[serde(rename = "modem")]
    Modem,
    #[serde(rename = "keysystem")]
    KeySystem,
    #[serde(rename = "sim-fxo")]
    SimFxo,
    #[serde(rename = "sim-fxs")]
    SimFxs,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Fxo => "fxo",
            LineKind::Fxs => "fxs",
            LineKind::Modem => "modem",
            LineKind::KeySystem => "keysystem",
            LineKind::SimFxo => "sim-fxo",
            LineKind::SimFxs => "sim-fxs",
        }
    }
    /// A port with a phone on it (the daemon rings it, the person dials).
    /// Trunks whose caller id arrives in the audio after the first ring (or
    /// from the modem between rings), rather than with the ring itself.
    pub fn caller_id_in_band(self) -> bool {
        matches!(self, LineKind::Fxo | LineKind::Modem)
    }

    pub fn is_station_port(self) -> bool {
        matches!(self, LineKind::Fxs | LineKind::SimFxs)
    }
    /// A line to a central office or PBX (the daemon answers, flashes, dials).
    pub fn is_trunk(self) -> bool {
        matches!(self, LineKind::Fxo | LineKind::SimFxo | LineKind::Modem)
    }
    pub fn is_simulated(self) -> bool {
        matches!(self, LineKind::SimFxo | LineKind::SimFxs)
    }
}

/// Who may take a trunk call that a station put on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HoldMode {
    /// any station with an appearance of the number may take it
    #[default]
    Open,
    /// only the station that held it (`Unhold`)
    Private,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    #[serde(default = "default_zone")]
    zone: Spanned<String>,
    #[serde(default = "default_pickup_code")]
    pickup_code: Spanned<String>,
    #[serde(default = "default_directed_prefix")]
    directed_pickup_prefix: Spanned<String>,
    #[serde(default, rename = "line")]
    lines: Vec<RawLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    name: Spanned<String>,
    kind: Spanned<LineKind>,
    #[serde(default)]
    device: Option<Spanned<String>>,
    number: Spanned<String>,
    #[serde(default)]
    call_waiting: bool,
    #[serde(default = "spanned_false")]
    cidcw: Spanned<bool>,
    #[serde(default)]
    call_groups: Vec<Spanned<String>>,
    #[serde(default)]
    pickup_groups: Vec<Spanned<String>>,
    #[serde(default)]
    pickup_other_groups: bool,
    #[serde(default)]
    appearances: Vec<Spanned<String>>,
    #[serde(default)]
    hold: HoldMode,
}

fn spanned_false() -> Spanned<bool> {
    Spanned::new(0..0, false)
}
fn default_zone() -> Spanned<String> {
    Spanned::new(0..0, "us".into())
}
fn default_pickup_code() -> Spanned<String> {
    Spanned::new(0..0, "*8".into())
}
fn default_directed_prefix() -> Spanned<String> {
    Spanned::new(0..0, "**".into())
}

/// A validated site.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub zone: String,
    pub pickup_code: String,
    pub directed_pickup_prefix: String,
    pub lines: Vec<LineConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineConfig {
    pub name: String,
    pub kind: LineKind,
    /// device path, `sim:<name>` for simulated lines
    pub device: String,
    pub number: String,
    pub call_waiting: bool,
    pub cidcw: bool,
    pub call_groups: Vec<String>,
    pub pickup_groups: Vec<String>,
    pub pickup_other_groups: bool,
    /// names of station lines that carry a line key for this number
    pub appearances: Vec<String>,
    pub hold: HoldMode,
}

/// A configuration error, positioned in its file.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConfigError {
    fn at(file: &str, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(text, offset);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// Read and validate a configuration file.
pub fn load(path: &Path, simulated: bool) -> Result<Site, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!(
            "cannot read the configuration ({e}); write one (see pickupd.toml(5)) or run `pickupd --sim` for the built-in simulated site"
        ),
    })?;
    parse(&name, &text, simulated)
}

/// Parse and validate configuration text; `file` names it in errors.
pub fn parse(file: &str, text: &str, simulated: bool) -> Result<Site, ConfigError> {
    let raw: RawSite = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        ConfigError::at(file, text, offset, explain_toml_error(e.message()))
    })?;
    validate(file, text, raw, simulated)
}

fn explain_toml_error(message: &str) -> String {
    let message = message.trim();
    if message.starts_with("unknown field") {
        format!("{message}; remove it or fix its spelling (see pickupd.toml(5))")
    } else if message.starts_with("unknown variant") {
        format!("{message} (line kinds are fxo, fxs, modem, keysystem, sim-fxo, sim-fxs; hold is open or private)")
    } else if message.starts_with("missing field") {
        format!("{message}: every [[line]] needs name, kind and number")
    } else {
        message.to_string()
    }
}

fn validate(file: &str, text: &str, raw: RawSite, simulated: bool) -> Result<Site, ConfigError> {
    let err =
        |span: std::ops::Range<usize>, msg: String| ConfigError::at(file, text, span.start, msg);

    let zone = raw.zone.get_ref().clone();
    if !is_zone_code(&zone) {
        return Err(err(
            raw.zone.span(),
            format!("zone \"{zone}\" is not a tone zone code; write a code such as \"us\", \"uk\" or \"de\" (pickupctl tones zones lists them)"),
        ));
    }
    for (field, value) in [
        ("pickup_code", &raw.pickup_code),
        ("directed_pickup_prefix", &raw.directed_pickup_prefix),
    ] {
        if !pickupd_api::is_dialable(value.get_ref()) {
            return Err(err(
                value.span(),
                format!(
                    "{field} \"{}\" must be 1 to 32 of 0-9 * #, for example \"*8\"",
                    value.get_ref()
                ),
            ));
        }
    }
    if raw.pickup_code.get_ref() == raw.directed_pickup_prefix.get_ref() {
        return Err(err(
            raw.directed_pickup_prefix.span(),
            "directed_pickup_prefix must differ from pickup_code (e.g. pickup_code = \"*8\", directed_pickup_prefix = \"**\")".into(),
        ));
    }
    if raw.lines.is_empty() {
        return Err(ConfigError::at(
            file,
            text,
            text.len(),
            "no [[line]] is configured; add at least one [[line]] table with name, kind and number",
        ));
    }

    let mut names: HashMap<String, LineKind> = HashMap::new();
    let mut numbers = BTreeSet::new();
    for line in &raw.lines {
        let name = line.name.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err(
                line.name.span(),
                format!("line name \"{name}\" may hold only letters, digits, '-' and '_' (e.g. \"desk-201\")"),
            ));
        }
        if names.insert(name.clone(), *line.kind.get_ref()).is_some() {
            return Err(err(
                line.name.span(),
                format!("a second line is named \"{name}\"; line names must be unique"),
            ));
        }
        let number = line.number.get_ref();
        if !pickupd_api::is_dialable(number) {
            return Err(err(
                line.number.span(),
                format!("number \"{number}\" must be 1 to 32 of 0-9 * # (e.g. \"201\")"),
            ));
        }
        if !numbers.insert(number.clone()) {
            return Err(err(
                line.number.span(),
                format!("number {number} is given to two lines; numbers must be unique"),
            ));
        }
        let kind = *line.kind.get_ref();
        if simulated && !kind.is_simulated() {
            return Err(err(
                line.kind.span(),
                format!("with --sim every line must be sim-fxo or sim-fxs, not {}; drop --sim to drive real hardware", kind.as_str()),
            ));
        }
        if !simulated && kind.is_simulated() {
            return Err(err(
                line.kind.span(),
                format!("line kind {} needs `pickupd --sim`", kind.as_str()),
            ));
        }
        match (&line.device, kind.is_simulated()) {
            (Some(d), true) => {
                return Err(err(
                    d.span(),
                    "simulated lines take no device; remove `device`".into(),
                ));
            }
            (None, false) => {
                return Err(err(
                    line.name.span(),
                    format!("line \"{name}\" of kind {} needs a device, e.g. device = \"/dev/dahdi/channel:1\"", kind.as_str()),
                ));
            }
            _ => {}
        }
        if *line.cidcw.get_ref() && !line.call_waiting {
            return Err(err(
                line.cidcw.span(),
                "cidcw = true needs call_waiting = true on the same line".into(),
            ));
        }
        for g in line.call_groups.iter().chain(&line.pickup_groups) {
            if g.get_ref().is_empty() || g.get_ref().chars().any(char::is_whitespace) {
                return Err(err(
                    g.span(),
                    format!("group name \"{}\" must be a non-empty word", g.get_ref()),
                ));
            }
        }
    }
    // Appearances name station lines, and only trunks carry them.
    for line in &raw.lines {
        for app in &line.appearances {
            let kind = *line.kind.get_ref();
            if !kind.is_trunk() {
                return Err(err(
                    app.span(),
                    format!(
                        "appearances belong on trunk lines (fxo, modem, sim-fxo); \"{}\" is {}",
                        line.name.get_ref(),
                        kind.as_str()
                    ),
                ));
            }
            match names.get(app.get_ref()) {
                Some(k) if k.is_station_port() => {}
                Some(k) => {
                    return Err(err(app.span(), format!(
                        "appearance \"{}\" is a {} line; appearances name station lines (fxs, sim-fxs)",
                        app.get_ref(), k.as_str()
                    )))
                }
                None => {
                    let mut known: Vec<_> = names.keys().cloned().collect();
                    known.sort();
                    return Err(err(app.span(), format!(
                        "no line named \"{}\"; lines are: {}", app.get_ref(), known.join(", ")
                    )));
                }
            }
        }
    }

    Ok(Site {
        zone,
        pickup_code: raw.pickup_code.into_inner(),
        directed_pickup_prefix: raw.directed_pickup_prefix.into_inner(),
        lines: raw
            .lines
            .into_iter()
            .map(|l| {
                let name = l.name.into_inner();
                LineConfig {
                    device: l
                        .device
                        .map(|d| d.into_inner())
                        .unwrap_or_else(|| format!("sim:{name}")),
                    name,
                    kind: l.kind.into_inner(),
                    number: l.number.into_inner(),
                    call_waiting: l.call_waiting,
                    cidcw: l.cidcw.into_inner(),
                    call_groups: l.call_groups.into_iter().map(Spanned::into_inner).collect(),
                    pickup_groups: l
                        .pickup_groups
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                    pickup_other_groups: l.pickup_other_groups,
                    appearances: l.appearances.into_iter().map(Spanned::into_inner).collect(),
                    hold: l.hold,
                }
            })
            .collect(),
    })
}

fn is_zone_code(zone: &str) -> bool {
    pickupd_dsp::zones::zone(zone).is_some()
}

/// The built-in simulated site of `spec/site.md`, as configuration text so
/// that it goes through exactly the same parser as a file.
pub const BUILTIN_SIM_SITE: &str = r#"# pickupd built-in simulated site
zone = "us"
pickup_code = "*8"
directed_pickup_prefix = "**"

[[line]]
name = "trunk1"
kind = "sim-fxo"
number = "5550100"
call_waiting = true
cidcw = true
call_groups = ["sales"]
appearances = ["desk-201", "desk-202", "desk-203", "desk-204", "desk-205"]

[[line]]
name = "trunk2"
kind = "sim-fxo"
number = "5550101"
call_waiting = true
call_groups = ["support"]
appearances = ["desk-201", "desk-202", "desk-203", "desk-204", "desk-205"]

[[line]]
name = "desk-201"
kind = "sim-fxs"
number = "201"
call_groups = ["sales"]
pickup_groups = ["sales"]
pickup_other_groups = true

[[line]]
name = "desk-202"
kind = "sim-fxs"
number = "202"
call_groups = ["sales"]
pickup_groups = ["sales"]

[[line]]
name = "desk-203"
kind = "sim-fxs"
number = "203"
call_groups = ["sales"]
pickup_groups = ["sales", "support"]

[[line]]
name = "desk-204"
kind = "sim-fxs"
number = "204"
call_groups = ["support"]
pickup_groups = ["support"]

[[line]]
name = "desk-205"
kind = "sim-fxs"
number = "205"
call_groups = ["support"]
pickup_groups = ["support"]
pickup_other_groups = true
"#;

/// The built-in simulated site.
pub fn builtin_sim_site() -> Site {
    // The text is part of the program and covered by a test; a failure here
    // is a build defect, not an input error.
    parse("<built-in site>", BUILTIN_SIM_SITE, true)
        .unwrap_or_else(|e| panic!("built-in site is invalid: {e}"))
}

/// The built-in site on emulated hardware under `root`, with the simulated
/// world behind it; numbers, groups and services are those of
/// [`builtin_sim_site`]. The trunks come first, then the desks:
///
/// | line | kind | device |
/// |---|---|---|
/// | trunk1 | `fxo` (FXO port) | `<root>/dev/dahdi/channel:1` |
/// | trunk2 | `modem` (V.253 voice modem, Conexant) | `<root>/tty/trunk2`, a symlink to the modem's pty |
/// | desk-201 … desk-205 | `fxs` (FXS ports) | `<root>/dev/dahdi/channel:3` … `:7` |
///
/// The emulation (`pickupd-emu`'s site) mounts the DAHDI tree on
/// `<root>/dev` and makes the modem's link; channel 2 is not configured.
pub fn builtin_emulated_site(root: &Path) -> Site {
    let mut site = builtin_sim_site();
    let (trunks, stations): (Vec<_>, Vec<_>) = site
        .lines
        .into_iter()
        .partition(|l| !l.kind.is_station_port());
    site.lines = trunks.into_iter().chain(stations).collect();
    for (channo, line) in (1..).zip(site.lines.iter_mut()) {
        let dahdi = format!("{}/dev/dahdi/channel:{channo}", root.display());
        (line.kind, line.device) = if line.kind.is_station_port() {
            (LineKind::Fxs, dahdi)
        } else if line.name == "trunk2" {
            let tty = format!("{}/tty/{}", root.display(), line.name);
            (LineKind::Modem, tty)
        } else {
            (LineKind::Fxo, dahdi)
        };
    }
    site
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum SiteSource {
    BuiltinSim,
    /// the built-in site on emulated hardware mounted under `root`
    BuiltinEmulated {
        root: PathBuf,
    },
    File {
        path: PathBuf,
        simulated: bool,
    },
}

impl SiteSource {
    pub fn load(&self) -> Result<Site, ConfigError> {
        match self {
            SiteSource::BuiltinSim => Ok(builtin_sim_site()),
            SiteSource::BuiltinEmulated { root } => Ok(builtin_emulated_site(root)),
            SiteSource::File { path, simulated } => load(path, *simulated),
        }
    }

    /// Does the Simulator interface drive this site's world?
    pub fn simulated(&self) -> bool {
        match self {
            SiteSource::BuiltinSim | SiteSource::BuiltinEmulated { .. } => true,
            SiteSource::File { simulated, .. } => *simulated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulated_site_is_the_builtin_one_on_dahdi_channels_and_a_modem() {
        let sim = builtin_sim_site();
        let emu = builtin_emulated_site(Path::new("/run/x"));
        assert_eq!(emu.lines.len(), sim.lines.len());
        let t1 = emu.lines.iter().find(|l| l.name == "trunk1").unwrap();
        assert_eq!(
            (t1.kind, t1.device.as_str()),
            (LineKind::Fxo, "/run/x/dev/dahdi/channel:1")
        );
        let t2 = emu.lines.iter().find(|l| l.name == "trunk2").unwrap();
        assert_eq!(
            (t2.kind, t2.device.as_str()),
            (LineKind::Modem, "/run/x/tty/trunk2")
        );
        for (i, l) in emu
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Fxs)
            .enumerate()
        {
            assert_eq!(l.device, format!("/run/x/dev/dahdi/channel:{}", i + 3));
            let same = sim.lines.iter().find(|s| s.name == l.name).unwrap();
            assert_eq!(
                (&l.number, &l.pickup_groups),
                (&same.number, &same.pickup_groups)
            );
        }
        assert_eq!(
            emu.lines.iter().filter(|l| l.kind == LineKind::Fxs).count(),
            5
        );
        for l in &emu.lines {
            let same = sim.lines.iter().find(|s| s.name == l.name).unwrap();
            assert_eq!(
                (&l.number, l.call_waiting, l.cidcw, &l.appearances),
                (
                    &same.number,
                    same.call_waiting,
                    same.cidcw,
                    &same.appearances
                ),
                "{}",
                l.name
            );
        }
    }

    #[test]
    fn builtin_site_matches_the_spec_table() {
        let site = builtin_sim_site();
        assert_eq!(site.zone, "us");
        assert_eq!(site.lines.len(), 7);
        let t1 = &site.lines[0];
        assert!(t1.call_waiting && t1.cidcw);
        assert_eq!(t1.appearances.len(), 5);
        let t2 = &site.lines[1];
        assert!(t2.call_waiting && !t2.cidcw);
        let d203 = site.lines.iter().find(|l| l.name == "desk-203").unwrap();
        assert_eq!(d203.pickup_groups, ["sales", "support"]);
        assert!(!d203.pickup_other_groups);
        assert_eq!(d203.device, "sim:desk-203");
    }

    #[test]
    fn unknown_key_is_positioned() {
        let text = "zone = \"us\"\n[[line]]\nname = \"a\"\nkind = \"sim-fxs\"\nnumber = \"1\"\ncolour = 3\n";
        let e = parse("x.toml", text, true).unwrap_err();
        assert_eq!((e.line, e.column), (6, 1), "{e}");
        assert!(e.message.contains("colour"), "{e}");
        assert!(e.to_string().starts_with("x.toml:6:1: "));
    }

    #[test]
    fn semantic_errors_are_positioned() {
        let text = "[[line]]\nname = \"t\"\nkind = \"sim-fxo\"\nnumber = \"1\"\nappearances = [\"nope\"]\n";
        let e = parse("x.toml", text, true).unwrap_err();
        assert_eq!((e.line, e.column), (5, 16), "{e}");
        assert!(e.message.contains("no line named \"nope\""));

        let text = "zone = \"xx\"\n[[line]]\nname = \"t\"\nkind = \"sim-fxo\"\nnumber = \"1\"\n";
        let e = parse("x.toml", text, true).unwrap_err();
        assert_eq!((e.line, e.column), (1, 8), "{e}");

        let text = "[[line]]\nname = \"t\"\nkind = \"fxo\"\nnumber = \"1\"\n";
        let e = parse("x.toml", text, false).unwrap_err();
        assert!(e.message.contains("needs a device"), "{e}");

        let text = "[[line]]\nname = \"t\"\nkind = \"sim-fxo\"\nnumber = \"12a\"\n";
        assert!(parse("x.toml", text, true)
            .unwrap_err()
            .message
            .contains("0-9"));
    }

    #[test]
    fn syntax_error_is_positioned() {
        let e = parse("x.toml", "zone = \n", true).unwrap_err();
        assert_eq!(e.line, 1);
    }
}
