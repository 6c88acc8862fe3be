//! One test per transition of the watch state machine (phase × input), and the runs of
//! transitions that the failure rules are about.

use std::time::{Duration, Instant};

use k8s_core::{
    DecodeError, Object, ObjectMeta, RequestError, Resource, Scope, Status, WatchEvent,
};

use super::*;

const PATH: &str = "/api/v1/namespaces/default/configmaps";

#[derive(Clone, Debug, PartialEq)]
struct Obj {
    metadata: ObjectMeta,
}

impl Resource for Obj {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "ConfigMap";
    const PLURAL: &'static str = "configmaps";
    const SCOPE: Scope = Scope::Namespaced;
    const VERBS: &'static [&'static str] = &["list", "watch"];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl Object for Obj {
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn obj(rv: &'static str) -> Obj {
    Obj {
        metadata: ObjectMeta {
            name: Some("a".into()),
            namespace: Some("default".into()),
            resource_version: Some(rv.into()),
            ..ObjectMeta::default()
        },
    }
}

fn at(phase: Phase, failures: u32) -> State {
    State {
        rv: Some("10".into()),
        failures,
        phase,
    }
}

fn watching(since: Instant, events: u64, failures: u32) -> State {
    at(Phase::Watching { since, events }, failures)
}

fn run(state: State, input: Input<Obj>, now: Instant) -> (State, Action<Obj>) {
    let watched = Watched {
        path: PATH,
        identity: "tests",
        content_type: "application/json",
    };
    step(&watched, state, input, now)
}

fn api(code: u16, reason: &str) -> Error {
    Error::Api(Box::new(crate::error::ApiError::new(
        Status::failure(code, reason, "from the test"),
        http::Method::GET,
        PATH,
        "tests",
    )))
}

fn non_status(code: u16) -> Error {
    Error::HttpStatus {
        code,
        method: http::Method::GET,
        path: PATH.into(),
        snippet: "<html>".into(),
    }
}

fn transient_errors() -> Vec<Error> {
    vec![
        api(500, "InternalError"),
        api(503, "ServiceUnavailable"),
        api(429, "TooManyRequests"),
        api(408, "Timeout"),
        non_status(502),
    ]
}

fn permanent_errors() -> Vec<Error> {
    vec![
        api(400, "BadRequest"),
        api(401, "Unauthorized"),
        api(403, "Forbidden"),
        api(404, "NotFound"),
        non_status(404),
        Error::Request(RequestError::Missing("fieldManager")),
        Error::Auth("the exec plugin failed".into()),
    ]
}

fn yielded(action: Action<Obj>) -> Result<WatchUpdate<Obj>, Error> {
    match action {
        Action::Yield(item) => item,
        other => panic!("expected an item, got {other:?}"),
    }
}

fn yielded_error(action: Action<Obj>) -> Error {
    match yielded(action) {
        Err(e) => e,
        Ok(u) => panic!("expected an error, got {u:?}"),
    }
}

fn is_continue(action: &Action<Obj>) -> bool {
    matches!(action, Action::Continue)
}

/// A failed connection or relist (`failed` makes the input) that retrying cannot fix ends
/// the watch with its error.
fn assert_permanent_failures_finish(phase: Phase, failed: fn(Error) -> Input<Obj>) {
    for e in permanent_errors() {
        let shown = e.to_string();
        let (s, a) = run(at(phase.clone(), 0), failed(e), Instant::now());
        assert_eq!(s.phase, Phase::Finished, "{shown}");
        assert_eq!(yielded_error(a).to_string(), shown);
    }
}

/// A transient failure is counted and retried after a backoff (logged, not yielded).
fn assert_transient_failures_back_off(
    phase: Phase,
    failed: fn(Error) -> Input<Obj>,
    errors: Vec<Error>,
    then: Next,
) {
    for e in errors {
        let shown = e.to_string();
        let (s, a) = run(at(phase.clone(), 2), failed(e), Instant::now());
        assert_eq!(s, at(Phase::Backoff { then }, 3), "{shown}");
        assert!(
            matches!(&a, Action::Retry(e) if e.to_string() == shown),
            "{a:?}"
        );
    }
}

/// The failure that makes `MAX_WATCH_FAILURES` in a row ends the watch with its error.
fn assert_failure_at_the_limit_finishes(phase: Phase, failed: fn(Error) -> Input<Obj>) {
    let (s, a) = run(
        at(phase, MAX_WATCH_FAILURES - 1),
        failed(api(503, "ServiceUnavailable")),
        Instant::now(),
    );
    assert_eq!(s.phase, Phase::Finished);
    assert_eq!(yielded_error(a).status_code(), Some(503));
}

// ---- Connecting ---------------------------------------------------------------------------

#[test]
fn connecting_connected_starts_watching_now() {
    let now = Instant::now();
    let (s, a) = run(at(Phase::Connecting, 3), Input::Connected, now);
    assert_eq!(s, watching(now, 0, 3));
    assert!(is_continue(&a));
}

#[test]
fn connecting_gone_relists() {
    for e in [api(410, "Gone"), api(410, "Expired"), non_status(410)] {
        let (s, a) = run(
            at(Phase::Connecting, 2),
            Input::ConnectFailed(e),
            Instant::now(),
        );
        assert_eq!(s, at(Phase::Relisting, 2));
        assert!(is_continue(&a));
    }
}

#[test]
fn connecting_permanent_failure_finishes_with_the_error() {
    assert_permanent_failures_finish(Phase::Connecting, Input::ConnectFailed);
}

#[test]
fn connecting_transient_failure_backs_off_then_connects() {
    let errors = transient_errors();
    assert_transient_failures_back_off(
        Phase::Connecting,
        Input::ConnectFailed,
        errors,
        Next::Connect,
    );
}

#[test]
fn connecting_transient_failure_at_the_limit_finishes_with_the_error() {
    assert_failure_at_the_limit_finishes(Phase::Connecting, Input::ConnectFailed);
}

// ---- Watching -----------------------------------------------------------------------------

#[test]
fn watching_event_is_yielded_moves_rv_and_resets_failures() {
    let since = Instant::now();
    for ev in [
        WatchEvent::Added(obj("11")),
        WatchEvent::Modified(obj("11")),
        WatchEvent::Deleted(obj("11")),
        WatchEvent::Bookmark(obj("11")),
    ] {
        let (s, a) = run(watching(since, 0, 5), Input::Event(ev.clone()), since);
        assert_eq!(
            s,
            State {
                rv: Some("11".into()),
                failures: 0,
                phase: Phase::Watching { since, events: 1 },
            }
        );
        assert_eq!(yielded(a).unwrap(), WatchUpdate::Event(ev));
    }
}

#[test]
fn watching_event_without_version_keeps_rv() {
    let since = Instant::now();
    let ev = WatchEvent::Added(Obj {
        metadata: ObjectMeta::default(),
    });
    let (s, a) = run(watching(since, 0, 1), Input::Event(ev.clone()), since);
    assert_eq!(s, watching(since, 1, 0));
    assert_eq!(yielded(a).unwrap(), WatchUpdate::Event(ev));
}

#[test]
fn watching_gone_error_event_relists() {
    let since = Instant::now();
    for reason in ["Gone", "Expired"] {
        let ev = WatchEvent::Error(Status::failure(410, reason, "too old resource version"));
        let (s, a) = run(watching(since, 0, 2), Input::Event(ev), since);
        assert_eq!(s, at(Phase::Relisting, 2));
        assert!(is_continue(&a));
    }
}

#[test]
fn watching_other_error_event_is_yielded_and_reconnects() {
    let since = Instant::now();
    let ev = WatchEvent::Error(Status::failure(500, "InternalError", "etcd"));
    let (s, a) = run(watching(since, 0, 2), Input::Event(ev), since);
    assert_eq!(s, at(Phase::Connecting, 3));
    assert_eq!(yielded_error(a).status_code(), Some(500));
}

#[test]
fn watching_error_event_at_the_limit_finishes_with_it() {
    let since = Instant::now();
    let ev = WatchEvent::Error(Status::failure(500, "InternalError", "etcd"));
    let (s, a) = run(
        watching(since, 0, MAX_WATCH_FAILURES - 1),
        Input::Event(ev),
        since,
    );
    assert_eq!(s.phase, Phase::Finished);
    assert_eq!(yielded_error(a).status_code(), Some(500));
}

#[test]
fn watching_undecodable_line_is_yielded_and_the_watch_goes_on() {
    let since = Instant::now();
    let input = Input::Undecodable(DecodeError::WatchEvent("no type".into()));
    let (s, a) = run(watching(since, 0, 1), input, since);
    assert_eq!(s, watching(since, 0, 1));
    let e = yielded_error(a);
    assert!(
        matches!(&e, Error::Decode { method, path, content_type, source: DecodeError::WatchEvent(m) }
            if method == http::Method::GET && path == PATH && m == "no type"
                && &**content_type == "application/json"),
        "{e:?}"
    );
}

#[test]
fn watching_line_too_long_is_yielded_and_reconnects() {
    let since = Instant::now();
    let (s, a) = run(watching(since, 0, 1), Input::LineTooLong, since);
    assert_eq!(s, at(Phase::Connecting, 1));
    let e = yielded_error(a);
    assert!(
        matches!(&e, Error::Decode { path, source: DecodeError::WatchEvent(m), .. }
            if path == PATH && m.contains("longer than")),
        "{e:?}"
    );
}

#[test]
fn watching_end_after_an_event_reconnects_at_once() {
    let since = Instant::now();
    let (s, a) = run(watching(since, 1, 0), Input::Ended, since);
    assert_eq!(s, at(Phase::Connecting, 0));
    assert!(is_continue(&a));
}

/// A connection that lasted is a success: it ends the run of failures before it.
#[test]
fn watching_end_without_event_after_the_stall_window_reconnects_at_once() {
    let since = Instant::now();
    let (s, a) = run(watching(since, 0, 2), Input::Ended, since + STALL_WINDOW);
    assert_eq!(s, at(Phase::Connecting, 0));
    assert!(is_continue(&a));
}

#[test]
fn watching_error_event_after_the_stall_window_counts_from_a_success() {
    let since = Instant::now();
    let ev = WatchEvent::Error(Status::failure(500, "InternalError", "etcd"));
    let now = since + STALL_WINDOW;
    let (s, a) = run(
        watching(since, 0, MAX_WATCH_FAILURES - 1),
        Input::Event(ev),
        now,
    );
    assert_eq!(s, at(Phase::Connecting, 1));
    assert_eq!(yielded_error(a).status_code(), Some(500));
}

#[test]
fn watching_quick_end_without_event_is_a_failure_and_backs_off() {
    let since = Instant::now();
    let now = since + STALL_WINDOW - Duration::from_millis(1);
    let (s, a) = run(watching(since, 0, 2), Input::Ended, now);
    let backoff = at(
        Phase::Backoff {
            then: Next::Connect,
        },
        3,
    );
    assert_eq!(s, backoff);
    assert!(is_continue(&a));
}

#[test]
fn watching_quick_end_at_the_limit_is_stalled() {
    let since = Instant::now();
    let (s, a) = run(
        watching(since, 0, MAX_WATCH_FAILURES - 1),
        Input::Ended,
        since,
    );
    assert_eq!(s.phase, Phase::Finished);
    let e = yielded_error(a);
    assert!(
        matches!(&e, Error::WatchStalled { path, attempts } if path == PATH && *attempts == MAX_WATCH_FAILURES),
        "{e:?}"
    );
}

// ---- Relisting ----------------------------------------------------------------------------

#[test]
fn relisting_listed_yields_restarted_and_connects_from_the_list_version() {
    let input = Input::Listed {
        objects: vec![obj("12")],
        resource_version: "14".into(),
    };
    // A list that succeeds ends the run of failures before it.
    let (s, a) = run(at(Phase::Relisting, 5), input, Instant::now());
    assert_eq!(
        s,
        State {
            rv: Some("14".into()),
            failures: 0,
            phase: Phase::Connecting,
        }
    );
    assert_eq!(
        yielded(a).unwrap(),
        WatchUpdate::Restarted {
            objects: vec![obj("12")],
            resource_version: "14".into(),
        }
    );
}

#[test]
fn relisting_listed_without_version_connects_without_one() {
    let input = Input::Listed {
        objects: vec![],
        resource_version: String::new(),
    };
    let (s, a) = run(at(Phase::Relisting, 0), input, Instant::now());
    assert_eq!(s.rv, None);
    assert_eq!(s.phase, Phase::Connecting);
    assert!(matches!(yielded(a), Ok(WatchUpdate::Restarted { .. })));
}

#[test]
fn relisting_transient_failure_backs_off_then_relists() {
    // A 410 here is a list whose own restarts (on an expired continue token) ran out.
    let errors = transient_errors()
        .into_iter()
        .chain([api(410, "Expired")])
        .collect();
    assert_transient_failures_back_off(Phase::Relisting, Input::ListFailed, errors, Next::Relist);
}

#[test]
fn relisting_permanent_failure_finishes_with_the_error() {
    assert_permanent_failures_finish(Phase::Relisting, Input::ListFailed);
}

#[test]
fn relisting_failure_at_the_limit_finishes_with_the_error() {
    assert_failure_at_the_limit_finishes(Phase::Relisting, Input::ListFailed);
}

// ---- Backoff and Finished -----------------------------------------------------------------

#[test]
fn backoff_waited_goes_where_it_said() {
    for (then, phase) in [
        (Next::Connect, Phase::Connecting),
        (Next::Relist, Phase::Relisting),
    ] {
        let (s, a) = run(
            at(Phase::Backoff { then }, 4),
            Input::Waited,
            Instant::now(),
        );
        assert_eq!(s, at(phase, 4));
        assert!(is_continue(&a));
    }
}

/// Every input, for the table of unexpected ones.
fn every_input() -> Vec<Input<Obj>> {
    vec![
        Input::Connected,
        Input::ConnectFailed(api(500, "InternalError")),
        Input::Event(WatchEvent::Added(obj("99"))),
        Input::Event(WatchEvent::Error(Status::failure(410, "Gone", "old"))),
        Input::Undecodable(DecodeError::WatchEvent("x".into())),
        Input::LineTooLong,
        Input::Ended,
        Input::Listed {
            objects: vec![],
            resource_version: "99".into(),
        },
        Input::ListFailed(api(500, "InternalError")),
        Input::Waited,
    ]
}

fn expects(phase: &Phase, input: &Input<Obj>) -> bool {
    match phase {
        Phase::Connecting => matches!(input, Input::Connected | Input::ConnectFailed(_)),
        Phase::Watching { .. } => matches!(
            input,
            Input::Event(_) | Input::Undecodable(_) | Input::LineTooLong | Input::Ended
        ),
        Phase::Relisting => matches!(input, Input::Listed { .. } | Input::ListFailed(_)),
        Phase::Backoff { .. } => matches!(input, Input::Waited),
        Phase::Finished => false,
    }
}

#[test]
fn inputs_a_phase_does_not_expect_change_nothing() {
    let since = Instant::now();
    let phases = [
        Phase::Connecting,
        Phase::Watching { since, events: 1 },
        Phase::Relisting,
        Phase::Backoff {
            then: Next::Connect,
        },
        Phase::Backoff { then: Next::Relist },
        Phase::Finished,
    ];
    for phase in phases {
        for input in every_input() {
            if expects(&phase, &input) {
                continue;
            }
            let shown = format!("{phase:?} × {input:?}");
            let (s, a) = run(at(phase.clone(), 3), input, since);
            assert_eq!(s, at(phase.clone(), 3), "{shown}");
            assert!(is_continue(&a), "{shown}");
        }
    }
}

// ---- runs of transitions ------------------------------------------------------------------

/// Connections that end at once, again and again: backoffs, then `WatchStalled`.
#[test]
fn connections_that_keep_ending_at_once_end_stalled() {
    let t = Instant::now();
    let mut s = at(Phase::Connecting, 0);
    for attempt in 1..MAX_WATCH_FAILURES {
        let (next, _) = run(s, Input::Connected, t);
        let (next, a) = run(next, Input::Ended, t);
        assert_eq!(
            next.phase,
            Phase::Backoff {
                then: Next::Connect
            }
        );
        assert_eq!(next.failures, attempt);
        assert!(is_continue(&a));
        (s, _) = run(next, Input::Waited, t);
    }
    let (s, _) = run(s, Input::Connected, t);
    let (s, a) = run(s, Input::Ended, t);
    assert_eq!(s.phase, Phase::Finished);
    assert!(
        matches!(yielded_error(a), Error::WatchStalled { attempts, .. } if attempts == MAX_WATCH_FAILURES)
    );
}

/// The relist is retried until it succeeds, never through a watch without a version.
#[test]
fn a_410_relists_until_a_list_succeeds() {
    let t = Instant::now();
    let gone = WatchEvent::Error(Status::failure(410, "Gone", "too old"));
    let (s, _) = run(watching(t, 2, 0), Input::Event(gone), t);
    let (s, _) = run(s, Input::ListFailed(api(500, "InternalError")), t);
    let (s, _) = run(s, Input::Waited, t);
    assert_eq!(s, at(Phase::Relisting, 1));
    let (s, a) = run(
        s,
        Input::Listed {
            objects: vec![obj("13")],
            resource_version: "14".into(),
        },
        t,
    );
    assert_eq!(s.phase, Phase::Connecting);
    assert_eq!(s.rv.as_deref(), Some("14"));
    assert!(matches!(yielded(a), Ok(WatchUpdate::Restarted { .. })));
}
