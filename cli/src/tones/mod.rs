//! The offline `tones` commands: no daemon, no bus.
//!
//! # `tones analyze FILE [--zone Z] [--format F]`
//!
//! Runs the daemon's detectors (the `pickupd_dsp` crate, see [`analyze`])
//! over a recording read by [`audio`]. With `--json`, one object per event
//! and line, in time order, and nothing else on stdout:
//!
//! ```json
//! {"t_ms":20480,"event":"sas","zone":"us","freq_hz":440,"dur_ms":300}
//! {"t_ms":20780,"event":"cas","dur_ms":80}
//! {"t_ms":20910,"event":"dtmf","digit":"D","dur_ms":60}
//! {"t_ms":21040,"event":"cidcw","number":"5559876","name":"BOB"}
//! {"t_ms":31000,"event":"dialtone","freqs_hz":[350,440]}
//! ```
//!
//! * `t_ms`: start of the signal, ms from the start of the file;
//! * `sas`: `zone`, `freq_hz` (measured, of the first burst), `dur_ms`
//!   (first burst start to last burst end), plus `bursts` when the pattern
//!   has more than one;
//! * `cas`, `dtmf`: `dur_ms` as measured (`dtmf` also `digit`; one event per
//!   digit, at its start);
//! * `cidcw` (caller id decoded after a CAS; `t_ms` is the start of the FSK
//!   carrier): `number` and `name` (`null` when not sent), plus `datetime`
//!   (MMDDHHMM), `number_absent` / `name_absent` (`"O"` unavailable, `"P"`
//!   private) when sent;
//! * `dialtone`, `ringback`, `busy`, `reorder`: `freqs_hz`, the nominal pair.
//!   Dial tone is reported after 300 ms of tone, busy and reorder after two
//!   cycles (each once per occurrence), ringback once per ring.
//!
//! Without `--json`: a table (time as `mm:ss.mmm`, `h:mm:ss.mmm` from one
//! hour on; event; details) and a summary: the length of the audio, its
//! format, the zone and the count of each kind of event. Remarks (only the
//! first channel of a stereo file is analysed, a caller id that did not
//! decode) go to stderr; so does a progress line when stderr is a terminal
//! and the recording is longer than 5 s.
//!
//! # `tones zones`
//!
//! Table of code, name and call-waiting tone strings (notation of
//! signals.md §5; identical strings from several sources shown once). With
//! `--json`, one object per zone:
//! `{"code":"us","name":"United States / North America","call_waiting":["440/300,0/10000", …]}`.

pub mod analyze;
pub mod audio;

use std::io::{IsTerminal, Write};

use pickupd_dsp::zones::{self, Zone};
use pickupd_dsp::SAMPLE_RATE;
use serde::Serialize;

use crate::args::{AnalyzeArgs, TonesCmd};
use crate::error::CliError;
use crate::output::Out;
use analyze::{Analyzer, Event, EventKind, EVENT_NAMES};
use audio::AudioReader;

/// Recordings longer than this (in samples) show progress on a terminal.
const PROGRESS_MIN_SAMPLES: u64 = 5 * SAMPLE_RATE as u64;

/// Run a `tones` subcommand.
pub fn run(cmd: &TonesCmd, out: &mut Out<'_>) -> Result<(), CliError> {
    match cmd {
        TonesCmd::Analyze(args) => analyze_file(args, out),
        TonesCmd::Zones => list_zones(out),
    }
}

/// `mm:ss.mmm`, or `h:mm:ss.mmm` from one hour on.
pub fn clock(ms: u64) -> String {
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{f:03}")
    } else {
        format!("{m:02}:{s:02}.{f:03}")
    }
}

fn hz(f: f32) -> i64 {
    f.round() as i64
}

/// One event as JSON (field order as in the documentation).
#[derive(Serialize)]
struct JsonEvent<'a> {
    t_ms: u64,
    event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    zone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    freq_hz: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    freqs_hz: Option<[i64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bursts: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    datetime: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_absent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_absent: Option<String>,
}

/// The JSON line of an event.
pub fn event_json(e: &Event, zone: &str) -> String {
    let mut j = JsonEvent {
        t_ms: e.t_ms(),
        event: e.kind.name(),
        zone: None,
        digit: None,
        freq_hz: None,
        freqs_hz: None,
        dur_ms: None,
        bursts: None,
        number: None,
        name: None,
        datetime: None,
        number_absent: None,
        name_absent: None,
    };
    match &e.kind {
        EventKind::Sas {
            freq_hz,
            dur_ms,
            bursts,
        } => {
            j.zone = Some(zone);
            j.freq_hz = Some(hz(*freq_hz));
            j.dur_ms = Some(*dur_ms);
            j.bursts = (*bursts > 1).then_some(*bursts);
        }
        EventKind::Cas { dur_ms } => j.dur_ms = Some(*dur_ms),
        EventKind::Dtmf { digit, dur_ms } => {
            j.digit = Some(digit.to_string());
            j.dur_ms = *dur_ms;
        }
        EventKind::Progress { freqs, .. } => j.freqs_hz = Some([hz(freqs.0), hz(freqs.1)]),
        EventKind::CallerId(id) => {
            j.number = Some(id.number.as_deref());
            j.name = Some(id.name.as_deref());
            j.datetime = id.datetime.as_deref();
            j.number_absent = id.number_absent.map(String::from);
            j.name_absent = id.name_absent.map(String::from);
        }
    }
    // A struct of strings and numbers always serialises.
    serde_json::to_string(&j).unwrap_or_default()
}

