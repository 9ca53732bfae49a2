//! End-to-end tests of the managed-service blueprints against moto (issue
//! 18): `glue-relationalize`, `codebuild-vpc` and `managed-ad-sqlserver`.
//! Each is applied, read back with the SDK, planned again with no change,
//! applied again without a write, and destroyed leaving nothing, checked
//! service by service.
//!
//! What moto cannot prove: UpdateJob, UpdateCrawler and UpdateProject are
//! not implemented (HTTP 500), so those in-place updates go through the
//! fault proxy's canned answers (`--canned`): the test checks the request
//! archkit sends, not that AWS applies it. Directory stages, crawler runs
//! and instance states are instant; roles, directories and scripts are
//! never checked for existence.

use crate::faults::Proxy;
use crate::moto::{Stack, changes, figures, ok, require_moto, rt, stats};
use crate::util::Run;
use base64::Engine;
use sha2::Digest;

fn run(s: &Stack, url: &str, args: &[&str]) -> (Run, f64) {
    let t = std::time::Instant::now();
    let out = crate::util::run(&mut s.cmd_at(url, args));
    (out, t.elapsed().as_secs_f64())
}

fn glue(url: &str) -> aws_sdk_glue::Client {
    client!(aws_sdk_glue, url)
}

fn attr(s: &Stack, id: &str, name: &str) -> String {
    s.state()["resources"][id]["attributes"][name].as_str().unwrap().to_string()
}

fn sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// Roles under the stack's IAM path.
async fn roles(url: &str, s: &Stack) -> Vec<String> {
    let path = format!("/archkit/{}/", s.name);
    let roles = crate::moto::iam(url).list_roles().path_prefix(&path).send().await.unwrap();
    roles.roles().iter().map(|r| format!("role {}", r.role_name())).collect()
}

/// What is left of a Glue stack: its bucket, Glue databases, crawlers
/// and jobs named after the stack, its roles.
pub(crate) async fn glue_leftovers(url: &str, s: &Stack, bucket: &str) -> Vec<String> {
    let mut left = Vec::new();
    if crate::moto::s3(url).head_bucket().bucket(bucket).send().await.is_ok() {
        left.push(format!("bucket {bucket}"));
    }
    let prefix = s.name.to_ascii_lowercase().replace('-', "_");
    let g = glue(url);
    let dbs = g.get_databases().send().await.unwrap();
    left.extend(
        dbs.database_list()
            .iter()
            .filter(|d| d.name().starts_with(&prefix))
            .map(|d| format!("database {}", d.name())),
    );
    let crawlers = g.get_crawlers().send().await.unwrap();
    left.extend(
        crawlers
            .crawlers()
            .iter()
            .filter_map(|c| c.name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("crawler {n}")),
    );
    let jobs = g.get_jobs().send().await.unwrap();
    left.extend(
        jobs.jobs()
            .iter()
            .filter_map(|j| j.name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("job {n}")),
    );
    left.extend(roles(url, s).await);
    left
}

const GLUE: &str = "glue-relationalize";

