//! A small, pure JSON Schema validator for ability inputs and outputs: a fixed subset of
//! draft 2020-12 that every node implements alike, so the rules may judge an input or an
//! output against its schema and every node reaches the same verdict (docs/abilities.md §5).
//!
//! The subset is [`SUBSET`] (`tim-json-schema/1`): `type`, `enum`, `const`, `properties`,
//! `required`, `additionalProperties`, `items`, `minItems`, `maxItems`, `minLength`,
//! `maxLength`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `allOf`, `anyOf`,
//! `oneOf`, `not`, and boolean schemas. Annotations (`title`, `description`, `default`,
//! `examples`, `format`, `$schema`, `$id`, `$comment`, `deprecated`, `readOnly`, `writeOnly`)
//! are allowed and ignored (`format` is an annotation in 2020-12 unless a validator opts in).
//! A schema using any other keyword (`pattern`, `$ref`, …) is refused when it is declared,
//! never silently ignored, so no node's verdict depends on a keyword it skipped. Changing the
//! subset changes verdicts: it takes a new schema version of the space.

use serde_json::{Map, Value};

/// The name of the subset, as docs/abilities.md names it.
pub const SUBSET: &str = "tim-json-schema/1";

/// Deepest schema nesting accepted.
pub const MAX_DEPTH: usize = 32;

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "format",
    "deprecated",
    "readOnly",
    "writeOnly",
];

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// Checks that `schema` is a schema of the subset: an object or a boolean, with known
/// keywords only, each of its shape. The error names the keyword and where it is.
pub fn check(schema: &Value) -> Result<(), String> {
    check_at(schema, "#", 0)
}

fn check_at(schema: &Value, path: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{path}: schemas nest at most {MAX_DEPTH} deep"));
    }
    let obj = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(o) => o,
        _ => return Err(format!("{path}: a schema is an object or a boolean")),
    };
    for (k, v) in obj {
        let at = format!("{path}/{k}");
        let ok = match k.as_str() {
            k if ANNOTATIONS.contains(&k) => true,
            "type" => match v {
                Value::String(t) => TYPES.contains(&t.as_str()),
                Value::Array(ts) => ts
                    .iter()
                    .all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t))),
                _ => false,
            },
            "enum" => v.is_array(),
            "const" => true,
            "required" => v.as_array().is_some_and(|r| r.iter().all(Value::is_string)),
            "properties" => {
                let Some(props) = v.as_object() else {
                    return Err(format!("{at}: an object of schemas"));
                };
                for (name, s) in props {
                    check_at(s, &format!("{at}/{name}"), depth + 1)?;
                }
                true
            }
            "additionalProperties" | "items" | "not" => {
                check_at(v, &at, depth + 1)?;
                true
            }
            "allOf" | "anyOf" | "oneOf" => {
                let Some(list) = v.as_array().filter(|l| !l.is_empty()) else {
                    return Err(format!("{at}: a non-empty array of schemas"));
                };
                for (i, s) in list.iter().enumerate() {
                    check_at(s, &format!("{at}/{i}"), depth + 1)?;
                }
                true
            }
            "minItems" | "maxItems" | "minLength" | "maxLength" => v.is_u64(),
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => v.is_number(),
            other => {
                return Err(format!(
                    "{path}: keyword `{other}` is not in the subset {SUBSET} that every node \
                     checks (docs/abilities.md §5)"
                ))
            }
        };
        if !ok {
            return Err(format!("{at}: malformed `{k}`"));
        }
    }
    Ok(())
}

/// Validates `instance` against `schema` (a schema [`check`] accepts). The error names the
/// first place that fails and why.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    validate_at(schema, instance, "#")
}

fn validate_at(schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    let obj = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{path}: no value is allowed here")),
        Value::Object(o) => o,
        _ => return Err(format!("{path}: the schema is not a schema")),
    };
    if let Some(t) = obj.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.iter().any(|t| has_type(v, t)) {
            return Err(format!("{path}: expected {}", allowed.join(" or ")));
        }
    }
    if let Some(Value::Array(options)) = obj.get("enum") {
        if !options.iter().any(|o| same(o, v)) {
            return Err(format!("{path}: not one of the allowed values"));
        }
    }
    if let Some(c) = obj.get("const") {
        if !same(c, v) {
            return Err(format!("{path}: must be {c}"));
        }
    }
    match v {
        Value::Object(o) => validate_object(obj, o, path)?,
        Value::Array(items) => {
            bounds(obj, items.len(), "minItems", "maxItems", "items", path)?;
            if let Some(s) = obj.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(s, item, &format!("{path}/{i}"))?;
                }
            }
        }
        Value::String(s) => {
            bounds(
                obj,
                s.chars().count(),
                "minLength",
                "maxLength",
                "characters",
                path,
            )?;
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let limit = |k: &str| obj.get(k).and_then(Value::as_f64);
            let fails = [
                ("minimum", limit("minimum").is_some_and(|m| x < m)),
                ("maximum", limit("maximum").is_some_and(|m| x > m)),
                (
                    "exclusiveMinimum",
                    limit("exclusiveMinimum").is_some_and(|m| x <= m),
                ),
                (
                    "exclusiveMaximum",
                    limit("exclusiveMaximum").is_some_and(|m| x >= m),
                ),
            ];
            if let Some((k, _)) = fails.iter().find(|(_, f)| *f) {
                return Err(format!("{path}: {x} is outside `{k}` {}", obj[*k]));
            }
        }
        _ => {}
    }
    if let Some(Value::Array(all)) = obj.get("allOf") {
        for s in all {
            validate_at(s, v, path)?;
        }
    }
    if let Some(Value::Array(any)) = obj.get("anyOf") {
        if !any.iter().any(|s| validate_at(s, v, path).is_ok()) {
            return Err(format!("{path}: matches none of `anyOf`"));
        }
    }
    if let Some(Value::Array(one)) = obj.get("oneOf") {
        let n = one
            .iter()
            .filter(|s| validate_at(s, v, path).is_ok())
            .count();
        if n != 1 {
            return Err(format!("{path}: matches {n} of `oneOf`, not exactly one"));
        }
    }
    if let Some(s) = obj.get("not") {
        if validate_at(s, v, path).is_ok() {
            return Err(format!("{path}: matches the schema of `not`"));
        }
    }
    Ok(())
}

