//! AWS Lambda: `aws.lambda.function` and `aws.lambda.permission`.
//!
//! A function's code is a directory beside the blueprint, packaged into a
//! deterministic zip when the blueprint loads (see
//! [`crate::blueprint::assets`]); the `code` property holds the zip's
//! base64 SHA-256, compared with the function's `CodeSha256`, so unchanged
//! code never shows a diff and changed code is one code update. After a
//! create or an update the function is waited for until it is Active and
//! its last update finished: Lambda refuses a second update while one is
//! in progress.
//!
//! A permission (a statement of the function's resource policy) has no
//! tags and no update: any change replaces it. Its physical id is
//! `<function>|<statement id>`.

use crate::aws::prelude::*;
use crate::schema::Default;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Environment, FunctionCode, FunctionConfiguration, LastUpdateStatus, Runtime, State, VpcConfig,
};

pub(crate) const NAME_MAX: usize = 64;

/// Runtimes Lambda still lets you create functions with.
const RUNTIMES: &[&str] = &[
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "java17",
    "java21",
    "provided.al2023",
];

pub static FUNCTION: Schema = Schema::new("aws.lambda.function", "A Lambda function, its code packaged from a directory beside the blueprint.")
    .properties(rows! {
        Prop::new("name", Type::String, "The function name; derived from the stack and id when omitted.").replace(),
        Prop::new("runtime", Type::Enum(RUNTIMES), "The runtime.").required(),
        Prop::new("handler", Type::String, "The entry point, e.g. `handler.main`.").required(),
        Prop::new("code", Type::Code, "The directory of the function's code, relative to the blueprint.").required(),
        Prop::new("role_arn", Type::String, "The execution role.").required(),
        Prop::new("description", Type::String, "What the function does."),
        Prop::new("timeout", Type::Int, "Seconds before an invocation is stopped.").range(1, 900).default(Default::Int(3)),
        Prop::new("memory_size", Type::Int, "Memory in MiB.").range(128, 10240).default(Default::Int(128)),
        Prop::new("environment", Type::StringMap, "Environment variables (not for secrets: pass a secret's ARN instead)."),
        Prop::new("subnet_ids", Type::List(&Type::String), "Run in these VPC subnets (with `security_group_ids`)."),
        Prop::new("security_group_ids", Type::List(&Type::String), "The security groups of its network interfaces in the VPC."),
    })
    .attributes(rows! {
        Attr::new("arn", Type::String, "The function's ARN."),
        Attr::new("name", Type::String, "Its name."),
    })
    .notes("`code` is a directory beside the blueprint, packaged as a deterministic zip; the value compared is its SHA-256, as Lambda's `CodeSha256`. Waits until Active and until each update finished. In a VPC, AWS keeps the function's network interfaces up to 45 minutes after it is deleted: deleting its security groups and subnets waits for them, saying so.")
    .cost(function_cost)
    .replacement(Replacement::DeleteFirstIfKept(&["name"], "function names are unique in a region"));

pub static PERMISSION: Schema = Schema::new("aws.lambda.permission", "A statement of a function's resource policy: who may invoke it.")
    .properties(rows! {
        Prop::new("function_name", Type::String, "The function.").required().replace(),
        Prop::new("principal", Type::String, "Who, e.g. `events.amazonaws.com`.").required().replace(),
        Prop::new("action", Type::String, "What they may do.").default(Default::Str("lambda:InvokeFunction")).replace(),
        Prop::new("source_arn", Type::String, "Only on behalf of this resource (e.g. an EventBridge rule).").replace(),
        Prop::new("statement_id", Type::String, "The statement's id; the logical id when omitted.").replace(),
    })
    .untagged()
    .free()
    .replacement(Replacement::DeleteFirstIfKept(&["function_name", "statement_id"], "a statement id is unique within the function's policy"));

kind! { Function, FUNCTION }

fn env_map(p: &Props) -> HashMap<String, String> {
    match p.get("environment") {
        Some(Value::Object(m)) => {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
        }
        _ => HashMap::new(),
    }
}

