//! `pickupctl` end to end: the real binary against the real daemon on a
//! private bus, human and `--json` output, exit codes, and `monitor`.

use pickupd_api::tapi::{addr_feature, call_state};
use pickupd_tests::{binary, wait_for, Daemon, PrivateBus};
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Run pickupctl and insist on `want` as exit status.
#[track_caller]
fn ok(d: &Daemon, args: &[&str]) -> String {
    let (code, out, err) = d.ctl(args);
    assert_eq!(code, 0, "pickupctl {args:?}: stdout {out:?} stderr {err:?}");
    out
}

#[track_caller]
fn fails(d: &Daemon, args: &[&str], want: i32) -> String {
    let (code, out, err) = d.ctl(args);
    assert_eq!(
        code, want,
        "pickupctl {args:?}: stdout {out:?} stderr {err:?}"
    );
    assert!(
        !err.trim().is_empty(),
        "pickupctl {args:?}: an error message on stderr"
    );
    err
}

/// `--json` output: one JSON object per non-empty line.
#[track_caller]
fn json_lines(d: &Daemon, args: &[&str]) -> Vec<Json> {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    ok(d, &a)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Json = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("pickupctl {args:?}: not JSON ({e}): {l}"));
            assert!(v.is_object(), "one object per line: {l}");
            v
        })
        .collect()
}

#[track_caller]
fn json_one(d: &Daemon, args: &[&str]) -> Json {
    let mut v = json_lines(d, args);
    assert_eq!(v.len(), 1, "pickupctl {args:?}: one JSON object: {v:?}");
    v.remove(0)
}

fn id_of(call: &Json) -> String {
    call["id"].as_u64().expect("a call id").to_string()
}

/// Poll `call ID --json` until its state is `want`.
async fn wait_state(d: &Daemon, id: &str, want: &str) -> Json {
    wait_for(
        &format!("call {id} to be {want}"),
        Duration::from_secs(10),
        || async {
            let (code, out, _) = d.ctl(&["--json", "call", id]);
            if code != 0 {
                return None;
            }
            let v: Json = serde_json::from_str(out.trim()).ok()?;
            (v["state"] == want).then_some(v)
        },
    )
    .await
}

/// Every call as JSON.
fn calls(d: &Daemon) -> Vec<Json> {
    json_lines(d, &["calls"])
}

