//! config/prometheus-alerts.yml is valid PromQL and fires when it should:
//! checked by Prometheus's own promtool (Debian's `prometheus` package).

use std::path::Path;
use std::process::Command;

fn promtool(args: &[&str]) -> String {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let output = Command::new("promtool")
        .args(args)
        .current_dir(&config)
        .output()
        .unwrap_or_else(|err| {
            panic!("promtool is needed (apt-get install --no-install-recommends prometheus): {err}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn alert_rules_are_valid_and_pass_their_unit_tests() {
    let checked = promtool(&["check", "rules", "prometheus-alerts.yml"]);
    assert!(checked.contains("7 rules found"), "{checked}");
    promtool(&["test", "rules", "prometheus-alerts.test.yml"]);
}