/// The VPC configuration `p` asks for: none without subnets, and an empty
/// one (which detaches the function) when an update removes them.
fn vpc_config(p: &Props) -> Option<VpcConfig> {
    let subnets = list(p, "subnet_ids");
    let groups = list(p, "security_group_ids");
    (!subnets.is_empty() || !groups.is_empty()).then(|| {
        VpcConfig::builder()
            .set_subnet_ids(Some(subnets))
            .set_security_group_ids(Some(groups))
            .build()
    })
}

fn fn_attrs(arn: Option<&str>, name: Option<&str>) -> Attrs {
    [("arn".to_string(), json!(arn)), ("name".to_string(), json!(name))].into()
}

/// The code's zip, packaged when the blueprint was loaded.
fn code_bytes(ctx: &Context, p: &Props) -> Result<Blob> {
    let sha = s(p, "code").unwrap_or_default();
    ctx.assets
        .get(&sha)
        .map(|b| Blob::new(b.as_slice().to_vec()))
        .ok_or_else(|| ProviderError::new(format!("no packaged code with digest {sha}")))
}

impl Function {
    async fn config(&self, name: &str) -> Result<Option<GetFunctionConfigurationOutput>> {
        send!(self.0.lambda.get_function_configuration().function_name(name)).found()
    }

    /// Waits (within the call) until an update in progress has finished:
    /// Lambda refuses the next update until then.
    async fn settle(&self, name: &str) -> Result<()> {
        for _ in 0..120 {
            match self.config(name).await? {
                Some(c) if c.last_update_status() == Some(&LastUpdateStatus::InProgress) => {
                    tokio::time::sleep(Duration::from_secs(1)).await
                }
                Some(c) if c.last_update_status() == Some(&LastUpdateStatus::Failed) => {
                    return Err(ProviderError::new(format!(
                        "the function's update failed: {}",
                        c.last_update_status_reason().unwrap_or("no reason given")
                    )));
                }
                _ => return Ok(()),
            }
        }
        Err(ProviderError::new("the function's update did not finish in 2 minutes").retryable())
    }
}

#[async_trait]
impl ResourceKind for Function {
    /// ListFunctions (paginated) returns every configuration; tags need
    /// one ListTags per function of the stack.
    async fn read(&self, ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let all: Vec<FunctionConfiguration> = paginate!(self.0.lambda.list_functions())?;
        let prefix = unique_name(&ctx.stack, "", NAME_MAX);
        let known: BTreeSet<&str> = q.known.iter().map(|(id, _)| id.as_str()).collect();
        let mut out = Vec::new();
        for f in all {
            let name = f.function_name().unwrap_or_default().to_string();
            if !known.contains(name.as_str()) && !name.starts_with(&prefix) {
                continue;
            }
            let tags =
                send!(self.0.lambda.list_tags().resource(f.function_arn().unwrap_or_default()))?;
            let pairs: Vec<(&str, &str)> = tags
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                .unwrap_or_default();
            let (user, logical) = split_tags(ctx, pairs);
            if logical.unclaimed() && !known.contains(name.as_str()) {
                continue;
            }
            let env: BTreeMap<String, String> = f
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let p = props([
                ("name", json!(name)),
                ("runtime", json!(f.runtime().map(|r| r.as_str()))),
                ("handler", json!(f.handler())),
                ("code", json!(f.code_sha256())),
                ("role_arn", json!(f.role())),
                ("description", json!(f.description().filter(|d| !d.is_empty()))),
                ("timeout", json!(f.timeout())),
                ("memory_size", json!(f.memory_size())),
                ("environment", if env.is_empty() { Value::Null } else { json!(env) }),
                ("subnet_ids", json!(f.vpc_config().map(|v| v.subnet_ids()).unwrap_or_default())),
                (
                    "security_group_ids",
                    json!(f.vpc_config().map(|v| v.security_group_ids()).unwrap_or_default()),
                ),
                ("tags", user),
            ]);
            out.push(
                Observed::new(name, logical, p).with(fn_attrs(f.function_arn(), f.function_name())),
            );
        }
        Ok(out)
    }

