//! AWS clients: configuration from the standard chain (environment, shared
//! config and profiles, SSO, IMDS/container credentials), `--region`,
//! `--profile` and `--endpoint-url` overrides, standard retries, an
//! overall deadline per operation, and an API-call counter behind
//! `--stats`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextMut,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::ErrorKind;
use serde::Serialize;

/// Where and how to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Attempts per call, throttling included (standard retry mode).
    pub max_attempts: Option<u32>,
}

/// The clients every AWS kind uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub mq: aws_sdk_mq::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub s3: aws_sdk_s3::Client,
    pub rds: aws_sdk_rds::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub appscaling: aws_sdk_applicationautoscaling::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub ds: aws_sdk_directory::Client,
    pub glue: aws_sdk_glue::Client,
    pub sts: aws_sdk_sts::Client,
    /// The caller's account id, asked once (ARNs the APIs do not return).
    account: Arc<tokio::sync::OnceCell<String>>,
    pub region: String,
    /// An endpoint URL is set: an emulator or a private endpoint, which
    /// may not implement every call AWS has.
    pub custom_endpoint: bool,
    pub stats: Arc<Stats>,
    /// Reads shared between kinds while a plan refreshes.
    pub reads: Arc<super::reads::ReadCache>,
    /// Security groups and subnets a deleted Lambda function's network
    /// interfaces were found holding, for the next attempt of their delete
    /// (kept by `ec2::common`, for this run only).
    pub(super) lambda_held: Arc<Held>,
}

/// The ids `ec2::common::release_lambda_enis` last found held by a
/// deleted Lambda function's network interfaces: their next delete
/// attempt (the engine's retry) releases the interfaces before it deletes,
/// instead of being refused again first.
#[derive(Debug, Default)]
pub struct Held(std::sync::Mutex<std::collections::HashSet<String>>);

impl Held {
    pub(super) fn holds(&self, id: &str) -> bool {
        self.0.lock().unwrap().contains(id)
    }

    pub(super) fn set(&self, id: &str, held: bool) {
        let mut ids = self.0.lock().unwrap();
        if held {
            ids.insert(id.to_string());
        } else {
            ids.remove(id);
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClientError {
    #[error("no AWS region is configured")]
    #[diagnostic(
        code(archkit::aws::no_region),
        help("pass --region, set AWS_REGION, or set `region` for your profile in ~/.aws/config")
    )]
    NoRegion,
    #[error("no AWS credentials were found: {0}")]
    #[diagnostic(
        code(archkit::aws::no_credentials),
        help(
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, \
             or run `aws sso login`; against a local emulator any dummy values work"
        )
    )]
    NoCredentials(String),
}

impl Clients {
    /// Loads configuration and checks that a region and credentials exist,
    /// so a missing one is one clear error instead of an SDK dump later.
    pub async fn load(settings: &Settings) -> Result<Clients, ClientError> {
        let config = sdk_config(settings).await?;
        let region = config.region().ok_or(ClientError::NoRegion)?.to_string();
        Ok(Clients::from_config(&config, region))
    }

    /// Clients for `config`, every one counting its calls into one
    /// [`Stats`].
    fn from_config(config: &aws_config::SdkConfig, region: String) -> Clients {
        let stats = Arc::new(Stats::default());
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(config)
                        .interceptor(Counter(stats.clone()))
                        .interceptor(NoBlindRetry)
                        .build(),
                )
            };
        }
        Clients {
            ec2: client!(aws_sdk_ec2),
            ecs: client!(aws_sdk_ecs),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            firehose: client!(aws_sdk_firehose),
            mq: client!(aws_sdk_mq),
            lambda: client!(aws_sdk_lambda),
            events: client!(aws_sdk_eventbridge),
            dynamodb: client!(aws_sdk_dynamodb),
            secrets: client!(aws_sdk_secretsmanager),
            iam: client!(aws_sdk_iam),
            logs: client!(aws_sdk_cloudwatchlogs),
            tagging: client!(aws_sdk_resourcegroupstagging),
            rds: client!(aws_sdk_rds),
            ssm: client!(aws_sdk_ssm),
            autoscaling: client!(aws_sdk_autoscaling),
            appscaling: client!(aws_sdk_applicationautoscaling),
            codebuild: client!(aws_sdk_codebuild),
            ds: client!(aws_sdk_directory),
            glue: client!(aws_sdk_glue),
            sts: client!(aws_sdk_sts),
            account: Arc::default(),
            // Path-style addressing against an emulator or a private
            // endpoint, whose host names carry no bucket names.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(config.endpoint_url().is_some())
                    .interceptor(Counter(stats.clone()))
                    .interceptor(NoBlindRetry)
                    .build(),
            ),
            region,
            custom_endpoint: config.endpoint_url().is_some(),
            stats,
            reads: Arc::default(),
            lambda_held: Arc::default(),
        }
    }

    /// The account the credentials belong to, asked of STS once per run:
    /// Glue's tag calls take ARNs that its reads do not return.
    pub async fn account_id(&self) -> crate::provider::Result<String> {
        self.account
            .get_or_try_init(|| async {
                let me = send!(self.sts.get_caller_identity())?;
                me.account().map(str::to_string).ok_or_else(|| {
                    crate::provider::ProviderError::new("STS returned no account id")
                })
            })
            .await
            .cloned()
    }

    /// Clients that are never used to call AWS (no credentials, no
    /// network): enough to construct every kind, as the tests of the
    /// registration table do.
    pub fn offline(region: &str) -> Clients {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Clients::from_config(&config, region.to_string())
    }
}

