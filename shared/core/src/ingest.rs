//! Postbacks: how a parsed postback becomes a stored lead, by key tier, without ever losing a lead and without
//! telling the browser key anything about stored leads.

use crate::domain::ip_policy::IpOutcome;
use crate::log_budget::Admission;
use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use crate::domain::merge::{apply_postback, new_lead, Access, Applied};
use crate::domain::postback::Parsed;
use crate::domain::{
    quarantine, Lead, Pipeline, Postback, Quarantine, Stage, Warning, WarningCode,
};
use crate::service::{now, Leadpipe, ServiceError};
use crate::store::{
    Decision, LeadRef, LogStatus, PostbackLogEntry, PostbackLogPage, PostbackLogQuery, StoreError,
    POSTBACK_LOG_BODY_BYTES,
};

/// What a postback did, as answered to a server key (never the stored lead).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostbackOutcome {
    /// The lead's id; send it back as `lead_id` on later postbacks.
    pub lead_id: Uuid,
    /// True when this postback created the lead.
    pub created: bool,
    /// The lead's stage after the postback.
    pub stage: Stage,
    /// Whether the stage changed.
    pub stage_changed: bool,
    /// What was not applied as sent, and why (empty when everything was).
    pub warnings: Vec<Warning>,
}

/// What a postback did, as answered to the browser key: the same shape whether the lead was new or not, and
/// nothing about the stored lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicOutcome {
    /// Send it back as `token` on the visit's later postbacks.
    pub token: String,
    /// What was not applied as sent, and why; never about what is stored.
    pub warnings: Vec<Warning>,
}

/// A postback's answer, by key tier.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// To the server key (or the admin key).
    Server(PostbackOutcome),
    /// To the browser key.
    Public(PublicOutcome),
}

/// Which key a postback came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The server key (`API_KEY`), the admin key, or any request when key checks are off.
    Server,
    /// The browser key (`PUBLIC_API_KEY`).
    Public,
}

impl Caller {
    /// The tier's name in the postback log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Public => "public",
        }
    }
}

/// Where a postback came from, as the HTTP layer saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub client_ip: Option<String>,
    /// The request's `User-Agent`.
    pub user_agent: Option<String>,
}

