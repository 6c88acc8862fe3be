#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use super::*;
use crate::{
    ByteString, FieldsV1, IntOrString, List, ListMeta, MicroTime, ObjectMeta, OwnerReference,
    Quantity, Resource, Scope, Status, StatusCause, StatusDetails, Time, WatchEvent,
};

/// A kind for the tests: `metadata` 1, `data` 2 (map), `count` 3 (Go `*int32`), `note` 4
/// (Go `string`, optional).
#[derive(Clone, Debug, Default, PartialEq)]
struct Widget {
    metadata: ObjectMeta,
    data: Option<BTreeMap<String, String>>,
    count: Option<i32>,
    note: Option<String>,
}

impl Resource for Widget {
    const API_VERSION: &'static str = "example.com/v1";
    const GROUP: &'static str = "example.com";
    const VERSION: &'static str = "v1";
    const KIND: &'static str = "Widget";
    const PLURAL: &'static str = "widgets";
    const SCOPE: Scope = Scope::Namespaced;
    const VERBS: &'static [&'static str] = &["list"];
    const SUBRESOURCES: &'static [&'static str] = &[];
}

impl Message for Widget {
    fn encode_fields(&self, w: &mut Writer) {
        self.metadata.encode(1, w);
        self.data.encode(2, w);
        self.count.encode(3, w);
        Field::encode_value(&self.note, 4, w);
    }

    fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
        match field {
            1 => self.metadata.merge(value),
            2 => self.data.merge(value),
            3 => self.count.merge(value),
            4 => Field::merge_value(&mut self.note, value),
            _ => Ok(()),
        }
    }

    fn type_meta() -> Option<TypeMeta> {
        Some(TypeMeta::new(Self::API_VERSION, Self::KIND))
    }
}

fn widget() -> Widget {
    Widget {
        metadata: ObjectMeta {
            name: Some("w1".into()),
            namespace: Some("default".into()),
            creation_timestamp: Some("2026-12-01T10:00:00Z".parse().unwrap()),
            labels: Some(BTreeMap::from([
                ("b".into(), "2".into()),
                ("a".into(), "1".into()),
            ])),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: "owner".into(),
                uid: "u-1".into(),
                controller: Some(false),
                ..Default::default()
            }]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".into(), String::new())])),
        count: Some(0),
        note: None,
    }
}

#[test]
fn varints_of_every_length_round_trip() {
    for v in [
        0u64,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        u32::MAX as u64,
        u64::MAX,
    ] {
        let mut w = Writer::new();
        w.varint_field(1, v);
        let bytes = w.into_bytes();
        let mut r = Bytes::top(&bytes).reader().unwrap();
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(v))));
        assert_eq!(r.next_field().unwrap(), None);
    }
}

#[test]
fn negative_int32_is_ten_bytes_as_in_go() {
    let mut w = Writer::new();
    (-1i32).encode(1, &mut w);
    assert_eq!(
        w.as_bytes(),
        [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ]
    );
    let mut v = 0i32;
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, value) = r.next_field().unwrap().unwrap();
    v.merge(value).unwrap();
    assert_eq!(v, -1);
}

#[test]
fn a_nested_message_longer_than_127_bytes_gets_a_two_byte_length() {
    let mut w = Writer::new();
    let long = "x".repeat(200);
    w.nested(2, |w| long.encode(1, w));
    let b = w.into_bytes();
    // tag 2/LEN, length 203 = 0xcb 0x01, then tag 1/LEN, length 200 = 0xc8 0x01.
    assert_eq!(&b[..5], [0x12, 0xcb, 0x01, 0x0a, 0xc8]);
    assert_eq!(b.len(), 3 + 3 + 200);
}

#[test]
fn an_object_round_trips_through_the_envelope() {
    let w = widget();
    let bytes = to_bytes(&w);
    assert!(bytes.starts_with(b"k8s\0"));
    // The envelope ends with the empty contentEncoding and contentType, as Go writes them.
    assert!(bytes.ends_with(&[0x1a, 0x00, 0x22, 0x00]));
    let back: Widget = from_bytes(&bytes).unwrap();
    assert_eq!(back, w);
    assert_eq!(to_bytes(&back), bytes);
}

