//! What `weir job reset` prints: each input partition moved, from where to where, and whether
//! the job was paused for it and resumed.

use super::job::ApiJob;
use super::output::{NONE, Table};
use serde::Deserialize;

/// The server's answer to a reset (lenient, for printing).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResetReply {
    /// The job after the reset.
    pub job: ApiJob,
    /// What moved.
    pub reset: Moved,
    /// Whether the reset paused and resumed the job.
    pub resumed: bool,
}

/// The partitions a reset moved.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Moved {
    /// Each input partition.
    pub partitions: Vec<ApiMovedPartition>,
    /// Repartition partitions started afresh.
    pub reduce_partitions: usize,
}

/// One input partition moved.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiMovedPartition {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The committed offset before.
    pub from: Option<i64>,
    /// The offset now.
    pub to: i64,
}

impl ResetReply {
    /// `job wc reset: 3 input partitions ...` and a `TOPIC PARTITION FROM TO` table.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "job {} reset: {} input partition{} start afresh{}{}\n",
            self.job.name,
            self.reset.partitions.len(),
            if self.reset.partitions.len() == 1 { "" } else { "s" },
            if self.reset.reduce_partitions > 0 {
                format!(
                    ", and the reduce stage on {} repartition partition{}",
                    self.reset.reduce_partitions,
                    if self.reset.reduce_partitions == 1 {
                        ""
                    } else {
                        "s"
                    }
                )
            } else {
                String::new()
            },
            if self.resumed {
                "; paused for it and resumed"
            } else {
                "; it stays paused (weir job resume)"
            }
        );
        let mut table = Table::new(&["TOPIC", "PARTITION", "FROM", "TO"]);
        for p in &self.reset.partitions {
            table.row(vec![
                p.topic.clone(),
                p.partition.to_string(),
                p.from.map_or_else(|| NONE.to_string(), |f| f.to_string()),
                p.to.to_string(),
            ]);
        }
        text.push_str(&table.render());
        text
    }
}
