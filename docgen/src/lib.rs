//! Man pages and shell completions of `pickupd` and `pickupctl`, generated
//! from the very [`clap::Command`]s the programs parse
//! ([`pickupd::args::command`], [`pickupctl::args::command`]), so that they
//! cannot drift from the programs.
//!
//! [`generate`] writes, under an output directory:
//!
//! - `man/pickupd.8`, `man/pickupctl.1` and one page per `pickupctl`
//!   subcommand (`man/pickupctl-pickup.1`, `man/pickupctl-sim-incoming.1`, …),
//!   plus a copy of the hand-written `man/pickupd.toml.5`;
//! - `completions/pickupd.bash`, `completions/_pickupd` (zsh),
//!   `completions/pickupd.fish` and the same three for `pickupctl`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use roff::{bold, italic, roman, Roff};

/// The hand-written page of the configuration file, copied alongside.
pub const PICKUPD_TOML_5: &str = include_str!("../../man/pickupd.toml.5");

/// The shells completions are generated for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Exit statuses of `pickupctl` (`cli/src/error.rs`) and what they mean.
pub const PICKUPCTL_EXIT_STATUS: &[(u8, &str)] = {
    use pickupctl::error::*;
    &[
        (EXIT_OK, "success"),
        (
            EXIT_FAILED,
            "the operation failed (any API error not listed here); the API's message is printed on stderr",
        ),
        (EXIT_USAGE, "usage error"),
        (
            EXIT_TIMEOUT,
            "timeout: no answer within --timeout seconds",
        ),
        (
            EXIT_NOT_AUTHORIZED,
            "not authorized (polkit refused, or --no-ask-password when a password was needed)",
        ),
        (EXIT_NOT_RUNNING, "pickupd is not running on the chosen bus"),
        (
            EXIT_NO_SUCH_OBJECT,
            "no such object: unknown number, line or call",
        ),
    ]
};

/// The date of the pages, `YYYY-MM-DD`: from `SOURCE_DATE_EPOCH` when set
/// (reproducible builds; `packaging/build-deb` sets it to the date of the
/// changelog), else today.
pub fn man_date() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    let (y, m, d) = civil_from_days(secs / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The two programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Pickupd,
    Pickupctl,
}

impl Program {
    pub const ALL: [Program; 2] = [Program::Pickupd, Program::Pickupctl];

    pub fn name(self) -> &'static str {
        match self {
            Program::Pickupd => "pickupd",
            Program::Pickupctl => "pickupctl",
        }
    }

    /// The command definition, built (global options propagated, display
    /// and binary names of the subcommands set, no `help` subcommand).
    pub fn command(self) -> Command {
        let mut cmd = match self {
            Program::Pickupd => pickupd::args::command(),
            Program::Pickupctl => pickupctl::args::command(),
        }
        .disable_help_subcommand(true);
        cmd.build();
        cmd
    }

    /// Manual section: the daemon is an administration tool (8).
    pub fn man_section(self) -> &'static str {
        match self {
            Program::Pickupd => "8",
            Program::Pickupctl => "1",
        }
    }

    fn manual(self) -> &'static str {
        match self {
            Program::Pickupd => "System Administration",
            Program::Pickupctl => "User Commands",
        }
    }

    fn exit_status(self) -> &'static [(u8, &'static str)] {
        match self {
            Program::Pickupd => pickupd::args::EXIT_STATUS,
            Program::Pickupctl => PICKUPCTL_EXIT_STATUS,
        }
    }

    fn files(self) -> Vec<(String, &'static str)> {
        match self {
            Program::Pickupd => vec![
                (
                    pickupd::config::DEFAULT_CONFIG_PATH.to_owned(),
                    "the site: lines, numbers, groups; see pickupd.toml(5)",
                ),
                (
                    "/usr/lib/systemd/system/pickupd.service".into(),
                    "the systemd unit: runs pickupd --system as the user pickupd",
                ),
                (
                    "/usr/share/dbus-1/system.d/org.pickupd.Pickup1.conf".into(),
                    "the system bus policy: who may own and call org.pickupd.Pickup1",
                ),
                (
                    "/usr/share/polkit-1/actions/org.pickupd.pickup1.policy".into(),
                    "the polkit actions org.pickupd.pickup1.control and org.pickupd.pickup1.configure",
                ),
                (
                    "/usr/lib/udev/rules.d/70-pickupd.rules".into(),
                    "gives the pickupd group the DAHDI devices and keeps ModemManager off its modems",
                ),
                (
                    "/usr/share/dbus-1/interfaces/".into(),
                    "the introspection XML of the D-Bus interfaces",
                ),
            ],
            Program::Pickupctl => Vec::new(),
        }
    }

    fn see_also(self) -> &'static [&'static str] {
        match self {
            Program::Pickupd => &[
                "pickupctl(1)",
                "pickupd.toml(5)",
                "polkit(8)",
                "systemctl(1)",
            ],
            Program::Pickupctl => &["pickupd(8)", "pickupd.toml(5)"],
        }
    }
}

