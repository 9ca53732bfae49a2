//! The registration table of resource kinds and the reference generated
//! from it.

use archkit::aws::{Clients, KINDS};

use crate::util::root;

#[test]
fn every_registered_schema_has_its_implementation_and_back() {
    let clients = Clients::offline("us-east-1");
    let mut names = std::collections::BTreeSet::new();
    for k in KINDS {
        let kind = (k.make)(&clients);
        assert!(
            std::ptr::eq(kind.schema(), k.schema),
            "{} is registered with the schema of {}",
            k.schema.kind,
            kind.schema().kind
        );
        assert!(names.insert(k.schema.kind), "{} twice", k.schema.kind);
        assert!(k.schema.kind.starts_with("aws."), "{}", k.schema.kind);
    }
    // What blueprints are validated against is exactly what plans run on.
    let schemas: Vec<&str> = archkit::aws::registry().kinds().collect();
    let kinds: Vec<&str> = archkit::aws::kinds(&clients)
        .iter()
        .map(|k| k.schema().kind)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(schemas, kinds);
    assert_eq!(schemas.len(), KINDS.len());
}

/// `docs/blueprints.md` carries the reference generated from the schemas;
/// `ARCHKIT_UPDATE_DOCS=1` rewrites it.
#[test]
fn docs_reference_is_current() {
    const BEGIN: &str = "<!-- BEGIN GENERATED: resource types -->\n";
    const END: &str = "<!-- END GENERATED: resource types -->";
    let path = root().join("docs/blueprints.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (a, b) = (
        text.find(BEGIN).expect("begin marker") + BEGIN.len(),
        text.find(END).expect("end marker"),
    );
    let want = archkit::schema::reference(archkit::aws::schemas());
    if text[a..b] == want {
        return;
    }
    if std::env::var_os("ARCHKIT_UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{want}{}", &text[..a], &text[b..])).unwrap();
        return;
    }
    panic!(
        "docs/blueprints.md's resource types are out of date: run \
         `ARCHKIT_UPDATE_DOCS=1 cargo test docs_reference` and commit the result"
    );
}

/// Delete rules the dependency graph cannot see (issue 14). A stack found
/// by tags (`destroy --discover`) has no attachment record, so the gateway
/// itself must wait for what holds public addresses of its VPC: AWS
/// refuses to detach it while NAT gateways or Elastic IPs remain (moto
/// does not, so only the rule is checked here; the engine's ordering of
/// kind rules is tested in `engine`).
#[test]
fn internet_gateways_go_after_nat_gateways_and_elastic_ips() {
    let clients = Clients::offline("us-east-1");
    let kinds = archkit::aws::kinds(&clients);
    for name in ["aws.ec2.internet_gateway", "aws.ec2.internet_gateway_attachment"] {
        let k = kinds.iter().find(|k| k.schema().kind == name).unwrap();
        let after: Vec<&str> = k.delete_after().iter().map(|s| s.kind).collect();
        assert!(after.contains(&"aws.ec2.nat_gateway"), "{name}: {after:?}");
        assert!(after.contains(&"aws.ec2.eip"), "{name}: {after:?}");
    }
}