#[test]
fn glue_relationalize_uploads_catalogs_and_leaves_nothing() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url)
        .canned("UpdateJob", r#"{"JobName": "canned"}"#)
        .canned("UpdateCrawler", "{}")
        .start();
    let p = proxy.url.clone();
    let s = Stack::new(&url, "glue");
    let bp = s.builtin(GLUE);
    let dir = std::path::PathBuf::from(&bp);

    let (apply, secs) = run(&s, &p, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&apply);
    figures("glue-relationalize apply", &apply, secs);
    let bucket = s.physical("data_bucket");
    let role = attr(&s, "glue_role", "arn");
    let database = s.physical("database");
    rt().block_on(async {
        let s3 = crate::moto::s3(&url);
        for (id, key, file) in [
            ("players_data", "players/players.json", "data/players.json"),
            ("job_script", "scripts/relationalize.py", "scripts/relationalize.py"),
        ] {
            let want = std::fs::read(dir.join(file)).unwrap();
            let got = s3.get_object().bucket(&bucket).key(key).send().await.unwrap();
            assert_eq!(got.metadata().unwrap()["archkit-sha256"], sha256(&want), "{key}");
            assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), &want[..]);
            let tags = s3.get_object_tagging().bucket(&bucket).key(key).send().await.unwrap();
            let tags: Vec<(&str, &str)> =
                tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
            assert!(tags.contains(&("archkit:id", id)), "{tags:?}");
            assert!(tags.contains(&("archkit:stack", s.name.as_str())), "{tags:?}");
        }
        let g = glue(&url);
        assert!(g.get_database().name(&database).send().await.is_ok());
        let c = g.get_crawler().name(s.physical("players_crawler")).send().await.unwrap();
        let c = c.crawler().unwrap();
        assert_eq!(c.role(), Some(role.as_str()));
        assert_eq!(c.database_name(), Some(database.as_str()));
        let paths: Vec<_> =
            c.targets().unwrap().s3_targets().iter().filter_map(|t| t.path()).collect();
        assert_eq!(paths, [format!("s3://{bucket}/players/")]);
        let j = g.get_job().job_name(s.physical("relationalize_job")).send().await.unwrap();
        let j = j.job().unwrap();
        assert_eq!(j.role(), Some(role.as_str()));
        let cmd = j.command().unwrap();
        assert_eq!(cmd.name(), Some("glueetl"));
        assert_eq!(
            cmd.script_location(),
            Some(format!("s3://{bucket}/scripts/relationalize.py").as_str())
        );
        assert_eq!(cmd.python_version(), Some("3"));
        assert_eq!(j.glue_version(), Some("4.0"));
        assert_eq!(j.worker_type().map(|w| w.as_str()), Some("G.1X"));
        assert_eq!(j.number_of_workers(), Some(2));
        let args = j.default_arguments().unwrap();
        assert_eq!(args["--TempDir"], format!("s3://{bucket}/temp/"));
        assert_eq!(args["--database"], database);
        assert_eq!(args["--table_name"], "players");
        assert_eq!(args["--output_path"], format!("s3://{bucket}/output-flat/"));
        assert_eq!(args["--frames_path"], format!("s3://{bucket}/output-frames/"));

        // The post's Athena table over the root frame: ORC at
        // output-flat/, with the names the job writes (the post's DDL's).
        let t = g.get_table().database_name(&database).name("players_flat").send().await.unwrap();
        let t = t.table().unwrap();
        let sd = t.storage_descriptor().unwrap();
        assert_eq!(sd.location(), Some(format!("s3://{bucket}/output-flat/").as_str()));
        assert_eq!(
            sd.serde_info().and_then(|s| s.serialization_library()),
            Some("org.apache.hadoop.hive.ql.io.orc.OrcSerde")
        );
        let cols: Vec<(&str, &str)> =
            sd.columns().iter().map(|c| (c.name(), c.r#type().unwrap_or_default())).collect();
        assert_eq!(cols.len(), 25, "{cols:?}");
        for want in [
            ("username", "string"),
            ("characteristics_race", "string"),
            ("characteristics_power", "int"),
            ("kinetic_name", "string"),
            ("map", "string"),
            ("waypoint", "string"),
        ] {
            assert!(cols.contains(&want), "{want:?} not in {cols:?}");
        }
        assert!(
            !cols.iter().any(|(n, _)| n.starts_with("arsenal_") || n.contains('.')),
            "{cols:?}"
        );
        let trust = crate::moto::iam(&url)
            .get_role()
            .role_name(role.rsplit('/').next().unwrap())
            .send()
            .await
            .unwrap();
        let doc = trust.role().unwrap().assume_role_policy_document().unwrap_or_default();
        // URL-encoded, but the service name has no character to encode.
        assert!(doc.contains("glue.amazonaws.com"), "{doc}");
    });

    // No change, and a second apply writes nothing.
    let (again, secs) = run(&s, &p, &["plan", &bp, "--detailed-exitcode", "--stats", "--json"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    figures("glue-relationalize no-change plan", &again, secs);
    // Each of the two objects: its tags and its head, once (discovery's
    // tag read is the plan's, not repeated); the buckets are listed once
    // for the bucket and the object kinds.
    let calls = |name: &str| {
        stats(&again)["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["operation"] == name)
            .map(|o| o["calls"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (calls("GetObjectTagging"), calls("HeadObject"), calls("ListBuckets")),
        (2, 2, 1),
        "{}",
        again.stderr
    );
    let (again, _) = run(&s, &p, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&again);
    assert_eq!(stats(&again)["write_calls"], 0, "{}", again.stderr);

    // An edited script is one upload; the job, which names its location,
    // is not touched.
    let script = dir.join("scripts/relationalize.py");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&script, &text).unwrap();
    let (plan, _) = run(&s, &p, &["plan", &bp, "--json"]);
    ok(&plan);
    assert_eq!(
        changes(&plan),
        [("job_script".to_string(), "update".to_string(), serde_json::json!(["source"]))]
    );
    let (apply, _) = run(&s, &p, &["apply", &bp, "--auto-approve"]);
    ok(&apply);
    rt().block_on(async {
        let got = crate::moto::s3(&url)
            .get_object()
            .bucket(&bucket)
            .key("scripts/relationalize.py")
            .send()
            .await
            .unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), text.as_bytes());
    });
    let ops = proxy.stats()["ops"].clone();
    assert!(!ops.as_array().unwrap().iter().any(|o| o == "UpdateJob"), "{ops}");

    // More workers: UpdateJob with the whole definition (canned: moto has
    // no UpdateJob), and a new crawler description: UpdateCrawler.
    let bpf = dir.join("blueprint.yaml");
    let yaml = std::fs::read_to_string(&bpf).unwrap();
    let edited =
        yaml.replace("Catalogs the players JSON as the table `players`.", "Catalogs the players.");
    assert_ne!(yaml, edited);
    std::fs::write(&bpf, edited).unwrap();
    let more = ["--var", "number_of_workers=3"];
    let (plan, _) = run(&s, &p, &[&["plan", &bp, "--json"][..], &more].concat());
    let mut got = changes(&plan);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            ("players_crawler".into(), "update".into(), serde_json::json!(["description"])),
            ("relationalize_job".into(), "update".into(), serde_json::json!(["number_of_workers"])),
        ]
    );
    let (apply, _) = run(&s, &p, &[&["apply", &bp, "--auto-approve"][..], &more].concat());
    ok(&apply);
    let canned = proxy.stats()["canned"].clone();
    let job = canned.as_array().unwrap().iter().find(|c| c["op"] == "UpdateJob").unwrap();
    let update = &job["body"]["JobUpdate"];
    assert_eq!(job["body"]["JobName"], s.physical("relationalize_job"));
    assert_eq!(update["NumberOfWorkers"], 3);
    assert_eq!(update["WorkerType"], "G.1X");
    assert_eq!(update["Role"], role);
    assert_eq!(
        update["Command"]["ScriptLocation"],
        format!("s3://{bucket}/scripts/relationalize.py")
    );
    assert_eq!(update["DefaultArguments"]["--TempDir"], format!("s3://{bucket}/temp/"));
    let crawler = canned.as_array().unwrap().iter().find(|c| c["op"] == "UpdateCrawler").unwrap();
    assert_eq!(crawler["body"]["Description"], "Catalogs the players.");
    assert_eq!(
        crawler["body"]["Targets"]["S3Targets"][0]["Path"],
        format!("s3://{bucket}/players/")
    );
    assert_eq!(crawler["body"]["Role"], role);

    // The job's output stays unless asked: the bucket is not emptied, and
    // the destroy says so; a running crawler is stopped before it goes.
    rt().block_on(async {
        crate::moto::s3(&url)
            .put_object()
            .bucket(&bucket)
            .key("output-flat/roottable/part-0.orc")
            .body(b"orc".to_vec().into())
            .send()
            .await
            .unwrap();
        glue(&url).start_crawler().name(s.physical("players_crawler")).send().await.unwrap();
    });
    let (destroy, _) = run(&s, &p, &["destroy", &bp, "--auto-approve"]);
    assert_eq!(destroy.code, 1, "{}\n{}", destroy.stdout, destroy.stderr);
    assert!(
        destroy.stderr.contains(&format!("bucket {bucket} is not empty")),
        "{}",
        destroy.stderr
    );
    let ops: Vec<String> = serde_json::from_value(proxy.stats()["ops"].clone()).unwrap();
    let stop = ops.iter().position(|o| o == "StopCrawler").expect("the crawler is stopped");
    let delete = ops.iter().position(|o| o == "DeleteCrawler").expect("then deleted");
    assert!(stop < delete, "{ops:?}");
    rt().block_on(async {
        let left = glue_leftovers(&url, &s, &bucket).await;
        assert_eq!(left, [format!("bucket {bucket}")], "only the bucket holding data stays");
    });
    let (destroy, secs) =
        run(&s, &p, &["destroy", &bp, "--auto-approve", "--force-empty", "--json", "--stats"]);
    ok(&destroy);
    figures("glue-relationalize destroy --force-empty", &destroy, secs);
    rt().block_on(async {
        assert_eq!(glue_leftovers(&url, &s, &bucket).await, Vec::<String>::new());
    });
}

