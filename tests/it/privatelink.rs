//! `privatelink-service` end to end against moto: the provider's NLB and
//! endpoint service, the consumer's interface endpoint and its acceptance,
//! and interface endpoints with private DNS for AWS services.
//!
//! What moto cannot prove: it makes a consumer endpoint `available` at
//! once even when the service requires acceptance (so the acceptance step
//! finds it accepted and makes no call; accept and reject are answered with
//! HTTP 500 and are unit-tested in `src/aws/ec2/endpoint_connection.rs`),
//! and it does not refuse to delete a load balancer an endpoint service
//! still uses: the destroy order is asserted on the calls archkit made.

use aws_sdk_ec2::types::VpcEndpoint;

use crate::endpoint_service::{allowed_principals, services};
use crate::moto::{
    Stack, assert_no_drift, changes, ec2, figures, ok, require_moto, rt, stats, tags,
};
use crate::util::finished_ids;

const BP: &str = "privatelink-service";

/// The stack's endpoints that are not deleted, read with the SDK (moto
/// keeps deleted ones listed).
pub(crate) fn endpoints(url: &str, s: &Stack) -> Vec<VpcEndpoint> {
    rt().block_on(async {
        let out = ec2(url).describe_vpc_endpoints().filters(s.tag_filter()).send().await.unwrap();
        out.vpc_endpoints()
            .iter()
            .filter(|e| e.state().is_none_or(|st| !st.as_str().eq_ignore_ascii_case("deleted")))
            .cloned()
            .collect()
    })
}

fn by_id<'a>(eps: &'a [VpcEndpoint], id: &str) -> &'a VpcEndpoint {
    eps.iter()
        .find(|e| tags(e.tags()).get("archkit:id").map(String::as_str) == Some(id))
        .unwrap_or_else(|| panic!("no endpoint `{id}` among {eps:?}"))
}

