//! End-to-end tests of the AWS networking kinds against moto, a standalone
//! AWS emulator started by `scripts/moto` (its URL comes from
//! `ARCHKIT_MOTO_URL` or `.moto/url`). Each test uses its own stack name,
//! so tests share one server without interfering.
//!
//! Without a server these tests fail under `CI=true` and are skipped, with
//! a message, elsewhere.
//!
//! What moto cannot prove (see ../shared/reference/moto.md): NAT gateways
//! are available at once and their deletion is instant, and delete-time
//! dependency checks (DependencyViolation for an attached IGW with mapped
//! addresses, an EIP held by a NAT gateway) are not enforced. The destroy
//! ordering those checks require is therefore asserted on the order of the
//! API calls archkit made (`--json` events), not on AWS refusing them.

use std::path::PathBuf;
use std::process::Command;

use aws_sdk_ec2::types::Filter;

use crate::util::{Run, archkit, finished_ids, root, run};

fn moto_url() -> Option<String> {
    if let Ok(u) = std::env::var("ARCHKIT_MOTO_URL")
        && !u.is_empty()
    {
        return Some(u);
    }
    std::fs::read_to_string(root().join(".moto/url"))
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
}

/// The moto URL, or `None` (skip) outside CI. Under CI a missing server is
/// a failure.
pub(crate) fn require_moto() -> Option<String> {
    match moto_url() {
        Some(u) => Some(u),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "moto is not running: start it with `scripts/moto start` (CI=true forbids skipping)"
            )
        }
        None => {
            eprintln!("skipped: moto is not running (scripts/moto start)");
            None
        }
    }
}

pub(crate) struct Stack {
    pub(crate) name: String,
    url: String,
    dir: tempfile::TempDir,
}

impl Stack {
    pub(crate) fn new(url: &str, name: &str) -> Stack {
        // Unique per run, so reruns against one server never collide.
        let nonce =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                % 1_000_000_000;
        Stack {
            name: format!("{name}-{nonce:09}"),
            url: url.to_string(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn dir_path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_at(&self.url, args)
    }

    /// The command in this stack's directory without `--stack`: for the
    /// commands that look at every stack (`sweep`).
    pub(crate) fn cmd_bare(&self, args: &[&str]) -> Command {
        let mut c = self.cmd(&[]);
        c.env_remove("ARCHKIT_STACK");
        let mut bare = archkit(self.dir.path());
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => bare.env(k, v),
                None => bare.env_remove(k),
            };
        }
        bare.args(args).stdin(std::process::Stdio::null());
        bare
    }

    pub(crate) fn cmd_at(&self, url: &str, args: &[&str]) -> Command {
        let mut c = archkit(self.dir.path());
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", url)
            .env_remove("AWS_PROFILE")
            .env("ARCHKIT_AWS_MAX_ATTEMPTS", "3")
            .arg("--stack")
            .arg(&self.name)
            .args(args)
            .stdin(std::process::Stdio::null());
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        run(&mut self.cmd(args))
    }

