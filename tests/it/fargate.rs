//! End-to-end test of the whole `fargate-public-private` blueprint against
//! moto: two stacks side by side, SDK read-back of the service, the load
//! balancer and the target group, a no-change plan, an image change (new
//! task-definition revision, service updated in place), switching to one
//! shared NAT gateway, and destroys that leave nothing behind.
//!
//! moto runs no tasks and drains nothing (`MOTO_ECS_SERVICE_RUNNING` fakes
//! a completed rollout): what this proves is the API calls, their order
//! and the state archkit keeps, not AWS's timing.

use crate::moto::{Stack, ec2, figures, iam, logs, ok, require_moto, rt, stats};
use crate::util::Run;
use crate::util::finished_ids;

const BP: &str = "fargate-public-private";

fn ecs(url: &str) -> aws_sdk_ecs::Client {
    client!(aws_sdk_ecs, url)
}

fn elb(url: &str) -> aws_sdk_elasticloadbalancingv2::Client {
    client!(aws_sdk_elasticloadbalancingv2, url)
}

fn timed(s: &Stack, args: &[&str]) -> (Run, f64) {
    let t = std::time::Instant::now();
    let out = s.run(args);
    (out, t.elapsed().as_secs_f64())
}

/// The plan's change of one resource, from `plan --json`.
fn change(plan: &Run, id: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no change for {id}: {}", plan.stdout))
        .clone()
}

/// Everything of a stack that still exists, service by service (moto's
/// tagging API does not list IAM roles or EIPs, and keeps deleted NAT
/// gateways and inactive ECS objects).
pub(crate) async fn leftovers(url: &str, s: &Stack) -> Vec<String> {
    let mut left = Vec::new();
    let ec2 = ec2(url);
    let f = || s.tag_filter();
    let vpcs = ec2.describe_vpcs().filters(f()).send().await.unwrap();
    left.extend(vpcs.vpcs().iter().map(|v| format!("{:?}", v.vpc_id())));
    let subnets = ec2.describe_subnets().filters(f()).send().await.unwrap();
    left.extend(subnets.subnets().iter().map(|v| format!("{:?}", v.subnet_id())));
    let sgs = ec2.describe_security_groups().filters(f()).send().await.unwrap();
    left.extend(sgs.security_groups().iter().map(|v| format!("{:?}", v.group_id())));
    let eips = ec2.describe_addresses().filters(f()).send().await.unwrap();
    left.extend(eips.addresses().iter().map(|v| format!("{:?}", v.allocation_id())));
    let rts = ec2.describe_route_tables().filters(f()).send().await.unwrap();
    left.extend(rts.route_tables().iter().map(|v| format!("{:?}", v.route_table_id())));
    let igws = ec2.describe_internet_gateways().filters(f()).send().await.unwrap();
    left.extend(igws.internet_gateways().iter().map(|v| format!("{:?}", v.internet_gateway_id())));
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    left.extend(
        nats.nat_gateways()
            .iter()
            .filter(|n| crate::moto::tags(n.tags()).get("archkit:stack") == Some(&s.name))
            .filter(|n| !matches!(n.state(), Some(aws_sdk_ec2::types::NatGatewayState::Deleted)))
            .map(|n| format!("{:?}", n.nat_gateway_id())),
    );

    let elb = elb(url);
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    let tgs = elb.describe_target_groups().send().await.unwrap();
    let arns: Vec<String> = lbs
        .load_balancers()
        .iter()
        .filter_map(|l| l.load_balancer_arn().map(str::to_string))
        .chain(tgs.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_string)))
        .collect();
    // Tests run side by side on one moto: another test can delete its load
    // balancer between the listing and DescribeTags, which then fails for
    // the whole batch. Ask one by one then, and skip the ones gone.
    let mut described = Vec::new();
    for chunk in arns.chunks(20) {
        match elb.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await {
            Ok(t) => described.extend(t.tag_descriptions().iter().cloned()),
            Err(_) => {
                for arn in chunk {
                    match elb.describe_tags().resource_arns(arn).send().await {
                        Ok(t) => described.extend(t.tag_descriptions().iter().cloned()),
                        Err(e)
                            if e.as_service_error().is_some_and(|e| {
                                e.is_load_balancer_not_found_exception()
                                    || e.is_target_group_not_found_exception()
                            }) => {}
                        Err(e) => panic!("describe tags of {arn}: {e:?}"),
                    }
                }
            }
        }
    }
    for d in &described {
        if d.tags().iter().any(|t| t.key() == Some("archkit:stack") && t.value() == Some(&s.name)) {
            left.push(d.resource_arn().unwrap_or_default().to_string());
        }
    }

    let ecs = ecs(url);
    let clusters = ecs.list_clusters().send().await.unwrap();
    let described = ecs
        .describe_clusters()
        .set_clusters(Some(clusters.cluster_arns().to_vec()))
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .send()
        .await
        .unwrap();
    for c in described.clusters() {
        let ours =
            c.tags().iter().any(|t| t.key() == Some("archkit:stack") && t.value() == Some(&s.name));
        if ours && c.status() == Some("ACTIVE") {
            left.push(c.cluster_arn().unwrap_or_default().to_string());
        }
        if ours {
            let svcs = ecs.list_services().cluster(c.cluster_arn().unwrap()).send().await.unwrap();
            if !svcs.service_arns().is_empty() {
                let d = ecs
                    .describe_services()
                    .cluster(c.cluster_arn().unwrap())
                    .set_services(Some(svcs.service_arns().to_vec()))
                    .send()
                    .await
                    .unwrap();
                left.extend(
                    d.services()
                        .iter()
                        .filter(|v| v.status() == Some("ACTIVE"))
                        .map(|v| v.service_arn().unwrap_or_default().to_string()),
                );
            }
        }
    }
    for status in [
        aws_sdk_ecs::types::TaskDefinitionStatus::Active,
        aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
    ] {
        // Not `family_prefix`: moto matches it against the whole family.
        let tds = ecs.list_task_definitions().status(status).send().await.unwrap();
        let ours = format!("task-definition/{}-", s.name);
        left.extend(tds.task_definition_arns().iter().filter(|a| a.contains(&ours)).cloned());
    }

    let roles =
        iam(url).list_roles().path_prefix(format!("/archkit/{}/", s.name)).send().await.unwrap();
    left.extend(roles.roles().iter().map(|r| r.role_name().to_string()));
    let groups = logs(url)
        .describe_log_groups()
        .log_group_name_prefix(format!("/archkit/{}/", s.name))
        .send()
        .await
        .unwrap();
    left.extend(groups.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)));
    left
}

