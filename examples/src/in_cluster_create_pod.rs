//! `in-cluster-create-pod`: an application in a Pod creates another Pod.
//!
//! 1. Loads the in-cluster configuration the way a Pod sees it: the service-account directory
//!    (`token`, `ca.crt`, `namespace`) and `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`.
//!    Against the test server these come from [`k8s_testserver::TestServer::in_cluster_dir`]
//!    and are passed to a [`ConfigLoader`]; the process environment is not touched.
//! 2. Creates an nginx Pod in the Pod's namespace as the unprivileged service account
//!    `demo/app`: the server answers 403 and the client returns it as a typed error
//!    ([`k8s_client::Error::is_forbidden`]) carrying the server's `Status`.
//! 3. An administrator creates a Role that allows creating Pods and a RoleBinding that grants
//!    it to the service account.
//! 4. The same request now answers 201 with the created Pod; then the Pod is deleted.
//!
//! Every request is logged with `Authorization: Bearer <redacted>`; the token is never
//! printed.
//!
//! With `--real-cluster` the configuration is inferred (kubeconfig, else in-cluster). Without
//! permission to create Pods the example prints the 403 and the Role and RoleBinding an
//! administrator would apply.

use std::collections::BTreeMap;

use k8s_api::latest::core::v1::{
    Container, ContainerPort, Namespace, Pod, PodSpec, ServiceAccount,
};
use k8s_api::latest::meta::v1::ObjectMeta;
use k8s_api::latest::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_client::{Client, Config, ConfigLoader};

use crate::support::{
    Error, LoggedRequest, RequestLog, Target, Transcript, client_from_kubeconfig, describe_auth,
    describe_error,
};

/// The namespace the Pod runs in, against the test server.
pub const NAMESPACE: &str = "demo";
/// The service account the Pod runs as, against the test server.
pub const SERVICE_ACCOUNT: &str = "app";
/// The name of the Pod the example creates.
pub const POD_NAME: &str = "nginx";
/// The name of the Role (and RoleBinding) the administrator creates.
pub const ROLE_NAME: &str = "pod-creator";

/// The service account's token in the test server (a value a test asserts is never printed).
pub const APP_TOKEN: &str = "app-sa-token-3f9d2c71e8";
const ADMIN_TOKEN: &str = "admin-token-5a1c";

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The namespace read from the service-account directory (or the kubeconfig).
    pub namespace: String,
    /// The status code of the first attempt when it was refused (403), with the `Status`
    /// reason, e.g. `(403, "Forbidden")`.
    pub refused: Option<(u16, String)>,
    /// The status code of the create that succeeded (201).
    pub created: Option<u16>,
    /// The uid of the created Pod.
    pub pod_uid: Option<String>,
    /// Every request the application's client sent, as logged.
    pub requests: Vec<LoggedRequest>,
}

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

