//! Runs `pickupd-docgen` into a temporary directory and checks that the
//! man pages and completion scripts name every subcommand and every long
//! option of both programs, with the lists taken from the clap definitions
//! themselves, and that the files pass their tools (groff/man, bash -n,
//! zsh -n, fish -n, and real completion queries in bash and fish).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Output};

use clap::Command;
use pickupd_docgen::{Program, SHELLS};

/// One command of a program: the program itself or a subcommand at any depth.
#[derive(Debug)]
struct Node {
    /// The words after the program's name that select it (`["sim", "incoming"]`).
    path: Vec<String>,
    /// Its page's name (`pickupctl-sim-incoming`).
    page: String,
    /// Every long option it accepts, with the leading `--`.
    longs: Vec<String>,
    /// Its direct subcommands: (name, page name).
    subcommands: Vec<(String, String)>,
}

fn nodes(program: Program) -> Vec<Node> {
    fn walk(cmd: &Command, path: Vec<String>, out: &mut Vec<Node>) {
        let visible = |c: &&Command| !c.is_hide_set();
        out.push(Node {
            path: path.clone(),
            page: cmd
                .get_display_name()
                .unwrap_or_else(|| cmd.get_name())
                .to_owned(),
            longs: cmd
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long())
                .map(|l| format!("--{l}"))
                .collect(),
            subcommands: cmd
                .get_subcommands()
                .filter(visible)
                .map(|s| {
                    (
                        s.get_name().to_owned(),
                        s.get_display_name().unwrap_or(s.get_name()).to_owned(),
                    )
                })
                .collect(),
        });
        for sub in cmd.get_subcommands().filter(visible) {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    walk(&program.command(), Vec::new(), &mut out);
    out
}

fn generate() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Proc::new(env!("CARGO_BIN_EXE_pickupd-docgen"))
        .arg(dir.path())
        .output()
        .expect("run pickupd-docgen");
    assert!(out.status.success(), "pickupd-docgen: {out:?}");
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .collect()
}

/// Whether `tool` is installed; prints a note when it is not.
fn have(tool: &str, what: &str) -> bool {
    let found = Proc::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("note: {tool} is not installed: {what} skipped");
    }
    found
}