impl Leadpipe {
    /// Creates or updates the lead a postback refers to — by `lead_id` (server key) or token, else by email, else a
    /// new lead — with what its key may do, and answers in that key's shape.
    ///
    /// A postback that looks like a bot creates a quarantined lead and is not applied to an existing lead; a
    /// browser-key client creating more than `QUARANTINE_IP_RATE` leads a minute gets them quarantined. Both go to
    /// the postback log. An email held by another lead is left out; the rest is stored.
    pub async fn ingest(
        &self,
        parsed: Parsed,
        caller: Caller,
        origin: &Origin,
    ) -> Result<Ingested, ServiceError> {
        let Parsed {
            postback: mut pb,
            mut warnings,
        } = parsed;
        let settings = &self.settings;
        if let Some(raw) = pb.text.ip_address.take() {
            match settings.ip_addresses.apply(&raw) {
                IpOutcome::NotAnAddress => warnings.push(Warning::new(
                    "ip_address",
                    WarningCode::Dropped,
                    "ip_address is not an IP address and IP_ADDRESSES=truncate keeps networks only; it was left out",
                )),
                outcome => pb.text.ip_address = outcome.stored(),
            }
        }
        let access = match caller {
            Caller::Server => Access::Full,
            Caller::Public => Access::Public {
                max_stage: settings.public_max_stage.clone(),
            },
        };
        let mut target = LeadRef {
            id: None,
            email: pb.email.clone(),
        };
        if let Some(token) = pb.token.take() {
            match self.tokens.open(&token) {
                Some(id) => target.id = Some(id),
                None => warnings.push(Warning::new(
                    "token",
                    WarningCode::Dropped,
                    "token is not one this API issued; it was ignored",
                )),
            }
        }
        if caller == Caller::Public {
            let identified = target.id.is_some() || target.email.is_some();
            public_request_warnings(
                &mut pb,
                &access,
                &settings.pipeline,
                identified,
                &mut warnings,
            );
        } else if target.id.is_none() {
            target.id = pb.lead_id;
        }
        if let Some(email) = pb.email.clone() {
            if self.is_suppressed(&email).await? {
                if let Some(refused) = self
                    .refuse_suppressed(&mut pb, &mut target, caller, origin)
                    .await?
                {
                    return Ok(refused);
                }
            }
        }
        let browser_agent = if caller == Caller::Public {
            origin.user_agent.as_deref()
        } else {
            None
        };
        let suspicious = quarantine::suspicion(&pb, browser_agent);
        let mut changed = self
            .change(
                &target,
                self.postback_decision(pb.clone(), access.clone(), suspicious),
            )
            .await;
        if let Err(StoreError::EmailTaken(_)) = &changed {
            if caller == Caller::Server {
                // The address itself is not repeated: answers are kept as idempotency replays.
                let message =
                    "this email already belongs to another lead; this lead keeps its email";
                warnings.push(Warning::new("email", WarningCode::Conflict, message));
            }
            pb.email = None;
            changed = self
                .change(&target, self.postback_decision(pb, access, suspicious))
                .await;
        }
        let changed = changed?;
        let Decision::Apply(applied) = changed.decision else {
            return Err(ServiceError::Internal(
                "a postback decision must apply".into(),
            ));
        };
        let created = changed.before.is_none();
        if let Some(reason) = suspicious {
            let what = if created {
                "its new lead is quarantined"
            } else {
                "it was not applied to the existing lead"
            };
            let message = format!("looks like a bot ({reason}): {what}");
            self.log_postback(
                LogStatus::Quarantined,
                reason,
                message,
                caller.as_str(),
                origin,
                Some(applied.lead.id),
                b"",
            )
            .await;
        } else if created && caller == Caller::Public {
            self.limit_client_rate(&applied.lead, origin).await?;
        }
        warnings.extend(applied.warnings.iter().cloned());
        let warnings = crate::domain::warning::bounded(warnings);
        Ok(match caller {
            Caller::Server => Ingested::Server(PostbackOutcome {
                lead_id: applied.lead.id,
                created,
                stage: applied.lead.stage.clone(),
                stage_changed: applied.stage_changed(),
                warnings,
            }),
            Caller::Public => Ingested::Public(PublicOutcome {
                token: self.tokens.seal(applied.lead.id),
                warnings,
            }),
        })
    }

    /// A postback whose email is on the suppression list. With a lead to update (by `lead_id` or token) the email
    /// is left out and the rest applied (`None`); a postback that names the person only by that email stores
    /// nothing: the server key is told why ([`ServiceError::Suppressed`]), the browser key gets the answer of an
    /// accepted postback (it must not learn who asked to be erased). Either way the postback log keeps the refusal
    /// without the body.
    async fn refuse_suppressed(
        &self,
        pb: &mut Postback,
        target: &mut LeadRef,
        caller: Caller,
        origin: &Origin,
    ) -> Result<Option<Ingested>, ServiceError> {
        if target.id.is_some() {
            pb.email = None;
            target.email = None;
            return Ok(None);
        }
        match caller {
            Caller::Server => Err(ServiceError::Suppressed),
            Caller::Public => {
                self.log_postback(
                    LogStatus::Rejected,
                    crate::ErrorCode::Suppressed.as_str(),
                    ServiceError::Suppressed.to_string(),
                    caller.as_str(),
                    origin,
                    None,
                    b"",
                )
                .await;
                Ok(Some(Ingested::Public(PublicOutcome {
                    token: self.tokens.seal(Uuid::new_v4()),
                    warnings: crate::domain::warning::bounded(Vec::new()),
                })))
            }
        }
    }

