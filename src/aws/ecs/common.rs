//! Helpers shared by the ECS kinds: tags, not-found, ARN names.

use crate::aws::prelude::*;
use aws_sdk_ecs::types::Tag;

pub(crate) const NAME_MAX: usize = 255;

pub(crate) fn tags(ctx: &Context, logical_id: &str, p: &Props) -> Vec<Tag> {
    create_tags(ctx, logical_id, p)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn ecs_tags(t: &[Tag]) -> Vec<(&str, &str)> {
    t.iter().filter_map(|t| Some((t.key()?, t.value()?))).collect()
}

pub(crate) async fn sync_tags(c: &Clients, arn: &str, old: &Props, new: &Props) -> Result<()> {
    let tags = |set: Vec<(String, String)>| {
        set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
    };
    tag_calls! { old, new, c.ecs.untag_resource().resource_arn(arn), c.ecs.tag_resource().resource_arn(arn), |set| tags(set) }

    Ok(())
}

/// A service already deleted (`ServiceNotActiveException`) is as good as
/// gone; the other not-found codes are mapped by [`err`].
pub(crate) fn not_found(mut e: ProviderError) -> ProviderError {
    if e.code.as_deref() == Some("ServiceNotActiveException") {
        e.kind = crate::provider::ErrorKind::NotFound;
    }
    e
}

/// The last path segment of an ARN (`…:cluster/name` → `name`).
pub(crate) fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