    async fn create(&self, ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let name =
            s(p, "name").unwrap_or_else(|| unique_name(&ctx.stack, &req.logical_id, NAME_MAX));
        let env = env_map(p);
        let r = send!(
            self.0
                .lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::from(s(p, "runtime").unwrap_or_default().as_str()))
                .set_handler(s(p, "handler"))
                .set_role(s(p, "role_arn"))
                .code(FunctionCode::builder().zip_file(code_bytes(ctx, p)?).build())
                .set_description(s(p, "description"))
                .set_timeout(i(p, "timeout"))
                .set_memory_size(i(p, "memory_size"))
                .set_environment(
                    (!env.is_empty())
                        .then(|| Environment::builder().set_variables(Some(env)).build()),
                )
                .set_vpc_config(vpc_config(p))
                .set_tags(Some(create_tags(ctx, &req.logical_id, p).into_iter().collect(),))
        )?;
        Ok(Created::new(name.clone()).with(fn_attrs(r.function_arn(), Some(&name))))
    }

    async fn update(&self, ctx: &Context, name: &str, old: &Props, new: &Props) -> Result<Attrs> {
        let lambda = &self.0.lambda;
        let changed = |k: &str| old.get(k) != new.get(k);
        if changed("code") {
            send!(
                lambda.update_function_code().function_name(name).zip_file(code_bytes(ctx, new)?)
            )?;
            self.settle(name).await?;
        }
        let config = [
            "runtime",
            "handler",
            "role_arn",
            "description",
            "timeout",
            "memory_size",
            "environment",
        ];
        // No VPC reads back as empty lists, and a blueprint without one
        // leaves them out: compared as lists, so neither is a change.
        let vpc_changed = ["subnet_ids", "security_group_ids"].iter().any(|k| {
            let sorted = |p: &Props| {
                let mut l = list(p, k);
                l.sort();
                l
            };
            sorted(old) != sorted(new)
        });
        if config.iter().any(|k| changed(k)) || vpc_changed {
            send!(
                lambda
                    .update_function_configuration()
                    .function_name(name)
                    .runtime(Runtime::from(s(new, "runtime").unwrap_or_default().as_str(),))
                    .set_handler(s(new, "handler"))
                    .set_role(s(new, "role_arn"))
                    .description(s(new, "description").unwrap_or_default())
                    .set_timeout(i(new, "timeout"))
                    .set_memory_size(i(new, "memory_size"))
                    .environment(Environment::builder().set_variables(Some(env_map(new))).build(),)
                    .vpc_config(vpc_config(new).unwrap_or_else(|| {
                        VpcConfig::builder()
                            .set_subnet_ids(Some(Vec::new()))
                            .set_security_group_ids(Some(Vec::new()))
                            .build()
                    }))
            )?;
            self.settle(name).await?;
        }
        arn_tag_calls!(
            old,
            new,
            name,
            arn = self.config(name).await?.and_then(|c| c.function_arn().map(str::to_string)),
            lambda.untag_resource().resource(arn),
            lambda.tag_resource().resource(arn),
            |set| set.into_iter().collect::<HashMap<_, _>>()
        );
        Ok(Attrs::new())
    }

    /// Active, with no update in progress.
    async fn poll_ready(&self, _ctx: &Context, name: &str) -> Result<Option<Attrs>> {
        let Some(c) = self.config(name).await? else {
            return Ok(None);
        };
        match (c.state(), c.last_update_status()) {
            (Some(State::Failed), _) => Err(ProviderError::new(format!(
                "the function failed to become active: {}",
                c.state_reason().unwrap_or("no reason given")
            ))),
            (Some(State::Pending), _) | (_, Some(LastUpdateStatus::InProgress)) => Ok(None),
            _ => Ok(Some(fn_attrs(c.function_arn(), c.function_name()))),
        }
    }

    async fn delete(&self, _ctx: &Context, name: &str, _p: &Props) -> Result<()> {
        send!(self.0.lambda.delete_function().function_name(name))?;
        Ok(())
    }

    fn expected_duration(&self, op: Op) -> Duration {
        match op {
            Op::Create => Duration::from_secs(10),
            _ => Duration::from_secs(5),
        }
    }

    fn normalize(&self, p: &mut Props) {
        if matches!(p.get("environment"), Some(Value::Object(m)) if m.is_empty()) {
            p.insert("environment".into(), Value::Null);
        }
        // No VPC reads back as empty lists; unset in the blueprint is null.
        for k in ["subnet_ids", "security_group_ids"] {
            if p.get(k).is_none_or(|v| v.as_array().is_some_and(|a| a.is_empty())) {
                p.insert(k.into(), Value::Null);
            }
        }
        sort_sets(p, &["subnet_ids", "security_group_ids"]);
    }
}

