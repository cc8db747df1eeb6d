//! Speech corpus: espeak-ng and flite reading licence texts and embedded
//! public-domain texts, resampled to 8 kHz, band-limited to 300–3400 Hz and
//! normalised to a long-term RMS of 0 dBm0 (callers scale to the level they
//! need; [`Clip::level_dbm0`] is the clip's nominal level for talk-off).

use crate::audio::{self, Rng};
use crate::texts;
use std::path::{Path, PathBuf};
use std::process::Command;

const LICENSES: &str = "/usr/share/common-licenses";

/// Which synthesiser speaks a clip, and how.
#[derive(Debug, Clone)]
enum Engine {
    Espeak {
        voice: &'static str,
        pitch: u32,
        speed: u32,
    },
    Flite {
        voice: &'static str,
        stretch: f32,
        f0_mean: u32,
    },
}

#[derive(Debug, Clone)]
enum Text {
    License(&'static str),
    Embedded(&'static str, &'static str),
}

struct ClipSpec {
    engine: Engine,
    text: Text,
}

fn espeak(voice: &'static str, pitch: u32, speed: u32, text: Text) -> ClipSpec {
    ClipSpec {
        engine: Engine::Espeak {
            voice,
            pitch,
            speed,
        },
        text,
    }
}

fn flite(voice: &'static str, stretch: f32, f0_mean: u32, text: Text) -> ClipSpec {
    ClipSpec {
        engine: Engine::Flite {
            voice,
            stretch,
            f0_mean,
        },
        text,
    }
}

fn specs() -> Vec<ClipSpec> {
    use Text::{Embedded, License};
    let en = Embedded("en", texts::ENGLISH);
    let de = Embedded("de", texts::GERMAN);
    let fr = Embedded("fr", texts::FRENCH);
    let es = Embedded("es", texts::SPANISH);
    vec![
        espeak("en-us", 50, 175, License("GPL-3")),
        espeak("en-us+f3", 50, 165, License("GPL-2")),
        espeak("en-us+m3", 30, 150, License("LGPL-2.1")),
        espeak("en-us+f2", 75, 190, License("Apache-2.0")),
        espeak("en-us", 80, 140, License("LGPL-3")),
        espeak("en-us+f3", 35, 200, en.clone()),
        espeak("en-us", 20, 160, en.clone()),
        espeak("de", 50, 160, de.clone()),
        espeak("de+f3", 65, 150, de.clone()),
        espeak("de+m2", 35, 180, de),
        espeak("fr", 50, 160, fr.clone()),
        espeak("fr+f3", 65, 150, fr.clone()),
        espeak("fr+m3", 30, 185, fr),
        espeak("es", 50, 165, es.clone()),
        espeak("es+f2", 70, 150, es.clone()),
        espeak("es+m1", 40, 185, es),
        flite("kal", 1.0, 100, License("MPL-2.0")),
        flite("slt", 1.0, 180, License("GFDL-1.3")),
        flite("rms", 1.1, 95, License("MPL-1.1")),
        flite("awb", 0.95, 110, License("Artistic")),
        flite("slt", 1.15, 210, License("CC0-1.0")),
        flite("kal", 0.9, 130, en.clone()),
        flite("rms", 1.0, 85, License("BSD")),
        flite("awb", 1.1, 120, en),
    ]
}

/// One processed clip.
pub struct Clip {
    pub name: String,
    /// Nominal long-term level for talk-off runs (−18 … −21 dBm0).
    pub level_dbm0: f32,
    /// 8 kHz, 300–3400 Hz, long-term RMS 0 dBm0.
    pub samples: Vec<f32>,
}

/// The whole corpus.
pub struct Corpus {
    pub clips: Vec<Clip>,
}

impl Corpus {
    pub fn total_samples(&self) -> usize {
        self.clips.iter().map(|c| c.samples.len()).sum()
    }

    pub fn hours(&self) -> f64 {
        self.total_samples() as f64 / f64::from(audio::FS) / 3600.0
    }

    /// All clips back to back at 0 dBm0 (used as a ring by the injection
    /// measurements).
    pub fn concatenated(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.total_samples());
        for c in &self.clips {
            v.extend_from_slice(&c.samples);
        }
        v
    }
}

