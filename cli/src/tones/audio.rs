//! Reading recordings for `tones analyze`: WAV (RIFF WAVE) with 16-bit PCM,
//! G.711 µ-law (format tag 7) or A-law (format tag 6), and headerless µ-law,
//! A-law and s16le. Streaming: [`AudioReader::read`] decodes one chunk at a
//! time, so a recording of any length needs a few kilobytes of memory.
//!
//! What is accepted:
//!
//! * 8000 Hz only (the detectors' rate); WAV files at other rates are
//!   refused with the `sox` command that resamples them.
//! * Several channels: the first one is analysed, and [`AudioReader::notes`]
//!   says so (with the `sox … remix N` that extracts another).
//! * A WAV `data` chunk whose size is 0 or `0xFFFFFFFF` (written by a
//!   streaming recorder that could not seek back) or larger than the file
//!   is read to the end of the file.
//! * `WAVE_FORMAT_EXTENSIBLE` with a PCM, µ-law or A-law sub-format.
//!
//! Without `--format`, a file starting with a RIFF WAVE header is read as
//! WAV whatever its name; otherwise the extension decides (`.ul`, `.ulaw`,
//! `.mulaw`, `.mu`; `.al`, `.alaw`; `.raw`, `.s16`, `.sln`, `.pcm`), and a
//! file matching neither is a usage error (exit 2).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use pickupd_dsp::g711::{alaw_decode, ulaw_decode};
use pickupd_dsp::SAMPLE_RATE;

use crate::args::AudioFormat;
use crate::error::CliError;

/// How samples are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Signed 16-bit little-endian.
    S16le,
    /// G.711 µ-law, one byte a sample.
    Ulaw,
    /// G.711 A-law, one byte a sample.
    Alaw,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::S16le => 2,
            Encoding::Ulaw | Encoding::Alaw => 1,
        }
    }

    /// Human name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::S16le => "16-bit PCM",
            Encoding::Ulaw => "µ-law",
            Encoding::Alaw => "A-law",
        }
    }
}

/// What was found out about a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    /// True for a WAV file, false for headerless audio.
    pub wav: bool,
    pub encoding: Encoding,
    pub channels: u16,
    /// Number of sample frames, when known in advance.
    pub frames: Option<u64>,
}

impl AudioInfo {
    /// `µ-law WAV, 8000 Hz, mono`, `headerless 16-bit PCM, 8000 Hz`.
    pub fn describe(&self) -> String {
        let channels = match self.channels {
            1 => "mono".to_owned(),
            n => format!("{n} channels, the first analysed"),
        };
        if self.wav {
            format!("{} WAV, {SAMPLE_RATE} Hz, {channels}", self.encoding.name())
        } else {
            format!("headerless {}, {SAMPLE_RATE} Hz", self.encoding.name())
        }
    }
}

/// Streaming reader of the first channel, decoded to linear PCM.
pub struct AudioReader {
    input: Box<dyn Read>,
    info: AudioInfo,
    /// Bytes of audio left (WAV data chunk), `None` = up to the end of the file.
    remaining: Option<u64>,
    /// Raw bytes read but not yet decoded (an incomplete frame).
    buf: Vec<u8>,
    notes: Vec<String>,
}

/// Bytes read per call of [`AudioReader::read`] (at most).
const CHUNK_BYTES: usize = 16 * 1024;

/// The command that converts anything `sox` reads into what is accepted here.
fn sox_hint(path: &Path) -> String {
    format!(
        "convert it first, e.g. `sox {} -r 8000 -c 1 -b 16 -e signed-integer out.wav`",
        path.display()
    )
}

fn failed(path: &Path, what: impl std::fmt::Display) -> CliError {
    CliError::failed(format!("{}: {what}", path.display()))
}

fn io_error(path: &Path, e: &io::Error) -> CliError {
    failed(path, format_args!("cannot read: {e}"))
}

/// Read as much of `buf` as the input holds; returns the count.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Skip `n` bytes; false if the input ended first.
fn skip(r: &mut dyn Read, n: u64) -> io::Result<bool> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    Ok(copied == n)
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The format a file name suggests.
pub fn format_from_extension(path: &Path) -> Option<AudioFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "wav" | "wave" => Some(AudioFormat::Wav),
        "ul" | "ulaw" | "mulaw" | "mu" | "u8" => Some(AudioFormat::Ulaw),
        "al" | "alaw" | "a8" => Some(AudioFormat::Alaw),
        "raw" | "s16" | "sln" | "pcm" | "s16le" => Some(AudioFormat::S16le),
        _ => None,
    }
}

