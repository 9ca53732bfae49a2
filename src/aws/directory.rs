//! `aws.ds.microsoft_ad`: an AWS Managed Microsoft AD directory (two
//! domain controllers in two subnets of two zones).
//!
//! The physical id is the directory id (`d-…`). Creating takes 20 to 45
//! minutes and the SDK has no waiter: DescribeDirectories is polled until
//! the stage is Active, with the expected duration shown. Everything that
//! defines a directory (domain name, short name, admin password, edition,
//! network) is fixed at creation, so any change of them replaces it. The
//! admin password is sensitive: compared by digest, never read back.
//!
//! Directory Service makes its own security group (`<id>_controllers`) and
//! network interfaces in the subnets; they go only with the directory,
//! which is why it is deleted before its subnets (they depend on it) and
//! a subnet's delete waits while they linger.
//!
//! moto (5.2.5) reports Stage Active at once and deletes at once, so the
//! tests prove the calls, not the waits. DescribeDirectories has no tag
//! filter: a read lists the account's directories (one call) and reads
//! the tags of those with the stack's names or ids.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::time::Duration;

use aws_sdk_directory::types::{
    DirectoryDescription, DirectoryEdition, DirectoryStage, DirectoryVpcSettings, Tag,
};

pub static MICROSOFT_AD: Schema = Schema::new("aws.ds.microsoft_ad", "An AWS Managed Microsoft AD directory.")
    .properties(rows! {
        Prop::new("name", Type::String, "The directory's fully qualified domain name, e.g. `corp.example.com`.").required().replace(),
        Prop::new("short_name", Type::String, "Its NetBIOS name, e.g. `CORP`.").replace(),
        Prop::new("password", Type::String, "The password of the directory's `Admin` user (8 to 64 characters, three of: lower case, upper case, digits, symbols).").required().sensitive().replace(),
        Prop::new("edition", Type::Enum(&["Standard", "Enterprise"]), "Standard (up to 30,000 objects) or Enterprise.").default(Default::Str("Standard")).replace(),
        Prop::new("vpc_id", Type::String, "The VPC of its domain controllers.").required().replace(),
        Prop::new("subnet_ids", Type::List(&Type::String), "Two subnets in two availability zones, one domain controller in each.").required().replace(),
        Prop::new("description", Type::String, "What it is for.").replace(),
    })
    .attributes(rows! {
        Attr::new("id", Type::String, "The directory id, `d-…`."),
        Attr::new("name", Type::String, "Its domain name."),
        Attr::new("dns_ip_addrs", Type::List(&Type::String), "The domain controllers' DNS server addresses."),
        Attr::new("security_group_id", Type::String, "The security group Directory Service made for the controllers."),
        Attr::new("access_url", Type::String, "`<alias>.awsapps.com`."),
    })
    .notes("Creating takes 20 to 45 minutes; every property is fixed at creation (a change replaces the directory, and everything joined to it must join again). Billed per domain controller-hour from creation: a Standard directory has two.")
    .cost(directory_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "two directories of one domain name in one VPC would clash"));

kind! { MicrosoftAd, MICROSOFT_AD }

fn directory_attrs(d: &DirectoryDescription) -> Attrs {
    let vpc = d.vpc_settings();
    attrs([
        ("id", json!(d.directory_id())),
        ("name", json!(d.name())),
        ("dns_ip_addrs", json!(d.dns_ip_addrs())),
        ("security_group_id", json!(vpc.and_then(|v| v.security_group_id()))),
        ("access_url", json!(d.access_url())),
    ])
}

impl MicrosoftAd {
    async fn describe(&self, id: &str) -> Result<Option<DirectoryDescription>> {
        Ok(send!(self.0.ds.describe_directories().directory_ids(id))
            .found()?
            .and_then(|r| r.directory_descriptions().first().cloned()))
    }

    async fn tags(&self, id: &str) -> Result<Option<Vec<(String, String)>>> {
        Ok(send!(self.0.ds.list_tags_for_resource().resource_id(id)).found()?.map(|r| {
            r.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
        }))
    }

    /// Every directory of the account (DescribeDirectories pages by token
    /// and has no paginator in the SDK).
    async fn all(&self) -> Result<Vec<DirectoryDescription>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let r = send!(self.0.ds.describe_directories().set_next_token(token))?;
            out.extend(r.directory_descriptions().iter().cloned());
            token = r.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }
}

/// On its way out: a failed directory is still there (and billed) until
/// deleted, a deleting one is not the stack's any more.
fn gone(d: &DirectoryDescription) -> bool {
    matches!(d.stage(), Some(DirectoryStage::Deleting | DirectoryStage::Deleted))
}

