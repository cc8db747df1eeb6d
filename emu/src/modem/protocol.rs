//! The modem side of the serial link, sans I/O: a V.250/V.253 command
//! interpreter, result codes, caller-ID lines, and the voice streams with
//! their `<DLE>` shielding both ways (hardware.md §3.1–§3.9).
//!
//! [`ModemCore`] owns the [`Line`] (when things happen) and turns its events
//! into bytes. The I/O thread feeds it host bytes and the time, and writes
//! out what it produced; tests can drive it directly, without a pty.
//!
//! Everything the host sends is untrusted: every buffer is bounded and
//! malformed input ends in `ERROR` (command state) or is ignored (voice
//! state), never in a panic.

use super::audio::WireFormat;
use super::chipset::Chipset;
use super::command::{parse_line, parse_tones, split_args, Cmd, Op, ToneElement};
use super::line::{Line, LineEvent};
use pickupd_hw::v253::{
    escape_audio_into, CallerId, CallerNumber, CommandSet, DleEvent, DtmfDigit, HostDle,
    ModemProfile, ResultLine, SampleFormat, StreamKind, DLE,
};
use std::collections::VecDeque;

/// Longest command line accepted (V.250 requires at least 40 characters);
/// longer ones are discarded and answered `ERROR`.
const MAX_LINE: usize = 256;
/// Most bytes waiting for the host before audio frames are dropped (the
/// host is not reading): about 2 s of 8-bit audio.
const MAX_OUT_AUDIO: usize = 16 * 1024;
/// Hard bound on waiting output; control bytes beyond it are dropped.
const MAX_OUT: usize = 256 * 1024;
/// Most received (host-transmitted) audio kept for the handle: 4 MiB,
/// oldest dropped first.
const MAX_CAPTURE: usize = 4 * 1024 * 1024;
/// Host bytes held while a `+VTS` plays (the modem answers only after).
const MAX_HELD: usize = 4096;

/// Settings that `ATZ` restores.
#[derive(Debug, Clone)]
struct Settings {
    echo: bool,
    verbose: bool,
    quiet: bool,
    fclass: u8,
    label: String,
    method: u16,
    rate: u32,
    cid: u8,
    /// `+VTD`, 10 ms units.
    vtd: u32,
    /// `+VSD` sensitivity (0 = off) and interval in 0.1 s.
    vsd: (u32, u32),
    gain_tx: u32,
    gain_rx: u32,
    event_mask: u32,
    /// USRobotics: DTMF detection stopped by a beep until the line label is
    /// selected again (§3.9).
    dtmf_suspended: bool,
}

impl Settings {
    fn defaults(chipset: &Chipset) -> Self {
        let profile = &chipset.profile;
        let method = profile
            .vsm
            .map(|v| v.id)
            .or_else(|| {
                chipset
                    .methods
                    .iter()
                    .find(|m| m.format.is_pcm())
                    .map(|m| m.id)
            })
            .unwrap_or(0);
        Self {
            echo: true,
            verbose: true,
            quiet: false,
            fclass: 0,
            label: profile.vls_on_hook.clone(),
            method,
            rate: 8000,
            cid: 0,
            vtd: 10,
            vsd: (128, 50),
            gain_tx: 128,
            gain_rx: 128,
            event_mask: 0xBB86_3EE0,
            dtmf_suspended: false,
        }
    }
}

/// What the host has set up, for observers (`ModemHandle::settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemSettings {
    /// `+FCLASS` / `#CLS`: 8 is voice mode.
    pub fclass: u8,
    /// `+VCID` / `#CID`: 0 off, 1 formatted, 2 unformatted caller ID.
    pub caller_id: u8,
    /// The `+VLS` label selected last.
    pub label: String,
    /// Command echo (`ATE`).
    pub echo: bool,
}

/// An open voice stream.
#[derive(Debug, Clone)]
struct Stream {
    kind: StreamKind,
    /// The host may still send audio (`+VTX`, `+VTR`).
    tx: bool,
    /// The modem still sends audio (`+VRX`, `+VTR`).
    rx: bool,
    /// The previous host byte was `<DLE>`.
    dle: bool,
    paused: bool,
    had_voice: bool,
    quiet_since: u64,
    silence_reported: bool,
}

#[derive(Debug, Clone)]
enum Mode {
    Command,
    Voice(Stream),
}

/// How one command of a line went.
enum Outcome {
    Continue,
    /// The line's final result becomes this (unless a later command fails).
    Result(ResultLine),
    /// Takes this long (ms) before the final result (`+VTS`).
    Delay(u64),
    /// Opens a voice stream: `CONNECT`, and the rest of the line is ignored.
    Stream(StreamKind),
    /// Ends the line at once with this final result.
    Final(ResultLine),
    Error,
}

