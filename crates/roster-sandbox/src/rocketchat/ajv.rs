//! The subset of ajv (v8, `coerceTypes: true`, first error only) that Rocket.Chat's REST
//! parameter schemas use, with ajv's messages.
//!
//! Keyword order for an object, as ajv evaluates it: `type`, `required` (in schema order),
//! `additionalProperties`, then `properties` (in schema order).

use serde_json::{Map, Value};

#[derive(Clone, Debug)]
pub enum Type {
    String,
    Boolean,
    Number,
    Array(Box<Type>),
    /// An object, with a nested schema or anything.
    Object(Option<Box<Obj>>),
}

#[derive(Clone, Debug)]
pub struct Prop {
    pub name: &'static str,
    pub ty: Type,
    pub nullable: bool,
    pub min_length: Option<usize>,
    /// Arrays: `minItems`.
    pub min_items: Option<usize>,
    /// Arrays: `uniqueItems`.
    pub unique_items: bool,
}

/// A property of type `ty`, not nullable.
pub fn prop(name: &'static str, ty: Type) -> Prop {
    Prop {
        name,
        ty,
        nullable: false,
        min_length: None,
        min_items: None,
        unique_items: false,
    }
}

/// A nullable property.
pub fn nullable(name: &'static str, ty: Type) -> Prop {
    Prop {
        name,
        ty,
        nullable: true,
        min_length: None,
        min_items: None,
        unique_items: false,
    }
}

#[derive(Clone, Debug)]
pub struct Obj {
    pub props: Vec<Prop>,
    pub required: Vec<&'static str>,
    pub additional: bool,
}

pub fn strings() -> Type {
    Type::Array(Box::new(Type::String))
}

/// Validates (and coerces in place) an object; Err = ajv's message.
pub fn validate(schema: &Obj, data: &mut Value) -> Result<(), String> {
    let Value::Object(map) = data else {
        return Err("must be object".into());
    };
    validate_map(schema, map)
}

fn validate_map(schema: &Obj, map: &mut Map<String, Value>) -> Result<(), String> {
    for r in &schema.required {
        if !map.contains_key(*r) {
            return Err(format!("must have required property '{r}'"));
        }
    }
    if !schema.additional
        && map
            .keys()
            .any(|k| !schema.props.iter().any(|p| p.name == k.as_str()))
    {
        return Err("must NOT have additional properties".into());
    }
    for p in &schema.props {
        if let Some(v) = map.get_mut(p.name) {
            if p.nullable && v.is_null() {
                continue;
            }
            // ajv's array keywords run minItems, then uniqueItems, then items (the order its
            // vocabularies register them), after the type check.
            if let (Type::Array(_), Value::Array(items)) = (&p.ty, &*v) {
                if let Some(min) = p.min_items
                    && items.len() < min
                {
                    return Err(format!("must NOT have fewer than {min} items"));
                }
                if p.unique_items
                    && let Some((j, i)) = duplicate(items)
                {
                    return Err(format!(
                        "must NOT have duplicate items (items ## {j} and {i} are identical)"
                    ));
                }
            }
            if let Err(e) = check_type(&p.ty, v) {
                // A nullable type is `[type, "null"]` to ajv: when the first coercion fails,
                // `""`, `0` and `false` coerce to null (ajv `lib/compile/validate/dataType.ts`,
                // `coerceData`); the message names the first type only.
                let nullish = matches!(&*v, Value::String(s) if s.is_empty())
                    || matches!(&*v, Value::Bool(false))
                    || v.as_f64() == Some(0.0);
                if p.nullable && nullish {
                    *v = Value::Null;
                    continue;
                }
                return Err(e);
            }
            if let (Some(min), Value::String(s)) = (p.min_length, &*v)
                && s.chars().count() < min
            {
                return Err(format!("must NOT have fewer than {min} characters"));
            }
        }
    }
    Ok(())
}

/// ajv's `uniqueItems` search, as the (j, i) its message names: for scalar items (its
/// `loopN`) from the end, remembering each item's index, so j is the LATER index; for
/// objects and arrays (`loopN2`) every pair from the end, so j is the earlier one.
fn duplicate(items: &[Value]) -> Option<(usize, usize)> {
    let scalar = items.iter().all(|v| !v.is_object() && !v.is_array());
    if scalar {
        let mut seen: Vec<(&Value, usize)> = Vec::new();
        for i in (0..items.len()).rev() {
            if let Some((_, j)) = seen.iter().find(|(v, _)| **v == items[i]) {
                return Some((*j, i));
            }
            seen.push((&items[i], i));
        }
        return None;
    }
    for i in (0..items.len()).rev() {
        for j in (0..i).rev() {
            if items[i] == items[j] {
                return Some((j, i));
            }
        }
    }
    None
}

