//! `archkit plan --format markdown`, the summary a pull request or a CI
//! step shows (issue 15), for the fargate blueprint against moto: a fresh
//! stack (everything created), then a change after apply (an update in
//! place, a replacement and a delete), each as a snapshot.

use crate::moto::{Stack, ok, require_moto};

fn markdown(s: &Stack, args: &[&str]) -> String {
    let out = s.run(&[&["plan", "--format", "markdown"][..], args].concat());
    ok(&out);
    // The stack name is the only thing that differs between runs.
    out.stdout.replace(&s.name, "[STACK]")
}

#[test]
fn plan_markdown_of_the_fargate_blueprint() {
    let Some(url) = require_moto() else { return };
    let s = Stack::new(&url, "md");
    let bp = "fargate-public-private";
    let fresh = markdown(&s, &[bp]);
    insta::assert_snapshot!("markdown_fargate_create", fresh);
    // Every created resource is a node, classed `create`.
    assert_eq!(fresh.matches(":::create").count(), 34, "{fresh}");

    ok(&s.run(&["apply", bp, "--auto-approve"]));
    // Two tasks → one (in place), a new image (a new task definition
    // revision: a replacement), one NAT gateway (deletes).
    let changed = markdown(
        &s,
        &[
            bp,
            "--var",
            "desired_count=1",
            "--var",
            "image=public.ecr.aws/nginx/nginx:mainline",
            "--var",
            "nat_gateway_per_az=false",
        ],
    );
    insta::assert_snapshot!("markdown_fargate_change", changed);
    let unchanged = markdown(&s, &[bp]);
    assert!(unchanged.contains("**No changes.**"), "{unchanged}");
    assert!(!unchanged.contains("```mermaid"), "{unchanged}");
    ok(&s.run(&["destroy", bp, "--auto-approve"]));
}