fn run_ok(out: std::io::Result<Output>, what: &str) -> String {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Page text with the roff escapes that clap_mangen writes removed.
fn plain(roff: &str) -> String {
    roff.replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\fP", "")
        .replace("\\*(Aq", "'")
}

/// The options that have an item of their own in an options section.
fn option_items(plain_page: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = plain_page.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0] == ".TP")
        // "--opt <VAL>", "-h, --help", "--opt[=<VAL>]" (optional values)
        .flat_map(|w| w[1].split([' ', ',', '[', '=']))
        .filter(|word| word.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

fn page_file(program: Program, node: &Node) -> String {
    format!("{}.{}", node.page, program.man_section())
}

#[test]
fn every_page_and_script_is_written_and_nothing_else() {
    let dir = generate();
    let mut man = BTreeSet::from(["pickupd.toml.5".to_owned()]);
    let mut completions = BTreeSet::new();
    for program in Program::ALL {
        for node in nodes(program) {
            man.insert(page_file(program, &node));
        }
        for shell in SHELLS {
            completions.insert(pickupd_docgen::completion(program, shell).0);
        }
    }
    assert_eq!(names_in(&dir.path().join("man")), man);
    assert_eq!(
        completions,
        BTreeSet::from(
            [
                "pickupd.bash",
                "_pickupd",
                "pickupd.fish",
                "pickupctl.bash",
                "_pickupctl",
                "pickupctl.fish"
            ]
            .map(String::from)
        )
    );
    assert_eq!(names_in(&dir.path().join("completions")), completions);
    // Each subcommand of pickupctl has its page, e.g. pickupctl-pickup.1.
    assert!(man.contains("pickupctl-pickup.1") && man.contains("pickupctl-sim-incoming.1"));
    assert!(man.contains("pickupd.8") && man.contains("pickupctl.1"));
    let toml5 = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/pickupd.toml.5"));
    assert_eq!(read(&dir.path().join("man/pickupd.toml.5")), toml5);
}

#[test]
fn man_pages_name_every_option_and_subcommand() {
    let dir = generate();
    let mut subcommands_seen = 0;
    for program in Program::ALL {
        let nodes = nodes(program);
        assert!(!nodes[0].longs.is_empty());
        for node in &nodes {
            let file = dir.path().join("man").join(page_file(program, node));
            let text = plain(&read(&file));
            let section = program.man_section();
            assert!(
                text.contains(&format!(".TH {} {section} ", node.page.to_uppercase())),
                "{}: title",
                file.display()
            );
            assert!(
                text.contains(&format!(".SH NAME\n{} - ", node.page)),
                "{}: NAME",
                file.display()
            );
            // Each option has its own item (".TP" then "-h, --help"), not
            // just a mention in the synopsis.
            let items = option_items(&text);
            for long in &node.longs {
                assert!(
                    items.contains(long),
                    "{}: no item for {long}",
                    file.display()
                );
            }
            for (name, page) in &node.subcommands {
                assert!(
                    text.contains(&format!("{page}({section})")),
                    "{}: subcommand {name} missing",
                    file.display()
                );
                subcommands_seen += 1;
            }
            assert!(text.contains(".SH \"EXIT STATUS\""), "{}", file.display());
            assert!(text.contains(".SH \"SEE ALSO\""), "{}", file.display());
        }
    }
    // 18 subcommands of pickupctl, 9 of `sim` and 2 of `tones` at least.
    assert!(subcommands_seen >= 29, "{subcommands_seen}");
    let pickupd = plain(&read(&dir.path().join("man/pickupd.8")));
    for (code, meaning) in pickupd::args::EXIT_STATUS {
        assert!(
            pickupd.contains(&format!(".TP\n{code}\n{meaning}\n")),
            "{code}"
        );
    }
    assert!(pickupd.contains(pickupd::config::DEFAULT_CONFIG_PATH));
}

#[test]
fn man_pages_render_without_warnings() {
    let dir = generate();
    let pages: Vec<PathBuf> = names_in(&dir.path().join("man"))
        .into_iter()
        .map(|n| dir.path().join("man").join(n))
        .collect();
    assert!(pages.len() > 30, "{pages:?}");
    if have("groff", "groff -ww of the man pages") {
        for page in &pages {
            let out = Proc::new("groff")
                .args(["-man", "-Tutf8", "-ww", "-z"])
                .arg(page)
                .output();
            let what = format!("groff {}", page.display());
            let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "{what}: {stderr}"
            );
        }
    }
    if have("man", "man --warnings of the man pages") {
        // As lintian checks them: at 80 columns, every groff warning.
        for page in &pages {
            let out = Proc::new("man")
                .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
                .arg(page)
                .env("LC_ALL", "C.UTF-8")
                .env("MANWIDTH", "80")
                .env_remove("MANROFFSEQ")
                .output();
            let what = format!("man -l {}", page.display());
            let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "{what}: {stderr}"
            );
        }
    }
}

