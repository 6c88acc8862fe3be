//! The resuming watch as a state machine: explicit states, and one pure transition function.
//!
//! [`step`] takes a [`State`], what just happened ([`Input`]) and the current time, and returns
//! the next state and what to hand to the consumer ([`Action`]). It does no I/O and reads no
//! clock; the async driver in `watch.rs` performs the I/O each [`Phase`] asks for, turns its
//! outcome into an [`Input`] and feeds it back. This is the base a controller runtime
//! (reflector, watcher) builds on: it can drive the same transitions.
//!
//! # Phases and what each emits
//!
//! | phase | the driver | input → next phase, emitted |
//! |---|---|---|
//! | [`Connecting`](Phase::Connecting) | opens a watch from `rv` | [`Connected`](Input::Connected) → `Watching`; a 410 → `Relisting`; a transient failure → `Backoff` (logged); a permanent one (400, 403, 404, 401 after a credential refresh, a request that cannot be built) or the 8th failure in a row → `Finished`, **the error** |
//! | [`Watching`](Phase::Watching) | reads the body line by line | an event or bookmark → `Watching` (`rv` moves on), **[`WatchUpdate::Event`]**; an `ERROR` 410 → `Relisting`; another `ERROR` → `Connecting`, **the error** (the 8th failure in a row: `Finished`); an undecodable line → `Watching`, **a `Decode` error**; a line over [`MAX_LINE`] → `Connecting`, **a `Decode` error**; the end of the body → `Connecting`, or `Backoff` when the connection ended within [`STALL_WINDOW`] without an event (the 8th time in a row: `Finished`, **[`Error::WatchStalled`]**) |
//! | [`Relisting`](Phase::Relisting) | lists the collection (every page) | the list → `Connecting` from the list's version, **[`WatchUpdate::Restarted`]**; a transient failure → `Backoff` then `Relisting` again (never a watch without a version); a permanent one or the 8th in a row → `Finished`, **the error** |
//! | [`Backoff`](Phase::Backoff) | sleeps (exponential, jittered, from `failures`) | [`Waited`](Input::Waited) → `Connecting` or `Relisting` |
//! | [`Finished`](Phase::Finished) | ends the stream once everything emitted was yielded | nothing |
//!
//! `failures` counts consecutive failures (failed connections and relists, `ERROR` events,
//! connections that ended within [`STALL_WINDOW`] without an event); [`MAX_WATCH_FAILURES`] of
//! them end the watch. A success resets it: an event or bookmark, a connection that lasted
//! [`STALL_WINDOW`] (whatever ends it), a relist.

use std::time::{Duration, Instant};

use k8s_core::{DecodeError, HasMetadata, WatchEvent};

use super::WatchUpdate;
use crate::error::{ApiError, Error};
use crate::lines::MAX_LINE;

/// Consecutive failures after which a watch gives up.
pub(crate) const MAX_WATCH_FAILURES: u32 = 8;

/// A connection that ends sooner than this after it opened, without an event, is a failure (a
/// server or proxy that closes every watch at once); a longer one is a normal end (the server's
/// `timeoutSeconds`, a load balancer's idle timeout).
pub(crate) const STALL_WINDOW: Duration = Duration::from_secs(1);

/// Where a watch is: the phase, and what every phase carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct State {
    /// The last resource version seen (events, bookmarks, a relist): the next connection
    /// resumes from it. While relisting after a 410, the version the server no longer serves.
    pub(crate) rv: Option<String>,
    /// Consecutive failures since the last success (see the module documentation).
    pub(crate) failures: u32,
    /// What the driver does next.
    pub(crate) phase: Phase,
}

/// What the driver does in a [`State`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Open a watch connection from `rv`.
    Connecting,
    /// A connection is open: read its events.
    Watching {
        /// When the connection opened (for the stall rule).
        since: Instant,
        /// Events (and bookmarks) received on it.
        events: u64,
    },
    /// Wait (the backoff for attempt `failures`), then go on.
    Backoff {
        /// What to do after the wait.
        then: Next,
    },
    /// The server answered 410 Gone: list the collection.
    Relisting,
    /// The stream ends after what was emitted.
    Finished,
}