/// The emulated modem: protocol state plus the line behind it.
#[derive(Debug)]
pub struct ModemCore {
    chipset: Chipset,
    settings: Settings,
    mode: Mode,
    input: Vec<u8>,
    discarding: bool,
    /// `+VTS` playing until then; the final result and the held host bytes
    /// follow.
    busy_until: Option<(u64, ResultLine)>,
    held: Vec<u8>,
    out: Vec<u8>,
    overrun: bool,
    captured: VecDeque<u8>,
    /// The telephone line.
    pub line: Line,
}

impl ModemCore {
    /// A modem of `profile`'s family, on-hook, after power-up.
    pub fn new(profile: &ModemProfile, line: Line) -> Self {
        let chipset = Chipset::for_profile(profile);
        let settings = Settings::defaults(&chipset);
        let mut core = Self {
            chipset,
            settings,
            mode: Mode::Command,
            input: Vec::new(),
            discarding: false,
            busy_until: None,
            held: Vec::new(),
            out: Vec::new(),
            overrun: false,
            captured: VecDeque::new(),
            line,
        };
        core.apply_wire();
        core
    }

    /// The family being emulated.
    pub fn chipset(&self) -> &Chipset {
        &self.chipset
    }

    /// The wire format in force.
    pub fn wire(&self) -> WireFormat {
        let format = self
            .chipset
            .method(self.settings.method)
            .map_or(SampleFormat::UnsignedPcm8, |m| m.format);
        WireFormat {
            format,
            rate: self.settings.rate,
        }
    }

    fn apply_wire(&mut self) {
        let wire = self.wire();
        self.line.set_wire(wire);
    }

    /// The settings the host made (voice mode, caller ID, label, echo).
    pub fn settings(&self) -> ModemSettings {
        ModemSettings {
            fclass: self.settings.fclass,
            caller_id: self.settings.cid,
            label: self.settings.label.clone(),
            echo: self.settings.echo,
        }
    }

    /// Whether a voice stream is open, and which.
    pub fn stream(&self) -> Option<StreamKind> {
        match &self.mode {
            Mode::Voice(s) => Some(s.kind),
            Mode::Command => None,
        }
    }

    /// Output waiting for the host; the caller drains what it wrote.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// The modem resets itself (a power glitch, a firmware watchdog): any
    /// stream ends without a word, the settings are the power-up ones
    /// (echo on, data mode, caller ID off), the line goes on hook.
    pub fn power_cycle(&mut self) {
        self.settings = Settings::defaults(&self.chipset);
        self.mode = Mode::Command;
        self.input.clear();
        self.discarding = false;
        self.busy_until = None;
        self.held.clear();
        self.line.on_hook();
        self.apply_wire();
    }

    /// Bytes straight to the host, outside the protocol (line noise, a
    /// confused firmware).
    pub fn inject(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }

    /// Audio the host transmitted (unescaped) since the last call.
    pub fn take_captured(&mut self) -> Vec<u8> {
        self.captured.drain(..).collect()
    }

    // ---- output helpers ----

    fn push(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() <= MAX_OUT {
            self.out.extend_from_slice(bytes);
        }
    }

    fn dle(&mut self, event: DleEvent) {
        self.push(&event.to_bytes());
    }

    fn result(&mut self, line: ResultLine) {
        if self.settings.quiet {
            return;
        }
        if self.settings.verbose {
            self.push(&line.to_verbose_bytes());
            return;
        }
        let code = match line {
            ResultLine::Ok => Some(0),
            ResultLine::Connect(_) => Some(1),
            ResultLine::Ring => Some(2),
            ResultLine::NoCarrier => Some(3),
            ResultLine::Error => Some(4),
            ResultLine::NoDialtone => Some(6),
            ResultLine::Busy => Some(7),
            ResultLine::NoAnswer => Some(8),
            _ => None,
        };
        match code {
            Some(code) => self.push(format!("{code}\r").as_bytes()),
            // No numeric code (VCON, caller ID): the text, as modems do.
            None => self.push(format!("{line}\r\n").as_bytes()),
        }
    }

    fn info(&mut self, text: &str) {
        if self.settings.verbose {
            self.push(format!("\r\n{text}\r\n").as_bytes());
        } else {
            self.push(format!("{text}\r\n").as_bytes());
        }
    }

    // ---- host input ----

    /// Takes bytes the host wrote.
    pub fn feed(&mut self, bytes: &[u8], now: u64) {
        let mut i = 0;
        while i < bytes.len() {
            if self.busy_until.is_some() {
                let room = MAX_HELD.saturating_sub(self.held.len());
                let take = (bytes.len() - i).min(room);
                self.held.extend_from_slice(&bytes[i..i + take]);
                return;
            }
            match self.mode {
                Mode::Voice(_) => i = self.voice_input(bytes, i),
                Mode::Command => {
                    let b = bytes[i];
                    i += 1;
                    self.command_byte(b, now);
                }
            }
        }
    }