    /// A server-key postback from this process (imports, tools, tests): no client origin, no parse warnings.
    pub async fn ingest_postback(&self, pb: &Postback) -> Result<PostbackOutcome, ServiceError> {
        match self
            .ingest(
                Parsed {
                    postback: pb.clone(),
                    warnings: Vec::new(),
                },
                Caller::Server,
                &Origin::default(),
            )
            .await?
        {
            Ingested::Server(outcome) => Ok(outcome),
            Ingested::Public(_) => Err(ServiceError::Internal(
                "a server postback answered as a public one".into(),
            )),
        }
    }

    fn postback_decision(
        &self,
        pb: Postback,
        access: Access,
        suspicious: Option<&'static str>,
    ) -> Arc<crate::store::Decide> {
        let settings = Arc::clone(&self.settings);
        Arc::new(move |existing: Option<&Lead>| {
            let now = now();
            Decision::Apply(Box::new(match (existing, suspicious) {
                (None, _) => {
                    let mut applied =
                        new_lead(&pb, &settings.pipeline, Uuid::new_v4(), now, &access);
                    applied.lead.quarantine = suspicious.map(|reason| Quarantine {
                        reason: reason.into(),
                        at: now,
                    });
                    applied
                }
                // A bot's postback is not applied to a real lead.
                (Some(lead), Some(_)) => Applied::unchanged(lead.clone()),
                (Some(lead), None) => apply_postback(lead, &pb, &settings.pipeline, now, &access),
            }))
        })
    }

    /// Quarantines a browser-key lead when its client created more than `QUARANTINE_IP_RATE` this minute.
    async fn limit_client_rate(&self, lead: &Lead, origin: &Origin) -> Result<(), ServiceError> {
        let Some(ip) = origin.client_ip.as_deref() else {
            return Ok(());
        };
        // The lead is stored already: a count that cannot be taken must not fail its postback (a retry would
        // create the lead twice), so it is logged and the lead stays unquarantined.
        let count = match self.store.count_new_lead(ip, lead.created_at).await {
            Ok(count) => count,
            Err(e) => {
                tracing::warn!(error = %e, "could not count the client's new leads; not quarantined");
                return Ok(());
            }
        };
        let limit = self.settings.quarantine_ip_rate;
        if count <= limit {
            return Ok(());
        }
        if let Err(e) = self.set_quarantine(lead.id, Some("ip_rate")).await {
            tracing::warn!(error = %e, "could not quarantine a lead over the client rate");
            return Ok(());
        }
        let message = format!("this client created {count} leads this minute (limit {limit}): the lead is quarantined");
        self.log_postback(
            LogStatus::Quarantined,
            "ip_rate",
            message,
            Caller::Public.as_str(),
            origin,
            Some(lead.id),
            b"",
        )
        .await;
        Ok(())
    }