fn codebuild(url: &str) -> aws_sdk_codebuild::Client {
    client!(aws_sdk_codebuild, url)
}

/// What is left of the CodeBuild stack: its network, role and cluster
/// leftovers (as the compute stacks), its projects and its log groups.
pub(crate) async fn codebuild_leftovers(url: &str, s: &Stack) -> Vec<String> {
    let mut left = crate::compute::leftovers(url, None, s).await;
    let names = codebuild(url).list_projects().send().await.unwrap();
    left.extend(
        names.projects().iter().filter(|n| n.starts_with(&s.name)).map(|n| format!("project {n}")),
    );
    let groups = crate::moto::logs(url)
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/codebuild/{}", s.name))
        .send()
        .await
        .unwrap();
    left.extend(groups.log_groups().iter().map(|g| format!("log group {:?}", g.log_group_name())));
    left
}

const CODEBUILD: &str = "codebuild-vpc";

#[test]
fn codebuild_vpc_builds_in_private_subnets_with_a_scoped_role() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url).canned("UpdateProject", "{}").start();
    let p = proxy.url.clone();
    let s = Stack::new(&url, "cbv");
    let bp = s.builtin(CODEBUILD);

    let (apply, secs) = run(&s, &p, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&apply);
    figures("codebuild-vpc apply", &apply, secs);
    let name = s.physical("project");
    assert_eq!(name, format!("{}-build", s.name));
    let role = attr(&s, "build_role", "arn");
    let subnets = [s.physical("private_subnet_one"), s.physical("private_subnet_two")];
    rt().block_on(async {
        let got = codebuild(&url).batch_get_projects().names(&name).send().await.unwrap();
        let pr = &got.projects()[0];
        let vpc = pr.vpc_config().unwrap();
        assert_eq!(vpc.vpc_id(), Some(s.physical("vpc").as_str()));
        assert_eq!(vpc.subnets(), subnets);
        assert_eq!(vpc.security_group_ids(), [s.physical("build_sg")]);
        assert_eq!(pr.service_role(), Some(role.as_str()));
        assert_eq!(pr.timeout_in_minutes(), Some(30));
        let env = pr.environment().unwrap();
        assert_eq!(env.compute_type().as_str(), "BUILD_GENERAL1_SMALL");
        assert_eq!(env.r#type().as_str(), "LINUX_CONTAINER");
        let src = pr.source().unwrap();
        assert_eq!(src.r#type().as_str(), "NO_SOURCE");
        let spec = src.buildspec().unwrap();
        assert!(spec.contains("checkip.amazonaws.com"), "{spec}");
        // The post's check: a connection inside the VPC (its DNS server by
        // default, 10.44.0.0/16 + 2), made by bash's /dev/tcp.
        assert!(spec.contains("shell: bash"), "{spec}");
        assert!(spec.contains("</dev/tcp/10.44.0.2/53'"), "{spec}");
        let tags: Vec<_> = pr.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert!(tags.contains(&(Some("archkit:id"), Some("project"))), "{tags:?}");
        // The role may create interfaces only in these subnets, only for
        // CodeBuild: the condition names the subnets' ARNs.
        let policy = crate::moto::iam(&url)
            .get_role_policy()
            .role_name(role.rsplit('/').next().unwrap())
            .policy_name("vpc")
            .send()
            .await
            .unwrap();
        let doc = policy.policy_document().replace("%3A", ":").replace("%2F", "/");
        for subnet in &subnets {
            assert!(doc.contains(&format!("subnet/{subnet}")), "{doc}");
        }
        assert!(doc.contains("ec2:AuthorizedService"), "{doc}");

        // Egress: anything inside the VPC's range, HTTPS and HTTP beyond it.
        let sg = crate::moto::ec2(&url)
            .describe_security_groups()
            .group_ids(s.physical("build_sg"))
            .send()
            .await
            .unwrap();
        let mut egress: Vec<(String, Option<i32>, Vec<String>)> = sg.security_groups()[0]
            .ip_permissions_egress()
            .iter()
            .map(|p| {
                let cidrs = p.ip_ranges().iter().filter_map(|r| r.cidr_ip().map(String::from));
                (p.ip_protocol().unwrap_or_default().to_string(), p.from_port(), cidrs.collect())
            })
            .collect();
        egress.sort();
        assert_eq!(
            egress,
            [
                ("-1".to_string(), None, vec!["10.44.0.0/16".to_string()]),
                ("tcp".to_string(), Some(80), vec!["0.0.0.0/0".to_string()]),
                ("tcp".to_string(), Some(443), vec!["0.0.0.0/0".to_string()]),
            ]
        );
    });
    // The role (with its policy) was made before the project.
    let ops: Vec<String> = serde_json::from_value(proxy.stats()["ops"].clone()).unwrap();
    let put = ops.iter().rposition(|o| o == "PutRolePolicy").expect("the role's policies");
    let create = ops.iter().position(|o| o == "CreateProject").expect("the project");
    assert!(put < create, "{ops:?}");

    let (again, secs) = run(&s, &p, &["plan", &bp, "--detailed-exitcode", "--stats", "--json"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    figures("codebuild-vpc no-change plan", &again, secs);
    let (again, _) = run(&s, &p, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&again);
    assert_eq!(stats(&again)["write_calls"], 0, "{}", again.stderr);

    // The reader's database instead of the DNS server: the buildspec
    // changes in place, nothing else does.
    let target = ["--var", "vpc_target_host=db.internal", "--var", "vpc_target_port=5432"];
    let (plan, _) = run(&s, &p, &[&["plan", &bp, "--json"][..], &target].concat());
    assert_eq!(
        changes(&plan),
        [("project".to_string(), "update".to_string(), serde_json::json!(["buildspec"]))]
    );
    let out = run(&s, &p, &[&["plan", &bp, "--var", "vpc_target_port=0"][..]].concat()).0;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("vpc_target_port"), "{}", out.stderr);

    // A bigger machine: UpdateProject with the whole definition and the
    // whole tag list, archkit's tags kept (canned: moto has none).
    let bigger = ["--var", "compute_type=BUILD_GENERAL1_MEDIUM"];
    let (plan, _) = run(&s, &p, &[&["plan", &bp, "--json"][..], &bigger].concat());
    assert_eq!(
        changes(&plan),
        [("project".to_string(), "update".to_string(), serde_json::json!(["compute_type"]))]
    );
    let (apply, _) = run(&s, &p, &[&["apply", &bp, "--auto-approve"][..], &bigger].concat());
    ok(&apply);
    let canned = proxy.stats()["canned"].clone();
    let body = &canned[0]["body"];
    assert_eq!(canned[0]["op"], "UpdateProject");
    assert_eq!(body["name"], name);
    assert_eq!(body["environment"]["computeType"], "BUILD_GENERAL1_MEDIUM");
    assert_eq!(body["serviceRole"], role);
    assert_eq!(body["vpcConfig"]["subnets"], serde_json::json!(subnets));
    let tags: Vec<(String, String)> = body["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap().into(), t["value"].as_str().unwrap().into()))
        .collect();
    assert!(tags.contains(&("archkit:stack".into(), s.name.clone())), "{tags:?}");
    assert!(tags.contains(&("archkit:id".into(), "project".into())), "{tags:?}");

    let (destroy, secs) = run(&s, &p, &["destroy", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&destroy);
    figures("codebuild-vpc destroy", &destroy, secs);
    rt().block_on(async {
        assert_eq!(codebuild_leftovers(&url, &s).await, Vec::<String>::new());
    });
}

fn ds(url: &str) -> aws_sdk_directory::Client {
    client!(aws_sdk_directory, url)
}

fn rds(url: &str) -> aws_sdk_rds::Client {
    client!(aws_sdk_rds, url)
}

/// What is left of the directory stack: its network and roles (as the
/// compute stacks), directories tagged with the stack, its DB instances
/// and subnet groups (named after the stack).
pub(crate) async fn directory_leftovers(url: &str, s: &Stack) -> Vec<String> {
    let mut left = crate::compute::leftovers(url, None, s).await;
    let dirs = ds(url).describe_directories().send().await.unwrap();
    for d in dirs.directory_descriptions() {
        let id = d.directory_id().unwrap();
        let tags = ds(url).list_tags_for_resource().resource_id(id).send().await.unwrap();
        if tags.tags().iter().any(|t| t.key() == "archkit:stack" && t.value() == s.name) {
            left.push(format!("directory {id}"));
        }
    }
    let prefix = s.name.to_ascii_lowercase();
    let dbs = rds(url).describe_db_instances().send().await.unwrap();
    left.extend(
        dbs.db_instances()
            .iter()
            .filter_map(|d| d.db_instance_identifier())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("db instance {n}")),
    );
    let groups = rds(url).describe_db_subnet_groups().send().await.unwrap();
    left.extend(
        groups
            .db_subnet_groups()
            .iter()
            .filter_map(|g| g.db_subnet_group_name())
            .filter(|n| n.starts_with(&prefix))
            .map(|n| format!("db subnet group {n}")),
    );
    left
}

const AD: &str = "managed-ad-sqlserver";
const AD_PASSWORD: &str = "Corp-Admin-Pw-7x";
/// moto has no `/aws/service/ami-windows-latest` tree: the legacy path of
/// a Windows Server image it knows stands in for the blueprint's default.
pub(crate) const MOTO_WINDOWS_AMI: &str =
    "/aws/service/ecs/optimized-ami/windows_server/2019/english/full/recommended/image_id";

fn ssm(url: &str) -> aws_sdk_ssm::Client {
    client!(aws_sdk_ssm, url)
}

/// The stack's SSM documents (moto) and associations (the proxy's fake).
async fn ssm_leftovers(url: &str, proxy: &str, s: &Stack) -> Vec<String> {
    let mut left = Vec::new();
    let docs = ssm(url).list_documents().send().await.unwrap();
    for d in docs.document_identifiers() {
        if d.tags().iter().any(|t| t.key() == "archkit:stack" && t.value() == s.name) {
            left.push(format!("document {:?}", d.name()));
        }
    }
    let assocs = ssm(proxy).list_associations().send().await.unwrap();
    left.extend(
        assocs.associations().iter().map(|a| format!("association {:?}", a.association_id())),
    );
    left
}

#[test]
fn managed_ad_sqlserver_joins_the_directory_and_never_shows_its_password() {
    let Some(url) = require_moto() else { return };
    // moto implements no association call: the proxy answers those.
    let proxy = Proxy::builder(&url).fake_ssm_associations().start();
    let p = proxy.url.clone();
    let s = Stack::new(&url, "mad");
    let bp = s.builtin(AD);
    let with = |args: &[&str], cidr: bool| {
        let mut c = s.cmd_at(&p, args);
        c.env("ARCHKIT_VAR_directory_admin_password", AD_PASSWORD)
            .env("ARCHKIT_VAR_admin_ami_parameter", MOTO_WINDOWS_AMI);
        if cidr {
            c.env("ARCHKIT_VAR_db_client_cidr", "10.45.0.0/24");
        }
        let t = std::time::Instant::now();
        let out = crate::util::run(&mut c);
        (out, t.elapsed().as_secs_f64())
    };

    // db_client_cidr has no default: nothing happens without it.
    let (plan, _) = with(&["plan", &bp], false);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stderr.contains("db_client_cidr"), "{}", plan.stderr);

    let (plan, _) = with(&["plan", &bp], true);
    ok(&plan);
    assert!(
        plan.stdout.contains("Managed Microsoft AD (Standard, 2 domain controllers)"),
        "{}",
        plan.stdout
    );
    let (apply, secs) = with(&["apply", &bp, "--auto-approve", "--json", "--stats"], true);
    ok(&apply);
    figures("managed-ad-sqlserver apply", &apply, secs);
    let dir_id = s.physical("directory");
    let db = s.physical("sqlserver");
    let role = attr(&s, "directory_access_role", "arn");
    rt().block_on(async {
        let d = ds(&url).describe_directories().directory_ids(&dir_id).send().await.unwrap();
        let d = &d.directory_descriptions()[0];
        assert_eq!(d.name(), Some("corp.example.com"));
        assert_eq!(d.short_name(), Some("CORP"));
        assert_eq!(d.edition().map(|e| e.as_str()), Some("Standard"));
        let vpc = d.vpc_settings().unwrap();
        assert_eq!(vpc.subnet_ids(), [s.physical("subnet_one"), s.physical("subnet_two")]);
        let i = rds(&url).describe_db_instances().db_instance_identifier(&db).send().await.unwrap();
        let i = &i.db_instances()[0];
        assert_eq!(i.engine(), Some("sqlserver-ex"));
        assert_eq!(i.license_model(), Some("license-included"));
        assert_eq!(i.allocated_storage(), Some(20));
        assert_eq!(i.db_cluster_identifier(), None);
        let m = &i.domain_memberships()[0];
        assert_eq!(m.domain(), Some(dir_id.as_str()));
        assert_eq!(m.iam_role_name(), role.rsplit('/').next());
        assert!(i.master_user_secret().is_some(), "RDS manages the master password");
        let sgs: Vec<_> =
            i.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
        assert_eq!(sgs, [s.physical("db_sg")]);
        assert_eq!(
            i.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
            Some(s.physical("db_subnets").as_str())
        );
        let sg = crate::moto::ec2(&url)
            .describe_security_groups()
            .group_ids(s.physical("db_sg"))
            .send()
            .await
            .unwrap();
        let rules = sg.security_groups()[0].ip_permissions();
        assert_eq!(rules.len(), 1);
        assert_eq!((rules[0].from_port(), rules[0].to_port()), (Some(1433), Some(1433)));
        let ranges: Vec<_> = rules[0].ip_ranges().iter().filter_map(|r| r.cidr_ip()).collect();
        assert_eq!(ranges, ["10.45.0.0/24"]);
        admin_read_back(&url, &p, &s, d.dns_ip_addrs(), &format!("{db}.corp.example.com")).await;
    });
    let v = apply
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "outputs")
        .expect("an outputs event");
    assert_eq!(v["outputs"]["kerberos_endpoint"], format!("{db}.corp.example.com"), "{v}");
    let doc = s.physical("gmsa_document");
    let admin = s.physical("admin");
    let create = v["outputs"]["create_gmsa"].as_str().unwrap();
    assert!(
        create.starts_with("aws ssm send-command")
            && create.contains(&format!("--document-name {doc} "))
            && create.contains(&format!("--instance-ids {admin} ")),
        "{create}"
    );
    let status = v["outputs"]["domain_join_status"].as_str().unwrap();
    assert!(status.contains(&s.physical("domain_join")), "{status}");

    let (again, secs) = with(&["plan", &bp, "--detailed-exitcode", "--json", "--stats"], true);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    figures("managed-ad-sqlserver no-change plan", &again, secs);
    let (again, _) = with(&["apply", &bp, "--auto-approve", "--json", "--stats"], true);
    ok(&again);
    assert_eq!(stats(&again)["write_calls"], 0, "{}", again.stderr);

    // A value the blueprint exposes: a new gMSA name is a new version of
    // the document (the default one), nothing else; then no change.
    let (plan, _) = with(&["plan", &bp, "--json", "--var", "gmsa_name=WebGmsa"], true);
    ok(&plan);
    let got = changes(&plan);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("gmsa_document", "update"), "{got:?}");
    let (apply2, _) = with(&["apply", &bp, "--auto-approve", "--var", "gmsa_name=WebGmsa"], true);
    ok(&apply2);
    rt().block_on(async {
        let got = ssm(&url).get_document().name(&doc).send().await.unwrap();
        assert_eq!(got.document_version(), Some("2"));
        let content: serde_json::Value = serde_json::from_str(got.content().unwrap()).unwrap();
        assert_eq!(content["parameters"]["GmsaName"]["default"], "WebGmsa", "{content}");
    });
    let (again2, _) =
        with(&["plan", &bp, "--detailed-exitcode", "--var", "gmsa_name=WebGmsa"], true);
    assert_eq!(again2.code, 0, "{}\n{}", again2.stdout, again2.stderr);
    // A name past the 15 characters of a sAMAccountName stops at plan.
    let (long, _) = with(&["plan", &bp, "--var", "gmsa_name=AppServersGmsa01"], true);
    assert_eq!(long.code, 1, "{}", long.stderr);
    assert!(long.stderr.contains("gmsa_name"), "{}", long.stderr);

    // A new admin password replaces the directory (it is fixed at
    // creation), shown as sensitive, never in clear.
    let mut c = s.cmd_at(&p, &["plan", &bp, "--json"]);
    c.env("ARCHKIT_VAR_directory_admin_password", "Another-Pw-9x")
        .env("ARCHKIT_VAR_db_client_cidr", "10.45.0.0/24")
        .env("ARCHKIT_VAR_admin_ami_parameter", MOTO_WINDOWS_AMI);
    let plan = crate::util::run(&mut c);
    ok(&plan);
    let got = changes(&plan);
    let dir = got.iter().find(|(id, _, _)| id == "directory").expect("the directory changes");
    assert_eq!((dir.1.as_str(), &dir.2), ("replace", &serde_json::json!(["password"])));
    assert!(!plan.stdout.contains("Another-Pw-9x") && !plan.stderr.contains("Another-Pw-9x"));

    let (destroy, secs) = with(&["destroy", &bp, "--auto-approve", "--json", "--stats"], true);
    ok(&destroy);
    figures("managed-ad-sqlserver destroy", &destroy, secs);
    // The instance leaves the directory before it goes; the directory
    // goes before its subnets.
    let ops: Vec<String> = serde_json::from_value(proxy.stats()["ops"].clone()).unwrap();
    let at = |op: &str| ops.iter().rposition(|o| o == op).unwrap_or_else(|| panic!("no {op}"));
    assert!(at("DeleteDBInstance") < at("DeleteDirectory"), "{ops:?}");
    assert!(at("DeleteDirectory") < at("DeleteSubnet"), "{ops:?}");
    // The association goes before the instance it targets.
    assert!(at("DeleteAssociation") < at("TerminateInstances"), "{ops:?}");
    rt().block_on(async {
        assert_eq!(directory_leftovers(&url, &s).await, Vec::<String>::new());
        assert_eq!(ssm_leftovers(&url, &p, &s).await, Vec::<String>::new());
        let secrets = client!(aws_sdk_secretsmanager, &url).list_secrets().send().await.unwrap();
        let ours: Vec<_> = secrets
            .secret_list()
            .iter()
            .filter(|x| x.name().is_some_and(|n| n.starts_with(&format!("archkit/{}/", s.name))))
            .collect();
        assert!(ours.is_empty(), "{ours:?}");
    });

    // The admin password is in no output, no state file, no log.
    for out in [&apply, &again, &destroy] {
        assert!(!out.stdout.contains(AD_PASSWORD) && !out.stderr.contains(AD_PASSWORD));
    }
    for f in std::fs::read_dir(s.dir_path().join(".archkit")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(AD_PASSWORD), "the password is stored in clear");
    }
}

