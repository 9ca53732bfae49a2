//! Helpers shared by the load-balancing kinds: names, tags, ownership.

use crate::aws::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum, Tag,
};

pub(crate) const NAME_MAX: usize = 32;

pub(crate) const PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP"];

/// The names AWS derives for this stack start with this.
pub(crate) fn name_prefix(stack: &str) -> String {
    let p = unique_name(stack, "", usize::MAX);
    p[..p.len().min(NAME_MAX - 7)].to_string()
}

/// The name to create with: the blueprint's, or one derived from the stack,
/// the logical id and a digest of the properties that force a
/// replacement. The digest lets a replacement be created before the old
/// resource is deleted (its name differs), so a changed target-group port
/// moves the service to the new group without an outage. An explicit
/// name cannot be replaced that way: AWS refuses the duplicate.
pub(crate) fn name_of(ctx: &Context, logical_id: &str, p: &Props, immutable: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    if let Some(n) = s(p, "name") {
        return n;
    }
    let mut h = Sha256::new();
    for k in immutable {
        h.update(p.get(*k).map(Value::to_string).unwrap_or_default().as_bytes());
        h.update(b"\0");
    }
    let digest = hex::encode(h.finalize());
    unique_name(&ctx.stack, &format!("{logical_id}-{}", &digest[..4]), NAME_MAX)
}

/// A replacement keeps its name only when the blueprint gives one: a
/// derived name ([`name_of`]) changes with the properties that force the
/// replacement, so the new object can be made first.
pub(crate) fn explicit_name_kept(sides: &Sides) -> bool {
    sides.after("name").is_some() && sides.kept("name")
}

