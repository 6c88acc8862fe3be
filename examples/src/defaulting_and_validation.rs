//! `defaulting-and-validation`: what the server adds to an object and what it refuses.
//!
//! 1. Creates a Pod with `dryRun=All`: the server defaults, validates and admits it and
//!    answers with the object it would store, without storing it. The example prints every
//!    field the server filled in (`spec.dnsPolicy`, `spec.restartPolicy`,
//!    `spec.containers[0].imagePullPolicy`, `status.qosClass`, …) and shows that a read of
//!    the Pod afterwards is a 404.
//! 2. Creates the Pod for real, changes its container image (allowed), then tries to change
//!    `spec.restartPolicy`, which a Pod does not allow: the server answers 422 `Invalid` and
//!    the typed error lists its causes ([`k8s_client::Error::causes`]).
//! 3. Creates a Deployment and prints the defaults the server filled in (strategy, revision
//!    history, progress deadline, the Pod template's defaults).
//!
//! With `--real-cluster` it works in the namespace of the current context with unique names,
//! and deletes what it created.

use std::collections::BTreeMap;

use k8s_api::latest::apps::v1::{Deployment, DeploymentSpec};
use k8s_api::latest::core::v1::{Container, Pod, PodSpec, PodTemplateSpec};
use k8s_api::latest::meta::v1::{LabelSelector, ObjectMeta};
use k8s_client::Client;
use k8s_core::Patch;
use serde_json::Value;

use crate::support::{
    Error, Target, Transcript, client_from_kubeconfig, describe_error, unique_name,
};

const ADMIN_TOKEN: &str = "admin-token-d41e";

/// Options of the example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to run.
    pub target: Target,
}

impl Options {
    /// Options for `target`.
    pub fn new(target: Target) -> Self {
        Options { target }
    }
}

/// One cause of a 422 answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cause {
    /// The field, e.g. `spec`.
    pub field: String,
    /// The reason, e.g. `FieldValueForbidden`.
    pub reason: String,
    /// The first line of the message.
    pub message: String,
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The namespace used.
    pub namespace: String,
    /// Fields the server filled in on the dry-run create, as `path = value` (JSON).
    pub dry_run_filled: BTreeMap<String, String>,
    /// Whether the Pod existed after the dry run (it must not).
    pub dry_run_persisted: bool,
    /// Whether changing the container image (allowed) succeeded.
    pub image_update_ok: bool,
    /// The status code of the forbidden update (422).
    pub immutable_code: Option<u16>,
    /// Its `Status` reason (`Invalid`).
    pub immutable_reason: String,
    /// Its causes.
    pub immutable_causes: Vec<Cause>,
    /// Fields the server filled in on the Deployment, as `path = value` (JSON).
    pub deployment_filled: BTreeMap<String, String>,
}

/// Every leaf of `returned` that `sent` does not have, as `path -> compact JSON`. Server
/// bookkeeping that is not defaulting (`metadata.managedFields`, `metadata.resourceVersion`,
/// `metadata.generation`) is left out.
pub fn filled_in(sent: &Value, returned: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(sent, returned, "", &mut out);
    out.retain(|k, _| {
        !k.starts_with("metadata.managedFields")
            && k != "metadata.resourceVersion"
            && k != "metadata.generation"
    });
    out
}

