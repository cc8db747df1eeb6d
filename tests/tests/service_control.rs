//! Run-time control as systemd uses it: `org.freedesktop.LogControl1`
//! (what `systemctl service-log-level pickupd debug` sets).

use pickupd_tests::Daemon;
use zbus::zvariant::Value;

const PATH: &str = "/org/freedesktop/LogControl1";
const IFACE: &str = "org.freedesktop.LogControl1";

async fn properties(d: &Daemon) -> zbus::fdo::PropertiesProxy<'static> {
    zbus::fdo::PropertiesProxy::builder(&d.conn)
        .destination(pickupd_api::BUS_NAME)
        .expect("name")
        .path(PATH)
        .expect("path")
        .build()
        .await
        .expect("properties proxy")
}

async fn get(p: &zbus::fdo::PropertiesProxy<'_>, name: &str) -> String {
    let v = p
        .get(IFACE.try_into().expect("iface"), name)
        .await
        .expect("Get");
    String::try_from(v).expect("a string")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_level_can_be_changed_at_run_time() {
    let mut d = Daemon::start_sim().await;
    let p = properties(&d).await;
    // The test bed starts pickupd with --log-level warn.
    assert_eq!(get(&p, "LogLevel").await, "warning");
    assert_eq!(get(&p, "LogTarget").await, "console");
    assert_eq!(get(&p, "SyslogIdentifier").await, "pickupd");
    for (set, shown) in [
        ("debug", "debug"),
        ("notice", "info"),
        ("err", "err"),
        ("info", "info"),
    ] {
        p.set(
            IFACE.try_into().expect("iface"),
            "LogLevel",
            Value::from(set),
        )
        .await
        .expect("Set LogLevel");
        assert_eq!(get(&p, "LogLevel").await, shown, "after setting {set}");
    }
    let err = p
        .set(
            IFACE.try_into().expect("iface"),
            "LogLevel",
            Value::from("loud"),
        )
        .await
        .expect_err("an unknown level is refused");
    assert!(err.to_string().contains("InvalidArgs"), "{err}");
    let err = p
        .set(
            IFACE.try_into().expect("iface"),
            "LogTarget",
            Value::from("kmsg"),
        )
        .await
        .expect_err("the target cannot change while running");
    assert!(err.to_string().contains("NotSupported"), "{err}");
    assert_eq!(get(&p, "LogLevel").await, "info");
    assert!(d.alive());
}
