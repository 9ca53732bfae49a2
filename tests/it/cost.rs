//! Cost estimates as a user meets them: `archkit plan --json` of each
//! complete blueprint against moto (issue 14). moto answers the reads; the
//! figures come from archkit's price table and each kind's cost rule, so
//! the snapshots change only when a price or a rule does.

use crate::moto::{Stack, ok, require_moto};

/// The `cost` object of a `plan --json` run.
/// A plan through `proxy`, which answers the SSM association calls moto
/// lacks (managed-ad-sqlserver's domain join).
fn plan_cost(s: &Stack, proxy: &str, args: &[&str]) -> serde_json::Value {
    let out = crate::util::run(&mut s.cmd_at(proxy, &[&["plan", "--json"][..], args].concat()));
    ok(&out);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    plan["cost"].clone()
}

fn hourly(cost: &serde_json::Value) -> f64 {
    cost["hourly"].as_f64().expect("a known hourly total")
}

#[test]
fn each_blueprint_plan_shows_its_running_cost() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "cost");
    let proxy = crate::faults::Proxy::builder(&url).fake_ssm_associations().start();
    let p = proxy.url.as_str();
    // The stack name is in no cost figure: the snapshots hold for any run.
    let fargate = plan_cost(&s, p, &["fargate-public-private"]);
    insta::assert_snapshot!(
        "cost_fargate_public_private",
        serde_json::to_string_pretty(&fargate).unwrap()
    );
    let one_nat =
        plan_cost(&s, p, &["fargate-public-private", "--var", "nat_gateway_per_az=false"]);
    insta::assert_snapshot!(
        "cost_fargate_public_private_one_nat",
        serde_json::to_string_pretty(&one_nat).unwrap()
    );
    // One NAT gateway and its address fewer: $0.045 + $0.005 an hour.
    let saving = hourly(&fargate) - hourly(&one_nat);
    assert!((saving - 0.05).abs() < 1e-9, "saving {saving}");
    // Public tasks (the post's first pattern): no NAT gateway and no EIP
    // ($0.045 + $0.005 an hour each, two of each), but each of the two
    // tasks holds a public IPv4 address ($0.005 an hour).
    let public = plan_cost(&s, p, &["fargate-public-private", "--var", "task_subnets=public"]);
    let saving = hourly(&fargate) - hourly(&public);
    assert!((saving - 0.09).abs() < 1e-9, "saving {saving}");
    let ids: Vec<&str> =
        public["resources"].as_array().unwrap().iter().filter_map(|r| r["id"].as_str()).collect();
    assert!(!ids.iter().any(|i| i.starts_with("nat_")), "{ids:?}");
    // Two tasks of 0.25 vCPU and 0.5 GB, by the price table's rates.
    let service = fargate["resources"].as_array().unwrap().iter().find(|r| r["id"] == "service");
    let per_task = 0.25 * 0.04048 + 0.5 * 0.004445;
    assert!((service.unwrap()["hourly"].as_f64().unwrap() - 2.0 * per_task).abs() < 1e-6);

    let mq = plan_cost(
        &s,
        p,
        &[
            "mq-lambda-poller",
            "--var",
            "broker_password=abcdefghijkl1234",
            "--var",
            "console_cidr=192.0.2.1/32",
        ],
    );
    insta::assert_snapshot!("cost_mq_lambda_poller", serde_json::to_string_pretty(&mq).unwrap());
    // mq.t3.micro has no sourced price: unknown, never counted as zero.
    assert_eq!(mq["unknown"], serde_json::json!(["broker"]));
    let broker = mq["resources"].as_array().unwrap().iter().find(|r| r["id"] == "broker").unwrap();
    assert!(broker["hourly"].is_null(), "{broker}");

    let privatelink = plan_cost(&s, p, &["privatelink-service"]);
    insta::assert_snapshot!(
        "cost_privatelink_service",
        serde_json::to_string_pretty(&privatelink).unwrap()
    );

    let aurora = plan_cost(&s, p, &["aurora-firehose-s3", "--var", "db_client_cidr=192.0.2.1/32"]);
    insta::assert_snapshot!(
        "cost_aurora_firehose_s3",
        serde_json::to_string_pretty(&aurora).unwrap()
    );
    // One db.t4g.medium instance and its public address, and the secret
    // of the RDS-managed master password ($0.40 a month); the cluster
    // bills storage and I/O, listed as usage, never guessed into totals.
    // (Totals are rounded to six places.)
    let secret = 0.40 / 730.0;
    assert!((hourly(&aurora) - (0.073 + 0.005 + secret)).abs() < 1e-6, "{aurora}");
    let larger = plan_cost(
        &s,
        p,
        &[
            "aurora-firehose-s3",
            "--var",
            "db_client_cidr=192.0.2.1/32",
            "--var",
            "instance_class=db.r6g.large",
        ],
    );
    assert!((hourly(&larger) - (0.26 + 0.005 + secret)).abs() < 1e-6, "{larger}");
    let unpriced = plan_cost(
        &s,
        p,
        &[
            "aurora-firehose-s3",
            "--var",
            "db_client_cidr=192.0.2.1/32",
            "--var",
            "instance_class=db.x2g.large",
        ],
    );
    assert_eq!(unpriced["unknown"], serde_json::json!(["instance"]));

    // The managed-service posts (issue 18). Glue bills DPU-hours only
    // while a run runs: nothing by the hour.
    let glue = plan_cost(&s, p, &["glue-relationalize"]);
    insta::assert_snapshot!(
        "cost_glue_relationalize",
        serde_json::to_string_pretty(&glue).unwrap()
    );
    assert_eq!(hourly(&glue), 0.0, "{glue}");
    // CodeBuild bills build-minutes; the NAT gateway and its address the
    // hour.
    let codebuild = plan_cost(&s, p, &["codebuild-vpc"]);
    insta::assert_snapshot!(
        "cost_codebuild_vpc",
        serde_json::to_string_pretty(&codebuild).unwrap()
    );
    assert!((hourly(&codebuild) - (0.045 + 0.005)).abs() < 1e-9, "{codebuild}");
    // The directory's two controllers by the hour; a db.t3.small Express
    // instance has no sourced price (unknown), db.t3.large has.
    let ad = [
        "managed-ad-sqlserver",
        "--var",
        "directory_admin_password=Corp-Admin-Pw-7x",
        "--var",
        "db_client_cidr=10.45.0.0/24",
        "--var",
        "admin_ami_parameter=/aws/service/ecs/optimized-ami/windows_server/2019/english/full/recommended/image_id",
    ];
    let small = plan_cost(&s, p, &ad);
    insta::assert_snapshot!(
        "cost_managed_ad_sqlserver",
        serde_json::to_string_pretty(&small).unwrap()
    );
    assert_eq!(small["unknown"], serde_json::json!(["sqlserver"]), "{small}");
    let large = plan_cost(&s, p, &[&ad[..], &["--var", "instance_class=db.t3.large"]].concat());
    // With its 20 GB of gp3 storage ($0.115 a GB-month) and the secret of
    // its RDS-managed master password; the Windows t3.medium admin
    // instance ($0.06) and the secret holding the Admin password.
    let storage = 20.0 * 0.115 / 730.0;
    let admin = 0.06 + secret;
    assert!((hourly(&large) - (0.12 + 0.162 + storage + secret + admin)).abs() < 1e-6, "{large}");

    // A region without a price table says so and guesses nothing.
    let out = s.run(&["plan", "fargate-public-private", "--region", "eu-west-1"]);
    ok(&out);
    assert!(out.stdout.contains("Cost: no prices for eu-west-1."), "{}", out.stdout);
}