pub(crate) fn tags(ctx: &Context, logical_id: &str, p: &Props) -> Vec<Tag> {
    create_tags(ctx, logical_id, p)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags of many ARNs, 20 per call (the API's limit). During a refresh,
/// the ARNs of the stack's load balancers, target groups, listeners and
/// rules are all asked in one batch ([`stack_tags`]), which the four kinds
/// share; only ARNs it does not cover are asked on their own.
pub(crate) async fn tags_of(
    c: &Clients,
    ctx: &Context,
    arns: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Vec<(String, String)>>> {
    let mut arns: Vec<String> = arns.into_iter().collect();
    arns.sort();
    arns.dedup();
    let mut out = HashMap::new();
    if c.reads.sharing() {
        let batch = stack_tags(c, ctx).await?;
        arns.retain(|arn| match batch.get(arn) {
            Some(tags) => {
                out.insert(arn.clone(), tags.clone());
                false
            }
            None => true,
        });
    }
    if !arns.is_empty() {
        out.extend(tags_now(c, &arns).await?);
    }
    Ok(out)
}

/// The tags of everything named with the stack's prefix, in one batch:
/// its load balancers and target groups, and the listeners and rules of
/// those load balancers. Listing them first costs two round trips
/// (listeners, then rules) and saves one DescribeTags per kind.
async fn stack_tags(
    c: &Clients,
    ctx: &Context,
) -> Result<Arc<HashMap<String, Vec<(String, String)>>>> {
    c.reads
        .shared("elb:stack-tags", || async {
            // Named with the stack's prefix: the candidates of every kind's
            // read (state's own records have its names too).
            let none = ReadQuery::default();
            let (lbs, tgs) = futures_util::future::try_join(all_lbs(c), all_tgs(c)).await?;
            let lbs: Vec<String> = lbs
                .iter()
                .filter(|lb| candidate(ctx, &none, lb.load_balancer_arn(), lb.load_balancer_name()))
                .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
                .collect();
            let listeners: Vec<String> = listeners_of(c, lbs.clone())
                .await?
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_string))
                .collect();
            let rules = rules_of(c, listeners.clone()).await?;
            let mut arns = lbs;
            arns.extend(
                tgs.iter()
                    .filter(|tg| {
                        candidate(ctx, &none, tg.target_group_arn(), tg.target_group_name())
                    })
                    .filter_map(|tg| tg.target_group_arn().map(str::to_string)),
            );
            arns.extend(listeners);
            arns.extend(rules.iter().filter_map(|(_, r)| r.rule_arn().map(str::to_string)));
            tags_now(c, &arns).await
        })
        .await
}

/// The account's target groups, listed once per refresh.
pub(crate) async fn all_tgs(
    c: &Clients,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup>> {
    let all = c
        .reads
        .shared("elb:DescribeTargetGroups", || async { paginate!(c.elb.describe_target_groups()) })
        .await?;
    Ok(all.as_ref().clone())
}

/// The rules of the given listeners (default rules and gone listeners
/// left out), each with its listener, asked concurrently.
pub(crate) async fn rules_of(
    c: &Clients,
    listeners: impl IntoIterator<Item = String>,
) -> Result<Vec<(String, aws_sdk_elasticloadbalancingv2::types::Rule)>> {
    let found = per_parent(c, "DescribeRules", listeners, |l| async move {
        let r = send!(c.elb.describe_rules().listener_arn(&l))?;
        Ok(r.rules().iter().filter(|r| r.is_default() != Some(true)).cloned().collect())
    })
    .await?;
    Ok(found
        .into_iter()
        .flat_map(|(l, rules)| {
            rules.iter().map(move |r| (l.clone(), r.clone())).collect::<Vec<_>>()
        })
        .collect())
}

/// One call per parent (a load balancer's listeners, a listener's rules),
/// asked concurrently and shared while a refresh shares reads (`op` names
/// it there). A parent that is gone has none.
async fn per_parent<T, F, Fut>(
    c: &Clients,
    op: &str,
    parents: impl IntoIterator<Item = String>,
    ask: F,
) -> Result<Vec<(String, Arc<Vec<T>>)>>
where
    T: Send + Sync + 'static,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>>>,
{
    let each = parents.into_iter().map(|parent| {
        let key = format!("elb:{op}:{parent}");
        let asked = ask(parent.clone());
        async move {
            let found = c
                .reads
                .shared(&key, || async {
                    match asked.await {
                        Err(e) if e.is_not_found() => Ok(Vec::new()),
                        other => other,
                    }
                })
                .await?;
            Ok::<_, ProviderError>((parent, found))
        }
    });
    futures_util::future::try_join_all(each).await
}

async fn tags_now(c: &Clients, arns: &[String]) -> Result<HashMap<String, Vec<(String, String)>>> {
    let mut out = HashMap::new();
    for chunk in arns.chunks(20) {
        let r = send!(c.elb.describe_tags().set_resource_arns(Some(chunk.to_vec())))?;
        for d in r.tag_descriptions() {
            let Some(arn) = d.resource_arn() else {
                continue;
            };
            out.insert(
                arn.to_string(),
                d.tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// The user's tags and the logical id of a resource, from a DescribeTags
/// answer; `None` when it is neither ours nor known.
pub(crate) fn owned(
    ctx: &Context,
    q: &ReadQuery,
    arn: &str,
    tags: &HashMap<String, Vec<(String, String)>>,
) -> Option<(Value, Logical)> {
    let pairs = tags.get(arn).map(Vec::as_slice).unwrap_or_default();
    let (user, logical) = split_tags(ctx, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let known = q.known.iter().any(|(id, _)| id == arn);
    (known || !logical.unclaimed()).then_some((user, logical))
}

/// One of this stack's (or state's) load balancers or target groups, with
/// its ARN, user tags and logical id.
pub(crate) struct Owned<T> {
    pub(crate) item: T,
    pub(crate) arn: String,
    pub(crate) user: Value,
    pub(crate) logical: Logical,
}

/// Whether a listed load balancer or target group may be this stack's:
/// state records it, or its name has the stack's prefix (its tags say).
pub(crate) fn candidate(
    ctx: &Context,
    q: &ReadQuery,
    arn: Option<&str>,
    name: Option<&str>,
) -> bool {
    let arn = arn.unwrap_or_default();
    q.known.iter().any(|(id, _)| id == arn)
        || name.is_some_and(|n| n.starts_with(&name_prefix(&ctx.stack)))
}

/// `attr` of each of `arns`, asked concurrently (`None` for one that is
/// gone): the attributes of the candidates, asked beside their tags
/// rather than after them.
pub(crate) async fn attrs_of<F, Fut>(
    arns: impl IntoIterator<Item = String>,
    attr: F,
) -> Result<HashMap<String, Option<i64>>>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<i64>>>,
{
    let each = arns.into_iter().map(|arn| {
        let asked = attr(arn.clone());
        async move {
            match asked.await {
                Ok(v) => Ok((arn, v)),
                Err(e) if e.is_not_found() => Ok((arn, None)),
                Err(e) => Err(e),
            }
        }
    });
    Ok(futures_util::future::try_join_all(each).await?.into_iter().collect())
}

/// Of a listing of the account's load balancers or target groups, those
/// state records or that carry the stack's tag. Tags are asked only for
/// the ones state records or whose name has the stack's prefix.
pub(crate) async fn owned_of<T>(
    c: &Clients,
    ctx: &Context,
    q: &ReadQuery,
    all: Vec<T>,
    arn_of: fn(&T) -> Option<&str>,
    name_of: fn(&T) -> Option<&str>,
) -> Result<Vec<Owned<T>>> {
    let candidates: Vec<T> =
        all.into_iter().filter(|x| candidate(ctx, q, arn_of(x), name_of(x))).collect();
    let tags =
        tags_of(c, ctx, candidates.iter().filter_map(|x| arn_of(x).map(str::to_string))).await?;
    Ok(candidates
        .into_iter()
        .filter_map(|item| {
            let arn = arn_of(&item).unwrap_or_default().to_string();
            let (user, logical) = owned(ctx, q, &arn, &tags)?;
            Some(Owned { item, arn, user, logical })
        })
        .collect())
}

/// Brings tags from `old` to `new`.
pub(crate) async fn sync_tags(c: &Clients, arn: &str, old: &Props, new: &Props) -> Result<()> {
    let tags = |set: Vec<(String, String)>| {
        set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
    };
    tag_calls! { old, new, c.elb.remove_tags().resource_arns(arn), c.elb.add_tags().resource_arns(arn), |set| tags(set) }

    Ok(())
}

pub(crate) fn protocol(p: &Props, key: &str) -> Option<ProtocolEnum> {
    s(p, key).map(|v| ProtocolEnum::from(v.as_str()))
}

/// The account's load balancers, listed once per refresh for the
/// load-balancer, listener and rule kinds.
pub(crate) async fn all_lbs(
    c: &Clients,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>> {
    let all = c
        .reads
        .shared("elb:DescribeLoadBalancers", || async {
            paginate!(c.elb.describe_load_balancers())
        })
        .await?;
    Ok(all.as_ref().clone())
}

/// ARNs of the stack's load balancers (named with its prefix and tagged
/// with it): two calls, for finding lost listeners and rules.
pub(crate) async fn stack_lbs(c: &Clients, ctx: &Context) -> Result<Vec<String>> {
    let all = all_lbs(c).await?;
    let none = ReadQuery::default();
    Ok(owned_of(c, ctx, &none, all, |lb| lb.load_balancer_arn(), |lb| lb.load_balancer_name())
        .await?
        .into_iter()
        .map(|o| o.arn)
        .collect())
}

/// Listeners of the given load balancers (gone ones are skipped), asked
/// concurrently.
pub(crate) async fn listeners_of(
    c: &Clients,
    lbs: impl IntoIterator<Item = String>,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Listener>> {
    let found = per_parent(c, "DescribeListeners", lbs, |lb| async move {
        Ok(send!(c.elb.describe_listeners().load_balancer_arn(&lb))?.listeners().to_vec())
    })
    .await?;
    Ok(found.iter().flat_map(|(_, l)| l.iter().cloned()).collect())
}

pub(crate) fn default_action(p: &Props) -> Action {
    match s(p, "target_group_arn") {
        Some(tg) => Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(tg).build(),
        None => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(s(p, "fixed_response_status").unwrap_or_else(|| "404".into()))
                    .content_type("text/plain")
                    .build(),
            )
            .build(),
    }
}

/// The forward target of an action list, whether written as
/// `TargetGroupArn` or as a one-group `ForwardConfig`.
pub(crate) fn forward_target(actions: &[Action]) -> Option<String> {
    let a = actions.iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    a.target_group_arn()
        .or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
        })
        .map(str::to_string)
}
