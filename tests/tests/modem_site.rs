//! A configured site with a voice-modem trunk: the daemon drives an
//! emulated Conexant modem on a real pty through its V.253 driver, and a
//! call the modem rings shows on the bus with the caller id the modem
//! reported; answering it at a desk takes the modem off hook.

use pickupd_api::proxy::{CallProxy, ManagerProxy};
use pickupd_emu::modem::EmulatedModem;
use pickupd_hw::v253::{CallerId, CallerNumber, ModemProfile};
use pickupd_tests::{wait_for, Daemon, TempDir};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_rung_by_a_modem_shows_with_its_caller_id() {
    let modem = EmulatedModem::start(ModemProfile::conexant()).expect("emulated modem");
    let dir = TempDir::new("pickupd-modem-site").expect("temp dir");
    let config = dir.path().join("pickupd.toml");
    std::fs::write(
        &config,
        format!(
            "zone = \"us\"\n\
             [[line]]\nname = \"modem1\"\nkind = \"modem\"\ndevice = \"{}\"\nnumber = \"5550200\"\n",
            modem.path().display()
        ),
    )
    .expect("write the site");
    let d = Daemon::start(&["--config", config.to_str().expect("utf-8 path")]).await;
    let manager = ManagerProxy::new(&d.conn).await.expect("manager");
    let handle = modem.handle();
    // The driver identifies and initialises the modem before it can ring.
    wait_for("the modem in voice mode", Duration::from_secs(15), || {
        let settings = handle.settings();
        async move { (settings.fclass == 8 && settings.caller_id == 1).then_some(()) }
    })
    .await;

    assert!(handle.incoming_call(CallerId {
        number: Some(CallerNumber::Number("5551234".into())),
        name: Some("DOE JOHN".into()),
        ..CallerId::default()
    }));
    let call = wait_for("the call on the bus", Duration::from_secs(15), || {
        let manager = manager.clone();
        async move { manager.calls().await.ok()?.into_iter().next() }
    })
    .await;
    let proxy = CallProxy::builder(&d.conn)
        .path(call)
        .expect("path")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("call proxy");
    assert_eq!(
        proxy.caller_number().await.expect("CallerNumber"),
        "5551234"
    );
    assert_eq!(proxy.caller_name().await.expect("CallerName"), "DOE JOHN");

    // Answer it from the bus: the modem goes off hook in voice mode.
    proxy.answer().await.expect("Answer");
    wait_for("the modem off hook", Duration::from_secs(10), || {
        let off = handle.state().off_hook;
        async move { off.then_some(()) }
    })
    .await;
}