#[async_trait]
impl ResourceKind for MicrosoftAd {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let directories: Vec<_> = self.all().await?.into_iter().filter(|d| !gone(d)).collect();
        // Tags are read for every directory (a handful per account, and
        // the only way to tell the stack's from the others), all at once.
        let reads = directories.iter().map(|d| async move {
            let id = d.directory_id().unwrap_or_default().to_string();
            let Some(tags) = self.tags(&id).await? else { return Ok(None) };
            let (user, logical) =
                split_tags(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == id) {
                return Ok(None);
            }
            let vpc = d.vpc_settings();
            let p = props([
                ("name", json!(d.name())),
                ("short_name", json!(d.short_name())),
                ("edition", json!(d.edition().map(|e| e.as_str()))),
                ("vpc_id", json!(vpc.and_then(|v| v.vpc_id()))),
                ("subnet_ids", json!(vpc.map(|v| v.subnet_ids()).unwrap_or_default())),
                ("description", json!(d.description())),
                ("tags", user),
            ]);
            Ok::<_, ProviderError>(Some(Observed::new(id, logical, p).with(directory_attrs(d))))
        });
        let observed = futures_util::future::try_join_all(reads).await?;
        Ok(observed.into_iter().flatten().collect())
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name = s(p, "name").unwrap_or_default();
        // A create whose answer was lost: the directory of this stack's id
        // and domain name exists already (DS has no client token).
        for d in self.all().await? {
            if d.name() == Some(name.as_str()) && !gone(&d) {
                let id = d.directory_id().unwrap_or_default();
                let tags = self.tags(id).await?.unwrap_or_default();
                let (_, logical) =
                    split_tags(ctx, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if logical.id.as_deref() == Some(req.logical_id.as_str()) {
                    return Ok(Created::new(id).with(directory_attrs(&d)));
                }
            }
        }
        let vpc = DirectoryVpcSettings::builder()
            .set_vpc_id(s(p, "vpc_id"))
            .set_subnet_ids(Some(list(p, "subnet_ids")))
            .build()
            .map_err(|e| ProviderError::new(e.to_string()))?;
        let tags: Vec<Tag> = create_tags(ctx, &req.logical_id, p)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set"))
            .collect();
        let r = send!(
            self.0
                .ds
                .create_microsoft_ad()
                .name(&name)
                .set_short_name(s(p, "short_name"))
                .set_password(s(p, "password"))
                .set_edition(s(p, "edition").map(|e| DirectoryEdition::from(e.as_str())))
                .vpc_settings(vpc)
                .set_description(s(p, "description"))
                .set_tags(Some(tags))
        )?;
        let id = created_id(r.directory_id(), "aws.ds.microsoft_ad")?;
        Ok(Created::new(id.clone()).with(attrs([("id", json!(id)), ("name", json!(name))])))
    }

    async fn update(&self, _ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let ds = &self.0.ds;
        tag_calls! { old, new, ds.remove_tags_from_resource().resource_id(id), ds.add_tags_to_resource().resource_id(id), |set| set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key and value set")).collect() }
        Ok(Attrs::new())
    }

    async fn poll_ready(&self, _ctx: &Context, id: &str) -> Result<Option<Attrs>> {
        let Some(d) = self.describe(id).await? else { return Ok(None) };
        use DirectoryStage::{Active, Failed, Impaired, Inoperable};
        ready_when(
            d.stage(),
            &[&Active],
            &[&Failed, &Impaired, &Inoperable],
            || directory_attrs(&d),
            |s| {
                let why = d.stage_reason().unwrap_or("no reason given");
                ProviderError::new(format!("the directory {id} is {}: {why}", s.as_str()))
            },
        )
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        match send!(self.0.ds.delete_directory().directory_id(id)) {
            Err(e) if e.is_not_found() => Ok(()),
            r => r.map(|_| ()),
        }
    }

    async fn poll_deleted(&self, _ctx: &Context, id: &str) -> Result<bool> {
        Ok(self.describe(id).await?.is_none_or(|d| d.stage() == Some(&DirectoryStage::Deleted)))
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(30 * 60),
            Op::Update => Duration::from_secs(10),
            Op::Delete => Duration::from_secs(10 * 60),
        }
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        if let Some(Value::Array(subnets)) = p.get("subnet_ids")
            && subnets.len() != 2
        {
            return Err(Refusal::new(
                format!("a Managed Microsoft AD needs exactly 2 subnets, not {}", subnets.len()),
                "give two subnets in two availability zones, one for each domain controller".into(),
            ));
        }
        if let Some(Value::String(pw)) = p.get("password") {
            let classes = [
                pw.chars().any(|c| c.is_ascii_lowercase()),
                pw.chars().any(|c| c.is_ascii_uppercase()),
                pw.chars().any(|c| c.is_ascii_digit()),
                pw.chars().any(|c| !c.is_ascii_alphanumeric()),
            ];
            if !(8..=64).contains(&pw.chars().count()) || classes.iter().filter(|c| **c).count() < 3
            {
                return Err(Refusal::new(
                    "the directory's admin password is too weak for Directory Service".into(),
                    "use 8 to 64 characters with three of: lower case, upper case, digits, symbols"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// Billed per domain controller-hour: a Standard directory has two.
fn directory_cost(c: &CostInput) -> Cost {
    let edition = c.str("edition").unwrap_or("Standard");
    let key = format!("ds_microsoft_ad_{}_hour", edition.to_ascii_lowercase());
    let hour = c.prices.get(&key).ok_or_else(|| {
        format!("no sourced price for a Managed Microsoft AD {edition} in {}", c.prices.region)
    })?;
    Ok(Estimate::free()
        .charge(format!("1 Managed Microsoft AD ({edition}, 2 domain controllers)"), hour))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> Props {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn two_subnets_and_a_strong_password_never_echoed() {
        let k = MicrosoftAd(Clients::offline("us-east-1"));
        assert!(
            k.check(&p(json!({"subnet_ids": ["a", "b"], "password": "Corp-Admin-Pw-7x"}))).is_ok()
        );
        assert!(
            k.check(&p(json!({"subnet_ids": ["a"]}))).unwrap_err().message.contains("exactly 2")
        );
        for weak in ["short1A", "alllowercaseletters", "ALLUPPER12345"] {
            let Refusal { message: msg, help } =
                k.check(&p(json!({"password": weak}))).unwrap_err();
            assert!(!msg.contains(weak) && !help.contains(weak));
        }
    }
}
