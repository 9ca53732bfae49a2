//! Reading typed values out of resolved properties, shared by every AWS
//! kind.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::provider::{Logical, OtherState, Props, ProviderError, Result};

/// The `tags` property as a map.
pub fn desired_tags(props: &Props) -> BTreeMap<String, String> {
    string_map(props, "tags")
}

/// A map property (`tags`, a job's arguments, parameters) as string pairs,
/// a value that is not a string written as JSON; empty when absent.
pub fn string_map<C: FromIterator<(String, String)>>(props: &Props, key: &str) -> C {
    let Some(Value::Object(m)) = props.get(key) else {
        return std::iter::empty().collect();
    };
    m.iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect()
}

pub fn s(props: &Props, key: &str) -> Option<String> {
    props.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

pub fn b(props: &Props, key: &str) -> Option<bool> {
    props.get(key).and_then(|v| v.as_bool())
}

pub fn i(props: &Props, key: &str) -> Option<i32> {
    props.get(key).and_then(|v| v.as_i64()).map(|v| v as i32)
}

pub fn list(props: &Props, key: &str) -> Vec<String> {
    match props.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

pub fn str_value(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// Builds a property map from pairs.
pub fn props<const N: usize>(pairs: [(&str, Value); N]) -> Props {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Builds attributes from pairs.
pub fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> crate::provider::Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The `arn` attribute of a resource whose id is its ARN.
pub fn arn_attrs(arn: &str) -> crate::provider::Attrs {
    attrs([("arn", Value::String(arn.to_string()))])
}

/// Splits live tags into the user-visible `tags` (everything but
/// `archkit:*`) and whose the resource is: its logical id only when the
/// `archkit:stack` tag names this stack (a filter an API, or an emulator,
/// did not apply must never make another stack's resource look like
/// ours), and never when another state file of the stack name manages it.
pub fn split_tags<'a>(
    ctx: &crate::provider::Context,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> (Value, Logical) {
    use crate::provider::{TAG_ID, TAG_LINEAGE, TAG_STACK};
    let mut user = serde_json::Map::new();
    let (mut logical, mut stack, mut lineage) = (None, None, None);
    for (k, v) in tags {
        if k == TAG_ID {
            logical = Some(v.to_string());
        } else if k == TAG_STACK {
            stack = Some(v.to_string());
        } else if k == TAG_LINEAGE {
            lineage = Some(v.to_string());
        } else if k == crate::provider::TAG_EXPIRES
            || !(k.starts_with("archkit:") || k.starts_with("aws:"))
        {
            // `aws:*` tags are AWS's own (an instance's launch template, its
            // auto scaling group): nobody can set or remove them.
            user.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    let logical = logical.filter(|_| stack.as_deref() == Some(ctx.stack.as_str()));
    // The same stack name, managed by another state file (another person's
    // checkout). Resources from before lineage tags carry none and stay
    // this stack's.
    let theirs = lineage.filter(|l| !ctx.lineage.is_empty() && *l != ctx.lineage);
    let found = match (logical, theirs) {
        (Some(logical_id), Some(lineage)) => {
            Logical { id: None, other_state: Some(OtherState { logical_id, lineage }) }
        }
        (id, _) => Logical::from(id),
    };
    (Value::Object(user), found)
}

/// What a create found already under the name it wants, in words for
/// the error when it is not this stack's: `what` names it (`a Glue job
/// named x`), `field` is the property that picks another name, `code`
/// AWS's error code for the clash.
pub struct Clash<'a> {
    pub what: String,
    pub field: &'a str,
    pub code: &'a str,
}

impl Clash<'_> {
    /// Ok when `found`, the logical id the existing resource carries for
    /// this stack, is `logical`: a retry after a lost answer, adopted.
    /// Anyone else's is this clash, never overwritten.
    pub fn unless_ours(self, found: Option<&str>, logical: &str) -> Result<()> {
        if found == Some(logical) {
            return Ok(());
        }
        Err(self.error(logical))
    }

    /// The error for a resource that is not this stack's `logical`.
    pub fn error(self, logical: &str) -> ProviderError {
        ProviderError::new(format!(
            "{} already exists and is not this stack's `{logical}`; archkit never takes it \
             over: set another `{}`",
            self.what, self.field
        ))
        .code(self.code)
    }

    /// [`Clash::unless_ours`] by the existing resource's tags.
    pub fn unless_tagged<'t>(
        self,
        ctx: &crate::provider::Context,
        logical: &str,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> Result<()> {
        let (_, found) = split_tags(ctx, tags);
        self.unless_ours(found.id.as_deref(), logical)
    }
}

/// How a resource's user tags change between two property sets: keys to
/// remove and pairs to set (new or changed). Every service has its own tag
/// calls; this is the part they share.
#[derive(Debug, Default, PartialEq)]
pub struct TagChanges {
    pub removed: Vec<String>,
    pub set: Vec<(String, String)>,
}

impl TagChanges {
    pub fn between(old: &Props, new: &Props) -> TagChanges {
        let (was, want) = (desired_tags(old), desired_tags(new));
        TagChanges {
            removed: was.keys().filter(|k| !want.contains_key(*k)).cloned().collect(),
            set: want.into_iter().filter(|(k, v)| was.get(k) != Some(v)).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.set.is_empty()
    }
}

/// Brings a resource's user tags from `old` to `new` with a service's
/// own calls: `untag` gets the keys to remove, `tag` the pairs to set;
/// each is called only when it has something to do.
pub async fn sync_tags_with<A, B, U, T>(
    old: &Props,
    new: &Props,
    untag: impl FnOnce(Vec<String>) -> U,
    tag: impl FnOnce(Vec<(String, String)>) -> T,
) -> Result<()>
where
    U: std::future::Future<Output = Result<A>>,
    T: std::future::Future<Output = Result<B>>,
{
    let changes = TagChanges::between(old, new);
    if !changes.removed.is_empty() {
        untag(changes.removed).await?;
    }
    if !changes.set.is_empty() {
        tag(changes.set).await?;
    }
    Ok(())
}

/// The ARN a lookup found, or a not-found error naming `what` (its tags
/// cannot change if it is gone).
pub fn known_arn(arn: Option<String>, what: &str) -> Result<String> {
    arn.ok_or_else(|| {
        crate::provider::ProviderError::new(format!("{what} no longer exists")).not_found()
    })
}

/// The tags a new resource gets: the user's, `Name`, and the system tags.
pub fn create_tags(
    ctx: &crate::provider::Context,
    logical_id: &str,
    p: &Props,
) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = desired_tags(p).into_iter().collect();
    tags.extend(ctx.system_tags(logical_id));
    tags
}

/// A name for resources whose names AWS requires to be unique per account
/// and region (load balancers, target groups, clusters): `<stack>-<id>`
/// with every character outside `[A-Za-z0-9-]` turned into `-`, and, when
/// longer than `max`, cut and suffixed with a digest of the full name so
/// two long names stay distinct. Deterministic, so a lost create is found
/// again by name.
pub fn unique_name(stack: &str, id: &str, max: usize) -> String {
    use sha2::{Digest, Sha256};
    let full = format!("{stack}-{id}");
    let mut clean: String =
        full.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    if clean.len() > max {
        let digest = hex::encode(Sha256::digest(full.as_bytes()));
        clean.truncate(max - 7);
        clean = format!("{}-{}", clean.trim_end_matches('-'), &digest[..6]);
    }
    // Names may not start or end with a hyphen, nor start with `internal-`.
    let clean = clean.trim_matches('-').to_string();
    if clean.starts_with("internal-") {
        format!("a{}", &clean[..clean.len().min(max - 1)])
    } else {
        clean
    }
}

/// Sorts the string lists named in `keys`: sets the API returns in any
/// order (subnets, security groups).
pub fn sort_sets(p: &mut Props, keys: &[&str]) {
    for k in keys {
        if let Some(Value::Array(a)) = p.get_mut(*k) {
            a.sort_by_key(|x| x.to_string());
        }
    }
}

/// Whether the string set under `key` differs between `old` and `new`,
/// whatever the order the API or the blueprint lists it in.
pub fn set_changed(old: &Props, new: &Props, key: &str) -> bool {
    let sorted = |p: &Props| {
        let mut v = list(p, key);
        v.sort();
        v
    };
    sorted(old) != sorted(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_compare_without_order() {
        let p = |v: Value| -> Props { [("sg".to_string(), v)].into_iter().collect() };
        let (a, b) = (p(serde_json::json!(["b", "a"])), p(serde_json::json!(["a", "b"])));
        assert!(!set_changed(&a, &b, "sg"));
        assert!(set_changed(&a, &p(serde_json::json!(["a"])), "sg"));
    }

    /// Whose a resource is, from its tags: this state's, another state's
    /// of the same stack name (reported, never taken), another stack's or
    /// none (unclaimed); a state without lineage (discovery) takes all of
    /// the stack's.
    #[test]
    fn tags_say_whose_a_resource_is() {
        use crate::provider::{Context, TAG_ID, TAG_LINEAGE, TAG_STACK};
        let mut ctx = Context::new("dev");
        ctx.lineage = "mine".into();
        let tags = |stack: &'static str, lineage: &'static str| {
            [(TAG_STACK, stack), (TAG_ID, "web"), (TAG_LINEAGE, lineage), ("team", "a")]
        };
        let (user, ours) = split_tags(&ctx, tags("dev", "mine"));
        assert_eq!(user, serde_json::json!({"team": "a"}));
        assert_eq!(ours, Logical::from(Some("web".to_string())));
        let (_, theirs) = split_tags(&ctx, tags("dev", "yours"));
        let other = OtherState { logical_id: "web".into(), lineage: "yours".into() };
        assert_eq!(theirs, Logical { id: None, other_state: Some(other) });
        assert!(!theirs.unclaimed());
        let (_, elsewhere) = split_tags(&ctx, tags("prod", "yours"));
        assert!(elsewhere.unclaimed());
        assert!(split_tags(&ctx, [("team", "a")]).1.unclaimed());
        ctx.lineage.clear();
        assert_eq!(split_tags(&ctx, tags("dev", "yours")).1.id.as_deref(), Some("web"));
    }

    #[test]
    fn unique_names_fit_and_stay_distinct() {
        assert_eq!(unique_name("dev", "web", 32), "dev-web");
        assert_eq!(unique_name("a_b", "c.d", 32), "a-b-c-d");
        let a = unique_name("a-very-long-stack-name-indeed", "public_load_balancer", 32);
        let b = unique_name("a-very-long-stack-name-indeed", "public_load_balancer2", 32);
        assert!(a.len() <= 32 && b.len() <= 32, "{a} {b}");
        assert_ne!(a, b);
        assert!(!unique_name("internal", "x", 32).starts_with("internal-"));
        assert!(!unique_name("-x", "y-", 32).starts_with('-'));
    }
}
