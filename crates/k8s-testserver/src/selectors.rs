//! Label selectors (equality- and set-based, parsed like apimachinery's `labels.Parse`) and
//! field selectors.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Exists,
    NotExists,
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector {
    reqs: Vec<(String, Op)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    In,
    NotIn,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
    End,
}

impl Tok {
    fn lit(&self) -> String {
        match self {
            Tok::Ident(s) => s.clone(),
            Tok::Bang => "!".into(),
            Tok::Eq => "=".into(),
            Tok::DoubleEq => "==".into(),
            Tok::NotEq => "!=".into(),
            Tok::In => "in".into(),
            Tok::NotIn => "notin".into(),
            Tok::Gt => ">".into(),
            Tok::Lt => "<".into(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
            Tok::End => String::new(),
        }
    }
}

fn lex(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '<' => {
                out.push(Tok::Lt);
                i += 1
            }
            '>' => {
                out.push(Tok::Gt);
                i += 1
            }
            '=' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::DoubleEq);
                    i += 2
                } else {
                    out.push(Tok::Eq);
                    i += 1
                }
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::NotEq);
                    i += 2
                } else {
                    out.push(Tok::Bang);
                    i += 1
                }
            }
            _ => {
                let start = i;
                while i < chars.len() && !" \t\n\r(),<>=!".contains(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "in" => Tok::In,
                    "notin" => Tok::NotIn,
                    _ => Tok::Ident(word),
                });
            }
        }
    }
    out.push(Tok::End);
    out
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).unwrap_or(&Tok::End)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
}

impl LabelSelector {
    /// Parses a selector; the error text is the real server's message.
    pub(crate) fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut p = Parser {
            toks: lex(s),
            pos: 0,
        };
        let mut reqs = Vec::new();
        // Each requirement consumes at least one token, so the token count bounds the loop.
        for _ in 0..p.toks.len() + 1 {
            match p.peek().clone() {
                Tok::End => break,
                Tok::Ident(_) | Tok::Bang => {
                    let r = parse_requirement(&mut p)
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    match p.next() {
                        Tok::End => break,
                        Tok::Comma => {
                            if let Tok::Ident(_) | Tok::Bang = p.peek() {
                            } else {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    p.peek().lit()
                                ));
                            }
                        }
                        t => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                t.lit()
                            ));
                        }
                    }
                }
                t => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        t.lit()
                    ));
                }
            }
        }
        Ok(LabelSelector { reqs })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether an object's labels match.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|(k, op)| {
            let v = get(k);
            match op {
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
                Op::Eq(x) => v == Some(x.as_str()),
                Op::NotEq(x) => v != Some(x.as_str()),
                Op::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                Op::NotIn(xs) => v.is_none_or(|v| !xs.iter().any(|x| x == v)),
                Op::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                Op::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

fn parse_requirement(p: &mut Parser) -> Result<(String, Op), String> {
    let negated = if *p.peek() == Tok::Bang {
        p.next();
        true
    } else {
        false
    };
    let key = match p.next() {
        Tok::Ident(k) => k,
        t => return Err(format!("found '{}', expected: identifier", t.lit())),
    };
    validate_label_key(&key)?;
    if negated {
        return Ok((key, Op::NotExists));
    }
    match p.peek().clone() {
        Tok::End | Tok::Comma => return Ok((key, Op::Exists)),
        _ => {}
    }
    let op = p.next();
    match op {
        Tok::In | Tok::NotIn => {
            let open = p.next();
            if open != Tok::Open {
                return Err(format!("found '{}', expected: '('", open.lit()));
            }
            let mut values = Vec::new();
            let mut expect_value = true;
            for _ in 0..p.toks.len() + 1 {
                match p.next() {
                    Tok::Close => break,
                    Tok::Ident(v) if expect_value => {
                        values.push(v);
                        expect_value = false;
                    }
                    Tok::Comma if !expect_value => expect_value = true,
                    Tok::Comma => values.push(String::new()),
                    t => return Err(format!("found '{}', expected: ',' or ')'", t.lit())),
                }
            }
            Ok((
                key,
                if op == Tok::In {
                    Op::In(values)
                } else {
                    Op::NotIn(values)
                },
            ))
        }
        Tok::Eq | Tok::DoubleEq | Tok::NotEq => {
            let value = match p.peek().clone() {
                Tok::Ident(v) => {
                    p.next();
                    v
                }
                Tok::End | Tok::Comma => String::new(),
                t => return Err(format!("found '{}', expected: identifier", t.lit())),
            };
            Ok((
                key,
                if op == Tok::NotEq {
                    Op::NotEq(value)
                } else {
                    Op::Eq(value)
                },
            ))
        }
        Tok::Gt | Tok::Lt => {
            let v = match p.next() {
                Tok::Ident(v) => v,
                t => return Err(format!("found '{}', expected: identifier", t.lit())),
            };
            let n: i64 = v.parse().map_err(|_| {
                format!("for 'Gt', 'Lt' operators, the value must be an integer: {v}")
            })?;
            Ok((key, if op == Tok::Gt { Op::Gt(n) } else { Op::Lt(n) }))
        }
        t => Err(format!(
            "found '{}', expected: {}",
            t.lit(),
            "[!= < = == > in notin]"
        )),
    }
}

fn validate_label_key(key: &str) -> Result<(), String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ))
    }
}

/// A parsed field selector.
#[derive(Clone, Debug, Default)]
pub(crate) struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

/// Field paths a resource supports in field selectors, beyond `metadata.name` and
/// `metadata.namespace`.
fn extra_fields(group: &str, plural: &str) -> &'static [&'static str] {
    match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    pub(crate) fn parse(s: &str, group: &str, plural: &str) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        let extra = extra_fields(group, plural);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if field != "metadata.name" && field != "metadata.namespace" && !extra.contains(&field)
            {
                let mut known = vec![
                    "\"metadata.name\"".to_string(),
                    "\"metadata.namespace\"".to_string(),
                ];
                known.extend(extra.iter().map(|f| format!("\"{f}\"")));
                return Err(format!(
                    "\"{field}\" is not a known field selector: only {}",
                    known.join(", ")
                ));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector { reqs })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(field, eq, value)| {
            let mut cur = Some(obj);
            for seg in field.split('.') {
                cur = cur.and_then(|c| c.get(seg));
            }
            let actual = match cur {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            (actual == *value) == *eq
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_parse_and_match() {
        let obj = json!({"metadata": {"labels": {"tier": "a", "n": "5"}}});
        for (sel, want) in [
            ("tier=a", true),
            ("tier==a", true),
            ("tier!=a", false),
            ("tier in (a,b)", true),
            ("tier notin (a)", false),
            ("tier", true),
            ("!tier", false),
            ("tier,tier notin (b)", true),
            ("n>4", true),
            ("n<4", false),
            ("missing notin (x)", true),
            ("", true),
        ] {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&obj), want, "{sel}");
        }
    }

    #[test]
    fn label_selector_errors_match_the_server() {
        assert_eq!(
            LabelSelector::parse("tier in (a").unwrap_err(),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            LabelSelector::parse("tier in a").unwrap_err(),
            "unable to parse requirement: found 'a', expected: '('"
        );
    }

    #[test]
    fn field_selector_errors_match_the_server() {
        assert_eq!(
            FieldSelector::parse("data.index=3", "", "configmaps").unwrap_err(),
            "\"data.index\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let f = FieldSelector::parse("metadata.name=x", "", "configmaps").unwrap();
        assert!(f.matches(&json!({"metadata": {"name": "x"}})));
        assert!(!f.matches(&json!({"metadata": {"name": "y"}})));
    }
}
