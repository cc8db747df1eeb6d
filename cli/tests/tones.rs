//! `pickupctl tones …`: recordings made with the DSP crate's own generators,
//! written as WAV / µ-law / A-law / s16le files and analysed by the binary.
//! No daemon and no bus is involved.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pickupd_dsp::callerid::{encode_mdmf, CallerId};
use pickupd_dsp::cas::CasGenerator;
use pickupd_dsp::dtmf::DtmfGenerator;
use pickupd_dsp::fsk::FskTransmitter;
use pickupd_dsp::g711::{alaw_encode, ulaw_encode};
use pickupd_dsp::tones::{ProgressTone, ToneGenerator};
use pickupd_dsp::zones;
use serde_json::Value;

const TOLERANCE_MS: i64 = 40;

// ------------------------------------------------------------------ helpers

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("pickupctl-tones-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pickupctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pickupctl"))
        .args(args)
        // Any attempt to use a bus would fail: the tones commands must not try.
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/system_bus",
        )
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/session_bus",
        )
        .output()
        .expect("run pickupctl")
}

fn run_ok(args: &[&str]) -> String {
    let o = pickupctl(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: stderr {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8 stdout")
}

/// A recording being built, with the position of each piece.
#[derive(Default)]
struct Rec {
    s: Vec<i16>,
}

impl Rec {
    fn now_ms(&self) -> i64 {
        (self.s.len() / 8) as i64
    }

    fn silence(&mut self, ms: usize) {
        self.s.resize(self.s.len() + ms * 8, 0);
    }

    fn fill(&mut self, ms: usize, f: &mut dyn FnMut(&mut [i16])) {
        let at = self.s.len();
        self.s.resize(at + ms * 8, 0);
        f(&mut self.s[at..]);
    }
}

fn s16le(s: &[i16]) -> Vec<u8> {
    s.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn ulaw(s: &[i16]) -> Vec<u8> {
    s.iter().map(|&v| ulaw_encode(v)).collect()
}

fn alaw(s: &[i16]) -> Vec<u8> {
    s.iter().map(|&v| alaw_encode(v)).collect()
}

/// A WAV file: RIFF, an odd-sized chunk to skip, fmt, data.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend(tag.to_le_bytes());
    fmt.extend(channels.to_le_bytes());
    fmt.extend(rate.to_le_bytes());
    fmt.extend((rate * u32::from(block)).to_le_bytes());
    fmt.extend(block.to_le_bytes());
    fmt.extend(bits.to_le_bytes());
    if tag != 1 {
        fmt.extend(0u16.to_le_bytes()); // cbSize
    }
    let mut body = b"WAVE".to_vec();
    body.extend(b"junk");
    body.extend(3u32.to_le_bytes());
    body.extend([1, 2, 3, 0]); // three bytes and the pad byte
    body.extend(b"fmt ");
    body.extend((fmt.len() as u32).to_le_bytes());
    body.extend(&fmt);
    body.extend(b"data");
    body.extend((data.len() as u32).to_le_bytes());
    body.extend(data);
    if data.len() % 2 == 1 {
        body.push(0);
    }
    let mut out = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// What a test recording should produce.
#[derive(Debug, Clone)]
struct Expect {
    event: &'static str,
    t_ms: i64,
    check: fn(&Value),
}

/// The scene: SAS + CAS + 'D' ACK + MDMF caller id, DTMF digits, dial tone,
/// busy, ringback, reorder, with silence around.
fn scene() -> (Vec<i16>, Vec<Expect>) {
    let us = zones::zone("us").expect("us zone");
    let mut r = Rec::default();
    let mut ex = Vec::new();
    let at = |r: &Rec, event: &'static str, check: fn(&Value)| Expect {
        event,
        t_ms: r.now_ms(),
        check,
    };

    r.silence(2000);
    ex.push(at(&r, "sas", |v| {
        assert_eq!(v["zone"], "us");
        let f = v["freq_hz"].as_i64().expect("freq_hz");
        assert!((430..=450).contains(&f), "{v}");
        let d = v["dur_ms"].as_i64().expect("dur_ms");
        assert!((260..=340).contains(&d), "{v}");
    }));
    let mut sas = ToneGenerator::sas(us);
    r.fill(300, &mut |o| sas.fill(o));
    // CAS right after the SAS, no gap (signals.md §2).
    ex.push(at(&r, "cas", |v| {
        let d = v["dur_ms"].as_i64().expect("dur_ms");
        assert!((70..=90).contains(&d), "{v}");
    }));
    let mut cas = CasGenerator::new(80, -20.0);
    r.fill(80, &mut |o| {
        cas.fill(o);
    });
    // The CPE's 'D' acknowledgement 40 ms later, 60 ms long.
    r.silence(40);
    ex.push(at(&r, "dtmf", |v| {
        assert_eq!(v["digit"], "D");
        let d = v["dur_ms"].as_i64().expect("dur_ms");
        assert!((45..=75).contains(&d), "{v}");
    }));
    let mut ack = DtmfGenerator::new();
    ack.push_digits("D").expect("digit");
    r.fill(60, &mut |o| ack.fill(o));
    // Interval D, then the FSK caller id (70 ms mark, MDMF).
    r.silence(100);
    ex.push(at(&r, "cidcw", |v| {
        assert_eq!(v["number"], "5559876");
        assert_eq!(v["name"], "BOB");
    }));
    let msg = encode_mdmf(&CallerId {
        number: Some("5559876".into()),
        name: Some("BOB".into()),
        ..CallerId::default()
    });
    let mut fsk = FskTransmitter::new(-13.5);
    fsk.queue_message(&msg, 70);
    let mut chunk = [0i16; 8];
    while !fsk.is_idle() {
        fsk.fill(&mut chunk);
        r.s.extend_from_slice(&chunk);
    }
    let quiet = 4000 - r.now_ms();
    r.silence(quiet as usize);

    // Two digits, 60 ms on / 60 ms off.
    let mut dtmf = DtmfGenerator::new();
    dtmf.push_digits("59").expect("digits");
    ex.push(at(&r, "dtmf", |v| assert_eq!(v["digit"], "5")));
    r.fill(120, &mut |o| dtmf.fill(o));
    ex.push(at(&r, "dtmf", |v| {
        assert_eq!(v["digit"], "9");
        let d = v["dur_ms"].as_i64().expect("dur_ms");
        assert!((45..=75).contains(&d), "{v}");
    }));
    r.fill(120, &mut |o| dtmf.fill(o));
    r.silence(760);

    // Call-progress tones.
    ex.push(at(&r, "dialtone", |v| {
        assert_eq!(v["freqs_hz"], serde_json::json!([350, 440]))
    }));
    let mut dial = ToneGenerator::progress(ProgressTone::Dial, "us");
    r.fill(1500, &mut |o| dial.fill(o));
    r.silence(1000);
    ex.push(at(&r, "busy", |v| {
        assert_eq!(v["freqs_hz"], serde_json::json!([480, 620]))
    }));
    let mut busy = ToneGenerator::progress(ProgressTone::Busy, "us");
    r.fill(3000, &mut |o| busy.fill(o));
    r.silence(1000);
    ex.push(at(&r, "ringback", |v| {
        assert_eq!(v["freqs_hz"], serde_json::json!([440, 480]))
    }));
    let mut ring = ToneGenerator::progress(ProgressTone::Ringback, "us");
    r.fill(6000, &mut |o| ring.fill(o));
    ex.push(at(&r, "reorder", |v| {
        assert_eq!(v["freqs_hz"], serde_json::json!([480, 620]))
    }));
    let mut reorder = ToneGenerator::progress(ProgressTone::Reorder, "us");
    r.fill(1500, &mut |o| reorder.fill(o));
    r.silence(1000);
    (r.s, ex)
}

fn json_events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn check_events(got: &[Value], want: &[Expect], what: &str) {
    let kinds: Vec<&str> = got
        .iter()
        .map(|v| v["event"].as_str().unwrap_or("?"))
        .collect();
    let want_kinds: Vec<&str> = want.iter().map(|e| e.event).collect();
    assert_eq!(kinds, want_kinds, "{what}: events {got:#?}");
    let mut last = 0;
    for (v, e) in got.iter().zip(want) {
        let t = v["t_ms"].as_i64().expect("t_ms");
        assert!(
            (t - e.t_ms).abs() <= TOLERANCE_MS,
            "{what}: {} at {t} ms, placed at {} ms: {v}",
            e.event,
            e.t_ms
        );
        assert!(t >= last, "{what}: not in time order: {got:#?}");
        last = t;
        (e.check)(v);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write recording");
}

// -------------------------------------------------------------------- tests

#[test]
fn every_format_gives_the_same_events() {
    let (s, want) = scene();
    let dir = TempDir::new("formats");
    let files: Vec<(String, Vec<u8>, Option<&str>)> = vec![
        ("pcm.wav".into(), wav(1, 1, 8000, 16, &s16le(&s)), None),
        ("ulaw.wav".into(), wav(7, 1, 8000, 8, &ulaw(&s)), None),
        ("alaw.wav".into(), wav(6, 1, 8000, 8, &alaw(&s)), None),
        ("rec.ul".into(), ulaw(&s), None),
        ("rec.ulaw".into(), ulaw(&s), None),
        ("rec.al".into(), alaw(&s), None),
        ("rec.raw".into(), s16le(&s), None),
        ("rec.sln".into(), s16le(&s), None),
        ("rec.s16".into(), s16le(&s), None),
        // --format wins over the name; a WAV header wins over a wrong name.
        ("rec.bin".into(), ulaw(&s), Some("ulaw")),
        ("rec.dat".into(), alaw(&s), Some("alaw")),
        ("rec.pcm16".into(), s16le(&s), Some("s16le")),
        ("misnamed.raw".into(), wav(7, 1, 8000, 8, &ulaw(&s)), None),
        (
            "explicit.wav".into(),
            wav(1, 1, 8000, 16, &s16le(&s)),
            Some("wav"),
        ),
    ];
    for (name, bytes, format) in &files {
        let path = dir.path(name);
        write(&path, bytes);
        let p = path.to_str().expect("path");
        let mut args = vec!["--json", "tones", "analyze", p];
        if let Some(f) = format {
            args.extend(["--format", f]);
        }
        let out = run_ok(&args);
        check_events(&json_events(&out), &want, name);
    }
}

#[test]
fn table_and_summary() {
    let (s, want) = scene();
    let dir = TempDir::new("table");
    let path = dir.path("scene.wav");
    write(&path, &wav(7, 1, 8000, 8, &ulaw(&s)));
    let o = pickupctl(&["tones", "analyze", path.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{text}");
    assert!(
        lines[0].contains("EVENT") && lines[0].contains("DETAILS"),
        "{text}"
    );
    // One row per event, in order, time as mm:ss.mmm.
    for (row, e) in lines[1..].iter().zip(&want) {
        let mut cols = row.split_whitespace();
        let time = cols.next().expect("time");
        let kind = cols.next().expect("event");
        assert_eq!(kind, e.event, "{text}");
        let (mm, rest) = time.split_once(':').expect("mm:ss.mmm");
        let (ss, ms) = rest.split_once('.').expect("ss.mmm");
        assert_eq!((mm.len(), ss.len(), ms.len()), (2, 2, 3), "{time}");
        let t: i64 = mm.parse::<i64>().unwrap() * 60_000
            + ss.parse::<i64>().unwrap() * 1000
            + ms.parse::<i64>().unwrap();
        assert!((t - e.t_ms).abs() <= TOLERANCE_MS, "{row}");
    }
    assert!(text.contains("5559876") && text.contains("BOB"), "{text}");
    assert!(text.contains("440 Hz"), "{text}");
    // Summary: the length of the audio and the counts.
    let secs = s.len() as f64 / 8000.0;
    assert!(text.contains(&format!("{secs:.3} s")), "{text}");
    assert!(text.contains("µ-law WAV"), "{text}");
    assert!(text.contains("zone us"), "{text}");
    let last = lines.last().expect("summary");
    assert_eq!(
        *last,
        "10 events: 1 sas, 1 cas, 1 cidcw, 3 dtmf, 1 dialtone, 1 ringback, 1 busy, 1 reorder",
        "{text}"
    );
    // Not a terminal: no progress on stderr.
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn silence_finds_nothing() {
    let dir = TempDir::new("silence");
    let path = dir.path("quiet.sln");
    write(&path, &s16le(&vec![0i16; 8000]));
    let p = path.to_str().expect("path");
    assert_eq!(run_ok(&["--json", "tones", "analyze", p]), "");
    let text = run_ok(&["tones", "analyze", p]);
    assert!(text.contains("no tones found"), "{text}");
    assert!(text.contains("00:01.000 of audio"), "{text}");
    assert!(text.trim_end().ends_with("0 events"), "{text}");
}

#[test]
fn other_zone() {
    // The UK call-waiting tone (400 Hz, 100 ms) found with --zone uk, not with us.
    let uk = zones::zone("uk").expect("uk");
    let mut r = Rec::default();
    r.silence(1000);
    let mut g = ToneGenerator::sas(uk);
    r.fill(600, &mut |o| g.fill(o));
    r.silence(2000);
    let dir = TempDir::new("zone");
    let path = dir.path("uk.wav");
    write(&path, &wav(1, 1, 8000, 16, &s16le(&r.s)));
    let p = path.to_str().expect("path");
    let got = json_events(&run_ok(&["--json", "tones", "analyze", p, "--zone", "UK"]));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["event"], "sas");
    assert_eq!(got[0]["zone"], "uk");
    assert!((got[0]["t_ms"].as_i64().unwrap() - 1000).abs() <= TOLERANCE_MS);
    let got = json_events(&run_ok(&["--json", "tones", "analyze", p]));
    assert!(got.is_empty(), "{got:#?}");
}

#[test]
fn stereo_uses_the_first_channel() {
    let (s, want) = scene();
    // Left: the scene; right: a 1 kHz tone that must not matter.
    let mut data = Vec::with_capacity(s.len() * 4);
    for (i, v) in s.iter().enumerate() {
        data.extend(v.to_le_bytes());
        let r = (8000.0 * (i as f64 * std::f64::consts::TAU * 1000.0 / 8000.0).sin()) as i16;
        data.extend(r.to_le_bytes());
    }
    let dir = TempDir::new("stereo");
    let path = dir.path("stereo.wav");
    write(&path, &wav(1, 2, 8000, 16, &data));
    let o = pickupctl(&["--json", "tones", "analyze", path.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2 channels") && err.contains("first"), "{err}");
    assert!(err.contains("remix"), "{err}");
    check_events(
        &json_events(&String::from_utf8(o.stdout).expect("utf-8")),
        &want,
        "stereo",
    );
}

#[test]
fn unsupported_sample_rate() {
    let dir = TempDir::new("rate");
    let path = dir.path("cd.wav");
    write(&path, &wav(1, 1, 44_100, 16, &s16le(&vec![0i16; 4410])));
    let o = pickupctl(&["tones", "analyze", path.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("44100 Hz"), "{err}");
    assert!(err.contains("sox") && err.contains("-r 8000"), "{err}");
}

#[test]
fn unsupported_encodings_and_bad_files() {
    let dir = TempDir::new("bad");
    let float = dir.path("float.wav");
    write(&float, &wav(3, 1, 8000, 32, &[0u8; 64]));
    let eight = dir.path("eight.wav");
    write(&eight, &wav(1, 1, 8000, 8, &[128u8; 64]));
    let not_wav = dir.path("text.wav");
    write(&not_wav, b"hello, this is not audio");
    let missing = dir.path("missing.wav");
    for p in [&float, &eight, &not_wav, &missing] {
        let o = pickupctl(&["tones", "analyze", p.to_str().expect("path")]);
        assert_eq!(o.status.code(), Some(1), "{p:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(p.to_str().unwrap()), "{err}");
    }
    // A format that cannot be told is a usage error.
    let unknown = dir.path("recording.xyz");
    write(&unknown, &[0u8; 100]);
    let o = pickupctl(&["tones", "analyze", unknown.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--format"));
}

#[test]
fn unknown_zone_is_a_usage_error() {
    let o = pickupctl(&["tones", "analyze", "whatever.wav", "--zone", "atlantis"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("atlantis"), "{err}");
    assert!(err.contains("pickupctl tones zones"), "{err}");
    let o = pickupctl(&["tones", "analyze", "x.wav", "--format", "mp3"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn zones_list() {
    let out = run_ok(&["--json", "tones", "zones"]);
    let zones: Vec<Value> = json_events(&out);
    assert_eq!(zones.len(), 94);
    let find = |code: &str| {
        zones
            .iter()
            .find(|z| z["code"] == code)
            .unwrap_or_else(|| panic!("no zone {code}"))
    };
    let us = find("us");
    assert!(us["name"].as_str().unwrap().contains("United States"));
    let tones: Vec<&str> = us["call_waiting"]
        .as_array()
        .expect("call_waiting")
        .iter()
        .map(|t| t.as_str().expect("tone string"))
        .collect();
    assert_eq!(tones[0], "440/300,0/10000");
    assert_eq!(
        tones.iter().filter(|&&t| t == "440/300,0/10000").count(),
        1,
        "identical strings once"
    );
    assert_eq!(find("uk")["call_waiting"][0], "400/100,0/4000");
    assert_eq!(find("de")["name"], "Germany");

    let table = run_ok(&["tones", "zones"]);
    let mut lines = table.lines();
    let head = lines.next().expect("header");
    assert!(head.starts_with("CODE") && head.contains("NAME") && head.contains("CALL-WAITING"));
    let codes: Vec<&str> = lines
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().expect("code"))
        .collect();
    assert_eq!(codes.len(), 94, "{table}");
    for c in ["us", "uk", "de"] {
        assert!(codes.contains(&c), "{c}");
    }
    assert!(table.contains("440/300,0/10000"));
}

#[test]
fn no_bus_is_touched() {
    // Bus options are accepted and ignored.
    let out = run_ok(&[
        "--address",
        "unix:path=/nonexistent/bus",
        "--json",
        "tones",
        "zones",
    ]);
    assert_eq!(out.lines().count(), 94);
}
