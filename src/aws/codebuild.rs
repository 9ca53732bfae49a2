//! `aws.codebuild.project`: a CodeBuild project, optionally running its
//! builds inside a VPC.
//!
//! The physical id is the project name (derived from the stack and id
//! when omitted). A read lists the project names (paginated) and gets the
//! stack's in one BatchGetProjects, tags included. UpdateProject sends
//! the whole definition and the whole tag list, which it replaces.
//!
//! With a VPC, CreateProject checks that the service role may manage
//! network interfaces (aws-cdk#2652): the role's policy must exist first,
//! which the blueprint's reference to the role ensures, and a policy IAM
//! has not propagated yet is retried. Builds get no public address, so
//! the subnets need a NAT route.
//!
//! moto (5.2.5) gaps designed around: UpdateProject is not implemented
//! (HTTP 500), so the in-place update is tested through the fault proxy's
//! canned answer, which checks the request but not that AWS applies it;
//! a NO_SOURCE project without a location is refused (a moto bug), so
//! behind an endpoint URL one is sent and read back as none; the role's
//! permissions are never checked.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::time::Duration;

use aws_sdk_codebuild::types::{
    ArtifactsType, ComputeType, EnvironmentType, Project, ProjectArtifacts, ProjectEnvironment,
    ProjectSource, SourceType, Tag, VpcConfig,
};

const NAME_MAX: usize = 150;
const SOURCE_TYPES: &[&str] =
    &["NO_SOURCE", "CODECOMMIT", "GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET", "GITLAB", "S3"];
const ENVIRONMENT_TYPES: &[&str] =
    &["LINUX_CONTAINER", "ARM_CONTAINER", "LINUX_GPU_CONTAINER", "WINDOWS_SERVER_2022_CONTAINER"];
const COMPUTE_TYPES: &[&str] = &[
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
];
/// What a NO_SOURCE project is sent as its location behind an endpoint
/// URL, where moto wants one.
const NO_LOCATION: &str = "none";

pub static PROJECT: Schema = Schema::new("aws.codebuild.project", "A CodeBuild project, optionally building inside a VPC.")
    .properties(rows! {
        Prop::new("name", Type::String, "The project name; derived from the stack and id when omitted.").replace(),
        Prop::new("description", Type::String, "What it builds."),
        Prop::new("service_role", Type::String, "The role (ARN) builds run as. With a VPC it needs the EC2 network-interface permissions.").required(),
        Prop::new("source_type", Type::Enum(SOURCE_TYPES), "Where the source comes from; NO_SOURCE runs the inline `buildspec` alone.").default(Default::Str("NO_SOURCE")),
        Prop::new("source_location", Type::String, "The repository URL or `bucket/key` (not with NO_SOURCE)."),
        Prop::new("buildspec", Type::String, "The build specification (YAML), inline; the source's `buildspec.yml` when omitted."),
        Prop::new("environment_type", Type::Enum(ENVIRONMENT_TYPES), "The build container's type.").default(Default::Str("LINUX_CONTAINER")),
        Prop::new("image", Type::String, "The build image.").default(Default::Str("aws/codebuild/amazonlinux2-x86_64-standard:5.0")),
        Prop::new("compute_type", Type::Enum(COMPUTE_TYPES), "The build machine's size.").default(Default::Str("BUILD_GENERAL1_SMALL")),
        Prop::new("timeout_minutes", Type::Int, "A build is stopped after this long (5 to 2160).").range(5, 2160).default(Default::Int(60)),
        Prop::new("vpc_id", Type::String, "The VPC builds run in; omitted: outside any VPC."),
        Prop::new("subnets", Type::List(&Type::String), "Private subnets with a NAT route (builds get no public address)."),
        Prop::new("security_group_ids", Type::List(&Type::String), "The builds' security groups."),
    })
    .attributes(rows! {
        Attr::new("name", Type::String, "Its name."),
        Attr::new("arn", Type::String, "Its ARN."),
    })
    .notes("Builds are started by you (`aws codebuild start-build`) and billed per build-minute. In a VPC, each running build holds one address of a subnet, and a subnet or security group cannot be deleted while a build runs in it.")
    .cost(project_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "project names are unique in a region"));

kind! { CodeBuildProject, PROJECT }

