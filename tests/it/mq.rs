//! End-to-end test of `mq-lambda-poller` against moto: read-back of every
//! resource, least-privilege roles, the password kept out of every output,
//! no-change plans, a code change that updates only one function, a
//! schedule change that updates only the rule, a password change, and a
//! destroy that leaves nothing, checked service by service.
//!
//! moto makes the broker RUNNING at once, never fires schedules and runs
//! no function code (no Docker): the function code itself is tested by
//! `blueprints/mq-lambda-poller/tests` (STOMP framing against a local
//! socket, the worker against DynamoDB).

use crate::moto::{Stack, changes, figures, iam, logs, ok, require_moto, rt, stats};
use crate::util::Run;

const BP: &str = "mq-lambda-poller";
const PASSWORD: &str = "correct-horse-battery-9";
const NEW_PASSWORD: &str = "another-staple-Battery-7";

/// Runs archkit with the broker password in the environment, as a CI job
/// would (`ARCHKIT_VAR_broker_password`).
fn run(s: &Stack, password: &str, args: &[&str]) -> (Run, f64) {
    let mut c = s.cmd(args);
    c.env("ARCHKIT_VAR_broker_password", password)
        .env("ARCHKIT_VAR_console_cidr", "203.0.113.7/32");
    let t = std::time::Instant::now();
    let out = crate::util::run(&mut c);
    (out, t.elapsed().as_secs_f64())
}

/// The statements of a role's inline policies.
async fn inline_statements(url: &str, role: &str) -> Vec<serde_json::Value> {
    let iam = iam(url);
    let names = iam.list_role_policies().role_name(role).send().await.unwrap();
    let mut out = Vec::new();
    for name in names.policy_names() {
        let p = iam.get_role_policy().role_name(role).policy_name(name).send().await.unwrap();
        let raw = p.policy_document();
        let doc: serde_json::Value = serde_json::from_str(raw)
            .or_else(|_| {
                serde_json::from_str(&percent_encoding::percent_decode_str(raw).decode_utf8_lossy())
            })
            .unwrap();
        out.extend(doc["Statement"].as_array().unwrap().iter().cloned());
    }
    out
}

async fn managed(url: &str, role: &str) -> Vec<String> {
    iam(url)
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect()
}

