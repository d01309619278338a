//! The table's key schema, indexes and stream: one definition that code, tests and `infra/table-definition.json`
//! share.
//!
//! - `by_email` (`em`, KEYS_ONLY): finds a lead by email for dedup. Only a lead's creation and email changes write it.
//! - `by_created` (`ls` = listing shard `00`–`15`, `ck` = creation key): newest-first listings, merged over the
//!   16 shards on read. It projects only what listing filters read (stage, stage entry time, latest source and
//!   campaign, search text, quarantine), so an update that changes none of them writes nothing to it. Webhook
//!   deliveries are listed in it too, under partitions of their own (`WL#<webhook>#<shard>`, see
//!   [`crate::keys::delivery_list_shard`]): they have none of the projected attributes, and their keys never
//!   change, so a delivery writes its entry once.
//! - `by_revenue` (`ls`, `rk` = revenue key; sparse): leads with counted orders by reporting-currency revenue,
//!   for revenue listings. It projects what `by_created` does plus the creation key (the date-range filter).
//! - `due` (`du` = `WQ#<shard>`, `dt` = next attempt time; KEYS_ONLY, sparse): pending webhook deliveries, earliest
//!   first. Only pending deliveries carry `du`/`dt`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use leadpipe_core::store::StoreError;
use serde::Serialize;

use crate::codec::attr;
use crate::error::{internal, sdk_error};
use crate::keys::{PK, SK};

/// Index names.
pub mod index {
    /// Lead by email.
    pub const BY_EMAIL: &str = "by_email";
    /// Leads newest first, write-sharded (and each webhook's deliveries, newest first).
    pub const BY_CREATED: &str = "by_created";
    /// Pending webhook deliveries by next attempt time, write-sharded (sparse).
    pub const DUE: &str = "due";
    /// Leads with counted orders by reporting-currency revenue, write-sharded (sparse).
    pub const BY_REVENUE: &str = "by_revenue";
}

/// The attribute DynamoDB's TTL deletes expired items by.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// The table definition in the shape of a CreateTable request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    /// The attributes that keys use (all strings).
    pub attribute_definitions: Vec<AttributeDef>,
    /// The table's primary key.
    pub key_schema: Vec<KeyDef>,
    /// Global secondary indexes.
    pub global_secondary_indexes: Vec<IndexDef>,
    /// The change stream the consumer reads.
    pub stream_specification: StreamDef,
}

/// An attribute used in a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDef {
    /// Attribute name.
    pub attribute_name: &'static str,
    /// `S` (string).
    pub attribute_type: &'static str,
}

/// One key element.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyDef {
    /// Attribute name.
    pub attribute_name: &'static str,
    /// `HASH` or `RANGE`.
    pub key_type: &'static str,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexDef {
    /// Index name.
    pub index_name: &'static str,
    /// Its key.
    pub key_schema: Vec<KeyDef>,
    /// What it copies from the table.
    pub projection: ProjectionDef,
}

/// An index projection.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionDef {
    /// `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: &'static str,
    /// With `INCLUDE`: the attributes copied besides the keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_key_attributes: Vec<&'static str>,
}

/// The table's stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDef {
    /// Always true.
    pub stream_enabled: bool,
    /// `NEW_AND_OLD_IMAGES`: the consumer derives counter deltas and stage changes from both.
    pub stream_view_type: &'static str,
}

fn hash(name: &'static str) -> KeyDef {
    KeyDef {
        attribute_name: name,
        key_type: "HASH",
    }
}

fn range(name: &'static str) -> KeyDef {
    KeyDef {
        attribute_name: name,
        key_type: "RANGE",
    }
}