fn flite_voices() -> Vec<String> {
    Command::new("flite")
        .arg("-lv")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .skip_while(|w| *w != "available:")
                .skip(1)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn synthesise(spec: &ClipSpec, dir: &Path, index: usize) -> Result<(String, PathBuf), String> {
    let (text_key, text) = match &spec.text {
        Text::License(name) => {
            let p = Path::new(LICENSES).join(name);
            let t = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            (*name, t)
        }
        Text::Embedded(key, t) => (*key, (*t).to_owned()),
    };
    let text_path = dir.join(format!("text-{text_key}.txt"));
    if !text_path.exists() {
        std::fs::write(&text_path, &text).map_err(|e| e.to_string())?;
    }
    let (name, mut cmd) = match &spec.engine {
        Engine::Espeak {
            voice,
            pitch,
            speed,
        } => {
            let mut c = Command::new("espeak-ng");
            c.args([
                "-v",
                voice,
                "-p",
                &pitch.to_string(),
                "-s",
                &speed.to_string(),
            ]);
            c.arg("-f").arg(&text_path);
            (format!("espeak-ng {voice} p{pitch} s{speed} {text_key}"), c)
        }
        Engine::Flite {
            voice,
            stretch,
            f0_mean,
        } => {
            let mut c = Command::new("flite");
            c.args(["-voice", voice]);
            c.args(["--setf", &format!("duration_stretch={stretch}")]);
            c.args(["--setf", &format!("int_f0_target_mean={f0_mean}")]);
            c.arg("-f").arg(&text_path);
            (
                format!("flite {voice} x{stretch} f0 {f0_mean} {text_key}"),
                c,
            )
        }
    };
    let wav = dir.join(format!("clip-{index:02}.wav"));
    if !wav.exists() {
        let tmp = dir.join(format!("clip-{index:02}.tmp.wav"));
        match spec.engine {
            Engine::Espeak { .. } => cmd.arg("-w").arg(&tmp),
            Engine::Flite { .. } => cmd.arg("-o").arg(&tmp),
        };
        let out = cmd.output().map_err(|e| format!("{name}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        std::fs::rename(&tmp, &wav).map_err(|e| e.to_string())?;
    }
    Ok((name, wav))
}

/// Resample, band-limit, add a slow natural-looking level drift (±1.5 dB
/// over 3 s steps) and normalise to 0 dBm0 long-term RMS.
fn process(wav: &audio::Wav, seed: u64) -> Vec<f32> {
    let mut x = if wav.rate == audio::FS {
        wav.samples.clone()
    } else {
        audio::resample_to_8k(&wav.samples, wav.rate, 3400.0)
    };
    audio::high_pass_4(&mut x, 300.0);
    let block = 3 * audio::FS as usize;
    let mut rng = Rng::new(seed);
    let gains: Vec<f32> = (0..=x.len() / block + 1)
        .map(|_| audio::db_gain(3.0 * rng.uniform() - 1.5))
        .collect();
    for (i, v) in x.iter_mut().enumerate() {
        let b = i / block;
        let frac = (i % block) as f32 / block as f32;
        *v *= gains[b] * (1.0 - frac) + gains[b + 1] * frac;
    }
    let r = audio::rms(&x);
    if r > 0.0 {
        let g = audio::dbm0_rms() / r;
        x.iter_mut().for_each(|v| *v *= g);
    }
    x
}

/// Synthesise (cached in `dir`) and process the whole corpus, using up to
/// `threads` threads.
pub fn build(dir: &Path, threads: usize) -> Result<Corpus, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let voices = flite_voices();
    let specs: Vec<(usize, ClipSpec)> = specs()
        .into_iter()
        .enumerate()
        .filter(|(_, s)| match &s.engine {
            Engine::Flite { voice, .. } => voices.iter().any(|v| v == voice),
            Engine::Espeak { .. } => true,
        })
        .collect();
    let levels = [-18.0, -19.0, -20.0, -21.0];
    let results = crate::parallel_map(&specs, threads, |(index, spec)| {
        let (name, path) = synthesise(spec, dir, *index)?;
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let wav = audio::read_wav(&bytes).map_err(|e| format!("{name}: {e}"))?;
        Ok::<Clip, String>(Clip {
            name,
            level_dbm0: levels[index % levels.len()],
            samples: process(&wav, *index as u64 + 1),
        })
    });
    let clips = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Corpus { clips })
}

/// `espeak-ng --version` and `flite --version`, first meaningful line each.
pub fn tool_versions() -> Vec<(String, String)> {
    let version = |cmd: &str, arg: &str| -> String {
        Command::new(cmd)
            .arg(arg)
            .output()
            .map(|o| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                text.lines()
                    .map(str::trim)
                    .find(|l| l.contains("version") || l.contains("eSpeak"))
                    .unwrap_or("unknown")
                    .split("  ")
                    .next()
                    .unwrap_or("unknown")
                    .to_owned()
            })
            .unwrap_or_else(|e| format!("not available ({e})"))
    };
    vec![
        ("espeak-ng".into(), version("espeak-ng", "--version")),
        ("flite".into(), version("flite", "--version")),
    ]
}