/// A project's tags as the pairs `split_tags` reads.
fn tag_pairs(p: &Project) -> impl Iterator<Item = (&str, &str)> {
    p.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

fn project_attrs(p: &Project) -> Attrs {
    attrs([("name", json!(p.name())), ("arn", json!(p.arn()))])
}

impl CodeBuildProject {
    async fn get(&self, names: Vec<String>) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        // BatchGetProjects takes up to 100 names.
        for chunk in names.chunks(100) {
            let r = send!(self.0.codebuild.batch_get_projects().set_names(Some(chunk.to_vec())))?;
            out.extend(r.projects().iter().cloned());
        }
        Ok(out)
    }

    fn source(&self, p: &Props) -> Result<ProjectSource> {
        let ty = s(p, "source_type").unwrap_or_else(|| "NO_SOURCE".into());
        let location = s(p, "source_location").or_else(|| {
            (ty == "NO_SOURCE" && self.0.custom_endpoint).then(|| NO_LOCATION.to_string())
        });
        ProjectSource::builder()
            .r#type(SourceType::from(ty.as_str()))
            .set_location(location)
            .set_buildspec(s(p, "buildspec"))
            .build()
            .map_err(|e| ProviderError::new(e.to_string()))
    }
}

fn environment(p: &Props) -> Result<ProjectEnvironment> {
    ProjectEnvironment::builder()
        .r#type(EnvironmentType::from(s(p, "environment_type").unwrap_or_default().as_str()))
        .image(s(p, "image").unwrap_or_default())
        .compute_type(ComputeType::from(s(p, "compute_type").unwrap_or_default().as_str()))
        .build()
        .map_err(|e| ProviderError::new(e.to_string()))
}

fn vpc(p: &Props) -> Option<VpcConfig> {
    s(p, "vpc_id").map(|id| {
        VpcConfig::builder()
            .vpc_id(id)
            .set_subnets(Some(list(p, "subnets")))
            .set_security_group_ids(Some(list(p, "security_group_ids")))
            .build()
    })
}

fn no_artifacts() -> ProjectArtifacts {
    ProjectArtifacts::builder().r#type(ArtifactsType::NoArtifacts).build().expect("type set")
}

