//! The differences between k8s-testserver and the real kube-apiserver that remain, each with
//! its reason, and the steps that are not replayed. A difference not listed here fails the
//! conformance test; so does an entry that no longer matches anything.

use crate::compare::{Aspect, Difference};

/// A known difference: in `scenario` (`*`: any), at `steps` (empty: any), of `aspect`, at a
/// body pointer pattern starting with `at` (empty: anywhere).
pub struct Known {
    pub scenario: &'static str,
    pub steps: &'static [usize],
    pub aspect: Aspect,
    pub at: &'static str,
    pub reason: &'static str,
    /// Depends on a controller's timing: it may not occur in a run.
    pub sometimes: bool,
}

impl Known {
    pub fn matches(&self, scenario: &str, step: usize, d: &Difference) -> bool {
        (self.scenario == "*" || self.scenario == scenario)
            && (self.steps.is_empty() || self.steps.contains(&step))
            && self.aspect == d.aspect
            && d.at.starts_with(self.at)
    }
}

/// Steps that are not sent, with why.
pub struct Skipped {
    pub scenario: &'static str,
    pub steps: &'static [usize],
    pub reason: &'static str,
}

/// None today: eviction-pdb#6 (recorded with kube-controller-manager stopped) is replayed
/// with it stopped (`Runner::before_step`).
pub static SKIPPED: &[Skipped] = &[];

pub fn skipped(scenario: &str, step: usize) -> Option<&'static Skipped> {
    SKIPPED
        .iter()
        .find(|s| s.scenario == scenario && s.steps.contains(&step))
}

use Aspect::*;

macro_rules! known {
    ($scenario:expr, [$($step:expr),*], $aspect:expr, $at:expr, $reason:expr) => {
        Known { scenario: $scenario, steps: &[$($step),*], aspect: $aspect, at: $at, reason: $reason, sometimes: false }
    };
}