/// The table definition the code relies on.
pub fn table_definition() -> TableDefinition {
    TableDefinition {
        attribute_definitions: [
            PK,
            SK,
            attr::EMAIL,
            attr::LISTING_SHARD,
            attr::CREATED_KEY,
            attr::REVENUE_KEY,
            attr::DUE_SHARD,
            attr::DUE_KEY,
        ]
        .into_iter()
        .map(|n| AttributeDef {
            attribute_name: n,
            attribute_type: "S",
        })
        .collect(),
        key_schema: vec![hash(PK), range(SK)],
        global_secondary_indexes: vec![
            IndexDef {
                index_name: index::BY_EMAIL,
                key_schema: vec![hash(attr::EMAIL)],
                projection: ProjectionDef {
                    projection_type: "KEYS_ONLY",
                    non_key_attributes: vec![],
                },
            },
            IndexDef {
                index_name: index::BY_CREATED,
                key_schema: vec![hash(attr::LISTING_SHARD), range(attr::CREATED_KEY)],
                projection: ProjectionDef {
                    projection_type: "INCLUDE",
                    non_key_attributes: attr::LISTED.to_vec(),
                },
            },
            IndexDef {
                index_name: index::BY_REVENUE,
                key_schema: vec![hash(attr::LISTING_SHARD), range(attr::REVENUE_KEY)],
                projection: ProjectionDef {
                    projection_type: "INCLUDE",
                    non_key_attributes: attr::LISTED
                        .iter()
                        .copied()
                        .chain([attr::CREATED_KEY])
                        .collect(),
                },
            },
            IndexDef {
                index_name: index::DUE,
                key_schema: vec![hash(attr::DUE_SHARD), range(attr::DUE_KEY)],
                projection: ProjectionDef {
                    projection_type: "KEYS_ONLY",
                    non_key_attributes: vec![],
                },
            },
        ],
        stream_specification: StreamDef {
            stream_enabled: true,
            stream_view_type: "NEW_AND_OLD_IMAGES",
        },
    }
}

fn key_element(k: &KeyDef) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(k.attribute_name)
        .key_type(if k.key_type == "HASH" {
            KeyType::Hash
        } else {
            KeyType::Range
        })
        .build()
        .map_err(internal)
}

fn attribute_definitions(def: &TableDefinition) -> Result<Vec<AttributeDefinition>, StoreError> {
    def.attribute_definitions
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(a.attribute_name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(internal)
        })
        .collect()
}

fn projection(g: &IndexDef) -> Projection {
    match g.projection.projection_type {
        "INCLUDE" => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(
                g.projection
                    .non_key_attributes
                    .iter()
                    .map(|a| a.to_string())
                    .collect(),
            ))
            .build(),
        _ => Projection::builder()
            .projection_type(ProjectionType::KeysOnly)
            .build(),
    }
}

/// Adds the indexes of [`table_definition`] that a table created by an older version lacks (`by_revenue`, for
/// one), one UpdateTable each (DynamoDB builds one new index at a time; a table still building one answers
/// `ResourceInUse`, and the next start tries again). Local use and tests only: in AWS the template owns them.
async fn add_missing_indexes(
    client: &Client,
    table: &str,
    existing: &[String],
) -> Result<(), StoreError> {
    let def = table_definition();
    for g in &def.global_secondary_indexes {
        if existing.iter().any(|e| e == g.index_name) {
            continue;
        }
        let mut create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(g.index_name)
            .projection(projection(g));
        for k in &g.key_schema {
            create = create.key_schema(key_element(k)?);
        }
        let update = GlobalSecondaryIndexUpdate::builder()
            .create(create.build().map_err(internal)?)
            .build();
        client
            .update_table()
            .table_name(table)
            .set_attribute_definitions(Some(attribute_definitions(&def)?))
            .global_secondary_index_updates(update)
            .send()
            .await
            .map_err(sdk_error)?;
    }
    Ok(())
}

/// Creates `table` from [`table_definition`] when it does not exist, with TTL on [`TTL_ATTRIBUTE`] (for local
/// use and tests; in AWS the template creates it).
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => {
            let existing: Vec<String> = out
                .table
                .and_then(|t| t.global_secondary_indexes)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|g| g.index_name)
                .collect();
            return add_missing_indexes(client, table, &existing).await;
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error(e)),
    }
    create_table(client, table, &table_definition()).await
}

/// Creates `table` with the shape `def` (and TTL on [`TTL_ATTRIBUTE`]); a table of that name being created already
/// is fine. [`ensure_table`] passes [`table_definition`]; tests pass older shapes.
pub async fn create_table(
    client: &Client,
    table: &str,
    def: &TableDefinition,
) -> Result<(), StoreError> {
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(internal)?,
        );
    for a in attribute_definitions(def)? {
        req = req.attribute_definitions(a);
    }
    for k in &def.key_schema {
        req = req.key_schema(key_element(k)?);
    }
    for g in &def.global_secondary_indexes {
        let mut gsi = GlobalSecondaryIndex::builder()
            .index_name(g.index_name)
            .projection(projection(g));
        for k in &g.key_schema {
            gsi = gsi.key_schema(key_element(k)?);
        }
        req = req.global_secondary_indexes(gsi.build().map_err(internal)?);
    }
    match req.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(())
        }
        Err(e) => return Err(sdk_error(e)),
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL_ATTRIBUTE)
        .build()
        .map_err(internal)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}