    /// Quarantines a lead for `reason`, or releases it (`None`): a released lead counts in analytics and shows on
    /// the board again. Returns the lead.
    pub async fn set_quarantine(
        &self,
        id: Uuid,
        reason: Option<&'static str>,
    ) -> Result<Lead, ServiceError> {
        let decide = Arc::new(move |existing: Option<&Lead>| match existing {
            None => Decision::Nothing,
            Some(l) => {
                let mut lead = l.clone();
                let modified = match reason {
                    Some(r) if lead.quarantine.is_none() => {
                        lead.quarantine = Some(Quarantine {
                            reason: r.into(),
                            at: now(),
                        });
                        true
                    }
                    None => lead.quarantine.take().is_some(),
                    _ => false,
                };
                if !modified {
                    return Decision::Apply(Box::new(Applied::unchanged(lead)));
                }
                lead.version += 1;
                lead.updated_at = now();
                Decision::Apply(Box::new(Applied::rewritten(lead)))
            }
        });
        match self.change(&LeadRef::id(id), decide).await?.decision {
            Decision::Apply(applied) => Ok(applied.lead),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// Keeps a refused or quarantined postback in the postback log for `POSTBACK_LOG_DAYS` (its body cut to
    /// [`POSTBACK_LOG_BODY_BYTES`]), so "why is my lead missing?" has an answer. `key` is the tier it came with
    /// (never the key). A failure to log is itself logged; it never fails the request.
    #[allow(clippy::too_many_arguments)]
    pub async fn log_postback(
        &self,
        status: LogStatus,
        reason: &str,
        message: String,
        key: &str,
        origin: &Origin,
        lead_id: Option<Uuid>,
        body: &[u8],
    ) {
        let at = now();
        let keys_on = self.settings.api_key.is_some() || self.settings.admin_api_key.is_some();
        // Anyone may hold the browser key, so its entries count as unvouched too.
        let unvouched = matches!(key, "invalid" | "public") || (key == "none" && keys_on);
        if unvouched {
            match self.unauthenticated_logs.admit(at.timestamp()) {
                Admission::Skip => return,
                Admission::Log { skipped: 0 } => {}
                Admission::Log { skipped } => tracing::warn!(
                    skipped,
                    per_second = self.unauthenticated_logs.per_second(),
                    "refusals without a valid key were not kept in the postback log (over this process's budget)"
                ),
            }
        }
        let entry = PostbackLogEntry {
            id: Uuid::new_v4(),
            at,
            status,
            reason: reason.to_string(),
            message,
            key: key.to_string(),
            client_ip: self
                .settings
                .ip_addresses
                .stored(origin.client_ip.as_deref()),
            lead_id,
            body: String::from_utf8_lossy(&body[..body.len().min(POSTBACK_LOG_BODY_BYTES)])
                .into_owned(),
            expires_at: at + chrono::Duration::days(i64::from(self.settings.postback_log_days)),
        };
        if let Err(e) = self.store.log_postback(&entry).await {
            // The store is down: the entry goes to the error log instead, the one place left an admin can find it.
            let entry = serde_json::to_string(&entry).unwrap_or_default();
            tracing::error!(error = %e, %entry, "could not write the postback log; the entry is kept here");
        }
    }

    /// A page of the postback log.
    pub async fn postback_log(
        &self,
        q: &PostbackLogQuery,
    ) -> Result<PostbackLogPage, ServiceError> {
        Ok(self.store.postback_log(q).await?)
    }
}

/// What the browser key asked for and may not do, reported whatever is stored: a `lead_id` (it never sees ids),
/// `force_stage`, a stage past its limit; and, for a postback that identifies a lead, the rule that stored values
/// are kept (said every time, so it tells nothing about whether a lead existed).
fn public_request_warnings(
    pb: &mut Postback,
    access: &Access,
    pipeline: &Pipeline,
    identified: bool,
    warnings: &mut Vec<Warning>,
) {
    if pb.lead_id.take().is_some() {
        warnings.push(Warning::new(
            "lead_id",
            WarningCode::NotAllowed,
            "the browser key does not take lead_id; send the token instead",
        ));
    }
    if pb.order.take().is_some() {
        // Parse warnings about the value are beside the point: none of it is used.
        warnings.retain(|w| !crate::domain::orders::ORDER_FIELDS.contains(&w.field.as_str()));
        warnings.push(Warning::new(
            "value",
            WarningCode::NotAllowed,
            "the browser key cannot set money; value, currency and order_id were ignored",
        ));
    }
    if pb.force_stage {
        pb.force_stage = false;
        warnings.push(Warning::new(
            "force_stage",
            WarningCode::NotAllowed,
            "the browser key never moves a lead backwards",
        ));
    }
    if let (Some(stage), Access::Public { max_stage }) = (&pb.stage, access) {
        if pipeline.index_of(stage) > pipeline.index_of(max_stage) {
            let message =
                format!("the browser key moves leads at most to {max_stage}; later stages come from the server key or the dashboard");
            warnings.push(Warning::new("stage", WarningCode::NotAllowed, message));
        }
    }
    if identified && pb.has_fields() {
        warnings.push(Warning::new(
            "*",
            WarningCode::NotAllowed,
            "with the browser key a lead's stored values are kept: it only fills empty fields, adds new custom_data keys and moves the stage forward",
        ));
    }
}
