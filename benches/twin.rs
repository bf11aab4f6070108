//! Twin start-up at scale: builds the world of a generated 1,000-instance x 3-volume fixture
//! (the size `protector sim up` must start with in under a second) and serves it, printing the
//! figures. Run with `cargo bench --bench twin`.

use std::time::Instant;

use protector_twin::fixture;
use protector_twin::server::{Twin, TwinOptions};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    for (instances, volumes) in [(100, 3), (1_000, 3)] {
        let fixture = fixture::generate(instances, volumes);
        let started = Instant::now();
        let twin = runtime
            .block_on(Twin::start(TwinOptions {
                fixture,
                seed: 1,
                speed: 1000.0,
                tls_openstack: false,
            }))
            .expect("the twin starts");
        let elapsed = started.elapsed();
        println!(
            "twin start-up, {instances} instances x {volumes} volumes: {:.3} s (target < 1 s)",
            elapsed.as_secs_f64()
        );
        twin.shutdown();
    }
}
