//! `downward-api`: what a Pod knows about itself, with no API call.
//!
//! The downward API hands a container facts about its Pod through environment variables
//! (`valueFrom.fieldRef` / `resourceFieldRef`) and through the files of a `downwardAPI`
//! volume; [`PodInfo`] reads both. The example prints the Pod's name, namespace, IP, node,
//! service account, CPU request and memory limit from the environment, and its labels and
//! annotations from the volume. [`POD_MANIFEST`] is a Pod that sets all of them up.
//!
//! By default the example writes such a volume into a temporary directory (in the kubelet's
//! `key="value"` format) and passes the variables through a function instead of the process
//! environment. With `--real-cluster` (inside such a Pod) it reads the real environment and
//! the volume at `/etc/podinfo`, or the directory given with `--volume`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_client::PodInfo;

use crate::support::{Error, Target, Transcript, write_file};

/// A Pod that exposes everything the example prints.
pub const POD_MANIFEST: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: web-0
  labels: {app: web, tier: frontend}
  annotations: {build: "2024-06-01", owner: 'team "a"'}
spec:
  serviceAccountName: web
  containers:
  - name: app
    image: registry.example/downward-api:latest
    args: ["--real-cluster"]
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: "1", memory: 128Mi}
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: POD_SERVICE_ACCOUNT, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
    - {name: CPU_REQUEST, valueFrom: {resourceFieldRef: {containerName: app, resource: requests.cpu, divisor: 1m}}}
    - {name: MEMORY_LIMIT, valueFrom: {resourceFieldRef: {containerName: app, resource: limits.memory}}}
    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
"#;

/// Where [`POD_MANIFEST`] mounts the volume.
pub const DEFAULT_VOLUME: &str = "/etc/podinfo";

/// Options of the example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to run.
    pub target: Target,
    /// With [`Target::RealCluster`]: the volume directory (default [`DEFAULT_VOLUME`]).
    pub volume: Option<PathBuf>,
}

impl Options {
    /// Options for `target`.
    pub fn new(target: Target) -> Self {
        Options {
            target,
            volume: None,
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// What the Pod learnt about itself.
    pub info: PodInfo,
    /// The volume directory read.
    pub volume: PathBuf,
}

/// The environment the kubelet would set for [`POD_MANIFEST`] on a node.
pub fn sample_environment() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("POD_NAME", "web-0"),
        ("POD_NAMESPACE", "shop"),
        ("POD_IP", "10.244.1.17"),
        ("NODE_NAME", "worker-2"),
        ("POD_SERVICE_ACCOUNT", "web"),
        ("CPU_REQUEST", "250"),
        ("MEMORY_LIMIT", "134217728"),
    ])
}

/// The files the kubelet would write into the volume of [`POD_MANIFEST`]: Go-quoted values,
/// one `key="value"` per line, sorted by key.
pub const SAMPLE_LABELS: &str = "app=\"web\"\ntier=\"frontend\"\n";
/// See [`SAMPLE_LABELS`].
pub const SAMPLE_ANNOTATIONS: &str = "build=\"2024-06-01\"\nowner=\"team \\\"a\\\"\"\n";

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    match options.target {
        Target::TestServer => {
            let dir = tempfile::Builder::new()
                .prefix("downward-api-")
                .tempdir()
                .map_err(|source| Error::Io {
                    what: "create a temporary directory in",
                    path: std::env::temp_dir(),
                    source,
                })?;
            write_file(dir.path(), "labels", SAMPLE_LABELS)?;
            write_file(dir.path(), "annotations", SAMPLE_ANNOTATIONS)?;
            out.line(format!(
                "Simulating a Pod: environment as the kubelet sets it for the manifest below, and a downwardAPI volume in {}.",
                dir.path().display()
            ));
            let env = sample_environment();
            let info = PodInfo::from_env_with(|k| env.get(k).map(|v| (*v).to_owned()))
                .with_volume(dir.path())?;
            Ok(show(info, dir.path().to_path_buf(), out))
        }
        _ => {
            let volume = options
                .volume
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_VOLUME));
            let info = PodInfo::from_env().with_volume(&volume)?;
            Ok(show(info, volume, out))
        }
    }
}

fn show(info: PodInfo, volume: PathBuf, out: &Transcript) -> Report {
    let v = |x: &Option<String>| x.clone().unwrap_or_else(|| "(not set)".to_owned());
    out.step("From environment variables (fieldRef / resourceFieldRef)");
    out.line(format!("  name            {}", v(&info.name)));
    out.line(format!("  namespace       {}", v(&info.namespace)));
    out.line(format!("  pod IP          {}", v(&info.ip)));
    out.line(format!("  node            {}", v(&info.node_name)));
    out.line(format!("  service account {}", v(&info.service_account)));
    out.line(format!(
        "  CPU request     {}",
        info.cpu_request.as_ref().map_or_else(
            || "(not set)".to_owned(),
            |c| format!("{c} (millicores, divisor 1m)")
        )
    ));
    out.line(format!(
        "  memory limit    {}",
        info.memory_limit
            .as_ref()
            .map_or_else(|| "(not set)".to_owned(), |m| format!("{m} bytes"))
    ));
    out.step(format!("From the downwardAPI volume {}", volume.display()));
    out.line("  labels:");
    for (k, val) in &info.labels {
        out.line(format!("    {k} = {val}"));
    }
    out.line("  annotations:");
    for (k, val) in &info.annotations {
        out.line(format!("    {k} = {val}"));
    }
    out.line("\nNo request was sent to the API server.");
    out.step("The Pod manifest that provides this");
    out.line(POD_MANIFEST.trim_end());
    Report { info, volume }
}
