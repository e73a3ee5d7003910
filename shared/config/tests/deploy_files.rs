//! The deployment files set only settings the binary knows: a `SPOT_*` variable with a typo in
//! docker-compose.yml or the platform's Helm chart would stop every process at start.

use std::collections::BTreeMap;
use std::path::Path;

use spot_config::ConfigLayer;

/// Every `SPOT_NAME` written literally in a file (templated names such as
/// `SPOT_{{ upper $other }}_URL` are left out).
fn spot_variables(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut names: Vec<String> = text
        .match_indices("SPOT_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| name.len() > "SPOT_".len() && !name.ends_with('_'))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn compose_and_the_platform_chart_set_only_known_settings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("docker-compose.yml")];
    let templates = root.join("deploy/helm/spot-optimizer/templates");
    for entry in std::fs::read_dir(&templates).unwrap() {
        files.push(entry.unwrap().path());
    }
    files.push(root.join("deploy/helm/spot-optimizer/values.yaml"));
    let mut checked = 0;
    for file in &files {
        for name in spot_variables(file) {
            // A value that parses for any setting; only an unknown name is of interest here.
            let env = BTreeMap::from([(name.clone(), "1".to_owned())]);
            if let Err(error) = ConfigLayer::from_env(&env) {
                assert!(
                    !error.to_string().contains("unknown setting"),
                    "{}: {error}",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "the files name their settings ({checked} found)"
    );
}
