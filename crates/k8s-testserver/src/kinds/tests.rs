use std::collections::BTreeSet;

use super::hooks;
use crate::registry::Registry;

#[test]
fn every_registered_resource_is_a_served_one() {
    let reg = Registry::new(k8s_api::v1_36::RESOURCES);
    for (group, plural) in hooks().resources() {
        assert!(
            reg.defs
                .iter()
                .any(|d| d.group == group && d.plural == plural),
            "{group}/{plural} is not in the 1.36 table"
        );
    }
}

#[test]
fn generation_is_carried_by_the_kinds_the_real_server_gives_one() {
    let reg = Registry::new(k8s_api::v1_36::RESOURCES);
    let h = hooks();
    let with: BTreeSet<&str> = reg
        .defs
        .iter()
        .filter(|d| h.of(d).has_generation())
        .map(|d| d.kind.as_str())
        .collect();
    let expected: BTreeSet<&str> = [
        "CronJob",
        "CustomResourceDefinition",
        "DaemonSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Ingress",
        "Job",
        "NetworkPolicy",
        "Pod",
        "PodDisruptionBudget",
        "ReplicaSet",
        "ReplicationController",
        "StatefulSet",
    ]
    .into();
    assert_eq!(with, expected);
}