/// Reads back what the admin host adds: the instance in its public subnet
/// with its profile, the role (Session Manager, the domain join, the Admin
/// password), the association joining it to the directory, and the gMSA
/// document with SQL Server's Kerberos host and the Admin password's
/// secret, never the password. (The association is the proxy's test
/// double; that AWS joins the host, and that the PowerShell runs, is
/// AWS's to prove.)
async fn admin_read_back(url: &str, proxy: &str, s: &Stack, dns: &[String], sql_host: &str) {
    let admin = s.physical("admin");
    let i = crate::moto::ec2(url).describe_instances().instance_ids(&admin).send().await.unwrap();
    let i = &i.reservations()[0].instances()[0];
    assert_eq!(i.subnet_id(), Some(s.physical("admin_subnet").as_str()));
    assert!(i.public_ip_address().is_some(), "a route out to Systems Manager");
    // moto leaves a launched instance's profile out of its description:
    // the template carries it.
    let v = crate::compute::default_version(url, &s.physical("admin_template")).await;
    let d = v.launch_template_data().unwrap();
    let profile = s.physical("admin_profile");
    assert_eq!(d.iam_instance_profile().and_then(|p| p.name()), Some(profile.as_str()));
    assert_eq!(d.security_group_ids(), [s.physical("admin_sg")]);
    let sg = crate::moto::ec2(url)
        .describe_security_groups()
        .group_ids(s.physical("admin_sg"))
        .send()
        .await
        .unwrap();
    assert!(sg.security_groups()[0].ip_permissions().is_empty(), "no inbound rule");

    let role = attr(s, "admin_role", "arn");
    let role = role.rsplit('/').next().unwrap();
    let iam = crate::moto::iam(url);
    let attached = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
    let mut arns: Vec<_> =
        attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
    arns.sort();
    assert_eq!(
        arns,
        [
            "arn:aws:iam::aws:policy/AmazonSSMDirectoryServiceAccess",
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
        ]
    );
    let secret = s.physical("admin_password");
    let inline = iam
        .get_role_policy()
        .role_name(role)
        .policy_name("read-admin-password")
        .send()
        .await
        .unwrap();
    let doc = percent_encoding::percent_decode_str(inline.policy_document()).decode_utf8_lossy();
    let policy: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], "secretsmanager:GetSecretValue");
    assert_eq!(policy["Statement"][0]["Resource"], secret.as_str());
    let value = client!(aws_sdk_secretsmanager, url)
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some(AD_PASSWORD));

    let a = ssm(proxy)
        .describe_association()
        .association_id(s.physical("domain_join"))
        .send()
        .await
        .unwrap();
    let a = a.association_description().unwrap();
    assert_eq!(a.name(), Some("AWS-JoinDirectoryServiceDomain"));
    assert_eq!(a.targets()[0].key(), Some("InstanceIds"));
    assert_eq!(a.targets()[0].values(), std::slice::from_ref(&admin));
    let params = a.parameters().unwrap();
    assert_eq!(params["directoryId"], [s.physical("directory")]);
    assert_eq!(params["directoryName"], ["corp.example.com"]);
    assert_eq!(params["dnsIpAddresses"], dns);

    let got = ssm(url).get_document().name(s.physical("gmsa_document")).send().await.unwrap();
    assert_eq!(got.document_type().map(|t| t.as_str()), Some("Command"));
    let text = got.content().unwrap();
    assert!(!text.contains(AD_PASSWORD), "the password is in the document");
    let content: serde_json::Value = serde_json::from_str(text).unwrap();
    let params = &content["parameters"];
    assert_eq!(params["GroupName"]["default"], "App_server_grp");
    assert_eq!(params["GmsaName"]["default"], "AppGmsa");
    assert_eq!(params["SqlHost"]["default"], sql_host);
    let script: Vec<&str> = content["mainSteps"][0]["inputs"]["runCommand"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let has = |needle: &str| script.iter().any(|l| l.contains(needle));
    assert!(has(&format!("Get-SECSecretValue -SecretId '{secret}'")), "{script:?}");
    assert!(has("PSCredential('CORP\\Admin'"), "{script:?}");
    assert!(has("New-ADGroup -Name '{{ GroupName }}'"), "{script:?}");
    assert!(
        has("New-ADServiceAccount -Name '{{ GmsaName }}'")
            && has("-PrincipalsAllowedToRetrieveManagedPassword '{{ GroupName }}'"),
        "{script:?}"
    );
    assert!(
        has(
            "'msDS-AllowedToDelegateTo' = @('MSSQLSvc/{{ SqlHost }}', 'MSSQLSvc/{{ SqlHost }}:{{ SqlPort }}')"
        ),
        "{script:?}"
    );
}