impl AudioReader {
    /// Open `path`, as `format` or as its header / extension says.
    pub fn open(path: &Path, format: Option<AudioFormat>) -> Result<Self, CliError> {
        let file = File::open(path).map_err(|e| failed(path, format_args!("cannot open: {e}")))?;
        let meta = file.metadata().map_err(|e| io_error(path, &e))?;
        if meta.is_dir() {
            return Err(failed(path, "is a directory, not a recording"));
        }
        let file_len = meta.len();
        let mut input: Box<dyn Read> = Box::new(BufReader::with_capacity(CHUNK_BYTES, file));

        let mut head = [0u8; 12];
        let got = read_full(&mut *input, &mut head).map_err(|e| io_error(path, &e))?;
        let head = &head[..got];
        let is_riff = head.len() == 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE";
        let mut notes = Vec::new();

        let format = match format {
            Some(f) => f,
            None if is_riff => AudioFormat::Wav,
            None => format_from_extension(path).ok_or_else(|| {
                CliError::Usage(format!(
                    "{}: cannot tell the audio format (no WAV header, unknown extension); \
                     give --format wav|ulaw|alaw|s16le",
                    path.display()
                ))
            })?,
        };

        if format == AudioFormat::Wav {
            if !is_riff {
                let why = match head.get(..4) {
                    Some(b"RIFX") => "a big-endian RIFX file, which is not supported",
                    Some(b"RF64") => "an RF64 file, which is not supported",
                    _ => "not a WAV file (no RIFF WAVE header)",
                };
                return Err(failed(path, format_args!("{why}; {}", sox_hint(path))));
            }
            return Self::open_wav(path, input, file_len);
        }

        let encoding = match format {
            AudioFormat::Ulaw => Encoding::Ulaw,
            AudioFormat::Alaw => Encoding::Alaw,
            _ => Encoding::S16le,
        };
        if is_riff {
            notes.push(format!(
                "{} has a WAV header but is read as headerless {} as asked \
                 (leave out --format to use the header)",
                path.display(),
                encoding.name()
            ));
        }
        let info = AudioInfo {
            wav: false,
            encoding,
            channels: 1,
            frames: Some(file_len / encoding.bytes() as u64),
        };
        Ok(Self {
            input,
            info,
            remaining: None,
            buf: head.to_vec(),
            notes,
        })
    }

    /// Parse the chunks up to `data` (the 12-byte RIFF header is read).
    fn open_wav(path: &Path, mut input: Box<dyn Read>, file_len: u64) -> Result<Self, CliError> {
        let truncated = || failed(path, "the WAV file ends before its audio data");
        let mut pos: u64 = 12;
        let mut fmt: Option<(u16, u16, u32, u16)> = None;
        loop {
            let mut hdr = [0u8; 8];
            let n = read_full(&mut *input, &mut hdr).map_err(|e| io_error(path, &e))?;
            if n < 8 {
                return Err(truncated());
            }
            pos += 8;
            let id = &hdr[..4];
            let size = u32le(&hdr, 4);
            if id == b"fmt " {
                if size < 16 {
                    return Err(failed(path, "WAV format chunk too short"));
                }
                let len = size.min(64) as usize;
                let mut body = vec![0u8; len];
                if read_full(&mut *input, &mut body).map_err(|e| io_error(path, &e))? < len {
                    return Err(truncated());
                }
                let mut tag = u16le(&body, 0);
                let channels = u16le(&body, 2);
                let rate = u32le(&body, 4);
                let bits = u16le(&body, 14);
                // WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID.
                if tag == 0xFFFE && len >= 26 {
                    tag = u16le(&body, 24);
                }
                fmt = Some((tag, channels, rate, bits));
                let rest = u64::from(size) - len as u64 + u64::from(size & 1);
                if !skip(&mut *input, rest).map_err(|e| io_error(path, &e))? {
                    return Err(truncated());
                }
                pos += u64::from(size) + u64::from(size & 1);
            } else if id == b"data" {
                let Some((tag, channels, rate, bits)) = fmt else {
                    return Err(failed(path, "WAV data before its format chunk"));
                };
                let encoding = Self::check_wav(path, tag, channels, rate, bits)?;
                let left_in_file = file_len.saturating_sub(pos);
                let remaining = match size {
                    0 | u32::MAX => None,
                    s if u64::from(s) > left_in_file => None,
                    s => Some(u64::from(s)),
                };
                let bytes = remaining.unwrap_or(left_in_file);
                let frame = encoding.bytes() as u64 * u64::from(channels);
                let mut notes = Vec::new();
                if channels > 1 {
                    notes.push(format!(
                        "{} has {channels} channels: only the first is analysed; \
                         to analyse another, extract it first, e.g. `sox {} out.wav remix 2`",
                        path.display(),
                        path.display()
                    ));
                }
                return Ok(Self {
                    input,
                    info: AudioInfo {
                        wav: true,
                        encoding,
                        channels,
                        frames: Some(bytes / frame),
                    },
                    remaining: Some(remaining.unwrap_or(u64::MAX)),
                    buf: Vec::new(),
                    notes,
                });
            } else {
                let skip_len = u64::from(size) + u64::from(size & 1);
                if !skip(&mut *input, skip_len).map_err(|e| io_error(path, &e))? {
                    return Err(truncated());
                }
                pos += skip_len;
            }
        }
    }