    fn command_byte(&mut self, b: u8, now: u64) {
        match b {
            b'\r' => {
                let line = std::mem::take(&mut self.input);
                if std::mem::take(&mut self.discarding) {
                    self.result(ResultLine::Error);
                } else {
                    self.execute(&line, now);
                }
            }
            b'\n' => {}
            // Backspace (S5).
            0x08 => {
                self.input.pop();
            }
            _ if self.discarding => {}
            _ if self.input.len() >= MAX_LINE => {
                self.input.clear();
                self.discarding = true;
            }
            _ => self.input.push(b),
        }
    }

    /// Host bytes of a voice stream from `start`; returns where command
    /// state resumes (the stream may end inside this read).
    fn voice_input(&mut self, bytes: &[u8], start: usize) -> usize {
        let Mode::Voice(stream) = &mut self.mode else {
            return bytes.len();
        };
        let mut i = start;
        let mut end = false;
        while i < bytes.len() && !end {
            let b = bytes[i];
            i += 1;
            if std::mem::take(&mut stream.dle) {
                if b == DLE {
                    if stream.tx {
                        push_capture(&mut self.captured, &[DLE]);
                    }
                    continue;
                }
                match HostDle::from_code(b) {
                    Some(HostDle::EndOfTransmit) => match stream.kind {
                        StreamKind::Transmit => end = true,
                        StreamKind::FullDuplex => {
                            stream.tx = false;
                            end = !stream.rx;
                        }
                        StreamKind::Receive => {}
                    },
                    Some(HostDle::AbortReceive) => match stream.kind {
                        StreamKind::Receive => end = true,
                        StreamKind::FullDuplex => {
                            stream.rx = false;
                            end = !stream.tx;
                        }
                        StreamKind::Transmit => {}
                    },
                    Some(HostDle::EndFullDuplex) => end = stream.kind == StreamKind::FullDuplex,
                    Some(HostDle::GainUp) => {
                        self.settings.gain_tx = (self.settings.gain_tx + 8).min(255);
                    }
                    Some(HostDle::GainDown) => {
                        self.settings.gain_tx = self.settings.gain_tx.saturating_sub(8);
                    }
                    Some(HostDle::Pause) => stream.paused = true,
                    Some(HostDle::Resume) => stream.paused = false,
                    // Audio is handed over as it arrives, so there is no
                    // queue to clear; the inactivity no-op needs nothing.
                    Some(HostDle::ClearTransmit) | Some(HostDle::NoOp) => {}
                    // Unknown host codes are ignored, as modems do.
                    None => {}
                }
                continue;
            }
            if b == DLE {
                stream.dle = true;
                continue;
            }
            if stream.tx {
                // The run up to the next DLE in one go.
                let run_end = bytes[i..]
                    .iter()
                    .position(|&x| x == DLE)
                    .map_or(bytes.len(), |p| i + p);
                push_capture(&mut self.captured, &bytes[i - 1..run_end]);
                i = run_end;
            }
        }
        if end {
            self.end_stream();
        }
        i
    }

    fn end_stream(&mut self) {
        self.mode = Mode::Command;
        self.dle(DleEvent::EndOfStream);
        self.result(ResultLine::Ok);
    }

    // ---- commands ----

    fn execute(&mut self, raw: &[u8], now: u64) {
        let cmds = match parse_line(raw) {
            Ok(None) => return,
            Ok(Some(cmds)) => Some(cmds),
            Err(_) => None,
        };
        if self.settings.echo {
            let mut echo = raw.to_vec();
            echo.push(b'\r');
            self.push(&echo);
        }
        let Some(cmds) = cmds else {
            self.result(ResultLine::Error);
            return;
        };
        let mut result = ResultLine::Ok;
        let mut delay = 0u64;
        for cmd in cmds {
            match self.exec(cmd, now) {
                Outcome::Continue => {}
                Outcome::Result(r) => result = r,
                Outcome::Delay(ms) => delay += ms,
                Outcome::Final(r) => {
                    self.result(r);
                    return;
                }
                Outcome::Error => {
                    self.result(ResultLine::Error);
                    return;
                }
                Outcome::Stream(kind) => {
                    self.result(ResultLine::Connect(None));
                    self.mode = Mode::Voice(Stream {
                        kind,
                        tx: kind != StreamKind::Receive,
                        rx: kind != StreamKind::Transmit,
                        dle: false,
                        paused: false,
                        had_voice: false,
                        quiet_since: now,
                        silence_reported: false,
                    });
                    return;
                }
            }
        }
        if delay > 0 {
            self.busy_until = Some((now + delay, result));
        } else {
            self.result(result);
        }
    }

