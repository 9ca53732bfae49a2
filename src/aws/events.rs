//! `aws.events.rule`: an EventBridge rule on a schedule, with its targets.
//!
//! The physical id is the rule name (derived from the stack when omitted).
//! A read lists the stack's rules by name prefix (one call), then reads
//! each rule's targets and tags. Deleting removes the targets first:
//! EventBridge refuses to delete a rule that still has some.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::BTreeSet;

use aws_sdk_eventbridge::types::{RuleState, Tag, Target};

const NAME_MAX: usize = 64;

static TARGET: &[Prop] = rows! {

    Prop::new("id", Type::String, "The target's id within the rule.").required(),

    Prop::new("arn", Type::String, "What to invoke (a function ARN).").required(),

};

pub static RULE: Schema = Schema::new("aws.events.rule", "An EventBridge rule that fires on a schedule and invokes its targets.")
    .properties(rows! {
        Prop::new("name", Type::String, "The rule name; derived from the stack and id when omitted.").replace(),
        Prop::new("schedule_expression", Type::String, "`rate(5 minutes)` or `cron(...)`.").required(),
        Prop::new("description", Type::String, "What the rule is for."),
        Prop::new("enabled", Type::Bool, "Whether the rule fires.").default(Default::Bool(true)),
        Prop::new("targets", Type::List(&Type::Object(TARGET)), "What the rule invokes."),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The rule's ARN."),
    })
    .notes("`schedule_expression` is checked: `rate(1 minute)`, `rate(5 minutes)`, `cron(...)`.")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "rule names are unique on an event bus"));

kind! { Rule, RULE }

fn targets(p: &Props) -> Vec<(String, String)> {
    match p.get("targets") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| Some((s(t.as_object()?, "id")?, s(t.as_object()?, "arn")?)))
            .collect(),
        _ => Vec::new(),
    }
}

/// `rate(1 minutes)` is refused by AWS (moto accepts it): the unit must
/// agree with the number.
pub fn check_schedule(expr: &str) -> Result<(), Refusal> {
    let help = "write `rate(1 minute)`, `rate(5 minutes)`, or `cron(0 12 * * ? *)`";
    if expr.starts_with("cron(") && expr.ends_with(')') {
        return Ok(());
    }
    let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) else {
        return Err(Refusal::new(format!("`{expr}` is not a schedule expression"), help.into()));
    };
    let mut parts = inner.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Refusal::new(format!("`{expr}` is not a rate"), help.into()));
    };
    let Ok(n) = n.parse::<u64>() else {
        return Err(Refusal::new(format!("`{n}` in `{expr}` is not a whole number"), help.into()));
    };
    let singular = ["minute", "hour", "day"];
    let ok = match n {
        0 => false,
        1 => singular.contains(&unit),
        _ => singular.iter().any(|s| unit.strip_suffix('s') == Some(s)),
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(format!("`{expr}` is not a valid rate"), help.into()))
    }
}

impl Rule {
    async fn put_rule(&self, name: &str, p: &Props, tags: Option<Vec<Tag>>) -> Result<String> {
        let r = send!(
            self.0
                .events
                .put_rule()
                .name(name)
                .set_schedule_expression(s(p, "schedule_expression"))
                .set_description(s(p, "description"))
                .state(if p.get("enabled") == Some(&Value::Bool(false)) {
                    RuleState::Disabled
                } else {
                    RuleState::Enabled
                })
                .set_tags(tags)
        )?;
        Ok(r.rule_arn().unwrap_or_default().to_string())
    }

    async fn put_targets(&self, name: &str, t: &[(String, String)]) -> Result<()> {
        if t.is_empty() {
            return Ok(());
        }
        let targets = t
            .iter()
            .map(|(id, arn)| Target::builder().id(id).arn(arn).build().expect("id and arn set"))
            .collect();
        let r = send!(self.0.events.put_targets().rule(name).set_targets(Some(targets)))?;
        if r.failed_entry_count() > 0 {
            return Err(ProviderError::new(format!(
                "EventBridge refused a target: {}",
                r.failed_entries()
                    .first()
                    .and_then(|e| e.error_message())
                    .unwrap_or("no reason given")
            )));
        }
        Ok(())
    }