/// The SDK configuration for `settings`: the standard chain with
/// archkit's retries and timeouts, once a region and credentials are known
/// to exist.
pub async fn sdk_config(settings: &Settings) -> Result<aws_config::SdkConfig, ClientError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.unwrap_or(5)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(5 * 60))
                .build(),
        );
    if let Some(r) = &settings.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(p) = &settings.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &settings.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let config = loader.load().await;
    config.region().ok_or(ClientError::NoRegion)?;
    match config.credentials_provider() {
        Some(p) => {
            p.provide_credentials()
                .await
                .map_err(|e| ClientError::NoCredentials(first_line(&e.to_string())))?;
        }
        None => return Err(ClientError::NoCredentials("no credentials provider".into())),
    }
    Ok(config)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// Calls made, by service and operation, and time spent in them.
#[derive(Debug, Default)]
pub struct Stats {
    calls: Mutex<BTreeMap<(String, String), CallStats>>,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct CallStats {
    pub calls: u64,
    pub errors: u64,
    pub seconds: f64,
}

/// `--stats --json` form.
#[derive(Debug, Serialize)]
pub struct StatsJson {
    pub total_calls: u64,
    pub total_seconds: f64,
    pub read_calls: u64,
    pub write_calls: u64,
    pub operations: Vec<OperationJson>,
}

#[derive(Debug, Serialize)]
pub struct OperationJson {
    pub service: String,
    pub operation: String,
    #[serde(flatten)]
    pub stats: CallStats,
}

/// Whether an API operation only reads.
pub fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List", "BatchGet", "Head"].iter().any(|p| operation.starts_with(p))
}

impl Stats {
    fn record(&self, service: &str, operation: &str, took: Duration, ok: bool) {
        let mut calls = self.calls.lock().unwrap();
        let e = calls.entry((service.to_string(), operation.to_string())).or_default();
        e.calls += 1;
        if !ok {
            e.errors += 1;
        }
        e.seconds += took.as_secs_f64();
    }

    pub fn json(&self) -> StatsJson {
        let calls = self.calls.lock().unwrap();
        let operations: Vec<OperationJson> = calls
            .iter()
            .map(|((s, o), st)| OperationJson {
                service: s.clone(),
                operation: o.clone(),
                stats: *st,
            })
            .collect();
        let total = |f: &dyn Fn(&OperationJson) -> bool| {
            operations.iter().filter(|o| f(o)).map(|o| o.stats.calls).sum()
        };
        StatsJson {
            total_calls: total(&|_| true),
            total_seconds: operations.iter().map(|o| o.stats.seconds).sum(),
            read_calls: total(&|o| is_read(&o.operation)),
            write_calls: total(&|o| !is_read(&o.operation)),
            operations,
        }
    }
}

/// The interceptor that feeds [`Stats`]: one record per operation (retries
/// of one call count once, time includes them).
#[derive(Debug)]
struct Counter(Arc<Stats>);

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "archkit-call-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let took = cfg.load::<Started>().map(|s| s.0.elapsed()).unwrap_or_default();
        let ok = context.output_or_error().is_some_and(|r| r.is_ok());
        if let Some(m) = cfg.load::<Metadata>() {
            self.0.record(m.service(), m.name(), took, ok);
        }
        Ok(())
    }
}

/// Stops the SDK from retrying a write whose answer was lost (a dropped
/// connection, a timeout, a broken response): AWS may have carried it
/// out, and a blind retry of `CreateVpc`, `AllocateAddress` or
/// `RegisterTaskDefinition` makes a second one. The error reaches the
/// engine as an unknown outcome instead, which looks the resource up by
/// its tags before it creates again. Reads are still retried.
#[derive(Debug)]
struct NoBlindRetry;

/// The write's answer was lost; whether AWS carried it out is unknown.
#[derive(Debug, thiserror::Error)]
#[error("the answer to {0} was lost (the connection failed after the request was sent)")]
pub struct AnswerLost(String);

impl Intercept for NoBlindRetry {
    fn name(&self) -> &'static str {
        "archkit-no-blind-retry"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.load::<Metadata>().map(|m| m.name().to_string()) else {
            return Ok(());
        };
        if is_read(&op) {
            return Ok(());
        }
        if let Some(Err(e)) = context.output_or_error_mut()
            && answer_lost(e)
        {
            // `other` without a retry kind: no classifier retries it.
            *e =
                OrchestratorError::connector(ConnectorError::other(Box::new(AnswerLost(op)), None));
        }
        Ok(())
    }
}

/// Errors after which a request may have been carried out.
fn answer_lost<E>(e: &OrchestratorError<E>) -> bool {
    e.is_timeout_error()
        || e.is_response_error()
        || e.as_connector_error().is_some_and(|c| {
            // A connection closed before the whole answer came is `other`
            // with a transient kind (hyper's IncompleteMessage).
            c.is_io() || c.is_timeout() || c.as_other() == Some(ErrorKind::TransientError)
        })
}
