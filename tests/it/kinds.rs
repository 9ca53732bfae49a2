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
