//! kubectl's name resolution over a [`Discovery`] snapshot.
//!
//! The rules (kubectl's resource builder, `restmapper.shortcutExpander` and the discovery
//! `PriorityRESTMapper`), applied to the lowercased name:
//!
//! 1. `resource.version.group` (two dots or more): that exact group and version.
//! 2. `resource` or `resource.group`: a plural or singular name wins over a short name; else
//!    the first short name in priority order; else, with a group, a short name of a group that
//!    starts with it (`hpa.autoscal`).
//! 3. Among the matches, priority decides: every group's preferred version in the server's
//!    group order (core first), then the other versions. Two different resources of the same
//!    group-version are ambiguous.
//! 4. Else the name as a kind (`Kind`, `Kind.group`, `Kind.version.group`, exact case).

use k8s_core::ApiResource;

use super::{Discovery, DiscoveryError};

/// Which resources a name may match.
#[derive(Clone, Copy)]
enum By<'a> {
    /// Plural or singular name.
    Name(&'a str),
    /// Exact plural (after a short name was expanded).
    Plural(&'a str),
    /// Kind (exact case).
    Kind(&'a str),
}

impl By<'_> {
    fn matches(self, r: &ApiResource) -> bool {
        match self {
            By::Name(n) => r.plural == n || r.singular == n,
            By::Plural(p) => r.plural == p,
            By::Kind(k) => r.kind == k,
        }
    }
}

impl Discovery {
    /// Resolves a name as kubectl does (`kubectl get <name>`): a plural (`deployments`), a
    /// singular (`deployment`), a short name (`deploy`), any of them with a group
    /// (`deployments.apps`) or a version and group (`deployments.v1.apps`), or a kind
    /// (`Deployment`). Without a version, the group's preferred version that serves it.
    pub fn resolve(&self, name: &str) -> Result<ApiResource, DiscoveryError> {
        let lower = name.trim().to_ascii_lowercase();
        if lower.matches('.').count() >= 2 {
            let mut parts = lower.splitn(3, '.');
            if let (Some(res), Some(version), Some(group)) =
                (parts.next(), parts.next(), parts.next())
            {
                if let Some(r) = self.resolve_resource(name, res, Some(group), Some(version))? {
                    return Ok(r);
                }
            }
        }
        let (res, group) = match lower.split_once('.') {
            Some((r, g)) => (r, Some(g)),
            None => (lower.as_str(), None),
        };
        if let Some(r) = self.resolve_resource(name, res, group, None)? {
            return Ok(r);
        }
        self.resolve_as_kind(name)
    }

    /// The resource of a kind in `apiVersion` (`apps/v1`, `v1`), as a manifest names it.
    pub fn resolve_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<ApiResource, DiscoveryError> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.resolve_gvk(group, version, kind)
    }

    /// The resource of a group-version-kind.
    pub fn resolve_gvk(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<ApiResource, DiscoveryError> {
        self.group(group)
            .and_then(|g| {
                g.resources
                    .iter()
                    .find(|r| r.version == version && r.kind == kind)
            })
            .cloned()
            .ok_or_else(|| DiscoveryError::NoKind {
                api_version: if group.is_empty() {
                    version.to_owned()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.to_owned(),
            })
    }

    /// A plural or singular name, else a short name expanded (kubectl's `shortcutExpander`).
    fn resolve_resource(
        &self,
        name: &str,
        res: &str,
        group: Option<&str>,
        version: Option<&str>,
    ) -> Result<Option<ApiResource>, DiscoveryError> {
        if let Some(r) = self.pick(name, By::Name(res), group, version)? {
            return Ok(Some(r));
        }
        match self.expand_short_name(res, group) {
            Some((plural, group)) => self.pick(name, By::Plural(&plural), Some(&group), version),
            None => Ok(None),
        }
    }

    fn resolve_as_kind(&self, name: &str) -> Result<ApiResource, DiscoveryError> {
        let name = name.trim();
        if name.matches('.').count() >= 2 {
            let mut parts = name.splitn(3, '.');
            if let (Some(kind), Some(version), Some(group)) =
                (parts.next(), parts.next(), parts.next())
            {
                if let Some(r) = self.pick(name, By::Kind(kind), Some(group), Some(version))? {
                    return Ok(r);
                }
            }
        }
        let (kind, group) = match name.split_once('.') {
            Some((k, g)) => (k, Some(g)),
            None => (name, None),
        };
        self.pick(name, By::Kind(kind), group, None)?
            .ok_or_else(|| DiscoveryError::NotFound {
                name: name.to_owned(),
            })
    }

    /// kubectl's short name expansion: `(plural, group)` of the first resource in priority
    /// order with this short name (in `group` if given, else in a group starting with it).
    fn expand_short_name(&self, short: &str, group: Option<&str>) -> Option<(String, String)> {
        let has = |r: &&ApiResource| r.short_names.iter().any(|s| s == short);
        let exact = self
            .groups
            .iter()
            .filter(|g| group.is_none_or(|want| g.name == want))
            .flat_map(|g| g.resources.iter())
            .find(has);
        let found = exact.or_else(|| {
            let want = group?;
            self.groups
                .iter()
                .filter(|g| g.name.starts_with(want))
                .flat_map(|g| g.resources.iter())
                .find(has)
        })?;
        Some((found.plural.clone(), found.group.clone()))
    }

    /// The highest-priority match, `None` if nothing matches, an error if two resources of the
    /// winning group-version match.
    fn pick(
        &self,
        name: &str,
        by: By<'_>,
        group: Option<&str>,
        version: Option<&str>,
    ) -> Result<Option<ApiResource>, DiscoveryError> {
        let groups = || {
            self.groups
                .iter()
                .filter(move |g| group.is_none_or(|want| g.name == want))
        };
        // Preferred versions of every group first, then the others: the priority of kubectl's
        // discovery REST mapper.
        let preferred = groups().filter_map(|g| Some((g, g.versions.first()?.as_str())));
        let others = groups().flat_map(|g| g.versions.iter().skip(1).map(move |v| (g, v.as_str())));
        for (g, v) in preferred.chain(others) {
            if version.is_some_and(|want| want != v) {
                continue;
            }
            let hits: Vec<&ApiResource> = g
                .resources
                .iter()
                .filter(|r| r.version == v && by.matches(r))
                .collect();
            match hits.as_slice() {
                [] => continue,
                [one] => return Ok(Some((*one).clone())),
                many => {
                    return Err(DiscoveryError::Ambiguous {
                        name: name.to_owned(),
                        candidates: many
                            .iter()
                            .map(|r| {
                                if r.group.is_empty() {
                                    format!("{}.{}", r.plural, r.version)
                                } else {
                                    format!("{}.{}.{}", r.plural, r.version, r.group)
                                }
                            })
                            .collect(),
                    });
                }
            }
        }
        Ok(None)
    }
}