/// What is left of a stack, service by service (moto's tagging API lists
/// neither MQ brokers, EventBridge rules nor IAM roles).
pub(crate) async fn leftovers(url: &str, s: &Stack, state: &serde_json::Value) -> Vec<String> {
    let mut left = Vec::new();
    let mq = client!(aws_sdk_mq, url);
    let brokers = mq.list_brokers().send().await.unwrap();
    for b in brokers.broker_summaries() {
        // Tests run side by side on one moto: another test's broker can go
        // between the listing and this call. A broker gone is not left over.
        let d = match mq.describe_broker().broker_id(b.broker_id().unwrap()).send().await {
            Ok(d) => d,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => continue,
            Err(e) => panic!("describe broker {:?}: {e:?}", b.broker_id()),
        };
        if d.tags().and_then(|t| t.get("archkit:stack")).is_some_and(|v| *v == s.name) {
            left.push(format!("broker {:?}", b.broker_id()));
        }
    }
    let lambda = client!(aws_sdk_lambda, url);
    let fns = lambda.list_functions().send().await.unwrap();
    left.extend(
        fns.functions()
            .iter()
            .filter_map(|f| f.function_name())
            .filter(|n| n.starts_with(&format!("{}-", s.name)))
            .map(|n| format!("function {n}")),
    );
    let events = client!(aws_sdk_eventbridge, url);
    let rules = events.list_rules().name_prefix(&s.name).send().await.unwrap();
    left.extend(rules.rules().iter().map(|r| format!("rule {:?}", r.name())));
    let ddb = client!(aws_sdk_dynamodb, url);
    let tables = ddb.list_tables().send().await.unwrap();
    left.extend(
        tables
            .table_names()
            .iter()
            .filter(|t| t.starts_with(&s.name))
            .map(|t| format!("table {t}")),
    );
    let sm = client!(aws_sdk_secretsmanager, url);
    let secrets = sm.list_secrets().send().await.unwrap();
    left.extend(
        secrets
            .secret_list()
            .iter()
            .filter(|x| {
                x.tags()
                    .iter()
                    .any(|t| t.key() == Some("archkit:stack") && t.value() == Some(&s.name))
            })
            .map(|x| format!("secret {:?}", x.name())),
    );
    let roles =
        iam(url).list_roles().path_prefix(format!("/archkit/{}/", s.name)).send().await.unwrap();
    left.extend(roles.roles().iter().map(|r| format!("role {}", r.role_name())));
    let groups = logs(url)
        .describe_log_groups()
        .log_group_name_prefix(format!("/aws/lambda/{}-", s.name))
        .send()
        .await
        .unwrap();
    left.extend(groups.log_groups().iter().map(|g| format!("log group {:?}", g.log_group_name())));
    let ec2 = crate::moto::ec2(url);
    let vpcs = ec2.describe_vpcs().filters(s.tag_filter()).send().await.unwrap();
    left.extend(vpcs.vpcs().iter().map(|v| format!("vpc {:?}", v.vpc_id())));
    let sgs = ec2.describe_security_groups().filters(s.tag_filter()).send().await.unwrap();
    left.extend(sgs.security_groups().iter().map(|g| format!("sg {:?}", g.group_id())));
    // Everything the state recorded is gone too.
    for (id, r) in state["resources"].as_object().unwrap() {
        if r["kind"] == "aws.lambda.permission" {
            let f = r["physical_id"].as_str().unwrap().split('|').next().unwrap();
            if lambda.get_policy().function_name(f).send().await.is_ok() {
                left.push(format!("permission {id}"));
            }
        }
    }
    left
}