fn walk(sent: &Value, returned: &Value, path: &str, out: &mut BTreeMap<String, String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match (sent, returned) {
        (Value::Object(s), Value::Object(r)) => {
            for (k, rv) in r {
                match s.get(k) {
                    Some(sv) => walk(sv, rv, &join(k), out),
                    None => {
                        out.insert(join(k), rv.to_string());
                    }
                }
            }
        }
        (Value::Array(s), Value::Array(r)) if s.len() == r.len() => {
            for (i, (sv, rv)) in s.iter().zip(r).enumerate() {
                walk(sv, rv, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Null, r) if !r.is_null() => {
            out.insert(path.to_owned(), r.to_string());
        }
        _ => {}
    }
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "defaulting".into())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some("nginx:1.27".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn deployment(name: &str) -> Deployment {
    let labels = BTreeMap::from([("app".to_owned(), name.to_owned())]);
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "web".into(),
                        image: Some("nginx:1.27".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Unexpected(format!("cannot encode: {e}")))
}

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    match options.target {
        Target::TestServer => {
            let server = k8s_testserver::TestServer::builder()
                .token(ADMIN_TOKEN, "admin", &["system:masters"])
                .start()
                .await?;
            out.line(format!(
                "Started the in-process API server at {}.",
                server.url()
            ));
            let client = client_from_kubeconfig(&server.kubeconfig_for(ADMIN_TOKEN))?;
            let report = walkthrough(&client, "defaulting-demo", "web", out).await;
            server.shutdown().await;
            report
        }
        _ => {
            let client = Client::infer().await?;
            walkthrough(
                &client,
                &unique_name("defaulting-demo"),
                &unique_name("web"),
                out,
            )
            .await
        }
    }
}

async fn walkthrough(
    client: &Client,
    pod_name: &str,
    deployment_name: &str,
    out: &Transcript,
) -> Result<Report, Error> {
    let ns = client.namespace().to_owned();
    let mut report = Report {
        namespace: ns.clone(),
        ..Report::default()
    };

    out.step(format!("Create Pod {ns}/{pod_name} with dryRun=All"));
    let sent = pod(pod_name);
    let returned = client
        .send(
            Pod::create(&ns, &sent)
                .dry_run()
                .field_manager("defaulting-example"),
        )
        .await?;
    report.dry_run_filled = filled_in(&to_json(&sent)?, &to_json(&returned)?);
    out.line(format!(
        "The server filled in {} fields:",
        report.dry_run_filled.len()
    ));
    for (path, value) in &report.dry_run_filled {
        out.line(format!("  {path} = {value}"));
    }
    match client.send(Pod::read(&ns, pod_name)).await {
        Ok(_) => {
            report.dry_run_persisted = true;
            out.line("The Pod exists after the dry run (unexpected).");
        }
        Err(e) if e.is_not_found() => {
            out.line(format!(
                "Nothing was stored: reading it answers {}",
                describe_error(&e)
            ));
        }
        Err(e) => return Err(e.into()),
    }

    out.step("Create it, then update it");
    client
        .send(Pod::create(&ns, &sent).field_manager("defaulting-example"))
        .await?;
    out.line(format!("  created pod {ns}/{pod_name}"));
    let image = Patch::Strategic(serde_json::json!({
        "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}
    }));
    match client.send(Pod::patch(&ns, pod_name, image)).await {
        Ok(_) => {
            report.image_update_ok = true;
            out.line("  spec.containers[0].image nginx:1.27 -> nginx:1.28: allowed (200)");
        }
        Err(e) => out.line(format!(
            "  changing the image failed: {}",
            describe_error(&e)
        )),
    }
    let restart = Patch::Merge(serde_json::json!({"spec": {"restartPolicy": "Never"}}));
    match client.send(Pod::patch(&ns, pod_name, restart)).await {
        Ok(_) => {
            return Err(Error::Unexpected(
                "the server accepted a change of spec.restartPolicy; expected 422".into(),
            ));
        }
        Err(e) if e.is_invalid() => {
            out.line("  spec.restartPolicy Always -> Never: refused");
            out.line(format!(
                "  {} {}",
                e.status_code().map_or_else(String::new, |c| c.to_string()),
                e.status().map(|s| s.reason()).unwrap_or("")
            ));
            report.immutable_code = e.status_code();
            report.immutable_reason = e
                .status()
                .map(|s| s.reason().to_owned())
                .unwrap_or_default();
            for c in e.causes() {
                let cause = Cause {
                    field: c.field.clone().unwrap_or_default(),
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c
                        .message
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                };
                out.line(format!(
                    "  cause: field {} reason {}: {}",
                    cause.field, cause.reason, cause.message
                ));
                report.immutable_causes.push(cause);
            }
        }
        Err(e) => return Err(e.into()),
    }

    out.step(format!("Create Deployment {ns}/{deployment_name}"));
    let sent = deployment(deployment_name);
    let created = client
        .send(Deployment::create(&ns, &sent).field_manager("defaulting-example"))
        .await?;
    report.deployment_filled = filled_in(&to_json(&sent)?, &to_json(&created)?);
    out.line(format!(
        "Created (201); the server filled in {} fields, among them:",
        report.deployment_filled.len()
    ));
    for (path, value) in report
        .deployment_filled
        .iter()
        .filter(|(p, _)| p.starts_with("spec."))
    {
        out.line(format!("  {path} = {value}"));
    }

    out.step("Clean up");
    for result in [
        client
            .send(Pod::delete(&ns, pod_name))
            .await
            .map(|_| format!("pod {ns}/{pod_name}")),
        client
            .send(Deployment::delete(&ns, deployment_name))
            .await
            .map(|_| format!("deployment {ns}/{deployment_name}")),
    ] {
        match result {
            Ok(what) => out.line(format!("  deleted {what}")),
            Err(e) => out.line(format!("  could not delete: {}", describe_error(&e))),
        }
    }
    Ok(report)
}
