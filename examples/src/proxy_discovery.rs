//! `proxy-discovery`: discovery and reads through `kubectl proxy`.
//!
//! `kubectl proxy` listens on `http://127.0.0.1:8001` and adds the credentials itself, so the
//! application uses plain HTTP without any. The example:
//!
//! 1. lists the API groups (`GET /apis`) and the core versions (`GET /api`);
//! 2. shows the versions of the `batch` group (`GET /apis/batch`);
//! 3. lists the resources of `batch/v1` with their verbs (`GET /apis/batch/v1`);
//! 4. lists all Jobs in all namespaces and reads one by name;
//! 5. requests a wrong path and a missing Job and prints the 404 `Status` of each.
//!
//! By default it runs against the in-process test server in plain-HTTP mode (like
//! `kubectl proxy`), with two Jobs created first. With `--real-cluster` it uses
//! `http://127.0.0.1:8001` (start `kubectl proxy` first) or the URL given with `--url`.

use k8s_api::latest::batch::v1::{Job, JobSpec};
use k8s_api::latest::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_api::latest::meta::v1::ObjectMeta;
use k8s_client::{Client, Config};
use k8s_core::ops::GetRequest;

use crate::support::{Error, Target, Transcript, describe_error};

/// Where `kubectl proxy` listens by default.
pub const DEFAULT_PROXY_URL: &str = "http://127.0.0.1:8001";
/// The path the example requests to show a 404: a resource `batch/v1` does not have.
pub const WRONG_PATH: &str = "/apis/batch/v1/namespaces/default/jobz";

/// Options of the example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where to run.
    pub target: Target,
    /// With [`Target::RealCluster`]: the proxy's URL (default [`DEFAULT_PROXY_URL`]).
    pub url: Option<String>,
}

impl Options {
    /// Options for `target`.
    pub fn new(target: Target) -> Self {
        Options { target, url: None }
    }
}

/// One resource of `batch/v1` as discovery lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceVerbs {
    /// Resource name, e.g. `jobs` or `jobs/status`.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Whether it is namespaced.
    pub namespaced: bool,
    /// The verbs it supports.
    pub verbs: Vec<String>,
}

/// A 404 the example provoked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotFound {
    /// The path requested.
    pub path: String,
    /// The HTTP status code.
    pub code: Option<u16>,
    /// The `Status` reason (`NotFound`), empty when the body was not a `Status`.
    pub reason: String,
    /// The `Status` message.
    pub message: String,
}

/// What happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The server's URL.
    pub url: String,
    /// Names of the API groups (`apps`, `batch`, …).
    pub groups: Vec<String>,
    /// Versions of the `batch` group (`batch/v1`, …).
    pub batch_versions: Vec<String>,
    /// The preferred version of `batch`.
    pub batch_preferred: Option<String>,
    /// The resources of `batch/v1`.
    pub batch_v1_resources: Vec<ResourceVerbs>,
    /// Every Job, as `namespace/name`.
    pub jobs: Vec<String>,
    /// The Job read by name, as `namespace/name`.
    pub job_read: Option<String>,
    /// The 404 answers: the wrong path, then the missing Job.
    pub not_found: Vec<NotFound>,
}

fn pi_job(name: &str, digits: u32) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(4),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "pi".into(),
                        image: Some("perl:5.34.0".into()),
                        command: Some(
                            [
                                "perl",
                                "-Mbignum=bpi",
                                "-wle",
                                &format!("print bpi({digits})"),
                            ]
                            .map(String::from)
                            .to_vec(),
                        ),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    match options.target {
        Target::TestServer => {
            let server = k8s_testserver::TestServer::builder()
                .plain_http()
                .start()
                .await?;
            out.line(format!(
                "Started the in-process API server at {} in plain-HTTP mode, like `kubectl proxy`.",
                server.url()
            ));
            let client = proxy_client(server.url())?;
            client
                .send(Job::create("default", &pi_job("pi", 2000)))
                .await?;
            client
                .send(Job::create("kube-system", &pi_job("pi-short", 10)))
                .await?;
            out.line("Created Jobs default/pi and kube-system/pi-short to have something to list.");
            let report = walkthrough(&client, "default", "pi", out).await;
            server.shutdown().await;
            report
        }
        _ => {
            let url = options.url.as_deref().unwrap_or(DEFAULT_PROXY_URL);
            out.line(format!(
                "Using the proxy at {url} (start it with `kubectl proxy`)."
            ));
            let client = proxy_client(url)?;
            walkthrough(&client, "", "", out)
                .await
                .map_err(|e| match e {
                    Error::Client(e @ k8s_client::Error::Transport { .. }) => Error::Unexpected(
                        format!("{e}\n(is `kubectl proxy` running and listening on {url}?)"),
                    ),
                    e => e,
                })
        }
    }
}

/// A client for a `kubectl proxy`-style URL: plain HTTP, no credentials.
pub fn proxy_client(url: &str) -> Result<Client, Error> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::Unexpected(format!("invalid proxy URL {url:?}: {e}")))?;
    let mut config = Config::new(uri);
    config.origin = format!("kubectl proxy at {url}");
    Ok(Client::new(config)?)
}

