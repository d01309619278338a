//! SDK errors mapped to [`StoreError`]: transport trouble, throttling and DynamoDB's own 5xx answers (which AWS
//! asks clients to retry) are `Unavailable`, the rest `Internal`.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use leadpipe_core::domain::Email;
use leadpipe_core::store::StoreError;

/// An unexpected failure (logged by the HTTP layer, never shown).
pub(crate) fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Maps an SDK error, keeping its full context for the logs.
pub(crate) fn sdk_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let code = e.code().unwrap_or_default().to_string();
    let detail = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::Unavailable(detail),
        _ if is_throttling(&code) => StoreError::Unavailable(detail),
        SdkError::ServiceError(service) if service.raw().status().is_server_error() => {
            StoreError::Unavailable(detail)
        }
        _ => StoreError::Internal(detail),
    }
}

/// Whether DynamoDB answered with throttling or one of its own 5xx errors (the SDK's own retries used up): worth
/// retrying an idempotent write a little longer. Transport failures are not (a dead endpoint surfaces at once).
pub(crate) fn is_throttled_or_server_error<E>(e: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error() || is_throttling(e.code().unwrap_or_default())
        }
        _ => false,
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
    e: SdkError<TransactWriteItemsError, HttpResponse>,
    claim_index: Option<usize>,
    email: Option<&Email>,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
        e.as_service_error()
    {
        let codes: Vec<&str> = cancel
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None"))
            .collect();
        let failed = |i: usize| codes.get(i).is_some_and(|c| *c == "ConditionalCheckFailed");
        let other_condition_failed = codes
            .iter()
            .enumerate()
            .any(|(i, c)| *c == "ConditionalCheckFailed" && Some(i) != claim_index);
        return match (claim_index, email) {
            (Some(i), Some(email)) if failed(i) && !other_condition_failed => {
                StoreError::EmailTaken(email.clone())
            }
            _ => StoreError::Conflict,
        };
    }
    if e.as_service_error().is_some_and(|s| {
        s.is_transaction_in_progress_exception() || s.code() == Some("TransactionConflictException")
    }) {
        return StoreError::Conflict;
    }
    sdk_error(e)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn answered(status: u16, code: &str) -> StoreError {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::from("{}"));
        sdk_error(SdkError::service_error(err, raw))
    }

    fn raw_error(status: u16, code: &str) -> SdkError<GetItemError, HttpResponse> {
        let err = GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::from("{}"));
        SdkError::service_error(err, raw)
    }

    #[test]
    fn only_throttling_and_dynamodb_5xx_are_retried_longer() {
        assert!(is_throttled_or_server_error(&raw_error(
            400,
            "ProvisionedThroughputExceededException"
        )));
        assert!(is_throttled_or_server_error(&raw_error(
            400,
            "ThrottlingException"
        )));
        assert!(is_throttled_or_server_error(&raw_error(
            500,
            "InternalServerError"
        )));
        assert!(!is_throttled_or_server_error(&raw_error(
            400,
            "ConditionalCheckFailedException"
        )));
        assert!(!is_throttled_or_server_error(&raw_error(
            400,
            "ValidationException"
        )));
    }

    #[test]
    fn dynamodb_5xx_and_throttling_are_unavailable_and_client_errors_internal() {
        assert!(matches!(
            answered(500, "InternalServerError"),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            answered(503, "ServiceUnavailable"),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            answered(400, "ThrottlingException"),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            answered(400, "ValidationException"),
            StoreError::Internal(_)
        ));
    }
}
