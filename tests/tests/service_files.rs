//! The files that make pickupd a system service, checked by the real tools:
//! systemd-analyze on the unit, a system-style dbus-daemon on the policy.

use pickupd_tests::{binary, system_like_bus, wait_for, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The unit with its binaries pointed at this build, so verify can find them.
fn unit_for_this_build(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("systemd/pickupd.service")).expect("unit file");
    let pickupd = binary("pickupd");
    let text = text.replace("/usr/bin/pickupd", pickupd.to_str().expect("utf-8 path"));
    let path = dir.join("pickupd.service");
    std::fs::write(&path, text).expect("write unit");
    path
}

#[test]
fn unit_verifies_clean() {
    let dir = TempDir::new("pickupd-unit").expect("temp dir");
    let unit = unit_for_this_build(dir.path());
    // Man pages are checked once they are installed with the package.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed: {stderr}");
    assert!(
        !stderr.contains("pickupd.service"),
        "verify complained: {stderr}"
    );
}

#[test]
fn unit_exposure_is_at_most_1_5() {
    let dir = TempDir::new("pickupd-unit").expect("temp dir");
    let unit = unit_for_this_build(dir.path());
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("exposure level for pickupd.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {text}"));
    assert!(level <= 1.5, "exposure {level} > 1.5:\n{text}");
}

async fn daemon_owns_name(address: &str) -> bool {
    let mut pickupd = Command::new(binary("pickupd"))
        .args(["--sim", "--address", address, "--log-level", "error"])
        .stderr(Stdio::null())
        .spawn()
        .expect("pickupd");
    let conn = zbus::connection::Builder::address(address)
        .expect("address")
        .build()
        .await
        .expect("connect");
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("bus proxy");
    let owned = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(Some(_)) = pickupd.try_wait() {
                return false;
            }
            if let Ok(true) = dbus
                .name_has_owner(pickupd_api::BUS_NAME.try_into().expect("name"))
                .await
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or(false);
    if owned {
        // Anyone may talk to it: a method call reaches the daemon.
        let manager = pickupd_api::proxy::ManagerProxy::new(&conn)
            .await
            .expect("proxy");
        let version = wait_for(
            "Manager.Version through the policy",
            Duration::from_secs(5),
            || {
                let m = manager.clone();
                async move { m.version().await.ok() }
            },
        )
        .await;
        assert!(!version.is_empty());
    }
    let _ = pickupd.kill();
    let _ = pickupd.wait();
    owned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_policy_loads_and_is_what_lets_pickupd_own_its_name() {
    // Without the policy, the system-like bus refuses the name …
    let dir = TempDir::new("pickupd-sysbus").expect("temp dir");
    let (mut bus, address) = system_like_bus(dir.path(), false, "");
    assert!(
        !daemon_owns_name(&address).await,
        "the name was owned without the policy"
    );
    let _ = bus.kill();
    let _ = bus.wait();
    // … with it, the daemon owns the name and serves method calls.
    let dir = TempDir::new("pickupd-sysbus").expect("temp dir");
    let (mut bus, address) = system_like_bus(dir.path(), true, "");
    assert!(
        daemon_owns_name(&address).await,
        "the policy did not let pickupd own its name"
    );
    let _ = bus.kill();
    let _ = bus.wait();
}

#[test]
fn activation_file_names_the_unit_alias() {
    let service = std::fs::read_to_string(repo().join("dbus/org.pickupd.Pickup1.service"))
        .expect("activation file");
    let unit = std::fs::read_to_string(repo().join("systemd/pickupd.service")).expect("unit");
    assert!(service.contains(&format!("Name={}", pickupd_api::BUS_NAME)));
    assert!(service.contains("SystemdService=dbus-org.pickupd.Pickup1.service"));
    assert!(unit.contains("Alias=dbus-org.pickupd.Pickup1.service"));
    assert!(unit.contains(&format!("BusName={}", pickupd_api::BUS_NAME)));
}

#[test]
fn polkit_actions_are_the_api_ones() {
    let text =
        std::fs::read_to_string(repo().join("polkit/org.pickupd.pickup1.policy")).expect("policy");
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(&text, options).expect("well-formed polkit policy");
    let mut ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|n| n.attribute("id"))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            pickupd_api::POLKIT_ACTION_CONFIGURE,
            pickupd_api::POLKIT_ACTION_CONTROL
        ]
    );
}