/// Every page of a program: the program's own, then one per subcommand at
/// any depth (pre-order), as (file name, page text).
pub fn man_pages(program: Program) -> Vec<(String, String)> {
    let root = program.command();
    let mut pages = Vec::new();
    collect_pages(program, &root, None, &mut pages);
    pages
}

fn collect_pages(
    program: Program,
    cmd: &Command,
    parent: Option<&Command>,
    pages: &mut Vec<(String, String)>,
) {
    pages.push(render_page(program, cmd, parent));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_pages(program, sub, Some(cmd), pages);
    }
}

fn page_name(cmd: &Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// One page: clap_mangen's sections, with EXIT STATUS, FILES and SEE ALSO
/// added and the version at the end.
fn render_page(program: Program, cmd: &Command, parent: Option<&Command>) -> (String, String) {
    let section = program.man_section();
    let man = Man::new(cmd.clone())
        .title(page_name(cmd).to_uppercase())
        .section(section)
        .source(format!(
            "{} {}",
            program.name(),
            cmd.get_version().unwrap_or(env!("CARGO_PKG_VERSION"))
        ))
        .manual(program.manual())
        .date(man_date());
    let preamble = Roff::new().render();
    let mut out = Vec::new();
    let mut section_into = |render: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| {
        let mut buf = Vec::new();
        render(&mut buf).expect("rendering into memory");
        let text = String::from_utf8(buf).expect("roff output is UTF-8");
        let text = if out.is_empty() {
            text.as_str()
        } else {
            text.strip_prefix(&preamble).unwrap_or(&text)
        }
        .to_owned();
        out.extend_from_slice(text.as_bytes());
    };
    section_into(&|w| man.render_title(w));
    section_into(&|w| man.render_name_section(w));
    section_into(&|w| man.render_synopsis_section(w));
    section_into(&|w| man.render_description_section(w));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        section_into(&|w| man.render_options_section(w));
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        section_into(&|w| man.render_subcommands_section(w));
    }
    let is_root = parent.is_none();
    // The root's exit statuses are in EXIT STATUS; anything else after the
    // help goes where clap_mangen puts it.
    if !is_root && (cmd.get_after_long_help().is_some() || cmd.get_after_help().is_some()) {
        section_into(&|w| man.render_extra_section(w));
    }

    let mut extra = Roff::new();
    let root_page = format!("{}({section})", program.name());
    if is_root {
        extra.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in program.exit_status() {
            extra.control("TP", []);
            extra.text([bold(code.to_string())]);
            extra.text([roman(*meaning)]);
        }
    } else {
        extra.control("SH", ["EXIT STATUS"]);
        extra.text([
            roman("As for every "),
            bold(program.name()),
            roman(" command: see "),
            bold(root_page.clone()),
            roman("."),
        ]);
    }
    let files = program.files();
    if is_root && !files.is_empty() {
        extra.control("SH", ["FILES"]);
        for (path, what) in files {
            extra.control("TP", []);
            extra.text([italic(path)]);
            extra.text([roman(what)]);
        }
    }
    let mut see_also: Vec<String> = Vec::new();
    if let Some(parent) = parent {
        let parent_page = format!("{}({section})", page_name(parent));
        if parent_page != root_page {
            see_also.push(root_page.clone());
        }
        see_also.push(parent_page);
    }
    see_also.extend(program.see_also().iter().map(|s| s.to_string()));
    extra.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, page) in see_also.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        let (name, sect) = page.split_once('(').unwrap_or((page, ""));
        line.push(bold(name));
        line.push(roman(format!("({sect}")));
    }
    extra.text(line);
    section_into(&|w| extra.to_writer(w));
    if cmd.get_version().is_some() {
        section_into(&|w| man.render_version_section(w));
    }
    (
        format!("{}.{section}", page_name(cmd)),
        String::from_utf8(out).expect("roff output is UTF-8"),
    )
}

/// The completion script of `program` for `shell`, as (file name, text).
pub fn completion(program: Program, shell: Shell) -> (String, String) {
    let mut cmd = program.command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, program.name(), &mut buf);
    (
        shell.file_name(program.name()),
        String::from_utf8(buf).expect("completion scripts are UTF-8"),
    )
}