#[test]
fn fargate_service_behind_alb_applies_updates_coexists_and_destroys() {
    let Some(url) = require_moto() else { return };
    let a = Stack::new(&url, "fga");
    let b = Stack::new(&url, "fgb");
    let bp_a = a.builtin(BP);
    let bp_b = b.builtin(BP);

    // Both stacks of the same blueprint apply in one account and region.
    let (out, secs) = timed(&a, &["apply", &bp_a, "--auto-approve", "--json", "--stats"]);
    ok(&out);
    let resources = a.state()["resources"].as_object().unwrap().len();
    assert_eq!(resources, 34);
    figures(&format!("apply of {resources} resources"), &out, secs);
    ok(&b.run(&["apply", &bp_b, "--auto-approve"]));

    rt().block_on(async {
        let ecs = ecs(&url);
        let elb = elb(&url);
        let svc_arn = a.physical("service");
        let cluster = a.physical("cluster");
        assert_ne!(cluster, b.physical("cluster"), "each stack has its cluster");
        let d = ecs.describe_services().cluster(&cluster).services(&svc_arn).send().await.unwrap();
        let svc = &d.services()[0];
        assert_eq!(svc.status(), Some("ACTIVE"));
        assert_eq!(svc.desired_count(), 2);
        assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
        // In the private subnets, without public IPs.
        let vpc = svc.network_configuration().and_then(|n| n.awsvpc_configuration()).unwrap();
        let mut subnets = vpc.subnets().to_vec();
        subnets.sort();
        let mut private = vec![a.physical("private_subnet_one"), a.physical("private_subnet_two")];
        private.sort();
        assert_eq!(subnets, private);
        assert_eq!(vpc.assign_public_ip(), Some(&aws_sdk_ecs::types::AssignPublicIp::Disabled));
        assert_eq!(vpc.security_groups(), [a.physical("fargate_container_sg")]);
        // Attached to the target group, which takes IP targets.
        let tg_arn = a.physical("target_group");
        assert_eq!(svc.load_balancers()[0].target_group_arn(), Some(tg_arn.as_str()));
        assert_eq!(svc.load_balancers()[0].container_port(), Some(80));
        let tg = elb.describe_target_groups().target_group_arns(&tg_arn).send().await.unwrap();
        let tg = &tg.target_groups()[0];
        assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
        assert_eq!(tg.health_check_interval_seconds(), Some(6));
        assert!(tg.target_group_name().unwrap().len() <= 32);
        // The task definition: Fargate, awsvpc, logs to the stack's group.
        let td = ecs
            .describe_task_definition()
            .task_definition(a.physical("task_definition"))
            .send()
            .await
            .unwrap();
        let td = td.task_definition().unwrap();
        assert_eq!((td.cpu(), td.memory()), (Some("256"), Some("512")));
        assert_eq!(td.network_mode().map(|n| n.as_str()), Some("awsvpc"));
        let c = &td.container_definitions()[0];
        assert_eq!(c.image(), Some("public.ecr.aws/nginx/nginx:stable"));
        let opts = c.log_configuration().unwrap().options().unwrap();
        assert_eq!(
            opts.get("awslogs-group").map(String::as_str),
            Some(a.physical("log_group").as_str())
        );
        assert_eq!(
            td.execution_role_arn().unwrap().rsplit('/').next(),
            Some(a.physical("execution_role").as_str())
        );
        // The ALB: internet-facing, in the public subnets, listening on 80.
        let lb_arn = a.physical("public_load_balancer");
        let lbs = elb.describe_load_balancers().load_balancer_arns(&lb_arn).send().await.unwrap();
        let lb = &lbs.load_balancers()[0];
        assert_eq!(lb.scheme().map(|s| s.as_str()), Some("internet-facing"));
        let mut lb_subnets: Vec<String> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect();
        lb_subnets.sort();
        let mut public = vec![a.physical("public_subnet_one"), a.physical("public_subnet_two")];
        public.sort();
        assert_eq!(lb_subnets, public);
        let attrs = elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .unwrap();
        assert!(attrs.attributes().iter().any(
            |a| a.key() == Some("idle_timeout.timeout_seconds") && a.value() == Some("30")
        ));
        let listeners = elb.describe_listeners().load_balancer_arn(&lb_arn).send().await.unwrap();
        assert_eq!(listeners.listeners().len(), 1);
        assert_eq!(listeners.listeners()[0].port(), Some(80));
        let rules =
            elb.describe_rules().listener_arn(a.physical("public_listener")).send().await.unwrap();
        let rule = rules.rules().iter().find(|r| r.is_default() != Some(true)).unwrap();
        assert_eq!(
            rule.actions()[0].target_group_arn(),
            Some(tg_arn.as_str()),
            "the rule forwards to the service's target group"
        );
    });
    // The service URL is the load balancer's DNS name.
    let again = a.run(&["apply", &bp_a, "--auto-approve", "--json"]);
    ok(&again);
    let outputs: serde_json::Value = again
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "outputs")
        .expect("an outputs event");
    let dns = a.state()["resources"]["public_load_balancer"]["attributes"]["dns_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(outputs["outputs"]["service_url"], format!("http://{dns}"));
    // Scripts read them back from state alone: no AWS call (the endpoint
    // given here answers nothing) and no blueprint.
    let out = crate::util::run(&mut a.cmd_at("http://127.0.0.1:9", &["output", "service_url"]));
    ok(&out);
    assert_eq!(out.stdout, format!("http://{dns}\n"));
    let out = crate::util::run(&mut a.cmd_at("http://127.0.0.1:9", &["output", "--json"]));
    ok(&out);
    let all: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(all["service_url"], format!("http://{dns}"));
    let out = a.run(&["output", "no_such_output"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("has no output `no_such_output`"), "{}", out.stderr);
    assert!(out.stderr.contains("service_url"), "the help names the outputs: {}", out.stderr);

    // Nothing to do right after apply.
    let (plan, secs) = timed(&a, &["plan", &bp_a, "--detailed-exitcode", "--json", "--stats"]);
    ok(&plan);
    assert_eq!(stats(&plan)["write_calls"], 0);
    crate::moto::assert_no_drift(&plan);
    figures("no-change plan", &plan, secs);
    // Kinds share their listings (issue 16): one DescribeLoadBalancers for
    // the load balancer, listener and rule kinds, one DescribeRouteTables
    // for tables, routes and associations, one ListClusters, one
    // DescribeInternetGateways, and one DescribeTags for the stack's load
    // balancers, target groups, listeners and rules together.
    for op in stats(&plan)["operations"].as_array().unwrap() {
        assert_eq!(op["calls"].as_u64().unwrap(), 1, "read more than once: {op}");
    }
    assert!(stats(&plan)["read_calls"].as_u64().unwrap() <= 25, "{}", plan.stderr);
    // The stack's cost, read back from what exists: the same as planned,
    // and a no-change plan changes none of it; a destroy stops all of it.
    let cost: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let cost = &cost["cost"];
    assert!((cost["hourly"].as_f64().unwrap() - 0.157185).abs() < 1e-6, "{cost}");
    assert_eq!(cost["change"]["hourly"], 0.0);
    let destroy = a.run(&["plan", &bp_a, "--destroy", "--json"]);
    ok(&destroy);
    let destroy: serde_json::Value = serde_json::from_str(&destroy.stdout).unwrap();
    assert_eq!(destroy["cost"]["hourly"], 0.0);
    assert!((destroy["cost"]["change"]["hourly"].as_f64().unwrap() + 0.157185).abs() < 1e-6);
    let human = a.run(&["plan", &bp_a, "--destroy"]);
    assert!(
        human.stdout.contains("Destroying stops $0.1572/h ($114.75/month)"),
        "{}",
        human.stdout
    );

    // A new image: a new task-definition revision and an in-place service
    // update, never a new service.
    let image = ["--var", "image=public.ecr.aws/nginx/nginx:1.27"];
    let plan = a.run(&[&["plan", &bp_a, "--json", "--detailed-exitcode"][..], &image[..]].concat());
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    let td = change(&plan, "task_definition");
    assert_eq!(td["action"], "replace");
    assert_eq!(td["replace_because"], serde_json::json!(["containers"]));
    let svc = change(&plan, "service");
    assert_eq!(svc["action"], "update");
    assert_eq!(svc["changed"], serde_json::json!(["task_definition"]));
    let old_td = a.physical("task_definition");
    let (out, secs) = timed(
        &a,
        &[&["apply", &bp_a, "--auto-approve", "--json", "--stats"][..], &image[..]].concat(),
    );
    ok(&out);
    figures("image change apply", &out, secs);
    let new_td = a.physical("task_definition");
    assert_ne!(old_td, new_td);
    ok(&a.run(&[&["plan", &bp_a, "--detailed-exitcode"][..], &image[..]].concat()));
    rt().block_on(async {
        let ecs = ecs(&url);
        let d = ecs
            .describe_services()
            .cluster(a.physical("cluster"))
            .services(a.physical("service"))
            .send()
            .await
            .unwrap();
        assert_eq!(d.services()[0].task_definition(), Some(new_td.as_str()));
        // The old revision is deregistered.
        let old = ecs.describe_task_definition().task_definition(&old_td).send().await;
        assert!(
            old.as_ref().map_or(true, |o| o
                .task_definition()
                .and_then(|t| t.status())
                .is_some_and(|s| s.as_str() != "ACTIVE")),
            "{old:?}"
        );
    });

    // One shared NAT gateway: the second zone's route moves to the first
    // gateway, then the second gateway and its address go.
    let shared = [&image[..], &["--var", "nat_gateway_per_az=false"][..]].concat();
    let plan = a.run(&[&["plan", &bp_a, "--json"][..], &shared[..]].concat());
    ok(&plan);
    assert_eq!(change(&plan, "private_route_two")["action"], "update");
    assert_eq!(change(&plan, "nat_gateway_two")["action"], "delete");
    assert_eq!(change(&plan, "nat_two_eip")["action"], "delete");
    let out = a.run(&[&["apply", &bp_a, "--auto-approve", "--json"][..], &shared[..]].concat());
    ok(&out);
    let order = finished_ids(&out.stdout);
    let pos = |id: &str| order.iter().position(|o| o == id).unwrap();
    assert!(pos("private_route_two") < pos("nat_gateway_two"), "{order:?}");
    ok(&a.run(&[&["plan", &bp_a, "--detailed-exitcode"][..], &shared[..]].concat()));
    let nat_one = a.physical("nat_gateway_one");
    rt().block_on(async {
        let rts = ec2(&url)
            .describe_route_tables()
            .route_table_ids(a.physical("private_route_table_two"))
            .send()
            .await
            .unwrap();
        let routes = rts.route_tables()[0].routes();
        assert!(routes.iter().any(|r| r.nat_gateway_id() == Some(nat_one.as_str())), "{routes:?}");
    });

    // A new container port replaces the target group (its port cannot
    // change): the new group is made first, the rule and the service move
    // to it, and only then is the old one deleted, so the service stays
    // reachable.
    let port = [&shared[..], &["--var", "container_port=8080"][..]].concat();
    let plan = a.run(&[&["plan", &bp_a, "--json"][..], &port[..]].concat());
    ok(&plan);
    let tg = change(&plan, "target_group");
    assert_eq!(tg["action"], "replace");
    assert_eq!(tg["replace_because"], serde_json::json!(["port"]));
    assert_eq!(change(&plan, "service")["action"], "update");
    assert_eq!(change(&plan, "listener_rule")["action"], "update");
    let old_tg = a.physical("target_group");
    let out = a.run(&[&["apply", &bp_a, "--auto-approve", "--json"][..], &port[..]].concat());
    ok(&out);
    let steps: Vec<(String, String)> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "finished")
        .map(|v| (v["id"].as_str().unwrap().into(), v["op"].as_str().unwrap().into()))
        .collect();
    let at = |id: &str, op: &str| {
        steps
            .iter()
            .position(|(i, o)| i == id && o == op)
            .unwrap_or_else(|| panic!("no {op} of {id}: {steps:?}"))
    };
    assert!(at("target_group", "creating") < at("listener_rule", "updating"));
    assert!(at("listener_rule", "updating") < at("target_group", "deleting"));
    assert!(at("service", "updating") < at("target_group", "deleting"));
    assert_ne!(a.physical("target_group"), old_tg);
    ok(&a.run(&[&["plan", &bp_a, "--detailed-exitcode"][..], &port[..]].concat()));

    // Destroying one stack leaves the other untouched.
    let (out, secs) = timed(
        &a,
        &[&["destroy", &bp_a, "--auto-approve", "--json", "--stats"][..], &shared[..]].concat(),
    );
    ok(&out);
    figures("destroy", &out, secs);
    let order = finished_ids(&out.stdout);
    let pos = |id: &str| order.iter().position(|o| o == id).unwrap();
    // Section A's order: the service first, then rules, listeners and
    // target groups, the load balancer, the cluster, then the network.
    assert!(pos("service") < pos("listener_rule"), "{order:?}");
    assert!(pos("service") < pos("cluster"), "{order:?}");
    assert!(pos("service") < pos("task_definition"), "{order:?}");
    assert!(pos("listener_rule") < pos("target_group"), "{order:?}");
    assert!(pos("listener_rule") < pos("public_listener"), "{order:?}");
    assert!(pos("public_listener") < pos("public_load_balancer"), "{order:?}");
    assert!(pos("public_load_balancer") < pos("public_load_balancer_sg"), "{order:?}");
    assert!(pos("public_load_balancer") < pos("gateway_attachment"), "{order:?}");
    assert!(pos("service") < pos("private_subnet_one"), "{order:?}");
    assert!(pos("service") < pos("fargate_container_sg"), "{order:?}");
    assert!(pos("task_definition") < pos("execution_role"), "{order:?}");
    let left = rt().block_on(leftovers(&url, &a));
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(a.state()["resources"], serde_json::json!({}));

    let still = b.run(&["plan", &bp_b, "--detailed-exitcode"]);
    assert_eq!(still.code, 0, "{}\n{}", still.stdout, still.stderr);
    let b_left = rt().block_on(leftovers(&url, &b));
    assert!(b_left.len() > 20, "stack b is intact: {b_left:?}");
    ok(&b.run(&["destroy", &bp_b, "--auto-approve"]));
    let left = rt().block_on(leftovers(&url, &b));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn fargate_sizes_are_checked_before_anything_changes() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "fgsize");
    let bp = s.builtin(BP);
    let out = s.run(&["plan", &bp, "--var", "cpu=1024", "--var", "memory=512"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("archkit::plan::invalid"), "{}", out.stderr);
    assert!(out.stderr.contains("2048 to 8192 in steps of 1024"), "{}", out.stderr);
    let out = s.run(&["apply", &bp, "--auto-approve", "--var", "cpu=1024", "--var", "memory=512"]);
    assert_eq!(out.code, 1);
    // Nothing was created.
    let left = rt().block_on(leftovers(&url, &s));
    assert!(left.is_empty(), "{left:?}");
}

