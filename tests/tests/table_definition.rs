//! The DynamoDB table definition has one source (`table_definition()` in the shared crate): the file the SAM
//! template is checked against must equal it, and the table the code creates must have exactly that shape.

use leadpipe_dynamo::table_definition;
use serde_json::{json, Value};

#[test]
fn infra_file_equals_the_code() {
    let file: Value = serde_json::from_str(include_str!("../../infra/table-definition.json"))
        .expect("infra/table-definition.json parses");
    let code = serde_json::to_value(table_definition()).unwrap();
    assert_eq!(file, code, "regenerate with: cargo run --bin leadpipe -- table-definition > infra/table-definition.json");
}

#[tokio::test]
async fn created_table_matches_the_definition() {
    let store = leadpipe_tests::dynamodb_store(Default::default()).await;
    let table = store
        .client()
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<Value> {
        ks.iter()
            .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": k.key_type().as_str()}))
            .collect()
    };
    let mut attrs: Vec<Value> = table
        .attribute_definitions()
        .iter()
        .map(|a| json!({"AttributeName": a.attribute_name(), "AttributeType": a.attribute_type().as_str()}))
        .collect();
    let mut gsis: Vec<Value> = table
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let mut projection = json!({"ProjectionType": g.projection().and_then(|p| p.projection_type()).map(|p| p.as_str())});
            let included = g.projection().map(|p| p.non_key_attributes()).unwrap_or_default();
            if !included.is_empty() {
                projection["NonKeyAttributes"] = json!(included);
            }
            json!({"IndexName": g.index_name(), "KeySchema": keys(g.key_schema()), "Projection": projection})
        })
        .collect();
    let sort = |v: &mut Vec<Value>| v.sort_by_key(|x| x.to_string());
    sort(&mut attrs);
    sort(&mut gsis);
    let mut expected = serde_json::to_value(table_definition()).unwrap();
    let mut want_attrs = expected["AttributeDefinitions"].as_array().unwrap().clone();
    let mut want_gsis = expected["GlobalSecondaryIndexes"]
        .as_array_mut()
        .unwrap()
        .clone();
    sort(&mut want_attrs);
    sort(&mut want_gsis);
    assert_eq!(attrs, want_attrs);
    assert_eq!(json!(keys(table.key_schema())), expected["KeySchema"]);
    assert_eq!(gsis, want_gsis);
    let stream = table
        .stream_specification()
        .expect("the table has a stream");
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type().map(|v| v.as_str()),
        expected["StreamSpecification"]["StreamViewType"].as_str()
    );
}

/// A table created before `by_revenue` existed gets it when a store opens it (`leadpipe serve --dynamodb` on an
/// older local table): the table is created in the older shape, then `ensure_table` adds the index.
#[tokio::test]
async fn an_older_table_gets_the_missing_index() {
    let fresh = leadpipe_tests::dynamodb_store(Default::default()).await;
    let table = format!("{}-older", fresh.table());
    let mut older = table_definition();
    older
        .global_secondary_indexes
        .retain(|g| g.index_name != "by_revenue");
    older
        .attribute_definitions
        .retain(|a| a.attribute_name != "rk");
    leadpipe_dynamo::schema::create_table(fresh.client(), &table, &older)
        .await
        .expect("an older table");
    let store =
        leadpipe_dynamo::DynamoStore::new(fresh.client().clone(), &table, Default::default());
    let indexes = || async {
        let described = store
            .client()
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let mut names: Vec<String> = described
            .global_secondary_indexes()
            .iter()
            .filter_map(|g| g.index_name().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    assert_eq!(indexes().await, ["by_created", "by_email", "due"]);
    store.ensure_table().await.expect("ensure_table");
    assert_eq!(
        indexes().await,
        ["by_created", "by_email", "by_revenue", "due"]
    );
}