#[test]
fn privatelink_service_applies_accepts_converges_and_destroys_in_order() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "privatelink");
    let b = s.builtin(BP);

    // A fresh stack's plan reads each of its 18 kinds once at most (plus
    // the zone lookup), and kinds that share a read share the call (15
    // calls measured): no operation twice, except that the listener kind
    // may find the stack's load balancers with DescribeLoadBalancers as
    // the load balancer kind does, and the connection kind has nothing
    // recorded to read.
    let plan = s.run(&["plan", &b, "--json", "--stats"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let st = stats(&plan);
    assert!(st["total_calls"].as_u64().unwrap() <= 16, "{st}");
    for op in st["operations"].as_array().unwrap() {
        let most = if op["operation"] == "DescribeLoadBalancers" { 2 } else { 1 };
        assert!(op["calls"].as_u64().unwrap() <= most, "read twice in one plan: {op}");
    }

    let t = std::time::Instant::now();
    let out = s.run(&["apply", &b, "--auto-approve", "--json", "--stats"]);
    ok(&out);
    figures("privatelink-service apply", &out, t.elapsed().as_secs_f64());

    // Provider: the service fronts the stack's NLB, requires acceptance and
    // allows this account (the default, empty `allowed_principals`).
    let svc = services(&url, &s);
    assert_eq!(svc.len(), 1, "{svc:?}");
    assert_eq!(svc[0].network_load_balancer_arns(), [s.physical("service_nlb")]);
    assert_eq!(svc[0].acceptance_required(), Some(true));
    let service_name = svc[0].service_name().unwrap().to_string();
    assert!(out.stdout.contains(&service_name), "output: {}", out.stdout);
    let allowed = allowed_principals(&url, svc[0].service_id().unwrap());
    assert_eq!(allowed, ["arn:aws:iam::123456789012:root"]);

    // Consumer: an interface endpoint to that service in the consumer's
    // subnets with its group, accepted.
    let eps = endpoints(&url, &s);
    let consumer = by_id(&eps, "consumer_endpoint");
    assert_eq!(consumer.service_name(), Some(service_name.as_str()));
    assert_eq!(consumer.vpc_endpoint_type().map(|t| t.as_str()), Some("Interface"));
    assert_eq!(consumer.vpc_id(), Some(s.physical("consumer_vpc").as_str()));
    let mut subnets = consumer.subnet_ids().to_vec();
    subnets.sort();
    let mut want = vec![s.physical("consumer_subnet_one"), s.physical("consumer_subnet_two")];
    want.sort();
    assert_eq!(subnets, want);
    let groups: Vec<&str> = consumer.groups().iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(groups, [s.physical("consumer_endpoint_sg").as_str()]);
    let state = &s.state()["resources"]["consumer_connection"];
    assert_eq!(state["attributes"]["state"], "available", "{state}");

    // AWS services: one endpoint per `aws_services` item, private DNS on.
    for svc in ["kinesis-streams", "ssm"] {
        let e = by_id(&eps, &format!("aws_service_endpoint[{svc}]"));
        assert_eq!(e.service_name(), Some(format!("com.amazonaws.us-east-1.{svc}").as_str()));
        assert_eq!(e.private_dns_enabled(), Some(true));
    }
    assert_eq!(eps.len(), 3, "{eps:?}");

    // The demo service behind the NLB: nginx on Fargate, its tasks given
    // to the NLB's target group by ECS. (moto registers no targets for
    // an ECS service, so the registration itself cannot be read back
    // here: the service's load balancer configuration is what archkit
    // sets, and AWS registers the tasks' addresses from it.)
    let tg = s.physical("service_targets");
    rt().block_on(async {
        let ecs = client!(aws_sdk_ecs, &url);
        let svc = ecs
            .describe_services()
            .cluster(s.physical("demo_cluster"))
            .services(s.physical("demo_service"))
            .send()
            .await
            .unwrap();
        let svc = &svc.services()[0];
        assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
        let lb = &svc.load_balancers()[0];
        assert_eq!(lb.target_group_arn(), Some(tg.as_str()));
        assert_eq!((lb.container_name(), lb.container_port()), (Some("nginx"), Some(80)));
        let net = svc.network_configuration().unwrap().awsvpc_configuration().unwrap();
        let mut subnets = net.subnets().to_vec();
        subnets.sort();
        let mut want = vec![s.physical("provider_subnet_one"), s.physical("provider_subnet_two")];
        want.sort();
        assert_eq!(subnets, want);
        assert_eq!(net.assign_public_ip().map(|a| a.as_str()), Some("ENABLED"));
        let td = ecs
            .describe_task_definition()
            .task_definition(s.physical("demo_task_definition"))
            .send()
            .await
            .unwrap();
        let c = &td.task_definition().unwrap().container_definitions()[0];
        assert_eq!(c.image(), Some("public.ecr.aws/nginx/nginx:stable"));
        // The tasks admit the service port from the provider VPC only.
        let sg = ec2(&url)
            .describe_security_groups()
            .group_ids(s.physical("demo_task_sg"))
            .send()
            .await
            .unwrap();
        let perms = sg.security_groups()[0].ip_permissions();
        let ranges: Vec<&str> = perms[0].ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect();
        assert_eq!(
            (perms.len(), perms[0].from_port(), ranges),
            (1, Some(80), vec!["10.10.0.0/16"])
        );

        // The consumer-side check: in the consumer's subnets, fetching the
        // endpoint's first DNS name on the service port.
        let lambda = client!(aws_sdk_lambda, &url);
        let f = lambda
            .get_function_configuration()
            .function_name(format!("{}-check", s.name))
            .send()
            .await
            .unwrap();
        let dns = consumer.dns_entries()[0].dns_name().unwrap();
        let env = f.environment().and_then(|e| e.variables()).unwrap();
        assert_eq!(env["ENDPOINT_URL"], format!("http://{dns}:80/"));
        let vpc = f.vpc_config().unwrap();
        let mut subnets = vpc.subnet_ids().to_vec();
        subnets.sort();
        let mut want = vec![s.physical("consumer_subnet_one"), s.physical("consumer_subnet_two")];
        want.sort();
        assert_eq!(subnets, want);
        assert_eq!(vpc.security_group_ids(), [s.physical("check_sg")]);
    });
    let out = s.run(&["output", "check_from_consumer"]);
    ok(&out);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "aws lambda invoke --region us-east-1 --function-name {}-check /dev/stdout",
            s.name
        )
    );

    // Converged: no change, and a second apply writes nothing.
    let t = std::time::Instant::now();
    let plan = s.run(&["plan", &b, "--detailed-exitcode", "--json", "--stats"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    figures("privatelink-service no-change plan", &plan, t.elapsed().as_secs_f64());
    assert_no_drift(&plan);
    let again = s.run(&["apply", &b, "--auto-approve", "--stats", "--json"]);
    ok(&again);
    assert_eq!(stats(&again)["write_calls"], 0, "{}", again.stderr);

    // Without the demo, exactly the demo's resources go.
    let plan = s.run(&["plan", &b, "--json", "--var", "demo_service=false"]);
    let mut gone: Vec<String> = changes(&plan)
        .into_iter()
        .map(|(id, a, _)| {
            assert_eq!(a, "delete", "{id}");
            id
        })
        .collect();
    gone.sort();
    let demo = ["check", "check_logs", "check_role", "check_sg", "demo_cluster"];
    let demo = demo.into_iter().chain(["demo_execution_role", "demo_logs", "demo_service"]);
    let demo = demo.chain(["demo_task_definition", "demo_task_sg", "provider_gateway"]);
    let demo = demo.chain(["provider_gateway_attachment", "provider_route"]);
    let demo = demo.chain(["provider_route_table", "provider_subnet_one_association"]);
    let demo: Vec<&str> = demo.chain(["provider_subnet_two_association"]).collect();
    assert_eq!(gone, demo);

    // Acceptance off is an in-place update of the service only.
    let plan = s.run(&["plan", &b, "--json", "--var", "acceptance_required=false"]);
    let changed: Vec<(String, String)> =
        changes(&plan).into_iter().map(|(id, a, _)| (id, a)).collect();
    assert_eq!(changed, [("endpoint_service".to_string(), "update".to_string())]);

    // One AWS service fewer: only its endpoint goes.
    let plan = s.run(&["plan", &b, "--json", "--var", "aws_services=[ssm]"]);
    let changed: Vec<(String, String)> =
        changes(&plan).into_iter().map(|(id, a, _)| (id, a)).collect();
    assert_eq!(
        changed,
        [("aws_service_endpoint[kinesis-streams]".to_string(), "delete".to_string())]
    );

    // Destroy: the consumer's endpoint, then the endpoint service, then the
    // NLB; nothing of the stack is left.
    let t = std::time::Instant::now();
    let out = s.run(&["destroy", &b, "--auto-approve", "--json", "--stats"]);
    ok(&out);
    figures("privatelink-service destroy", &out, t.elapsed().as_secs_f64());
    let finished = finished_ids(&out.stdout);
    let pos = |id: &str| finished.iter().position(|f| f == id).unwrap();
    assert!(pos("consumer_endpoint") < pos("endpoint_service"), "{finished:?}");
    assert!(pos("endpoint_service") < pos("service_nlb"), "{finished:?}");
    assert!(pos("service_listener") < pos("service_nlb"), "{finished:?}");
    assert!(endpoints(&url, &s).is_empty(), "endpoints left");
    assert!(services(&url, &s).is_empty(), "endpoint service left");
    let left = rt().block_on(crate::fargate::leftovers(&url, &s));
    assert_eq!(left, Vec::<String>::new());
    rt().block_on(async {
        let name = format!("{}-check", s.name);
        let lambda = client!(aws_sdk_lambda, &url);
        assert!(lambda.get_function().function_name(&name).send().await.is_err(), "{name} left");
        let groups = crate::moto::logs(&url)
            .describe_log_groups()
            .log_group_name_prefix(format!("/aws/lambda/{name}"))
            .send()
            .await
            .unwrap();
        assert!(groups.log_groups().is_empty(), "{:?}", groups.log_groups());
    });
}