fn tag_list(set: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    set.into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

#[async_trait]
impl ResourceKind for CodeBuildProject {
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let listed: Vec<String> = paginate!(self.0.codebuild.list_projects())?;
        let mut names: Vec<String> = q.known.iter().map(|(id, _)| id.clone()).collect();
        names.extend(listed.into_iter().filter(|n| n.starts_with(&prefix)));
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for pr in self.get(names).await? {
            let name = pr.name().unwrap_or_default().to_string();
            let (user, logical) = split_tags(ctx, tag_pairs(&pr));
            if logical.unclaimed() && !q.known.iter().any(|(k, _)| *k == name) {
                continue;
            }
            let src = pr.source();
            let ty = src.map(|s| s.r#type().as_str());
            let location = src
                .and_then(|s| s.location())
                .filter(|l| !(ty == Some("NO_SOURCE") && *l == NO_LOCATION));
            let env = pr.environment();
            let vpc = pr.vpc_config();
            let p = props([
                ("name", json!(name)),
                ("description", json!(pr.description().filter(|d| !d.is_empty()))),
                ("service_role", json!(pr.service_role())),
                ("source_type", json!(ty)),
                ("source_location", json!(location)),
                ("buildspec", json!(src.and_then(|s| s.buildspec()))),
                ("environment_type", json!(env.map(|e| e.r#type().as_str()))),
                ("image", json!(env.map(|e| e.image()))),
                ("compute_type", json!(env.map(|e| e.compute_type().as_str()))),
                ("timeout_minutes", json!(pr.timeout_in_minutes())),
                ("vpc_id", json!(vpc.and_then(|v| v.vpc_id()))),
                ("subnets", json!(vpc.map(|v| v.subnets()))),
                ("security_group_ids", json!(vpc.map(|v| v.security_group_ids()))),
                ("tags", user),
            ]);
            out.push(Observed::new(name, logical, p).with(project_attrs(&pr)));
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        // moto's BatchGetProjects answers for the names that exist only.
        if let Some(pr) =
            self.get(vec![name.clone()]).await?.into_iter().find(|pr| pr.name() == Some(&name))
        {
            let clash = Clash {
                what: format!("a CodeBuild project named {name}"),
                field: "name",
                code: "ResourceAlreadyExistsException",
            };
            clash.unless_tagged(ctx, &req.logical_id, tag_pairs(&pr))?;
            return Ok(Created::new(name).with(project_attrs(&pr)));
        }
        let r = send!(
            self.0
                .codebuild
                .create_project()
                .name(&name)
                .set_description(s(p, "description"))
                .source(self.source(p)?)
                .artifacts(no_artifacts())
                .environment(environment(p)?)
                .set_service_role(s(p, "service_role"))
                .set_timeout_in_minutes(i(p, "timeout_minutes"))
                .set_vpc_config(vpc(p))
                .set_tags(Some(tag_list(create_tags(ctx, &req.logical_id, p))))
        )?;
        let a = r.project().map(project_attrs).unwrap_or_default();
        Ok(Created::new(name).with(a))
    }

    async fn update(&self, _ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let differs =
            self.schema().property_names().any(|k| k != "name" && old.get(k) != new.get(k));
        if !differs {
            return Ok(Attrs::new());
        }
        // The tag list replaces the project's: archkit's own tags are kept
        // as they are, the user's are the new ones.
        let current = self.get(vec![name.to_string()]).await?;
        let mut tags: Vec<(String, String)> = current
            .iter()
            .flat_map(tag_pairs)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .filter(|(k, _)| k.starts_with("archkit:"))
            .collect();
        tags.extend(desired_tags(new));
        send!(
            self.0
                .codebuild
                .update_project()
                .name(name)
                .description(s(new, "description").unwrap_or_default())
                .source(self.source(new)?)
                .artifacts(no_artifacts())
                .environment(environment(new)?)
                .set_service_role(s(new, "service_role"))
                .set_timeout_in_minutes(i(new, "timeout_minutes"))
                // An empty configuration takes the project out of the VPC.
                .vpc_config(vpc(new).unwrap_or_else(|| VpcConfig::builder().build()))
                .set_tags(Some(tag_list(tags)))
        )?;
        Ok(Attrs::new())
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        send!(self.0.codebuild.delete_project().name(name))?;
        Ok(())
    }

    fn expected_duration(&self, _op: Op) -> Duration {
        Duration::from_secs(5)
    }

    fn check(&self, p: &Props) -> Result<(), Refusal> {
        let set = |k: &str| p.get(k).is_some_and(|v| !v.is_null());
        if p.get("source_type").and_then(Value::as_str) == Some("NO_SOURCE") {
            if set("source_location") {
                return Err(Refusal::new(
                    "a NO_SOURCE project has no `source_location`".into(),
                    "remove `source_location`, or choose the `source_type` it belongs to".into(),
                ));
            }
            if !set("buildspec") {
                return Err(Refusal::new(
                    "a NO_SOURCE project needs an inline `buildspec`".into(),
                    "add `buildspec: |` with the build's commands".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Builds bill per build-minute by machine size.
fn project_cost(c: &CostInput) -> Cost {
    let size = c.str("compute_type").unwrap_or("BUILD_GENERAL1_SMALL");
    let key = format!("codebuild_{}_minute", size.to_ascii_lowercase());
    let minute = c
        .prices
        .get(&key)
        .ok_or_else(|| format!("no sourced price for CodeBuild {size} in {}", c.prices.region))?;
    Ok(Estimate::free().usage("CodeBuild build minutes", minute, "build-minute"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> Props {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn a_no_source_project_needs_its_buildspec_and_no_location() {
        let k = CodeBuildProject(Clients::offline("us-east-1"));
        assert!(
            k.check(&p(json!({"source_type": "NO_SOURCE", "buildspec": "version: 0.2"}))).is_ok()
        );
        let Refusal { message: msg, help: _ } =
            k.check(&p(json!({"source_type": "NO_SOURCE"}))).unwrap_err();
        assert!(msg.contains("buildspec"), "{msg}");
        let located =
            json!({"source_type": "NO_SOURCE", "buildspec": "x", "source_location": "s3://b/k"});
        assert!(k.check(&p(located)).unwrap_err().message.contains("source_location"));
        assert!(
            k.check(&p(json!({"source_type": "GITHUB", "source_location": "https://x"}))).is_ok()
        );
    }
}