/// Candidates bash offers for `words` (the last one being completed).
fn bash_complete(script: &Path, function: &str, words: &[&str]) -> BTreeSet<String> {
    const DRIVER: &str = r#"source "$1"; shift
func="$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let out = Proc::new("bash")
        .args(["-c", DRIVER, "driver"])
        .arg(script)
        .arg(function)
        .args(words)
        .output();
    run_ok(out, &format!("bash completion of {words:?}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Candidates fish offers for the command line `line`.
fn fish_complete(script: &Path, line: &str) -> BTreeSet<String> {
    let out = Proc::new("fish")
        .args(["--no-config", "-c", "source $argv[1]; complete -C $argv[2]"])
        .arg(script)
        .arg(line)
        .output();
    run_ok(out, &format!("fish completion of {line:?}"))
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

fn assert_offers(offered: &BTreeSet<String>, wanted: &[String], what: &str) {
    let missing: Vec<&String> = wanted.iter().filter(|w| !offered.contains(*w)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {missing:?} not offered; offered {offered:?}"
    );
}

#[test]
fn bash_completion_offers_every_option_and_subcommand() {
    let dir = generate();
    for program in Program::ALL {
        let script = dir
            .path()
            .join(format!("completions/{}.bash", program.name()));
        run_ok(Proc::new("bash").arg("-n").arg(&script).output(), "bash -n");
        let function = format!("_{}", program.name());
        for node in nodes(program) {
            let mut words: Vec<&str> = vec![program.name()];
            words.extend(node.path.iter().map(String::as_str));
            words.push("--");
            let offered = bash_complete(&script, &function, &words);
            assert_offers(&offered, &node.longs, &format!("bash {words:?}"));
            if !node.subcommands.is_empty() {
                words.pop();
                words.push("");
                let offered = bash_complete(&script, &function, &words);
                let names: Vec<String> = node.subcommands.iter().map(|s| s.0.clone()).collect();
                assert_offers(&offered, &names, &format!("bash {words:?}"));
            }
        }
    }
}

#[test]
fn fish_completion_offers_every_option_and_subcommand() {
    let dir = generate();
    let fish = have("fish", "fish -n and fish completion queries");
    for program in Program::ALL {
        let script = dir
            .path()
            .join(format!("completions/{}.fish", program.name()));
        let text = read(&script);
        for node in nodes(program) {
            for long in &node.longs {
                let flag = format!("-l {}", long.trim_start_matches("--"));
                assert!(text.contains(&flag), "{}: {flag}", script.display());
            }
            for (name, _) in &node.subcommands {
                let arg = format!("-a \"{name}\"");
                assert!(text.contains(&arg), "{}: {arg}", script.display());
            }
        }
        if !fish {
            continue;
        }
        run_ok(Proc::new("fish").arg("-n").arg(&script).output(), "fish -n");
        for node in nodes(program) {
            let mut line = program.name().to_owned();
            for word in &node.path {
                line.push(' ');
                line.push_str(word);
            }
            let offered = fish_complete(&script, &format!("{line} --"));
            assert_offers(&offered, &node.longs, &format!("fish {line:?} --"));
            if !node.subcommands.is_empty() {
                let offered = fish_complete(&script, &format!("{line} "));
                let names: Vec<String> = node.subcommands.iter().map(|s| s.0.clone()).collect();
                assert_offers(&offered, &names, &format!("fish {line:?}"));
            }
        }
    }
}

#[test]
fn zsh_completion_names_every_option_and_subcommand() {
    let dir = generate();
    for program in Program::ALL {
        let script = dir.path().join(format!("completions/_{}", program.name()));
        let text = read(&script);
        assert!(text.starts_with(&format!("#compdef {}\n", program.name())));
        for node in nodes(program) {
            for long in &node.longs {
                // '--json[…]', '--timeout=[…]', '(--a --b)--system[…]'
                let found =
                    text.contains(&format!("{long}[")) || text.contains(&format!("{long}=["));
                assert!(found, "{}: {long}", script.display());
            }
            for (name, _) in &node.subcommands {
                // a case branch and an entry of the _describe list
                assert!(
                    text.contains(&format!("({name})")),
                    "{}: ({name})",
                    script.display()
                );
                assert!(
                    text.contains(&format!("'{name}:")),
                    "{}: '{name}:",
                    script.display()
                );
            }
        }
        if have("zsh", "zsh -n of the zsh completion") {
            run_ok(Proc::new("zsh").arg("-n").arg(&script).output(), "zsh -n");
        }
    }
}

#[test]
fn a_new_run_replaces_its_own_files_only() {
    let dir = generate();
    let stale = dir.path().join("man/pickupctl-gone.1");
    let foreign = dir.path().join("man/other.1");
    let foreign_completion = dir.path().join("completions/_other");
    for f in [&stale, &foreign, &foreign_completion] {
        std::fs::write(f, "x").expect("write");
    }
    std::fs::write(dir.path().join("completions/_pickupctl"), "old").expect("write");
    let out = Proc::new(env!("CARGO_BIN_EXE_pickupd-docgen"))
        .arg(dir.path())
        .output()
        .expect("run pickupd-docgen");
    assert!(out.status.success(), "{out:?}");
    assert!(!stale.exists(), "a page of a removed subcommand stays");
    assert!(foreign.exists() && foreign_completion.exists());
    assert!(read(&dir.path().join("completions/_pickupctl")).starts_with("#compdef"));
}

#[test]
fn usage_errors() {
    let out = Proc::new(env!("CARGO_BIN_EXE_pickupd-docgen"))
        .output()
        .expect("run pickupd-docgen");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let out = Proc::new(env!("CARGO_BIN_EXE_pickupd-docgen"))
        .arg(file.path())
        .output()
        .expect("run pickupd-docgen");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("pickupd-docgen: "));
}
