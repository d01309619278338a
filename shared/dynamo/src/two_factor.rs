//! Two-factor state on DynamoDB: attributes of the user item (`pk = USERS`, `sk = U#<id>`): `ts` (secret,
//! base32), `tp` (pending secret), `tst` (last accepted time step) and `trc` (a string set of unused recovery
//! code hashes; absent when empty). Each write is one UpdateItem (1 WRU); using a code or a recovery code is
//! conditional, so of two concurrent uses one wins.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use leadpipe_core::domain::totp::TotpSecret;
use leadpipe_core::domain::two_factor::TwoFactor;
use leadpipe_core::store::StoreError;
use uuid::Uuid;

use crate::accounts::user_key;
use crate::codec::{n, s, Item};
use crate::error::{internal, sdk_error};
use crate::store::DynamoStore;

fn secret(item: &Item, name: &str) -> Result<Option<TotpSecret>, StoreError> {
    item.get(name)
        .map(|v| {
            v.as_s()
                .map_err(|_| internal(format!("user item's {name} is not a string")))
                .and_then(|t| TotpSecret::parse(t).map_err(internal))
        })
        .transpose()
}

/// The two-factor state a user item holds (off when it has none of the attributes).
pub(crate) fn state_of(item: &Item) -> Result<TwoFactor, StoreError> {
    let last_step = item
        .get("tst")
        .map(|v| {
            v.as_n()
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| internal("user item's tst is not a number"))
        })
        .transpose()?;
    let mut recovery = item
        .get("trc")
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    recovery.sort();
    Ok(TwoFactor {
        secret: secret(item, "ts")?,
        pending: secret(item, "tp")?,
        last_step,
        recovery,
    })
}

fn condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    /// Replaces the state with one UpdateItem (`SET` what is present, `REMOVE` what is not).
    pub(crate) async fn two_factor_set(&self, id: Uuid, t: &TwoFactor) -> Result<bool, StoreError> {
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = Vec::new();
        let mut field = |name: &'static str, value: Option<AttributeValue>| match value {
            Some(v) => {
                set.push(name);
                values.push((name, v));
            }
            None => remove.push(name),
        };
        field("ts", t.secret.as_ref().map(|x| s(x.to_base32())));
        field("tp", t.pending.as_ref().map(|x| s(x.to_base32())));
        field("tst", t.last_step.map(n));
        field(
            "trc",
            (!t.recovery.is_empty()).then(|| AttributeValue::Ss(t.recovery.clone())),
        );
        let mut expression = String::new();
        if !set.is_empty() {
            let parts: Vec<String> = set.iter().map(|a| format!("{a} = :{a}")).collect();
            expression.push_str(&format!("SET {}", parts.join(", ")));
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression(expression.trim())
            .return_values(ReturnValue::None);
        for (name, value) in values {
            request = request.expression_attribute_values(format!(":{name}"), value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Records an accepted step, conditional on two-factor being on and the step being later.
    pub(crate) async fn two_factor_use_step(
        &self,
        id: Uuid,
        step: i64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .condition_expression(
                "attribute_exists(ts) AND (attribute_not_exists(tst) OR tst < :s)",
            )
            .update_expression("SET tst = :s")
            .expression_attribute_values(":s", n(step))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Removes one recovery code hash from the set, conditional on it being there.
    pub(crate) async fn two_factor_use_recovery(
        &self,
        id: Uuid,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(user_key(id)))
            .condition_expression("attribute_exists(ts) AND contains(trc, :h)")
            .update_expression("DELETE trc :hs")
            .expression_attribute_values(":h", s(hash))
            .expression_attribute_values(":hs", AttributeValue::Ss(vec![hash.to_string()]))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
