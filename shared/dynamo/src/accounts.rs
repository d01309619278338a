//! Accounts on DynamoDB (capacity per sign-in and per request in `docs/DYNAMODB.md`).
//!
//! - **user**: `pk = USERS`, `sk = U#<id>`, with `ue` (email), `ro` (role), `di` (disabled), `ph` (password
//!   hash), `ca` (created, ms). One partition holds every account (a team's few dozen items, about 200 bytes
//!   each), so listing them is one Query and never a scan. Two-factor attributes: see `two_factor.rs`.
//! - **email claim**: `pk = EMAIL#<email>`, `sk = EMAIL`, with `uid`: written in the same transaction as the user,
//!   conditional on not existing, which makes emails unique.
//! - **session**: `pk = SESS#<token hash>`, `sk = SESS`, with `uid`, `ca`, `exp`, `sl` (last seen, ms; `ls` is an index key) and `ttl`
//!   (its expiry: DynamoDB deletes it). One partition per session: no hot key.
//! - **session index**: `pk = USESS#<user id>`, `sk = <token hash>`, `ttl`: what "sign out everywhere" and
//!   disabling a user query to find the user's sessions.
//! - **invite**: `pk = INV#<token hash>`, `sk = INV`, with `ue`, `ro`, `by`, `ca`, `exp`, `used` once taken (one
//!   conditional update takes it) and `ttl` a week after expiry.
//! - **sign-in failures**: `pk = LF#<key>#<window>`, `sk = LF`, with `n` and `ttl`: one item per account or client
//!   address and 15-minute window, so no counter is shared by everyone.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, Put, PutRequest, ReturnValue, TransactWriteItem,
    Update, WriteRequest,
};
use chrono::{DateTime, Utc};
use leadpipe_core::domain::account::{Invite, InviteTake, Session, TokenHash, User};
use leadpipe_core::domain::{Email, Role};
use leadpipe_core::store::StoreError;
use uuid::Uuid;

use crate::codec::{n, s, Item};
use crate::error::{internal, sdk_error};
use crate::keys::{self, Key};
use crate::schema::TTL_ATTRIBUTE;
use crate::store::DynamoStore;

/// The partition of every account.
const USERS_PK: &str = "USERS";

/// The key of an account's item.
pub(crate) fn user_key(id: Uuid) -> Key {
    keys::key(USERS_PK, format!("U#{id}"))
}

fn email_key(email: &Email) -> Key {
    keys::key(format!("EMAIL#{email}"), "EMAIL")
}

fn session_key(h: &TokenHash) -> Key {
    keys::key(format!("SESS#{}", h.as_str()), "SESS")
}

fn session_index_key(user: Uuid, h: &TokenHash) -> Key {
    keys::key(format!("USESS#{user}"), h.as_str())
}

fn invite_key(h: &TokenHash) -> Key {
    keys::key(format!("INV#{}", h.as_str()), "INV")
}

fn failures_key(key: &str, window: i64) -> Key {
    keys::key(format!("LF#{key}#{window}"), "LF")
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| internal(format!("account item without {name}")))
}

fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| internal(format!("account item without {name}")))
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(number(item, name)?)
        .ok_or_else(|| internal("stored time out of range"))
}

fn role(item: &Item) -> Result<Role, StoreError> {
    Role::parse(text(item, "ro")?).ok_or_else(|| internal("stored role is unknown"))
}

fn email(item: &Item) -> Result<Email, StoreError> {
    Email::parse(text(item, "ue")?).map_err(internal)
}

fn ttl_of(at: DateTime<Utc>) -> AttributeValue {
    n(at.timestamp())
}

fn user_item(u: &User) -> Item {
    let mut item = user_key(u.id);
    item.insert("uid".into(), s(u.id.to_string()));
    item.insert("ue".into(), s(u.email.as_str()));
    item.insert("ro".into(), s(u.role.as_str()));
    item.insert("di".into(), AttributeValue::Bool(u.disabled));
    item.insert("ph".into(), s(u.password_hash.clone()));
    item.insert("ca".into(), n(u.created_at.timestamp_millis()));
    item
}

fn user_of(item: &Item) -> Result<User, StoreError> {
    Ok(User {
        id: Uuid::parse_str(text(item, "uid")?).map_err(internal)?,
        email: email(item)?,
        role: role(item)?,
        disabled: item
            .get("di")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        password_hash: text(item, "ph")?.to_string(),
        created_at: time(item, "ca")?,
        two_factor: crate::two_factor::state_of(item)?,
    })
}

