//! `aws.iam.instance_profile`: the instance profile that gives EC2
//! instances a role.
//!
//! Profiles live under the stack's path `/archkit/<stack>/`, as roles do,
//! so one ListInstanceProfiles call finds them. That call returns no tags,
//! so each profile found is read with GetInstanceProfile (a stack has one
//! or two). The role is removed before the profile is deleted (IAM
//! refuses otherwise, DeleteConflict) and the profile is deleted before
//! its role, which it refers to.

use crate::aws::prelude::*;
use aws_sdk_iam::types::{InstanceProfile as Profile, Tag};

pub static INSTANCE_PROFILE: Schema = Schema::new("aws.iam.instance_profile", "An IAM instance profile: the role EC2 instances run as.")
    .properties(rows! {
        Prop::new("name", Type::String, "The profile name; `<stack>-<id>` when omitted (128 characters at most).").replace(),
        Prop::new("role", Type::String, "The role's name (one role per profile).").required(),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The profile's ARN."),
    })
    .notes("Created under the path `/archkit/<stack>/`. A new role replaces the old one in place (removed, then added).")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "profile names are unique in an account"));

kind! {
    /// The instance profile kind; its id is the profile name.
    InstanceProfile, INSTANCE_PROFILE
}

fn path(stack: &str) -> String {
    format!("/archkit/{stack}/")
}

fn observe(ctx: &Context, p: &Profile) -> Observed {
    let (tags, logical_id) = split_tags(ctx, p.tags().iter().map(|t| (t.key(), t.value())));
    let props = props([
        ("name", json!(p.instance_profile_name())),
        ("role", str_value(p.roles().first().map(|r| r.role_name()))),
        ("tags", tags),
    ]);
    let attrs = attrs([("arn", json!(p.arn())), ("name", json!(p.instance_profile_name()))]);
    Observed::new(p.instance_profile_name(), logical_id, props).with(attrs)
}

impl InstanceProfile {
    async fn get(&self, name: &str) -> Result<Option<Profile>> {
        Ok(send!(self.0.iam.get_instance_profile().instance_profile_name(name))
            .found()?
            .and_then(|out| out.instance_profile))
    }
}

#[async_trait]
impl ResourceKind for InstanceProfile {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let ours = path(&ctx.stack);
        let listed: Vec<Profile> =
            paginate!(self.0.iam.list_instance_profiles().path_prefix(&ours))?;
        // moto ignores the prefix and lists every profile.
        let mut names: Vec<String> = listed
            .iter()
            .filter(|p| p.path() == ours)
            .map(|p| p.instance_profile_name().to_string())
            .collect();
        for (id, _) in &q.known {
            if !names.contains(id) {
                names.push(id.clone());
            }
        }
        let reads = names.iter().map(|n| self.get(n));
        let found = futures_util::future::try_join_all(reads).await?;
        Ok(found.iter().flatten().map(|p| observe(ctx, p)).collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_else(|| {
            format!("{}-{}", ctx.stack, req.logical_id).chars().take(128).collect()
        });
        let tags: Vec<Tag> = create_tags(ctx, &req.logical_id, p)
            .into_iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let iam = &self.0.iam;
        let made = send!(
            iam.create_instance_profile()
                .instance_profile_name(&name)
                .path(path(&ctx.stack))
                .set_tags(Some(tags))
        );
        let arn = match made {
            Ok(out) => out.instance_profile().map(|p| p.arn().to_string()),
            // Made by this run before its answer was lost: adopted when it
            // carries this resource's own tags.
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                let existing = self.get(&name).await?;
                let ours = existing.as_ref().is_some_and(|x| {
                    observe(ctx, x).logical_id.as_deref() == Some(req.logical_id.as_str())
                });
                if !ours {
                    return Err(e);
                }
                existing.map(|x| x.arn().to_string())
            }
            Err(e) => return Err(e),
        };
        let live = self.get(&name).await.partial(&name)?;
        let has_role = live.as_ref().is_some_and(|x| !x.roles().is_empty());
        if let (false, Some(role)) = (has_role, s(p, "role")) {
            send!(iam.add_role_to_instance_profile().instance_profile_name(&name).role_name(role))
                .partial(&name)?;
        }
        Ok(Created::new(name.clone()).with(attrs([("arn", json!(arn)), ("name", json!(name))])))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let iam = &self.0.iam;
        if old.get("role") != new.get("role") {
            // Only roles the profile holds are removed: moto fails (500) on
            // removing one it does not hold.
            let live = self.get(id).await?;
            for r in live.iter().flat_map(|p| p.roles()) {
                send!(
                    iam.remove_role_from_instance_profile()
                        .instance_profile_name(id)
                        .role_name(r.role_name())
                )?;
            }
            if let Some(role) = s(new, "role") {
                send!(
                    iam.add_role_to_instance_profile().instance_profile_name(id).role_name(role)
                )?;
            }
        }
        let tags = |set: Vec<(String, String)>| {
            set.into_iter()
                .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
                .collect()
        };
        tag_calls! {
            old, new,
            iam.untag_instance_profile().instance_profile_name(id),
            iam.tag_instance_profile().instance_profile_name(id),
            |set| tags(set)
        }
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let iam = &self.0.iam;
        let Some(live) = self.get(id).await? else { return Ok(()) };
        for r in live.roles() {
            send!(
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(id)
                    .role_name(r.role_name())
            )?;
        }
        send!(iam.delete_instance_profile().instance_profile_name(id))?;
        Ok(())
    }
}
