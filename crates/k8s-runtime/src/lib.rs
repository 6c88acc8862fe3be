//! The k8s-sdk controller runtime, on [`k8s_core`] and [`k8s_client`] (never on the generated
//! `k8s-api`, so it works for built-in kinds, generated custom-resource kinds and test types
//! alike).
//!
//! * [`WorkQueue`]: the scheduler of a controller. Keys ([`ObjectRef`]: kind, namespace,
//!   name) are held once however many events arrive, never reconciled twice at once, handed out
//!   under a concurrency limit, retried with per-key exponential backoff ([`Backoff`]), requeued
//!   after a delay or left until the next change ([`Action`]), and shut down gracefully.
//! * [`watcher()`]: a stream of [`watcher::Event`]s with explicit initial-list semantics
//!   (`Init`, `InitApply` for each object, `InitDone`, then `Apply`/`Delete`; a new
//!   `Init`…`InitDone` cycle after every relist), built on [`k8s_client::Client::watch`], with
//!   list-then-watch or the streaming list (`sendInitialEvents`), selectors, and backoff on
//!   errors; [`metadata_watcher()`] for metadata only ([`PartialObjectMetadata`]).
//! * [`Store`]: a read-optimised cache (objects behind `Arc`, by namespace and name) that a
//!   [`Writer`] fills from a watcher ([`reflector`]), replaced at once at each `InitDone`, with a
//!   ready signal after the first, with indexes ([`Writer::index`], [`store::by_owner`],
//!   [`store::by_label`], or any key function).
//! * [`Controller`]: watches of a main kind, of owned kinds ([`Controller::owns`]) and of any
//!   kind through a mapping function ([`Controller::watches`]) feeding a [`WorkQueue`];
//!   [`predicates`]; `reconcile(object, ctx) -> Result<Action, E>` with an error policy; graceful
//!   shutdown.
//! * [`finalizer()`]: cleanup before deletion; [`events::Recorder`]: `events.k8s.io/v1` Events
//!   with series; [`leader_election::LeaderElector`]: client-go's leader election on a Lease.
#![forbid(unsafe_code)]

mod backoff;
pub mod controller;
pub mod events;
pub mod finalizer;
pub mod leader_election;
pub mod metadata;
mod object_ref;
mod path;
pub mod queue;
pub mod store;
pub mod watcher;

pub use backoff::Backoff;
pub use controller::{Controller, predicates};
pub use finalizer::finalizer;
pub use metadata::PartialObjectMetadata;
pub use object_ref::ObjectRef;
pub use path::{collection_path, object_path};
pub use queue::{Action, Lease, QueueConfig, Shutdown, WorkQueue};
pub use store::{Store, StoreStats, Writer, reflector, shared_reflector};
pub use watcher::{metadata_watcher, watcher};