    fn check_wav(
        path: &Path,
        tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
    ) -> Result<Encoding, CliError> {
        let encoding = match (tag, bits) {
            (1, 16) => Encoding::S16le,
            (7, 8) => Encoding::Ulaw,
            (6, 8) => Encoding::Alaw,
            (1, b) => {
                return Err(failed(
                    path,
                    format_args!("{b}-bit PCM is not supported; {}", sox_hint(path)),
                ))
            }
            (3, _) => {
                return Err(failed(
                    path,
                    format_args!("floating-point WAV is not supported; {}", sox_hint(path)),
                ))
            }
            (t, b) => {
                return Err(failed(
                    path,
                    format_args!(
                        "WAV format tag {t} ({b} bits) is not supported (only 16-bit PCM, \
                         µ-law and A-law); {}",
                        sox_hint(path)
                    ),
                ))
            }
        };
        if channels == 0 {
            return Err(failed(path, "the WAV header says 0 channels"));
        }
        if rate != SAMPLE_RATE {
            return Err(failed(
                path,
                format_args!(
                    "sampled at {rate} Hz, but the detectors work at {SAMPLE_RATE} Hz only; \
                     resample it first, e.g. `sox {} -r 8000 -c 1 out.wav`",
                    path.display()
                ),
            ));
        }
        Ok(encoding)
    }

    /// What the header (or the format) says.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// Remarks for the user (stderr), e.g. that only the first channel is used.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Decode the next chunk of the first channel into `out` (cleared first).
    /// Returns false at the end of the audio.
    pub fn read(&mut self, out: &mut Vec<i16>) -> io::Result<bool> {
        out.clear();
        let bps = self.info.encoding.bytes();
        let frame = bps * usize::from(self.info.channels);
        let chunk = (CHUNK_BYTES / frame).max(1) * frame;
        loop {
            let want = match self.remaining {
                Some(r) => (chunk as u64).min(r) as usize,
                None => chunk,
            };
            let have = self.buf.len();
            let need = want.saturating_sub(have);
            if need > 0 {
                self.buf.resize(have + need, 0);
                let n = read_full(&mut *self.input, &mut self.buf[have..])?;
                self.buf.truncate(have + n);
                if let Some(r) = &mut self.remaining {
                    *r -= n as u64;
                }
            }
            let whole = self.buf.len() / frame * frame;
            if whole == 0 {
                // End of the audio; a partial last frame is dropped.
                self.buf.clear();
                return Ok(false);
            }
            out.reserve(whole / frame);
            let enc = self.info.encoding;
            out.extend(self.buf[..whole].chunks_exact(frame).map(|f| match enc {
                Encoding::S16le => i16::from_le_bytes([f[0], f[1]]),
                Encoding::Ulaw => ulaw_decode(f[0]),
                Encoding::Alaw => alaw_decode(f[0]),
            }));
            self.buf.drain(..whole);
            if !out.is_empty() {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        let f = |s: &str| format_from_extension(Path::new(s));
        assert_eq!(f("a.WAV"), Some(AudioFormat::Wav));
        assert_eq!(f("a.ul"), Some(AudioFormat::Ulaw));
        assert_eq!(f("a.mulaw"), Some(AudioFormat::Ulaw));
        assert_eq!(f("a.alaw"), Some(AudioFormat::Alaw));
        assert_eq!(f("a.sln"), Some(AudioFormat::S16le));
        assert_eq!(f("a.raw"), Some(AudioFormat::S16le));
        assert_eq!(f("a.mp3"), None);
        assert_eq!(f("noext"), None);
    }
}