    fn exec(&mut self, cmd: Cmd, now: u64) -> Outcome {
        match cmd {
            Cmd::Basic { name, value } => self.basic(&name, value.unwrap_or(0), now),
            Cmd::Register { n, value } => {
                if n > 255 || value.is_some_and(|v| v > 255) {
                    return Outcome::Error;
                }
                if value.is_none() {
                    self.info("000");
                }
                Outcome::Continue
            }
            Cmd::Dial(number) => {
                if self.settings.fclass != 8 {
                    return Outcome::Final(ResultLine::NoCarrier);
                }
                let digits = number.trim_end_matches(';');
                if digits
                    .chars()
                    .any(|c| !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'W' | 'P' | 'T' | ',' | '!' | 'a'..='d' | 'w' | 'p' | 't'))
                {
                    return Outcome::Error;
                }
                self.line.dial(digits, now);
                Outcome::Final(ResultLine::Vcon)
            }
            Cmd::Extended { prefix, name, op } => self.extended(prefix, &name, op, now),
        }
    }

    fn basic(&mut self, name: &str, value: u32, now: u64) -> Outcome {
        let flag = |v: u32| if v <= 1 { Some(v == 1) } else { None };
        match name {
            "Z" | "&F" => {
                self.settings = Settings::defaults(&self.chipset);
                self.line.on_hook();
                self.apply_wire();
            }
            "E" => match flag(value) {
                Some(on) => self.settings.echo = on,
                None => return Outcome::Error,
            },
            "V" => match flag(value) {
                Some(on) => self.settings.verbose = on,
                None => return Outcome::Error,
            },
            "Q" => match flag(value) {
                Some(on) => self.settings.quiet = on,
                None => return Outcome::Error,
            },
            "H" => match value {
                0 => {
                    self.line.on_hook();
                    self.settings.label = self.chipset.profile.vls_on_hook.clone();
                }
                1 => self.line.off_hook(now),
                _ => return Outcome::Error,
            },
            "A" => {
                if self.settings.fclass != 8 {
                    return Outcome::Final(ResultLine::NoCarrier);
                }
                self.line.off_hook(now);
                return Outcome::Final(ResultLine::Vcon);
            }
            "I" => {
                if value > 9 {
                    return Outcome::Error;
                }
                let text = self.chipset.ident;
                self.info(text);
            }
            // Speaker, result set, flow control, DCD/DTR options, store:
            // accepted without effect on an emulated line.
            "L" | "M" | "X" | "B" | "&C" | "&D" | "&K" | "&H" | "&R" | "&I" | "&S" | "&W" => {}
            _ => return Outcome::Error,
        }
        Outcome::Continue
    }

    fn extended(&mut self, prefix: u8, name: &str, op: Op, now: u64) -> Outcome {
        let v253 = self.chipset.profile.command_set == CommandSet::V253;
        let own = prefix == self.chipset.prefix();
        let quirks = self.chipset.profile.quirks;
        match (prefix, name) {
            (b'+', "FCLASS") => {
                let classes: &[u8] = if v253 { &[0, 1, 8] } else { &[0, 1, 2] };
                self.class(op, classes)
            }
            (b'#', "CLS") if !v253 => self.class(op, &[0, 1, 2, 8]),
            (b'+', "IFC") => {
                if quirks.no_ifc {
                    Outcome::Error
                } else {
                    self.numbers(op, |_| true)
                }
            }
            (b'+', "VCID") if !quirks.legacy_caller_id => self.caller_id(op),
            (b'#', "CID") if quirks.legacy_caller_id => self.caller_id(op),
            (b'+', "VIT" | "VPR" | "VNH" | "VRA" | "VRN" | "VDR" | "VDT") if v253 => {
                self.numbers(op, |_| true)
            }
            (_, "VGT" | "VGR") if own || prefix == b'+' => match op {
                Op::Set(args) => match args.parse::<u32>() {
                    Ok(v) if v <= 255 => {
                        if name == "VGT" {
                            self.settings.gain_tx = v;
                        } else {
                            self.settings.gain_rx = v;
                        }
                        Outcome::Continue
                    }
                    _ => Outcome::Error,
                },
                Op::Query => {
                    let v = if name == "VGT" {
                        self.settings.gain_tx
                    } else {
                        self.settings.gain_rx
                    };
                    self.info(&v.to_string());
                    Outcome::Continue
                }
                Op::Test => {
                    self.info("(0-255)");
                    Outcome::Continue
                }
                Op::Exec => Outcome::Error,
            },
            (b'+', "VEM") if v253 => match op {
                Op::Set(args) => {
                    let args = args.trim();
                    match u32::from_str_radix(args, 16) {
                        Ok(mask) if (1..=8).contains(&args.len()) => {
                            self.settings.event_mask = mask;
                            Outcome::Continue
                        }
                        _ => Outcome::Error,
                    }
                }
                Op::Query => {
                    self.info(&format!("{:08X}", self.settings.event_mask));
                    Outcome::Continue
                }
                _ => Outcome::Error,
            },
            (_, "VBS" | "VSS" | "VSP") if own && !v253 => self.numbers(op, |_| true),
            (_, _) if !own => Outcome::Error,
            (_, "VLS") => self.voice(|m| m.select_label(op, now)),
            (_, "VSM") => self.voice(|m| m.compression(op)),
            (_, "VRX") if op == Op::Exec => self.voice(|_| Outcome::Stream(StreamKind::Receive)),
            (_, "VTX") if op == Op::Exec => self.voice(|_| Outcome::Stream(StreamKind::Transmit)),
            (_, "VTR") if op == Op::Exec && v253 => {
                self.voice(|_| Outcome::Stream(StreamKind::FullDuplex))
            }
            (_, "VTS") => match op {
                Op::Set(args) => self.voice(|m| m.tones(&args)),
                _ => Outcome::Error,
            },
            (_, "VTD") => match op {
                Op::Set(args) => {
                    // Legacy Rockwell spells it in hex, three times
                    // (`#VTD=3F,3F,3F`); V.253 in decimal.
                    let first = split_args(&args).first().copied().unwrap_or("");
                    let value = if v253 {
                        first.parse::<u32>().ok()
                    } else {
                        u32::from_str_radix(first, 16).ok()
                    };
                    match value {
                        Some(v) if v <= 255 => {
                            self.settings.vtd = v;
                            Outcome::Continue
                        }
                        _ => Outcome::Error,
                    }
                }
                Op::Query => {
                    self.info(&self.settings.vtd.to_string());
                    Outcome::Continue
                }
                _ => Outcome::Error,
            },
            (_, "VSD") => match op {
                Op::Set(args) => {
                    let parts: Vec<Option<u32>> =
                        split_args(&args).iter().map(|a| a.parse().ok()).collect();
                    match parts.as_slice() {
                        [Some(sds), Some(sdi)] if *sds <= 255 && *sdi <= 255 => {
                            self.settings.vsd = (*sds, *sdi);
                            Outcome::Continue
                        }
                        _ => Outcome::Error,
                    }
                }
                Op::Query => {
                    let (a, b) = self.settings.vsd;
                    self.info(&format!("{a},{b}"));
                    Outcome::Continue
                }
                _ => Outcome::Error,
            },
            _ => Outcome::Error,
        }
    }

    /// Voice commands exist only in voice mode (`+FCLASS=8`).
    fn voice(&mut self, f: impl FnOnce(&mut Self) -> Outcome) -> Outcome {
        if self.settings.fclass == 8 {
            f(self)
        } else {
            Outcome::Error
        }
    }

    fn class(&mut self, op: Op, classes: &[u8]) -> Outcome {
        match op {
            Op::Set(args) => match args.parse::<u8>() {
                Ok(c) if classes.contains(&c) => {
                    if c != 8 {
                        self.line.on_hook();
                    }
                    self.settings.fclass = c;
                    Outcome::Continue
                }
                _ => Outcome::Error,
            },
            Op::Query => {
                self.info(&self.settings.fclass.to_string());
                Outcome::Continue
            }
            Op::Test => {
                let list: Vec<String> = classes.iter().map(u8::to_string).collect();
                self.info(&list.join(","));
                Outcome::Continue
            }
            Op::Exec => Outcome::Error,
        }
    }

    /// A command whose arguments must be numbers (decimal or hex, comma
    /// separated); accepted without effect.
    fn numbers(&mut self, op: Op, ok: impl Fn(&str) -> bool) -> Outcome {
        match op {
            Op::Set(args) => {
                let valid = split_args(&args)
                    .iter()
                    .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_hexdigit()) && ok(a));
                if valid {
                    Outcome::Continue
                } else {
                    Outcome::Error
                }
            }
            Op::Query => {
                self.info("0");
                Outcome::Continue
            }
            Op::Test | Op::Exec => Outcome::Continue,
        }
    }

    fn caller_id(&mut self, op: Op) -> Outcome {
        match op {
            Op::Set(args) => match args.parse::<u8>() {
                Ok(n) if n <= 2 => {
                    self.settings.cid = n;
                    Outcome::Continue
                }
                _ => Outcome::Error,
            },
            Op::Query => {
                self.info(&self.settings.cid.to_string());
                Outcome::Continue
            }
            Op::Test => {
                self.info("(0-2)");
                Outcome::Continue
            }
            Op::Exec => Outcome::Error,
        }
    }

    fn select_label(&mut self, op: Op, now: u64) -> Outcome {
        match op {
            Op::Set(args) => {
                let Some(label) = self.chipset.label(args.trim()).cloned() else {
                    return Outcome::Error;
                };
                match label.off_hook {
                    Some(true) => self.line.off_hook(now),
                    Some(false) => self.line.on_hook(),
                    None => {}
                }
                self.settings.label = label.label.to_owned();
                if label
                    .label
                    .eq_ignore_ascii_case(&self.chipset.profile.vls_line)
                {
                    self.settings.dtmf_suspended = false;
                }
                let legacy = self.chipset.profile.command_set == CommandSet::Hash;
                if legacy || label.off_hook == Some(true) {
                    Outcome::Result(ResultLine::Vcon)
                } else {
                    Outcome::Continue
                }
            }
            Op::Query => {
                let label = self.settings.label.clone();
                self.info(&label);
                Outcome::Continue
            }
            Op::Test => {
                let lines: Vec<String> = self
                    .chipset
                    .labels
                    .iter()
                    .map(|l| {
                        format!(
                            "{},\"{}\",{:08X},{:08X},{:08X}",
                            l.label, l.primitives, l.masks[0], l.masks[1], l.masks[2]
                        )
                    })
                    .collect();
                for line in lines {
                    self.info(&line);
                }
                Outcome::Continue
            }
            Op::Exec => Outcome::Error,
        }
    }

    fn compression(&mut self, op: Op) -> Outcome {
        match op {
            Op::Set(args) => {
                let parts = split_args(&args);
                let number = |i: usize| parts.get(i).map(|p| p.parse::<u32>().ok());
                let Some(Some(id)) = number(0) else {
                    return Outcome::Error;
                };
                let rate = match number(1) {
                    None => 8000,
                    Some(Some(rate)) => rate,
                    Some(None) => return Outcome::Error,
                };
                // Silence compression and its selection: only 0 exists here.
                for i in 2..parts.len() {
                    if number(i) != Some(Some(0)) {
                        return Outcome::Error;
                    }
                }
                if parts.len() > 4 {
                    return Outcome::Error;
                }
                let Some(method) = u16::try_from(id)
                    .ok()
                    .and_then(|id| self.chipset.method(id))
                else {
                    return Outcome::Error;
                };
                if !method.rates.contains(&rate) {
                    return Outcome::Error;
                }
                self.settings.method = method.id;
                self.settings.rate = rate;
                self.apply_wire();
                Outcome::Continue
            }
            Op::Query => {
                let text = format!("{},{},0,0", self.settings.method, self.settings.rate);
                self.info(&text);
                Outcome::Continue
            }
            Op::Test => {
                let lines: Vec<String> =
                    self.chipset.methods.iter().map(|m| m.list_line()).collect();
                for line in lines {
                    self.info(&line);
                }
                Outcome::Continue
            }
            Op::Exec => Outcome::Error,
        }
    }

    fn tones(&mut self, args: &str) -> Outcome {
        let Some(tones) = parse_tones(args, self.settings.vtd) else {
            return Outcome::Error;
        };
        let has_flash = tones.iter().any(|t| matches!(t, ToneElement::Flash(_)));
        if has_flash
            && (self.chipset.profile.command_set == CommandSet::Hash || !self.line.state().off_hook)
        {
            // §3.7 defines `!` for +VTS only, and a flash needs a line.
            return Outcome::Error;
        }
        let mut total = 0u64;
        for tone in tones {
            match tone {
                ToneElement::Digit(d, _) => {
                    if let Some(d) = DtmfDigit::from_ascii(d) {
                        self.line.send_digit(d);
                    }
                }
                ToneElement::Flash(_) => self.line.flash(),
                ToneElement::Dual(_) => {}
            }
            total += u64::from(tone.duration()) * 10;
        }
        if self.chipset.profile.quirks.reselect_line_after_tones {
            self.settings.dtmf_suspended = true;
        }
        Outcome::Delay(total)
    }

    // ---- time ----

    /// Advances to `now` (ms): ends a `+VTS`, moves the line, and produces
    /// the due events and audio.
    pub fn advance(&mut self, now: u64) {
        if let Some((until, result)) = self.busy_until.clone() {
            if now >= until {
                self.busy_until = None;
                self.result(result);
                let held = std::mem::take(&mut self.held);
                self.feed(&held, now);
            }
        }
        for event in self.line.advance(now) {
            self.line_event(event);
        }
        let frames = self.line.audio_frames(now);
        for (frame, voice) in frames {
            self.audio_frame(&frame, voice, now);
        }
    }

    fn audio_frame(&mut self, frame: &[u8], voice: bool, now: u64) {
        let lucent = self.chipset.profile.quirks.s_is_only_silence_report;
        let (sds, sdi) = self.settings.vsd;
        let Mode::Voice(stream) = &mut self.mode else {
            return;
        };
        if !stream.rx {
            return;
        }
        let mut report = None;
        if voice {
            stream.had_voice = true;
            stream.quiet_since = now;
            stream.silence_reported = false;
        } else if sds != 0
            && !stream.silence_reported
            && now.saturating_sub(stream.quiet_since) >= u64::from(sdi) * 100
        {
            stream.silence_reported = true;
            report = Some(if stream.had_voice && !lucent {
                DleEvent::QuietAfterVoice
            } else {
                DleEvent::NoVoiceEnergy
            });
        }
        if let Some(event) = report {
            self.dle(event);
        }
        if self.out.len() + frame.len() * 2 > MAX_OUT_AUDIO {
            // The host is not reading: the modem's buffer overruns.
            self.overrun = true;
            return;
        }
        if std::mem::take(&mut self.overrun) {
            self.dle(DleEvent::ReceiveOverrun);
        }
        let mut escaped = Vec::with_capacity(frame.len() + 8);
        escape_audio_into(frame, &mut escaped);
        self.push(&escaped);
    }

    fn line_event(&mut self, event: LineEvent) {
        let in_stream = matches!(self.mode, Mode::Voice(_));
        match event {
            LineEvent::Ring => {
                if in_stream {
                    self.dle(DleEvent::Ring);
                } else {
                    self.result(ResultLine::Ring);
                }
            }
            LineEvent::CallerId(caller) => {
                if !in_stream {
                    self.caller_id_lines(&caller);
                }
            }
            LineEvent::Dtmf(digit) => {
                if !self.settings.dtmf_suspended {
                    self.dle(DleEvent::Dtmf(digit));
                }
            }
            LineEvent::LoopBreak => self.dle(DleEvent::LoopBreak),
            LineEvent::Busy => self.dle(DleEvent::Busy),
            LineEvent::DialTone => self.dle(DleEvent::DialTone),
            LineEvent::CallWaiting(caller) => {
                if self.chipset.reports_call_waiting() {
                    self.dle(DleEvent::CallWaiting);
                }
                if let Some(caller) = caller.filter(|c| !c.is_empty()) {
                    if self.chipset.reports_cidcw() {
                        let mut body = Vec::new();
                        for field in self.cid_fields(&caller) {
                            body.extend_from_slice(field.as_bytes());
                            body.extend_from_slice(b"\r\n");
                        }
                        self.push(&[DLE, b'X']);
                        let mut escaped = Vec::new();
                        escape_audio_into(&body, &mut escaped);
                        self.push(&escaped);
                        self.push(&[DLE, b'.']);
                    }
                }
            }
            LineEvent::Handset { off_hook } => {
                let event = if !off_hook {
                    DleEvent::HandsetOnHook
                } else if self.chipset.profile.quirks.dle_t_is_handset_off_hook {
                    DleEvent::TddDetected // `t`: Rockwell's handset off-hook (§3.9)
                } else {
                    DleEvent::HandsetOffHook
                };
                self.dle(event);
            }
        }
    }

    /// The §3.8 lines for a caller, in this family's spelling.
    fn cid_fields(&self, caller: &CallerId) -> Vec<String> {
        let sep = if self.chipset.cid_spaced { " = " } else { "=" };
        let mut lines = Vec::new();
        let mut add = |key: &str, value: &str| {
            // A value cannot break the line framing.
            let value: String = value.chars().filter(|c| !c.is_control()).take(64).collect();
            lines.push(format!("{key}{sep}{value}"));
        };
        if let Some(date) = &caller.date {
            add("DATE", date);
        }
        if let Some(time) = &caller.time {
            add("TIME", time);
        }
        if let Some(number) = &caller.number {
            add("NMBR", number_text(number));
        }
        if let Some(name) = &caller.name {
            add("NAME", name);
        }
        if let Some(dialled) = &caller.dialled {
            add("DDN_NMBR", dialled);
        }
        for mesg in &caller.messages {
            add("MESG", mesg);
        }
        lines
    }

    fn caller_id_lines(&mut self, caller: &CallerId) {
        match self.settings.cid {
            1 => {
                for line in self.cid_fields(caller) {
                    self.info(&line);
                }
            }
            2 => {
                let hex: String = mdmf(caller).iter().map(|b| format!("{b:02X}")).collect();
                self.info(&hex);
            }
            _ => {}
        }
    }
}