fn validate_object(
    schema: &Map<String, Value>,
    o: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    if let Some(Value::Array(required)) = schema.get("required") {
        if let Some(missing) = required
            .iter()
            .filter_map(Value::as_str)
            .find(|r| !o.contains_key(*r))
        {
            return Err(format!("{path}: missing required property `{missing}`"));
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    for (k, item) in o {
        let at = format!("{path}/{k}");
        match props.and_then(|p| p.get(k)) {
            Some(s) => validate_at(s, item, &at)?,
            None => {
                if let Some(extra) = schema.get("additionalProperties") {
                    validate_at(extra, item, &at)
                        .map_err(|e| format!("{e} (an additional property)"))?;
                }
            }
        }
    }
    Ok(())
}

/// `min ≤ n ≤ max` for the keywords `min` and `max` of `schema`.
fn bounds(
    schema: &Map<String, Value>,
    n: usize,
    min: &str,
    max: &str,
    what: &str,
    path: &str,
) -> Result<(), String> {
    let n = n as u64;
    if let Some(m) = schema.get(min).and_then(Value::as_u64).filter(|m| n < *m) {
        return Err(format!("{path}: {n} {what}, fewer than `{min}` {m}"));
    }
    if let Some(m) = schema.get(max).and_then(Value::as_u64).filter(|m| n > *m) {
        return Err(format!("{path}: {n} {what}, more than `{max}` {m}"));
    }
    Ok(())
}

fn has_type(v: &Value, t: &str) -> bool {
    match (t, v) {
        ("null", Value::Null)
        | ("boolean", Value::Bool(_))
        | ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("number", Value::Number(_))
        | ("string", Value::String(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality, numbers by value (`1` equals `1.0`), as JSON Schema compares them.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_mcp_style_schema_validates_its_instances() {
        let s = json!({
            "type": "object",
            "title": "summarize",
            "properties": {
                "text": { "type": "string", "minLength": 1, "maxLength": 5, "description": "x" },
                "lang": { "enum": ["en", "fr"] },
                "n": { "type": "integer", "minimum": 1, "exclusiveMaximum": 10 },
                "tags": { "type": "array", "items": { "type": "string" }, "maxItems": 2 }
            },
            "required": ["text"],
            "additionalProperties": false
        });
        check(&s).unwrap();
        validate(
            &s,
            &json!({"text": "héllo", "lang": "fr", "n": 9.0, "tags": ["a"]}),
        )
        .unwrap();
        let fails = [
            (json!({}), "missing required property `text`"),
            (json!({"text": ""}), "fewer than `minLength`"),
            (json!({"text": "héllo!"}), "more than `maxLength`"),
            (json!({"text": "a", "lang": "de"}), "#/lang: not one of"),
            (json!({"text": "a", "n": 10}), "`exclusiveMaximum`"),
            (json!({"text": "a", "n": 1.5}), "expected integer"),
            (
                json!({"text": "a", "tags": ["a", 1]}),
                "#/tags/1: expected string",
            ),
            (json!({"text": "a", "extra": 1}), "additional property"),
            (json!("text"), "expected object"),
        ];
        for (v, why) in fails {
            let e = validate(&s, &v).unwrap_err();
            assert!(e.contains(why), "{v}: `{e}` lacks `{why}`");
        }
    }

    #[test]
    fn combinators_and_boolean_schemas() {
        let s = json!({ "oneOf": [{ "type": "integer" }, { "type": "number", "minimum": 2 }] });
        check(&s).unwrap();
        validate(&s, &json!(1)).unwrap();
        assert!(validate(&s, &json!(3))
            .unwrap_err()
            .contains("2 of `oneOf`"));
        let s = json!({ "anyOf": [false, { "const": 1.0 }], "not": { "type": "string" } });
        validate(&s, &json!(1)).unwrap();
        assert!(validate(&s, &json!(2)).is_err());
        assert!(validate(&json!(false), &json!(null)).is_err());
        validate(&json!(true), &json!(null)).unwrap();
    }

    #[test]
    fn keywords_outside_the_subset_are_refused_not_ignored() {
        for (s, why) in [
            (
                json!({ "type": "string", "pattern": "^a" }),
                "`pattern` is not in the subset",
            ),
            (
                json!({ "$ref": "#/$defs/x" }),
                "`$ref` is not in the subset",
            ),
            (json!({ "type": "strin" }), "malformed `type`"),
            (
                json!({ "properties": { "a": { "minLength": -1 } } }),
                "#/properties/a/minLength",
            ),
            (json!({ "anyOf": [] }), "non-empty array"),
            (json!(3), "an object or a boolean"),
        ] {
            let e = check(&s).unwrap_err();
            assert!(e.contains(why), "{s}: `{e}` lacks `{why}`");
        }
        let mut deep = json!(true);
        for _ in 0..=MAX_DEPTH {
            deep = json!({ "not": deep });
        }
        assert!(check(&deep).unwrap_err().contains("nest at most"));
    }
}
