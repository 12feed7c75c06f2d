//! Fencing claims ([`ProgressStore::claim_all`]) against a real broker: the shared `weir dev`
//! of `cli_dev`. A stage claims every partition of an assignment at once; each claim's epoch
//! must still be its own record's offset, larger than every earlier owner's.

use crate::cli_dev::{DEV, unique};
use weir::kafka::admin::{Admin, TopicSpec};
use weir::kafka::progress::ProgressStore;

#[test]
fn claims_of_an_assignment_go_out_together_and_a_later_owner_claims_larger() -> anyhow::Result<()> {
    let brokers = DEV.brokers.as_str();
    let topic = unique("claims");
    Admin::new(brokers)?.create(&[TopicSpec {
        name: topic.clone(),
        partitions: 2,
        config: Vec::new(),
    }])?;
    // Six partitions over two claim partitions: three claims share each.
    let assigned: Vec<(&str, i32)> = (0..6).map(|p| ("input", p)).collect();
    let first_owner = ProgressStore::new(brokers, &topic, 2)?;
    let first: Vec<i64> = first_owner
        .claim_all("map", &assigned)
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    for home in 0..2 {
        let mut epochs: Vec<i64> = (0..6)
            .filter(|p| p % 2 == home)
            .map(|p| first[p as usize])
            .collect();
        epochs.sort_unstable();
        epochs.dedup();
        assert_eq!(
            epochs.len(),
            3,
            "claims sharing partition {home} got distinct offsets: {first:?}"
        );
    }
    // The next owner (another runtime: another producer) claims the same partitions.
    let next_owner = ProgressStore::new(brokers, &topic, 2)?;
    let next: Vec<i64> = next_owner
        .claim_all("map", &assigned)
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    for (p, (earlier, later)) in first.iter().zip(&next).enumerate() {
        assert!(later > earlier, "partition {p}: epoch {later} after {earlier}");
    }
    // With no broker to write to, every claim fails and says which it was.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let nowhere = ProgressStore::new(&format!("127.0.0.1:{port}"), &topic, 2)?;
    let results = nowhere.claim_all("map", &assigned[..2]);
    assert_eq!(results.len(), 2);
    for (p, result) in results.iter().enumerate() {
        let refused = format!("{:#}", result.as_ref().expect_err("no broker, no claim"));
        assert!(refused.contains(&format!("claim/map/input/{p}")), "{refused}");
    }
    Ok(())
}