/// moto's CreateJob overwrites a job of the same name silently: a job
/// that is not the stack's, under the name archkit would derive, is
/// refused, never taken over or overwritten.
#[test]
fn a_glue_job_of_someone_elses_is_never_overwritten() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "gjx");
    let bp = s.builtin(GLUE);
    let name = format!("{}_relationalize_job", s.name.to_ascii_lowercase().replace('-', "_"));
    let theirs = "arn:aws:iam::123456789012:role/someone-elses";
    rt().block_on(async {
        let cmd = aws_sdk_glue::types::JobCommand::builder()
            .name("glueetl")
            .script_location("s3://elsewhere/theirs.py")
            .build();
        glue(&url).create_job().name(&name).role(theirs).command(cmd).send().await.unwrap();
    });
    let (apply, _) = run(&s, &url, &["apply", &bp, "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert!(apply.stderr.contains("is not this stack's `relationalize_job`"), "{}", apply.stderr);
    rt().block_on(async {
        let j = glue(&url).get_job().job_name(&name).send().await.unwrap();
        let j = j.job().unwrap();
        assert_eq!(j.role(), Some(theirs));
        assert_eq!(j.command().and_then(|c| c.script_location()), Some("s3://elsewhere/theirs.py"));
        glue(&url).delete_job().job_name(&name).send().await.unwrap();
    });
    ok(&run(&s, &url, &["destroy", &bp, "--auto-approve", "--force-empty"]).0);
}

/// A document and an association alone: what the gMSA document and the
/// domain join are made of, for the kinds' own promises.
const SSM_BP: &str = r#"name: ssm-kinds
parameters:
  greeting:
    default: hello
  instance:
    default: i-0123456789abcdef0
resources:
  doc:
    type: aws.ssm.document
    properties:
      content:
        schemaVersion: "2.2"
        description: Says something
        mainSteps:
          - action: aws:runShellScript
            name: say
            inputs:
              runCommand: ["echo ${params.greeting}"]
  run_it:
    type: aws.ssm.association
    properties:
      document_name: ${doc.name}
      instance_ids: ["${params.instance}"]
      parameters:
        single: one
"#;

fn ssm_stack(url: &str, name: &str) -> (Stack, String) {
    let s = Stack::new(url, name);
    let dir = s.dir_path().join("ssm");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("blueprint.yaml"), SSM_BP).unwrap();
    let bp = dir.to_str().unwrap().to_string();
    (s, bp)
}

