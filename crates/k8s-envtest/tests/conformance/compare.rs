//! Compares two normalised responses aspect by aspect; a body difference is named by its JSON
//! pointer with array indices written `*`, so one difference in every item counts once.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::normalise::{Body, Observed};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Aspect {
    Status,
    Reason,
    Causes,
    Message,
    Warnings,
    ContentType,
    RetryAfter,
    Body,
}

impl fmt::Display for Aspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Aspect::Status => "status",
            Aspect::Reason => "reason",
            Aspect::Causes => "causes",
            Aspect::Message => "message",
            Aspect::Warnings => "warnings",
            Aspect::ContentType => "content-type",
            Aspect::RetryAfter => "retry-after",
            Aspect::Body => "body",
        })
    }
}

/// One way two responses differ.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    pub aspect: Aspect,
    /// The body's JSON pointer pattern (`/items/*/metadata/labels`), or empty.
    pub at: String,
    /// What the first and the second server said (abbreviated).
    pub left: String,
    pub right: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}: real {} | test server {}",
            self.aspect,
            if self.at.is_empty() { "" } else { " " },
            self.at,
            self.left,
            self.right
        )
    }
}

fn short(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() > MAX {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn show<T: fmt::Debug>(v: &T) -> String {
    short(&format!("{v:?}"))
}

/// Every difference between `a` (the real server, or the recording) and `b`.
pub fn compare(a: &Observed, b: &Observed) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut add = |aspect, left: String, right: String| {
        out.push(Difference {
            aspect,
            at: String::new(),
            left,
            right,
        })
    };
    if a.status != b.status {
        add(Aspect::Status, a.status.to_string(), b.status.to_string());
    }
    if a.reason != b.reason {
        add(Aspect::Reason, show(&a.reason), show(&b.reason));
    }
    if a.causes != b.causes {
        add(Aspect::Causes, show(&a.causes), show(&b.causes));
    }
    if a.message != b.message {
        add(Aspect::Message, show(&a.message), show(&b.message));
    }
    if a.warnings != b.warnings {
        add(Aspect::Warnings, show(&a.warnings), show(&b.warnings));
    }
    if a.content_type != b.content_type {
        add(
            Aspect::ContentType,
            show(&a.content_type),
            show(&b.content_type),
        );
    }
    if a.retry_after != b.retry_after {
        add(
            Aspect::RetryAfter,
            show(&a.retry_after),
            show(&b.retry_after),
        );
    }
    let mut body = BTreeMap::new();
    // Different status codes mean different objects; a `Status` is compared by its reason,
    // causes and message above.
    let is_status = |o: &Observed| matches!(&o.body, Body::Json(v) if v.get("kind") == Some(&Value::from("Status")));
    if a.status != b.status || (is_status(a) && is_status(b)) {
        return out;
    }
    match (&a.body, &b.body) {
        (Body::Json(x), Body::Json(y)) => diff_json(x, y, &mut String::new(), &mut body),
        (Body::Events(x), Body::Events(y)) => diff_json(
            &Value::Array(x.clone()),
            &Value::Array(y.clone()),
            &mut String::from("/events"),
            &mut body,
        ),
        (x, y) if x == y => {}
        (x, y) => {
            body.insert(String::new(), (body_kind(x), body_kind(y)));
        }
    }
    for (at, (left, right)) in body {
        out.push(Difference {
            aspect: Aspect::Body,
            at,
            left,
            right,
        });
    }
    out
}

fn body_kind(b: &Body) -> String {
    match b {
        Body::Empty => "empty".into(),
        Body::Json(v) => short(&format!("JSON {v}")),
        Body::Events(e) => format!("{} watch events", e.len()),
        Body::Binary => "binary".into(),
        Body::Text(t) => short(&format!("text {t:?}")),
    }
}

fn pattern(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|c| c.is_ascii_digit()) {
                "*"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn value_text(v: Option<&Value>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => short(&v.to_string()),
    }
}

/// Records the first example of each differing pointer pattern.
fn diff_json(
    a: &Value,
    b: &Value,
    path: &mut String,
    out: &mut BTreeMap<String, (String, String)>,
) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                match y.get(k) {
                    Some(vb) => diff_json(va, vb, path, out),
                    None => {
                        out.entry(pattern(path))
                            .or_insert_with(|| (value_text(Some(va)), "absent".into()));
                    }
                }
                path.truncate(len);
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.entry(pattern(&p))
                        .or_insert_with(|| ("absent".into(), value_text(Some(vb))));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.entry(format!("{} (length)", pattern(path)))
                    .or_insert_with(|| (x.len().to_string(), y.len().to_string()));
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                diff_json(va, vb, path, out);
                path.truncate(len);
            }
        }
        (x, y) if x == y => {}
        (x, y) if same_shape(path, x, y) => {}
        (x, y) => {
            out.entry(pattern(path))
                .or_insert_with(|| (value_text(Some(x)), value_text(Some(y))));
        }
    }
}

/// Fields whose value (not only its JSON type) is compared: what names an object or says
/// what it is. Other scalars are compared by type (the JSON shape): counts, messages and
/// controller-computed numbers differ between any two clusters.
const VALUE_KEYS: &[&str] = &[
    "kind",
    "apiVersion",
    "name",
    "namespace",
    "type",
    "phase",
    "reason",
    "operation",
    "subresource",
    "manager",
];

fn same_shape(path: &str, x: &Value, y: &Value) -> bool {
    let key = path.rsplit('/').next().unwrap_or("");
    let kind = |v: &Value| match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    };
    !VALUE_KEYS.contains(&key) && kind(x) == kind(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: u16, body: Value) -> Observed {
        Observed {
            status,
            content_type: Some("application/json".into()),
            warnings: Vec::new(),
            retry_after: None,
            reason: None,
            causes: Vec::new(),
            message: None,
            body: Body::Json(body),
        }
    }

    #[test]
    fn body_differences_are_pointer_patterns() {
        let a = obs(
            200,
            serde_json::json!({"items": [{"name": "x", "n": 1, "b": [1]}, {"name": "y", "b": [1]}]}),
        );
        let b = obs(
            200,
            serde_json::json!({"items": [{"name": "x", "n": 7, "c": true, "b": [1, 2]}, {"name": "z", "b": [1]}]}),
        );
        let d: Vec<String> = compare(&a, &b)
            .iter()
            .map(|d| format!("{} {}", d.aspect, d.at))
            .collect();
        assert_eq!(
            d,
            [
                "body /items/*/b (length)",
                "body /items/*/c",
                "body /items/*/name"
            ]
        );
        assert!(compare(&a, &a).is_empty());
        // another status code: another object, the body is not compared
        let mut other = b.clone();
        other.status = 201;
        let d: Vec<String> = compare(&a, &other).iter().map(|d| d.to_string()).collect();
        assert_eq!(d, ["status: real 200 | test server 201"]);
        // other scalars: only their JSON type
        let c = obs(200, serde_json::json!({"n": 1, "s": "a"}));
        let d = obs(200, serde_json::json!({"n": 2, "s": "b"}));
        assert!(compare(&c, &d).is_empty());
        let e = obs(200, serde_json::json!({"n": "2", "s": "b"}));
        assert_eq!(compare(&c, &e).len(), 1);
    }
}