#[test]
fn mq_poller_applies_keeps_the_password_secret_updates_narrowly_and_destroys() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "mqp");
    let bp = s.builtin(BP);

    // The plan never shows the password, in either form.
    let (plan, _) = run(&s, PASSWORD, &["plan", &bp, "--json"]);
    ok(&plan);
    let (human, _) = run(&s, PASSWORD, &["plan", &bp]);
    ok(&human);
    assert!(human.stdout.contains("(sensitive)"), "{}", human.stdout);

    let (apply, secs) = run(&s, PASSWORD, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&apply);
    let state = s.state();
    let count = state["resources"].as_object().unwrap().len();
    assert_eq!(count, 21);
    figures(&format!("apply of {count} resources"), &apply, secs);
    let state_text = serde_json::to_string(&state).unwrap();
    for (what, text) in [
        ("plan --json", &plan.stdout),
        ("plan", &human.stdout),
        ("plan stderr", &human.stderr),
        ("apply --json", &apply.stdout),
        ("apply stderr", &apply.stderr),
        ("state", &state_text),
    ] {
        assert!(!text.contains(PASSWORD), "the password leaked into {what}");
    }

    let phys = |id: &str| s.physical(id);
    rt().block_on(async {
        let lambda = client!(aws_sdk_lambda, &url);
        let events = client!(aws_sdk_eventbridge, &url);
        let mq = client!(aws_sdk_mq, &url);
        let ddb = client!(aws_sdk_dynamodb, &url);
        let sm = client!(aws_sdk_secretsmanager, &url);

        // The broker: ActiveMQ, one public instance in the stack's subnet
        // and security group.
        let b = mq.describe_broker().broker_id(phys("broker")).send().await.unwrap();
        assert_eq!(b.engine_type().map(|e| e.as_str()), Some("ACTIVEMQ"));
        assert_eq!(b.deployment_mode().map(|d| d.as_str()), Some("SINGLE_INSTANCE"));
        assert_eq!(b.publicly_accessible(), Some(true));
        assert_eq!(b.subnet_ids(), [phys("subnet")]);
        assert_eq!(b.security_groups(), [phys("broker_sg")]);
        assert_eq!(b.users()[0].username(), Some("archkit"));

        // The console is open only to the given CIDR; STOMP+TLS on 61614.
        let rules = crate::moto::ec2(&url)
            .describe_security_group_rules()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-id")
                    .values(phys("broker_sg"))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let ingress: Vec<(Option<i32>, Option<&str>)> = rules
            .security_group_rules()
            .iter()
            .filter(|r| r.is_egress() == Some(false))
            .map(|r| (r.from_port(), r.cidr_ipv4()))
            .collect();
        assert!(ingress.contains(&(Some(8162), Some("203.0.113.7/32"))), "{ingress:?}");
        assert!(ingress.contains(&(Some(61614), Some("0.0.0.0/0"))), "{ingress:?}");
        assert_eq!(ingress.len(), 2, "{ingress:?}");

        // The secret holds the password; the function gets only its ARN.
        let secret_arn = phys("broker_secret");
        let v = sm.get_secret_value().secret_id(&secret_arn).send().await.unwrap();
        assert_eq!(v.secret_string(), Some(PASSWORD));
        let sub = lambda
            .get_function_configuration()
            .function_name(phys("subscriber"))
            .send()
            .await
            .unwrap();
        assert_eq!(sub.runtime().map(|r| r.as_str()), Some("python3.12"));
        let env = sub.environment().and_then(|e| e.variables()).unwrap();
        assert_eq!(env["BROKER_SECRET_ARN"], secret_arn);
        assert_eq!(env["WORKER_FUNCTION"], phys("worker"));
        assert_eq!(env["QUEUE_NAME"], "SAMPLE_QUEUE");
        assert!(!env["BROKER_HOST"].is_empty());
        assert!(
            !format!("{sub:?}").contains(PASSWORD),
            "the password is in the function configuration"
        );
        // The deployed code is the packaged zip.
        assert_eq!(
            sub.code_sha256(),
            state["resources"]["subscriber"]["properties"]["code"].as_str()
        );

        // The schedule fires the subscriber, which EventBridge may invoke.
        let rule = events.describe_rule().name(phys("schedule")).send().await.unwrap();
        assert_eq!(rule.schedule_expression(), Some("rate(5 minutes)"));
        let targets = events.list_targets_by_rule().rule(phys("schedule")).send().await.unwrap();
        assert_eq!(targets.targets().len(), 1);
        assert_eq!(Some(targets.targets()[0].arn()), sub.function_arn());
        let policy = lambda.get_policy().function_name(phys("subscriber")).send().await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(st["Action"], "lambda:InvokeFunction");
        assert_eq!(st["Condition"]["ArnLike"]["AWS:SourceArn"].as_str(), rule.arn());

        // The table: on demand, keyed by uuid.
        let t = ddb.describe_table().table_name(phys("messages_table")).send().await.unwrap();
        let t = t.table().unwrap();
        assert_eq!(t.key_schema()[0].attribute_name(), "uuid");
        let worker =
            lambda.get_function_configuration().function_name(phys("worker")).send().await.unwrap();
        assert_eq!(
            worker.environment().and_then(|e| e.variables()).unwrap()["TABLE_NAME"],
            phys("messages_table")
        );

        // Least privilege: the subscriber may invoke only the worker and
        // read only the password; the worker may only PutItem on its table.
        let basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
        let sub_role = phys("subscriber_role");
        assert_eq!(managed(&url, &sub_role).await, [basic]);
        let mut sub_st = inline_statements(&url, &sub_role).await;
        sub_st.sort_by_key(|s| s["Action"].to_string());
        assert_eq!(sub_st.len(), 2, "{sub_st:?}");
        assert_eq!(sub_st[0]["Action"], "lambda:InvokeFunction");
        assert_eq!(sub_st[0]["Resource"].as_str(), worker.function_arn());
        assert_eq!(sub_st[1]["Action"], "secretsmanager:GetSecretValue");
        assert_eq!(sub_st[1]["Resource"], secret_arn);
        let worker_role = phys("worker_role");
        assert_eq!(managed(&url, &worker_role).await, [basic]);
        let w_st = inline_statements(&url, &worker_role).await;
        assert_eq!(w_st.len(), 1, "{w_st:?}");
        assert_eq!(w_st[0]["Action"], "dynamodb:PutItem");
        assert_eq!(w_st[0]["Resource"].as_str(), t.table_arn());
        assert_eq!(w_st[0]["Effect"], "Allow");
    });

    // The post's last steps, printed: send a message from the console,
    // drain the queue now, read what the worker wrote.
    let out = s.run(&["output", "--json"]);
    ok(&out);
    let o: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let console = o["broker_console"].as_str().unwrap();
    assert!(console.starts_with("https://"), "{o}");
    assert_eq!(
        o["send_test_message"],
        format!("{console}/admin/send.jsp?JMSDestination=SAMPLE_QUEUE&JMSDestinationType=queue")
    );
    assert_eq!(
        o["drain_now"],
        format!("aws lambda invoke --function-name {} /dev/stdout", phys("subscriber"))
    );
    assert_eq!(
        o["read_messages"],
        format!("aws dynamodb scan --table-name {}", phys("messages_table"))
    );
    assert!(!out.stdout.contains(PASSWORD));

    // Nothing to do right after apply.
    let (plan, secs) =
        run(&s, PASSWORD, &["plan", &bp, "--detailed-exitcode", "--json", "--stats"]);
    ok(&plan);
    assert_eq!(stats(&plan)["write_calls"], 0);
    crate::moto::assert_no_drift(&plan);
    figures("no-change plan", &plan, secs);

    // New worker code: only the worker's code changes.
    let handler = std::path::Path::new(&bp).join("worker/handler.py");
    let code = std::fs::read_to_string(&handler).unwrap();
    std::fs::write(
        &handler,
        code.replace("\"uuid\": str(uuid.uuid4())", "\"uuid\": str(uuid.uuid4()),  # v2\n       "),
    )
    .unwrap();
    let (plan, _) = run(&s, PASSWORD, &["plan", &bp, "--json"]);
    ok(&plan);
    assert_eq!(
        changes(&plan),
        [("worker".to_string(), "update".to_string(), serde_json::json!(["code"]))]
    );
    let (out, secs) = run(&s, PASSWORD, &["apply", &bp, "--auto-approve", "--json", "--stats"]);
    ok(&out);
    figures("worker code update", &out, secs);
    let writes: Vec<String> = stats(&out)["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !o["operation"].as_str().unwrap().starts_with(['G', 'L', 'D']))
        .map(|o| o["operation"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(writes, ["UpdateFunctionCode"], "only the code is uploaded");
    let (again, _) = run(&s, PASSWORD, &["plan", &bp, "--detailed-exitcode"]);
    ok(&again);

    // A new schedule: only the rule changes.
    let (plan, _) =
        run(&s, PASSWORD, &["plan", &bp, "--json", "--var", "schedule=rate(10 minutes)"]);
    ok(&plan);
    assert_eq!(
        changes(&plan),
        [(
            "schedule".to_string(),
            "update".to_string(),
            serde_json::json!(["schedule_expression"])
        )]
    );
    let sched = ["--var", "schedule=rate(10 minutes)"];
    let (out, _) = run(&s, PASSWORD, &[&["apply", &bp, "--auto-approve"][..], &sched[..]].concat());
    ok(&out);
    rt().block_on(async {
        let events = client!(aws_sdk_eventbridge, &url);
        let rule = events.describe_rule().name(s.physical("schedule")).send().await.unwrap();
        assert_eq!(rule.schedule_expression(), Some("rate(10 minutes)"));
    });

    // A new password: the secret and the broker user change (with a
    // reboot), and neither value is printed.
    let (plan, _) = run(&s, NEW_PASSWORD, &[&["plan", &bp, "--json"][..], &sched[..]].concat());
    ok(&plan);
    let mut c = changes(&plan);
    c.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        c,
        [
            ("broker".to_string(), "update".to_string(), serde_json::json!(["password"])),
            (
                "broker_secret".to_string(),
                "update".to_string(),
                serde_json::json!(["secret_string"])
            ),
        ]
    );
    let (human, _) = run(&s, NEW_PASSWORD, &[&["plan", &bp][..], &sched[..]].concat());
    assert!(human.stdout.contains("the broker reboots"), "{}", human.stdout);
    let (out, _) = run(
        &s,
        NEW_PASSWORD,
        &[&["apply", &bp, "--auto-approve", "--json", "--stats"][..], &sched[..]].concat(),
    );
    ok(&out);
    let ops: Vec<String> = stats(&out)["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation"].as_str().unwrap().to_string())
        .collect();
    for op in ["PutSecretValue", "UpdateUser", "RebootBroker"] {
        assert!(ops.contains(&op.to_string()), "{op} not called: {ops:?}");
    }
    for text in [&plan.stdout, &human.stdout, &out.stdout, &out.stderr] {
        assert!(!text.contains(NEW_PASSWORD) && !text.contains(PASSWORD));
    }
    let state_text = serde_json::to_string(&s.state()).unwrap();
    assert!(!state_text.contains(NEW_PASSWORD));
    rt().block_on(async {
        let sm = client!(aws_sdk_secretsmanager, &url);
        let v = sm.get_secret_value().secret_id(s.physical("broker_secret")).send().await.unwrap();
        assert_eq!(v.secret_string(), Some(NEW_PASSWORD));
    });
    let (again, _) =
        run(&s, NEW_PASSWORD, &[&["plan", &bp, "--detailed-exitcode"][..], &sched[..]].concat());
    ok(&again);

    // Destroy leaves nothing, service by service.
    let state = s.state();
    // Tearing down needs neither the password nor any other value: no
    // ARCHKIT_VAR_* here, and no terminal to prompt on.
    let t = std::time::Instant::now();
    let out = crate::util::run(
        s.cmd(&["destroy", &bp, "--auto-approve", "--json", "--stats"])
            .env_remove("ARCHKIT_VAR_broker_password")
            .env_remove("ARCHKIT_VAR_console_cidr"),
    );
    let secs = t.elapsed().as_secs_f64();
    ok(&out);
    figures("destroy", &out, secs);
    let left = rt().block_on(leftovers(&url, &s, &state));
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(s.state()["resources"], serde_json::json!({}));
}

#[test]
fn a_weak_broker_password_is_refused_before_anything_changes() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "mqweak");
    let bp = s.builtin(BP);
    for (pw, why) in [
        ("short:pw", "archkit::blueprint::invalid_value"),
        ("aaaaaaaaaaaabbbb", "archkit::plan::invalid"),
        ("aaaaaaaaaaaabbbb", "distinct"),
        ("has=an-equals-sign", "archkit::blueprint::invalid_value"),
    ] {
        let (out, _) = run(&s, pw, &["apply", &bp, "--auto-approve"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains(why), "{pw}: {}", out.stderr);
        assert!(!out.stderr.contains(pw) && !out.stdout.contains(pw), "{pw} was printed");
    }
    let state = s.dir_path().join(format!(".archkit/{}.state.json", s.name));
    let created = std::fs::read_to_string(state)
        .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap()["resources"].clone())
        .unwrap_or(serde_json::json!({}));
    assert_eq!(created, serde_json::json!({}), "nothing was created");
}