fn absent(c: char) -> &'static str {
    if c == 'P' {
        "private"
    } else {
        "unavailable"
    }
}

/// The details column of the table.
pub fn event_details(e: &Event, zone: &str) -> String {
    match &e.kind {
        EventKind::Sas {
            freq_hz,
            dur_ms,
            bursts,
        } => {
            let bursts = if *bursts > 1 {
                format!(", {bursts} bursts")
            } else {
                String::new()
            };
            format!("{} Hz, {dur_ms} ms{bursts} (zone {zone})", hz(*freq_hz))
        }
        EventKind::Cas { dur_ms } => format!("{dur_ms} ms"),
        EventKind::Dtmf { digit, dur_ms } => match dur_ms {
            Some(d) => format!("{digit}, {d} ms"),
            None => digit.to_string(),
        },
        EventKind::Progress { freqs, .. } => format!("{}+{} Hz", hz(freqs.0), hz(freqs.1)),
        EventKind::CallerId(id) => {
            let number = match (&id.number, id.number_absent) {
                (Some(n), _) => format!("number {n}"),
                (None, Some(c)) => format!("number {}", absent(c)),
                (None, None) => "no number".to_owned(),
            };
            let mut s = number;
            match (&id.name, id.name_absent) {
                (Some(n), _) => s.push_str(&format!(", name {n}")),
                (None, Some(c)) => s.push_str(&format!(", name {}", absent(c))),
                (None, None) => {}
            }
            if let Some(dt) = &id.datetime {
                s.push_str(&format!(", date/time {dt}"));
            }
            s
        }
    }
}

/// A table row.
pub fn event_row(e: &Event, zone: &str) -> String {
    format!(
        "{:<11} {:<9} {}",
        clock(e.t_ms()),
        e.kind.name(),
        event_details(e, zone)
    )
}

/// The progress line on stderr (only when it is a terminal).
struct Progress {
    total: u64,
    label: String,
    last_pct: Option<u64>,
}

impl Progress {
    fn new(enabled: bool, total: Option<u64>, label: String) -> Option<Self> {
        let total = total.filter(|&t| enabled && t > PROGRESS_MIN_SAMPLES)?;
        Some(Self {
            total,
            label,
            last_pct: None,
        })
    }

    fn update(&mut self, done: u64) {
        let pct = (done.min(self.total) * 100 / self.total).min(100);
        if self.last_pct != Some(pct) {
            self.last_pct = Some(pct);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2Kpickupctl: analysing {}: {pct:3}%",
                self.label
            );
            let _ = err.flush();
        }
    }

    /// Remove the line (it is drawn again by the next update).
    fn clear(&mut self) {
        if self.last_pct.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

fn note(progress: &mut Option<Progress>, msg: &str) {
    if let Some(p) = progress {
        p.clear();
    }
    let _ = writeln!(std::io::stderr(), "pickupctl: {msg}");
}

/// `tones analyze`.
pub fn analyze_file(args: &AnalyzeArgs, out: &mut Out<'_>) -> Result<(), CliError> {
    let zone: &Zone = zones::zone(&args.zone)
        .ok_or_else(|| CliError::Usage(crate::args::parse_zone(&args.zone).unwrap_err()))?;
    let mut reader = AudioReader::open(&args.file, args.format)?;
    let info = reader.info().clone();
    let mut progress = Progress::new(
        std::io::stderr().is_terminal(),
        info.frames,
        args.file.display().to_string(),
    );
    for n in reader.notes() {
        note(&mut progress, n);
    }

    let mut analyzer = Analyzer::new(zone);
    let mut counts = [0usize; EVENT_NAMES.len()];
    let mut any = false;
    if !out.json {
        out.text(&format!("{:<11} {:<9} DETAILS", "TIME", "EVENT"))?;
    }
    let mut emit = |events: Vec<Event>,
                    out: &mut Out<'_>,
                    progress: &mut Option<Progress>|
     -> Result<(), CliError> {
        if events.is_empty() {
            return Ok(());
        }
        if let Some(p) = progress {
            p.clear();
        }
        for e in &events {
            any = true;
            if let Some(i) = EVENT_NAMES.iter().position(|&n| n == e.kind.name()) {
                counts[i] += 1;
            }
            if out.json {
                out.text(&event_json(e, &zone.code))?;
            } else {
                out.text(&event_row(e, &zone.code))?;
            }
        }
        Ok(())
    };

    let mut buf = Vec::new();
    loop {
        let more = reader
            .read(&mut buf)
            .map_err(|e| CliError::failed(format!("{}: cannot read: {e}", args.file.display())))?;
        if !more {
            break;
        }
        analyzer.feed(&buf);
        for n in analyzer.take_notes() {
            note(&mut progress, &n);
        }
        emit(analyzer.take_ready(), out, &mut progress)?;
        if let Some(p) = &mut progress {
            p.update(analyzer.samples());
        }
    }
    analyzer.finish();
    if let Some(p) = &mut progress {
        p.clear();
    }
    progress = None;
    for n in analyzer.take_notes() {
        note(&mut progress, &n);
    }
    emit(analyzer.take_ready(), out, &mut progress)?;

    if out.json {
        return Ok(());
    }
    if !any {
        out.text("(no tones found)")?;
    }
    let samples = analyzer.samples();
    let ms = samples * 1000 / u64::from(SAMPLE_RATE);
    out.text("")?;
    out.text(&format!(
        "{}: {} of audio ({:.3} s, {}), zone {} ({})",
        args.file.display(),
        clock(ms),
        ms as f64 / 1000.0,
        info.describe(),
        zone.code,
        zone.name
    ))?;
    let total: usize = counts.iter().sum();
    let list: Vec<String> = EVENT_NAMES
        .iter()
        .zip(counts)
        .filter(|(_, c)| *c > 0)
        .map(|(n, c)| format!("{c} {n}"))
        .collect();
    let summary = match total {
        0 => "0 events".to_owned(),
        1 => format!("1 event: {}", list.join(", ")),
        n => format!("{n} events: {}", list.join(", ")),
    };
    out.text(&summary)
}

/// A zone's call-waiting tone strings, identical ones once.
pub fn zone_tones(z: &Zone) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for cw in &z.call_waiting {
        if !v.contains(&cw.raw.as_str()) {
            v.push(&cw.raw);
        }
    }
    v
}

