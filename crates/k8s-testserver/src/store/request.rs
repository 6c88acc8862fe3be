//! The routed request (target, query, body, caller), body decoding, and the reply.

use serde_json::{Value, json};

use super::State;
use crate::authz::UserInfo;
use crate::codec::{Codec, DecodeFailure};
use crate::errors::{self, ApiError};
use crate::registry::ResourceDef;
use crate::validate;

/// Parsed query string.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    /// Splits and percent-decodes `a=b&c`.
    pub(crate) fn parse(q: &str) -> Query {
        let dec = |s: &str| {
            let s = s.replace('+', " ");
            percent_encoding::percent_decode_str(&s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (dec(k), dec(v)),
                    None => (dec(p), String::new()),
                })
                .collect(),
        )
    }
    /// The first value of `k`.
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.as_str())
    }
    /// Whether `k` is set to true.
    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1") | Some("True"))
    }
}

/// A resource request, routed.
pub(crate) struct Req<'a> {
    pub def: ResourceDef,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    pub query: &'a Query,
    pub body: &'a [u8],
    pub content_type: String,
    pub user: &'a UserInfo,
    pub user_agent: String,
    /// The protobuf forms of the served version (request bodies in protobuf).
    pub codec: Codec,
}

impl Req<'_> {
    /// `dryRun=All`.
    pub(crate) fn dry_run(&self) -> bool {
        self.query.get("dryRun") == Some("All")
    }
    /// The field manager: `fieldManager`, else the user agent's product, else `unknown`.
    pub(crate) fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        let ua = self.user_agent.split('/').next().unwrap_or("").trim();
        if ua.is_empty() {
            "unknown".into()
        } else {
            ua.to_string()
        }
    }
    /// The object name of the path (`""` on collections).
    pub(crate) fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
    /// The namespace of the path (`""` for cluster-scoped or all namespaces).
    pub(crate) fn ns(&self) -> &str {
        self.ns.as_deref().unwrap_or("")
    }

    /// Parses a JSON body: 400 with the real wording when malformed.
    pub(crate) fn decode(&self) -> Result<(Value, Vec<String>), ApiError> {
        let ct = self.content_type.to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        let custom = self.def.custom.is_some();
        if media == "application/vnd.kubernetes.protobuf" && !custom {
            // As the real server: a body without the magic, or one that ends early, is 400.
            let hex = |b: &[u8]| {
                let h: String = b.iter().take(30).map(|x| format!("{x:02x}")).collect();
                if b.len() > 30 { format!("{h} ...") } else { h }
            };
            if !self.body.starts_with(b"k8s\0") {
                return Err(errors::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): provided data does not appear to be a protobuf message, expected prefix [107 56 115 0] ({})",
                    self.def.kind,
                    hex(self.body)
                )));
            }
            let unrecognized = |why: &str| {
                errors::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): {why} ({})",
                    self.def.kind,
                    hex(self.body)
                ))
            };
            return match self.codec.decode(self.body) {
                Ok(v) => Ok((v, Vec::new())),
                // Go's decoder says only this when a field runs past the end.
                Err(DecodeFailure::Invalid(k8s_core::protobuf::Error::Truncated { .. })) => {
                    Err(unrecognized("unexpected EOF"))
                }
                Err(DecodeFailure::Invalid(e)) => Err(unrecognized(&e.to_string())),
                Err(DecodeFailure::Unsupported) => {
                    // Without the `protobuf` feature: the hand-written decoder of the bodies
                    // kubectl sends.
                    #[cfg(not(feature = "protobuf"))]
                    if let Some(v) = crate::proto::decode(self.body) {
                        return Ok((v, Vec::new()));
                    }
                    Err(unrecognized("unexpected EOF"))
                }
            };
        }
        if !matches!(media, "" | "application/json" | "application/yaml") {
            // text/plain, CBOR (not served by default), a patch type on a create, protobuf
            // for a custom resource: 415 with the media types the resource accepts.
            return Err(errors::unsupported_media_type(
                if custom {
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
                } else {
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
                },
                false,
            ));
        }
        if media == "application/yaml" {
            let text = String::from_utf8_lossy(self.body);
            return serde_saphyr::from_str::<Value>(&text)
                .map(|v| (v, Vec::new()))
                .map_err(|e| errors::bad_request(format!("error converting YAML to JSON: {e}")));
        }
        let (v, dups) = validate::parse_json_with_dups(self.body).map_err(|e| {
            let text = String::from_utf8_lossy(self.body);
            let preview: String = text.chars().take(30).collect();
            let preview = if text.chars().count() > 30 {
                format!("{preview} ...")
            } else {
                preview
            };
            errors::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {} ({preview})",
                self.def.kind,
                validate::go_json_error(&e)
            ))
        })?;
        if !v.is_object() {
            return Err(errors::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                self.def.kind,
                if v.is_array() { "array" } else { "string" }
            )));
        }
        Ok((v, dups))
    }

    /// The DeleteOptions of the body (`{}` when empty).
    pub(crate) fn delete_options(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        let v: Value = serde_json::from_slice(self.body).map_err(|e| {
            errors::bad_request(format!(
                "error decoding DeleteOptions: {}",
                validate::go_json_error(&e)
            ))
        })?;
        Ok(v)
    }
}

/// A successful answer.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
    /// Non-JSON answer (content type, bytes), e.g. pod logs.
    pub raw: Option<(String, Vec<u8>)>,
}

impl Reply {
    pub(crate) fn ok(code: u16, body: Value) -> Reply {
        Reply {
            code,
            body,
            ..Reply::default()
        }
    }
}

impl State {
    /// Unknown/duplicate fields per `fieldValidation`: warnings, or 400 when Strict.
    pub(crate) fn field_validation(
        &self,
        req: &Req,
        obj: &mut Value,
        dups: Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        let mode = req.query.get("fieldValidation").unwrap_or("Warn");
        let mut unknown = Vec::new();
        if req.def.custom.is_none() {
            if let Some(sw) = &self.swagger {
                unknown = validate::unknown_fields_swagger(
                    sw,
                    &req.def.group,
                    &req.def.version,
                    &req.def.kind,
                    obj,
                );
            }
        }
        let mut problems: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        problems.extend(dups.iter().map(|f| format!("duplicate field \"{f}\"")));
        match mode {
            "Strict" if !problems.is_empty() => Err(errors::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                req.def.kind,
                req.def.version,
                req.def.kind,
                problems.join(", ")
            ))),
            "Ignore" => Ok(Vec::new()),
            _ => Ok(problems),
        }
    }
}
