//! The profile-driven initialisation sequence, sans I/O (hardware.md §3.1,
//! §3.3, §3.6, §3.9).
//!
//! The driver writes what [`InitSequence`] asks for, feeds back the result
//! lines the parser produces, and ends with either the negotiated settings or
//! the reason the modem is unusable (which command, which answer). Timing is
//! the driver's: it calls [`InitSequence::on_timeout`] when the modem stays
//! silent.
//!
//! The order follows vgetty's V.253 driver: profile init lines, `+IFC=2,2`,
//! `+FCLASS=8`, `+VSM` (two arguments, then four on `ERROR`), then the
//! optional extras: `+VLS=?` (does the line label report the call-waiting
//! beep?), caller ID, inactivity timer off, on-hook. Like vgetty, failures of
//! the extras are warnings; failures of the essentials end the sequence.

use std::collections::VecDeque;

use super::encoder::{CallerIdMode, Command, CommandLine, EncodeError, Encoder};
use super::parser::ModemEvent;
use super::profile::{select_vsm, CommandSet, ModemProfile, VsmChoice, VsmSyntax};
use super::result::{ResultLine, VlsEntry, VsmEntry};

/// Most list lines kept from a `+VSM=?` or `+VLS=?` answer: a modem looping
/// on its answer must not grow memory.
const MAX_LIST_LINES: usize = 64;

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitAction {
    /// Write this line (tell the parser if it opens a stream; none of the
    /// init commands do).
    Send(CommandLine),
    /// The modem is ready.
    Done(InitOutcome),
    /// The modem cannot be used; the line goes out of service with this
    /// reason.
    Failed(InitError),
}

/// What initialisation found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOutcome {
    /// The compression method in force.
    pub vsm: VsmChoice,
    /// The `+VLS=?` entries, if the modem answered the query.
    pub labels: Vec<VlsEntry>,
    /// Whether the line label reports `<DLE>w` (event 15); `None` when the
    /// modem did not say, so pickupd's own detector must run.
    pub reports_call_waiting: Option<bool>,
    /// Optional commands the modem refused, for the log.
    pub warnings: Vec<String>,
}

/// Why initialisation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    /// An essential command got a non-`OK` final result.
    #[error("modem answered {result} to {command}")]
    Rejected {
        /// The command line sent.
        command: String,
        /// The final result received.
        result: ResultLine,
    },
    /// No answer in time.
    #[error("modem did not answer {command}")]
    Timeout {
        /// The command line sent.
        command: String,
    },
    /// `+VSM=?` offered no PCM method at the wanted rate.
    #[error("modem offers no PCM compression at {rate} Hz ({offered} methods listed)")]
    NoUsableCompression {
        /// The rate asked for.
        rate: u32,
        /// How many methods the modem listed.
        offered: usize,
    },
    /// [`InitSequence::start`] after the sequence ended: make a new one.
    #[error("initialisation sequence already finished")]
    AlreadyFinished,
    /// The profile asks for something its own command set cannot spell.
    #[error("profile cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A command; `required` ends the sequence on failure.
    Command { command: Command, required: bool },
    /// A line already encoded (the second line of a two-line command).
    Line { line: CommandLine, required: bool },
    /// `+VSM=?`, then pick.
    QueryCompression,
    /// `+VSM` with the chosen method.
    SetCompression { four_args: bool },
    /// `+VLS=?`, optional.
    QueryLabels,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    NotStarted,
    Waiting { step: Step, line: CommandLine },
    Finished,
}

/// The initialisation state machine for one modem.
#[derive(Debug, Clone)]
pub struct InitSequence {
    profile: ModemProfile,
    steps: VecDeque<Step>,
    state: State,
    vsm: Option<VsmChoice>,
    vsm_entries: Vec<VsmEntry>,
    labels: Vec<VlsEntry>,
    warnings: Vec<String>,
}