/// What a [`Phase::Backoff`] leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Connect again from `rv`.
    Connect,
    /// List again (the version is gone, and a watch without one would replay).
    Relist,
}

/// What happened: the outcome of the I/O a phase asked for.
// Sizes come from `WatchEvent::Error(Status)`; an input lives for one transition, and boxing would
// add an allocation to every event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Input<T> {
    /// `Connecting`: the server accepted the watch; its body is being read.
    Connected,
    /// `Connecting`: the watch request failed (or could not be built).
    ConnectFailed(Error),
    /// `Watching`: a decoded line of the body (`ERROR` events included).
    Event(WatchEvent<T>),
    /// `Watching`: a line that is not a watch event.
    Undecodable(DecodeError),
    /// `Watching`: an unfinished line grew past [`MAX_LINE`].
    LineTooLong,
    /// `Watching`: the body ended, cleanly or not.
    Ended,
    /// `Relisting`: every object of the collection, and the list's resource version.
    Listed {
        /// The objects.
        objects: Vec<T>,
        /// The list's `metadata.resourceVersion` (may be empty).
        resource_version: String,
    },
    /// `Relisting`: the list failed.
    ListFailed(Error),
    /// `Backoff`: the wait is over.
    Waited,
}

/// What a transition hands to the consumer.
// Same as `Input`: an action lives for one transition.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Action<T> {
    /// Nothing: go on with the new state.
    Continue,
    /// Yield this item, then go on with the new state (after [`Phase::Finished`], end).
    Yield(Result<WatchUpdate<T>, Error>),
    /// A failure the new state ([`Phase::Backoff`]) retries: logged, not yielded.
    Retry(Error),
}

/// What a watch is of, for its errors: the collection's path and the identity the client sends
/// requests as ([`Config::origin`](crate::Config::origin)).
pub(crate) struct Watched<'a> {
    /// Path of the watched collection.
    pub(crate) path: &'a str,
    /// Whose credentials the watch carries.
    pub(crate) identity: &'a str,
    /// `Content-Type` of the current connection's body (JSON lines or protobuf frames).
    pub(crate) content_type: &'a str,
}

