//! `pickupd-quality`: measures the `pickupd-dsp` call-waiting detectors on a
//! synthetic speech corpus (signals.md §9, §12) and writes a markdown report.
//!
//! ```text
//! pickupd-quality --corpus DIR [--report FILE] [--threads N] [--quick]
//! ```
//!
//! Normally started by `quality/run`, which installs espeak-ng and flite.

mod audio;
mod corpus;
mod measure;
mod report;
mod texts;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Apply `f` to every item on `threads` threads; results keep input order.
pub fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every item was processed"))
        .collect()
}

struct Args {
    corpus: PathBuf,
    report: Option<PathBuf>,
    threads: usize,
    quick: bool,
    /// Run only these measurement kinds (talk-off, sas, cas, cidcw).
    only: Option<Vec<String>>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        corpus: PathBuf::from("target/quality-corpus"),
        report: None,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        quick: false,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--corpus" => args.corpus = PathBuf::from(value()?),
            "--report" => args.report = Some(PathBuf::from(value()?)),
            "--threads" => {
                args.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?
            }
            "--quick" => args.quick = true,
            "--only" => args.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "-h" | "--help" => {
                return Err(
                    "usage: pickupd-quality --corpus DIR [--report FILE] [--threads N] [--quick] \
                     [--only talk-off,sas,cas,cidcw]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// One unit of parallel work.
enum Job {
    TalkOff(audio::Law, f32),
    TalkOffEcho(audio::Law),
    Sas(&'static str, f32, Option<f32>),
    Cas(measure::CasSignal, measure::CasSpeech, bool),
    Cidcw(f32, measure::Interference),
}

enum JobResult {
    TalkOff(Vec<measure::TalkOffRow>),
    TalkOffEcho(Vec<measure::EchoTalkOffRow>),
    Sas(measure::SasRow),
    Cas(measure::CasRow, bool),
    Cidcw(measure::CidcwRow),
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    eprintln!("building corpus in {} …", args.corpus.display());
    let corpus = match corpus::build(&args.corpus, args.threads) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("corpus: {e}");
            std::process::exit(1);
        }
    };
    let corpus_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "corpus: {} clips, {:.2} h, {:.0} s",
        corpus.clips.len(),
        corpus.hours(),
        corpus_secs
    );
    let ring = corpus.concatenated();
    let n = if args.quick { 20 } else { 200 };
    let n_cidcw = if args.quick { 20 } else { 100 };

    let mut jobs = Vec::new();
    for law in [audio::Law::Mu, audio::Law::A] {
        jobs.push(Job::TalkOff(law, 0.0));
        jobs.push(Job::TalkOff(law, 6.0));
    }
    for zone in measure::SAS_ZONES {
        for level in measure::SAS_TONE_LEVELS {
            for ratio in measure::SAS_RATIOS {
                jobs.push(Job::Sas(zone, level, ratio));
            }
        }
    }
    use measure::CasSpeech;
    for sig in measure::cas_accept_conditions() {
        for sp in [
            CasSpeech::None,
            CasSpeech::BelowWeaker(10.0),
            CasSpeech::BelowWeaker(0.0),
        ] {
            jobs.push(Job::Cas(sig, sp, true));
        }
    }
    for sig in measure::cas_reject_conditions() {
        for sp in [CasSpeech::None, CasSpeech::Absolute(-20.0)] {
            jobs.push(Job::Cas(sig, sp, false));
        }
    }
    for fsk in [-13.5, -20.0, -26.0] {
        for i in [
            measure::Interference::Clean,
            measure::Interference::Noise(20.0),
            measure::Interference::Speech(20.0),
            measure::Interference::Speech(10.0),
        ] {
            jobs.push(Job::Cidcw(fsk, i));
        }
    }
    // Last, so the seeds (job index) of the measurements above stay as they
    // were before this one was added.
    for law in [audio::Law::Mu, audio::Law::A] {
        jobs.push(Job::TalkOffEcho(law));
    }
    let kind = |j: &Job| match j {
        Job::TalkOff(..) | Job::TalkOffEcho(..) => "talk-off",
        Job::Sas(..) => "sas",
        Job::Cas(..) => "cas",
        Job::Cidcw(..) => "cidcw",
    };
    let indexed: Vec<(usize, Job)> = jobs
        .into_iter()
        .enumerate()
        .filter(|(_, j)| {
            args.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| o == kind(j)))
        })
        .collect();
    let results = parallel_map(&indexed, args.threads, |(i, job)| {
        let seed = 1000 + *i as u64;
        match job {
            Job::TalkOff(law, off) => JobResult::TalkOff(measure::talk_off(&corpus, *law, *off)),
            Job::TalkOffEcho(law) => {
                JobResult::TalkOffEcho(measure::talk_off_echo(&corpus, *law, seed))
            }
            Job::Sas(z, l, r) => JobResult::Sas(measure::sas_recall(&ring, z, *l, *r, n, seed)),
            Job::Cas(sig, sp, accept) => {
                JobResult::Cas(measure::cas_run(&ring, *sig, *sp, n, seed), *accept)
            }
            Job::Cidcw(fsk, i) => JobResult::Cidcw(measure::cidcw(&ring, *fsk, *i, n_cidcw, seed)),
        }
    });
    let mut rep = report::Report::default();
    for r in results {
        match r {
            JobResult::TalkOff(rows) => rep.talk_off.extend(rows),
            JobResult::TalkOffEcho(rows) => rep.talk_off_echo.extend(rows),
            JobResult::Sas(row) => rep.sas.push(row),
            JobResult::Cas(row, true) => rep.cas_accept.push(row),
            JobResult::Cas(row, false) => rep.cas_reject.push(row),
            JobResult::Cidcw(row) => rep.cidcw.push(row),
        }
    }
    let text = rep.render(
        &corpus,
        args.quick,
        corpus_secs,
        started.elapsed().as_secs_f64(),
    );
    println!("{text}");
    if let Some(path) = &args.report {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
