//! The table's key schema and indexes: one definition that code, tests and `infra/table-definition.json` share.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use leadpipe_core::store::StoreError;
use serde::Serialize;

use crate::error::{internal, sdk_error};
use crate::keys::{PK, SK};

/// Index names.
pub mod index {
    /// Lead by email.
    pub const BY_EMAIL: &str = "by_email";
    /// Leads newest first.
    pub const BY_CREATED: &str = "by_created";
    /// Leads in one stage, newest first.
    pub const BY_STAGE: &str = "by_stage";
}

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
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: &'static str,
}

fn hash(name: &'static str) -> KeyDef {
    KeyDef { attribute_name: name, key_type: "HASH" }
}

fn range(name: &'static str) -> KeyDef {
    KeyDef { attribute_name: name, key_type: "RANGE" }
}

/// The table definition the code relies on.
pub fn table_definition() -> TableDefinition {
    let all = || ProjectionDef { projection_type: "ALL" };
    TableDefinition {
        attribute_definitions: [PK, SK, "email", "list_pk", "stage_key", "created_key"]
            .into_iter()
            .map(|n| AttributeDef { attribute_name: n, attribute_type: "S" })
            .collect(),
        key_schema: vec![hash(PK), range(SK)],
        global_secondary_indexes: vec![
            IndexDef { index_name: index::BY_EMAIL, key_schema: vec![hash("email")], projection: all() },
            IndexDef { index_name: index::BY_CREATED, key_schema: vec![hash("list_pk"), range("created_key")], projection: all() },
            IndexDef { index_name: index::BY_STAGE, key_schema: vec![hash("stage_key"), range("created_key")], projection: all() },
        ],
    }
}

/// Creates `table` from [`table_definition`] when it does not exist (for local use and tests).
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error(e)),
    }
    let def = table_definition();
    let key = |k: &KeyDef| {
        KeySchemaElement::builder()
            .attribute_name(k.attribute_name)
            .key_type(if k.key_type == "HASH" { KeyType::Hash } else { KeyType::Range })
            .build()
            .map_err(internal)
    };
    let mut req = client.create_table().table_name(table).billing_mode(BillingMode::PayPerRequest);
    for a in &def.attribute_definitions {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a.attribute_name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(internal)?,
        );
    }
    for k in &def.key_schema {
        req = req.key_schema(key(k)?);
    }
    for g in &def.global_secondary_indexes {
        let projection = match g.projection.projection_type {
            "KEYS_ONLY" => ProjectionType::KeysOnly,
            "INCLUDE" => ProjectionType::Include,
            _ => ProjectionType::All,
        };
        let mut gsi =
            GlobalSecondaryIndex::builder().index_name(g.index_name).projection(Projection::builder().projection_type(projection).build());
        for k in &g.key_schema {
            gsi = gsi.key_schema(key(k)?);
        }
        req = req.global_secondary_indexes(gsi.build().map_err(internal)?);
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(sdk_error(e)),
    }
}