/// The associations of `name` the proxy's fake holds (a test double for
/// AWS: it keeps what archkit sends and runs nothing).
async fn associations_named(proxy: &str, name: &str) -> Vec<String> {
    let all = ssm(proxy).list_associations().send().await.unwrap();
    all.associations()
        .iter()
        .filter(|a| a.association_name() == Some(name))
        .filter_map(|a| a.association_id().map(str::to_string))
        .collect()
}

#[test]
fn ssm_creates_whose_answers_were_lost_are_found_again_and_changes_converge() {
    let Some(url) = require_moto() else { return };
    for op in ["CreateDocument", "CreateAssociation"] {
        let proxy = Proxy::builder(&url).fake_ssm_associations().drop_op(op).start();
        let p = proxy.url.clone();
        let (s, bp) = ssm_stack(&url, "ssml");
        // The answer is lost. The SDK's retry of the create, or the
        // rerun, finds what the lost call made: one of each, in state.
        let (first, _) = run(&s, &p, &["apply", &bp, "--auto-approve"]);
        assert_eq!(proxy.stats()["dropped"], 1, "{op}: {}", first.stderr);
        let (again, _) = run(&s, &p, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
        ok(&again);
        if first.code == 0 {
            assert_eq!(stats(&again)["write_calls"], 0, "{op}: {}", again.stderr);
        }
        let name = attr(&s, "run_it", "name");
        assert_eq!(name, format!("{}-run-it", s.name));
        let doc = s.physical("doc");
        rt().block_on(async {
            assert_eq!(associations_named(&p, &name).await, [s.physical("run_it")], "{op}");
            let docs = ssm(&url).list_documents().send().await.unwrap();
            let ours: Vec<_> =
                docs.document_identifiers().iter().filter(|d| d.name() == Some(&doc)).collect();
            assert_eq!(ours.len(), 1, "{op}");
        });
        let (plan, _) = run(&s, &p, &["plan", &bp, "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "{op}: {}\n{}", plan.stdout, plan.stderr);

        // A new value of each: the document gets version 2 as its default,
        // the association moves to the new instance; then no change.
        let vars = ["--var", "greeting=bonjour", "--var", "instance=i-0fedcba9876543210"];
        let (plan, _) = run(&s, &p, &[&["plan", &bp, "--json"][..], &vars].concat());
        let got = changes(&plan);
        let kinds: Vec<_> = got.iter().map(|(id, a, _)| (id.as_str(), a.as_str())).collect();
        assert_eq!(kinds, [("doc", "update"), ("run_it", "update")], "{got:?}");
        ok(&run(&s, &p, &[&["apply", &bp, "--auto-approve"][..], &vars].concat()).0);
        rt().block_on(async {
            let d = ssm(&url).describe_document().name(&doc).send().await.unwrap();
            assert_eq!(d.document().and_then(|d| d.default_version()), Some("2"));
            let got = ssm(&url).get_document().name(&doc).send().await.unwrap();
            assert!(got.content().unwrap().contains("echo bonjour"));
            let a = ssm(&p)
                .describe_association()
                .association_id(s.physical("run_it"))
                .send()
                .await
                .unwrap();
            let a = a.association_description().unwrap();
            assert_eq!(a.targets()[0].values(), ["i-0fedcba9876543210"]);
            // A string parameter goes out as a list of one.
            assert_eq!(a.parameters().unwrap()["single"], ["one"]);
        });
        let (plan, _) = run(&s, &p, &[&["plan", &bp, "--detailed-exitcode"][..], &vars].concat());
        assert_eq!(plan.code, 0, "{op}: {}\n{}", plan.stdout, plan.stderr);
        ok(&run(&s, &p, &[&["destroy", &bp, "--auto-approve"][..], &vars].concat()).0);
        rt().block_on(async {
            assert_eq!(ssm_leftovers(&url, &p, &s).await, Vec::<String>::new(), "{op}");
        });
    }
}

#[test]
fn an_ssm_document_of_someone_elses_is_never_overwritten() {
    let Some(url) = require_moto() else { return };
    let proxy = Proxy::builder(&url).fake_ssm_associations().start();
    let p = proxy.url.clone();
    let (s, bp) = ssm_stack(&url, "ssmx");
    let name = format!("{}-doc", s.name);
    let theirs = r#"{"schemaVersion":"2.2","description":"theirs","mainSteps":[{"action":"aws:runShellScript","name":"x","inputs":{"runCommand":["true"]}}]}"#;
    rt().block_on(async {
        ssm(&url)
            .create_document()
            .name(&name)
            .content(theirs)
            .document_type(aws_sdk_ssm::types::DocumentType::Command)
            .send()
            .await
            .unwrap();
    });
    let (apply, _) = run(&s, &p, &["apply", &bp, "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert!(apply.stderr.contains("is not this stack's `doc`"), "{}", apply.stderr);
    rt().block_on(async {
        let got = ssm(&url).get_document().name(&name).send().await.unwrap();
        assert_eq!(got.content(), Some(theirs));
        assert_eq!(got.document_version(), Some("1"));
        ssm(&url).delete_document().name(&name).send().await.unwrap();
    });
    ok(&run(&s, &p, &["destroy", &bp, "--auto-approve"]).0);
}