/// Why each difference remains. Grouped by cause; the README lists the ones that occurred.
pub static KNOWN: &[Known] = &[
    // --- eviction against a budget whose new generation no controller has observed ---
    known!(
        "eviction-pdb",
        [6],
        Status,
        "",
        "the test server runs no disruption controller and judges an eviction by the budget's spec at once; the real server answers 429 with `Retry-After: 10` until the disruption controller has observed the budget's new generation (kube-controller-manager is stopped for this step, as in the recording)"
    ),
    known!(
        "eviction-pdb",
        [6],
        Reason,
        "",
        "as the status of eviction-pdb#6"
    ),
    known!(
        "eviction-pdb",
        [6],
        Causes,
        "",
        "as the status of eviction-pdb#6"
    ),
    known!(
        "eviction-pdb",
        [6],
        Message,
        "",
        "as the status of eviction-pdb#6"
    ),
    known!(
        "eviction-pdb",
        [6],
        RetryAfter,
        "",
        "as the status of eviction-pdb#6"
    ),
    // --- what the test server does not run: controllers, admission plugins, kubelet ---
    known!(
        "*",
        [],
        Body,
        "/spec/volumes",
        "no ServiceAccount admission plugin: pods get no projected `kube-api-access-*` token volume"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/containers/*/volumeMounts",
        "no ServiceAccount admission plugin: no token volume mount"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/initContainers/*/volumeMounts",
        "no ServiceAccount admission plugin: no token volume mount"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/volumes",
        "no ServiceAccount admission plugin: pods get no projected `kube-api-access-*` token volume"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/containers/*/volumeMounts",
        "no ServiceAccount admission plugin: no token volume mount"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/initContainers/*/volumeMounts",
        "no ServiceAccount admission plugin: no token volume mount"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/tolerations (length)",
        "no DefaultTolerationSeconds admission plugin: no `not-ready`/`unreachable` tolerations"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/tolerations (length)",
        "no DefaultTolerationSeconds admission plugin: no `not-ready`/`unreachable` tolerations"
    ),
    known!(
        "*",
        [],
        Body,
        "/metadata/managedFields",
        "the test server's `managedFields` entry of a write covers the fields after all of its defaulting (also what admission and status strategies set: `spec.priority`, `serviceAccountName`, `tolerations`, `status.phase`), the real one only the request's fields after scheme defaulting; controllers write their own entries"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/metadata/managedFields",
        "as `/metadata/managedFields`"
    ),
    known!(
        "*",
        [],
        Body,
        "/rows/*/object/metadata/managedFields",
        "as `/metadata/managedFields`"
    ),
    known!(
        "watch",
        [7],
        Body,
        "/events/*/object/metadata/managedFields",
        "the test server's `kube-root-ca.crt` ConfigMap has no `managedFields` (the real one is written by the root-ca-cert-publisher controller)"
    ),
    known!(
        "deployment",
        [1, 6, 7],
        Body,
        "/status",
        "no deployment controller: no status, conditions or revision annotation"
    ),
    known!(
        "deployment",
        [1, 6, 7],
        Body,
        "/metadata/annotations",
        "no deployment controller: no `deployment.kubernetes.io/revision`"
    ),
    known!(
        "protobuf",
        [30, 36],
        Body,
        "/metadata/annotations",
        "no deployment or node controller: no annotations they write"
    ),
    known!(
        "protobuf",
        [30],
        Body,
        "/status",
        "no deployment controller: no status"
    ),
    known!(
        "deployment",
        [2, 3],
        Body,
        "/items (length)",
        "no deployment or replicaset controller: no ReplicaSet, no pods"
    ),
    known!(
        "deployment",
        [8],
        Status,
        "",
        "no garbage collector: a foreground deletion removes the object at once instead of waiting for its dependents (the real server still shows it with the `foregroundDeletion` finalizer)"
    ),
    known!(
        "deployment",
        [8],
        Reason,
        "",
        "as the status of deployment#8"
    ),
    known!(
        "deployment",
        [8],
        Message,
        "",
        "as the status of deployment#8"
    ),
    known!(
        "jobs-services",
        [1, 2],
        Body,
        "/status",
        "no job controller: no status"
    ),
    Known {
        scenario: "jobs-services",
        steps: &[1],
        aspect: Body,
        at: "/items/*/status",
        reason: "no job controller: no status (the real job controller has not always written one by the time of the list)",
        sometimes: true,
    },
    known!(
        "jobs-services",
        [3],
        Body,
        "/items (length)",
        "no job controller: no pod"
    ),
    known!(
        "eviction-pdb",
        [0, 3, 5],
        Body,
        "/status",
        "no disruption controller: the budget's status is not computed"
    ),
    known!(
        "namespace",
        [5],
        Body,
        "/status/conditions",
        "the test server's namespace deletion is immediate and writes no `NamespaceDeletion*` conditions"
    ),
    known!(
        "protobuf",
        [34, 36],
        Body,
        "/status",
        "no node lifecycle controller: the Node's status is not filled in"
    ),
    known!(
        "protobuf",
        [34],
        Body,
        "/spec/taints (length)",
        "no node lifecycle controller: no `not-ready` taint"
    ),
    Known {
        scenario: "protobuf",
        steps: &[36],
        aspect: Body,
        at: "/metadata/labels",
        reason: "no node controller: no `beta.kubernetes.io/os` label (depends on when the real controller runs)",
        sometimes: true,
    },
    known!(
        "auth",
        [2],
        Body,
        "/paths (length)",
        "the real server lists more paths (`/livez/*`, `/readyz/*`, `/metrics`, aggregated groups, …)"
    ),
    // --- discovery ---
    known!(
        "*",
        [],
        Body,
        "/resources/*/storageVersionHash",
        "the test server has no storage versions and writes no `storageVersionHash`"
    ),
    known!(
        "discovery",
        [3, 8],
        Body,
        "/groups",
        "the real server also serves `apiregistration.k8s.io` and beta versions of some groups; the test server serves stable versions only"
    ),
    known!(
        "discovery",
        [3, 8],
        Body,
        "/items",
        "the real server also serves `apiregistration.k8s.io` and beta versions of some groups; the test server serves stable versions only"
    ),
    // --- defaults the test server does not apply ---
    known!(
        "*",
        [],
        Body,
        "/spec/containers/*/livenessProbe",
        "probe defaults (`timeoutSeconds`, `successThreshold`, `httpGet.scheme`) are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/containers/*/readinessProbe",
        "probe defaults are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/containers/*/startupProbe",
        "probe defaults are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/containers/*/livenessProbe",
        "probe defaults are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/containers/*/readinessProbe",
        "probe defaults are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/containers/*/startupProbe",
        "probe defaults are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/containers/*/env",
        "env: the test server keeps `value: \"\"` next to `valueFrom` and does not default `fieldRef.apiVersion`"
    ),
    known!(
        "*",
        [],
        Body,
        "/items/*/spec/containers/*/env",
        "env: as `/spec/containers/*/env`"
    ),
    known!(
        "jobs-services",
        [0, 2],
        Body,
        "/spec",
        "Job defaults `manualSelector` and `podReplacementPolicy` are not applied"
    ),
    known!(
        "jobs-services",
        [1],
        Body,
        "/items/*/spec",
        "Job defaults `manualSelector` and `podReplacementPolicy` are not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/spec/conversion",
        "CRD default `spec.conversion: {strategy: None}` is not applied"
    ),
    known!(
        "*",
        [],
        Body,
        "/status/acceptedNames",
        "the test server accepts a CRD's names at once; the real server's create response still has empty `acceptedNames` (the controller fills them in)"
    ),
    known!(
        "crd",
        [0],
        Body,
        "/status/conditions",
        "the test server sets the CRD's `NamesAccepted`/`Established` conditions at once; the real create response has none yet"
    ),
    known!(
        "protobuf",
        [37],
        Body,
        "/status/conditions",
        "the test server sets the CRD's conditions at once; the real create response has none yet"
    ),
    known!(
        "pod-lifecycle",
        [15, 19, 20, 21],
        Body,
        "/status/conditions/*/last",
        "a condition written without `lastProbeTime`/`lastTransitionTime` keeps them absent; the real server writes `null`"
    ),
    known!(
        "pod-lifecycle",
        [7],
        Body,
        "/spec/containers/*/imagePullPolice",
        "an unknown field is kept in the response (the real server drops it after the warning)"
    ),
    known!(
        "jobs-services",
        [8],
        Body,
        "/metadata/uid",
        "TokenRequest response: the test server writes no metadata"
    ),
    known!(
        "jobs-services",
        [8],
        Body,
        "/spec/boundObjectRef",
        "TokenRequest response: the test server leaves out `boundObjectRef: null`"
    ),
    // --- identities ---
    known!(
        "auth",
        [15],
        Body,
        "/status/userInfo",
        "the recorded bob token had uid `uid-bob` and the real server adds `system:authenticated` only for users with groups; the runner's static tokens have no uid column"
    ),
    // --- tables ---
    known!(
        "*",
        [],
        Body,
        "/columnDefinitions",
        "Table columns: the test server has no printer columns of the CRD (`additionalPrinterColumns`) and fewer pod columns (no node, IP, nominated node, readiness gates)"
    ),
    known!(
        "*",
        [],
        Body,
        "/rows",
        "Table rows: as the columns; cells are typed by column"
    ),
    known!(
        "crd",
        [8],
        Body,
        "/metadata/continue",
        "Table of a list: the test server writes `continue: \"\"`"
    ),
    // --- messages ---
    known!(
        "pod-lifecycle",
        [9, 11],
        Message,
        "",
        "the real message lists every field a pod update may change and appends the diff of the specs; the test server's lists them without the diff"
    ),
    known!(
        "jobs-services",
        [7],
        Message,
        "",
        "the test server allocates from its own range and says `provided IP is already allocated`; the real server (envtest's service CIDR differs from the recording's) refuses the recorded IP as outside its range"
    ),
    // --- protobuf and CBOR: what the comparison cannot read, and what still differs ---
    known!(
        "protobuf",
        [],
        ContentType,
        "",
        "protobuf#44: see its status (aggregated discovery is answered in protobuf by both servers now)"
    ),
    Known {
        scenario: "protobuf",
        steps: &[36],
        aspect: Body,
        at: "",
        reason: "the Node as the real node lifecycle controller has left it by then (taints, annotations; timing-dependent, the more so as kube-controller-manager restarts after eviction-pdb)",
        sometimes: true,
    },
    Known {
        scenario: "protobuf",
        steps: &[52, 54, 57],
        aspect: Message,
        at: "",
        reason: "the 406 message: it differed in one clean-clone run (at 994af8d, before k8s-envtest enabled the test server's `protobuf` itself) and was equal in the runs since; kept as sometimes until the cause is established",
        sometimes: true,
    },
    known!(
        "protobuf",
        [44],
        Status,
        "",
        "a protobuf body for a custom resource makes the real server drop the connection (a panic, status 0); the test server answers 415"
    ),
    known!("protobuf", [44], Reason, "", "as protobuf#44"),
    known!("protobuf", [44], Message, "", "as protobuf#44"),
    // --- malformed requests the test server does not refuse, or refuses differently ---
    known!(
        "malformed",
        [4],
        Status,
        "",
        "no 1 MiB limit on ConfigMap data (422 FieldValueTooLong)"
    ),
    known!("malformed", [4], Reason, "", "as malformed#4"),
    known!("malformed", [4], Message, "", "as malformed#4"),
    known!("malformed", [4], Causes, "", "as malformed#4"),
    known!(
        "malformed",
        [18, 19, 24],
        Message,
        "",
        "decoding errors: the real message is Go's JSON decoder's text; the test server's is serde_json's"
    ),
    known!(
        "malformed",
        [25],
        Causes,
        "",
        "a JSON patch with an unknown op: the test server's 422 carries an `UnexpectedServerResponse` cause naming the op, the real one no cause"
    ),
];