fn session_of(item: &Item, h: &TokenHash) -> Result<Session, StoreError> {
    Ok(Session {
        token_hash: h.clone(),
        user_id: Uuid::parse_str(text(item, "uid")?).map_err(internal)?,
        created_at: time(item, "ca")?,
        expires_at: time(item, "exp")?,
        last_seen: time(item, "sl")?,
    })
}

fn invite_of(item: &Item, h: &TokenHash) -> Result<Invite, StoreError> {
    Ok(Invite {
        token_hash: h.clone(),
        email: email(item)?,
        role: role(item)?,
        invited_by: text(item, "by")?.to_string(),
        created_at: time(item, "ca")?,
        expires_at: time(item, "exp")?,
    })
}

fn condition_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    /// Creates an account and its email claim in one transaction.
    pub(crate) async fn accounts_create_user(&self, u: &User) -> Result<(), StoreError> {
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(internal)
        };
        let mut claim = email_key(&u.email);
        claim.insert("uid".into(), s(u.id.to_string()));
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(claim)?)
            .transact_items(put(user_item(u))?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let cancelled = matches!(
                    e.as_service_error(),
                    Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(_))
                );
                if cancelled {
                    Err(StoreError::EmailTaken(u.email.clone()))
                } else {
                    Err(sdk_error(e))
                }
            }
        }
    }

    /// An account by id (eventually consistent: a change shows within about a second).
    pub(crate) async fn accounts_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.get_item(user_key(id), false)
            .await?
            .map(|i| user_of(&i))
            .transpose()
    }

    /// An account by email, through its claim.
    pub(crate) async fn accounts_user_by_email(
        &self,
        e: &Email,
    ) -> Result<Option<User>, StoreError> {
        let Some(claim) = self.get_item(email_key(e), true).await? else {
            return Ok(None);
        };
        let id = Uuid::parse_str(text(&claim, "uid")?).map_err(internal)?;
        self.get_item(user_key(id), true)
            .await?
            .map(|i| user_of(&i))
            .transpose()
    }

    /// Every account, by email.
    pub(crate) async fn accounts_users(&self) -> Result<Vec<User>, StoreError> {
        let mut users = self
            .query_partition(USERS_PK)
            .await?
            .iter()
            .map(user_of)
            .collect::<Result<Vec<_>, _>>()?;
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }

    /// Replaces role, disabled and password hash of an existing account, in a transaction (2 WRU: account
    /// changes are admin-rate). With `keeper`, the same transaction also checks that the keeper is still an
    /// active admin (transactions are serializable, so of two admins demoting
    /// each other one transaction sees the other's change and is cancelled: `Conflict`).
    pub(crate) async fn accounts_update_user(
        &self,
        u: &User,
        keeper: Option<Uuid>,
    ) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(user_key(u.id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET ro = :ro, di = :di, ph = :ph")
            .expression_attribute_values(":ro", s(u.role.as_str()))
            .expression_attribute_values(":di", AttributeValue::Bool(u.disabled))
            .expression_attribute_values(":ph", s(u.password_hash.clone()))
            .build()
            .map_err(internal)?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        if let Some(keeper) = keeper {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(user_key(keeper)))
                .condition_expression("ro = :admin AND di = :off")
                .expression_attribute_values(":admin", s(Role::Admin.as_str()))
                .expression_attribute_values(":off", AttributeValue::Bool(false))
                .build()
                .map_err(internal)?;
            request =
                request.transact_items(TransactWriteItem::builder().condition_check(check).build());
        }
        let out = request.send().await;
        let Err(e) = out else {
            return Ok(true);
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        else {
            return Err(sdk_error(e));
        };
        // Reasons come in item order: the update's (the account is gone), then the keeper's check.
        let failed = |i: usize| {
            c.cancellation_reasons()
                .get(i)
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        };
        if failed(1) {
            Err(StoreError::Conflict)
        } else if failed(0) {
            Ok(false)
        } else {
            Err(sdk_error(e))
        }
    }

    /// Stores a session and its index item.
    pub(crate) async fn accounts_create_session(&self, x: &Session) -> Result<(), StoreError> {
        let mut item = session_key(&x.token_hash);
        item.insert("uid".into(), s(x.user_id.to_string()));
        item.insert("ca".into(), n(x.created_at.timestamp_millis()));
        item.insert("exp".into(), n(x.expires_at.timestamp_millis()));
        item.insert("sl".into(), n(x.last_seen.timestamp_millis()));
        item.insert(TTL_ATTRIBUTE.into(), ttl_of(x.expires_at));
        let mut index = session_index_key(x.user_id, &x.token_hash);
        index.insert(TTL_ATTRIBUTE.into(), ttl_of(x.expires_at));
        let requests = [item, index]
            .into_iter()
            .map(|i| {
                PutRequest::builder()
                    .set_item(Some(i))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }

    /// A session by token hash (strongly consistent: a signed-out session is gone at once).
    pub(crate) async fn accounts_session(
        &self,
        h: &TokenHash,
    ) -> Result<Option<Session>, StoreError> {
        self.get_item(session_key(h), true)
            .await?
            .map(|i| session_of(&i, h))
            .transpose()
    }

    /// Moves a session's `last_seen` forward (nothing when the session is gone).
    pub(crate) async fn accounts_touch_session(
        &self,
        h: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(h)))
            .condition_expression("attribute_exists(pk) AND sl < :ls")
            .update_expression("SET sl = :ls")
            .expression_attribute_values(":ls", n(at.timestamp_millis()))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(condition_failed) => Ok(()),
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Deletes items by key.
    async fn accounts_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        let requests = keys
            .into_iter()
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(k))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(requests).await
    }

    /// Ends one session.
    pub(crate) async fn accounts_delete_session(&self, h: &TokenHash) -> Result<(), StoreError> {
        let Some(found) = self.accounts_session(h).await? else {
            return Ok(());
        };
        self.accounts_delete(vec![session_key(h), session_index_key(found.user_id, h)])
            .await
    }

    /// Ends every session of a user (found through the session index).
    pub(crate) async fn accounts_delete_user_sessions(&self, user: Uuid) -> Result<(), StoreError> {
        let index = self.query_partition(&format!("USESS#{user}")).await?;
        let mut doomed = Vec::new();
        for item in &index {
            let h = TokenHash::parse(text(item, keys::SK)?)
                .ok_or_else(|| internal("session index item with a malformed hash"))?;
            doomed.push(session_key(&h));
            doomed.push(session_index_key(user, &h));
        }
        self.accounts_delete(doomed).await
    }

    /// Stores an invite.
    pub(crate) async fn accounts_create_invite(&self, i: &Invite) -> Result<(), StoreError> {
        let mut item = invite_key(&i.token_hash);
        item.insert("ue".into(), s(i.email.as_str()));
        item.insert("ro".into(), s(i.role.as_str()));
        item.insert("by".into(), s(i.invited_by.clone()));
        item.insert("ca".into(), n(i.created_at.timestamp_millis()));
        item.insert("exp".into(), n(i.expires_at.timestamp_millis()));
        item.insert(
            TTL_ATTRIBUTE.into(),
            ttl_of(i.expires_at + chrono::Duration::days(7)),
        );
        self.put_item(item).await
    }

    /// Takes an invite with one conditional update; a refused take reads the item to say why.
    pub(crate) async fn accounts_take_invite(
        &self,
        h: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<InviteTake, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(invite_key(h)))
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used) AND exp > :now",
            )
            .update_expression("SET used = :now")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                Ok(InviteTake::Taken(invite_of(&item, h)?))
            }
            Err(e) if e.as_service_error().is_some_and(condition_failed) => {
                match self.get_item(invite_key(h), true).await? {
                    None => Ok(InviteTake::Unknown),
                    Some(item) if item.contains_key("used") => Ok(InviteTake::Used),
                    Some(_) => Ok(InviteTake::Expired),
                }
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Adds one failure to a throttle counter.
    pub(crate) async fn accounts_add_login_failure(
        &self,
        key: &str,
        window: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(failures_key(key, window)))
            .update_expression("ADD #n :one SET #ttl = :ttl")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", ttl_of(expires_at))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        let item = out.attributes.unwrap_or_default();
        Ok(u32::try_from(number(&item, "n")?).unwrap_or(u32::MAX))
    }

    /// A throttle counter's count.
    pub(crate) async fn accounts_login_failures(
        &self,
        key: &str,
        window: i64,
    ) -> Result<u32, StoreError> {
        let item = self.get_item(failures_key(key, window), true).await?;
        Ok(item
            .and_then(|i| number(&i, "n").ok())
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }
}