/// What the service's tasks are given: sorted subnets and whether they get
/// public IPs.
fn task_network(url: &str, s: &Stack) -> (Vec<String>, bool) {
    rt().block_on(async {
        let d = ecs(url)
            .describe_services()
            .cluster(s.physical("cluster"))
            .services(s.physical("service"))
            .send()
            .await
            .unwrap();
        let vpc = d.services()[0].network_configuration().unwrap().awsvpc_configuration().unwrap();
        let mut subnets = vpc.subnets().to_vec();
        subnets.sort();
        let public = vpc.assign_public_ip() == Some(&aws_sdk_ecs::types::AssignPublicIp::Enabled);
        (subnets, public)
    })
}

/// The stack's NAT gateways that are not deleted, and its addresses.
/// (moto ignores tag filters on NAT gateways: filtered here by their tags.)
fn nat_and_eips(url: &str, s: &Stack) -> (usize, usize) {
    rt().block_on(async {
        let ec2 = ec2(url);
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        let nats = nats
            .nat_gateways()
            .iter()
            .filter(|n| crate::moto::tags(n.tags()).get("archkit:stack") == Some(&s.name))
            .filter(|n| {
                !matches!(
                    n.state(),
                    Some(
                        aws_sdk_ec2::types::NatGatewayState::Deleted
                            | aws_sdk_ec2::types::NatGatewayState::Deleting
                    )
                )
            })
            .count();
        let eips = ec2.describe_addresses().filters(s.tag_filter()).send().await.unwrap();
        (nats, eips.addresses().len())
    })
}