/// Whether `name` is a file this generator writes (and may replace).
fn is_ours(name: &str) -> bool {
    let name = name.strip_prefix('_').unwrap_or(name);
    Program::ALL
        .iter()
        .any(|p| name == p.name() || name.starts_with(&format!("{}.", p.name())))
        || name.starts_with("pickupctl-")
}

/// Remove the files of an earlier run (a page of a subcommand that no
/// longer exists must not be packaged), leaving anything else alone.
fn clear_ours(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_file() && name.to_str().is_some_and(is_ours) {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Write every page and completion script under `out`; returns the paths
/// written, man pages first.
pub fn generate(out: &Path) -> io::Result<Vec<PathBuf>> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    let mut written = Vec::new();
    for dir in [&man_dir, &completions_dir] {
        fs::create_dir_all(dir)?;
        clear_ours(dir)?;
    }
    let mut write = |dir: &Path, name: &str, text: &str| -> io::Result<()> {
        let path = dir.join(name);
        fs::write(&path, text)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        written.push(path);
        Ok(())
    };
    for program in Program::ALL {
        for (name, text) in man_pages(program) {
            write(&man_dir, &name, &text)?;
        }
    }
    write(&man_dir, "pickupd.toml.5", PICKUPD_TOML_5)?;
    for program in Program::ALL {
        for shell in SHELLS {
            let (name, text) = completion(program, shell);
            write(&completions_dir, &name, &text)?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers a root command's `after_long_help` ("Exit status: …")
    /// lists, which the pages replace by their EXIT STATUS section.
    fn codes_in_after_help(cmd: &Command) -> Vec<u8> {
        let text = cmd
            .get_after_long_help()
            .expect("after_long_help")
            .to_string();
        let text = text.strip_prefix("Exit status:").expect("Exit status:");
        // One per line ("  0  stopped cleanly…") or in one sentence ("0 success, 1 …").
        let items: Vec<&str> = if text.trim().contains('\n') {
            text.lines().collect()
        } else {
            text.split(',').collect()
        };
        items
            .into_iter()
            .filter_map(|item| item.split_whitespace().next())
            .map(|n| n.parse().unwrap_or_else(|_| panic!("{n:?} in {text:?}")))
            .collect()
    }

    #[test]
    fn exit_status_sections_are_the_help_texts() {
        for program in Program::ALL {
            let table: Vec<u8> = program.exit_status().iter().map(|(c, _)| *c).collect();
            assert_eq!(
                codes_in_after_help(&program.command()),
                table,
                "{}",
                program.name()
            );
            let (_, page) = &man_pages(program)[0];
            for (code, _) in program.exit_status() {
                assert!(page.contains(&format!(".TP\n\\fB{code}\\fR\n")), "{page}");
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
    }

    #[test]
    fn file_names() {
        let names: Vec<String> = man_pages(Program::Pickupctl)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names[0], "pickupctl.1");
        assert!(
            names.contains(&"pickupctl-pickup.1".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"pickupctl-sim-incoming.1".to_owned()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        let names: Vec<String> = man_pages(Program::Pickupd)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["pickupd.8"]);
        assert_eq!(completion(Program::Pickupd, Shell::Zsh).0, "_pickupd");
        assert_eq!(
            completion(Program::Pickupctl, Shell::Bash).0,
            "pickupctl.bash"
        );
        assert_eq!(
            completion(Program::Pickupctl, Shell::Fish).0,
            "pickupctl.fish"
        );
    }

    #[test]
    fn only_our_files_are_replaced() {
        for ours in [
            "pickupd.8",
            "pickupctl.1",
            "pickupctl-sim-plug.1",
            "pickupd.toml.5",
            "_pickupctl",
            "pickupd.fish",
            "pickupctl.bash",
        ] {
            assert!(is_ours(ours), "{ours}");
        }
        for other in ["ls.1", "pickupdx.8", "_git", "README", "pickup.1"] {
            assert!(!is_ours(other), "{other}");
        }
    }

    #[test]
    fn one_preamble_and_the_added_sections() {
        let (_, page) = &man_pages(Program::Pickupd)[0];
        assert_eq!(page.matches(".ds Aq").count(), 2, "{page}");
        for heading in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH \"EXIT STATUS\"",
            ".SH FILES",
            ".SH \"SEE ALSO\"",
            ".SH VERSION",
        ] {
            assert_eq!(page.matches(heading).count(), 1, "{heading}:\n{page}");
        }
        assert!(!page.contains(".SH EXTRA"), "{page}");
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
        assert!(page.contains(".TH PICKUPD 8 "), "{page}");
    }
}