#[derive(Serialize)]
struct JsonZone<'a> {
    code: &'a str,
    name: &'a str,
    call_waiting: Vec<&'a str>,
}

/// `tones zones`.
pub fn list_zones(out: &mut Out<'_>) -> Result<(), CliError> {
    let all = zones::all();
    if out.json {
        for z in all {
            let j = JsonZone {
                code: &z.code,
                name: &z.name,
                call_waiting: zone_tones(z),
            };
            out.text(&serde_json::to_string(&j).unwrap_or_default())?;
        }
        return Ok(());
    }
    let code_w = all
        .iter()
        .map(|z| z.code.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let name_w = all
        .iter()
        .map(|z| z.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut text = format!(
        "{:<code_w$}  {:<name_w$}  CALL-WAITING TONE(S)",
        "CODE", "NAME"
    );
    for z in all {
        for (i, t) in zone_tones(z).iter().enumerate() {
            let (c, n) = if i == 0 {
                (z.code.as_str(), z.name.as_str())
            } else {
                ("", "")
            };
            text.push('\n');
            text.push_str(format!("{c:<code_w$}  {n:<name_w$}  {t}").trim_end());
        }
    }
    out.text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pickupd_dsp::callerid::CallerId;

    #[test]
    fn clocks() {
        assert_eq!(clock(0), "00:00.000");
        assert_eq!(clock(2_300), "00:02.300");
        assert_eq!(clock(61_005), "01:01.005");
        assert_eq!(clock(3_600_000 + 62_000), "1:01:02.000");
    }

    #[test]
    fn json_shapes() {
        let sas = Event {
            at_sample: 8 * 20_480,
            kind: EventKind::Sas {
                freq_hz: 440.4,
                dur_ms: 300,
                bursts: 1,
            },
        };
        assert_eq!(
            event_json(&sas, "us"),
            r#"{"t_ms":20480,"event":"sas","zone":"us","freq_hz":440,"dur_ms":300}"#
        );
        let dtmf = Event {
            at_sample: 8 * 31_000,
            kind: EventKind::Dtmf {
                digit: '5',
                dur_ms: Some(60),
            },
        };
        assert_eq!(
            event_json(&dtmf, "us"),
            r#"{"t_ms":31000,"event":"dtmf","digit":"5","dur_ms":60}"#
        );
        let cid = Event {
            at_sample: 8 * 40_000,
            kind: EventKind::CallerId(CallerId {
                number: Some("5559876".into()),
                name: Some("BOB".into()),
                ..CallerId::default()
            }),
        };
        assert_eq!(
            event_json(&cid, "us"),
            r#"{"t_ms":40000,"event":"cidcw","number":"5559876","name":"BOB"}"#
        );
        let private = Event {
            at_sample: 0,
            kind: EventKind::CallerId(CallerId {
                number_absent: Some('P'),
                ..CallerId::default()
            }),
        };
        assert_eq!(
            event_json(&private, "us"),
            r#"{"t_ms":0,"event":"cidcw","number":null,"name":null,"number_absent":"P"}"#
        );
        assert_eq!(event_details(&private, "us"), "number private");
    }
}
