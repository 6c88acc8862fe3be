//! Runs every fuzz target over its committed seed corpus and seeded mutations (see the crate
//! docs for the budget variables). A panic or a slow input fails the target's test and is written
//! to `target/fuzz-failures/<target>/`.

use k8s_sdk_fuzz::{Budget, TARGETS, Target, read_corpus, run};

fn fuzz(name: &str) {
    let target: &Target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let budget = Budget::from_env();
    let report = run(target, &budget);
    eprintln!(
        "fuzz {name}: {} seeds, {} mutated inputs, {} failures",
        report.seeds,
        report.iterations,
        report.failures.len()
    );
    if let Some(failure) = report.failures.first() {
        panic!(
            "fuzz target {name} failed on {:?} (saved to {:?}): {}",
            String::from_utf8_lossy(&failure.input),
            failure.saved,
            failure.message
        );
    }
}

macro_rules! fuzz_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                fuzz(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_test_and_seeds() {
            let tested = [$(stringify!($name)),*];
            for target in TARGETS {
                assert!(tested.contains(&target.name), "{} has no test", target.name);
                assert!(!read_corpus(target.name).is_empty(), "{} has no seeds", target.name);
            }
            assert_eq!(tested.len(), TARGETS.len());
        }
    };
}

fuzz_tests!(
    quantity,
    time,
    micro_time,
    int_or_string,
    byte_string,
    list,
    status,
    watch_event,
    watch_lines,
    kubeconfig,
    yaml_stream,
    protobuf,
    in_cluster,
    codegen_v2,
    codegen_v3,
    model_text,
    spdy_frames,
);
