//! Helpers shared by the EC2 kinds: errors, tags, filters, property access.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use crate::aws::prelude::*;
use crate::provider::TAG_STACK;

/// The filter that finds every resource of a stack.
pub fn stack_filter(ctx: &Context) -> Filter {
    Filter::builder().name(format!("tag:{TAG_STACK}")).values(ctx.stack.clone()).build()
}

pub fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder().name(name).set_values(Some(values.into_iter().collect())).build()
}

/// Tags for a new resource: the system tags, `Name` and the user's, set
/// in the create call itself (a crash between a create and a separate
/// tagging call would orphan the resource).
pub fn tag_spec(
    rt: ResourceType,
    ctx: &Context,
    logical_id: &str,
    props: &Props,
) -> TagSpecification {
    let mut b = TagSpecification::builder().resource_type(rt);
    for (k, v) in desired_tags(props) {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    for (k, v) in ctx.system_tags(logical_id) {
        b = b.tags(Tag::builder().key(k).value(v).build());
    }
    b.build()
}

/// Splits live tags into the user-visible `tags` (everything but
/// `archkit:*`) and the logical id, which is returned only when the
/// resource belongs to this stack: a tag filter the API (or an emulator:
/// moto ignores it on DescribeNatGateways) did not apply must never make
/// another stack's resource look like ours.
pub fn read_tags(ctx: &Context, tags: &[Tag]) -> (Value, Logical) {
    crate::aws::values::split_tags(ctx, tags.iter().filter_map(|t| Some((t.key()?, t.value()?))))
}

/// Brings a resource's tags from `old` to `new` (`tags` property only).
pub async fn sync_tags(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    old: &Props,
    new: &Props,
) -> Result<()> {
    fn tag(k: &str, v: Option<&str>) -> Tag {
        Tag::builder().key(k).set_value(v.map(str::to_string)).build()
    }
    sync_tags_with(
        old,
        new,
        |keys| async move {
            let tags = keys.iter().map(|k| tag(k, None)).collect();
            send!(ec2.delete_tags().resources(id).set_tags(Some(tags)))
        },
        |set| async move {
            let tags = set.iter().map(|(k, v)| tag(k, Some(v))).collect();
            send!(ec2.create_tags().resources(id).set_tags(Some(tags)))
        },
    )
    .await
}

/// An EC2 item that carries an id and tags, and the Describe call that
/// lists items of its type.
pub trait Item: Sized + Send + Sync {
    /// The Describe filter naming the item's id (`subnet-id`).
    const ID_FILTER: &'static str;
    fn id(&self) -> Option<&str>;
    fn tags(&self) -> &[Tag];
    fn describe(
        ec2: &aws_sdk_ec2::Client,
        filter: Filter,
    ) -> impl std::future::Future<Output = Result<Vec<Self>>> + Send;
}

/// Declares [`Item`] for SDK types: `Type(id_method, "id-filter",
/// describe_call, filter_setter, output_field)`. A kind file may declare
/// its own types with it.
macro_rules! items {
    ($($ty:ident($id:ident, $filter:literal, $call:ident, $set:ident, $field:ident)),* $(,)?) => {$(
        impl $crate::aws::ec2::common::Item for aws_sdk_ec2::types::$ty {
            const ID_FILTER: &'static str = $filter;
            fn id(&self) -> Option<&str> {
                self.$id()
            }
            fn tags(&self) -> &[aws_sdk_ec2::types::Tag] {
                self.tags()
            }
            async fn describe(
                ec2: &aws_sdk_ec2::Client,
                filter: aws_sdk_ec2::types::Filter,
            ) -> $crate::provider::Result<Vec<Self>> {
                Ok(send!(ec2.$call().$set(filter))?.$field.unwrap_or_default())
            }
        }
    )*};
}
pub(crate) use items;

items! {
    Vpc(vpc_id, "vpc-id", describe_vpcs, filters, vpcs),
    Subnet(subnet_id, "subnet-id", describe_subnets, filters, subnets),
    InternetGateway(internet_gateway_id, "internet-gateway-id", describe_internet_gateways, filters, internet_gateways),
    Address(allocation_id, "allocation-id", describe_addresses, filters, addresses),
    NatGateway(nat_gateway_id, "nat-gateway-id", describe_nat_gateways, filter, nat_gateways),
    RouteTable(route_table_id, "route-table-id", describe_route_tables, filters, route_tables),
    SecurityGroup(group_id, "group-id", describe_security_groups, filters, security_groups),
    VpcEndpoint(vpc_endpoint_id, "vpc-endpoint-id", describe_vpc_endpoints, filters, vpc_endpoints),
    SecurityGroupRule(security_group_rule_id, "security-group-rule-id", describe_security_group_rules, filters, security_group_rules),
}

/// The stack's items of type `T` (tagged with it): one Describe call per
/// refresh, shared by the kinds that read them (route tables for tables,
/// routes and associations; gateways for gateways and attachments).
pub async fn stack_items<T: Item + Clone + 'static>(c: &Clients, ctx: &Context) -> Result<Vec<T>> {
    let key = format!("ec2:{}:{}", T::ID_FILTER, ctx.stack);
    let items = c.reads.shared(&key, || T::describe(&c.ec2, stack_filter(ctx))).await?;
    Ok(items.as_ref().clone())
}

