//! SDK errors mapped to [`StoreError`]: transport trouble and throttling are `Unavailable`, the rest `Internal`.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use leadpipe_core::domain::Email;
use leadpipe_core::store::StoreError;

/// An unexpected failure (logged by the HTTP layer, never shown).
pub(crate) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Maps an SDK error, keeping its full context for the logs.
pub(crate) fn sdk_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let detail = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::Unavailable(detail),
        _ if is_throttling(&code) => StoreError::Unavailable(detail),
        _ => StoreError::Internal(detail),
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "ThrottlingError"
            | "ProvisionedThroughputExceeded"
    )
}

/// Maps a failed transaction: a failed claim condition is `EmailTaken`, any other condition failure or conflict is
/// `Conflict` (the caller re-reads and retries), transport trouble is `Unavailable`.
pub(crate) fn transaction_error(
    e: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    claim_index: Option<usize>,
    email: Option<&Email>,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) = e.as_service_error() {
        let codes: Vec<&str> = cancel.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
        let failed = |i: usize| codes.get(i).is_some_and(|c| *c == "ConditionalCheckFailed");
        let other_condition_failed = codes.iter().enumerate().any(|(i, c)| *c == "ConditionalCheckFailed" && Some(i) != claim_index);
        return match (claim_index, email) {
            (Some(i), Some(email)) if failed(i) && !other_condition_failed => StoreError::EmailTaken(email.clone()),
            _ => StoreError::Conflict,
        };
    }
    if e.as_service_error().is_some_and(|s| s.is_transaction_in_progress_exception() || s.code() == Some("TransactionConflictException")) {
        return StoreError::Conflict;
    }
    sdk_error(e)
}
