//! The wire form of `k8s-core`'s shared types: `ObjectMeta` and its parts, `ListMeta`, `Status`,
//! `List<T>`. Field numbers are those of `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`;
//! which fields are Go value types (always written) follows apimachinery's `types.go`.

use super::field::Field;
use super::wire::{Value, Writer};
use super::{Error, Message, TypeMeta};
use crate::{
    List, ListMeta, ManagedFieldsEntry, ObjectMeta, OwnerReference, Resource, ShardInfo, Status,
    StatusCause, StatusDetails,
};

impl Message for ObjectMeta {
    fn encode_fields(&self, w: &mut Writer) {
        Field::encode_value(&self.name, 1, w);
        Field::encode_value(&self.generate_name, 2, w);
        Field::encode_value(&self.namespace, 3, w);
        Field::encode_value(&self.self_link, 4, w);
        Field::encode_value(&self.uid, 5, w);
        Field::encode_value(&self.resource_version, 6, w);
        Field::encode_value(&self.generation, 7, w);
        Field::encode_value(&self.creation_timestamp, 8, w);
        self.deletion_timestamp.encode(9, w);
        self.deletion_grace_period_seconds.encode(10, w);
        self.labels.encode(11, w);
        self.annotations.encode(12, w);
        self.owner_references.encode(13, w);
        self.finalizers.encode(14, w);
        self.managed_fields.encode(17, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => Field::merge_value(&mut self.name, value),
            2 => Field::merge_value(&mut self.generate_name, value),
            3 => Field::merge_value(&mut self.namespace, value),
            4 => Field::merge_value(&mut self.self_link, value),
            5 => Field::merge_value(&mut self.uid, value),
            6 => Field::merge_value(&mut self.resource_version, value),
            7 => Field::merge_value(&mut self.generation, value),
            8 => Field::merge_value(&mut self.creation_timestamp, value),
            9 => self.deletion_timestamp.merge(value),
            10 => self.deletion_grace_period_seconds.merge(value),
            11 => self.labels.merge(value),
            12 => self.annotations.merge(value),
            13 => self.owner_references.merge(value),
            14 => self.finalizers.merge(value),
            17 => self.managed_fields.merge(value),
            _ => Ok(()),
        }
    }
}

impl Message for OwnerReference {
    fn encode_fields(&self, w: &mut Writer) {
        self.kind.encode(1, w);
        self.name.encode(3, w);
        self.uid.encode(4, w);
        self.api_version.encode(5, w);
        self.controller.encode(6, w);
        self.block_owner_deletion.encode(7, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => self.kind.merge(value),
            3 => self.name.merge(value),
            4 => self.uid.merge(value),
            5 => self.api_version.merge(value),
            6 => self.controller.merge(value),
            7 => self.block_owner_deletion.merge(value),
            _ => Ok(()),
        }
    }
}

impl Message for ManagedFieldsEntry {
    fn encode_fields(&self, w: &mut Writer) {
        Field::encode_value(&self.manager, 1, w);
        Field::encode_value(&self.operation, 2, w);
        Field::encode_value(&self.api_version, 3, w);
        self.time.encode(4, w);
        Field::encode_value(&self.fields_type, 6, w);
        self.fields_v1.encode(7, w);
        Field::encode_value(&self.subresource, 8, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => Field::merge_value(&mut self.manager, value),
            2 => Field::merge_value(&mut self.operation, value),
            3 => Field::merge_value(&mut self.api_version, value),
            4 => self.time.merge(value),
            6 => Field::merge_value(&mut self.fields_type, value),
            7 => self.fields_v1.merge(value),
            8 => Field::merge_value(&mut self.subresource, value),
            _ => Ok(()),
        }
    }
}

impl Message for ListMeta {
    fn encode_fields(&self, w: &mut Writer) {
        Field::encode_value(&self.self_link, 1, w);
        Field::encode_value(&self.resource_version, 2, w);
        Field::encode_value(&self.continue_, 3, w);
        self.remaining_item_count.encode(4, w);
        self.shard_info.encode(5, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => Field::merge_value(&mut self.self_link, value),
            2 => Field::merge_value(&mut self.resource_version, value),
            3 => Field::merge_value(&mut self.continue_, value),
            4 => self.remaining_item_count.merge(value),
            5 => self.shard_info.merge(value),
            _ => Ok(()),
        }
    }
}

impl Message for ShardInfo {
    fn encode_fields(&self, w: &mut Writer) {
        self.selector.encode(1, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => self.selector.merge(value),
            _ => Ok(()),
        }
    }
}

impl Message for Status {
    fn encode_fields(&self, w: &mut Writer) {
        Field::encode_value(&self.metadata, 1, w);
        Field::encode_value(&self.status, 2, w);
        Field::encode_value(&self.message, 3, w);
        Field::encode_value(&self.reason, 4, w);
        self.details.encode(5, w);
        Field::encode_value(&self.code, 6, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => Field::merge_value(&mut self.metadata, value),
            2 => Field::merge_value(&mut self.status, value),
            3 => Field::merge_value(&mut self.message, value),
            4 => Field::merge_value(&mut self.reason, value),
            5 => self.details.merge(value),
            6 => Field::merge_value(&mut self.code, value),
            _ => Ok(()),
        }
    }

    fn type_meta() -> Option<TypeMeta> {
        Some(TypeMeta::new("v1", "Status"))
    }

    /// The envelope's type is kept: `apiVersion` and `kind` of a Status are fields of it.
    fn set_type_meta(&mut self, type_meta: &TypeMeta) {
        self.api_version = Some(type_meta.api_version.clone()).filter(|v| !v.is_empty());
        self.kind = Some(type_meta.kind.clone()).filter(|k| !k.is_empty());
    }
}

impl Message for StatusDetails {
    fn encode_fields(&self, w: &mut Writer) {
        Field::encode_value(&self.name, 1, w);
        Field::encode_value(&self.group, 2, w);
        Field::encode_value(&self.kind, 3, w);
        self.causes.encode(4, w);
        Field::encode_value(&self.retry_after_seconds, 5, w);
        Field::encode_value(&self.uid, 6, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => Field::merge_value(&mut self.name, value),
            2 => Field::merge_value(&mut self.group, value),
            3 => Field::merge_value(&mut self.kind, value),
            4 => self.causes.merge(value),
            5 => Field::merge_value(&mut self.retry_after_seconds, value),
            6 => Field::merge_value(&mut self.uid, value),
            _ => Ok(()),
        }
    }
}

impl Message for StatusCause {
    fn encode_fields(&self, w: &mut Writer) {
        Field::encode_value(&self.reason, 1, w);
        Field::encode_value(&self.message, 2, w);
        Field::encode_value(&self.field, 3, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => Field::merge_value(&mut self.reason, value),
            2 => Field::merge_value(&mut self.message, value),
            3 => Field::merge_value(&mut self.field, value),
            _ => Ok(()),
        }
    }
}

/// `<Kind>List`: `metadata` (1) and `items` (2).
impl<T: Message + Resource> Message for List<T> {
    fn encode_fields(&self, w: &mut Writer) {
        self.metadata.encode(1, w);
        self.items.encode(2, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => self.metadata.merge(value),
            2 => self.items.merge(value),
            _ => Ok(()),
        }
    }

    fn type_meta() -> Option<TypeMeta> {
        Some(TypeMeta::new(T::API_VERSION, &format!("{}List", T::KIND)))
    }
}
