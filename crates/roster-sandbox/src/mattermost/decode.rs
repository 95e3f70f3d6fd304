//! Request bodies decoded the way Go's `encoding/json` and MM's `model` helpers do.
//!
//! `json.NewDecoder(r.Body).Decode(&v)` reads ONE value (anything after it is ignored), matches
//! object keys to fields exactly or else case-insensitively, ignores unknown keys, leaves a
//! field alone on `null`, and fails on any type mismatch.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::store::StringMap;

/// A struct field's Go type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `string` or `*string`.
    Str,
    Bool,
    /// `int64`.
    Int,
    /// `StringMap` / `*StringMap`: an object of strings.
    Map,
}

/// The first JSON value of a body, as `Decoder.Decode` reads it; None = EOF or a syntax error.
pub fn first_value(body: &[u8]) -> Option<Value> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .next()?
        .ok()
}

fn kind_matches(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Str => v.is_string(),
        Kind::Bool => v.is_boolean(),
        Kind::Int => v.as_i64().is_some(),
        // A null inside a map[string]string stores "".
        Kind::Map => v
            .as_object()
            .is_some_and(|m| m.values().all(|x| x.is_string() || x.is_null())),
    }
}

/// The fields of a struct that the body sets (non-null), or Err on anything Go refuses:
/// no value, a syntax error, a non-object, a wrong type.
pub fn decode_struct(
    body: &[u8],
    fields: &[(&'static str, Kind)],
) -> Result<HashMap<&'static str, Value>, ()> {
    let v = first_value(body).ok_or(())?;
    let obj = match v {
        Value::Object(m) => m,
        Value::Null => return Ok(HashMap::new()),
        _ => return Err(()),
    };
    let mut out = HashMap::new();
    let mut failed = false;
    for (key, value) in obj {
        let field = fields.iter().find(|(name, _)| *name == key).or_else(|| {
            fields
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&key))
        });
        let Some(&(name, kind)) = field else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if kind_matches(kind, &value) {
            out.insert(name, value);
        } else {
            failed = true;
        }
    }
    if failed { Err(()) } else { Ok(out) }
}

pub fn get_str(f: &HashMap<&'static str, Value>, name: &str) -> Option<String> {
    f.get(name).and_then(Value::as_str).map(str::to_string)
}

pub fn get_bool(f: &HashMap<&'static str, Value>, name: &str) -> Option<bool> {
    f.get(name).and_then(Value::as_bool)
}

pub fn get_map(f: &HashMap<&'static str, Value>, name: &str) -> Option<StringMap> {
    f.get(name).and_then(Value::as_object).map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect()
    })
}

/// `model.MapFromJSON`: a `map[string]string` with decode errors ignored, so every
/// non-string value reads as "".
pub fn map_from_json(body: &[u8]) -> HashMap<String, String> {
    match first_value(body) {
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s,
                    _ => String::new(),
                };
                (k, s)
            })
            .collect(),
        _ => HashMap::new(),
    }
}

/// `model.StringInterfaceFromJSON`: a `map[string]any`, empty on any error.
pub fn string_interface_from_json(body: &[u8]) -> Map<String, Value> {
    match first_value(body) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// `model.SortedArrayFromJSON`: a `[]string` without duplicates; Ok(empty) for `null`.
pub fn string_array(body: &[u8]) -> Result<Vec<String>, ()> {
    match first_value(body).ok_or(())? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            let mut out: Vec<String> = Vec::with_capacity(items.len());
            let mut seen = std::collections::HashSet::new();
            for item in items {
                // A null element of a []string is "".
                let s = match item {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    _ => return Err(()),
                };
                if seen.insert(s.clone()) {
                    out.push(s);
                }
            }
            Ok(out)
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &[(&str, Kind)] = &[
        ("username", Kind::Str),
        ("email_verified", Kind::Bool),
        ("props", Kind::Map),
        ("create_at", Kind::Int),
    ];

    #[test]
    fn go_struct_decoding() {
        let f = decode_struct(
            br#"{"USERNAME":"a","unknown":[1],"props":{"x":"1","y":null}} trailing"#,
            F,
        )
        .unwrap();
        assert_eq!(get_str(&f, "username").as_deref(), Some("a"));
        assert_eq!(get_map(&f, "props").unwrap()["y"], "");
        assert!(decode_struct(br#"{"username":5}"#, F).is_err());
        assert!(decode_struct(br#"{"create_at":1.5}"#, F).is_err());
        assert!(decode_struct(br#"{"props":{"x":1}}"#, F).is_err());
        assert!(decode_struct(b"[]", F).is_err());
        assert!(decode_struct(b"", F).is_err());
        assert!(decode_struct(b"{\"username\":", F).is_err());
        assert!(decode_struct(b"null", F).unwrap().is_empty());
        assert!(
            decode_struct(br#"{"username":null}"#, F)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn model_helpers() {
        let m = map_from_json(br#"{"roles":["a"],"login_id":"x","token":null}"#);
        assert_eq!(m["roles"], "");
        assert_eq!(m["login_id"], "x");
        assert_eq!(m["token"], "");
        assert!(map_from_json(b"not json").is_empty());
        assert_eq!(string_array(br#"["b","a","b"]"#).unwrap(), ["b", "a"]);
        assert!(string_array(br#"{"a":1}"#).is_err());
        assert!(string_array(br#"[1]"#).is_err());
        assert!(string_array(b"null").unwrap().is_empty());
    }
}
