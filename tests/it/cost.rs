//! Cost estimates as a user meets them: `archkit plan --json` of each
//! complete blueprint against moto (issue 14). moto answers the reads; the
//! figures come from archkit's price table and each kind's cost rule, so
//! the snapshots change only when a price or a rule does.

use crate::moto::{Stack, ok, require_moto};

/// The `cost` object of a `plan --json` run.
fn plan_cost(s: &Stack, args: &[&str]) -> serde_json::Value {
    let out = s.run(&[&["plan", "--json"][..], args].concat());
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
    // The stack name is in no cost figure: the snapshots hold for any run.
    let fargate = plan_cost(&s, &["fargate-public-private"]);
    insta::assert_snapshot!(
        "cost_fargate_public_private",
        serde_json::to_string_pretty(&fargate).unwrap()
    );
    let one_nat = plan_cost(&s, &["fargate-public-private", "--var", "nat_gateway_per_az=false"]);
    insta::assert_snapshot!(
        "cost_fargate_public_private_one_nat",
        serde_json::to_string_pretty(&one_nat).unwrap()
    );
    // One NAT gateway and its address fewer: $0.045 + $0.005 an hour.
    let saving = hourly(&fargate) - hourly(&one_nat);
    assert!((saving - 0.05).abs() < 1e-9, "saving {saving}");
    // Two tasks of 0.25 vCPU and 0.5 GB, by the price table's rates.
    let service = fargate["resources"].as_array().unwrap().iter().find(|r| r["id"] == "service");
    let per_task = 0.25 * 0.04048 + 0.5 * 0.004445;
    assert!((service.unwrap()["hourly"].as_f64().unwrap() - 2.0 * per_task).abs() < 1e-6);

    let mq = plan_cost(
        &s,
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

    let privatelink = plan_cost(&s, &["privatelink-service"]);
    insta::assert_snapshot!(
        "cost_privatelink_service",
        serde_json::to_string_pretty(&privatelink).unwrap()
    );

    let aurora = plan_cost(&s, &["aurora-firehose-s3", "--var", "db_client_cidr=192.0.2.1/32"]);
    insta::assert_snapshot!(
        "cost_aurora_firehose_s3",
        serde_json::to_string_pretty(&aurora).unwrap()
    );
    // One db.t4g.medium instance and its public address; the cluster
    // bills storage and I/O, listed as usage, never guessed into totals.
    assert!((hourly(&aurora) - (0.073 + 0.005)).abs() < 1e-9, "{aurora}");
    let larger = plan_cost(
        &s,
        &[
            "aurora-firehose-s3",
            "--var",
            "db_client_cidr=192.0.2.1/32",
            "--var",
            "instance_class=db.r6g.large",
        ],
    );
    assert!((hourly(&larger) - (0.26 + 0.005)).abs() < 1e-9, "{larger}");
    let unpriced = plan_cost(
        &s,
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
    let glue = plan_cost(&s, &["glue-relationalize"]);
    insta::assert_snapshot!(
        "cost_glue_relationalize",
        serde_json::to_string_pretty(&glue).unwrap()
    );
    assert_eq!(hourly(&glue), 0.0, "{glue}");
    // CodeBuild bills build-minutes; the NAT gateway and its address the
    // hour.
    let codebuild = plan_cost(&s, &["codebuild-vpc"]);
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
    ];
    let small = plan_cost(&s, &ad);
    insta::assert_snapshot!(
        "cost_managed_ad_sqlserver",
        serde_json::to_string_pretty(&small).unwrap()
    );
    assert_eq!(small["unknown"], serde_json::json!(["sqlserver"]), "{small}");
    let large = plan_cost(&s, &[&ad[..], &["--var", "instance_class=db.t3.large"]].concat());
    assert!((hourly(&large) - (0.12 + 0.162)).abs() < 1e-9, "{large}");

    // A region without a price table says so and guesses nothing.
    let out = s.run(&["plan", "fargate-public-private", "--region", "eu-west-1"]);
    ok(&out);
    assert!(out.stdout.contains("Cost: no prices for eu-west-1."), "{}", out.stdout);
}