kind! { Permission, PERMISSION }

fn statement_id(logical_id: &str, p: &Props) -> String {
    s(p, "statement_id").unwrap_or_else(|| logical_id.to_string())
}

/// The function name of a function name or ARN.
fn function_name(f: &str) -> &str {
    if f.starts_with("arn:") { f.split(':').nth(6).unwrap_or(f) } else { f }
}

#[async_trait]
impl ResourceKind for Permission {
    /// One GetPolicy per function named by a recorded permission.
    async fn read(&self, _ctx: &Context, q: &ReadQuery) -> Result<Vec<Observed>> {
        let functions: BTreeSet<String> = q
            .known
            .iter()
            .filter_map(|(id, _)| id.split_once('|').map(|(f, _)| f.to_string()))
            .collect();
        let mut out = Vec::new();
        for f in functions {
            let policy = match send!(self.0.lambda.get_policy().function_name(&f)) {
                Ok(r) => r.policy().map(str::to_string).unwrap_or_default(),
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let doc: Value = serde_json::from_str(&policy).unwrap_or(Value::Null);
            for st in doc["Statement"].as_array().into_iter().flatten() {
                let Some(sid) = st["Sid"].as_str() else {
                    continue;
                };
                let id = format!("{f}|{sid}");
                if !q.known.iter().any(|(k, _)| *k == id) {
                    continue;
                }
                let principal = st["Principal"]["Service"]
                    .as_str()
                    .or_else(|| st["Principal"].as_str())
                    .or_else(|| st["Principal"]["AWS"].as_str());
                let source = st["Condition"]["ArnLike"]["AWS:SourceArn"].as_str();
                let p = props([
                    ("function_name", json!(f)),
                    ("principal", json!(principal)),
                    ("action", st["Action"].clone()),
                    ("source_arn", json!(source)),
                    ("statement_id", json!(sid)),
                ]);
                out.push(Observed::new(id, None, p));
            }
        }
        Ok(out)
    }

    async fn create(&self, _ctx: &Context, req: &CreateRequest) -> Result<Created> {
        let p = &req.properties;
        let f = s(p, "function_name").unwrap_or_default();
        let sid = statement_id(&req.logical_id, p);
        let add = || {
            self.0
                .lambda
                .add_permission()
                .function_name(&f)
                .statement_id(&sid)
                .action(s(p, "action").unwrap_or_else(|| "lambda:InvokeFunction".into()))
                .set_principal(s(p, "principal"))
                .set_source_arn(s(p, "source_arn"))
                .send()
        };
        match add().await.map_err(err) {
            Ok(_) => {}
            // The statement exists: a create whose answer was lost (the
            // statement id is ours, derived from the logical id). Put it
            // back as the blueprint says.
            Err(e) if e.code.as_deref() == Some("ResourceConflictException") => {
                send!(self.0.lambda.remove_permission().function_name(&f).statement_id(&sid))?;
                add().await.map_err(err)?;
            }
            Err(e) => return Err(e),
        }
        Ok(Created::new(format!("{}|{sid}", function_name(&f))))
    }

    async fn delete(&self, _ctx: &Context, id: &str, _p: &Props) -> Result<()> {
        let (f, sid) = id.split_once('|').unwrap_or((id, ""));
        send!(self.0.lambda.remove_permission().function_name(f).statement_id(sid))?;
        Ok(())
    }

    fn normalize(&self, p: &mut Props) {
        if let Some(f) = s(p, "function_name") {
            p.insert("function_name".into(), json!(function_name(&f)));
        }
    }
}

/// Lambda bills requests and compute time only.
fn function_cost(c: &CostInput) -> Cost {
    Ok(Estimate::free()
        .usage("Lambda requests", c.price("lambda_million_requests")?, "million requests")
        .usage("Lambda compute", c.price("lambda_gb_second")?, "GB-second"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_from_arns() {
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:dev-worker"),
            "dev-worker"
        );
        assert_eq!(function_name("dev-worker"), "dev-worker");
    }
}
