//! Per-country call-waiting tones (signals.md §5), parsed once from the
//! embedded `data/callwaiting_tones.csv` (94 zones, 174 rows from DAHDI
//! `zonedata.c`, Asterisk `indications.conf.sample` and spandsp
//! `global-tones.xml`).
//!
//! Tone-string notation, as written in the CSV:
//!
//! | Token | Meaning | Stored as |
//! |---|---|---|
//! | `f/ms`, `0/ms` | tone / silence for ms | `freqs`, `ms` |
//! | `f` (no duration) | continuous | `ms: None` |
//! | `f1+f2` | sum | `freqs: [f1, f2]` |
//! | `f1*f2` | f1 amplitude-modulated by f2 | `freqs: [f1]`, `modulation_hz: Some(f2)` |
//! | `!elem` | played once only | `once` |
//! | `f@` (DAHDI) | amplitude × 0.3 | `attenuated` |
//! | `…@L` | level L dBm0 | `level_dbm0` |
//! | `[ … ]xN` | bracket repeated N times | expanded in place |
//! | `[ … ]xendless` | bracket repeated forever | expanded once (cadences loop anyway) |
//! | `a\|\|b` | alternative frequencies | first in `freqs`, others in `alternatives` |
//! | `[1%]`, `[10%]`, `[1.5dB]` | tolerances | `freq_tolerance_pct`, `ms_tolerance_pct`, `level_tolerance_db` |

use std::fmt;
use std::sync::OnceLock;

/// The embedded CSV (`country_code,country_name,tone_string,source`).
pub const CALL_WAITING_CSV: &str = include_str!("../data/callwaiting_tones.csv");

/// Largest number of segments a single tone string may expand to; guards
/// against `[..]x1000000` in hand-written strings.
const MAX_SEGMENTS: usize = 4096;

/// One tone element of a cadence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Segment {
    /// Frequencies summed together; empty = silence.
    pub freqs: Vec<f32>,
    /// Amplitude-modulation frequency (`f1*f2`; DAHDI uses 90 % depth).
    pub modulation_hz: Option<f32>,
    /// Duration; `None` = continuous.
    pub ms: Option<u32>,
    /// Played only the first time through the cadence (`!`).
    pub once: bool,
    /// Level per component; `None` = the generator's default.
    pub level_dbm0: Option<f32>,
    /// Further alternative frequency sets listed with `||` (the first is in
    /// `freqs`).
    pub alternatives: Vec<Vec<f32>>,
    /// DAHDI `f@`: amplitude × 0.3 (≈ −10.5 dB).
    pub attenuated: bool,
    /// Frequency tolerance given in the source (`440[1%]`).
    pub freq_tolerance_pct: Option<f32>,
    /// Duration tolerance given in the source (`500[10%]`).
    pub ms_tolerance_pct: Option<f32>,
    /// Level tolerance given in the source (`@-13[1.5dB]`).
    pub level_tolerance_db: Option<f32>,
}

impl Segment {
    /// Tone of `freqs` summed, for `ms` (`None` = continuous).
    pub fn tone(freqs: &[f32], ms: Option<u32>) -> Self {
        Self {
            freqs: freqs.to_vec(),
            ms,
            ..Self::default()
        }
    }

    /// Silence for `ms` (`None` = for ever).
    pub fn silence(ms: Option<u32>) -> Self {
        Self {
            ms,
            ..Self::default()
        }
    }

    /// Set the level of every component.
    pub fn at(mut self, level_dbm0: f32) -> Self {
        self.level_dbm0 = Some(level_dbm0);
        self
    }

    /// True for a silent element.
    pub fn is_silence(&self) -> bool {
        self.freqs.is_empty()
    }
}

/// One call-waiting tone variant of a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct CallWaitingTone {
    /// Parsed cadence.
    pub segments: Vec<Segment>,
    /// Source column of the CSV.
    pub source: String,
    /// Tone string as written in the CSV.
    pub raw: String,
}

/// Longest tone element [`CallWaitingTone::line_cadence`] accepts inside a
/// multi-element cadence; longer ones are data errors (see there).
pub const MAX_PLAUSIBLE_BURST_MS: u32 = 3000;
/// Length given to a continuous tone element by
/// [`CallWaitingTone::line_cadence`].
pub const CONTINUOUS_BURST_MS: u32 = 1000;

