//! `aws.ec2.vpc_endpoint_service` against moto: an internal NLB offered
//! over PrivateLink. moto makes a service available at once and does not
//! refuse to delete a load balancer an endpoint service still uses (AWS
//! does, with `ResourceInUse`): the delete order is asserted on the calls
//! archkit made, not on AWS refusing them.

use aws_sdk_ec2::types::Filter;

use crate::moto::{Stack, ec2, ok, require_moto, rt, tags};
use crate::util::{finished_ids, fixtures};

fn blueprint() -> String {
    fixtures().join("endpoint-service").to_str().unwrap().to_string()
}

/// The stack's endpoint services, read with the SDK. moto ignores the tag
/// filter of DescribeVpcEndpointServiceConfigurations (it returns every
/// stack's services), so the tags are checked here too, as archkit's own
/// reads check them.
pub(crate) fn services(url: &str, s: &Stack) -> Vec<aws_sdk_ec2::types::ServiceConfiguration> {
    rt().block_on(async {
        let filter = Filter::builder().name("tag:archkit:stack").values(&s.name).build();
        let out = ec2(url)
            .describe_vpc_endpoint_service_configurations()
            .filters(filter)
            .send()
            .await
            .unwrap();
        let ours = |c: &&aws_sdk_ec2::types::ServiceConfiguration| {
            tags(c.tags()).get("archkit:stack") == Some(&s.name)
        };
        out.service_configurations().iter().filter(ours).cloned().collect()
    })
}

/// The principals allowed to connect to endpoint service `id`.
pub(crate) fn allowed_principals(url: &str, id: &str) -> Vec<String> {
    rt().block_on(async {
        let p = ec2(url).describe_vpc_endpoint_service_permissions().service_id(id).send().await;
        p.unwrap()
            .allowed_principals()
            .iter()
            .filter_map(|a| a.principal().map(str::to_string))
            .collect()
    })
}

#[test]
fn endpoint_services_apply_update_in_place_and_go_before_their_load_balancer() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "vpce-svc");
    let b = blueprint();
    let out = s.run(&["apply", &b, "--auto-approve"]);
    ok(&out);

    // Read back: the service fronts the stack's NLB, requires acceptance,
    // and carries the stack's tags; its name is the output.
    let svc = services(&url, &s);
    assert_eq!(svc.len(), 1, "{svc:?}");
    let c = &svc[0];
    assert_eq!(c.service_id(), Some(s.physical("service").as_str()));
    assert_eq!(c.network_load_balancer_arns(), [s.physical("nlb")]);
    assert_eq!(c.acceptance_required(), Some(true));
    let t = tags(c.tags());
    assert_eq!(
        (t["archkit:stack"].as_str(), t["archkit:id"].as_str()),
        (s.name.as_str(), "service")
    );
    assert_eq!(t["team"], "platform");
    let name = c.service_name().unwrap();
    assert!(out.stdout.contains(name), "the service_name output: {}", out.stdout);
    assert_eq!(
        allowed_principals(&url, c.service_id().unwrap()),
        ["arn:aws:iam::123456789012:root"]
    );

    // Converged: nothing to change, and a second apply writes nothing.
    let plan = s.run(&["plan", &b, "--detailed-exitcode", "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    crate::moto::assert_no_drift(&plan);
    let again = s.run(&["apply", &b, "--auto-approve", "--stats", "--json"]);
    ok(&again);
    assert_eq!(crate::moto::stats(&again)["write_calls"], 0, "{}", again.stderr);

    // Acceptance is changed in place, with one modify call.
    let off = ["--var", "acceptance_required=false"];
    let plan = s.run(&[&["plan", &b, "--json"][..], &off].concat());
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let c = v["changes"].as_array().unwrap().iter().find(|c| c["id"] == "service").unwrap().clone();
    assert_eq!(
        (c["action"].as_str(), c["changed"].clone()),
        (Some("update"), serde_json::json!(["acceptance_required"]))
    );
    let out = s.run(&[&["apply", &b, "--auto-approve", "--stats", "--json"][..], &off].concat());
    ok(&out);
    let writes = crate::moto::stats(&out)["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !archkit::aws::client::is_read(o["operation"].as_str().unwrap()))
        .map(|o| o["operation"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(writes, ["ModifyVpcEndpointServiceConfiguration"]);
    assert_eq!(services(&url, &s)[0].acceptance_required(), Some(false));
    assert_eq!(s.run(&[&["plan", &b, "--detailed-exitcode"][..], &off].concat()).code, 0);

    // Destroy: the service goes before the load balancer it references.
    let out = s.run(&["destroy", &b, "--auto-approve", "--json"]);
    ok(&out);
    let finished = finished_ids(&out.stdout);
    let pos = |id: &str| finished.iter().position(|f| f == id).unwrap();
    assert!(pos("service") < pos("nlb"), "{finished:?}");
    assert!(services(&url, &s).is_empty(), "the endpoint service is deleted");
}
