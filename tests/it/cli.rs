//! The CLI contract: exit codes, output forms, built-in blueprints.

use crate::util::{archkit, fixtures, root, run};

#[test]
fn validate_accepts_every_builtin_blueprint() {
    let out = run(archkit(&root()).args(["blueprints", "--json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> =
        list.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"fargate-public-private"), "{names:?}");
    for name in names {
        let out = run(archkit(&root()).args(["validate", name]));
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        assert!(out.stderr.contains("is valid"), "{}", out.stderr);
    }
}

#[test]
fn validate_takes_a_directory_a_file_or_a_name() {
    let dir = root().join("blueprints/fargate-public-private");
    for arg in [
        dir.to_str().unwrap().to_string(),
        dir.join("blueprint.yaml").to_str().unwrap().to_string(),
        "fargate-public-private".to_string(),
    ] {
        let out = run(archkit(&root()).args(["validate", &arg]));
        assert_eq!(out.code, 0, "{arg}: {}", out.stderr);
    }
}

#[test]
fn invalid_blueprints_exit_1_never_101() {
    let dir = fixtures().join("invalid");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let out = run(archkit(&root()).args(["validate", path.to_str().unwrap()]));
        assert_eq!(out.code, 1, "{}: {}", path.display(), out.stderr);
        assert!(out.stderr.contains("archkit::blueprint::"), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn validate_json_lists_errors_with_positions() {
    let path = fixtures().join("invalid/unknown-property.yaml");
    let out = run(archkit(&root()).args(["validate", "--json", path.to_str().unwrap()]));
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let e = &v["errors"][0];
    assert_eq!(e["code"], "archkit::blueprint::unknown_property");
    assert_eq!(e["line"], 7);
    assert_eq!(e["column"], 7);
    assert_eq!(e["help"], "did you mean `enable_dns_hostnames`?");
}

#[test]
fn unknown_blueprint_names_get_a_suggestion() {
    let out = run(archkit(&root()).args(["validate", "fargate-public-privat"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("archkit::blueprint::not_found"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean the built-in blueprint `fargate-public-private`?"));
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let out = run(archkit(&root()).args(["graph", "fargate-public-private"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("digraph \"fargate-public-private\" {"));
    assert!(out.stdout.contains("\"vpc\" -> \"public_subnet_one\";"));
    // depends_on edges are dashed.
    assert!(out.stdout.contains("\"gateway_attachment\" -> \"public_route\" [style=dashed];"));
    insta::assert_snapshot!("graph_dot", out.stdout);

    let out =
        run(archkit(&root()).args(["graph", "fargate-public-private", "--format", "mermaid"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("flowchart LR\n"));
    insta::assert_snapshot!("graph_mermaid", out.stdout);
}

#[test]
fn init_copies_a_builtin_that_then_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(archkit(tmp.path()).args(["init", "fargate-public-private", "net"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let copied = std::fs::read(tmp.path().join("net/blueprint.yaml")).unwrap();
    let original =
        std::fs::read(root().join("blueprints/fargate-public-private/blueprint.yaml")).unwrap();
    assert_eq!(copied, original);
    let out = run(archkit(tmp.path()).args(["validate", "net"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A second init refuses to overwrite the user's edits.
    let out = run(archkit(tmp.path()).args(["init", "fargate-public-private", "net"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("archkit::init::exists"), "{}", out.stderr);
    assert!(out.stderr.contains("--force"));
}

#[test]
fn parameter_values_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("blueprint.yaml"),
        "name: p\nparameters:\n  size:\n    default: small\n    allowed: [small, large]\n  count:\n    type: number\n    default: 1\n  password:\n    secret: true\n    min_length: 12\nresources: {}\n",
    )
    .unwrap();
    let ok = run(archkit(tmp.path()).args(["validate", ".", "--var", "size=large"]));
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    let bad = run(archkit(tmp.path()).args(["validate", ".", "--var", "size=medium"]));
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("archkit::blueprint::invalid_value"), "{}", bad.stderr);
    assert!(bad.stderr.contains("`medium`, which is not allowed"), "{}", bad.stderr);

    let env = run(archkit(tmp.path()).args(["validate", "."]).env("ARCHKIT_VAR_count", "many"));
    assert_eq!(env.code, 1);
    assert!(
        env.stderr.contains("from environment variable ARCHKIT_VAR_count is not a number"),
        "{}",
        env.stderr
    );

    let unknown = run(archkit(tmp.path()).args(["validate", ".", "--var", "szie=1"]));
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("did you mean `size`?"), "{}", unknown.stderr);

    // A short secret is rejected without echoing it.
    let secret =
        run(archkit(tmp.path()).args(["validate", "."]).env("ARCHKIT_VAR_password", "hunter2"));
    assert_eq!(secret.code, 1);
    assert!(secret.stderr.contains("use at least 12 characters"), "{}", secret.stderr);
    assert!(!secret.stderr.contains("hunter2"), "{}", secret.stderr);

    let malformed = run(archkit(tmp.path()).args(["validate", ".", "--var", "novalue"]));
    assert_eq!(malformed.code, 1, "usage errors exit 1, not clap's 2");
}

#[test]
fn blueprints_lists_builtins_with_descriptions() {
    let out = run(archkit(&root()).arg("blueprints"));
    assert_eq!(out.code, 0);
    let line = out.stdout.lines().find(|l| l.starts_with("fargate-public-private")).unwrap();
    assert!(line.contains("Fargate tasks in private subnets"), "{line}");
    let kinds = run(archkit(&root()).args(["blueprints", "--kinds"]));
    assert!(kinds.stdout.contains("aws.ec2.nat_gateway"));
}

#[test]
fn help_and_version_exit_0() {
    assert_eq!(run(archkit(&root()).arg("--help")).code, 0);
    assert_eq!(run(archkit(&root()).arg("--version")).code, 0);
    assert_eq!(run(archkit(&root()).arg("frobnicate")).code, 1);
}

#[test]
fn docs_describe_every_resource_type() {
    let docs = std::fs::read_to_string(root().join("docs/blueprints.md")).unwrap();
    for kind in archkit::aws::registry().kinds() {
        assert!(docs.contains(&format!("`{kind}`")), "docs/blueprints.md does not describe {kind}");
    }
}

#[test]
fn the_examples_validate() {
    let out = run(archkit(&root()).args(["validate", "examples/custom-network"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn state_unlock_breaks_a_left_over_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("demo.state.json");
    let store = archkit::state::LocalStore::new(&state);
    // A run on another machine (a CI runner) whose liveness archkit cannot
    // see: the lock stands until someone who knows breaks it. (A lock of a
    // live process on this host is refused; see the deploy tests.)
    let other = serde_json::json!({
        "owner": "archkit apply", "pid": 4242, "host": "ci-runner-7", "created": "2026-12-01T00:00:00Z"
    });
    std::fs::write(tmp.path().join("demo.state.json.lock"), other.to_string()).unwrap();
    assert!(store.lock("archkit plan", std::time::Duration::ZERO).is_err());
    let out =
        run(archkit(tmp.path()).args(["state", "unlock", "--state", state.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("held by `archkit apply`"), "{}", out.stderr);
    store.lock("archkit plan", std::time::Duration::ZERO).unwrap();

    let none = run(archkit(tmp.path()).args(["state", "list"]));
    assert_eq!(none.code, 1);
    assert!(none.stderr.contains("archkit::state::which"), "{}", none.stderr);
}

#[test]
fn state_list_shows_resources_and_refuses_corrupt_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = archkit::state::LocalStore::new(tmp.path().join(".archkit/demo.state.json"));
    let mut s = archkit::state::State::new("demo", "fargate-public-private");
    s.resources.insert(
        "vpc".into(),
        archkit::state::ResourceState {
            kind: "aws.ec2.vpc".into(),
            physical_id: "vpc-0abc".into(),
            properties: Default::default(),
            attributes: Default::default(),
            status: archkit::state::Status::Tainted,
            depends_on: Vec::new(),
        },
    );
    store.write(&mut s).unwrap();
    let out = run(archkit(tmp.path()).args(["state", "list", "--stack", "demo"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "vpc  aws.ec2.vpc  vpc-0abc  (tainted)\n");

    std::fs::write(store.path(), "{ not json").unwrap();
    let out = run(archkit(tmp.path()).args(["state", "list", "--stack", "demo"]));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("archkit::state::corrupt"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "{ not json");
}

#[test]
fn function_code_packages_the_same_from_the_binary_and_from_disk() {
    use archkit::blueprint::{self, source};
    let registry = archkit::aws::registry();
    let embedded = blueprint::load(&source::builtin("mq-lambda-poller").unwrap(), &registry)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let tmp = tempfile::tempdir().unwrap();
    let out = run(archkit(tmp.path()).args(["init", "mq-lambda-poller", "copy"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dir = tmp.path().join("copy");
    let on_disk = blueprint::load(&source::locate(dir.to_str().unwrap()).unwrap(), &registry)
        .unwrap_or_else(|e| panic!("{e:?}"));
    for id in ["worker", "subscriber"] {
        let a = &embedded.resources[id].properties["code"];
        let b = &on_disk.resources[id].properties["code"];
        assert_eq!(a, b, "{id}: an initialised copy must not show a code change");
    }
    assert_ne!(
        embedded.resources["worker"].properties["code"],
        embedded.resources["subscriber"].properties["code"]
    );
    // An edit is a different package; a missing directory is a clear error.
    std::fs::write(dir.join("worker/handler.py"), "# changed\n").unwrap();
    let changed =
        blueprint::load(&source::locate(dir.to_str().unwrap()).unwrap(), &registry).unwrap();
    assert_ne!(
        changed.resources["worker"].properties["code"],
        on_disk.resources["worker"].properties["code"]
    );
    std::fs::remove_dir_all(dir.join("worker")).unwrap();
    let err =
        blueprint::load(&source::locate(dir.to_str().unwrap()).unwrap(), &registry).unwrap_err();
    assert_eq!(err.codes(), ["archkit::blueprint::code_not_found"]);
}

/// Issue 13 (6): function code never takes files from outside the
/// blueprint's directory through a link, and a link loop is an error, not
/// an endless walk. Links that stay inside are followed.
#[cfg(unix)]
#[test]
fn function_code_refuses_links_out_of_the_blueprint_and_link_loops() {
    use archkit::blueprint::{self, source};
    use std::os::unix::fs::symlink;
    let registry = archkit::aws::registry();
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(run(archkit(tmp.path()).args(["init", "mq-lambda-poller", "bp"])).code, 0);
    let dir = tmp.path().join("bp");
    let load = || blueprint::load(&source::locate(dir.to_str().unwrap()).unwrap(), &registry);
    let secret = tmp.path().join("outside.txt");
    std::fs::write(&secret, "not for lambda").unwrap();

    // A link inside the blueprint is packaged like the file it names.
    std::fs::write(dir.join("shared.txt"), "shared").unwrap();
    symlink(dir.join("shared.txt"), dir.join("worker/shared.txt")).unwrap();
    assert!(load().is_ok());

    symlink(&secret, dir.join("worker/shadow.txt")).unwrap();
    let Err(err) = load() else { panic!("a link out of the blueprint was packaged") };
    assert_eq!(err.codes(), ["archkit::blueprint::code_not_found"]);
    let text = format!("{:?}", err.diagnostics[0].message);
    assert!(text.contains("shadow.txt") && text.contains("outside"), "{text}");
    std::fs::remove_file(dir.join("worker/shadow.txt")).unwrap();

    // A directory linked to its own parent would be walked forever.
    symlink(dir.join("worker"), dir.join("worker/again")).unwrap();
    let Err(err) = load() else { panic!("a link loop was packaged") };
    let text = format!("{:?}", err.diagnostics[0].message);
    assert!(text.contains("again") && text.contains("loop"), "{text}");
}

/// Issue 13 (10): a panic is reported as a bug with exit code 1, never
/// Rust's 101.
#[test]
fn a_panic_is_a_bug_report_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(archkit(tmp.path()).env("ARCHKIT_TEST_PANIC", "1").args(["blueprints"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("archkit hit a bug"), "{}", out.stderr);
    assert!(out.stderr.contains("please report"), "{}", out.stderr);
}

/// Bash completion as a user's shell runs it: the script is sourced and
/// its function asked to complete partial words.
#[test]
fn bash_completion_completes_commands_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = run(archkit(dir.path()).args(["completions", "bash"]));
    assert_eq!(script.code, 0, "{}", script.stderr);
    let file = dir.path().join("archkit.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |words: &str| {
        let n = words.split_whitespace().count() - usize::from(!words.ends_with(' '));
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); [ -z \"${{COMP_WORDS[{n}]}}\" ] && COMP_WORDS[{n}]=''; \
                 COMP_CWORD={n}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; \
                 _archkit archkit \"${{COMP_WORDS[{n}]}}\" \"${{COMP_WORDS[{n}-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                file.display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let st = complete("archkit st");
    assert!(st.contains(&"state".to_string()) && st.contains(&"stacks".to_string()), "{st:?}");
    let opts = complete("archkit plan --det");
    assert_eq!(opts, vec!["--detailed-exitcode"]);
    let state = complete("archkit state ");
    for sub in ["list", "show", "pull", "push", "mv", "rm", "unlock"] {
        assert!(state.contains(&sub.to_string()), "{sub}: {state:?}");
    }
    // zsh and fish scripts are generated from the same definitions.
    for shell in ["zsh", "fish"] {
        let out = run(archkit(dir.path()).args(["completions", shell]));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("detailed-exitcode"), "{shell}");
    }
}

/// The man page renders with man(1) and documents every command.
#[test]
fn man_page_renders_and_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let page = run(archkit(dir.path()).arg("man"));
    assert_eq!(page.code, 0, "{}", page.stderr);
    let file = dir.path().join("archkit.1");
    std::fs::write(&file, &page.stdout).unwrap();
    let shown = std::process::Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&file)
        .env("MANWIDTH", "100")
        .output()
        .expect("man(1) runs");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("Plan, apply and tear down"), "{text}");
    for cmd in ["validate", "plan", "apply", "destroy", "graph", "state", "sweep", "completions"] {
        assert!(text.contains(&format!("archkit-{cmd}(1)")), "{cmd}: {text}");
    }
    let apply = run(archkit(dir.path()).args(["man", "apply"]));
    assert!(apply.stdout.contains("auto\\-approve"), "{}", apply.stdout);
    // A command's page lists the global options it takes (issue 31 §5).
    for global in ["\\-\\-stack", "\\-\\-region", "\\-\\-endpoint\\-url", "\\-\\-json"] {
        assert!(apply.stdout.contains(global), "{global}: {}", apply.stdout);
    }
    let unknown = run(archkit(dir.path()).args(["man", "nope"]));
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("archkit::man::unknown_command"), "{}", unknown.stderr);
}