impl CallWaitingTone {
    /// One cycle of this tone as an exchange puts it on the line: every
    /// element played once, in order. Used by [`crate::tones::ToneGenerator::sas`]
    /// and by [`crate::sas::CallWaitingToneDetector::for_zone`], so both read
    /// the data the same way. Corrections for data that cannot be played
    /// literally:
    ///
    /// * components at or above 4000 Hz cannot exist at 8 kHz and are
    ///   dropped (Thailand's DAHDI `10000/400`, presumably a mistyped
    ///   `0/400`, becomes 400 ms of silence);
    /// * a continuous tone element lasts [`CONTINUOUS_BURST_MS`] (Kenya's
    ///   `425` is continuous); a continuous silence ends the cycle;
    /// * in a cadence of several elements, a tone element longer than
    ///   [`MAX_PLAUSIBLE_BURST_MS`] is taken for silence (Costa Rica's DAHDI
    ///   `…,450/150,450/8000` where `0/8000` is expected);
    /// * zero-length elements are dropped.
    pub fn line_cadence(&self) -> Vec<Segment> {
        let nyquist = crate::SAMPLE_RATE as f32 / 2.0;
        let multi = self.segments.len() > 1;
        let mut out = Vec::with_capacity(self.segments.len());
        for seg in &self.segments {
            let mut s = seg.clone();
            s.once = true;
            s.freqs.retain(|&f| f > 0.0 && f < nyquist);
            for alt in &mut s.alternatives {
                alt.retain(|&f| f > 0.0 && f < nyquist);
            }
            s.alternatives.retain(|a| !a.is_empty());
            if s.freqs.is_empty() {
                s.alternatives.clear();
                s.modulation_hz = None;
            }
            match s.ms {
                None if s.is_silence() => {
                    out.push(s);
                    break;
                }
                None => s.ms = Some(CONTINUOUS_BURST_MS),
                Some(0) => continue,
                Some(ms) if multi && ms > MAX_PLAUSIBLE_BURST_MS && !s.is_silence() => {
                    s = Segment::silence(Some(ms));
                    s.once = true;
                }
                Some(_) => {}
            }
            out.push(s);
        }
        out
    }
}

/// A tone zone (country).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// DAHDI/Asterisk/spandsp zone code (`us`, `de`, `us-old`, …).
    pub code: String,
    /// Country name as in the first source row.
    pub name: String,
    /// Every variant of every source, in CSV order.
    pub call_waiting: Vec<CallWaitingTone>,
}

/// All zones, in order of first appearance in the CSV. Parsed once.
pub fn all() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(|| build_zones(CALL_WAITING_CSV))
}

/// Look a zone up by code (case-insensitive).
pub fn zone(code: &str) -> Option<&'static Zone> {
    all()
        .iter()
        .find(|z| z.code.eq_ignore_ascii_case(code.trim()))
}

fn build_zones(csv: &str) -> Vec<Zone> {
    let mut zones: Vec<Zone> = Vec::new();
    for row in parse_csv(csv).into_iter().skip(1) {
        let [code, name, tone, source] = match <[String; 4]>::try_from(row) {
            Ok(r) => r,
            Err(_) => continue,
        };
        // Every row parses (tested); a bad row would only lose that variant.
        let Ok(segments) = parse_tone_string(&tone) else {
            continue;
        };
        let cw = CallWaitingTone {
            segments,
            source,
            raw: tone,
        };
        match zones.iter_mut().find(|z| z.code == code) {
            Some(z) => z.call_waiting.push(cw),
            None => zones.push(Zone {
                code,
                name,
                call_waiting: vec![cw],
            }),
        }
    }
    zones
}

/// Minimal RFC 4180 reader: quoted fields, `""` escapes, `\n`/`\r\n` rows.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                if row.iter().any(|f| !f.is_empty()) {
                    rows.push(std::mem::take(&mut row));
                } else {
                    row.clear();
                }
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Error from [`parse_tone_string`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToneParseError {
    /// Byte offset in the input where parsing failed.
    pub pos: usize,
    /// What was expected.
    pub message: &'static str,
}

impl fmt::Display for ToneParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tone string error at {}: {}", self.pos, self.message)
    }
}

