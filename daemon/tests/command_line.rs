//! The `pickupd` command line: configuration checking and its exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn pickupd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pickupd"))
        .args(args)
        .output()
        .expect("run pickupd")
}

fn write_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pickupd-cl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn builtin_sim_site_checks_valid() {
    let o = pickupd(&["--sim", "--check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("7 lines"));
}

#[test]
fn unknown_key_exits_78_with_position() {
    let path = write_config(
        "unknown.toml",
        "zone = \"us\"\n\n[[line]]\nname = \"desk-1\"\nkind = \"sim-fxs\"\nnumber = \"201\"\npickup_grops = [\"x\"]\n",
    );
    let o = pickupd(&[
        "--sim",
        "--config",
        path.to_str().unwrap(),
        "--check-config",
    ]);
    assert_eq!(o.status.code(), Some(78));
    let err = stderr(&o);
    assert!(err.contains(&format!("{}:7:1:", path.display())), "{err}");
    assert!(err.contains("pickup_grops"), "{err}");
}

#[test]
fn semantic_error_exits_78_and_says_what_to_write() {
    let path = write_config(
        "appearance.toml",
        "[[line]]\nname = \"trunk1\"\nkind = \"sim-fxo\"\nnumber = \"5550100\"\nappearances = [\"desk-9\"]\n",
    );
    let o = pickupd(&[
        "--sim",
        "--config",
        path.to_str().unwrap(),
        "--check-config",
    ]);
    assert_eq!(o.status.code(), Some(78));
    let err = stderr(&o);
    assert!(err.contains(":5:16:"), "{err}");
    assert!(err.contains("no line named \"desk-9\""), "{err}");
}

#[test]
fn missing_file_exits_78() {
    let o = pickupd(&["--config", "/nonexistent/pickupd.toml", "--check-config"]);
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("/nonexistent/pickupd.toml"));
}

#[test]
fn key_system_site_is_refused_until_its_driver_exists() {
    let path = write_config(
        "real.toml",
        "[[line]]\nname = \"trunk1\"\nkind = \"keysystem\"\ndevice = \"tcp:127.0.0.1:1\"\nnumber = \"5550100\"\n",
    );
    // Valid as configuration …
    let o = pickupd(&["--config", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // … but this build cannot drive it, and says so before touching any bus.
    let o = pickupd(&[
        "--config",
        path.to_str().unwrap(),
        "--address",
        "unix:path=/nonexistent",
    ]);
    assert_eq!(o.status.code(), Some(69));
    assert!(stderr(&o).contains("not built yet"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2() {
    let o = pickupd(&["--log-level", "loud"]);
    assert_eq!(o.status.code(), Some(2));
    let o = pickupd(&["--session", "--address", "unix:path=/x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn unreachable_bus_is_reported() {
    let o = pickupd(&["--sim", "--address", "unix:path=/nonexistent/bus"]);
    assert_eq!(o.status.code(), Some(69));
    assert!(stderr(&o).contains("cannot connect"), "{}", stderr(&o));
}

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

#[test]
fn shipped_example_configuration_is_valid() {
    let path = repo_file("examples/pickupd.toml");
    let o = pickupd(&["--config", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 lines"));
}

/// The example in pickupd.toml(5) is real configuration, not prose.
#[test]
fn man_page_example_is_valid() {
    let page = std::fs::read_to_string(repo_file("man/pickupd.toml.5")).expect("man page");
    let start = page.find(".EX\n").expect("the page has an example") + 4;
    let end = page[start..].find(".EE").expect("the example ends") + start;
    let example = page[start..end].replace("\\-", "-");
    let path = write_config("from-man-page.toml", &example);
    let o = pickupd(&["--config", path.to_str().unwrap(), "--check-config"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{example}", stderr(&o));
}