impl InitSequence {
    /// The sequence for `profile`.
    pub fn new(profile: &ModemProfile) -> Self {
        let mut steps: VecDeque<Step> = profile
            .init
            .iter()
            .map(|line| Step::Command {
                command: Command::Raw(line.clone()),
                required: true,
            })
            .collect();
        let optional = |command| Step::Command {
            command,
            required: false,
        };
        steps.push_back(optional(Command::FlowControl));
        steps.push_back(Step::Command {
            command: Command::VoiceMode,
            required: true,
        });
        if profile.vsm.is_some() {
            steps.push_back(Step::SetCompression { four_args: false });
        } else {
            steps.push_back(Step::QueryCompression);
        }
        if profile.command_set == CommandSet::V253 {
            steps.push_back(Step::QueryLabels);
        }
        steps.push_back(optional(Command::CallerId(CallerIdMode::Formatted)));
        if profile.command_set == CommandSet::V253 {
            steps.push_back(optional(Command::InactivityTimer(0)));
        }
        steps.push_back(optional(Command::OnHook));
        Self {
            profile: profile.clone(),
            steps,
            state: State::NotStarted,
            vsm: profile.vsm,
            vsm_entries: Vec::new(),
            labels: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The first command. Calling it again once started changes nothing and
    /// repeats the pending line, so a driver can resend after reopening.
    pub fn start(&mut self) -> InitAction {
        match &self.state {
            State::NotStarted => self.advance(),
            State::Waiting { line, .. } => InitAction::Send(line.clone()),
            State::Finished => InitAction::Failed(InitError::AlreadyFinished),
        }
    }

    /// Whether the sequence has ended (done or failed).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Takes a parser event; only result lines matter.
    pub fn on_event(&mut self, event: &ModemEvent<'_>) -> Option<InitAction> {
        match event {
            ModemEvent::Line(line) => self.on_line(line),
            _ => None,
        }
    }

    /// Takes a result line. `None` while the answer is incomplete (list lines,
    /// unsolicited lines such as `RING`).
    pub fn on_line(&mut self, result: &ResultLine) -> Option<InitAction> {
        let State::Waiting { step, line } = &self.state else {
            return None;
        };
        if !result.is_final() {
            if let ResultLine::Info(text) = result {
                match step {
                    Step::QueryCompression if self.vsm_entries.len() < MAX_LIST_LINES => {
                        self.vsm_entries.extend(VsmEntry::parse(text));
                    }
                    Step::QueryLabels if self.labels.len() < MAX_LIST_LINES => {
                        self.labels.extend(VlsEntry::parse(text));
                    }
                    _ => {}
                }
            }
            return None;
        }
        let (step, line) = (step.clone(), line.clone());
        let ok = *result == ResultLine::Ok || *result == ResultLine::Vcon;
        if ok {
            if let Step::QueryCompression = step {
                let rate = self.profile.sample_rate();
                match select_vsm(&self.vsm_entries, rate) {
                    Some(choice) => {
                        self.vsm = Some(choice);
                        self.steps
                            .push_front(Step::SetCompression { four_args: false });
                    }
                    None => {
                        return Some(self.fail(InitError::NoUsableCompression {
                            rate,
                            offered: self.vsm_entries.len(),
                        }))
                    }
                }
            }
            return Some(self.advance());
        }
        match step {
            Step::SetCompression { four_args: false }
                if self.profile.vsm_syntax == VsmSyntax::TwoArgsThenFour =>
            {
                self.steps
                    .push_front(Step::SetCompression { four_args: true });
                Some(self.advance())
            }
            Step::Command {
                required: false, ..
            }
            | Step::Line {
                required: false, ..
            }
            | Step::QueryLabels => {
                self.warnings
                    .push(format!("{} answered {result}", line.text));
                Some(self.advance())
            }
            _ => Some(self.fail(InitError::Rejected {
                command: line.text,
                result: result.clone(),
            })),
        }
    }

    /// The modem did not answer the pending command in time.
    pub fn on_timeout(&mut self) -> InitAction {
        let command = match &self.state {
            State::Waiting { line, .. } => line.text.clone(),
            _ => String::new(),
        };
        self.fail(InitError::Timeout { command })
    }

    fn fail(&mut self, error: InitError) -> InitAction {
        self.state = State::Finished;
        self.steps.clear();
        InitAction::Failed(error)
    }

    /// Sends the next step, or finishes.
    fn advance(&mut self) -> InitAction {
        let encoder = Encoder::new(&self.profile);
        while let Some(step) = self.steps.pop_front() {
            let (line, rest, required) = match &step {
                Step::Command { command, required } => match encoder.encode(command) {
                    Ok(lines) => {
                        let mut lines = lines.into_iter();
                        match lines.next() {
                            Some(first) => (first, lines.collect::<Vec<_>>(), *required),
                            // A quirk removed the command: nothing to wait for.
                            None => continue,
                        }
                    }
                    Err(e) if *required => return self.fail(e.into()),
                    Err(e) => {
                        self.warnings.push(e.to_string());
                        continue;
                    }
                },
                Step::Line { line, required } => (line.clone(), Vec::new(), *required),
                Step::QueryCompression | Step::QueryLabels | Step::SetCompression { .. } => {
                    let command = match &step {
                        Step::QueryCompression => Command::QueryCompression,
                        Step::QueryLabels => Command::QueryLabels,
                        Step::SetCompression { four_args } => match self.vsm {
                            Some(choice) => Command::Compression {
                                choice,
                                four_args: *four_args,
                            },
                            None => {
                                return self.fail(InitError::NoUsableCompression {
                                    rate: self.profile.sample_rate(),
                                    offered: self.vsm_entries.len(),
                                })
                            }
                        },
                        _ => continue,
                    };
                    match encoder.encode(&command) {
                        Ok(lines) => match lines.into_iter().next() {
                            Some(first) => (first, Vec::new(), true),
                            None => continue,
                        },
                        Err(e) => return self.fail(e.into()),
                    }
                }
            };
            for extra in rest.into_iter().rev() {
                self.steps.push_front(Step::Line {
                    line: extra,
                    required,
                });
            }
            self.state = State::Waiting {
                step,
                line: line.clone(),
            };
            return InitAction::Send(line);
        }
        self.state = State::Finished;
        match self.vsm {
            Some(vsm) => {
                let reports_call_waiting = self
                    .labels
                    .iter()
                    .find(|entry| entry.label.to_string() == self.profile.vls_line)
                    .map(VlsEntry::reports_call_waiting);
                InitAction::Done(InitOutcome {
                    vsm: self.profile_rate(vsm),
                    labels: std::mem::take(&mut self.labels),
                    reports_call_waiting,
                    warnings: std::mem::take(&mut self.warnings),
                })
            }
            None => InitAction::Failed(InitError::NoUsableCompression {
                rate: self.profile.sample_rate(),
                offered: self.vsm_entries.len(),
            }),
        }
    }

    /// The choice with the rate actually sent (a forced rate wins).
    fn profile_rate(&self, vsm: VsmChoice) -> VsmChoice {
        VsmChoice {
            rate: self.profile.quirks.forced_sample_rate.unwrap_or(vsm.rate),
            ..vsm
        }
    }
}