impl std::error::Error for ToneParseError {}

/// Parse a tone string in the notation of the module table.
pub fn parse_tone_string(s: &str) -> Result<Vec<Segment>, ToneParseError> {
    let mut p = Parser {
        s: s.as_bytes(),
        pos: 0,
    };
    let segs = p.list(0)?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.err("unexpected character"));
    }
    Ok(segs)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

enum Tolerance {
    Percent(f32),
    Db(f32),
}

impl Parser<'_> {
    fn err(&self, message: &'static str) -> ToneParseError {
        ToneParseError {
            pos: self.pos,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.s.get(self.pos + off).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Segment>, ToneParseError> {
        if depth > 8 {
            return Err(self.err("brackets nested too deeply"));
        }
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some(b']') if out.is_empty() => return Err(self.err("empty tone list")),
                _ => {}
            }
            if self.eat(b'[') {
                let inner = self.list(depth + 1)?;
                if !self.eat(b']') {
                    return Err(self.err("expected ']'"));
                }
                let times = self.repeat()?;
                for _ in 0..times {
                    if out.len() + inner.len() > MAX_SEGMENTS {
                        return Err(self.err("tone expands to too many segments"));
                    }
                    out.extend(inner.iter().cloned());
                }
            } else {
                out.push(self.element()?);
                if out.len() > MAX_SEGMENTS {
                    return Err(self.err("tone expands to too many segments"));
                }
            }
            if !self.eat(b',') {
                return Ok(out);
            }
        }
    }

    /// `xN` or `xendless` after a bracket; none means once.
    fn repeat(&mut self) -> Result<usize, ToneParseError> {
        self.skip_ws();
        if !matches!(self.peek(), Some(b'x' | b'X')) {
            return Ok(1);
        }
        self.pos += 1;
        if self.s[self.pos..].starts_with(b"endless") {
            self.pos += "endless".len();
            // A cadence loops by itself; one copy represents it.
            return Ok(1);
        }
        let n = self.number()?;
        if n < 0.0 || n.fract() != 0.0 || n > MAX_SEGMENTS as f32 {
            return Err(self.err("bad repeat count"));
        }
        Ok(n as usize)
    }

    fn element(&mut self) -> Result<Segment, ToneParseError> {
        let mut seg = Segment {
            once: self.eat(b'!'),
            ..Segment::default()
        };
        // Frequency alternatives `a||b`.
        let mut alts = vec![self.alternative(&mut seg)?];
        loop {
            self.skip_ws();
            if self.peek() == Some(b'|') && self.peek_at(1) == Some(b'|') {
                self.pos += 2;
                alts.push(self.alternative(&mut seg)?);
            } else {
                break;
            }
        }
        let mut alts = alts.into_iter();
        seg.freqs = alts.next().unwrap_or_default();
        seg.alternatives = alts.filter(|a| !a.is_empty()).collect();
        if self.eat(b'/') {
            let ms = self.number()?;
            if !(0.0..=u32::MAX as f32).contains(&ms) {
                return Err(self.err("bad duration"));
            }
            seg.ms = Some(ms.round() as u32);
            if let Some(t) = self.tolerance()? {
                seg.ms_tolerance_pct = Some(tol_value(t));
            }
        }
        if self.eat(b'@') {
            seg.level_dbm0 = Some(self.number()?);
            if let Some(t) = self.tolerance()? {
                seg.level_tolerance_db = Some(tol_value(t));
            }
        }
        Ok(seg)
    }

    /// `f1+f2…` or `f1*f2`; `0` alone is silence (empty set).
    fn alternative(&mut self, seg: &mut Segment) -> Result<Vec<f32>, ToneParseError> {
        let mut freqs = vec![self.freq(seg)?];
        loop {
            if self.eat(b'+') {
                freqs.push(self.freq(seg)?);
            } else if self.eat(b'*') {
                let m = self.freq(seg)?;
                // Only the first alternative's modulation is kept (no row
                // in the data modulates an alternative).
                if seg.modulation_hz.is_none() {
                    seg.modulation_hz = Some(m);
                }
            } else {
                break;
            }
        }
        freqs.retain(|&f| f != 0.0);
        Ok(freqs)
    }

    fn freq(&mut self, seg: &mut Segment) -> Result<f32, ToneParseError> {
        let f = self.number()?;
        if !(0.0..=100_000.0).contains(&f) {
            return Err(self.err("bad frequency"));
        }
        // DAHDI `f@`: an '@' not followed by a level (`@+440` is `f@` then a
        // sum; levels are written `@-12`).
        self.skip_ws();
        if self.peek() == Some(b'@') && !matches!(self.peek_at(1), Some(b'-' | b'.' | b'0'..=b'9'))
        {
            self.pos += 1;
            seg.attenuated = true;
        }
        if let Some(t) = self.tolerance()? {
            seg.freq_tolerance_pct = Some(tol_value(t));
        }
        Ok(f)
    }

    /// `[1%]` / `[1.5dB]` directly after a number.
    fn tolerance(&mut self) -> Result<Option<Tolerance>, ToneParseError> {
        self.skip_ws();
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        // A '[' here is a tolerance only if a number follows.
        if !matches!(self.peek_at(1), Some(b'0'..=b'9' | b'.')) {
            return Ok(None);
        }
        self.pos += 1;
        let v = self.number()?;
        self.skip_ws();
        let t = if self.eat(b'%') {
            Tolerance::Percent(v)
        } else if self.s[self.pos..].starts_with(b"dB") || self.s[self.pos..].starts_with(b"db") {
            self.pos += 2;
            Tolerance::Db(v)
        } else {
            return Err(self.err("expected '%' or 'dB' in tolerance"));
        };
        if !self.eat(b']') {
            return Err(self.err("expected ']' after tolerance"));
        }
        Ok(Some(t))
    }

    fn number(&mut self) -> Result<f32, ToneParseError> {
        self.skip_ws();
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        while matches!(self.peek(), Some(b'0'..=b'9' | b'.')) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse::<f32>().ok())
            .filter(|v| v.is_finite())
            .ok_or(ToneParseError {
                pos: start,
                message: "expected a number",
            })
    }
}