    /// Copies the network blueprint (the EC2 half of
    /// fargate-public-private) so a test may edit it.
    pub(crate) fn blueprint(&self) -> PathBuf {
        let dir = self.dir.path().join("bp");
        if !dir.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(
                root().join("tests/fixtures/network/blueprint.yaml"),
                dir.join("blueprint.yaml"),
            )
            .unwrap();
        }
        dir
    }

    /// Copies a built-in blueprint, as `archkit init` does.
    pub(crate) fn builtin(&self, name: &str) -> String {
        let dir = self.dir.path().join(name);
        if !dir.exists() {
            let out = run(archkit(self.dir.path()).args(["init", name, name]));
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        dir.to_str().unwrap().to_string()
    }

    pub(crate) fn edit(&self, from: &str, to: &str) {
        let f = self.blueprint().join("blueprint.yaml");
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains(from), "the blueprint has no `{from}`");
        std::fs::write(&f, text.replacen(from, to, 1)).unwrap();
    }

    pub(crate) fn state(&self) -> serde_json::Value {
        let p = self.dir.path().join(format!(".archkit/{}.state.json", self.name));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    /// Drops `id`'s record from the state file, as a crash between an API
    /// call and its state write would have lost it.
    pub(crate) fn forget(&self, id: &str) {
        let p = self.dir.path().join(format!(".archkit/{}.state.json", self.name));
        let mut state = self.state();
        state["resources"].as_object_mut().unwrap().remove(id).expect("the record exists");
        std::fs::write(p, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    }

    pub(crate) fn physical(&self, id: &str) -> String {
        self.state()["resources"][id]["physical_id"].as_str().unwrap().to_string()
    }

    pub(crate) fn tag_filter(&self) -> Filter {
        Filter::builder().name("tag:archkit:stack").values(&self.name).build()
    }
}

pub(crate) fn bp(s: &Stack) -> String {
    s.blueprint().to_str().unwrap().to_string()
}

pub(crate) fn ec2(url: &str) -> aws_sdk_ec2::Client {
    client!(aws_sdk_ec2, url)
}

/// Asserts a command succeeded, showing its output when not.
pub(crate) fn ok(out: &Run) {
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}

/// Asserts a `plan --json` reports nothing changed outside archkit.
pub(crate) fn assert_no_drift(plan: &Run) {
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    for c in v["changes"].as_array().unwrap() {
        assert_eq!(c["drift"], serde_json::json!([]), "false drift: {c}");
    }
}

/// One line of figures (from `--stats --json`) for the closing notes.
pub(crate) fn figures(what: &str, out: &Run, seconds: f64) {
    let st = stats(out);
    eprintln!(
        "figures: {what}: {} calls ({} reads, {} writes), {:.2}s waiting on AWS, {seconds:.2}s wall",
        st["total_calls"],
        st["read_calls"],
        st["write_calls"],
        st["total_seconds"].as_f64().unwrap_or_default()
    );
}

/// The changes of a `plan --json` that do something: id, action and the
/// properties changed.
pub(crate) fn changes(plan: &Run) -> Vec<(String, String, serde_json::Value)> {
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
                c["changed"].clone(),
            )
        })
        .collect()
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// `--stats --json` prints `{"stats": ...}` on stderr.
pub(crate) fn stats(out: &Run) -> serde_json::Value {
    out.stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("stats").cloned())
        .unwrap_or_else(|| panic!("no stats in: {}", out.stderr))
}

