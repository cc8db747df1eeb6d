//! `pickupd-docgen OUT_DIR`: writes the man pages and shell completions of
//! pickupd and pickupctl under OUT_DIR (see the library's documentation).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Generate the man pages and shell completions of pickupd and pickupctl
/// from their command line definitions.
///
/// Writes OUT_DIR/man/pickupd.8, OUT_DIR/man/pickupctl.1 and a page per
/// pickupctl subcommand (pickupctl-SUBCOMMAND.1), a copy of
/// OUT_DIR/man/pickupd.toml.5, and OUT_DIR/completions/{NAME.bash, _NAME,
/// NAME.fish} for both programs. Files of an earlier run in those two
/// directories are replaced; nothing else there is touched.
#[derive(Parser, Debug)]
#[command(name = "pickupd-docgen", version)]
struct Args {
    /// Output directory (created if missing), e.g. target/generated
    out_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match pickupd_docgen::generate(&args.out_dir) {
        Ok(written) => {
            println!(
                "{} files written under {}",
                written.len(),
                args.out_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pickupd-docgen: {e}");
            ExitCode::FAILURE
        }
    }
}