/// What AWS bills, from its pricing pages and independent of archkit's
/// cost rules: a resource of one of these kinds must show a charge, a
/// usage line or be listed unknown (issue 31 §4). A `(kind, property,
/// value)` rule bills only when the planned property has that value (an
/// interface endpoint, not a gateway one; a Fargate service, not one on
/// container instances, which bill as their group).
const BILLS: &[(&str, Option<(&str, &str)>)] = &[
    ("aws.autoscaling.group", None),
    ("aws.codebuild.project", None),
    ("aws.ds.microsoft_ad", None),
    ("aws.dynamodb.table", None),
    ("aws.ec2.eip", None),
    ("aws.ec2.instance", None),
    ("aws.ec2.nat_gateway", None),
    ("aws.ec2.vpc_endpoint", Some(("type", "Interface"))),
    ("aws.ecs.service", Some(("launch_type", "FARGATE"))),
    ("aws.elbv2.load_balancer", None),
    ("aws.firehose.delivery_stream", None),
    ("aws.glue.crawler", None),
    ("aws.glue.job", None),
    ("aws.lambda.function", None),
    ("aws.logs.log_group", None),
    ("aws.mq.broker", None),
    ("aws.rds.db_cluster", None),
    ("aws.rds.db_instance", None),
    ("aws.s3.bucket", None),
    ("aws.secretsmanager.secret", None),
];

/// Kinds AWS does not bill by themselves (what they hold bills
/// elsewhere: a launch template's instances, a task definition's tasks,
/// an S3 object as its bucket's storage).
const FREE: &[&str] = &[
    // Application Auto Scaling is free; the tasks it adds bill as tasks.
    "aws.appautoscaling.target",
    "aws.appautoscaling.policy",
    // The Data Catalog's first million objects are free.
    "aws.glue.table",
    // Run Command and State Manager on your own instances are free.
    "aws.ssm.document",
    "aws.ssm.association",
    "aws.ec2.internet_gateway",
    "aws.ec2.internet_gateway_attachment",
    "aws.ec2.launch_template",
    "aws.ec2.placement_group",
    "aws.ec2.route",
    "aws.ec2.route_table",
    "aws.ec2.route_table_association",
    "aws.ec2.security_group",
    "aws.ec2.security_group_rule",
    "aws.ec2.subnet",
    "aws.ec2.vpc",
    "aws.ec2.vpc_endpoint_connection",
    "aws.ec2.vpc_endpoint_service",
    "aws.ecs.cluster",
    "aws.ecs.task_definition",
    "aws.elbv2.listener",
    "aws.elbv2.listener_rule",
    "aws.elbv2.target_group",
    "aws.events.rule",
    "aws.glue.database",
    "aws.iam.instance_profile",
    "aws.iam.role",
    "aws.lambda.permission",
    "aws.rds.cluster_role_association",
    "aws.rds.db_cluster_parameter_group",
    "aws.rds.db_subnet_group",
    "aws.s3.object",
];