#[test]
fn go_value_fields_are_written_empty_and_read_back_as_none() {
    let w = Widget::default();
    let raw = w.encode_message();
    // metadata (always, a struct) holds name..resourceVersion as "" (1-6), generation 0 (7) and
    // the zero creationTimestamp as an empty message (8); note (4, Go string) is written as "".
    let meta = [
        0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42,
        0x00,
    ];
    let mut expected = vec![0x0a, meta.len() as u8];
    expected.extend_from_slice(&meta);
    expected.extend_from_slice(&[0x22, 0x00]);
    assert_eq!(raw, expected);
    assert_eq!(Widget::decode_message(&raw).unwrap(), w);
}

#[test]
fn pointer_fields_keep_an_explicit_zero() {
    let w = Widget {
        count: Some(0),
        ..Default::default()
    };
    let back = Widget::decode_message(&w.encode_message()).unwrap();
    assert_eq!(back.count, Some(0));
}

#[test]
fn maps_are_sorted_with_key_and_value_always_written() {
    let mut w = Writer::new();
    BTreeMap::from([("b".to_string(), String::new()), ("a".into(), "1".into())]).encode(5, &mut w);
    assert_eq!(
        w.as_bytes(),
        [
            0x2a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'1', 0x2a, 0x05, 0x0a, 0x01, b'b', 0x12,
            0x00
        ]
    );
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let mut w = Writer::new();
    w.varint_field(99, 5);
    w.fixed64_field(98, 7);
    w.bytes_field(97, b"ignored");
    "w1".to_string().encode(1, &mut w);
    let mut bytes = w.into_bytes();
    // A 32-bit field (wire type 5) of number 96.
    bytes.extend_from_slice(&[0x85, 0x06, 1, 2, 3, 4]);
    let meta = ObjectMeta::decode_message(&bytes).unwrap();
    assert_eq!(meta.name.as_deref(), Some("w1"));
}

