//! A pickup over D-Bus end to end, next to a bare D-Bus round trip
//! (`org.freedesktop.DBus.Peer.Ping` to the daemon) on the same private bus.
//!
//! Both are timed in the same conditions: the daemon has been idle for a
//! moment (as when a person or an application picks up a call that has been
//! ringing), so every thread starts parked. `peer_ping_hot` (back to back)
//! and `find_address_hot` (a method through the engine task that changes
//! nothing) are references. After divan, an interleaved run prints both
//! medians and their ratio.

use divan::Bencher;
use pickupd_api::proxy::{AddressProxy, CallProxy, SimulatorProxy};
use pickupd_api::{BUS_NAME, ROOT_PATH};
use pickupd_tests::Daemon;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use zbus::zvariant::OwnedObjectPath;

struct Bed {
    rt: Runtime,
    daemon: Daemon,
    picker: AddressProxy<'static>,
    sim: SimulatorProxy<'static>,
}

fn bed() -> &'static Bed {
    static BED: OnceLock<Bed> = OnceLock::new();
    BED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (daemon, picker, sim) = rt.block_on(async {
            let d = Daemon::start_sim().await;
            let picker = d.address("202").await;
            let sim = d.sim().await;
            (d, picker, sim)
        });
        Bed {
            rt,
            daemon,
            picker,
            sim,
        }
    })
}

async fn ping(bed: &Bed) {
    bed.daemon
        .conn
        .call_method(
            Some(BUS_NAME),
            ROOT_PATH,
            Some("org.freedesktop.DBus.Peer"),
            "Ping",
            &(),
        )
        .await
        .expect("ping");
}

/// A call rings at 201 (set-up, not timed).
async fn ringing(bed: &Bed) {
    bed.sim
        .incoming_call("201", "5551234", "ALICE")
        .await
        .expect("incoming call");
}

async fn pickup(bed: &Bed) -> OwnedObjectPath {
    bed.picker.pickup("201", "").await.expect("pickup")
}

/// Tear-down: drop the picked call so the next round starts clean.
async fn hang_up(bed: &Bed, call: OwnedObjectPath) {
    let c = CallProxy::builder(&bed.daemon.conn)
        .path(call)
        .expect("path")
        .build()
        .await
        .expect("proxy");
    c.drop_call().await.expect("drop");
}

fn main() {
    divan::main();
    report_ratio();
    // The test bed lives in a static that is never dropped.
    bed().daemon.stop_processes();
}

/// How long the daemon is left idle before a timed call.
const IDLE: Duration = Duration::from_millis(2);

fn idle(bed: &Bed) {
    bed.rt.block_on(async { tokio::time::sleep(IDLE).await });
}

#[divan::bench(sample_count = 300)]
fn peer_ping_hot(b: Bencher) {
    let bed = bed();
    b.bench_local(|| bed.rt.block_on(ping(bed)));
}

/// A method that goes through the engine task and changes nothing.
#[divan::bench(sample_count = 300)]
fn find_address_hot(b: Bencher) {
    let bed = bed();
    let manager = bed.rt.block_on(bed.daemon.manager());
    b.bench_local(|| bed.rt.block_on(manager.find_address("202")).expect("found"));
}

#[divan::bench(sample_count = 300, sample_size = 1)]
fn peer_ping_idle(b: Bencher) {
    let bed = bed();
    b.with_inputs(|| idle(bed))
        .bench_local_values(|()| bed.rt.block_on(ping(bed)));
}

#[divan::bench(sample_count = 300, sample_size = 1)]
fn pickup_idle(b: Bencher) {
    let bed = bed();
    let picked = std::cell::RefCell::new(Vec::new());
    b.with_inputs(|| {
        // Hang up the previous call, ring the next one, let it all settle.
        for c in picked.borrow_mut().drain(..) {
            bed.rt.block_on(hang_up(bed, c));
        }
        bed.rt.block_on(ringing(bed));
        idle(bed);
    })
    .bench_local_values(|()| {
        let call = bed.rt.block_on(pickup(bed));
        picked.borrow_mut().push(call);
    });
    for c in picked.borrow_mut().drain(..) {
        bed.rt.block_on(hang_up(bed, c));
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Interleaved: Ping and Pickup alternate, each after the daemon was idle.
fn report_ratio() {
    let bed = bed();
    let (mut pings, mut pickups) = (Vec::new(), Vec::new());
    bed.rt.block_on(async {
        for _ in 0..300 {
            tokio::time::sleep(IDLE).await;
            let t = Instant::now();
            ping(bed).await;
            pings.push(t.elapsed());
            ringing(bed).await;
            tokio::time::sleep(IDLE).await;
            let t = Instant::now();
            let call = pickup(bed).await;
            pickups.push(t.elapsed());
            hang_up(bed, call).await;
        }
    });
    let rounds = pings.len();
    let (p, q) = (median(&mut pings), median(&mut pickups));
    println!(
        "\ninterleaved, {rounds} rounds after {IDLE:?} idle: median Peer.Ping {:.1} µs, median Address.Pickup {:.1} µs, ratio {:.2}",
        p.as_secs_f64() * 1e6,
        q.as_secs_f64() * 1e6,
        q.as_secs_f64() / p.as_secs_f64()
    );
}