/// The stack's items of type `T` plus those of `ids` that are not tagged
/// with it (tags removed outside archkit), read by id only when some are
/// missing: steady state is one call per kind, whatever the number of
/// resources.
pub async fn stack_or_known<T: Item + Clone + 'static>(
    c: &Clients,
    ctx: &Context,
    ids: impl IntoIterator<Item = String>,
) -> Result<Vec<T>> {
    let mut found = stack_items::<T>(c, ctx).await?;
    let mut missing: Vec<String> =
        ids.into_iter().filter(|id| !found.iter().any(|x| x.id() == Some(id))).collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        found.extend(T::describe(&c.ec2, filter(T::ID_FILTER, missing)).await?);
    }
    Ok(found)
}

/// The stack's items of type `T` (tagged, or recorded in state), each
/// observed with its user tags, its logical id and what `observe` reads
/// of it (its properties but `tags`, and its attributes; `None` skips an
/// item, such as a deleted NAT gateway AWS still lists).
pub async fn read_tagged<T: Item + Clone + 'static>(
    c: &Clients,
    ctx: &Context,
    q: &crate::provider::ReadQuery,
    observe: impl Fn(&T) -> Option<(Props, Attrs)>,
) -> Result<Vec<Observed>> {
    let found = stack_or_known::<T>(c, ctx, q.known.iter().map(|(id, _)| id.clone())).await?;
    Ok(found
        .iter()
        .filter_map(|item| {
            let (mut props, attrs) = observe(item)?;
            let (tags, logical_id) = read_tags(ctx, item.tags());
            props.insert("tags".into(), tags);
            Some(Observed::new(item.id()?, logical_id, props).with(attrs))
        })
        .collect())
}

/// How long AWS may keep a deleted Lambda function's network interfaces
/// (its docs and Terraform's wait both say up to 45 minutes).
pub const LAMBDA_ENI_RELEASE: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// Deletes a security group or subnet (`name` is the interfaces' filter:
/// `group-id` or `subnet-id`) that a deleted Lambda function's network
/// interfaces may still hold. The interfaces are AWS's ("AWS Lambda VPC
/// ENI-…"), released in its own time after the function is gone; the
/// dependency graph cannot order what it never created.
///
/// The delete is tried first and the interfaces looked for only when AWS
/// refuses it (DependencyViolation), so the common delete costs one call,
/// not two. An id found held is remembered: its next attempt releases the
/// interfaces before deleting. moto deletes a group or subnet still in use,
/// so its tests have the fault proxy refuse the first delete as AWS does.
pub async fn delete_held_by_lambda<F, Fut>(
    c: &Clients,
    name: &str,
    id: &str,
    delete: F,
) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    if c.lambda_held.holds(id) {
        release_lambda_enis(c, name, id).await?;
        return delete().await;
    }
    match delete().await {
        Err(e)
            if matches!(e.code.as_deref(), Some("DependencyViolation" | "InvalidGroup.InUse")) =>
        {
            release_lambda_enis(c, name, id).await?;
            // Released what was detached, or the dependency is not a
            // function's (the engine retries that one as before).
            delete().await
        }
        r => r,
    }
}

/// Deletes the interfaces of a deleted Lambda function that hold a
/// security group or subnet and that AWS has detached; while any is still
/// in use returns a retryable error (for up to 45 minutes) that says what
/// is waited for, and remembers `id` as held.
async fn release_lambda_enis(c: &Clients, name: &str, id: &str) -> Result<()> {
    let enis = send!(
        c.ec2
            .describe_network_interfaces()
            .filters(filter(name, [id.to_string()]))
            .filters(filter("description", ["AWS Lambda VPC ENI*".to_string()]))
    )?;
    let mut held = Vec::new();
    for eni in enis.network_interfaces() {
        let eni_id = eni.network_interface_id().unwrap_or_default();
        if eni.status().map(|s| s.as_str()) == Some("available") {
            match send!(c.ec2.delete_network_interface().network_interface_id(eni_id)) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        } else {
            held.push(eni_id.to_string());
        }
    }
    c.lambda_held.set(id, !held.is_empty());
    if held.is_empty() {
        return Ok(());
    }
    let mut e = ProviderError::new(format!(
        "{} network interface(s) of a deleted Lambda function ({}) still use it: AWS releases \
         them up to 45 minutes after the function is deleted",
        held.len(),
        held.join(", ")
    ))
    .retry_within(LAMBDA_ENI_RELEASE);
    e.code = Some("LambdaNetworkInterfacesInUse".into());
    Err(e)
}
