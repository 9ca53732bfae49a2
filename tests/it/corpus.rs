//! The malformed-blueprint corpus: each `tests/fixtures/invalid/*.yaml` must
//! fail with the code named in its `.expect` file, and its rendered
//! diagnostics (colour off) must match the snapshot.

use archkit::blueprint;
use archkit::output::render_diagnostics;

use crate::util::fixtures;

#[test]
fn every_malformed_blueprint_reports_its_error() {
    let dir = fixtures().join("invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "the corpus has {} cases", cases.len());
    let registry = archkit::aws::registry();
    for path in cases {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let expect = std::fs::read_to_string(path.with_extension("expect"))
            .unwrap_or_else(|_| panic!("{stem}.expect is missing"));
        let bytes = std::fs::read(&path).unwrap();
        let name = format!("invalid/{stem}.yaml");
        let err = match blueprint::load_bytes(&name, &bytes, &registry) {
            Ok(_) => panic!("{stem} should not validate"),
            Err(e) => e,
        };
        let codes = err.codes();
        assert!(
            codes.contains(&expect.trim()),
            "{stem}: expected {} among {codes:?}",
            expect.trim()
        );
        for d in &err.diagnostics {
            assert!(d.help.is_some(), "{stem}: `{}` has no help line", d.message);
            if d.code != blueprint::Code::MissingKey && d.code != blueprint::Code::Empty {
                assert!(!d.labels.is_empty(), "{stem}: `{}` has no span", d.message);
            }
        }
        let rendered = render_diagnostics(&err, false, 100);
        insta::assert_snapshot!(stem, rendered);
    }
}

#[test]
fn all_errors_are_reported_in_one_run() {
    let bytes = std::fs::read(fixtures().join("invalid/many-errors-at-once.yaml")).unwrap();
    let err = blueprint::load_bytes("x.yaml", &bytes, &archkit::aws::registry()).unwrap_err();
    let mut codes = err.codes();
    codes.sort();
    assert_eq!(
        codes,
        [
            "archkit::blueprint::invalid_cidr",
            "archkit::blueprint::missing_property",
            "archkit::blueprint::unknown_attribute",
            "archkit::blueprint::unknown_property",
            "archkit::blueprint::wrong_type",
        ]
    );
}

#[test]
fn diagnostics_carry_line_and_column() {
    let src = b"name: t\nresources:\n  vpc:\n    type: aws.ec2.vpc\n    properties:\n      cidr_block: 10.0.0.0/8x\n";
    let err = blueprint::load_bytes("f.yaml", src, &archkit::aws::registry()).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.line_col(d.offset()), (6, 19));
}

#[test]
fn a_five_megabyte_blueprint_is_read_and_its_one_error_found() {
    let mut src = String::from("name: big\nresources:\n");
    let mut i = 0;
    while src.len() < 5 * 1024 * 1024 {
        src.push_str(&format!(
            "  rt{i}:\n    type: aws.ec2.route_table\n    properties:\n      vpc_id: ${{vpc.id}}\n      tags: {{owner: team-{i}, purpose: load test of a large blueprint}}\n"
        ));
        i += 1;
    }
    src.push_str("  vpc:\n    type: aws.ec2.vpc\n    properties:\n      cidr_block: 10.0.0.0/16\n      bogus: 1\n");
    let err =
        blueprint::load_bytes("big.yaml", src.as_bytes(), &archkit::aws::registry()).unwrap_err();
    assert_eq!(err.codes(), ["archkit::blueprint::unknown_property"]);
}
