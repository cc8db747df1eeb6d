//! A pickup over D-Bus end to end, next to a bare D-Bus round trip
//! (`org.freedesktop.DBus.Peer.Ping` to the daemon) on the same private
//! bus. divan reports each; after it, an interleaved run prints the medians
//! and their ratio, so the figure compares like with like in one run.

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
}

#[divan::bench(sample_count = 200)]
fn peer_ping(b: Bencher) {
    let bed = bed();
    b.bench_local(|| bed.rt.block_on(ping(bed)));
}

#[divan::bench(sample_count = 200, sample_size = 1)]
fn pickup_over_dbus(b: Bencher) {
    let bed = bed();
    let picked = std::cell::RefCell::new(Vec::new());
    b.with_inputs(|| {
        // Hang up the previous round's call before the next ring.
        for c in picked.borrow_mut().drain(..) {
            bed.rt.block_on(hang_up(bed, c));
        }
        bed.rt.block_on(ringing(bed))
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

/// Interleaved rounds: ping, then pickup, each timed alone.
fn report_ratio() {
    let bed = bed();
    let rounds = 300;
    let (mut pings, mut pickups) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    bed.rt.block_on(async {
        for _ in 0..rounds {
            let t = Instant::now();
            ping(bed).await;
            pings.push(t.elapsed());
            ringing(bed).await;
            let t = Instant::now();
            let call = pickup(bed).await;
            pickups.push(t.elapsed());
            hang_up(bed, call).await;
        }
    });
    let (p, q) = (median(&mut pings), median(&mut pickups));
    println!(
        "\ninterleaved, {rounds} rounds: median Peer.Ping {:.1} µs, median Address.Pickup {:.1} µs, ratio {:.2}",
        p.as_secs_f64() * 1e6,
        q.as_secs_f64() * 1e6,
        q.as_secs_f64() / p.as_secs_f64()
    );
}
