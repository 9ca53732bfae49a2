//! A Lambda function in a VPC, and the delete rule its network interfaces
//! need (issue 14): AWS keeps a deleted function's interfaces ("AWS Lambda
//! VPC ENI-…") for up to 45 minutes, holding its security groups and
//! subnets. Deleting those waits, saying what for, deletes the interfaces
//! AWS has detached, and goes on.
//!
//! moto makes no interfaces for functions and deletes a security group or
//! subnet still in use. So the test makes the interfaces itself, one
//! detached and one attached to an instance (in use), and runs archkit
//! through the fault proxy, which refuses the first delete of the group and
//! of the subnet with DependencyViolation as AWS does (archkit looks for
//! the interfaces only then). It detaches the second interface while the
//! destroy waits, and asserts on what is left and on the events. Without
//! the rule the destroy ends at once and both interfaces are left behind
//! (on AWS: a VPC that cannot be deleted).

use std::io::BufRead;
use std::process::Stdio;

use crate::faults::Proxy;
use crate::moto::{Stack, ok, require_moto, rt};

#[test]
fn deleting_a_functions_security_group_waits_for_its_network_interfaces() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url).in_use("DeleteSecurityGroup").in_use("DeleteSubnet").start();
    let s = Stack::new(&proxy.url, "lambdavpc");
    let bp = crate::util::fixtures().join("lambda-vpc");
    let bp = bp.to_str().unwrap();
    ok(&s.run(&["apply", bp, "--auto-approve"]));
    let (function, subnet, sg) =
        (s.physical("function"), s.physical("subnet"), s.physical("function_sg"));
    let plan = s.run(&["plan", bp, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);

    let ec2 = crate::moto::ec2(&url);
    let (detached, attached, instance) = rt().block_on(async {
        let lambda = client!(aws_sdk_lambda, &url);
        let c = lambda.get_function_configuration().function_name(&function).send().await.unwrap();
        let vpc = c.vpc_config().unwrap();
        assert_eq!(vpc.subnet_ids(), std::slice::from_ref(&subnet));
        assert_eq!(vpc.security_group_ids(), std::slice::from_ref(&sg));
        let mut enis = Vec::new();
        for n in 0..2 {
            let eni = ec2
                .create_network_interface()
                .subnet_id(&subnet)
                .groups(&sg)
                .description(format!("AWS Lambda VPC ENI-{function}-{n}"))
                .send()
                .await
                .unwrap();
            enis.push(eni.network_interface().unwrap().network_interface_id().unwrap().to_string());
        }
        let image =
            ec2.describe_images().send().await.unwrap().images()[0].image_id().unwrap().to_string();
        let run = ec2
            .run_instances()
            .image_id(image)
            .min_count(1)
            .max_count(1)
            .subnet_id(&subnet)
            .send()
            .await
            .unwrap();
        let instance = run.instances()[0].instance_id().unwrap().to_string();
        let attachment = ec2
            .attach_network_interface()
            .network_interface_id(&enis[1])
            .instance_id(&instance)
            .device_index(1)
            .send()
            .await
            .unwrap();
        let attachment = attachment.attachment_id().unwrap().to_string();
        (enis[0].clone(), (enis[1].clone(), attachment), instance)
    });

    let mut destroy = s
        .cmd(&["destroy", bp, "--auto-approve", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read events until the destroy says it waits for the interface in
    // use, then let AWS "release" it.
    let mut lines = std::io::BufReader::new(destroy.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    let held = loop {
        let Some(line) = lines.next() else { panic!("no held event: {events:#?}") };
        let e: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        events.push(e.clone());
        if e["event"] == "held" {
            break e;
        }
    };
    assert!(["function_sg", "subnet"].contains(&held["id"].as_str().unwrap()), "{held}");
    let reason = held["reason"].as_str().unwrap();
    assert!(reason.contains(&attached.0) && reason.contains("45 minutes"), "{reason}");
    assert_eq!(held["within_seconds"].as_f64(), Some(2700.0));
    // The function went first; the group waits.
    assert!(
        events.iter().any(|e| e["event"] == "finished" && e["id"] == "function"),
        "{events:#?}"
    );
    assert!(!events.iter().any(|e| e["event"] == "finished" && e["id"] == "vpc"), "{events:#?}");
    rt().block_on(ec2.detach_network_interface().attachment_id(&attached.1).send()).unwrap();
    for line in lines {
        events.push(serde_json::from_str(&line.unwrap()).unwrap());
    }
    let status = destroy.wait().unwrap();
    assert!(status.success(), "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "summary", "{last}");
    assert_eq!(last["ok"], true, "{last}");

    rt().block_on(async {
        let left = ec2
            .describe_network_interfaces()
            .network_interface_ids(&detached)
            .network_interface_ids(&attached.0)
            .send()
            .await;
        let left = left.map(|r| r.network_interfaces().len()).unwrap_or(0);
        assert_eq!(left, 0, "the function's network interfaces are left behind");
        ec2.terminate_instances().instance_ids(&instance).send().await.unwrap();
    });
    assert!(s.state()["resources"].as_object().unwrap().is_empty());
    // Both deletes were refused once, so both looked for the interfaces.
    let ops = proxy.stats()["ops"].clone();
    let count = |op: &str| ops.as_array().unwrap().iter().filter(|o| *o == op).count();
    assert!(count("DescribeNetworkInterfaces") >= 2, "{ops}");
}