/// Flag names decode the raw word exactly.
#[track_caller]
fn assert_flags_decode(names: &Json, value: &Json, table: &[(u32, &str)]) {
    let value = u32::try_from(value.as_u64().expect("flag word")).expect("u32");
    let mut word = 0;
    for n in names.as_array().expect("array of names") {
        let n = n.as_str().expect("a name");
        let bit = table
            .iter()
            .find(|(_, name)| *name == n)
            .unwrap_or_else(|| panic!("{n} is not a known flag name"))
            .0;
        word |= bit;
    }
    assert_eq!(word, value, "names {names} decode {value:#x}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lines_and_addresses() {
    let d = Daemon::start_sim().await;
    let text = ok(&d, &["status"]);
    assert!(text.contains("Version:"), "{text}");
    assert!(text.contains("Simulated: yes"), "{text}");
    assert!(text.contains("us"), "{text}");
    let s = json_one(&d, &["status"]);
    assert_eq!(s["simulated"], true);
    assert_eq!(s["zone"], "us");
    assert_eq!(s["line_count"], 7);
    assert_eq!(s["address_count"], 7);
    assert_eq!(s["call_count"], 0);
    assert!(!s["version"].as_str().expect("version").is_empty());

    let names = [
        "trunk1", "trunk2", "desk-201", "desk-202", "desk-203", "desk-204", "desk-205",
    ];
    let text = ok(&d, &["lines"]);
    for n in names {
        assert!(text.contains(n), "lines lists {n}: {text}");
    }
    let lines = json_lines(&d, &["lines"]);
    let got: Vec<&str> = lines
        .iter()
        .map(|l| l["name"].as_str().expect("name"))
        .collect();
    assert_eq!(got, names, "lines in creation order");
    for l in &lines {
        assert_eq!(l["state"], "in-service", "{l}");
        assert_eq!(l["hook"], "on", "{l}");
        let name = l["name"].as_str().expect("name");
        assert_eq!(l["kind"], pickupd_tests::builtin_kind(name), "{l}");
    }
    let trunk_kind = pickupd_tests::builtin_kind("trunk1");

    let text = ok(&d, &["line", "trunk1"]);
    assert!(
        text.contains("trunk1") && text.contains(trunk_kind),
        "{text}"
    );
    let t = json_one(&d, &["line", "trunk1"]);
    assert_eq!(t["name"], "trunk1");
    assert_eq!(t["kind"], trunk_kind);
    let device = t["device"].as_str().expect("device");
    if pickupd_tests::emulated_hardware() {
        assert!(device.ends_with("/dev/dahdi/channel:1"), "{t}");
        let t2 = json_one(&d, &["line", "trunk2"]);
        let modem = t2["device"].as_str().expect("device");
        assert!(modem.ends_with("/tty/trunk2"), "{t2}");
    } else {
        assert_eq!(device, "sim:trunk1");
    }
    assert!(
        t["addresses"]
            .as_array()
            .expect("addresses")
            .iter()
            .any(|a| a["number"] == "5550100"),
        "{t}"
    );
    // The same line by object path.
    let by_path = json_one(&d, &["line", t["path"].as_str().expect("path")]);
    assert_eq!(by_path["name"], "trunk1");

    let text = ok(&d, &["addresses"]);
    for n in ["5550100", "5550101", "201", "202", "203", "204", "205"] {
        assert!(text.contains(n), "addresses lists {n}: {text}");
    }
    let addrs = json_lines(&d, &["addresses"]);
    assert_eq!(addrs.len(), 7);
    let trunk = addrs
        .iter()
        .find(|a| a["number"] == "5550100")
        .expect("5550100");
    assert_eq!(trunk["sharing"], "BRIDGEDEXCL");
    assert_eq!(trunk["call_groups"], serde_json::json!(["sales"]));
    assert_eq!(
        trunk["appearances"].as_array().expect("appearances").len(),
        5
    );

    // Features decoded to names once something rings at 201.
    ok(
        &d,
        &[
            "sim", "incoming", "201", "--from", "5551234", "--name", "ALICE",
        ],
    );
    let a = json_one(&d, &["address", "202"]);
    assert_eq!(a["number"], "202");
    assert_eq!(a["line"]["name"], "desk-202");
    assert_eq!(a["sharing"], "PRIVATE");
    assert_eq!(a["pickup_groups"], serde_json::json!(["sales"]));
    assert_flags_decode(&a["features"], &a["features_value"], addr_feature::ALL);
    assert_flags_decode(
        &a["cap_flags"],
        &a["cap_flags_value"],
        pickupd_api::tapi::addr_cap_flags::ALL,
    );
    let f = a["features_value"].as_u64().expect("features");
    let f = u32::try_from(f).expect("u32");
    assert_ne!(f & addr_feature::PICKUPDIRECT, 0, "{a}");
    assert_ne!(f & addr_feature::PICKUPGROUP, 0, "{a}");
    for name in ["PICKUP", "PICKUPGROUP", "PICKUPDIRECT"] {
        assert!(
            a["features"]
                .as_array()
                .expect("features")
                .contains(&Json::from(name)),
            "{a}"
        );
    }
    let text = ok(&d, &["address", "202"]);
    assert!(text.contains("PICKUPDIRECT"), "{text}");
    assert!(
        text.contains(&format!("{f:#x}")),
        "raw word shown too: {text}"
    );
    // 201 itself has the call, not a pickup feature for it.
    let a201 = json_one(&d, &["address", "201"]);
    assert_eq!(a201["calls"].as_array().expect("calls").len(), 1, "{a201}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_pickup_answer_hold_unhold_drop() {
    let d = Daemon::start_sim().await;
    assert!(ok(&d, &["calls"]).contains("no calls"));
    assert!(calls(&d).is_empty());

    let text = ok(
        &d,
        &[
            "sim", "incoming", "202", "--from", "5551234", "--name", "ALICE",
        ],
    );
    assert!(text.contains("OFFERING"), "{text}");
    let first = calls(&d);
    assert_eq!(first.len(), 1);
    let c = &first[0];
    assert_eq!(c["state"], "OFFERING");
    assert_eq!(c["state_value"], call_state::OFFERING);
    assert_eq!(c["reason"], "DIRECT");
    assert_eq!(c["caller_number"], "5551234");
    assert_eq!(c["caller_name"], "ALICE");
    assert_eq!(c["address"]["number"], "202");
    assert_eq!(c["station"]["name"], "desk-202");
    assert_eq!(c["direction"], "inbound");
    let ringing = id_of(c);
    let text = ok(&d, &["call", &ringing]);
    assert!(
        text.contains("OFFERING") && text.contains("5551234"),
        "{text}"
    );
    let table = ok(&d, &["calls"]);
    assert!(
        table.contains("OFFERING") && table.contains("ALICE"),
        "{table}"
    );

    // Directed pickup from the desktop: 201's phone rings with the call.
    let p = json_one(&d, &["pickup", "--at", "201", "--dest", "202"]);
    assert_eq!(p["reason"], "PICKUP");
    assert_eq!(p["reason_value"], 0x10);
    assert_eq!(p["state"], "OFFERING");
    assert_eq!(p["station"]["name"], "desk-201");
    assert_eq!(p["caller_number"], "5551234");
    let picked = id_of(&p);
    assert_ne!(picked, ringing);
    fails(&d, &["call", &ringing], 10);

    let text = ok(&d, &["answer", &picked]);
    assert!(text.contains("answered"), "{text}");
    wait_state(&d, &picked, "CONNECTED").await;
    let text = ok(&d, &["hold", &picked]);
    assert!(text.contains("hold"), "{text}");
    let held = wait_state(&d, &picked, "ONHOLD").await;
    assert_eq!(held["held_by"]["name"], "desk-201", "{held}");
    let j = json_one(&d, &["unhold", &picked]);
    assert_eq!(j["ok"], true);
    assert_eq!(j["action"], "unhold");
    assert_eq!(j["call"]["id"].to_string(), picked);
    wait_state(&d, &picked, "CONNECTED").await;
    let j = json_one(&d, &["hold", &picked]);
    assert_eq!(j["action"], "hold");
    wait_state(&d, &picked, "ONHOLD").await;
    ok(&d, &["unhold", &picked]);
    wait_state(&d, &picked, "CONNECTED").await;
    // Answer a CONNECTED call: the operation fails (exit 1).
    fails(&d, &["answer", &picked], 1);
    let j = json_one(&d, &["drop", &picked]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "drop",
        "call": {"path": format!("/org/pickupd/Pickup1/Call/{picked}"), "id": picked.parse::<u64>().expect("n")}})
    );
    wait_for("the dropped call to go", Duration::from_secs(5), || async {
        (d.ctl(&["call", &picked]).0 == 10).then_some(())
    })
    .await;

    // Group pickup: a sales call on trunk1, 202 names its own group.
    ok(&d, &["sim", "onhook", "201"]);
    let t = json_one(
        &d,
        &[
            "sim", "incoming", "5550100", "--from", "5552000", "--name", "BOB",
        ],
    );
    assert_eq!(t["address"]["number"], "5550100");
    let g = json_one(&d, &["pickup", "--at", "202", "--group", "sales"]);
    assert_eq!(g["reason"], "PICKUP");
    assert_eq!(g["caller_name"], "BOB");
    assert_eq!(g["station"]["name"], "desk-202");
    let text = ok(&d, &["drop", &id_of(&g)]);
    assert!(text.contains("dropped"), "{text}");

    // Plain pickup with nothing to pick: operation failed.
    let err = fails(&d, &["pickup", "--at", "203"], 1);
    assert!(err.contains("203"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_and_swap() {
    let d = Daemon::start_sim().await;
    let text = ok(&d, &["dial", "--at", "201", "202"]);
    assert!(text.starts_with("call "), "{text}");
    let all = calls(&d);
    let out = all
        .iter()
        .find(|c| c["address"]["number"] == "201")
        .expect("the call placed at 201");
    assert_eq!(out["direction"], "internal", "{out}");
    let at202 = all
        .iter()
        .find(|c| c["address"]["number"] == "202")
        .expect("the call ringing at 202");
    assert_eq!(at202["state"], "OFFERING", "{at202}");
    ok(&d, &["drop", &id_of(out)]);
    wait_for(
        "the internal call to end",
        Duration::from_secs(5),
        || async { calls(&d).is_empty().then_some(()) },
    )
    .await;
    let j = json_one(&d, &["dial", "--at", "203", "204"]);
    assert_eq!(j["address"]["number"], "203");
    assert_eq!(j["direction"], "internal");
    ok(&d, &["drop", &id_of(&j)]);

    // Two calls at one station: a trunk call and the waiting party it
    // flashed to; swap between them.
    ok(
        &d,
        &[
            "sim", "incoming", "5550101", "--from", "5553000", "--name", "CAROL",
        ],
    );
    let first = json_one(&d, &["pickup", "--at", "205", "--group", "support"]);
    ok(&d, &["sim", "offhook", "205"]);
    let first = id_of(&first);
    wait_state(&d, &first, "CONNECTED").await;
    // Pickup with neither destination nor group on a call-waiting line:
    // the flash to the waiting party (the user heard the tone).
    let second = json_one(&d, &["pickup", "--at", "205"]);
    let second_id = id_of(&second);
    assert_eq!(second["reason"], "PICKUP");
    wait_state(&d, &second_id, "CONNECTED").await;
    wait_state(&d, &first, "ONHOLD").await;
    let text = ok(&d, &["swap", &second_id, &first]);
    assert!(text.contains("on hold"), "{text}");
    wait_state(&d, &first, "CONNECTED").await;
    wait_state(&d, &second_id, "ONHOLD").await;
    let j = json_one(&d, &["swap", &first, &second_id]);
    assert_eq!(j["ok"], true);
    assert_eq!(j["action"], "swap");
    assert_eq!(j["call"]["id"].to_string(), first);
    assert_eq!(j["held_call"]["id"].to_string(), second_id);
    wait_state(&d, &second_id, "CONNECTED").await;
    wait_state(&d, &first, "ONHOLD").await;
    // Swapping a call that does not exist: no such object.
    fails(&d, &["swap", "4242", &first], 10);
}

/// A connected call at 205 (trunk2) and its id.
async fn connected_trunk_call(d: &Daemon, trunk: &str, at: &str) -> String {
    ok(
        d,
        &[
            "sim", "incoming", trunk, "--from", "5553000", "--name", "CAROL",
        ],
    );
    let c = json_one(d, &["pickup", "--at", at]);
    ok(d, &["sim", "offhook", at]);
    let id = id_of(&c);
    wait_state(d, &id, "CONNECTED").await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_with_an_unknown_held_call_is_no_such_object() {
    let d = Daemon::start_sim().await;
    let id = connected_trunk_call(&d, "5550101", "205").await;
    fails(&d, &["swap", &id, "4242"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_callwaiting_on_a_cidcw_trunk_decodes_the_caller() {
    let d = Daemon::start_sim().await;
    connected_trunk_call(&d, "5550100", "203").await;
    wait_for(
        "sim callwaiting to be accepted",
        Duration::from_secs(5),
        || async {
            let (code, _, _) = d.ctl(&[
                "sim",
                "callwaiting",
                "5550100",
                "--from",
                "5554000",
                "--name",
                "DAVE",
            ]);
            (code == 0).then_some(())
        },
    )
    .await;
    let w = wait_for("the CIDCW caller id", Duration::from_secs(15), || async {
        calls(&d)
            .into_iter()
            .find(|c| c["call_waiting"] == true && c["caller_number"] == "5554000")
    })
    .await;
    assert_eq!(w["caller_name"], "DAVE");
    assert_eq!(w["detected_by"], "cas");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_callwaiting_as_soon_as_the_call_is_connected() {
    let d = Daemon::start_sim().await;
    for trunk in ["5550100", "5550101"] {
        let at = if trunk == "5550100" { "203" } else { "205" };
        connected_trunk_call(&d, trunk, at).await;
        ok(&d, &["sim", "callwaiting", trunk, "--from", "5554000"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_and_every_sim_command() {
    let d = Daemon::start_sim().await;
    let text = ok(&d, &["reload"]);
    assert!(text.contains("reload"), "{text}");
    assert_eq!(
        json_one(&d, &["reload"]),
        serde_json::json!({"ok": true, "action": "reload"})
    );

    // offhook / onhook / flash, human and JSON.
    assert!(ok(&d, &["sim", "offhook", "201"]).contains("201"));
    let j = json_one(&d, &["sim", "flash", "201"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim flash", "number": "201"})
    );
    assert!(ok(&d, &["sim", "flash", "201"]).contains("201"));
    let j = json_one(&d, &["sim", "onhook", "201"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim onhook", "number": "201"})
    );
    let j = json_one(&d, &["sim", "offhook", "201"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim offhook", "number": "201"})
    );
    assert!(ok(&d, &["sim", "onhook", "201"]).contains("201"));
    // A flash with the handset down: the operation fails.
    fails(&d, &["sim", "flash", "201"], 1);

    // incoming (human) + dial **202 at 204 = a directed pickup by phone.
    let text = ok(&d, &["sim", "incoming", "202", "--from", "5551234"]);
    assert!(text.contains("5551234"), "{text}");
    ok(&d, &["sim", "offhook", "204"]);
    let j = json_one(&d, &["sim", "dial", "204", "**202"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim dial", "number": "204", "digits": "**202"})
    );
    let picked = wait_for(
        "the call picked up at 204",
        Duration::from_secs(10),
        || async {
            calls(&d)
                .into_iter()
                .find(|c| c["address"]["number"] == "204" && c["state"] == "CONNECTED")
        },
    )
    .await;
    assert_eq!(picked["reason"], "PICKUP");
    assert_eq!(picked["caller_number"], "5551234");
    // hangup (JSON): the far party hangs up.
    let j = json_one(&d, &["sim", "hangup", "204"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim hangup", "number": "204"})
    );
    wait_for("every call to end", Duration::from_secs(5), || async {
        calls(&d).is_empty().then_some(())
    })
    .await;
    ok(&d, &["sim", "onhook", "204"]);

    // callwaiting: a connected call on trunk1 (CIDCW) at 203, then a second
    // caller; the daemon detects it and decodes the caller id.
    ok(
        &d,
        &[
            "sim", "incoming", "5550100", "--from", "5552000", "--name", "BOB",
        ],
    );
    let talk = json_one(&d, &["pickup", "--at", "203"]);
    ok(&d, &["sim", "offhook", "203"]);
    wait_state(&d, &id_of(&talk), "CONNECTED").await;
    // The simulated trunk may need a moment to be "in conversation".
    let j = wait_for(
        "sim callwaiting to be accepted",
        Duration::from_secs(5),
        || async {
            let (code, out, _) = d.ctl(&[
                "--json",
                "sim",
                "callwaiting",
                "5550100",
                "--from",
                "5554000",
                "--name",
                "DAVE",
            ]);
            (code == 0).then(|| serde_json::from_str::<Json>(out.trim()).expect("JSON"))
        },
    )
    .await;
    assert_eq!(j["ok"], true);
    assert_eq!(j["action"], "sim callwaiting");
    assert_eq!(j["number"], "5550100");
    let waiting = wait_for("the waiting call", Duration::from_secs(10), || async {
        calls(&d).into_iter().find(|c| c["call_waiting"] == true)
    })
    .await;
    assert_eq!(waiting["state"], "OFFERING");
    let by = waiting["detected_by"].as_str().expect("detected_by");
    assert!(by == "sas" || by == "cas", "{waiting}");
    assert_eq!(waiting["address"]["number"], "5550100");
    // (The CIDCW caller id: see sim_callwaiting_on_a_cidcw_trunk_decodes_the_caller.)
    // Human form of callwaiting, on trunk2 without a call: refused.
    fails(
        &d,
        &["sim", "callwaiting", "5550101", "--from", "5554000"],
        1,
    );
    let text = ok(&d, &["sim", "hangup", "5550100"]);
    assert!(text.contains("5550100"), "{text}");
    ok(&d, &["sim", "onhook", "203"]);

    // unplug / plug, by name, human and JSON.
    let j = json_one(&d, &["sim", "unplug", "desk-205"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim unplug", "line": "desk-205"})
    );
    let l = json_one(&d, &["line", "desk-205"]);
    assert_eq!(l["state"], "out-of-service");
    assert!(ok(&d, &["sim", "plug", "desk-205"]).contains("desk-205"));
    wait_for(
        "desk-205 back in service",
        Duration::from_secs(5),
        || async { (json_one(&d, &["line", "desk-205"])["state"] == "in-service").then_some(()) },
    )
    .await;
    assert!(ok(&d, &["sim", "unplug", "desk-205"]).contains("desk-205"));
    let j = json_one(&d, &["sim", "plug", "desk-205"]);
    assert_eq!(
        j,
        serde_json::json!({"ok": true, "action": "sim plug", "line": "desk-205"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes() {
    let d = Daemon::start_sim().await;
    // 2: usage.
    for args in [
        &["frobnicate"][..],
        &["pickup"],
        &["pickup", "--dest", "202"],
        &["call", "x7"],
        &["swap", "7"],
        &["sim", "incoming", "202"],
        &["--timeout", "soon", "status"],
    ] {
        let (code, _, err) = d.ctl(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?}: usage on stderr");
    }
    // 10: no such object.
    for args in [
        &["address", "999"][..],
        &["address", "20x"],
        &["line", "nope"],
        &["call", "999"],
        &["drop", "999"],
        &["answer", "999"],
        &["hold", "999"],
        &["pickup", "--at", "9999"],
        &["pickup", "--at", "201", "--dest", "999"],
        &["dial", "--at", "999", "201"],
        &["sim", "incoming", "999", "--from", "1"],
        &["sim", "offhook", "999"],
        &["sim", "unplug", "nope"],
    ] {
        let err = fails(&d, args, 10);
        assert!(!err.contains("panicked"), "{err}");
    }
    // 1: the operation failed.
    ok(&d, &["sim", "incoming", "202", "--from", "5551234"]);
    let err = fails(&d, &["pickup", "--at", "202"], 1);
    assert!(err.contains("202"), "the API's message: {err}");
    fails(&d, &["pickup", "--at", "202", "--group", "support"], 1);
    fails(&d, &["pickup", "--at", "201", "--group", "nosuchgroup"], 1);
    let id = id_of(&calls(&d)[0]);
    fails(&d, &["hold", &id], 1);
    fails(&d, &["unhold", &id], 1);
    // 8: a bus without the daemon.
    let bus = PrivateBus::start().expect("an empty bus");
    for args in [
        &["status"][..],
        &["calls"],
        &["sim", "offhook", "201"],
        &["reload"],
    ] {
        let out = Command::new(binary("pickupctl"))
            .args(["--address", &bus.address, "--timeout", "5"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pickupctl");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(8),
            "{args:?} without a daemon: {err}"
        );
        assert!(
            err.contains("not running") || err.contains("org.pickupd.Pickup1"),
            "{err}"
        );
    }
}

// ----------------------------------------------------------------------------
// monitor

struct Monitor {
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Monitor {
    fn start(d: &Daemon) -> Monitor {
        let mut child = Command::new(binary("pickupctl"))
            .args(["--address", &d.bus.address, "--json", "monitor"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pickupctl monitor");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(line) => l.lock().expect("lock").push(line),
                    Err(_) => break,
                }
            }
        });
        Monitor { child, lines }
    }

    fn events(&self) -> Vec<Json> {
        self.lines
            .lock()
            .expect("lock")
            .iter()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("monitor line not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// Send `signal` (`-INT`, `-TERM`) and return the exit code.
    fn stop(mut self, signal: &str) -> Option<i32> {
        let st = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("monitor did not exit within 10 s of {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Wait until the monitor is listening: keep making a harmless change
/// (Address.Features of 201 follows a call ringing at 202) until it reports.
async fn wait_listening(d: &Daemon, m: &Monitor) {
    wait_for(
        "monitor to report events",
        Duration::from_secs(15),
        || async {
            let (code, out, err) = d.ctl(&["--json", "sim", "incoming", "204", "--from", "1"]);
            assert_eq!(code, 0, "{err}");
            let call: Json = serde_json::from_str(out.trim()).expect("JSON");
            tokio::time::sleep(Duration::from_millis(200)).await;
            ok(d, &["drop", &id_of(&call)]);
            tokio::time::sleep(Duration::from_millis(200)).await;
            (!m.events().is_empty()).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_json_follows_events_and_stops_on_signals() {
    let d = Daemon::start_sim().await;
    for signal in ["-INT", "-TERM"] {
        let m = Monitor::start(&d);
        wait_listening(&d, &m).await;
        let before = m.events().len();
        let ringing = json_one(
            &d,
            &[
                "sim", "incoming", "202", "--from", "5551234", "--name", "ALICE",
            ],
        );
        let ringing_path = ringing["path"].as_str().expect("path").to_owned();
        let picked = json_one(&d, &["pickup", "--at", "201", "--dest", "202"]);
        let picked_path = picked["path"].as_str().expect("path").to_owned();
        let evs = wait_for(
            "the monitor to see the pickup",
            Duration::from_secs(10),
            || async {
                let evs: Vec<Json> = m.events().split_off(before);
                let added = evs.iter().any(|e| {
                    e["event"] == "interfaces_added"
                        && e["path"] == picked_path.as_str()
                        && e["object"]["reason"] == "PICKUP"
                });
                let state = evs.iter().any(|e| {
                    e["event"] == "state_changed"
                        && e["path"] == ringing_path.as_str()
                        && e["new_state"] == "DISCONNECTED"
                        && e["mode"] == "PICKUP"
                });
                let props = evs.iter().any(|e| {
                    e["event"] == "properties_changed"
                        && e["kind"] == "address"
                        && e["changed"].get("features").is_some()
                });
                (added && state && props).then_some(evs)
            },
        )
        .await;
        for e in &evs {
            for key in ["event", "time", "path", "kind"] {
                assert!(e.get(key).is_some(), "every event has {key}: {e}");
            }
        }
        // The old call's states arrive in order: DISCONNECTED, then IDLE.
        let old: Vec<&str> = evs
            .iter()
            .filter(|e| e["event"] == "state_changed" && e["path"] == ringing_path.as_str())
            .map(|e| e["new_state"].as_str().expect("new_state"))
            .collect();
        wait_for("IDLE of the old call", Duration::from_secs(5), || async {
            m.events()
                .iter()
                .any(|e| {
                    e["event"] == "state_changed"
                        && e["path"] == ringing_path.as_str()
                        && e["new_state"] == "IDLE"
                })
                .then_some(())
        })
        .await;
        assert_eq!(old.first().copied(), Some("DISCONNECTED"), "{old:?}");
        ok(&d, &["drop", &id_of(&picked)]);
        assert_eq!(
            m.stop(signal),
            Some(0),
            "monitor exits 0 on SIG{}",
            &signal[1..]
        );
    }
}
