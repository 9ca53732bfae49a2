//! The RDS kinds' in-place updates against moto (issue 11): a cluster
//! parameter's new value, the cluster's user tags and the instance class
//! each change in place, with only their resource updated, and plan clean
//! after.
//!
//! What moto cannot prove: it has no ResetDBClusterParameterGroup (a
//! parameter dropped from the blueprint is reset with it) nor
//! RemoveRoleFromDBCluster (HTTP 500 for both); its ModifyDBSubnetGroup
//! removes the group it modifies (moto 5.2.5 pops it from its table and
//! never puts it back), so a subnet group's update is not tested here; and
//! its statuses are instant where AWS restarts instances for a new class.

use crate::moto::{Stack, changes, ok, require_moto, rt};

#[test]
fn rds_parameters_tags_descriptions_and_classes_change_in_place() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "rdsu");
    let bp = crate::util::fixtures().join("rds");
    let bp = bp.to_str().unwrap();
    ok(&s.run(&["apply", bp, "--auto-approve"]));
    let (cluster, instance) = (s.physical("cluster"), s.physical("instance"));
    let vars = [
        "--var",
        "lock_wait=120",
        "--var",
        "team=analytics",
        "--var",
        "instance_class=db.r6g.large",
    ];
    let plan = s.run(&[&["plan", bp, "--json"][..], &vars].concat());
    ok(&plan);
    let mut ch: Vec<(String, String, String)> = changes(&plan)
        .into_iter()
        .map(|(id, action, changed)| (id, action, changed.to_string()))
        .collect();
    ch.sort();
    let want = [
        ("cluster", "update", r#"["tags"]"#),
        ("cluster_params", "update", r#"["parameters"]"#),
        ("instance", "update", r#"["instance_class"]"#),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(ch, want);
    ok(&s.run(&[&["apply", bp, "--auto-approve"][..], &vars].concat()));
    assert_eq!(
        (s.physical("cluster"), s.physical("instance")),
        (cluster.clone(), instance.clone())
    );

    let rds = client!(aws_sdk_rds, &url);
    rt().block_on(async {
        let p = rds
            .describe_db_cluster_parameters()
            .db_cluster_parameter_group_name(s.physical("cluster_params"))
            .source("user")
            .send()
            .await
            .unwrap();
        let v = p
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("innodb_lock_wait_timeout"))
            .and_then(|p| p.parameter_value());
        assert_eq!(v, Some("120"));
        let c = rds.describe_db_clusters().db_cluster_identifier(&cluster).send().await.unwrap();
        let arn = c.db_clusters()[0].db_cluster_arn().unwrap().to_string();
        let tags = rds.list_tags_for_resource().resource_name(arn).send().await.unwrap();
        let team: Vec<_> =
            tags.tag_list().iter().filter(|t| t.key() == Some("team")).map(|t| t.value()).collect();
        assert_eq!(team, [Some("analytics")]);
        let i = rds.describe_db_instances().db_instance_identifier(&instance).send().await.unwrap();
        assert_eq!(i.db_instances()[0].db_instance_class(), Some("db.r6g.large"));
    });
    let plan = s.run(&[&["plan", bp, "--detailed-exitcode"][..], &vars].concat());
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    ok(&s.run(&[&["destroy", bp, "--auto-approve"][..], &vars].concat()));
    assert!(s.state()["resources"].as_object().unwrap().is_empty());
}