#[test]
fn truncated_input_is_an_error_at_every_cut() {
    let bytes = to_bytes(&widget());
    for cut in 0..bytes.len() {
        // Every prefix either fails or (cut between fields) decodes; none panics.
        let _ = from_bytes::<Widget>(&bytes[..cut]);
    }
    let raw = widget().encode_message();
    let e = Widget::decode_message(&raw[..raw.len() - 1]).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn malformed_input_errors_name_the_place() {
    // Field 1 (metadata) declared 100 bytes long with 1 present.
    let e = Widget::decode_message(&[0x0a, 100, 0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated protobuf at byte 1: a length-delimited field runs past the end"
    );
    // metadata.name (1.1) is a varint instead of a string.
    let e = Widget::decode_message(&[0x0a, 0x02, 0x08, 0x01]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "at field 1.1: expected a string, found a varint field"
    );
    // metadata.name is not UTF-8.
    let e = Widget::decode_message(&[0x0a, 0x03, 0x0a, 0x01, 0xff]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("at field 1.1: a string is not UTF-8"),
        "{e}"
    );
    // A group (wire type 3).
    let e = Widget::decode_message(&[0x0b]).unwrap_err();
    assert!(matches!(e, Error::WireType { wire_type: 3, .. }), "{e}");
    // An 11-byte varint.
    let e = Widget::decode_message(&[
        0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ])
    .unwrap_err();
    assert!(e.to_string().contains("longer than 64 bits"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Field 1 of field 1 of … (metadata → name would end it; ObjectMeta ignores nothing here):
    // owner references nest no further, so use a message that nests itself: Box<List<Widget>>
    // cannot; build raw nesting inside an unknown field path of Status.details.causes instead.
    let mut bytes: Vec<u8> = Vec::new();
    for _ in 0..200 {
        let mut w = Writer::new();
        w.bytes_field(1, &bytes);
        bytes = w.into_bytes();
    }
    #[derive(Default, Debug)]
    struct Nest(Option<Box<Nest>>);
    impl Message for Nest {
        fn encode_fields(&self, w: &mut Writer) {
            self.0.encode(1, w);
        }
        fn merge_field(&mut self, field: u32, value: Value<'_>) -> Result<(), Error> {
            match field {
                1 => self.0.merge(value),
                _ => Ok(()),
            }
        }
    }
    let e = Nest::decode_message(&bytes).unwrap_err();
    assert!(e.to_string().contains("nested deeper than 100"), "{e}");
}

#[test]
fn the_envelope_is_checked() {
    let e = from_bytes::<Widget>(b"{\"kind\":\"Widget\"}").unwrap_err();
    assert!(e.to_string().contains("does not start with k8s\\0"), "{e}");
    let status = to_bytes(&Status::default());
    let e = from_bytes::<Widget>(&status).unwrap_err();
    assert_eq!(
        e.to_string(),
        "protobuf envelope: expected example.com/v1 Widget, found \"v1\" \"Status\""
    );
}

#[test]
fn lists_use_field_1_for_metadata_and_2_for_items() {
    let list = List::new(
        vec![widget(), Widget::default()],
        ListMeta {
            resource_version: Some("42".into()),
            continue_: Some("token".into()),
            remaining_item_count: Some(3),
            ..Default::default()
        },
    );
    let bytes = to_bytes(&list);
    let (tm, raw) = unwrap_envelope(&bytes).unwrap();
    assert_eq!(tm, TypeMeta::new("example.com/v1", "WidgetList"));
    assert_eq!(raw[0], 0x0a);
    let back: List<Widget> = from_bytes(&bytes).unwrap();
    assert_eq!(back, list);
}

#[test]
fn status_keeps_its_type_and_details() {
    let status = Status {
        api_version: Some("v1".into()),
        kind: Some("Status".into()),
        status: Some("Failure".into()),
        message: Some("nope".into()),
        reason: Some("NotFound".into()),
        code: Some(404),
        metadata: Some(ListMeta::default()),
        details: Some(StatusDetails {
            name: Some("x".into()),
            causes: Some(vec![StatusCause {
                reason: Some("FieldValueInvalid".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    };
    let back: Status = from_bytes(&to_bytes(&status)).unwrap();
    assert_eq!(back, status);
}

#[test]
fn special_types_use_their_go_wire_forms() {
    let mut w = Writer::new();
    let t: Time = "2026-12-01T10:00:00Z".parse().unwrap();
    t.encode(1, &mut w);
    let secs = t.0.as_second();
    let mut expected = Writer::new();
    expected.nested(1, |e| {
        secs.encode(1, e);
        0i32.encode(2, e);
    });
    assert_eq!(w.as_bytes(), expected.as_bytes());

    // MicroTime keeps microseconds; nanoseconds below are dropped.
    let mt: MicroTime = "2026-12-01T10:00:00.123456Z".parse().unwrap();
    let mut w = Writer::new();
    mt.encode(1, &mut w);
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut back = MicroTime::default();
    back.merge(v).unwrap();
    assert_eq!(back, mt);

    // Time drops nanoseconds on reading, as Go does.
    let mut w = Writer::new();
    w.nested(1, |w| {
        secs.encode(1, w);
        999i32.encode(2, w);
    });
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut back = Time::default();
    back.merge(v).unwrap();
    assert_eq!(back, t);

    // Quantity as {1: string}; IntOrString with all three fields.
    let mut w = Writer::new();
    Quantity::parse("128Mi").unwrap().encode(1, &mut w);
    IntOrString::String("http".into()).encode(2, &mut w);
    IntOrString::Int(8080).encode(3, &mut w);
    ByteString::new(b"\x00\x01".to_vec()).encode(4, &mut w);
    assert_eq!(
        w.as_bytes(),
        [
            0x0a, 0x07, 0x0a, 0x05, b'1', b'2', b'8', b'M', b'i', //
            0x12, 0x0a, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x04, b'h', b't', b't', b'p', //
            0x1a, 0x07, 0x08, 0x00, 0x10, 0x90, 0x3f, 0x1a, 0x00, //
            0x22, 0x02, 0x00, 0x01,
        ]
    );
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut q = Quantity::default();
    q.merge(v).unwrap();
    assert_eq!(q.as_str(), "128Mi");
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut i = IntOrString::default();
    i.merge(v).unwrap();
    assert_eq!(i, IntOrString::String("http".into()));

    // RawExtension / FieldsV1: JSON text in field 1.
    let json = serde_json::json!({"a": [1, "b"]});
    let mut w = Writer::new();
    json.encode(1, &mut w);
    FieldsV1::from_value(&serde_json::json!({"f:a": {}})).encode(2, &mut w);
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut back = serde_json::Value::Null;
    back.merge(v).unwrap();
    assert_eq!(back, json);
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut f = FieldsV1::default();
    f.merge(v).unwrap();
    assert_eq!(f.as_json(), r#"{"f:a":{}}"#);
}

#[test]
fn invalid_special_values_are_errors() {
    let mut w = Writer::new();
    w.nested(1, |w| w.bytes_field(1, b"12 apples"));
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    assert!(Quantity::default().merge(v).is_err());

    let mut w = Writer::new();
    w.nested(1, |w| 7i64.encode(1, w));
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let e = IntOrString::default().merge(v).unwrap_err();
    assert!(e.to_string().contains("IntOrString type 7"), "{e}");

    let mut w = Writer::new();
    w.nested(1, |w| i64::MAX.encode(1, w));
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let e = Time::default().merge(v).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn the_zero_time_is_an_empty_message_and_reads_as_none() {
    let mut w = Writer::new();
    Field::encode_value(&None::<Time>, 8, &mut w);
    assert_eq!(w.as_bytes(), [0x42, 0x00]);
    let mut slot = Some(Time::default());
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    Field::merge_value(&mut slot, v).unwrap();
    assert_eq!(slot, None);
}

#[test]
fn watch_frames_split_at_any_chunking() {
    let events = [
        WatchEvent::Added(widget()),
        WatchEvent::Modified(Widget::default()),
        WatchEvent::Error(Status {
            code: Some(410),
            reason: Some("Expired".into()),
            ..Default::default()
        }),
    ];
    let stream: Vec<u8> = events.iter().flat_map(watch::encode_event).collect();
    for chunk in [1, 3, 7, stream.len()] {
        let mut reader = watch::FrameReader::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            reader.push(piece);
            while let Some(frame) = reader.next_frame().unwrap() {
                got.push(watch::decode_event::<Widget>(frame).unwrap());
            }
        }
        reader.finish().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], events[0]);
        assert_eq!(got[1], events[1]);
        match &got[2] {
            WatchEvent::Error(s) => {
                assert_eq!(s.code, Some(410));
                assert_eq!(s.kind.as_deref(), Some("Status"));
            }
            other => panic!("{other:?}"),
        }
    }
    let mut reader = watch::FrameReader::new();
    reader.push(&stream[..stream.len() - 1]);
    while reader.next_frame().unwrap().is_some() {}
    assert!(reader.finish().is_err());
    let mut reader = watch::FrameReader::new();
    reader.push(&[0xff, 0xff, 0xff, 0xff]);
    assert!(reader.next_frame().is_err());
}

#[test]
fn lists_in_maps_and_lists_go_through_wrapper_messages() {
    // `map<string, ExtraValue> extra = 5` with `ExtraValue { repeated string items = 1 }`.
    let mut map = BTreeMap::new();
    map.insert("b".to_owned(), vec!["x".to_owned(), "y".to_owned()]);
    map.insert("a".to_owned(), Vec::new());
    let mut w = Writer::new();
    encode_list_map(&map, 5, &mut w);
    let bytes = w.into_bytes();
    // Sorted by key; an empty list is an empty wrapper message.
    assert_eq!(
        bytes,
        [
            42, 5, 10, 1, b'a', 18, 0, //
            42, 11, 10, 1, b'b', 18, 6, 10, 1, b'x', 10, 1, b'y'
        ]
    );
    let mut back = BTreeMap::new();
    let mut r = Bytes::top(&bytes).reader().unwrap();
    while let Some((field, value)) = r.next_field().unwrap() {
        assert_eq!(field, 5);
        merge_list_map_entry(&mut back, value).unwrap();
    }
    assert_eq!(back, map);

    let lists = vec![vec![1i64, 2], vec![]];
    let mut w = Writer::new();
    encode_nested_lists(&lists, 3, &mut w);
    let bytes = w.into_bytes();
    let mut back: Vec<Vec<i64>> = Vec::new();
    let mut r = Bytes::top(&bytes).reader().unwrap();
    while let Some((_, value)) = r.next_field().unwrap() {
        merge_nested_list(&mut back, value).unwrap();
    }
    assert_eq!(back, lists);
    // A wrapper that is not a message is an error, not a panic.
    assert!(merge_nested_list(&mut back, Value::Varint(1)).is_err());
}

/// Reads `raw` as the `raw` field of a `FieldsV1` message.
fn fields_v1_from_raw(raw: &[u8]) -> Result<FieldsV1, Error> {
    let mut w = Writer::new();
    w.nested(1, |w| w.bytes_field(1, raw));
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut f = FieldsV1::default();
    f.merge(v).map(|()| f)
}

#[test]
fn fields_v1_reads_as_its_json_transcoding_whether_kept_verbatim_or_not() {
    // Compact (kept as is), and forms serde_json rewrites (whitespace, `\u` and `\/` escapes,
    // numbers, literals), and invalid ones: the result is always what the JSON decoder gives.
    let cases: &[&[u8]] = &[
        br#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{}}}}}"#,
        br#"{"k:{\"path\":\"a\\\\b\"}":{}}"#,
        br#"{ "f:spec": {} }"#,
        br#"{"f:a":{"k:{\"port\":80}":{}}}"#,
        br#"{"f:a":{"\u003cx\u003e":{}}}"#,
        br#"{"f:a":"a\/b"}"#,
        br#"{"f:a":[1,2.50,-3e2]}"#,
        br#"{"f:a":[true,false,null]}"#,
        br#"{"f:a":"caf\u00e9"}"#,
        "{\"f:é\":{}}".as_bytes(),
        b"{\"f:a\":\"tab\\tnew\\n\"}",
        b"{}",
        b"",
        b"{",
        b"{\"f:a\":{}}}",
        b"{\"f:a\":tru}",
        b"{\"f:a\":\"\xff\"}",
        b"{\"f:a\":\"ctl\x01\"}",
        b"[{}]",
    ];
    for raw in cases {
        let json: Result<FieldsV1, _> = serde_json::from_slice(raw);
        let pb = fields_v1_from_raw(raw);
        match (json, pb) {
            (Ok(j), Ok(p)) => {
                assert_eq!(p.as_json(), j.as_json(), "{}", String::from_utf8_lossy(raw))
            }
            (Err(_), Err(e)) => assert!(e.to_string().contains("FieldsV1 is not JSON"), "{e}"),
            (j, p) => panic!(
                "{}: JSON {j:?}, protobuf {p:?}",
                String::from_utf8_lossy(raw)
            ),
        }
    }
    // Compact text re-encodes to the same bytes.
    let raw = br#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}"#;
    let f = fields_v1_from_raw(raw).unwrap();
    let mut w = Writer::new();
    f.encode(1, &mut w);
    let mut expected = Writer::new();
    expected.nested(1, |w| w.bytes_field(1, raw));
    assert_eq!(w.as_bytes(), expected.as_bytes());
}

#[test]
fn a_list_cut_anywhere_is_an_error_or_the_items_before_the_cut() {
    let items: Vec<Widget> = (0..40)
        .map(|i| {
            let mut w = widget();
            w.metadata.name = Some(format!("w{i}"));
            w
        })
        .collect();
    let list = List::new(items, ListMeta::default());
    let raw = list.encode_message();
    let back = List::<Widget>::decode_message(&raw).unwrap();
    assert_eq!(back, list);
    // Cut anywhere: an error or, between items, a shorter list of the items before the cut
    // (an item that fails is not left in the list); never a panic.
    for cut in 0..raw.len() {
        if let Ok(short) = List::<Widget>::decode_message(&raw[..cut]) {
            assert!(short.items.len() < 40);
            assert_eq!(short.items[..], list.items[..short.items.len()]);
        }
    }
}

#[test]
fn a_quantity_message_without_its_string_is_zero_and_a_bad_one_names_the_input() {
    let mut w = Writer::new();
    w.nested(1, |_| {});
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let mut q: Quantity = "5".parse().unwrap();
    q.merge(v).unwrap();
    assert_eq!(q.as_str(), "0");

    let mut w = Writer::new();
    w.nested(1, |w| w.bytes_field(1, b"\xff"));
    let mut r = Bytes::top(w.as_bytes()).reader().unwrap();
    let (_, v) = r.next_field().unwrap().unwrap();
    let e = Quantity::default().merge(v).unwrap_err();
    assert!(
        e.to_string().contains("field 1") && e.to_string().contains("UTF-8"),
        "{e}"
    );
}