pub(crate) fn tags(t: &[aws_sdk_ec2::types::Tag]) -> std::collections::BTreeMap<String, String> {
    t.iter()
        .map(|t| {
            (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn network_applies_reads_back_converges_and_destroys_cleanly() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "net");
    let b = bp(&s);
    let out = s.run(&["apply", &b, "--auto-approve", "--json", "--stats"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let apply_stats = stats(&out);

    let client = ec2(&url);
    rt().block_on(async {
        let vpc_id = s.physical("vpc");
        let vpcs = client.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
        let vpc = &vpcs.vpcs()[0];
        assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
        let t = tags(vpc.tags());
        assert_eq!(t["archkit:stack"], s.name);
        assert_eq!(t["archkit:id"], "vpc");
        assert_eq!(t["Name"], format!("{}-vpc", s.name));
        let dns = client
            .describe_vpc_attribute()
            .vpc_id(&vpc_id)
            .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap();
        assert_eq!(dns.enable_dns_hostnames().and_then(|v| v.value()), Some(true));

        let subnets = client.describe_subnets().filters(s.tag_filter()).send().await.unwrap();
        assert_eq!(subnets.subnets().len(), 4);
        for sn in subnets.subnets() {
            let id = tags(sn.tags())["archkit:id"].clone();
            assert_eq!(sn.vpc_id(), Some(vpc_id.as_str()));
            let public = id.starts_with("public");
            assert_eq!(sn.map_public_ip_on_launch(), Some(public), "{id}");
            let zone = if id.ends_with("one") { "us-east-1a" } else { "us-east-1b" };
            assert_eq!(sn.availability_zone(), Some(zone), "{id}");
        }

        let igws =
            client.describe_internet_gateways().filters(s.tag_filter()).send().await.unwrap();
        assert_eq!(igws.internet_gateways()[0].attachments()[0].vpc_id(), Some(vpc_id.as_str()));

        // moto ignores the tag filter of DescribeNatGateways: check tags here.
        let nats = client.describe_nat_gateways().send().await.unwrap();
        let ours = |n: &&aws_sdk_ec2::types::NatGateway| {
            tags(n.tags()).get("archkit:stack") == Some(&s.name)
        };
        assert_eq!(nats.nat_gateways().iter().filter(ours).count(), 2);
        let addresses = client.describe_addresses().filters(s.tag_filter()).send().await.unwrap();
        assert_eq!(addresses.addresses().len(), 2);

        let public_rt = s.physical("public_route_table");
        let tables =
            client.describe_route_tables().route_table_ids(&public_rt).send().await.unwrap();
        let t = &tables.route_tables()[0];
        let default =
            t.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).unwrap();
        assert_eq!(default.gateway_id(), Some(s.physical("internet_gateway").as_str()));
        assert_eq!(t.associations().iter().filter(|a| a.subnet_id().is_some()).count(), 2);
        let private = client
            .describe_route_tables()
            .route_table_ids(s.physical("private_route_table_one"))
            .send()
            .await
            .unwrap();
        let r = private.route_tables()[0]
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .unwrap()
            .clone();
        assert_eq!(r.nat_gateway_id(), Some(s.physical("nat_gateway_one").as_str()));

        let sgs = client
            .describe_security_groups()
            .group_ids(s.physical("public_load_balancer_sg"))
            .send()
            .await
            .unwrap();
        let ingress = sgs.security_groups()[0].ip_permissions();
        assert_eq!(ingress.len(), 1);
        assert_eq!(ingress[0].from_port(), Some(80));
        assert_eq!(ingress[0].ip_ranges()[0].cidr_ip(), Some("0.0.0.0/0"));
        let rules = client
            .describe_security_group_rules()
            .filters(
                Filter::builder()
                    .name("group-id")
                    .values(s.physical("fargate_container_sg"))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let sources: Vec<_> = rules
            .security_group_rules()
            .iter()
            .filter(|r| !r.is_egress().unwrap_or(false))
            .filter_map(|r| {
                r.referenced_group_info().and_then(|g| g.group_id()).map(str::to_string)
            })
            .collect();
        assert!(sources.contains(&s.physical("public_load_balancer_sg")), "{sources:?}");
        assert!(sources.contains(&s.physical("fargate_container_sg")), "{sources:?}");
    });

    // No changes after apply; at most one read call per resource kind.
    let plan = s.run(&["plan", &b, "--detailed-exitcode", "--json", "--stats"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let plan_stats = stats(&plan);
    let kinds = 12;
    let reads = plan_stats["read_calls"].as_u64().unwrap();
    // + DescribeAvailabilityZones for `${azs[N]}`.
    assert!(reads <= kinds + 1, "{reads} read calls for {kinds} kinds: {plan_stats}");
    assert_eq!(plan_stats["write_calls"], 0);

    // A second apply makes no write call.
    let again = s.run(&["apply", &b, "--auto-approve", "--json", "--stats"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(stats(&again)["write_calls"], 0, "{}", again.stderr);
    eprintln!(
        "figures: apply {} calls ({} writes); no-change plan {} reads",
        apply_stats["total_calls"], apply_stats["write_calls"], reads
    );

    // Destroy: nothing tagged with the stack remains, kind by kind (moto's
    // tagging API does not list EIPs or endpoints), and the state is empty.
    let out = s.run(&["destroy", &b, "--auto-approve", "--json", "--stats"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // A subnet or group is deleted in one call: a Lambda function's
    // interfaces are looked for only when AWS refuses the delete.
    let ops = stats(&out)["operations"].clone();
    assert!(
        !ops.as_array().unwrap().iter().any(|o| o["operation"] == "DescribeNetworkInterfaces"),
        "{ops}"
    );
    let order = finished_ids(&out.stdout);
    let pos =
        |id: &str| order.iter().position(|o| o == id).unwrap_or_else(|| panic!("{id} not deleted"));
    // NAT gateways gone before their EIPs are released, and both before the
    // gateway is detached (AWS refuses otherwise; moto does not check).
    assert!(pos("nat_gateway_one") < pos("nat_one_eip"));
    assert!(pos("nat_gateway_two") < pos("nat_two_eip"));
    assert!(pos("nat_one_eip") < pos("gateway_attachment"));
    assert!(pos("nat_two_eip") < pos("gateway_attachment"));
    // Cross-referencing rules before their groups; subnets before the VPC.
    assert!(pos("ecs_ingress_from_public_alb") < pos("public_load_balancer_sg"));
    assert!(pos("private_subnet_one") < pos("vpc"));
    rt().block_on(async {
        let f = || s.tag_filter();
        assert!(client.describe_vpcs().filters(f()).send().await.unwrap().vpcs().is_empty());
        assert!(client.describe_subnets().filters(f()).send().await.unwrap().subnets().is_empty());
        assert!(
            client
                .describe_internet_gateways()
                .filters(f())
                .send()
                .await
                .unwrap()
                .internet_gateways()
                .is_empty()
        );
        assert!(
            client.describe_addresses().filters(f()).send().await.unwrap().addresses().is_empty()
        );
        assert!(
            client
                .describe_route_tables()
                .filters(f())
                .send()
                .await
                .unwrap()
                .route_tables()
                .is_empty()
        );
        assert!(
            client
                .describe_security_groups()
                .filters(f())
                .send()
                .await
                .unwrap()
                .security_groups()
                .is_empty()
        );
        assert!(
            client
                .describe_security_group_rules()
                .filters(f())
                .send()
                .await
                .unwrap()
                .security_group_rules()
                .is_empty()
        );
        let nats = client.describe_nat_gateways().send().await.unwrap();
        let ours = |n: &&aws_sdk_ec2::types::NatGateway| {
            tags(n.tags()).get("archkit:stack") == Some(&s.name)
        };
        assert!(
            nats.nat_gateways()
                .iter()
                .filter(ours)
                .all(|n| n.state().is_some_and(|s| s.as_str() == "deleted"))
        );
    });
    let state = s.state();
    assert!(state["resources"].as_object().unwrap().is_empty());
    assert!(state["pending"].as_array().unwrap().is_empty());
}

#[test]
fn mutable_changes_update_in_place_and_immutable_ones_replace() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "upd");
    let b = bp(&s);
    assert_eq!(s.run(&["apply", &b, "--auto-approve"]).code, 0);
    let old_subnet = s.physical("private_subnet_two");

    // A mutable property and a tag: update in place.
    s.edit(
        "      availability_zone: ${azs[0]}\n\n  private_subnet_two:",
        "      availability_zone: ${azs[0]}\n      map_public_ip_on_launch: true\n      tags: {tier: private}\n\n  private_subnet_two:",
    );
    // An immutable one: a replacement naming it.
    s.edit(
        "  private_subnet_two_cidr:\n    default: 10.0.3.0/24",
        "  private_subnet_two_cidr:\n    default: 10.0.9.0/24",
    );
    let plan = s.run(&["plan", &b, "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let change =
        |id: &str| v["changes"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    let one = change("private_subnet_one");
    assert_eq!(one["action"], "update");
    assert_eq!(one["changed"], serde_json::json!(["map_public_ip_on_launch", "tags"]));
    let two = change("private_subnet_two");
    assert_eq!(two["action"], "replace");
    assert_eq!(two["replace_because"], serde_json::json!(["cidr_block"]));
    // Its association follows the new subnet.
    assert_eq!(change("private_subnet_two_association")["action"], "replace");
    let human = s.run(&["plan", &b]);
    assert!(human.stdout.contains("replace: `cidr_block` forces replacement"), "{}", human.stdout);

    let out = s.run(&["apply", &b, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_ne!(s.physical("private_subnet_two"), old_subnet);
    let plan = s.run(&["plan", &b, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    rt().block_on(async {
        let client = ec2(&url);
        let sn = client
            .describe_subnets()
            .subnet_ids(s.physical("private_subnet_one"))
            .send()
            .await
            .unwrap();
        assert_eq!(sn.subnets()[0].map_public_ip_on_launch(), Some(true));
        assert_eq!(tags(sn.subnets()[0].tags())["tier"], "private");
        let gone = client
            .describe_subnets()
            .filters(Filter::builder().name("subnet-id").values(&old_subnet).build())
            .send()
            .await
            .unwrap();
        assert!(gone.subnets().is_empty(), "the replaced subnet was deleted");
    });
    assert_eq!(s.run(&["destroy", &b, "--auto-approve"]).code, 0);
}

#[test]
fn out_of_band_deletion_and_modification_are_planned() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "oob");
    let b = bp(&s);
    assert_eq!(s.run(&["apply", &b, "--auto-approve"]).code, 0);
    rt().block_on(async {
        let client = ec2(&url);
        client
            .revoke_security_group_ingress()
            .group_id(s.physical("fargate_container_sg"))
            .security_group_rule_ids(s.physical("ecs_ingress_from_self"))
            .send()
            .await
            .unwrap();
        client
            .modify_subnet_attribute()
            .subnet_id(s.physical("public_subnet_one"))
            .map_public_ip_on_launch(
                aws_sdk_ec2::types::AttributeBooleanValue::builder().value(false).build(),
            )
            .send()
            .await
            .unwrap();
    });
    let plan = s.run(&["plan", &b, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let change =
        |id: &str| v["changes"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    let rule = change("ecs_ingress_from_self");
    assert_eq!(
        (rule["action"].clone(), rule["reason"].clone()),
        ("create".into(), "deleted_outside".into())
    );
    let sn = change("public_subnet_one");
    assert_eq!(sn["action"], "update");
    assert_eq!(sn["drift"], serde_json::json!(["map_public_ip_on_launch"]));
    let human = s.run(&["plan", &b]);
    assert!(human.stdout.contains("changed outside archkit"), "{}", human.stdout);
    assert!(human.stdout.contains("deleted outside archkit"), "{}", human.stdout);
    let out = s.run(&["apply", &b, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = s.run(&["plan", &b, "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{}{}", after.stdout, after.stderr);
    assert_eq!(s.run(&["destroy", &b, "--auto-approve"]).code, 0);
}

#[test]
fn reads_do_not_grow_with_the_number_of_resources() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "scale");
    let b = bp(&s);
    assert_eq!(s.run(&["apply", &b, "--auto-approve"]).code, 0);
    let base = s.run(&["plan", &b, "--json", "--stats", "--detailed-exitcode"]);
    assert_eq!(base.code, 0, "{}", base.stdout);
    // Four times as many subnets (4 → 16) and security groups (2 → 8).
    let f = s.blueprint().join("blueprint.yaml");
    let mut text = std::fs::read_to_string(&f).unwrap();
    let mut extra = String::from("\n");
    for k in 0..12 {
        extra.push_str(&format!(
            "  extra_subnet_{k}:\n    type: aws.ec2.subnet\n    properties:\n      vpc_id: ${{vpc.id}}\n      cidr_block: 10.0.{}.0/24\n      availability_zone: ${{azs[{}]}}\n",
            20 + k,
            k % 2
        ));
    }
    for k in 0..6 {
        extra.push_str(&format!(
            "  extra_sg_{k}:\n    type: aws.ec2.security_group\n    properties:\n      description: extra {k}\n      vpc_id: ${{vpc.id}}\n"
        ));
    }
    let at = text.find("\noutputs:").unwrap();
    text.insert_str(at, &extra);
    std::fs::write(&f, text).unwrap();
    let big = s.run(&["apply", &b, "--auto-approve"]);
    assert_eq!(big.code, 0, "{}", big.stderr);
    let plan = s.run(&["plan", &b, "--json", "--stats", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    let (r1, r2) = (
        stats(&base)["read_calls"].as_u64().unwrap(),
        stats(&plan)["read_calls"].as_u64().unwrap(),
    );
    eprintln!(
        "figures: no-change plan read calls: {r1} for the network blueprint (25 resources), \
         {r2} with 4x subnets and security groups (43 resources)"
    );
    assert_eq!(r1, r2, "read calls grew with the number of resources");
    assert_eq!(s.run(&["destroy", &b, "--auto-approve"]).code, 0);
}

#[test]
fn missing_region_or_credentials_is_one_clear_error() {
    // No moto needed: the error comes before any call. IMDS is disabled so
    // nothing probes the metadata address.
    let home = tempfile::tempdir().unwrap();
    let mut base = archkit(home.path());
    base.env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .stdin(std::process::Stdio::null());
    let no_region = run(Command::new(base.get_program())
        .args(["plan", "fargate-public-private"])
        .envs(base.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("AWS_REGION")
        .current_dir(home.path()));
    assert_eq!(no_region.code, 1, "{}", no_region.stderr);
    assert!(no_region.stderr.contains("archkit::aws::no_region"), "{}", no_region.stderr);
    assert!(no_region.stderr.contains("--region"), "{}", no_region.stderr);
    let no_creds = run(base.args(["plan", "fargate-public-private", "--region", "eu-west-1"]));
    assert_eq!(no_creds.code, 1, "{}", no_creds.stderr);
    assert!(no_creds.stderr.contains("archkit::aws::no_credentials"), "{}", no_creds.stderr);
    assert!(!no_creds.stderr.contains("panicked"));
}

pub(crate) fn iam(url: &str) -> aws_sdk_iam::Client {
    client!(aws_sdk_iam, url)
}

/// S3 against the emulator needs path-style addressing.
pub(crate) fn s3(url: &str) -> aws_sdk_s3::Client {
    use aws_sdk_s3 as k;
    let creds = k::config::Credentials::new("testing", "testing", None, None, "test");
    k::Client::from_conf(
        k::Config::builder()
            .behavior_version(k::config::BehaviorVersion::latest())
            .region(k::config::Region::new("us-east-1"))
            .endpoint_url(url)
            .force_path_style(true)
            .credentials_provider(creds)
            .build(),
    )
}

pub(crate) fn logs(url: &str) -> aws_sdk_cloudwatchlogs::Client {
    client!(aws_sdk_cloudwatchlogs, url)
}

#[test]
fn iam_roles_and_log_groups_apply_update_and_destroy() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "iam");
    let b = crate::util::fixtures().join("iam-logs");
    let b = b.to_str().unwrap();
    let out = s.run(&["apply", b, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let role = s.physical("execution_role");
    let group = s.physical("logs");
    assert_eq!(group, format!("/archkit/{}/logs", s.name));
    rt().block_on(async {
        let iam = iam(&url);
        let r = iam.get_role().role_name(&role).send().await.unwrap();
        let r = r.role().unwrap();
        assert_eq!(r.path(), format!("/archkit/{}/", s.name));
        let t = r
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect::<std::collections::BTreeMap<_, _>>();
        assert_eq!(t["archkit:stack"], s.name);
        assert_eq!(t["team"], "platform");
        let attached = iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
        assert_eq!(
            attached.attached_policies()[0].policy_name(),
            Some("AmazonECSTaskExecutionRolePolicy")
        );
        let inline =
            iam.get_role_policy().role_name(&role).policy_name("write-logs").send().await.unwrap();
        // The reference to the log group's ARN was resolved before use.
        assert!(inline.policy_document().contains("log-group"), "{}", inline.policy_document());
        let l =
            logs(&url).describe_log_groups().log_group_name_prefix(&group).send().await.unwrap();
        assert_eq!(l.log_groups()[0].retention_in_days(), Some(14));
    });
    let plan = s.run(&["plan", b, "--detailed-exitcode", "--json", "--stats"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    let reads = stats(&plan)["read_calls"].as_u64().unwrap();
    assert!(reads <= 3, "{reads} reads for 2 kinds (+ zones)");

    // Retention is changed in place.
    let out = s.run(&["plan", b, "--var", "retention=30", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let c = v["changes"].as_array().unwrap().iter().find(|c| c["id"] == "logs").unwrap().clone();
    assert_eq!(
        (c["action"].as_str(), c["changed"].clone()),
        (Some("update"), serde_json::json!(["retention_in_days"]))
    );
    assert_eq!(s.run(&["apply", b, "--var", "retention=30", "--auto-approve"]).code, 0);
    assert_eq!(s.run(&["plan", b, "--var", "retention=30", "--detailed-exitcode"]).code, 0);

    let out = s.run(&["destroy", b, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    rt().block_on(async {
        let gone = iam(&url).get_role().role_name(&role).send().await;
        assert!(gone.is_err(), "the role is deleted");
        let l =
            logs(&url).describe_log_groups().log_group_name_prefix(&group).send().await.unwrap();
        assert!(l.log_groups().is_empty(), "the log group is deleted");
    });
}

/// Issue 13 (2): the internet gateway's attachment record lost (a crash
/// between the attach call and its state write; attachments carry no
/// tags to find them by) no longer strands the gateway at destroy: its
/// delete detaches it from whatever it is attached to. moto refuses to
/// delete an attached gateway (DependencyViolation), as AWS does.
#[test]
fn a_gateway_whose_attachment_record_was_lost_is_detached_and_deleted() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "igw-lost");
    ok(&s.run(&["apply", &bp(&s), "--auto-approve"]));
    let igw = s.physical("internet_gateway");
    s.forget("gateway_attachment");

    let started = std::time::Instant::now();
    let out = s.run(&["destroy", &bp(&s), "--auto-approve"]);
    ok(&out);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
    rt().block_on(async {
        let left =
            ec2(&url).describe_internet_gateways().filters(s.tag_filter()).send().await.unwrap();
        assert!(left.internet_gateways().is_empty(), "the gateway {igw} is left");
        let vpcs = ec2(&url).describe_vpcs().filters(s.tag_filter()).send().await.unwrap();
        assert!(vpcs.vpcs().is_empty(), "the VPC is left");
    });
}

/// Issue 13 (2): an untaggable resource whose create answer was lost (the
/// gateway attached, the record not written) is found again by its
/// parent and content on the rerun instead of failing every time with
/// `Resource.AlreadyAssociated`.
#[test]
fn a_lost_gateway_attachment_is_found_again_on_the_rerun() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "igw-rerun");
    ok(&s.run(&["apply", &bp(&s), "--auto-approve"]));
    let attachment = s.physical("gateway_attachment");
    s.forget("gateway_attachment");

    let out = s.run(&["apply", &bp(&s), "--auto-approve"]);
    ok(&out);
    assert_eq!(s.physical("gateway_attachment"), attachment);
    let plan = s.run(&["plan", &bp(&s), "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    ok(&s.run(&["destroy", &bp(&s), "--auto-approve"]));
}

/// Issue 13 (1): a log group with a custom name whose create answer was
/// lost (the group made, the record not written) is outside the stack's
/// `/archkit/<stack>/` prefix, so no read finds it; the rerun's create
/// recognises it by its tags instead of failing every time with
/// `ResourceAlreadyExistsException`. Another stack's group of the same
/// name is never taken.
#[test]
fn a_custom_named_log_group_whose_create_was_lost_is_recognised() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "logs-lost");
    let dir = s.dir_path().join("bp");
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("/custom/{}/app", s.name);
    std::fs::write(
        dir.join("blueprint.yaml"),
        format!("name: logs-lost\nresources:\n  app:\n    type: aws.logs.log_group\n    properties: {{name: \"{name}\"}}\n"),
    )
    .unwrap();
    let b = dir.to_str().unwrap();
    let make = |stack: &str| {
        rt().block_on(async {
            logs(&url)
                .create_log_group()
                .log_group_name(&name)
                .tags("archkit:stack", stack)
                .tags("archkit:id", "app")
                .send()
                .await
                .unwrap();
        })
    };
    // Another stack's group of that name: refused, not adopted.
    make("someone-else");
    let out = s.run(&["apply", b, "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("ResourceAlreadyExists"), "{}", out.stderr);
    rt().block_on(async {
        logs(&url).delete_log_group().log_group_name(&name).send().await.unwrap()
    });
    // This stack's own group, as the lost create left it: recognised.
    make(&s.name);
    ok(&s.run(&["apply", b, "--auto-approve"]));
    assert_eq!(s.physical("app"), name);
    assert_eq!(s.run(&["plan", b, "--detailed-exitcode"]).code, 0);
    ok(&s.run(&["destroy", b, "--auto-approve"]));
    let left = rt().block_on(async {
        logs(&url).describe_log_groups().log_group_name_prefix(&name).send().await.unwrap()
    });
    assert!(left.log_groups().is_empty(), "the group is deleted");
}

/// Issue 13 (9): two state files, one stack name, one account (two people
/// running `archkit apply` of one blueprint from two checkouts): every
/// resource carries its state's lineage, so the second state neither
/// adopts, changes nor deletes the first one's resources; it refuses with
/// the other lineage named, and the first state still owns its stack.
#[test]
fn a_second_state_of_the_same_stack_name_is_refused() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "two-states");
    ok(&s.run(&["apply", &bp(&s), "--auto-approve"]));
    let lineage = s.state()["lineage"].as_str().unwrap().to_string();
    let vpc = s.physical("vpc");
    let t = rt().block_on(async {
        let out = ec2(&url).describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        tags(out.vpcs()[0].tags())
    });
    assert_eq!(t.get("archkit:lineage"), Some(&lineage), "{t:?}");

    let other = s.dir_path().join("other.state.json");
    let other = other.to_str().unwrap();
    for cmd in [&["plan", &bp(&s)][..], &["apply", &bp(&s), "--auto-approve"]] {
        let out = s.run(&[&["--state", other][..], cmd].concat());
        assert_eq!(out.code, 1, "{cmd:?}: {}", out.stderr);
        assert!(out.stderr.contains("archkit::plan::other_state"), "{}", out.stderr);
        assert!(out.stderr.contains(&lineage), "{}", out.stderr);
    }
    let out = s.run(&["--state", other, "destroy", &bp(&s), "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    // Nothing of the first state's was touched.
    assert_eq!(s.run(&["plan", &bp(&s), "--detailed-exitcode"]).code, 0);
    ok(&s.run(&["destroy", &bp(&s), "--auto-approve"]));
}