async fn walkthrough(
    client: &Client,
    job_namespace: &str,
    job_name: &str,
    out: &Transcript,
) -> Result<Report, Error> {
    let mut report = Report {
        url: client.config().cluster_url.to_string(),
        ..Report::default()
    };

    out.step("API groups (GET /apis) and core versions (GET /api)");
    let core = client
        .send(k8s_api::latest::get_core_api_versions())
        .await?;
    out.line(format!(
        "  core (legacy, /api): {}",
        core.versions.join(", ")
    ));
    let groups = client.send(k8s_api::latest::get_api_versions()).await?;
    for g in &groups.groups {
        let versions: Vec<&str> = g.versions.iter().map(|v| v.version.as_str()).collect();
        out.line(format!(
            "  {:<32} preferred {:<9} versions {}",
            g.name,
            g.preferred_version
                .as_ref()
                .map_or("-", |v| v.version.as_str()),
            versions.join(", ")
        ));
        report.groups.push(g.name.clone());
    }
    out.line(format!("  {} groups", groups.groups.len()));

    out.step("The batch group (GET /apis/batch)");
    let batch = client
        .send(k8s_api::latest::batch::get_batch_api_group())
        .await?;
    report.batch_versions = batch
        .versions
        .iter()
        .map(|v| v.group_version.clone())
        .collect();
    report.batch_preferred = batch.preferred_version.map(|v| v.group_version);
    out.line(format!(
        "  versions: {}; preferred: {}",
        report.batch_versions.join(", "),
        report.batch_preferred.as_deref().unwrap_or("-")
    ));

    out.step("Resources of batch/v1 (GET /apis/batch/v1)");
    let resources = client
        .send(k8s_api::latest::batch::v1::get_api_resources())
        .await?;
    for r in &resources.resources {
        out.line(format!(
            "  {:<16} {:<8} {:<11} {}",
            r.name,
            r.kind,
            if r.namespaced {
                "namespaced"
            } else {
                "cluster"
            },
            r.verbs.join(",")
        ));
        report.batch_v1_resources.push(ResourceVerbs {
            name: r.name.clone(),
            kind: r.kind.clone(),
            namespaced: r.namespaced,
            verbs: r.verbs.clone(),
        });
    }

    out.step("All Jobs (GET /apis/batch/v1/jobs)");
    let jobs = client.send(Job::list_all_namespaces()).await?;
    for j in &jobs.items {
        let meta = j.metadata.clone();
        let id = format!(
            "{}/{}",
            meta.namespace.unwrap_or_default(),
            meta.name.unwrap_or_default()
        );
        let image = j
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        out.line(format!("  {id:<32} image {image}"));
        report.jobs.push(id);
    }
    out.line(format!("  {} jobs", jobs.items.len()));

    // Against a real cluster, read the first Job listed.
    let (ns, name) = if job_name.is_empty() {
        match report.jobs.first().and_then(|j| j.split_once('/')) {
            Some((n, m)) => (n.to_owned(), m.to_owned()),
            None => (String::new(), String::new()),
        }
    } else {
        (job_namespace.to_owned(), job_name.to_owned())
    };
    if !name.is_empty() {
        out.step(format!(
            "One Job by name (GET /apis/batch/v1/namespaces/{ns}/jobs/{name})"
        ));
        let job = client.send(Job::read(&ns, &name)).await?;
        let meta = job.metadata.clone();
        let spec = job.spec.clone().unwrap_or_default();
        out.line(format!(
            "  {}/{}: backoffLimit {}, created {}, uid {}",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
            spec.backoff_limit
                .map_or_else(|| "-".to_owned(), |b| b.to_string()),
            meta.creation_timestamp
                .as_ref()
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            meta.uid.as_deref().unwrap_or("")
        ));
        report.job_read = Some(format!(
            "{}/{}",
            meta.namespace.unwrap_or_default(),
            meta.name.unwrap_or_default()
        ));
    }

    out.step("Wrong paths");
    let missing_job = format!(
        "/apis/batch/v1/namespaces/{}/jobs/no-such-job",
        if ns.is_empty() { "default" } else { &ns }
    );
    for path in [WRONG_PATH.to_owned(), missing_job] {
        match client
            .send(GetRequest::<serde_json::Value>::new(path.clone()))
            .await
        {
            Ok(_) => {
                return Err(Error::Unexpected(format!(
                    "GET {path} succeeded; expected 404"
                )));
            }
            Err(e) if e.is_not_found() => {
                out.line(format!("  GET {path}\n    -> {}", describe_error(&e)));
                let status = e.status();
                report.not_found.push(NotFound {
                    path,
                    code: e.status_code(),
                    reason: status.map(|s| s.reason().to_owned()).unwrap_or_default(),
                    message: status
                        .and_then(|s| s.message.clone())
                        .unwrap_or_else(|| e.to_string()),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}