/// `anyOf`: the first branch that passes wins; otherwise every branch's first error plus
/// ajv's own, joined the way Rocket.Chat joins them (`"\n "`).
pub fn validate_any_of(branches: &[Obj], data: &mut Value) -> Result<(), String> {
    let mut messages = Vec::new();
    for b in branches {
        let mut candidate = data.clone();
        match validate(b, &mut candidate) {
            Ok(()) => {
                *data = candidate;
                return Ok(());
            }
            Err(m) => messages.push(m),
        }
    }
    messages.push("must match a schema in anyOf".into());
    Err(messages.join("\n "))
}

fn check_type(ty: &Type, v: &mut Value) -> Result<(), String> {
    match ty {
        Type::String => {
            let coerced = match &*v {
                Value::String(_) => return Ok(()),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => String::new(),
                _ => return Err("must be string".into()),
            };
            *v = Value::String(coerced);
            Ok(())
        }
        Type::Boolean => {
            let coerced = match &*v {
                Value::Bool(_) => return Ok(()),
                Value::String(s) if s == "true" => true,
                Value::String(s) if s == "false" => false,
                Value::Number(n) if n.as_f64() == Some(1.0) => true,
                Value::Number(n) if n.as_f64() == Some(0.0) => false,
                Value::Null => false,
                _ => return Err("must be boolean".into()),
            };
            *v = Value::Bool(coerced);
            Ok(())
        }
        Type::Number => {
            let coerced = match &*v {
                Value::Number(_) => return Ok(()),
                Value::String(s) if !s.trim().is_empty() => match s.trim().parse::<f64>() {
                    Ok(f) if f.is_finite() => f,
                    _ => return Err("must be number".into()),
                },
                Value::Bool(b) => f64::from(u8::from(*b)),
                Value::Null => 0.0,
                _ => return Err("must be number".into()),
            };
            *v = serde_json::Number::from_f64(coerced)
                .map(Value::Number)
                .unwrap_or(Value::Null);
            Ok(())
        }
        Type::Array(item) => match v {
            Value::Array(items) => {
                for it in items.iter_mut() {
                    check_type(item, it)?;
                }
                Ok(())
            }
            _ => Err("must be array".into()),
        },
        Type::Object(schema) => match v {
            Value::Object(map) => match schema {
                Some(s) => validate_map(s, map),
                None => Ok(()),
            },
            _ => Err("must be object".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Obj {
        Obj {
            props: vec![prop("a", Type::String), nullable("b", Type::Boolean)],
            required: vec!["a"],
            additional: false,
        }
    }

    #[test]
    fn order_and_coercion() {
        let s = schema();
        assert_eq!(
            validate(&s, &mut json!({"x": 1})).unwrap_err(),
            "must have required property 'a'"
        );
        assert_eq!(
            validate(&s, &mut json!({"a": "1", "x": 1})).unwrap_err(),
            "must NOT have additional properties"
        );
        let mut v = json!({"a": 5, "b": "true"});
        validate(&s, &mut v).unwrap();
        assert_eq!(v, json!({"a": "5", "b": true}));
        assert_eq!(
            validate(&s, &mut json!({"a": [1]})).unwrap_err(),
            "must be string"
        );
        assert_eq!(
            validate(&s, &mut json!({"a": "x", "b": "yes"})).unwrap_err(),
            "must be boolean"
        );
    }

    #[test]
    fn array_keywords_in_ajvs_order() {
        let mut members = prop("m", strings());
        members.min_items = Some(1);
        members.unique_items = true;
        let s = Obj {
            props: vec![members],
            required: vec![],
            additional: false,
        };
        assert_eq!(
            validate(&s, &mut json!({"m": []})).unwrap_err(),
            "must NOT have fewer than 1 items"
        );
        // Scalars: the later index first; objects: the earlier one.
        assert_eq!(
            validate(&s, &mut json!({"m": ["a", "b", "a"]})).unwrap_err(),
            "must NOT have duplicate items (items ## 2 and 0 are identical)"
        );
        assert_eq!(duplicate(&[json!({"a": 1}), json!({"a": 1})]), Some((0, 1)));
        assert_eq!(
            validate(&s, &mut json!({"m": "x"})).unwrap_err(),
            "must be array"
        );
    }
}