/// The transition function: the next state and the action for `input` in `state` at `now`.
///
/// `watched` names the collection and the identity in errors. An input the phase does not
/// expect (the driver never sends one) leaves the state as it is.
pub(crate) fn step<T: HasMetadata>(
    watched: &Watched<'_>,
    state: State,
    input: Input<T>,
    now: Instant,
) -> (State, Action<T>) {
    let State {
        rv,
        failures,
        phase,
    } = state;
    let at = |phase: Phase, failures: u32, rv: Option<String>| State {
        rv,
        failures,
        phase,
    };
    match (phase, input) {
        (Phase::Connecting, Input::Connected) => (
            at(
                Phase::Watching {
                    since: now,
                    events: 0,
                },
                failures,
                rv,
            ),
            Action::Continue,
        ),
        (Phase::Connecting, Input::ConnectFailed(e)) if e.is_gone() => {
            (at(Phase::Relisting, failures, rv), Action::Continue)
        }
        (Phase::Connecting, Input::ConnectFailed(e)) => {
            retry_or_finish(e, failures, rv, Next::Connect)
        }

        (Phase::Watching { since, events }, input) => {
            let watching = Phase::Watching { since, events };
            // A connection that delivered an event or lasted past the stall window was a
            // success: the failures before it are no longer "in a row".
            let lasted = events > 0 || now.saturating_duration_since(since) >= STALL_WINDOW;
            let counted = if lasted { 0 } else { failures };
            match input {
                Input::Event(WatchEvent::Error(status)) => {
                    let e = Error::Api(Box::new(ApiError::new(
                        status,
                        http::Method::GET,
                        watched.path,
                        watched.identity,
                    )));
                    if e.is_gone() {
                        return (at(Phase::Relisting, counted, rv), Action::Continue);
                    }
                    // Reported by the server: yielded, and the watch reconnects after it.
                    let phase = if counted + 1 >= MAX_WATCH_FAILURES {
                        Phase::Finished
                    } else {
                        Phase::Connecting
                    };
                    (at(phase, counted + 1, rv), Action::Yield(Err(e)))
                }
                Input::Event(ev) => {
                    let rv = match ev
                        .object()
                        .and_then(|o| o.meta().resource_version.as_deref())
                    {
                        Some(v) => Some(v.to_owned()),
                        None => rv,
                    };
                    let phase = Phase::Watching {
                        since,
                        events: events + 1,
                    };
                    (at(phase, 0, rv), Action::Yield(Ok(WatchUpdate::Event(ev))))
                }
                Input::Undecodable(source) => (
                    at(watching, counted, rv),
                    Action::Yield(Err(decode_error(watched, source))),
                ),
                Input::LineTooLong => {
                    let message = format!("a watch event is longer than {MAX_LINE} bytes");
                    let e = decode_error(watched, DecodeError::WatchEvent(message));
                    (at(Phase::Connecting, counted, rv), Action::Yield(Err(e)))
                }
                Input::Ended if lasted => (at(Phase::Connecting, 0, rv), Action::Continue),
                // Ended at once without an event: a failure.
                Input::Ended if counted + 1 >= MAX_WATCH_FAILURES => {
                    let e = Error::WatchStalled {
                        path: watched.path.to_owned(),
                        attempts: counted + 1,
                    };
                    (at(Phase::Finished, counted + 1, rv), Action::Yield(Err(e)))
                }
                Input::Ended => {
                    let phase = Phase::Backoff {
                        then: Next::Connect,
                    };
                    (at(phase, counted + 1, rv), Action::Continue)
                }
                // Not expected while watching: nothing changes.
                Input::Connected
                | Input::ConnectFailed(_)
                | Input::Listed { .. }
                | Input::ListFailed(_)
                | Input::Waited => (at(watching, failures, rv), Action::Continue),
            }
        }

        (
            Phase::Relisting,
            Input::Listed {
                objects,
                resource_version,
            },
        ) => {
            let rv = Some(resource_version.clone()).filter(|r| !r.is_empty());
            let restarted = WatchUpdate::Restarted {
                objects,
                resource_version,
            };
            // The consumer has the whole state again: a success.
            (at(Phase::Connecting, 0, rv), Action::Yield(Ok(restarted)))
        }
        (Phase::Relisting, Input::ListFailed(e)) => retry_or_finish(e, failures, rv, Next::Relist),

        (Phase::Backoff { then }, Input::Waited) => {
            let phase = match then {
                Next::Connect => Phase::Connecting,
                Next::Relist => Phase::Relisting,
            };
            (at(phase, failures, rv), Action::Continue)
        }

        // An input the phase does not expect (the driver never sends one): nothing changes.
        (phase, _) => (at(phase, failures, rv), Action::Continue),
    }
}

/// A failed connection or relist: retried after a backoff when transient and not the
/// [`MAX_WATCH_FAILURES`]th failure in a row; otherwise the error ends the watch.
fn retry_or_finish<T>(
    e: Error,
    failures: u32,
    rv: Option<String>,
    then: Next,
) -> (State, Action<T>) {
    if !e.is_transient() {
        return (finished(failures, rv), Action::Yield(Err(e)));
    }
    let failures = failures + 1;
    if failures >= MAX_WATCH_FAILURES {
        return (finished(failures, rv), Action::Yield(Err(e)));
    }
    let state = State {
        rv,
        failures,
        phase: Phase::Backoff { then },
    };
    (state, Action::Retry(e))
}

fn finished(failures: u32, rv: Option<String>) -> State {
    State {
        rv,
        failures,
        phase: Phase::Finished,
    }
}

fn decode_error(watched: &Watched<'_>, source: DecodeError) -> Error {
    Error::Decode {
        method: http::Method::GET,
        path: watched.path.to_owned(),
        content_type: watched.content_type.into(),
        source,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