fn tol_value(t: Tolerance) -> f32 {
    match t {
        Tolerance::Percent(v) | Tolerance::Db(v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple() {
        let s = parse_tone_string("440/300,0/10000").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].freqs, vec![440.0]);
        assert_eq!(s[0].ms, Some(300));
        assert!(s[1].is_silence());
        assert_eq!(s[1].ms, Some(10_000));
    }

    #[test]
    fn full_notation() {
        let s =
            parse_tone_string("[[440[1%]/500[10%]@-10,0/500[10%]]x3,0/8000[10%]]xendless").unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[0].freq_tolerance_pct, Some(1.0));
        assert_eq!(s[0].ms_tolerance_pct, Some(10.0));
        assert_eq!(s[0].level_dbm0, Some(-10.0));
        let s = parse_tone_string("380+460||400+440/500@-12,[0/300,380+460||400+440/200@-12]x2")
            .unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].freqs, vec![380.0, 460.0]);
        assert_eq!(s[0].alternatives, vec![vec![400.0, 440.0]]);
        let s =
            parse_tone_string("!425*24/300,425@-12,350@+440@/100,480+620/300@-13[1.5dB]").unwrap();
        assert!(s[0].once);
        assert_eq!(s[0].modulation_hz, Some(24.0));
        assert_eq!(s[1].ms, None);
        assert_eq!(s[1].level_dbm0, Some(-12.0));
        assert!(s[2].attenuated);
        assert_eq!(s[2].freqs, vec![350.0, 440.0]);
        assert_eq!(s[3].level_tolerance_db, Some(1.5));
    }

    #[test]
    fn errors_do_not_panic() {
        for bad in [
            "", "[", "440/", "440/300,", "[440]x", "abc", "440[", "@", "[]", "440]",
        ] {
            assert!(parse_tone_string(bad).is_err(), "{bad}");
        }
        assert!(parse_tone_string("[440/1]x100000000").is_err());
    }
}
