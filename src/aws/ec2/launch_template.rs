//! `aws.ec2.launch_template`: a launch template whose every change is a new
//! version made the default.
//!
//! A version is immutable, so an update creates version N+1 with the whole
//! launch data (never `SourceVersion`: moto does not merge it, and sending
//! everything makes the version exactly what the blueprint says) and moves
//! the default to it. Old versions stay until the template is deleted,
//! which deletes them all. `default_version` changes on update, so an auto
//! scaling group or instance that names it is planned to follow.

use super::common::{filter, read_tags, stack_filter, tag_spec};
use crate::aws::prelude::*;
use crate::schema::Default;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplatePlacementRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData,
};
use base64::Engine;

pub static LAUNCH_TEMPLATE: Schema = Schema::new("aws.ec2.launch_template", "An EC2 launch template: what instances are launched with.")
    .properties(rows! {
        Prop::new("name", Type::String, "The template name; `<stack>-<id>` when omitted.").replace(),
        Prop::new("image_id", Type::String, "The AMI, usually `${ssm:/aws/service/...}` so it is current.").required(),
        Prop::new("instance_type", Type::String, "The instance type, e.g. `m5.large`.").required(),
        Prop::new("security_group_ids", Type::List(&Type::String), "Security groups of the instances."),
        Prop::new("user_data", Type::String, "The instances' user data, as text (archkit encodes it)."),
        Prop::new("instance_profile", Type::String, "The IAM instance profile's name."),
        Prop::new("placement_group", Type::String, "The placement group's name."),
        Prop::new("os", Type::Enum(&["linux", "windows"]), "The image's operating system, for the cost estimate of what is launched from it (Windows carries a license charge); AWS is not told.").default(Default::Str("linux")),
    })
    .attributes(rows! {
        Attr::new("default_version", Type::String, "The default version's number (a new one after every change).").updated(),
        Attr::new("latest_version", Type::String, "The latest version's number.").updated(),
    })
    .notes("A change of anything but `tags` creates a new version with the whole launch data and makes it the default; old versions stay until the template is deleted. Instances already running keep the version they were launched from.")
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "template names are unique in a region"));

/// The hourly price of one instance launched from a template with these
/// properties (`os` and `instance_type`).
pub fn instance_price(c: &CostInput, template: Option<&Props>) -> Result<(String, f64), String> {
    let t = template.ok_or("its launch template is not known")?;
    let ty = t
        .get("instance_type")
        .and_then(Value::as_str)
        .ok_or("its instance type is not known yet")?;
    let os = t.get("os").and_then(Value::as_str).unwrap_or("linux");
    Ok((format!("{ty} {os} instance"), c.price(&format!("ec2_{os}_{ty}_hour"))?))
}

/// The root EBS volume each launched instance gets: its size and type are
/// the AMI's, unknown at plan time, so it is listed per GB-month at the
/// gp3 rate (what current Amazon Linux and ECS-optimized AMIs use), never
/// counted as free.
pub fn root_volume(c: &CostInput, e: Estimate) -> Result<Estimate, String> {
    Ok(e.usage(
        "EBS root volume of each instance (size and type from the AMI; gp3 rate)",
        c.price("ebs_gp3_gb_month")?,
        "GB-month",
    ))
}

kind! {
    /// The launch template kind; its id is the template id (`lt-...`).
    LaunchTemplate, LAUNCH_TEMPLATE, ec2_tags
}

const DATA: &[&str] = &[
    "image_id",
    "instance_type",
    "security_group_ids",
    "user_data",
    "instance_profile",
    "placement_group",
];

fn name(ctx: &Context, logical_id: &str, p: &Props) -> String {
    s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, logical_id, 128))
}

/// The launch data the properties describe.
fn data(p: &Props) -> RequestLaunchTemplateData {
    let mut d = RequestLaunchTemplateData::builder()
        .set_image_id(s(p, "image_id"))
        .set_instance_type(s(p, "instance_type").map(|t| InstanceType::from(t.as_str())))
        .set_user_data(
            s(p, "user_data").map(|u| base64::engine::general_purpose::STANDARD.encode(u)),
        );
    let groups = list(p, "security_group_ids");
    if !groups.is_empty() {
        d = d.set_security_group_ids(Some(groups));
    }
    if let Some(profile) = s(p, "instance_profile") {
        d = d.iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder().name(profile).build(),
        );
    }
    if let Some(group) = s(p, "placement_group") {
        d = d.placement(LaunchTemplatePlacementRequest::builder().group_name(group).build());
    }
    d.build()
}

