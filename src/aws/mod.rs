//! AWS resource kinds. This is the only module that names `aws_sdk_*`
//! types; each resource family lives in one file and is registered in
//! [`KINDS`]: a new kind is its own file and one row there.

/// Sends an SDK request and maps its error to a [`ProviderError`]:
/// `send!(c.ec2.delete_vpc().vpc_id(id))?`. Every AWS call goes through
/// here, so every service's errors are classified the same way
/// ([`error::err`]: retryable, not found, outcome unknown).
///
/// [`ProviderError`]: crate::provider::ProviderError
macro_rules! send {
    ($req:expr) => {
        $req.send().await.map_err($crate::aws::error::err)
    };
}

/// Sends a paginated SDK request and collects every item of every page:
/// `paginate!(c.ecs.list_clusters())?`.
macro_rules! paginate {
    ($req:expr) => {
        $req.into_paginator().items().send().try_collect().await.map_err($crate::aws::error::err)
    };
}

/// Declares a kind's struct (holding the clients) and what it declares
/// rather than implements ([`Declared`]): its schema, and with `ec2_tags`
/// tag changes made by CreateTags / DeleteTags on its id.
///
/// [`Declared`]: crate::provider::Declared
macro_rules! kind {
    ($(#[$m:meta])* $name:ident, $schema:ident) => {
        $(#[$m])*
        pub struct $name(pub crate::aws::client::Clients);

        impl crate::provider::Declared for $name {
            fn schema(&self) -> &'static crate::schema::Schema {
                &$schema
            }
        }
    };
    ($(#[$m:meta])* $name:ident, $schema:ident, ec2_tags) => {
        $(#[$m])*
        pub struct $name(pub crate::aws::client::Clients);

        #[async_trait::async_trait]
        impl crate::provider::Declared for $name {
            fn schema(&self) -> &'static crate::schema::Schema {
                &$schema
            }

            async fn sync_tags(&self, _: &Context, id: &str, old: &Props, new: &Props) -> Result<()> {
                crate::aws::ec2::common::sync_tags(&self.0.ec2, id, old, new).await
            }
        }
    };
}

/// Brings a resource's user tags from `old` to `new` with its service's
/// untag and tag requests, each written up to where the keys or tags go,
/// and returns early on an error: `tag_calls! { old, new,
/// ecs.untag_resource().resource_arn(arn), ecs.tag_resource().resource_arn(arn),
/// |set| tags_from(set) }`. Braces keep a call to one line per service.
macro_rules! tag_calls {
    ($old:expr, $new:expr, $untag:expr, $tag:expr, |$set:ident| $tags:expr) => {{
        $crate::aws::values::sync_tags_with(
            $old,
            $new,
            |keys| async move { send!($untag.set_tag_keys(Some(keys))) },
            |$set| async move { send!($tag.set_tags(Some($tags))) },
        )
        .await?;
    }};
}

/// [`tag_calls!`] on a resource its ARN names: `$arn = $lookup` (an
/// `Option<String>`, `None`: `$id` is gone) binds the ARN for the calls,
/// and is looked up only when the user's tags change.
macro_rules! arn_tag_calls {
    ($old:expr, $new:expr, $id:expr, $arn:ident = $lookup:expr, $untag:expr, $tag:expr, |$set:ident| $tags:expr) => {
        if !$crate::aws::values::TagChanges::between($old, $new).is_empty() {
            let found = $crate::aws::values::known_arn($lookup, $id)?;
            let $arn = found.as_str();
            tag_calls! { $old, $new, $untag, $tag, |$set| $tags }
        }
    };
}

pub mod appscaling;
pub mod autoscaling;
pub mod client;
pub mod cloud;
pub mod codebuild;
pub mod directory;
pub mod dynamodb;
pub mod ec2;
pub mod ecs;
pub mod elbv2;
pub mod error;
pub mod events;
pub mod firehose;
pub mod glue;
pub mod glue_table;
pub mod iam;
pub mod instance_profile;
pub mod lambda;
pub mod logs;
pub mod mq;
pub mod prelude;
pub mod prices;
pub mod rds;
pub mod reads;
pub mod s3;
pub mod s3_object;
pub mod s3state;
pub mod secretsmanager;
pub mod ssm;
pub mod ssm_association;
pub mod ssm_document;
pub mod stacks;
pub mod status;
pub mod values;

use std::sync::Arc;

use crate::provider::{Registry, ResourceKind, Result};
use crate::schema::Schema;
pub use client::{Clients, Settings};

/// One registered kind: its schema and how to make its implementation.
/// [`KINDS`] is the only list of kinds, so the schemas blueprints are
/// validated against and the implementations plans run on cannot differ.
pub struct Registration {
    pub schema: &'static Schema,
    pub make: fn(&Clients) -> Arc<dyn ResourceKind>,
}

/// Declares [`KINDS`]: one row per kind, `path::SCHEMA => path::Type`,
/// where `Type(Clients)` implements [`ResourceKind`] for `SCHEMA`.
macro_rules! kinds {
    ($($schema:path => $kind:path),* $(,)?) => {
        /// Every AWS resource kind archkit implements.
        pub static KINDS: &[Registration] = &[$(Registration {
            schema: &$schema,
            make: |c| Arc::new($kind(c.clone())),
        }),*];
    };
}

kinds! {
    ec2::vpc::VPC => ec2::vpc::Vpc,
    ec2::subnet::SUBNET => ec2::subnet::Subnet,
    ec2::gateway::INTERNET_GATEWAY => ec2::gateway::InternetGateway,
    ec2::gateway::INTERNET_GATEWAY_ATTACHMENT => ec2::gateway::InternetGatewayAttachment,
    ec2::nat::EIP => ec2::nat::Eip,
    ec2::nat::NAT_GATEWAY => ec2::nat::NatGateway,
    ec2::route::ROUTE_TABLE => ec2::route::RouteTable,
    ec2::route::ROUTE => ec2::route::Route,
    ec2::route::ROUTE_TABLE_ASSOCIATION => ec2::route::RouteTableAssociation,
    ec2::security_group::SECURITY_GROUP => ec2::security_group::SecurityGroup,
    ec2::security_group::SECURITY_GROUP_RULE => ec2::security_group::SecurityGroupRule,
    ec2::endpoint::VPC_ENDPOINT => ec2::endpoint::VpcEndpoint,
    ec2::endpoint_service::VPC_ENDPOINT_SERVICE => ec2::endpoint_service::VpcEndpointService,
    ec2::endpoint_connection::VPC_ENDPOINT_CONNECTION => ec2::endpoint_connection::VpcEndpointConnection,
    ec2::launch_template::LAUNCH_TEMPLATE => ec2::launch_template::LaunchTemplate,
    ec2::placement_group::PLACEMENT_GROUP => ec2::placement_group::PlacementGroup,
    ec2::instance::INSTANCE => ec2::instance::Instance,
    iam::ROLE => iam::Role,
    instance_profile::INSTANCE_PROFILE => instance_profile::InstanceProfile,
    autoscaling::GROUP => autoscaling::AutoScalingGroup,
    appscaling::TARGET => appscaling::Target,
    appscaling::POLICY => appscaling::Policy,
    logs::LOG_GROUP => logs::LogGroup,
    elbv2::load_balancer::LOAD_BALANCER => elbv2::load_balancer::LoadBalancer,
    elbv2::target_group::TARGET_GROUP => elbv2::target_group::TargetGroup,
    elbv2::listener::LISTENER => elbv2::listener::Listener,
    elbv2::listener_rule::LISTENER_RULE => elbv2::listener_rule::ListenerRule,
    ecs::cluster::CLUSTER => ecs::cluster::Cluster,
    ecs::task_definition::TASK_DEFINITION => ecs::task_definition::TaskDefinition,
    ecs::service::SERVICE => ecs::service::Service,
    lambda::FUNCTION => lambda::Function,
    lambda::PERMISSION => lambda::Permission,
    mq::BROKER => mq::Broker,
    events::RULE => events::Rule,
    dynamodb::TABLE => dynamodb::Table,
    secretsmanager::SECRET => secretsmanager::Secret,
    s3::BUCKET => s3::Bucket,
    s3_object::OBJECT => s3_object::Object,
    firehose::DELIVERY_STREAM => firehose::DeliveryStream,
    rds::subnet_group::DB_SUBNET_GROUP => rds::subnet_group::SubnetGroup,
    rds::parameter_group::DB_CLUSTER_PARAMETER_GROUP => rds::parameter_group::ParameterGroup,
    rds::cluster::DB_CLUSTER => rds::cluster::Cluster,
    rds::instance::DB_INSTANCE => rds::instance::Instance,
    rds::role_association::CLUSTER_ROLE_ASSOCIATION => rds::role_association::RoleAssociation,
    codebuild::PROJECT => codebuild::CodeBuildProject,
    directory::MICROSOFT_AD => directory::MicrosoftAd,
    glue::DATABASE => glue::Database,
    glue::CRAWLER => glue::Crawler,
    glue::JOB => glue::Job,
    glue_table::TABLE => glue_table::Table,
    ssm_document::DOCUMENT => ssm_document::Document,
    ssm_association::ASSOCIATION => ssm_association::Association,
}

/// Every AWS resource kind's schema.
pub fn schemas() -> impl Iterator<Item = &'static Schema> {
    KINDS.iter().map(|k| k.schema)
}

/// The registry of AWS schemas: enough to validate and graph blueprints
/// without credentials.
pub fn registry() -> Registry {
    Registry::new(schemas()).with_prices(prices::table)
}

/// The implemented AWS kinds, talking through `clients`.
pub fn kinds(clients: &Clients) -> Vec<Arc<dyn ResourceKind>> {
    KINDS.iter().map(|k| (k.make)(clients)).collect()
}

/// The availability zones of the client's region, in name order.
pub async fn availability_zones(clients: &Clients) -> Result<Vec<String>> {
    let available = ec2::common::filter("state", ["available".to_string()]);
    let out = send!(clients.ec2.describe_availability_zones().filters(available))?;
    let mut zones: Vec<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones)
}
