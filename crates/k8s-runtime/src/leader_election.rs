//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics and
//! defaults.
//!
//! Each candidate tries, every [`Config::retry_period`] (with up to 20 % jitter), to take or
//! renew the Lease: it takes it when the Lease does not exist, has no holder, or has not
//! changed for [`Config::lease_duration`] *as this candidate observed it* (a local clock reading
//! taken when the Lease last changed, so clocks of different machines never matter). The leader
//! renews every retry period; when it could not renew for [`Config::renew_deadline`] it steps
//! down. Because the renew deadline (10 s) is shorter than the lease duration (15 s), a leader
//! cut off from the API server stops leading before anyone else can take over. On a graceful
//! stop the leader releases the Lease (no holder, duration 1 s), so the next candidate takes it
//! at its next try instead of waiting for the lease to expire. Writes are updates guarded by the
//! Lease's `resourceVersion`: of two candidates racing, one gets 409 Conflict and loses.
//!
//! ```no_run
//! use std::time::Duration;
//! use k8s_runtime::leader_election::{Config, LeaderElector};
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_runtime::leader_election::Error> {
//! let elector = LeaderElector::new(client, "kube-system", "widget-operator", "pod-1234", Config::default());
//! let outcome = elector
//!     .run(std::future::pending::<()>(), |leading| async move {
//!         // Lead until `leading.lost()` completes (leadership lost or shutdown), then return.
//!         leading.lost().await;
//!     })
//!     .await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```
//!
//! The Lease is a small hand-written wire type ([`Lease`]), not the generated
//! `k8s-api` one, so the runtime does not depend on generated code or on which Kubernetes
//! versions the user enables; fields it does not know are kept through its updates.

use std::future::Future;
use std::time::Duration;

use k8s_client::Client;
use k8s_core::ops::{CreateRequest, GetRequest, ReplaceRequest};
use k8s_core::{MicroTime, Object, ObjectMeta, Resource, Scope};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{collection_path, object_path};

/// `coordination.k8s.io/v1` `Lease`: the fields leader election uses; other fields of the object
/// and of its spec are kept as they came (`rest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lease {
    /// Standard metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The lease's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<LeaseSpec>,
    /// Every other field (`apiVersion`, `kind`, and what newer servers add).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// `spec` of a [`Lease`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LeaseSpec {
    /// Who holds the lease (empty or absent: nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    /// How long a holder keeps the lease without renewing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i32>,
    /// When the current holder took the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<MicroTime>,
    /// When the holder last renewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<MicroTime>,
    /// How often the lease changed hands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i32>,
    /// Every other field (`preferredHolder`, `strategy`, …).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl Resource for Lease {
    const API_VERSION: &'static str = "coordination.k8s.io/v1";
    const GROUP: &'static str = "coordination.k8s.io";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Lease";
    const PLURAL: &'static str = "leases";
    const SCOPE: Scope = Scope::Namespaced;
    const VERBS: &'static [&'static str] = &[
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl Object for Lease {
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Lease {
    fn with_type_meta(mut self) -> Self {
        self.rest
            .insert("apiVersion".into(), Self::API_VERSION.into());
        self.rest.insert("kind".into(), Self::KIND.into());
        self
    }

    /// The holder, if any.
    pub fn holder(&self) -> Option<&str> {
        self.spec
            .as_ref()?
            .holder_identity
            .as_deref()
            .filter(|h| !h.is_empty())
    }
}

/// Timing of a [`LeaderElector`] (client-go's defaults: 15 s, 10 s, 2 s).
///
/// ```
/// use std::time::Duration;
/// let c = k8s_runtime::leader_election::Config::default();
/// assert_eq!((c.lease_duration, c.renew_deadline, c.retry_period),
///     (Duration::from_secs(15), Duration::from_secs(10), Duration::from_secs(2)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// How long others wait, after the Lease last changed, before taking it.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// How often candidates try to take the Lease and the leader renews it.
    pub retry_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Sets the three durations (lease duration > renew deadline > retry period, as client-go
    /// requires; [`LeaderElector::new`] does not check).
    pub fn timing(mut self, lease: Duration, renew_deadline: Duration, retry: Duration) -> Self {
        self.lease_duration = lease;
        self.renew_deadline = renew_deadline;
        self.retry_period = retry;
        self
    }
}

/// What went wrong in leader election.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API server refused the Lease (403, 422, …) in a way retrying cannot fix.
    #[error("Lease {namespace}/{name}: {source}")]
    Api {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// The client's error.
        #[source]
        source: k8s_client::Error,
    },
}

/// How [`LeaderElector::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The shutdown signal came before this candidate led.
    NeverLed,
    /// It led, then the shutdown signal came (or the lead function returned); the Lease was
    /// released.
    Released,
    /// It led, then could not renew within the renew deadline and stepped down.
    Lost,
}

