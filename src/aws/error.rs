//! Mapping SDK errors to provider errors, for every AWS service.

use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::provider::{ErrorKind, ProviderError};

/// Maps an SDK error to a provider error: its code, whether retrying may
/// help (throttling; eventual consistency such as a dependency still being
/// released), whether the resource is gone, and whether the outcome is
/// unknown (the request may have been carried out).
pub fn err<E>(e: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = e.code().map(str::to_string);
    let message = match (&code, e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        (None, _) => uncoded::<E>(&e),
    };
    let kind = if matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    ) {
        ErrorKind::OutcomeUnknown
    } else {
        code.as_deref().map_or(ErrorKind::Failed, |c| kind_of(c, &message))
    };
    let pe = ProviderError::new(message).kind(kind);
    match code {
        Some(c) => pe.code(c),
        None => pe,
    }
}

/// What an error code (and its message) means for the caller.
fn kind_of(code: &str, message: &str) -> ErrorKind {
    // Dependencies AWS releases in its own time: a deleted load
    // balancer's or task's network interfaces keep a security group or
    // subnet in use for minutes (Lambda's for 20 or more). (A
    // `ResourceInUse` is not retried here: the kinds that meet it say
    // what it means for them.)
    if matches!(code, "DependencyViolation" | "InvalidGroup.InUse") {
        return ErrorKind::RetryWithin(Duration::from_secs(30 * 60));
    }
    // A role used seconds after its creation: IAM has not yet propagated
    // it. The same codes with other messages are real errors and are not
    // retried.
    if iam_propagating(message) {
        return ErrorKind::RetryWithin(Duration::from_secs(120));
    }
    let retryable = THROTTLING.contains(&code)
        || matches!(
            code,
            "IncorrectState"
                | "ConcurrentModification"
                | "OperationAbortedException"
                | "RequestTimeout"
                | "RequestTimeoutException"
        );
    if retryable {
        ErrorKind::Retryable
    } else if is_not_found(code) {
        ErrorKind::NotFound
    } else {
        ErrorKind::Failed
    }
}

/// An error AWS gave no code for (an HTTP 500 from a proxy, an endpoint
/// that does not resolve), said in one line: the service and operation,
/// then the HTTP status and the body's first line, or the cause, never
/// the SDK's debug dump of the response.
fn uncoded<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: std::error::Error + 'static,
{
    let (service, operation) = operation_of::<E>();
    let what = format!("{service} {operation}");
    match e.raw_response() {
        Some(r) => {
            let body = r.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
            let first = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            let first: String = first.chars().take(200).collect();
            let status = r.status().as_u16();
            if first.is_empty() {
                format!("{what}: HTTP {status} with an empty body")
            } else {
                format!("{what}: HTTP {status}: {first}")
            }
        }
        None => {
            // Each cause's Display, not DisplayErrorContext, whose last
            // part is the whole error's Debug dump.
            let mut causes = vec![e.to_string()];
            let mut next = std::error::Error::source(e);
            while let Some(c) = next {
                let text = c.to_string();
                if !causes.iter().any(|s| s.contains(&text)) {
                    causes.push(text);
                }
                next = c.source();
            }
            let hint = if causes.iter().any(|c| c.contains("dns error")) {
                " (is the region right? `aws ec2 describe-regions` lists them)"
            } else {
                ""
            };
            format!("{what}: {}{hint}", causes.join(": "))
        }
    }
}

/// The service and operation an SDK error type belongs to, from its path:
/// `aws_sdk_ec2::operation::create_vpc::CreateVpcError` is `ec2` and
/// `CreateVpc`.
fn operation_of<E>() -> (String, String) {
    let path = std::any::type_name::<E>();
    let mut parts = path.split("::");
    let service = parts.next().unwrap_or_default().trim_start_matches("aws_sdk_").to_string();
    let operation =
        path.rsplit("::").next().unwrap_or_default().trim_end_matches("Error").to_string();
    (service, operation)
}

/// Throttling in every service's spelling: the SDK's own list
/// (`aws_runtime::retries::classifiers::THROTTLING_ERRORS`), so what the
/// SDK retries the engine retries too once the SDK's attempts are spent.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Codes that mean the resource does not exist, across the services'
/// spellings: EC2 `InvalidVpcID.NotFound`, ELB `TargetGroupNotFound`,
/// ECS `ClusterNotFoundException`, MQ `NotFoundException`, IAM
/// `NoSuchEntity`, Lambda `ResourceNotFoundException`, RDS
/// `DBClusterNotFoundFault`, S3 `NoSuchBucket`
/// (and `NotFound`, a HEAD's bodiless 404).
pub fn is_not_found(code: &str) -> bool {
    code.ends_with("NotFound")
        || code.ends_with("NotFoundException")
        || code.ends_with("NotFoundFault")
        || code == "InvalidPlacementGroup.Unknown"
        || matches!(
            code,
            "NoSuchEntity" | "NoSuchBucket" | "NoSuchKey" | "EntityDoesNotExistException"
        )
}

/// Messages AWS services give for a role IAM has not propagated yet
/// (ECS, Lambda, Firehose, CodeBuild, EventBridge; CloudFormation and
/// Terraform retry the same ones).
pub fn iam_propagating(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "cannot be assumed",
        "unable to assume",
        "not authorized to perform: sts:assumerole",
        "role is not authorized",
        "does not have permissions to assume",
        "is not authorized to perform: iam:passrole",
        "the role defined for the function",
        "invalid service role",
        // CodeBuild checks the role's EC2 permissions for a VPC project
        // (aws-cdk#2652): a policy attached seconds ago is not seen yet.
        "not authorized to perform describesecuritygroups",
    ]
    .iter()
    .any(|p| m.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_named_from_its_error_type() {
        type E = aws_sdk_ec2::operation::create_vpc::CreateVpcError;
        assert_eq!(operation_of::<E>(), ("ec2".to_string(), "CreateVpc".to_string()));
    }

    #[test]
    fn not_found_codes_of_every_service() {
        for c in [
            "InvalidVpcID.NotFound",
            "NotFound",
            "LoadBalancerNotFound",
            "TargetGroupNotFound",
            "ClusterNotFoundException",
            "NotFoundException",
            "NoSuchEntity",
            "ResourceNotFoundException",
            "DBClusterNotFoundFault",
            "DBSubnetGroupNotFoundFault",
            "DBInstanceNotFound",
            "DBParameterGroupNotFound",
            "ObjectNotFoundException",
        ] {
            assert!(is_not_found(c), "{c}");
        }
        for c in ["DependencyViolation", "ResourceInUse", "ClientException", "Throttling"] {
            assert!(!is_not_found(c), "{c}");
        }
    }

    #[test]
    fn role_propagation_errors_are_recognised() {
        assert!(iam_propagating(
            "InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda."
        ));
        assert!(iam_propagating(
            "InvalidParameterException: Unable to assume role and validate the specified targetGroupArn"
        ));
        assert!(!iam_propagating("InvalidParameterException: subnet-123 does not exist"));
    }
}
