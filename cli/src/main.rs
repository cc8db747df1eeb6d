//! `pickupctl` — the command line of pickupd.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use pickupctl::args::Cli;
use pickupctl::error::{CliError, EXIT_FAILED};

fn main() -> ExitCode {
    // Usage errors, --help and --version exit here (2, 0, 0).
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "pickupctl: cannot start: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let result = runtime.block_on(pickupctl::run(&cli, &mut stdout));
    match result {
        Ok(()) | Err(CliError::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "pickupctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
