//! A pickup through the engine alone (no bus, no threads), next to the
//! ringing that precedes it as an anchor.

use divan::Bencher;
use pickupd::config::builtin_sim_site;
use pickupd::engine::{Command, Engine, HwEvent};

fn main() {
    divan::main();
}

fn ringing_site() -> Engine {
    let site = builtin_sim_site();
    let (mut engine, _) = Engine::new(&site, 0);
    let trunk = engine.line_by_name("trunk1").expect("trunk1");
    engine.hardware(
        1,
        HwEvent::RingStart {
            line: trunk,
            caller_number: "5551234".into(),
            caller_name: "ALICE".into(),
            tag: None,
        },
    );
    engine
}

/// Anchor: a call starts ringing on a trunk with five line keys.
#[divan::bench]
fn ring_trunk(b: Bencher) {
    let site = builtin_sim_site();
    b.with_inputs(|| Engine::new(&site, 0).0)
        .bench_local_values(|mut engine| {
            let trunk = engine.line_by_name("trunk1").expect("trunk1");
            engine.hardware(
                1,
                HwEvent::RingStart {
                    line: trunk,
                    caller_number: "5551234".into(),
                    caller_name: "ALICE".into(),
                    tag: None,
                },
            )
        });
}

/// Group pickup of the ringing trunk call by desk 202.
#[divan::bench]
fn group_pickup(b: Bencher) {
    b.with_inputs(ringing_site)
        .bench_local_values(|mut engine| {
            let picker = engine.address_by_number("202").expect("202");
            let (result, outputs) = engine.command(
                2,
                Command::Pickup {
                    address: picker,
                    dest: String::new(),
                    group: String::new(),
                },
            );
            assert!(result.is_ok());
            outputs
        });
}

/// Directed pickup naming the trunk number.
#[divan::bench]
fn directed_pickup(b: Bencher) {
    b.with_inputs(ringing_site)
        .bench_local_values(|mut engine| {
            let picker = engine.address_by_number("204").expect("204");
            let (result, outputs) = engine.command(
                2,
                Command::Pickup {
                    address: picker,
                    dest: "5550100".into(),
                    group: String::new(),
                },
            );
            assert!(result.is_ok());
            outputs
        });
}