    async fn remove_targets(&self, name: &str, ids: Vec<String>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        send!(self.0.events.remove_targets().rule(name).set_ids(Some(ids)))?;
        Ok(())
    }

    async fn live_target_ids(&self, name: &str) -> Result<Vec<String>> {
        let r = send!(self.0.events.list_targets_by_rule().rule(name))?;
        Ok(r.targets().iter().map(|t| t.id().to_string()).collect())
    }
}

#[async_trait]
impl ResourceKind for Rule {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let known: BTreeSet<&str> = q.known.iter().map(|(id, _)| id.as_str()).collect();
        let mut rules = Vec::new();
        let mut prefixes: BTreeSet<String> = [prefix].into();
        prefixes.extend(known.iter().map(|k| k.to_string()));
        let mut seen = BTreeSet::new();
        for p in prefixes {
            let mut token = None;
            loop {
                let page = send!(
                    self.0.events.list_rules().name_prefix(&p).set_next_token(token.clone())
                )?;
                for r in page.rules() {
                    if seen.insert(r.name().unwrap_or_default().to_string()) {
                        rules.push(r.clone());
                    }
                }
                match page.next_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
        }
        let mut out = Vec::new();
        for r in rules {
            let name = r.name().unwrap_or_default().to_string();
            let arn = r.arn().unwrap_or_default().to_string();
            let tags = send!(self.0.events.list_tags_for_resource().resource_arn(&arn))?;
            let (user, logical) = split_tags(ctx, tags.tags().iter().map(|t| (t.key(), t.value())));
            if logical.unclaimed() && !known.contains(name.as_str()) {
                continue;
            }
            let t = send!(self.0.events.list_targets_by_rule().rule(&name))?;
            let targets: Vec<Value> =
                t.targets().iter().map(|t| json!({"id": t.id(), "arn": t.arn()})).collect();
            let p = props([
                ("name", json!(name)),
                ("schedule_expression", json!(r.schedule_expression())),
                ("description", json!(r.description().filter(|d| !d.is_empty()))),
                ("enabled", json!(r.state() != Some(&RuleState::Disabled))),
                ("targets", if targets.is_empty() { Value::Null } else { Value::Array(targets) }),
                ("tags", user),
            ]);
            out.push(Observed::new(name, logical, p).with(attrs([("arn", json!(arn))])));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let tags = create_tags(ctx, &req.logical_id, p)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
            .collect();
        let arn = self.put_rule(&name, p, Some(tags)).await?;
        self.put_targets(&name, &targets(p)).await.partial(&name)?;
        Ok(Created::new(name).with(attrs([("arn", json!(arn))])))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let changed = |k: &str| old.get(k) != new.get(k);
        if changed("schedule_expression") || changed("description") || changed("enabled") {
            // PutRule replaces every field: an omitted description is
            // cleared, which is what the blueprint says.
            self.put_rule(name, new, None).await?;
        }
        if changed("targets") {
            let want = targets(new);
            let stale: Vec<String> = targets(old)
                .into_iter()
                .filter(|(id, _)| !want.iter().any(|(w, _)| w == id))
                .map(|(id, _)| id)
                .collect();
            self.remove_targets(name, stale).await?;
            self.put_targets(name, &want).await?;
        }
        arn_tag_calls!(
            old,
            new,
            name,
            arn = send!(self.0.events.describe_rule().name(name))?.arn().map(str::to_string),
            self.0.events.untag_resource().resource_arn(arn),
            self.0.events.tag_resource().resource_arn(arn),
            |set| set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("set"))
                .collect()
        );
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        // EventBridge refuses to delete a rule that still has targets.
        let ids = self.live_target_ids(name).await?;
        self.remove_targets(name, ids).await?;
        send!(self.0.events.delete_rule().name(name))?;
        Ok(())
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        match s(p, "schedule_expression") {
            Some(e) => check_schedule(&e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_agree_in_number() {
        assert!(check_schedule("rate(5 minutes)").is_ok());
        assert!(check_schedule("rate(1 minute)").is_ok());
        assert!(check_schedule("cron(0 12 * * ? *)").is_ok());
        assert!(check_schedule("rate(5 minute)").is_err());
        assert!(check_schedule("rate(1 minutes)").is_err());
        assert!(check_schedule("rate(0 minutes)").is_err());
        assert!(check_schedule("every 5 minutes").is_err());
    }
}
