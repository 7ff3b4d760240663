//! Deploy examples: every manifest parses, every file they reference exists, the Kubernetes pieces
//! fit together (probes, volumes, ConfigMap keys, PodMonitor selector), and the meterd configs they
//! ship pass meterd's own config loader.

use super::tools::run_ok;
use crate::support::artifacts::{read, repo};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn docs(path: &Path) -> Vec<Value> {
    serde_saphyr::from_multiple(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_yaml_file_parses() {
    let mut all = Vec::new();
    walk(&repo().join("deploy"), &mut all);
    walk(&repo().join("dashboards/provisioning"), &mut all);
    let yamls: Vec<&PathBuf> = all
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    assert!(yamls.len() >= 10, "{yamls:?}");
    for p in yamls {
        assert!(!docs(p).is_empty(), "{}: empty", p.display());
    }
}

fn k8s(name: &str) -> Value {
    let p = repo().join("deploy/kubernetes").join(name);
    docs(&p).into_iter().next().unwrap_or_default()
}

#[test]
fn kustomization_lists_existing_manifests() {
    let k = k8s("kustomization.yaml");
    let res = k["resources"].as_array().cloned().unwrap_or_default();
    assert!(res.len() >= 4);
    for r in res {
        let f = repo()
            .join("deploy/kubernetes")
            .join(r.as_str().unwrap_or_default());
        assert!(
            f.is_file(),
            "kustomization references missing {}",
            f.display()
        );
    }
}

#[test]
fn sidecar_pod_has_probes_resources_config_and_state() {
    let dep = k8s("deployment.yaml");
    let spec = &dep["spec"]["template"]["spec"];
    let meterd = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "meterd")
        .expect("meterd container");
    assert_eq!(meterd["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(meterd["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(meterd["resources"]["requests"]["cpu"].is_string());
    assert!(meterd["resources"]["requests"]["memory"].is_string());
    let port = meterd["ports"][0]["name"].as_str().expect("port name");
    assert_eq!(meterd["ports"][0]["containerPort"], 9464);
    let volumes: Vec<&str> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .collect();
    let mounts: Vec<(&str, &str)> = meterd["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| Some((m["name"].as_str()?, m["mountPath"].as_str()?)))
        .collect();
    for (name, _) in &mounts {
        assert!(volumes.contains(name), "mount of undeclared volume {name}");
    }
    // The ConfigMap the pod mounts exists and holds the files meterd is pointed at.
    let cm = k8s("configmap.yaml");
    let cm_volume = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["configMap"].is_object())
        .expect("configMap volume");
    assert_eq!(cm_volume["configMap"]["name"], cm["metadata"]["name"]);
    let config_dir = mounts
        .iter()
        .find(|(n, _)| Some(*n) == cm_volume["name"].as_str())
        .map(|(_, p)| *p)
        .expect("config mount");
    let args: Vec<&str> = meterd["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let config_arg = args
        .iter()
        .skip_while(|a| **a != "--config")
        .nth(1)
        .expect("--config");
    let key = config_arg
        .strip_prefix(&format!("{config_dir}/"))
        .expect("config in the mount");
    let config = cm["data"][key].as_str().expect("config key in ConfigMap");
    let parsed: Value = serde_saphyr::from_str(config).expect("config YAML");
    let pricing = parsed["pricing_file"].as_str().expect("pricing_file");
    let pricing_key = pricing
        .strip_prefix(&format!("{config_dir}/"))
        .expect("pricing in the mount");
    assert!(
        cm["data"][pricing_key].is_string(),
        "ConfigMap has no {pricing_key}"
    );
    let state = parsed["state"]["data_dir"].as_str().expect("data_dir");
    assert!(
        mounts.iter().any(|(_, p)| *p == state),
        "state dir {state} is not on a volume"
    );
    // The PodMonitor scrapes this pod, on this port.
    let pm = k8s("podmonitor.yaml");
    for (k, v) in pm["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector")
    {
        assert_eq!(
            &dep["spec"]["template"]["metadata"]["labels"][k], v,
            "PodMonitor selector {k}"
        );
    }
    assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["port"], port);
    // The job the operator derives ("<namespace>/<name>") matches the self-alerts' /meterd/.
    assert!(pm["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .contains("meterd"));
}

#[test]
fn compose_references_existing_files() {
    let dir = repo().join("deploy/compose");
    let c = docs(&dir.join("compose.yaml"))
        .into_iter()
        .next()
        .expect("compose");
    let services = c["services"].as_object().expect("services");
    for svc in ["meterd", "loadgen", "prometheus", "alertmanager", "grafana"] {
        assert!(services.contains_key(svc), "compose has no {svc}");
    }
    for (name, svc) in services {
        for v in svc["volumes"].as_array().into_iter().flatten() {
            let host = v
                .as_str()
                .unwrap_or_default()
                .split(':')
                .next()
                .unwrap_or_default();
            if host.starts_with('.') {
                assert!(
                    dir.join(host).exists(),
                    "{name}: volume source {host} does not exist"
                );
            }
        }
    }
    let build = &services["meterd"]["build"];
    let ctx = dir.join(build["context"].as_str().expect("context"));
    assert!(ctx
        .join(build["dockerfile"].as_str().expect("dockerfile"))
        .is_file());
    assert!(
        ctx.join("Cargo.toml").is_file(),
        "build context is not the repo root"
    );
    // The demo's Prometheus loads the rule files from the mounted alerts/ directory.
    let prom = docs(&dir.join("prometheus.yml"))
        .into_iter()
        .next()
        .expect("prometheus.yml");
    assert_eq!(prom["rule_files"][0], "/etc/prometheus/alerts/*.rules.yml");
    assert!(read(&repo().join("deploy/docker/Dockerfile")).contains("COPY config/meterd.yaml"));
    assert!(repo().join("config/meterd.yaml").is_file());
}

#[test]
fn systemd_unit_runs_meterd_with_state_and_reload() {
    let unit = read(&repo().join("deploy/systemd/meterd.service"));
    for section in ["[Unit]", "[Service]", "[Install]"] {
        assert!(unit.contains(section), "no {section}");
    }
    for line in [
        "ExecStart=/usr/local/bin/meterd --config /etc/meterd/meterd.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=meterd",
        "RestartPreventExitStatus=78",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "no {line}");
    }
}

/// The configs shipped in deploy/ must load: same loader, same errors as `meterd check-config`.
#[test]
fn shipped_meterd_configs_pass_the_config_loader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cm = k8s("configmap.yaml");
    for (key, value) in cm["data"].as_object().expect("data") {
        let text = value.as_str().unwrap_or_default();
        let text = text.replace("/etc/meterd/", &format!("{}/", dir.path().display()));
        std::fs::write(dir.path().join(key), text).expect("write");
    }
    let compose = repo().join("deploy/compose/meterd.yaml");
    for path in [dir.path().join("meterd.yaml"), compose] {
        if let Err(errors) = meterd::pipeline::load(&path) {
            panic!("{} does not load:\n{errors}", path.display());
        }
    }
}

#[test]
fn compose_prometheus_config_passes_promtool() {
    // --syntax-only: its rule_files are paths inside the container (alerts/ mounted there), which
    // the alert-rule tests check from the repository.
    let config = repo().join("deploy/compose/prometheus.yml");
    run_ok(
        "promtool",
        &[
            "check",
            "config",
            "--syntax-only",
            &config.to_string_lossy(),
        ],
    );
}
