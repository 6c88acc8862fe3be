//! Builder methods shared by several request builders (one definition per option group).

macro_rules! list_options {
    ($field:ident) => {
        /// Sets `labelSelector` (e.g. `app=web,tier in (a,b)`).
        pub fn label_selector(mut self, selector: impl Into<String>) -> Self {
            self.$field.label_selector = Some(selector.into());
            self
        }
        /// Sets `fieldSelector` (e.g. `metadata.name=web-0`).
        pub fn field_selector(mut self, selector: impl Into<String>) -> Self {
            self.$field.field_selector = Some(selector.into());
            self
        }
        /// Sets `resourceVersion`.
        pub fn resource_version(mut self, rv: impl Into<String>) -> Self {
            self.$field.resource_version = Some(rv.into());
            self
        }
        /// Sets `resourceVersionMatch`.
        pub fn resource_version_match(mut self, m: ResourceVersionMatch) -> Self {
            self.$field.resource_version_match = Some(m);
            self
        }
        /// Sets `timeoutSeconds`.
        pub fn timeout_seconds(mut self, seconds: i64) -> Self {
            self.$field.timeout_seconds = Some(seconds);
            self
        }
        /// Sets `shardSelector` (Kubernetes 1.36+, alpha; e.g.
        /// `shardRange(object.metadata.uid, '0x0', '0x8000000000000000')`).
        pub fn shard_selector(mut self, selector: impl Into<String>) -> Self {
            self.$field.shard_selector = Some(selector.into());
            self
        }
    };
}

macro_rules! write_options {
    ($($field:ident).+) => {
        /// Sets `dryRun=All`: the server validates and admits but does not persist.
        pub fn dry_run(mut self) -> Self {
            self.$($field).+.dry_run = true;
            self
        }
        /// Sets `fieldManager`.
        pub fn field_manager(mut self, manager: impl Into<String>) -> Self {
            self.$($field).+.field_manager = Some(manager.into());
            self
        }
        /// Sets `fieldValidation`.
        pub fn field_validation(mut self, v: FieldValidation) -> Self {
            self.$($field).+.field_validation = Some(v);
            self
        }
    };
}

macro_rules! delete_options {
    ($field:ident) => {
        /// Sets `dryRun=All`.
        pub fn dry_run(mut self) -> Self {
            self.$field.dry_run = true;
            self
        }
        /// Sets `gracePeriodSeconds` (`0`: at once).
        pub fn grace_period_seconds(mut self, seconds: i64) -> Self {
            self.$field.grace_period_seconds = Some(seconds);
            self
        }
        /// Sets `propagationPolicy` (sent in a `DeleteOptions` body).
        pub fn propagation_policy(mut self, p: PropagationPolicy) -> Self {
            self.$field.propagation_policy = Some(p);
            self
        }
        /// Deletes only if the object still has this uid (a `DeleteOptions` precondition).
        pub fn precondition_uid(mut self, uid: impl Into<String>) -> Self {
            self.$field.precondition_uid = Some(uid.into());
            self
        }
        /// Deletes only if the object is still at this resource version.
        pub fn precondition_resource_version(mut self, rv: impl Into<String>) -> Self {
            self.$field.precondition_resource_version = Some(rv.into());
            self
        }
    };
}

/// Implements `Clone` and `Debug` without bounds on the response type parameter.
macro_rules! impl_common {
    ($name:ident { $($f:ident),* }) => {
        impl<R> Clone for $name<R> {
            fn clone(&self) -> Self {
                $name { $($f: self.$f.clone(),)* _r: PhantomData }
            }
        }
        impl<R> fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                d.field("response", &std::any::type_name::<R>());
                $( d.field(stringify!($f), &self.$f); )*
                d.finish()
            }
        }
        impl<R> $name<R> {
            /// The request path (percent-encoded).
            pub fn path(&self) -> &str {
                &self.path
            }
        }
    };
}
