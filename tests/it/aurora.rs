//! End-to-end test of `aurora-firehose-s3` against moto (issue 11): the
//! stream's destination, the parameter group's `aws_default_lambda_role`,
//! the role association on the cluster, least-privilege roles, MySQL open
//! only to `db_client_cidr`; a record put through the stream lands under
//! `CDC/`; no-change plan and a second apply that writes nothing; a
//! buffering change is an in-place destination update and an engine
//! version change an in-place upgrade the plan explains; a destroy with
//! data stops at the bucket, and `--force-empty` leaves nothing, checked
//! service by service.
//!
//! What moto cannot prove: RDS statuses are instant (AWS takes 5 to 15
//! minutes per cluster and instance), moto never runs the trigger or the
//! function (their SQL and Python are tested in
//! `blueprints/aurora-firehose-s3/tests`), Firehose writes at once and
//! uncompressed, and moto has no RemoveRoleFromDBCluster (the association
//! goes with its cluster on destroy, which needs no such call).

use crate::moto::{Stack, changes, figures, iam, ok, require_moto, rt, stats};
use crate::util::Run;

const BP: &str = "aurora-firehose-s3";
const CIDR: &str = "203.0.113.7/32";

fn run(s: &Stack, args: &[&str]) -> (Run, f64) {
    let mut c = s.cmd(args);
    c.env("ARCHKIT_VAR_db_client_cidr", CIDR);
    let t = std::time::Instant::now();
    let out = crate::util::run(&mut c);
    (out, t.elapsed().as_secs_f64())
}

fn rds(url: &str) -> aws_sdk_rds::Client {
    client!(aws_sdk_rds, url)
}

fn firehose(url: &str) -> aws_sdk_firehose::Client {
    client!(aws_sdk_firehose, url)
}

/// The statements of a role's inline policies, and its managed policies.
async fn role_policies(url: &str, role: &str) -> (Vec<serde_json::Value>, Vec<String>) {
    let iam = iam(url);
    let names = iam.list_role_policies().role_name(role).send().await.unwrap();
    let mut statements = Vec::new();
    for name in names.policy_names() {
        let p = iam.get_role_policy().role_name(role).policy_name(name).send().await.unwrap();
        let raw = p.policy_document();
        let doc: serde_json::Value = serde_json::from_str(raw)
            .or_else(|_| {
                serde_json::from_str(&percent_encoding::percent_decode_str(raw).decode_utf8_lossy())
            })
            .unwrap();
        statements.extend(doc["Statement"].as_array().unwrap().iter().cloned());
    }
    let attached = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
    let managed = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(Into::into))
        .collect();
    (statements, managed)
}

/// What is left of the stack in the services this blueprint adds (RDS,
/// Firehose, S3, the RDS-managed secret), besides those `mq::leftovers`
/// checks (Lambda, IAM, Logs, EC2). Needs no state: a killed run's may
/// have lost what it made.
pub(crate) async fn leftovers(url: &str, s: &Stack) -> Vec<String> {
    let none = serde_json::json!({"resources": {}});
    let mut left = crate::mq::leftovers(url, s, &none).await;
    let rds = rds(url);
    let prefix = s.name.to_ascii_lowercase();
    let clusters = rds.describe_db_clusters().send().await.unwrap();
    left.extend(
        clusters
            .db_clusters()
            .iter()
            .filter_map(|c| c.db_cluster_identifier())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("cluster {n}")),
    );
    let instances = rds.describe_db_instances().send().await.unwrap();
    left.extend(
        instances
            .db_instances()
            .iter()
            .filter_map(|i| i.db_instance_identifier())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("instance {n}")),
    );
    let groups = rds.describe_db_subnet_groups().send().await.unwrap();
    left.extend(
        groups
            .db_subnet_groups()
            .iter()
            .filter_map(|g| g.db_subnet_group_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("subnet group {n}")),
    );
    let params = rds.describe_db_cluster_parameter_groups().send().await.unwrap();
    left.extend(
        params
            .db_cluster_parameter_groups()
            .iter()
            .filter_map(|g| g.db_cluster_parameter_group_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("parameter group {n}")),
    );
    let streams = firehose(url).list_delivery_streams().send().await.unwrap();
    left.extend(
        streams
            .delivery_stream_names()
            .iter()
            .filter(|n| n.starts_with(&s.name))
            .map(|n| format!("stream {n}")),
    );
    let buckets = crate::moto::s3(url).list_buckets().send().await.unwrap();
    left.extend(
        buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("bucket {n}")),
    );
    let glue = client!(aws_sdk_glue, url);
    let dbs = glue.get_databases().send().await.unwrap();
    left.extend(
        dbs.database_list()
            .iter()
            .map(|d| d.name())
            .filter(|n| n.starts_with(&prefix.replace('-', "_")))
            // Glue names have `_` for the stack's `-`: shown with `-` so
            // the stack's name is recognised in it.
            .map(|n| format!("glue database {}", n.replace('_', "-"))),
    );
    // The master password's secret, which RDS tags with its cluster.
    let sm = client!(aws_sdk_secretsmanager, url);
    let secrets = sm.list_secrets().send().await.unwrap();
    let ours = format!(":cluster:{prefix}");
    left.extend(
        secrets
            .secret_list()
            .iter()
            .filter(|x| {
                x.tags().iter().any(|t| {
                    t.key() == Some("aws:rds:primaryDBClusterArn")
                        && t.value().is_some_and(|v| v.contains(&ours))
                })
            })
            .map(|x| format!("secret {:?}", x.name())),
    );
    left
}