fn number_text(number: &CallerNumber) -> &str {
    match number {
        CallerNumber::Number(n) => n,
        CallerNumber::Private => "P",
        CallerNumber::Unavailable => "O",
    }
}

/// The Bellcore MDMF message with checksum, as `+VCID=2` prints it.
fn mdmf(caller: &CallerId) -> Vec<u8> {
    let mut body = Vec::new();
    let mut param = |kind: u8, value: &[u8]| {
        let value = &value[..value.len().min(64)];
        body.push(kind);
        body.push(value.len() as u8);
        body.extend_from_slice(value);
    };
    if let (Some(date), Some(time)) = (&caller.date, &caller.time) {
        let stamp = format!("{date:0>4.4}{time:0>4.4}");
        param(0x01, stamp.as_bytes());
    }
    match &caller.number {
        Some(CallerNumber::Number(n)) => param(0x02, n.as_bytes()),
        Some(other) => param(0x04, number_text(other).as_bytes()),
        None => {}
    }
    if let Some(name) = &caller.name {
        param(0x07, name.as_bytes());
    }
    let mut msg = vec![0x80, body.len() as u8];
    msg.extend_from_slice(&body);
    let sum = msg.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    msg.push(sum.wrapping_neg());
    msg
}

fn push_capture(captured: &mut VecDeque<u8>, bytes: &[u8]) {
    captured.extend(bytes);
    let excess = captured.len().saturating_sub(MAX_CAPTURE);
    captured.drain(..excess);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::line::RingCadence;
    use pickupd_hw::v253::decode_unformatted;
    use pickupd_hw::v253::dle::ETX;

    fn core(profile: ModemProfile) -> ModemCore {
        ModemCore::new(&profile, Line::new(RingCadence::default()))
    }

    fn say(core: &mut ModemCore, text: &str) -> String {
        core.feed(text.as_bytes(), 0);
        String::from_utf8_lossy(&std::mem::take(core.output())).into_owned()
    }

    #[test]
    fn echo_results_and_errors() {
        let mut m = core(ModemProfile::conexant());
        assert_eq!(say(&mut m, "ATZ\r"), "ATZ\r\r\nOK\r\n");
        assert_eq!(say(&mut m, "ATE0V1Q0\r"), "ATE0V1Q0\r\r\nOK\r\n");
        assert_eq!(say(&mut m, "AT+VSM=130,8000\r"), "\r\nERROR\r\n");
        assert_eq!(say(&mut m, "AT+FCLASS=8\r"), "\r\nOK\r\n");
        assert_eq!(say(&mut m, "AT+VSM=130,8000\r"), "\r\nOK\r\n");
        assert_eq!(say(&mut m, "AT+BOGUS\r"), "\r\nERROR\r\n");
        assert_eq!(say(&mut m, "hello\r"), "");
        assert_eq!(say(&mut m, "ATV0\r"), "0\r");
        assert_eq!(say(&mut m, "AT+NOPE\r"), "4\r");
        let long = format!("AT{}\r", "E".repeat(400));
        assert_eq!(say(&mut m, &long), "4\r");
        assert_eq!(say(&mut m, "AT\r"), "0\r");
    }

    #[test]
    fn legacy_rockwell_uses_hash_commands_and_h1() {
        let mut m = core(ModemProfile::rockwell_legacy());
        say(&mut m, "ATE0\r");
        assert_eq!(say(&mut m, "AT+FCLASS=8\r"), "\r\nERROR\r\n");
        assert_eq!(say(&mut m, "AT#CLS=8\r"), "\r\nOK\r\n");
        assert_eq!(say(&mut m, "AT+VCID=1\r"), "\r\nERROR\r\n");
        assert_eq!(say(&mut m, "AT#CID=1\r"), "\r\nOK\r\n");
        assert_eq!(say(&mut m, "AT#VLS=0\r"), "\r\nVCON\r\n");
        assert!(!m.line.state().off_hook);
        assert_eq!(say(&mut m, "ATH1\r"), "\r\nOK\r\n");
        assert!(m.line.state().off_hook);
        assert_eq!(say(&mut m, "AT#VTR\r"), "\r\nERROR\r\n");
        assert_eq!(say(&mut m, "AT#VTD=3F,3F,3F\r"), "\r\nOK\r\n");
    }

    #[test]
    fn unformatted_caller_id_decodes_in_hw() {
        let caller = CallerId {
            date: Some("0321".into()),
            time: Some("1405".into()),
            number: Some(CallerNumber::Number("5551234".into())),
            name: Some("DOE JOHN".into()),
            ..CallerId::default()
        };
        let hex: String = mdmf(&caller).iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(decode_unformatted(&hex), Ok(caller));
    }

    #[test]
    fn transmit_stream_unescapes_and_ends_with_etx() {
        let mut m = core(ModemProfile::conexant());
        say(&mut m, "ATE0\r");
        say(&mut m, "AT+FCLASS=8\r");
        assert_eq!(say(&mut m, "AT+VTX\r"), "\r\nCONNECT\r\n");
        m.feed(&[1, DLE, DLE, 2, DLE, b'u', 3, DLE, ETX], 0);
        assert_eq!(m.take_captured(), vec![1, DLE, 2, 3]);
        assert_eq!(std::mem::take(m.output()), b"\x10\x03\r\nOK\r\n");
        assert_eq!(m.stream(), None);
    }
}