/// The Pod the application creates: one nginx container.
pub fn nginx_pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(POD_NAME.into()),
            labels: Some(BTreeMap::from([("app".into(), "nginx".into())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "nginx".into(),
                image: Some("nginx:1.27".into()),
                ports: Some(vec![ContainerPort {
                    container_port: 80,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Role that allows creating, reading and deleting Pods in `namespace`.
pub fn pod_creator_role(namespace: &str) -> Role {
    Role {
        metadata: ObjectMeta {
            name: Some(ROLE_NAME.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            verbs: ["create", "get", "list", "delete"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        }]),
    }
}

/// The RoleBinding that grants [`pod_creator_role`] to the service account.
pub fn pod_creator_binding(namespace: &str, service_account: &str) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(ROLE_NAME.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: ROLE_NAME.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: service_account.into(),
            namespace: Some(namespace.into()),
            ..Default::default()
        }]),
    }
}

/// Runs the example.
pub async fn run(options: &Options, out: &Transcript) -> Result<Report, Error> {
    match options.target {
        Target::TestServer => run_on_test_server(out).await,
        _ => {
            out.line("Inferring the configuration (kubeconfig, else in-cluster service account).");
            let config = tokio::task::spawn_blocking(Config::infer)
                .await
                .map_err(|e| Error::Unexpected(format!("configuration task failed: {e}")))??;
            walkthrough(config, None, out).await
        }
    }
}

async fn run_on_test_server(out: &Transcript) -> Result<Report, Error> {
    let user = format!("system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}");
    let groups = [
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{NAMESPACE}"),
    ];
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let server = k8s_testserver::TestServer::builder()
        .token(ADMIN_TOKEN, "admin", &["system:masters"])
        .token(APP_TOKEN, &user, &groups)
        .start()
        .await?;
    out.line(format!(
        "Started the in-process API server at {} (TLS with its own CA).",
        server.url()
    ));
    let admin = client_from_kubeconfig(&server.kubeconfig_for(ADMIN_TOKEN))?;
    admin
        .send(Namespace::create(&Namespace {
            metadata: ObjectMeta {
                name: Some(NAMESPACE.into()),
                ..Default::default()
            },
            ..Default::default()
        }))
        .await?;
    admin
        .send(ServiceAccount::create(
            NAMESPACE,
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(SERVICE_ACCOUNT.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        ))
        .await?;
    out.line(format!(
        "Administrator: created namespace {NAMESPACE} and service account {NAMESPACE}/{SERVICE_ACCOUNT}."
    ));

    let pod_view = server.in_cluster_dir(NAMESPACE, APP_TOKEN);
    out.step("What the Pod sees");
    out.line(format!(
        "  {}/{{token, ca.crt, namespace}}   (mounted service account; the token is not shown)",
        pod_view.dir.display()
    ));
    out.line(format!("  KUBERNETES_SERVICE_HOST={}", pod_view.host));
    out.line(format!("  KUBERNETES_SERVICE_PORT={}", pod_view.port));
    let env = BTreeMap::from([
        ("KUBERNETES_SERVICE_HOST".to_owned(), pod_view.host.clone()),
        (
            "KUBERNETES_SERVICE_PORT".to_owned(),
            pod_view.port.to_string(),
        ),
    ]);
    let config = ConfigLoader::new()
        .env_map(env)
        .service_account_dir(&pod_view.dir)
        .in_cluster()?;
    let report = walkthrough(config, Some(&admin), out).await;
    server.shutdown().await;
    report
}

async fn walkthrough(
    config: Config,
    admin: Option<&Client>,
    out: &Transcript,
) -> Result<Report, Error> {
    out.step("In-cluster configuration");
    out.line(format!("  origin:    {}", config.origin));
    out.line(format!("  server:    {}", config.cluster_url));
    out.line(format!("  namespace: {}", config.default_namespace));
    out.line(format!("  auth:      {}", describe_auth(&config)));
    let client = Client::new(config)?;
    let namespace = client.namespace().to_owned();
    let log = RequestLog::printing_to(out);
    let mut report = Report {
        namespace: namespace.clone(),
        refused: None,
        created: None,
        pod_uid: None,
        requests: Vec::new(),
    };

    out.step(format!(
        "Create Pod {namespace}/{POD_NAME} (image nginx:1.27)"
    ));
    let create = || Pod::create(&namespace, &nginx_pod()).field_manager("in-cluster-example");
    let mut created = None;
    match log.capture(client.send(create())).await {
        Ok(pod) => created = Some(pod),
        Err(e) if e.is_forbidden() => {
            out.line(format!(
                "Refused, as expected for a service account without RBAC permissions:\n  {}",
                describe_error(&e)
            ));
            out.line(
                "  (typed: k8s_client::Error::Api(ApiError with the Status); e.is_forbidden() == true, e.status_code() == Some(403))",
            );
            report.refused = Some((
                e.status_code().unwrap_or(0),
                e.status()
                    .map(|s| s.reason().to_owned())
                    .unwrap_or_default(),
            ));
        }
        Err(e) => return Err(e.into()),
    }

    if report.refused.is_some() {
        let role = pod_creator_role(&namespace);
        let service_account = SERVICE_ACCOUNT;
        let binding = pod_creator_binding(&namespace, service_account);
        match admin {
            None => {
                out.line(
                    "\nAsk an administrator to allow it, e.g. (adjust the service account name):",
                );
                out.line(format!(
                    "  kubectl -n {namespace} create role {ROLE_NAME} --verb=create,get,list,delete --resource=pods"
                ));
                out.line(format!(
                    "  kubectl -n {namespace} create rolebinding {ROLE_NAME} --role={ROLE_NAME} --serviceaccount={namespace}:<service-account>"
                ));
                report.requests = log.requests();
                return Ok(report);
            }
            Some(admin) => {
                out.step("Administrator grants the permission");
                admin.send(Role::create(&namespace, &role)).await?;
                out.line(format!(
                    "  created Role {namespace}/{ROLE_NAME}: verbs create,get,list,delete on pods"
                ));
                admin
                    .send(RoleBinding::create(&namespace, &binding))
                    .await?;
                out.line(format!(
                    "  created RoleBinding {namespace}/{ROLE_NAME}: Role {ROLE_NAME} -> ServiceAccount {namespace}/{service_account}"
                ));
                out.step("The same request again");
                created = Some(log.capture(client.send(create())).await?);
            }
        }
    }

    if let Some(pod) = created {
        let code = log.requests().last().map(|r| r.status).unwrap_or(0);
        let meta = pod.metadata.clone();
        let spec = pod.spec.clone().unwrap_or_default();
        out.line(format!(
            "{code} Created: pod {}/{}",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or("")
        ));
        out.line(format!(
            "  uid:            {}",
            meta.uid.as_deref().unwrap_or("")
        ));
        out.line(format!(
            "  phase:          {}",
            pod.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("")
        ));
        out.line(format!(
            "  serviceAccount: {}",
            spec.service_account_name.as_deref().unwrap_or("")
        ));
        out.line(format!(
            "  image:          {}",
            spec.containers
                .first()
                .and_then(|c| c.image.as_deref())
                .unwrap_or("")
        ));
        report.created = Some(code);
        report.pod_uid = meta.uid;

        out.step("Clean up");
        match log
            .capture(client.send(Pod::delete(&namespace, POD_NAME)))
            .await
        {
            Ok(_) => out.line(format!("  deleted pod {namespace}/{POD_NAME}")),
            Err(e) => out.line(format!(
                "  could not delete the pod: {}",
                describe_error(&e)
            )),
        }
    }
    report.requests = log.requests();
    Ok(report)
}
