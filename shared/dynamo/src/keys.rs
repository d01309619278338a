//! Every key of the table, built in one place.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | lead | `LEAD#<id>` | `LEAD` |
//! | history entry | `LEAD#<id>` | `HIST#<version, 20 digits>` |
//! | email claim | `EMAIL#<email>` | `EMAIL` |
//! | counter | `COUNTERS` | `<kind>#<name>#<shard>` |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use leadpipe_core::domain::Email;
use uuid::Uuid;

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Sort key of a lead item.
pub const LEAD_SK: &str = "LEAD";
/// Sort key of an email claim.
pub const CLAIM_SK: &str = "EMAIL";
/// Sort-key prefix of history entries.
pub const HISTORY_PREFIX: &str = "HIST#";
/// Partition key of every counter item.
pub const COUNTERS_PK: &str = "COUNTERS";
/// `list_pk` value of every lead (the `by_created` index's partition).
pub const LIST_PK_VALUE: &str = "LEAD";

/// A primary key: `pk` and `sk`.
pub type Key = HashMap<String, AttributeValue>;

/// `LEAD#<id>`: the partition of a lead and its history.
pub fn lead_pk(id: Uuid) -> String {
    format!("LEAD#{id}")
}

/// The lead id of a `LEAD#<id>` partition key.
pub fn lead_id_of(pk: &str) -> Option<Uuid> {
    pk.strip_prefix("LEAD#").and_then(|id| Uuid::parse_str(id).ok())
}

/// `EMAIL#<email>`: the partition of an email claim.
pub fn claim_pk(email: &Email) -> String {
    format!("EMAIL#{email}")
}

/// The sort key of the history entry written when a lead reached `version`.
pub fn history_sk(version: u64) -> String {
    format!("{HISTORY_PREFIX}{version:020}")
}

/// The sort key of one shard of a counter.
pub fn counter_sk(counter: &str, shard: u32) -> String {
    format!("{counter}#{shard:02}")
}

/// The key of a lead item.
pub fn lead_key(id: Uuid) -> Key {
    key(lead_pk(id), LEAD_SK)
}

/// The key of an email claim.
pub fn claim_key(email: &Email) -> Key {
    key(claim_pk(email), CLAIM_SK)
}

/// A key from its two parts.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Key {
    HashMap::from([(PK.into(), AttributeValue::S(pk.into())), (SK.into(), AttributeValue::S(sk.into()))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort() {
        let id = Uuid::new_v4();
        assert_eq!(lead_id_of(&lead_pk(id)), Some(id));
        assert!(history_sk(9) < history_sk(10));
        assert_eq!(counter_sk("stage#New", 3), "stage#New#03");
    }
}