/// The properties a version's launch data holds.
fn observe(d: Option<&ResponseLaunchTemplateData>) -> Props {
    let Some(d) = d else { return Props::new() };
    let user_data = d.user_data().and_then(|u| {
        let bytes = base64::engine::general_purpose::STANDARD.decode(u).ok()?;
        String::from_utf8(bytes).ok()
    });
    let mut groups: Vec<&str> = d.security_group_ids().iter().map(String::as_str).collect();
    groups.sort();
    let mut p = props([
        ("image_id", str_value(d.image_id())),
        ("instance_type", str_value(d.instance_type().map(|t| t.as_str()))),
        ("user_data", str_value(user_data.as_deref())),
        ("instance_profile", str_value(d.iam_instance_profile().and_then(|i| i.name()))),
        // moto drops the group from the instances it launches, but keeps
        // it in the template's data.
        ("placement_group", str_value(d.placement().and_then(|p| p.group_name()))),
    ]);
    if !groups.is_empty() {
        p.insert("security_group_ids".into(), json!(groups));
    }
    p.retain(|_, v| !v.is_null());
    p
}

fn versions(default: Option<i64>, latest: Option<i64>) -> Attrs {
    let n = |v: Option<i64>| v.map_or(Value::Null, |v| json!(v.to_string()));
    attrs([("default_version", n(default)), ("latest_version", n(latest))])
}

#[async_trait]
impl ResourceKind for LaunchTemplate {
    /// One DescribeLaunchTemplates for the stack, then the default
    /// version's data of each template, concurrently (the API takes one
    /// template per call when versions are named).
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let ec2 = &self.0.ec2;
        let mut found = send!(ec2.describe_launch_templates().filters(stack_filter(ctx)))?
            .launch_templates
            .unwrap_or_default();
        let missing = q.unseen(|id| found.iter().any(|t| t.launch_template_id() == Some(id)));
        if !missing.is_empty() {
            // By id, with a filter: an unknown id is not an error then.
            let out = send!(
                ec2.describe_launch_templates().filters(filter("launch-template-id", missing))
            )?;
            found.extend(out.launch_templates.unwrap_or_default());
        }
        let reads = found.iter().map(|t| async move {
            let id = t.launch_template_id().unwrap_or_default();
            let out = send!(
                ec2.describe_launch_template_versions().launch_template_id(id).versions("$Default")
            )?;
            let data =
                out.launch_template_versions().first().and_then(|v| v.launch_template_data());
            let (tags, logical_id) = read_tags(ctx, t.tags());
            let mut p = observe(data);
            p.insert("name".into(), str_value(t.launch_template_name()));
            p.insert("tags".into(), tags);
            let mut attrs = versions(t.default_version_number(), t.latest_version_number());
            attrs.insert("name".into(), str_value(t.launch_template_name()));
            Ok::<_, ProviderError>(Observed::new(id, logical_id, p).with(attrs))
        });
        futures_util::future::try_join_all(reads).await
    }

    fn normalize(&self, p: &mut Props) {
        sort_sets(p, &["security_group_ids"]);
        if p.get("security_group_ids").is_some_and(|v| v.as_array().is_some_and(|a| a.is_empty())) {
            p.remove("security_group_ids");
        }
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let out = send!(
            self.0
                .ec2
                .create_launch_template()
                .client_token(&req.token)
                .launch_template_name(name(ctx, &req.logical_id, p))
                .launch_template_data(data(p))
                .tag_specifications(tag_spec(
                    ResourceType::LaunchTemplate,
                    ctx,
                    &req.logical_id,
                    p
                ))
        )?;
        let t = out.launch_template();
        let id = created_id(t.and_then(|t| t.launch_template_id()), self.schema().kind)?;
        let (default, latest) =
            (t.and_then(|t| t.default_version_number()), t.and_then(|t| t.latest_version_number()));
        let mut attrs = versions(default.or(Some(1)), latest.or(Some(1)));
        attrs.insert("name".into(), str_value(t.and_then(|t| t.launch_template_name())));
        Ok(Created::new(id).with(attrs))
    }

    /// New launch data is a new version, made the default.
    async fn update(&self, ctx: &Context, id: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let mut attrs = Attrs::new();
        if DATA.iter().any(|k| !crate::provider::same_value(old.get(*k), new.get(*k))) {
            let ec2 = &self.0.ec2;
            let out = send!(
                ec2.create_launch_template_version()
                    .launch_template_id(id)
                    .launch_template_data(data(new))
            )?;
            let version =
                out.launch_template_version().and_then(|v| v.version_number()).ok_or_else(
                    || ProviderError::new("CreateLaunchTemplateVersion named no version"),
                )?;
            send!(
                ec2.modify_launch_template()
                    .launch_template_id(id)
                    .default_version(version.to_string())
            )?;
            attrs = versions(Some(version), Some(version));
        }
        self.sync_tags(ctx, id, old, new).await?;
        Ok(attrs)
    }

    fn update_note(&self, changed: &[String]) -> Option<&'static str> {
        changed.iter().any(|c| DATA.contains(&c.as_str())).then_some(
            "a new version of the template is created and made the default; \
             instances already running keep the version they were launched from",
        )
    }

    /// Deletes every version; instances launched from it keep running.
    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        send!(self.0.ec2.delete_launch_template().launch_template_id(id))?;
        Ok(())
    }
}
