//! `aws.elbv2.listener_rule`: a path or host condition forwarding to a target group.

use crate::aws::prelude::*;
use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::RuleCondition;

use super::common::*;

pub static LISTENER_RULE: Schema = Schema::new(
    "aws.elbv2.listener_rule",
    "A listener rule: requests matching its conditions go to a target group.",
)
.properties(rows! {
    Prop::new("listener_arn", Type::String, "The listener.").required().replace(),
    Prop::new("priority", Type::Int, "Evaluation order (1-50000, unique per listener).").range(1, 50000).required(),
    Prop::new("path_patterns", Type::List(&Type::String), "Match these URL paths (`*` wildcards)."),
    Prop::new("host_headers", Type::List(&Type::String), "Match these host names."),
    Prop::new("target_group_arn", Type::String, "Forward matches here.").required(),
})
.attributes(rows! {
    Attr::new("arn", Type::String, "The rule's ARN."),
})
.notes("At least one of `path_patterns` and `host_headers`.")
.free()
.replacement(Replacement::DeleteFirstIfKept(
    &["listener_arn"],
    "a listener takes one rule per priority",
));

kind! { ListenerRule, LISTENER_RULE }

fn conditions(p: &Props) -> Vec<RuleCondition> {
    let mut out = Vec::new();
    for (key, field) in [("path_patterns", "path-pattern"), ("host_headers", "host-header")] {
        let values = list(p, key);
        if !values.is_empty() {
            out.push(RuleCondition::builder().field(field).set_values(Some(values)).build());
        }
    }
    out
}

fn condition_values(c: &[RuleCondition], field: &str) -> Value {
    let values: Vec<String> = c
        .iter()
        .filter(|c| c.field() == Some(field))
        .flat_map(|c| {
            let v = c.values();
            if v.is_empty() {
                match field {
                    "path-pattern" => {
                        c.path_pattern_config().map(|x| x.values().to_vec()).unwrap_or_default()
                    }
                    _ => c.host_header_config().map(|x| x.values().to_vec()).unwrap_or_default(),
                }
            } else {
                v.to_vec()
            }
        })
        .collect();
    if values.is_empty() { Value::Null } else { json!(values) }
}

#[async_trait]
impl ResourceKind for ListenerRule {
    /// The stack's load balancers, their listeners, the listeners' rules, then the rules' tags.
    fn read_rounds(&self) -> usize {
        4
    }

    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let mut listeners: BTreeSet<String> =
            q.known.iter().filter_map(|(_, p)| s(p, "listener_arn")).collect();
        if q.discover {
            let lbs = stack_lbs(&self.0, ctx).await?;
            listeners.extend(
                listeners_of(&self.0, lbs)
                    .await?
                    .iter()
                    .filter_map(|l| l.listener_arn().map(str::to_string)),
            );
        }
        let found = rules_of(&self.0, listeners).await?;
        let tags = tags_of(
            &self.0,
            ctx,
            found.iter().filter_map(|(_, r)| r.rule_arn().map(str::to_string)),
        )
        .await?;
        let mut out = Vec::new();
        for (listener, r) in found {
            let arn = r.rule_arn().unwrap_or_default().to_string();
            let Some((user, logical)) = owned(ctx, q, &arn, &tags) else {
                continue;
            };
            let p = props([
                ("listener_arn", json!(listener)),
                ("priority", json!(r.priority().and_then(|v| v.parse::<i64>().ok()))),
                ("path_patterns", condition_values(r.conditions(), "path-pattern")),
                ("host_headers", condition_values(r.conditions(), "host-header")),
                ("target_group_arn", json!(forward_target(r.actions()))),
                ("tags", user),
            ]);
            out.push(Observed::new(arn.clone(), logical, p).with(arn_attrs(&arn)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let r = send!(
            self.0
                .elb
                .create_rule()
                .listener_arn(s(p, "listener_arn").unwrap_or_default())
                .priority(i(p, "priority").unwrap_or(1))
                .set_conditions(Some(conditions(p)))
                .actions(default_action(p))
                .set_tags(Some(tags(ctx, &req.logical_id, p)))
        )?;
        let arn = created_id(r.rules().first().and_then(|r| r.rule_arn()), self.schema().kind)?;
        Ok(Created::new(arn.clone()).with(arn_attrs(&arn)))
    }

    async fn update(&self, _ctx: &Context, arn: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let elb = &self.0.elb;
        if ["path_patterns", "host_headers", "target_group_arn"]
            .iter()
            .any(|k| old.get(*k) != new.get(*k))
        {
            send!(
                elb.modify_rule()
                    .rule_arn(arn)
                    .set_conditions(Some(conditions(new)))
                    .actions(default_action(new))
            )?;
        }
        if i(old, "priority") != i(new, "priority") {
            send!(
                elb.set_rule_priorities().rule_priorities(
                    aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                        .rule_arn(arn)
                        .priority(i(new, "priority").unwrap_or(1))
                        .build(),
                )
            )?;
        }
        sync_tags(&self.0, arn, old, new).await?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, arn: &str, _p: &Props) -> Result<()> {
        send!(self.0.elb.delete_rule().rule_arn(arn))?;
        Ok(())
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        if conditions(p).is_empty() {
            return Err(Refusal::new(
                "a listener rule needs at least one condition".into(),
                "set `path_patterns` (e.g. [\"/*\"]) or `host_headers`".into(),
            ));
        }
        Ok(())
    }
}
