//! The udev rules, read by udev's own parser (`udevadm test`).

use std::path::Path;
use std::process::Command;

const INSTALLED: &str = "/run/udev/rules.d/70-pickupd.rules";

/// Removes the rules file from udev's runtime directory, even on failure.
struct Installed;
impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(INSTALLED);
    }
}

#[test]
fn rules_parse_without_complaint() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../udev/70-pickupd.rules");
    // The rules name the service user's group; systemd-sysusers creates it on
    // a real install. Here: create it if this test may (CI runs as root).
    if Command::new("getent")
        .args(["group", "pickupd"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        let made = Command::new("groupadd")
            .args(["--system", "pickupd"])
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "group pickupd is missing and cannot be created (run as root)"
        );
    }
    std::fs::create_dir_all("/run/udev/rules.d")
        .expect("udev runtime rules directory (run as root)");
    std::fs::copy(&rules, INSTALLED).expect("install the rules for udevadm");
    let _guard = Installed;
    let out = Command::new("udevadm")
        .args(["test", "--action=add", "/sys/class/tty/tty0"])
        .output()
        .expect("udevadm (Debian package udev) must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("Reading rules file: {INSTALLED}")),
        "udev did not read the rules:\n{text}"
    );
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("70-pickupd.rules:"))
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("invalid")
                || l.contains("unknown")
                || l.contains("error")
                || l.contains("ignoring")
        })
        .collect();
    assert!(
        complaints.is_empty(),
        "udev complained:\n{}",
        complaints.join("\n")
    );
}