/// Given to the lead function: says when to stop leading.
#[derive(Clone, Debug)]
pub struct Leading {
    stop: watch::Receiver<bool>,
}

impl Leading {
    /// Completes when this candidate must stop leading (leadership lost or shutdown).
    pub async fn lost(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|s| *s).await;
    }

    /// Whether this candidate must stop leading.
    pub fn is_lost(&self) -> bool {
        *self.stop.borrow()
    }
}

/// A candidate for the leadership held in one Lease (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct LeaderElector {
    client: Client,
    namespace: String,
    name: String,
    identity: String,
    config: Config,
}

/// What a candidate last saw of the Lease, and when.
struct Observed {
    lease: Option<Lease>,
    at: Instant,
}

impl LeaderElector {
    /// A candidate `identity` (unique per process, such as the Pod name) for the Lease
    /// `namespace/name`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        config: Config,
    ) -> Self {
        LeaderElector {
            client,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            config,
        }
    }

    /// Waits to lead, then runs `lead` while leading; returns when `shutdown` completes, when
    /// `lead` returns, or when the leadership is lost. `lead` gets a [`Leading`] whose
    /// [`lost`](Leading::lost) completes when it must stop; `run` waits for `lead` to return
    /// after that, then releases the Lease (unless it was lost).
    pub async fn run<S, F, Fut>(&self, shutdown: S, lead: F) -> Result<Outcome, Error>
    where
        S: Future<Output = ()>,
        F: FnOnce(Leading) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut observed = Observed {
            lease: None,
            at: Instant::now(),
        };
        // Acquire.
        loop {
            match self.try_acquire_or_renew(&mut observed).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) if fatal(&e) => return Err(self.error(e)),
                Err(e) => {
                    tracing::debug!(lease = %self.name, error = %e, "could not take the lease")
                }
            }
            tokio::select! {
                () = &mut shutdown => return Ok(Outcome::NeverLed),
                () = tokio::time::sleep(jittered(self.config.retry_period)) => {}
            }
        }
        tracing::info!(lease = %self.name, identity = %self.identity, "became leader");
        let (stop_tx, stop) = watch::channel(false);
        let mut lead = std::pin::pin!(lead(Leading { stop }));
        let mut last_renew = Instant::now();
        let mut lead_done = false;
        let outcome = loop {
            tokio::select! {
                () = &mut shutdown => break Outcome::Released,
                () = &mut lead => { lead_done = true; break Outcome::Released }
                () = tokio::time::sleep(self.config.retry_period) => {}
            }
            let deadline = last_renew + self.config.renew_deadline;
            let attempt =
                tokio::time::timeout_at(deadline, self.try_acquire_or_renew(&mut observed));
            match attempt.await {
                Ok(Ok(true)) => last_renew = Instant::now(),
                Ok(Ok(false)) => break Outcome::Lost,
                Ok(Err(e)) => {
                    tracing::debug!(lease = %self.name, error = %e, "could not renew the lease");
                    if Instant::now() >= deadline {
                        break Outcome::Lost;
                    }
                }
                Err(_) => break Outcome::Lost,
            }
        };
        if outcome == Outcome::Lost {
            tracing::warn!(lease = %self.name, identity = %self.identity, "lost the leadership");
        }
        stop_tx.send_replace(true);
        if !lead_done {
            lead.await;
        }
        if outcome == Outcome::Released {
            self.release(&observed).await;
        }
        Ok(outcome)
    }

    fn error(&self, source: k8s_client::Error) -> Error {
        Error::Api {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    /// One try, client-go's `tryAcquireOrRenew`: whether this candidate holds the Lease now.
    async fn try_acquire_or_renew(
        &self,
        observed: &mut Observed,
    ) -> Result<bool, k8s_client::Error> {
        let now = MicroTime::now();
        let path = object_path::<Lease>(Some(&self.namespace), &self.name);
        let current = match self
            .client
            .send(GetRequest::<Lease>::new(path.clone()))
            .await
        {
            Ok(l) => l,
            Err(e) if e.is_not_found() => {
                let lease = Lease {
                    metadata: ObjectMeta::namespaced(&self.namespace, &self.name),
                    spec: Some(self.spec(now, now, 0)),
                    rest: serde_json::Map::new(),
                }
                .with_type_meta();
                let path = collection_path::<Lease>(Some(&self.namespace));
                let created = self
                    .client
                    .send(CreateRequest::<Lease>::new(path, &lease))
                    .await?;
                *observed = Observed {
                    lease: Some(created),
                    at: Instant::now(),
                };
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        // A change of the record restarts the lease duration, as this candidate observes it.
        let record = |l: &Lease| {
            l.spec
                .clone()
                .map(|s| (s.holder_identity, s.renew_time, s.lease_transitions))
        };
        if observed.lease.as_ref().map(record) != Some(record(&current)) {
            observed.at = Instant::now();
        }
        observed.lease = Some(current.clone());
        let spec = current.spec.clone().unwrap_or_default();
        let holder = current.holder();
        let me = holder == Some(self.identity.as_str());
        let duration = Duration::from_secs(
            spec.lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(self.config.lease_duration.as_secs()),
        );
        if holder.is_some() && !me && Instant::now() < observed.at + duration {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = if me {
            let acquired = spec.acquire_time.unwrap_or(now);
            self.spec(acquired, now, transitions)
        } else {
            self.spec(now, now, transitions.saturating_add(1))
        };
        let mut lease = current;
        let rest = lease.spec.take().map(|s| s.rest).unwrap_or_default();
        lease.spec = Some(LeaseSpec { rest, ..new_spec });
        let updated = self
            .client
            .send(ReplaceRequest::<Lease>::new(path, &lease.with_type_meta()))
            .await?;
        *observed = Observed {
            lease: Some(updated),
            at: Instant::now(),
        };
        Ok(true)
    }

    fn spec(&self, acquired: MicroTime, renewed: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquired),
            renew_time: Some(renewed),
            lease_transitions: Some(transitions),
            rest: serde_json::Map::new(),
        }
    }

    /// Gives the Lease up (client-go's `ReleaseOnCancel`): no holder, a 1 s duration.
    async fn release(&self, observed: &Observed) {
        let Some(mut lease) = observed.lease.clone() else {
            return;
        };
        if lease.holder() != Some(self.identity.as_str()) {
            return;
        }
        let now = MicroTime::now();
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.acquire_time = Some(now);
            spec.renew_time = Some(now);
        }
        let path = object_path::<Lease>(Some(&self.namespace), &self.name);
        match self
            .client
            .send(ReplaceRequest::<Lease>::new(path, &lease.with_type_meta()))
            .await
        {
            Ok(_) => {
                tracing::info!(lease = %self.name, identity = %self.identity, "released the lease")
            }
            Err(e) => tracing::warn!(lease = %self.name, error = %e, "could not release the lease"),
        }
    }
}

/// Errors that retrying cannot fix (the candidate gives up).
fn fatal(e: &k8s_client::Error) -> bool {
    e.is_forbidden() || e.is_invalid() || e.status_code() == Some(400)
}

/// `d` plus up to 20 % (client-go's `JitterFactor` 1.2).
fn jittered(d: Duration) -> Duration {
    d.mul_f64(1.0 + fastrand::f64() * 0.2)
}