/// Parts of a resource's bill beyond its main charge that a plan must
/// show (the lines issue 31 §4 found missing): (blueprint, resource,
/// words its charges or usage must contain).
const PARTS: &[(&str, &str, &str)] = &[
    ("launch-template-spread", "instance[1]", "EBS root volume"),
    ("launch-template-spread", "instance[2]", "EBS root volume"),
    ("ecs-awsvpc-nginx", "container_instances", "EBS root volume"),
    ("ecs-windows-cluster", "container_instances", "EBS root volume"),
    ("aurora-firehose-s3", "cluster", "Secrets Manager secret"),
    ("managed-ad-sqlserver", "sqlserver", "GB of RDS gp3 storage"),
    ("managed-ad-sqlserver", "sqlserver", "Secrets Manager secret"),
];

#[test]
fn every_billing_resource_of_every_blueprint_has_a_charge_usage_or_unknown_marker() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "costall");
    let proxy = crate::faults::Proxy::builder(&url).fake_ssm_associations().start();
    let windows_ami = "ami_parameter=/aws/service/ecs/optimized-ami/windows_server/2019/english/full/recommended/image_id";
    let windows_admin = format!("admin_{windows_ami}");
    let vars: &[(&str, &[&str])] = &[
        ("aurora-firehose-s3", &["db_client_cidr=192.0.2.1/32"]),
        ("codebuild-vpc", &[]),
        ("ecs-awsvpc-nginx", &[]),
        ("ecs-windows-cluster", &[windows_ami, "web_cidr=203.0.113.7/32"]),
        ("fargate-public-private", &[]),
        ("glue-relationalize", &[]),
        ("launch-template-spread", &["instance_count=2"]),
        // db.t3.large: the class with a sourced price, so its parts show.
        (
            "managed-ad-sqlserver",
            &[
                "directory_admin_password=Corp-Admin-Pw-7x",
                "db_client_cidr=10.45.0.0/24",
                "instance_class=db.t3.large",
                windows_admin.as_str(),
            ],
        ),
        ("mq-lambda-poller", &["broker_password=abcdefghijkl1234", "console_cidr=192.0.2.1/32"]),
        ("privatelink-service", &[]),
    ];
    let listed =
        crate::util::run(crate::util::archkit(&crate::util::root()).args(["blueprints", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let mut names: Vec<&str> =
        listed.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, vars.iter().map(|(n, _)| *n).collect::<Vec<_>>(), "every built-in blueprint");
    let mut parts_seen = 0;
    for (bp, vs) in vars {
        let mut args = vec!["plan", bp, "--json"];
        for v in *vs {
            args.extend(["--var", v]);
        }
        let out = crate::util::run(&mut s.cmd_at(&proxy.url, &args));
        ok(&out);
        let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let cost = &plan["cost"];
        let unknown: Vec<&str> =
            cost["unknown"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
        for c in plan["changes"].as_array().unwrap() {
            let (id, kind) = (c["id"].as_str().unwrap(), c["kind"].as_str().unwrap());
            let rule = BILLS.iter().find(|(k, _)| *k == kind);
            assert!(
                rule.is_some() || FREE.contains(&kind),
                "{bp}: `{kind}` is in neither BILLS nor FREE"
            );
            let Some((_, when)) = rule else { continue };
            if let Some((prop, value)) = when
                && c["after"][prop] != *value
            {
                continue;
            }
            let row = cost["resources"].as_array().unwrap().iter().find(|r| r["id"] == id);
            let shown = row.is_some_and(|r| {
                !r["charges"].as_array().unwrap().is_empty()
                    || !r["usage"].as_array().unwrap().is_empty()
            });
            assert!(
                shown || unknown.contains(&id),
                "{bp}: `{id}` ({kind}) bills but shows nothing: {cost}"
            );
            for (_, _, words) in PARTS.iter().filter(|(b, r, _)| b == bp && *r == id) {
                let r = row.unwrap();
                let lines: Vec<&str> = ["charges", "usage"]
                    .iter()
                    .flat_map(|k| r[*k].as_array().unwrap())
                    .map(|l| l["what"].as_str().unwrap())
                    .collect();
                assert!(
                    lines.iter().any(|l| l.contains(words)),
                    "{bp}: `{id}` lacks {words:?}: {lines:?}"
                );
                parts_seen += 1;
            }
        }
    }
    assert_eq!(parts_seen, PARTS.len(), "every part was looked at");
}
