//! Mapping SDK errors to provider errors, for every AWS service.

use std::fmt::Debug;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::provider::ProviderError;

/// Maps an SDK error to a provider error: its code, whether retrying may
/// help (throttling; eventual consistency such as a dependency still being
/// released), whether the resource is gone, and whether the outcome is
/// unknown (the request may have been carried out).
pub fn err<E, R>(e: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: Debug,
{
    let code = e.code().map(str::to_string);
    let message = match (&code, e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ => format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ),
    };
    let mut pe = ProviderError::new(message);
    pe.outcome_unknown = matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    );
    if let Some(c) = code {
        pe.retryable = matches!(
            c.as_str(),
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "DependencyViolation"
                | "IncorrectState"
                | "InvalidGroup.InUse"
                | "ConcurrentModification"
                | "OperationAbortedException"
        );
        pe.not_found = c.ends_with(".NotFound")
            || matches!(
                c.as_str(),
                "NotFound" | "NoSuchEntity" | "ResourceNotFoundException"
            );
        pe.code = Some(c);
    }
    pe
}