/// The post's first pattern (issue 33 §2): `--var task_subnets=public` on a
/// live private stack moves the tasks into the public subnets with public
/// IPs and removes both NAT gateways and their addresses; the next plan is
/// empty, a second apply writes nothing, and switching back converges too.
#[test]
fn public_tasks_drop_the_nat_gateways_and_switch_back() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "fgpub");
    let bp = s.builtin(BP);
    ok(&s.run(&["apply", &bp, "--auto-approve"]));
    assert_eq!(nat_and_eips(&url, &s), (2, 2));
    let mut private = vec![s.physical("private_subnet_one"), s.physical("private_subnet_two")];
    private.sort();
    let mut public = vec![s.physical("public_subnet_one"), s.physical("public_subnet_two")];
    public.sort();
    assert_eq!(task_network(&url, &s), (private.clone(), false));

    let var = ["--var", "task_subnets=public"];
    let plan = s.run(&[&["plan", &bp, "--json"][..], &var[..]].concat());
    ok(&plan);
    assert_eq!(change(&plan, "service")["action"], "update");
    for id in ["nat_gateway_one", "nat_gateway_two", "nat_one_eip", "private_route_one"] {
        assert_eq!(change(&plan, id)["action"], "delete", "{id}");
    }
    ok(&s.run(&[&["apply", &bp, "--auto-approve"][..], &var[..]].concat()));
    assert_eq!(task_network(&url, &s), (public, true));
    assert_eq!(nat_and_eips(&url, &s), (0, 0));
    // The private subnets stay (they cost nothing), on the main route table.
    assert!(s.state()["resources"]["private_subnet_one"].is_object());
    assert!(s.state()["resources"]["private_route_table_one"].is_null());

    let again = s.run(&[&["plan", &bp, "--detailed-exitcode"][..], &var[..]].concat());
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let second = s.run(&[&["apply", &bp, "--auto-approve", "--json"][..], &var[..]].concat());
    ok(&second);
    assert_eq!(finished_ids(&second.stdout), Vec::<String>::new(), "{}", second.stdout);

    // And back: the NAT gateways return and the tasks leave the public
    // subnets.
    ok(&s.run(&["apply", &bp, "--auto-approve"]));
    assert_eq!(task_network(&url, &s), (private, false));
    assert_eq!(nat_and_eips(&url, &s), (2, 2));
    let again = s.run(&["plan", &bp, "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    ok(&s.run(&["destroy", &bp, "--auto-approve"]));
    let left = rt().block_on(leftovers(&url, &s));
    assert!(left.is_empty(), "left behind: {left:?}");
}