#[test]
fn aurora_changes_reach_s3_through_firehose_and_the_stack_leaves_nothing() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "afs");
    let bp = s.builtin(BP);
    let (out, secs) = run(&s, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&out);
    figures("apply", &out, secs);
    let phys = |id: &str| s.physical(id);
    let attr = |id: &str, a: &str| {
        s.state()["resources"][id]["attributes"][a].as_str().unwrap_or_default().to_string()
    };
    let (bucket, stream, cluster) = (phys("cdc_bucket"), phys("changes_stream"), phys("cluster"));
    let invoke_role_arn = attr("aurora_invoke_role", "arn");
    let secret_arn = attr("cluster", "master_user_secret_arn");
    assert!(secret_arn.starts_with("arn:aws:secretsmanager:"), "{secret_arn}");

    let (rds, fh) = (rds(&url), firehose(&url));
    rt().block_on(async {
        // The stream: Direct PUT into the bucket, under CDC/, GZIP, with
        // the delivery role.
        let d = fh.describe_delivery_stream().delivery_stream_name(&stream).send().await.unwrap();
        let d = d.delivery_stream_description().unwrap();
        assert_eq!(d.delivery_stream_type().as_str(), "DirectPut");
        let dest = d.destinations()[0].extended_s3_destination_description().unwrap();
        assert_eq!(dest.bucket_arn(), format!("arn:aws:s3:::{bucket}"));
        assert_eq!(dest.prefix(), Some("CDC/"));
        assert_eq!(dest.compression_format().as_str(), "GZIP");
        assert_eq!(dest.role_arn(), attr("delivery_role", "arn"));

        // The parameter group names the invoke role; the cluster uses the
        // group, has the role associated (ACTIVE) and its password in a
        // secret RDS manages.
        let params = rds
            .describe_db_cluster_parameters()
            .db_cluster_parameter_group_name(phys("cluster_params"))
            .source("user")
            .send()
            .await
            .unwrap();
        let lambda_role = params
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("aws_default_lambda_role"))
            .and_then(|p| p.parameter_value());
        assert_eq!(lambda_role, Some(invoke_role_arn.as_str()));
        // New sessions have the AWS_LAMBDA_ACCESS role active.
        let on_login = params
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("activate_all_roles_on_login"))
            .and_then(|p| p.parameter_value());
        assert_eq!(on_login, Some("1"));

        // The catalog table: the post's columns, over CDC/, read by
        // LazySimpleSerDe with `,` and the `\` escape the function writes.
        let glue = client!(aws_sdk_glue, &url);
        let (db, name) =
            phys("sales_cdc").split_once('|').map(|(a, b)| (a.to_string(), b.to_string())).unwrap();
        assert_eq!(db, phys("cdc_catalog"));
        let got = glue.get_table().database_name(&db).name(&name).send().await.unwrap();
        let table = got.table().unwrap();
        assert_eq!(table.table_type(), Some("EXTERNAL_TABLE"));
        let sd = table.storage_descriptor().unwrap();
        assert_eq!(sd.location(), Some(format!("s3://{bucket}/CDC/").as_str()));
        let cols: Vec<(&str, &str)> =
            sd.columns().iter().map(|c| (c.name(), c.r#type().unwrap_or_default())).collect();
        assert_eq!(
            cols,
            [
                ("itemid", "int"),
                ("category", "varchar(255)"),
                ("price", "double"),
                ("quantity", "int"),
                ("orderdate", "timestamp"),
                ("destinationstate", "varchar(2)"),
                ("shippingtype", "varchar(255)"),
                ("referral", "varchar(255)"),
            ]
        );
        let serde = sd.serde_info().unwrap();
        assert_eq!(
            serde.serialization_library(),
            Some("org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
        );
        let sp = serde.parameters().unwrap();
        assert_eq!((sp["field.delim"].as_str(), sp["escape.delim"].as_str()), (",", "\\"));
        assert_eq!(sd.input_format(), Some("org.apache.hadoop.mapred.TextInputFormat"));
        // Not taggable: the table's parameters carry the stack.
        let tp = table.parameters().unwrap();
        assert_eq!(tp.get("archkit:stack"), Some(&s.name));
        assert_eq!(tp.get("archkit:id").map(String::as_str), Some("sales_cdc"));

        let c = rds.describe_db_clusters().db_cluster_identifier(&cluster).send().await.unwrap();
        let c = &c.db_clusters()[0];
        assert_eq!(c.engine(), Some("aurora-mysql"));
        assert_eq!(c.db_cluster_parameter_group(), Some(phys("cluster_params").as_str()));
        assert_eq!(c.db_subnet_group(), Some(phys("db_subnets").as_str()));
        let roles: Vec<_> =
            c.associated_roles().iter().map(|r| (r.role_arn(), r.status())).collect();
        assert_eq!(roles, [(Some(invoke_role_arn.as_str()), Some("ACTIVE"))]);
        assert_eq!(c.master_user_secret().and_then(|m| m.secret_arn()), Some(secret_arn.as_str()));
        assert!(
            c.tag_list()
                .iter()
                .any(|t| t.key() == Some("archkit:id") && t.value() == Some("cluster"))
        );
        let i = rds.describe_db_instances().db_instance_identifier(phys("instance")).send();
        let i = i.await.unwrap();
        assert_eq!(i.db_instances()[0].db_cluster_identifier(), Some(cluster.as_str()));

        // MySQL only from db_client_cidr; out only to 443.
        let ec2 = crate::moto::ec2(&url);
        let sg = ec2.describe_security_groups().group_ids(phys("db_sg")).send().await.unwrap();
        let sg = &sg.security_groups()[0];
        let ingress: Vec<_> = sg
            .ip_permissions()
            .iter()
            .flat_map(|p| {
                p.ip_ranges().iter().map(move |r| (p.from_port(), p.to_port(), r.cidr_ip()))
            })
            .collect();
        assert_eq!(ingress, [(Some(3306), Some(3306), Some(CIDR))]);
        assert!(sg.ip_permissions_egress().iter().all(|p| p.from_port() == Some(443)));

        // Least privilege: the function may only put records to its
        // stream (and log); Aurora may only invoke the function.
        let basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
        let (st, managed) = role_policies(&url, &phys("cdc_function_role")).await;
        assert_eq!(managed, [basic]);
        assert_eq!(st.len(), 1, "{st:?}");
        assert_eq!(st[0]["Action"], "firehose:PutRecord");
        assert_eq!(st[0]["Resource"].as_str(), d.delivery_stream_arn().into());
        let (st, managed) = role_policies(&url, &phys("aurora_invoke_role")).await;
        assert!(managed.is_empty(), "{managed:?}");
        assert_eq!(st.len(), 1, "{st:?}");
        assert_eq!(st[0]["Action"], "lambda:InvokeFunction");
        assert_eq!(st[0]["Resource"], attr("cdc_function", "arn"));
        let lambda = client!(aws_sdk_lambda, &url);
        let f = lambda.get_function_configuration().function_name(phys("cdc_function")).send();
        let f = f.await.unwrap();
        assert_eq!(f.runtime().map(|r| r.as_str()), Some("python3.12"));
        assert_eq!(f.environment().and_then(|e| e.variables()).unwrap()["DELIVERY_STREAM"], stream);

        // A record put through the stream lands under CDC/.
        let row = aws_sdk_firehose::types::Record::builder()
            .data(aws_sdk_firehose::primitives::Blob::new("42,Electronics,199.99,2\n"))
            .build()
            .unwrap();
        fh.put_record().delivery_stream_name(&stream).record(row).send().await.unwrap();
        let listed = crate::moto::s3(&url).list_objects_v2().bucket(&bucket).send().await.unwrap();
        let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(keys[0].starts_with("CDC/"), "{keys:?}");
    });

    // The password RDS made is nowhere in what archkit wrote.
    let sm = client!(aws_sdk_secretsmanager, &url);
    let password = rt()
        .block_on(sm.get_secret_value().secret_id(&secret_arn).send())
        .unwrap()
        .secret_string()
        .unwrap()
        .to_string();
    let state_text =
        std::fs::read_to_string(s.dir_path().join(format!(".archkit/{}.state.json", s.name)))
            .unwrap();
    assert!(!state_text.contains(&password) && !out.stdout.contains(&password));

    // Nothing to do right after apply, and a second apply writes nothing.
    let (plan, secs) = run(&s, &["plan", &bp, "--detailed-exitcode", "--json", "--stats"]);
    ok(&plan);
    crate::moto::assert_no_drift(&plan);
    figures("no-change plan", &plan, secs);
    let (again, _) = run(&s, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&again);
    assert_eq!(stats(&again)["write_calls"], 0, "{}", again.stderr);

    // A column added to the catalog table: UpdateTable in place with the
    // whole definition (archkit's parameters kept), then no change.
    let yaml = std::path::Path::new(&bp).join("blueprint.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let last = "        - {name: referral, type: varchar(255)}\n";
    assert!(text.contains(last));
    let more = format!("{last}        - {{name: coupon, type: string, comment: added later}}\n");
    std::fs::write(&yaml, text.replace(last, &more)).unwrap();
    let (plan, _) = run(&s, &["plan", &bp, "--json"]);
    assert_eq!(
        changes(&plan),
        [("sales_cdc".to_string(), "update".to_string(), serde_json::json!(["columns"]))]
    );
    ok(&run(&s, &["apply", &bp, "--auto-approve"]).0);
    rt().block_on(async {
        let (db, name) = s
            .physical("sales_cdc")
            .split_once('|')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap();
        let got = client!(aws_sdk_glue, &url).get_table().database_name(db).name(name).send().await;
        let got = got.unwrap();
        let t = got.table().unwrap();
        let cols = t.storage_descriptor().unwrap().columns();
        assert_eq!(cols.len(), 9);
        assert_eq!((cols[8].name(), cols[8].comment()), ("coupon", Some("added later")));
        assert_eq!(
            t.parameters().unwrap().get("archkit:id").map(String::as_str),
            Some("sales_cdc")
        );
    });
    let (plan, _) = run(&s, &["plan", &bp, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);

    // The post's last steps, printed: the 10-row generator and the query
    // over the catalog table.
    let out = s.run(&["output", "--json"]);
    ok(&out);
    let o: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let db = s.physical("cdc_catalog");
    assert_eq!(o["catalog_table"], format!("{db}.sales_cdc"));
    let query = o["query"].as_str().unwrap();
    assert!(query.contains(&format!("--query-execution-context Database={db} ")), "{query}");
    assert!(query.contains("FROM sales_cdc GROUP BY category"), "{query}");
    assert!(o["generate_rows"].as_str().unwrap().ends_with("< sql/generate.sql"), "{o}");
    assert!(std::path::Path::new(&bp).join("sql/generate.sql").is_file());

    // The optional Spectrum role: off by default, one role when asked for.
    let (plan, _) = run(&s, &["plan", &bp, "--json", "--var", "redshift_spectrum=true"]);
    ok(&plan);
    let ch = changes(&plan);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!((ch[0].0.as_str(), ch[0].1.as_str()), ("spectrum_role", "create"));

    // Buffering: an in-place destination update of the stream alone.
    let (plan, _) = run(&s, &["plan", &bp, "--json", "--var", "buffer_interval_seconds=60"]);
    ok(&plan);
    let ch = changes(&plan);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!((ch[0].0.as_str(), ch[0].1.as_str()), ("changes_stream", "update"));
    assert_eq!(ch[0].2, serde_json::json!(["buffer_interval_seconds"]));

    // Engine version: an in-place upgrade of the cluster, and the plan
    // says what it entails.
    let newer = "engine_version=8.0.mysql_aurora.3.09.0";
    let (plan, _) = run(&s, &["plan", &bp, "--var", newer]);
    ok(&plan);
    let flat = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = format!("cluster aws.rds.db_cluster ({cluster}) update in place");
    assert!(flat.contains(&line), "{flat}");
    assert!(flat.contains("the cluster and its instances restart"), "{flat}");
    let (plan, _) = run(&s, &["plan", &bp, "--json", "--var", newer]);
    let ch = changes(&plan);
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!((ch[0].0.as_str(), ch[0].1.as_str()), ("cluster", "update"));
    let (out, secs) =
        run(&s, &["apply", &bp, "--auto-approve", "--var", newer, "--json", "--stats"]);
    ok(&out);
    figures("engine upgrade (ModifyDBCluster in place)", &out, secs);
    assert_eq!(phys("cluster"), cluster, "upgraded in place, not replaced");
    let version = rt()
        .block_on(rds.describe_db_clusters().db_cluster_identifier(&cluster).send())
        .unwrap()
        .db_clusters()[0]
        .engine_version()
        .map(str::to_string);
    assert_eq!(version.as_deref(), Some("8.0.mysql_aurora.3.09.0"));
    let (plan, _) = run(&s, &["plan", &bp, "--detailed-exitcode", "--var", newer]);
    ok(&plan);

    // Data in the bucket: the destroy stops there, naming the bucket and
    // the count, and leaves the bucket and its object.
    let (refused, secs) =
        run(&s, &["destroy", &bp, "--auto-approve", "--var", newer, "--json", "--stats"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    // With --json the failure is in the report on stdout.
    let both = format!("{}{}", refused.stdout, refused.stderr);
    let flat = both.split_whitespace().collect::<Vec<_>>().join(" ");
    figures("destroy, stopped at the non-empty bucket", &refused, secs);
    assert!(flat.contains(&format!("bucket {bucket} is not empty")), "{flat}");
    assert!(flat.contains("1 object version(s)"), "{flat}");
    assert!(flat.contains("--force-empty"), "{flat}");
    let listed = rt().block_on(crate::moto::s3(&url).list_objects_v2().bucket(&bucket).send());
    assert_eq!(listed.unwrap().key_count(), Some(1), "the object is kept");

    let (out, secs) =
        run(&s, &["destroy", &bp, "--auto-approve", "--force-empty", "--json", "--stats"]);
    ok(&out);
    figures("destroy --force-empty (after the refused one)", &out, secs);
    assert!(s.state()["resources"].as_object().unwrap().is_empty());
    let left = rt().block_on(leftovers(&url, &s));
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A CreateDBCluster carried out whose answer was lost (the proxy hangs
/// up): moto overwrites a cluster on a second create (its subnet group
/// becomes `default`, its tags are lost) and then answers with an
/// unrelated error, so the create must never be sent again: the run
/// finds the first cluster by its tags (and the kind's create looks the
/// identifier up before any CreateDBCluster, as a second line of defence
/// this test does not isolate).
#[test]
fn a_cluster_create_whose_answer_was_lost_is_never_sent_twice() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "afs-lost");
    let bp = s.builtin(BP);
    let proxy = crate::faults::Proxy::builder(&url).drop_op("CreateDBCluster").start();
    let mut c = s.cmd_at(&proxy.url, &["apply", &bp, "--auto-approve"]);
    c.env("ARCHKIT_VAR_db_client_cidr", CIDR);
    let out = crate::util::run(&mut c);
    assert_eq!(proxy.stats()["dropped"], 1, "the proxy dropped no answer");
    ok(&out);
    let ops = proxy.stats()["ops"].clone();
    let creates = ops.as_array().unwrap().iter().filter(|o| *o == "CreateDBCluster").count();
    assert_eq!(creates, 1, "the create was sent again");
    let cluster = s.physical("cluster");
    let c = rt().block_on(rds(&url).describe_db_clusters().db_cluster_identifier(&cluster).send());
    let c = c.unwrap().db_clusters()[0].clone();
    assert_eq!(c.db_subnet_group(), Some(s.physical("db_subnets").as_str()));
    assert!(
        c.tag_list().iter().any(|t| t.key() == Some("archkit:id") && t.value() == Some("cluster"))
    );
    ok(&run(&s, &["plan", &bp, "--detailed-exitcode"]).0);
    ok(&run(&s, &["destroy", &bp, "--auto-approve"]).0);
    let left = rt().block_on(leftovers(&url, &s));
    assert!(left.is_empty(), "left behind: {left:?}");
}
