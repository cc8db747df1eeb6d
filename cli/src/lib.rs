//! `pickupctl`, the command line of pickupd: every method and property of
//! the D-Bus API (`pickupd_api`), for people and for scripts (`--json`).
//!
//! - [`args`]: the clap definitions ([`args::command`] for man pages and completions)
//! - [`bus`]: the connection and the per-call timeout / authorization flag
//! - [`resolve`]: naming objects by number, line name, call id or path
//! - [`model`]: objects, their property schema and a snapshot of the site
//! - [`output`]: human and JSON formatting (JSON shapes documented there)
//! - [`monitor`]: `pickupctl monitor` (event shapes documented there)
//! - [`error`]: errors and exit codes
//! - [`commands`]: one function per command
//! - [`tones`]: the offline `tones` commands (no daemon, no bus)

pub mod args;
pub mod bus;
pub mod commands;
pub mod error;
pub mod model;
pub mod monitor;
pub mod output;
pub mod resolve;
pub mod tones;

use std::io::Write;

use args::{Cli, Cmd};
use bus::Ctx;
use error::CliError;
use output::Out;

/// Connect as the command line says and run its command, writing results
/// to `stdout`. Returns the error to report, if any. The offline `tones`
/// commands run without connecting to any bus.
pub async fn run(cli: &Cli, stdout: &mut dyn Write) -> Result<(), CliError> {
    if let Cmd::Tones(cmd) = &cli.command {
        let mut out = Out::new(stdout, cli.global.json);
        return tones::run(cmd, &mut out);
    }
    let ctx = Ctx::connect(&cli.global).await?;
    run_on(&ctx, cli, stdout).await
}

/// Run the command of `cli` over an existing connection.
pub async fn run_on(ctx: &Ctx, cli: &Cli, stdout: &mut dyn Write) -> Result<(), CliError> {
    let mut out = Out::new(stdout, cli.global.json);
    commands::run(ctx, cli, &mut out).await
}
