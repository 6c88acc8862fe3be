//! Paginated lists (here) and resuming watches (`watch.rs`: the driver, `machine.rs`: its
//! states and transitions).

use std::collections::{HashSet, VecDeque};

use futures::Stream;
use k8s_core::ops::{ListRequest, WatchRequest};
use k8s_core::{HasMetadata, ListItem};

use crate::client::Client;
use crate::error::Error;

mod frames;
mod machine;
mod watch;

pub use watch::WatchUpdate;

/// Page size `list_all` asks for when the request sets no `limit`.
const DEFAULT_PAGE: i64 = 500;
/// How often a paginated list restarts after its continue token expired.
const MAX_LIST_RESTARTS: u32 = 3;

fn identity<T: HasMetadata>(o: &T) -> String {
    let m = o.meta();
    match m.uid.as_deref() {
        Some(uid) => uid.to_owned(),
        None => format!(
            "{}/{}",
            m.namespace.as_deref().unwrap_or(""),
            m.name.as_deref().unwrap_or("")
        ),
    }
}

struct ListState<T> {
    client: Client,
    req: ListRequest<T>,
    buf: VecDeque<T>,
    next: Option<String>,
    done: bool,
    seen: HashSet<String>,
    restarted: u32,
}

impl Client {
    /// Every object of a collection, page by page (`limit`, default 500, and `continue`).
    ///
    /// `T` is a typed kind (any `k8s_core::Object`) or a [`k8s_core::DynamicObject`] (from
    /// [`k8s_core::ApiResource::list`]).
    ///
    /// If a continue token expires mid-way (410 `Expired`), the list restarts from the first
    /// page and skips the objects already yielded (by uid), so no object is yielded twice and
    /// none is lost. Up to 3 restarts; after that the 410 is yielded as an error.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// # use k8s_core::ops::ListRequest;
    /// # async fn run<Pod: k8s_core::Object + serde::de::DeserializeOwned + Send + 'static>(client: k8s_client::Client, list: ListRequest<Pod>) -> Result<(), k8s_client::Error> {
    /// // let list = Pod::list_all_namespaces().limit(100);
    /// let mut pods = std::pin::pin!(client.list_all(list));
    /// while let Some(pod) = pods.try_next().await? {
    ///     println!("{:?}/{:?}", pod.namespace(), pod.name());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_all<T>(
        &self,
        mut request: ListRequest<T>,
    ) -> impl Stream<Item = Result<T, Error>> + Send + 'static
    where
        T: ListItem + HasMetadata + Send + 'static,
    {
        if request.get_params().limit.is_none() {
            request.params_mut().limit = Some(DEFAULT_PAGE);
        }
        let next = request.get_params().continue_token.clone();
        let state = ListState {
            client: self.clone(),
            req: request,
            buf: VecDeque::new(),
            next,
            done: false,
            seen: HashSet::new(),
            restarted: 0,
        };
        futures::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.buf.pop_front() {
                    return Some((Ok(item), st));
                }
                if st.done {
                    return None;
                }
                st.req.params_mut().continue_token = st.next.clone();
                match st.client.send(st.req.clone()).await {
                    Ok(list) => {
                        for item in list.items {
                            if st.seen.insert(identity(&item)) {
                                st.buf.push_back(item);
                            }
                        }
                        st.next = list.metadata.continue_.filter(|c| !c.is_empty());
                        st.done = st.next.is_none();
                    }
                    Err(e)
                        if e.is_gone() && st.next.is_some() && st.restarted < MAX_LIST_RESTARTS =>
                    {
                        st.restarted += 1;
                        tracing::info!(
                            path = %st.req.path(),
                            "continue token expired (410); restarting the list and skipping objects already returned"
                        );
                        st.next = None;
                    }
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), st));
                    }
                }
            }
        })
    }

    /// Every object of a collection and the list's resource version (following `continue`,
    /// restarting if a token expires).
    async fn list_snapshot<T>(
        &self,
        path: &str,
        watch: &WatchRequest<T>,
    ) -> Result<(Vec<T>, String), Error>
    where
        T: ListItem + HasMetadata,
    {
        let p = watch.get_params();
        let mut restarts = 0;
        'outer: loop {
            // The relist reads the items as the watch does (protobuf when it can).
            let mut req = ListRequest::<T>::new(path.to_owned())
                .protobuf(watch.get_protobuf())
                .limit(DEFAULT_PAGE);
            // A metadata-only watch relists metadata only.
            if watch.get_accept() == Some(k8s_core::ops::ACCEPT_PARTIAL_OBJECT_METADATA) {
                req = req.accept(k8s_core::ops::ACCEPT_PARTIAL_OBJECT_METADATA_LIST);
            }
            if let Some(s) = &p.label_selector {
                req = req.label_selector(s.clone());
            }
            if let Some(s) = &p.field_selector {
                req = req.field_selector(s.clone());
            }
            let mut items = Vec::new();
            let mut rv = String::new();
            loop {
                match self.send(req.clone()).await {
                    Ok(list) => {
                        if rv.is_empty() {
                            rv = list.metadata.resource_version.clone().unwrap_or_default();
                        }
                        items.extend(list.items);
                        match list.metadata.continue_.filter(|c| !c.is_empty()) {
                            Some(c) => req.params_mut().continue_token = Some(c),
                            None => return Ok((items, rv)),
                        }
                    }
                    Err(e) if e.is_gone() && restarts < MAX_LIST_RESTARTS => {
                        restarts += 1;
                        continue 'outer;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
