//! The demo: starts a private bus and `pickupd --sim`, then plays a scene on
//! the built-in simulated site and prints it as a readable log, with the
//! D-Bus signals the daemon emits as they arrive.

use futures_util::StreamExt;
use pickupd_api::tapi::{call_reason, call_state, disconnect_mode, name_of};
use pickupd_api::{CALL_INTERFACE, CALL_PATH_PREFIX};
use pickupd_tests::{wait_for, Daemon};
use std::time::{Duration, Instant};
use zbus::zvariant::OwnedObjectPath;
use zbus::MatchRule;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn stamp() -> String {
    let t = START.get_or_init(Instant::now).elapsed();
    format!("{:>3}.{:03}", t.as_secs(), t.subsec_millis())
}

fn say(text: &str) {
    println!("{}  {text}", stamp());
}

fn scene(title: &str) {
    println!("\n── {title} ──");
}

fn call_id(p: &OwnedObjectPath) -> &str {
    p.as_str()
        .strip_prefix(CALL_PATH_PREFIX)
        .unwrap_or(p.as_str())
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

async fn describe(d: &Daemon, p: &OwnedObjectPath) -> Res<String> {
    let c = d.call(p).await;
    let station = c.station().await?;
    let station = if station.as_str() == "/" {
        "no station".to_string()
    } else {
        let line = pickupd_api::proxy::LineProxy::builder(&d.conn)
            .path(station)?
            .build()
            .await?;
        format!("at {}", line.name().await?)
    };
    let caller = c.caller_number().await?;
    let name = c.caller_name().await?;
    Ok(format!(
        "call {} is {} {station}, reason {}{}{}",
        call_id(p),
        name_of(call_state::ALL, c.state().await?),
        name_of(call_reason::ALL, c.reason().await?),
        if caller.is_empty() {
            String::new()
        } else {
            format!(", caller {caller}")
        },
        if name.is_empty() {
            String::new()
        } else {
            format!(" \"{name}\"")
        },
    ))
}

/// Wait until some call at `number`'s address is in `state`.
async fn call_at(d: &Daemon, number: &str, state: u32, what: &str) -> Res<OwnedObjectPath> {
    let addr = d.address(number).await;
    let p = wait_for(what, Duration::from_secs(10), || {
        let addr = addr.clone();
        let d = &*d;
        async move {
            for c in addr.calls().await.ok()? {
                if d.call(&c).await.state().await.ok()? == state {
                    return Some(c);
                }
            }
            None
        }
    })
    .await;
    Ok(p)
}

#[tokio::main]
async fn main() {
    START.get_or_init(Instant::now);
    if let Err(e) = run().await {
        eprintln!("pickupd-demo: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Res<()> {
    println!("pickupd demo: the built-in simulated site (spec/site.md)");
    println!(
        "trunk1 5550100 (sales, call waiting + CIDCW), trunk2 5550101 (support, call waiting),"
    );
    println!("desks 201-205 with line keys for both trunks. Every ring, tone and digit below is");
    println!("simulated hardware: digits are DTMF audio and call waiting is the 440 Hz tone,");
    println!("found by the daemon's own detectors.\n");
    say("starting a private D-Bus daemon and `pickupd --sim` on it");
    let mut d = Daemon::start_sim().await;
    say(&format!(
        "pickupd is up (pid {}), serving org.pickupd.Pickup1",
        d.pid()
    ));

    // Print every StateChanged signal as it arrives.
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(CALL_INTERFACE)?
        .member("StateChanged")?
        .build();
    let mut signals = zbus::MessageStream::for_match_rule(rule, &d.conn, None).await?;
    tokio::spawn(async move {
        while let Some(Ok(msg)) = signals.next().await {
            let path = msg
                .header()
                .path()
                .map(|p| p.to_string())
                .unwrap_or_default();
            if let Ok((old, new, mode)) = msg.body().deserialize::<(u32, u32, u32)>() {
                let mode = if mode == 0 {
                    String::new()
                } else {
                    format!(" ({})", name_of(disconnect_mode::ALL, mode))
                };
                println!(
                    "{}      signal: call {} {} → {}{mode}",
                    stamp(),
                    path.strip_prefix(CALL_PATH_PREFIX).unwrap_or(&path),
                    name_of(call_state::ALL, old),
                    name_of(call_state::ALL, new)
                );
            }
        }
    });
    let sim = d.sim().await;

    scene("1. Directed pickup: 202 is ringing, 201 picks it up from the desktop");
    say("a call from 5551234 ALICE arrives for desk 202");
    sim.incoming_call("202", "5551234", "ALICE").await?;
    let a201 = d.address("201").await;
    say(&format!(
        "201's Features now: 0x{:x} (PICKUP|PICKUPGROUP|PICKUPDIRECT)",
        a201.features().await?
    ));
    say("201 lifts the handset, then the desktop app calls Pickup(\"202\", \"\") on 201");
    sim.off_hook("201").await?;
    let c = a201.pickup("202", "").await?;
    say(&describe(&d, &c).await?);

    scene("2. Group pickup: a sales call rings on trunk1; 202 takes it with Pickup(\"\", \"\")");
    sim.incoming_call("5550100", "5552000", "BOB").await?;
    say("BOB calls 5550100: every desk with a line key for trunk1 rings");
    say("202's app picks up with the handset down: 202 alone rings, with the picked call");
    let c = d.address("202").await.pickup("", "").await?;
    say(&describe(&d, &c).await?);
    sim.off_hook("202").await?;
    say("202 lifts the handset");
    say(&describe(&d, &c).await?);

    scene("3. Pickup from another group: a support call on trunk2, taken by naming \"support\"");
    sim.incoming_call("5550101", "5553000", "CAROL").await?;
    say("CAROL calls 5550101 (support)");
    let err = d
        .address("202")
        .await
        .pickup("", "support")
        .await
        .expect_err("202 lacks PICKUPGROUPID");
    say(&format!(
        "202 tries Pickup(\"\", \"support\"): refused, {err}"
    ));
    let c3 = d.address("201").await.pickup("", "support").await;
    say(&format!(
        "201 (PICKUPGROUPID, but busy with ALICE) tries too: refused, {}",
        c3.expect_err("201 is in a call")
    ));
    let c3 = d.address("205").await.pickup("", "support").await?;
    sim.off_hook("205").await?;
    say(&format!(
        "205 (PICKUPGROUPID) succeeds and lifts the handset: {}",
        describe(&d, &c3).await?
    ));

    scene("4. A held call taken at another desk (transfer through hold)");
    say("202 puts BOB on hold on the trunk1 line key");
    let bob = call_at(&d, "5550100", call_state::CONNECTED, "BOB connected").await?;
    d.call(&bob).await.hold().await?;
    say(&describe(&d, &bob).await?);
    sim.off_hook("204").await?;
    say("204 lifts the handset and dials *8: the held call on its line key is the first choice");
    sim.dial("204", "*8").await?;
    let taken = call_at(
        &d,
        "5550100",
        call_state::CONNECTED,
        "held call taken at 204",
    )
    .await?;
    say(&describe(&d, &taken).await?);

    scene("5. Call waiting: a second call on trunk2 while 205 talks to CAROL");
    say("the office signals a call from 5554000 DAVE: the 440 Hz tone plays into trunk2's audio");
    sim.call_waiting("5550101", "5554000", "DAVE").await?;
    let waiting = wait_for(
        "the call-waiting tone to be detected",
        Duration::from_secs(5),
        || {
            let d = &d;
            async move {
                for c in d.address("5550101").await.calls().await.ok()? {
                    let cp = d.call(&c).await;
                    if cp.call_waiting().await.ok()? {
                        return Some((c, cp.detected_by().await.ok()?));
                    }
                }
                None
            }
        },
    )
    .await;
    say(&format!(
        "waiting call {} found by the tone detector (DetectedBy \"{}\")",
        call_id(&waiting.0),
        waiting.1
    ));
    say("205 calls Pickup(\"\", \"\"): a hook flash on trunk2 swaps to the waiting call");
    let w = d.address("205").await.pickup("", "").await?;
    say(&describe(&d, &w).await?);
    say(&describe(&d, &c3).await?);

    scene("6. *8 from a phone: 203 picks up a call ringing at 201");
    say("201 hangs up on ALICE");
    sim.on_hook("201").await?;
    sim.incoming_call("201", "5555000", "ERIN").await?;
    say("ERIN calls 201; 203 lifts the handset and dials *8 (DTMF audio)");
    sim.off_hook("203").await?;
    sim.dial("203", "*8").await?;
    let erin = call_at(&d, "203", call_state::CONNECTED, "ERIN's call at 203").await?;
    say(&describe(&d, &erin).await?);

    scene("7. **202 from a phone: directed pickup by dialling");
    sim.on_hook("202").await?;
    sim.incoming_call("202", "5556000", "FRANK").await?;
    sim.off_hook("201").await?;
    say("FRANK calls 202; 201 lifts the handset and dials **202");
    sim.dial("201", "**202").await?;
    let frank = call_at(&d, "201", call_state::CONNECTED, "FRANK's call at 201").await?;
    say(&describe(&d, &frank).await?);

    scene("8. Shutdown");
    let calls = d.manager().await.calls().await?.len();
    say(&format!(
        "{calls} calls are live; sending SIGTERM to pickupd"
    ));
    let status = d.terminate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    say(&format!(
        "pickupd exited with {}",
        status.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
    ));
    Ok(())
}
