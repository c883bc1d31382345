//! Answers checked against the served OpenAPI document.
//!
//! The operation is found with the server's own router, the response by
//! the exact status (an undocumented status is a mismatch), and the body is
//! validated as JSON Schema 2020-12, which OpenAPI 3.1 schemas are.
//!
//! The validation is closed-world: an object member the document does not
//! declare is a mismatch, so a field added to a response type without the
//! schema following it fails the tests. Plain JSON Schema leaves objects
//! open, so each schema that lists `properties` gets
//! `additionalProperties: false`; an `allOf` of objects (what
//! `#[serde(flatten)]` becomes) is first merged into one object, since
//! closing its parts separately would refuse every member of the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use http::{HeaderMap, Method};
use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

/// The document and the validators compiled so far.
struct Contract {
    doc: Value,
    /// `components.schemas`, closed.
    schemas: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let doc: Value = serde_json::from_slice(&lms_http::openapi::json()).unwrap();
        let originals = doc["components"]["schemas"].as_object().unwrap().clone();
        let schemas = originals
            .iter()
            .map(|(name, schema)| (name.clone(), close(schema, &originals, true)))
            .collect::<Map<_, _>>();
        Contract {
            doc,
            schemas: Value::Object(schemas),
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// The documented response for an answer: (a name for messages, the
/// response object).
fn documented<'a>(
    doc: &'a Value,
    method: &Method,
    path: &str,
    status: u16,
) -> Result<(String, &'a Value), String> {
    // HEAD is GET without the body (checked in `check`); OPTIONS answers
    // every routed path with 204 and `Allow`, or a 404 problem elsewhere.
    if method == Method::OPTIONS && status == 204 {
        return Ok(("OPTIONS".to_owned(), &Value::Null));
    }
    let documented_as = if method == Method::HEAD {
        Method::GET
    } else {
        method.clone()
    };
    let method = &documented_as;
    let (name, response) = match lms_http::openapi::route_pattern(method, path) {
        Some(pattern) => {
            let op = &doc["paths"][pattern.as_str()][method.as_str().to_ascii_lowercase()];
            if !op.is_object() {
                return Err(format!("no operation {method} {pattern} in the document"));
            }
            let response = op["responses"]
                .get(status.to_string())
                .ok_or_else(|| format!("{method} {pattern} does not document {status}"))?;
            (format!("{method} {pattern} {status}"), response)
        }
        // Unrouted requests answer the shared problem responses.
        None => {
            let name = match status {
                404 => "NotFound",
                405 => "MethodNotAllowed",
                _ => return Err(format!("an unrouted request answered {status}")),
            };
            (name.to_owned(), &doc["components"]["responses"][name])
        }
    };
    let response = match response["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.strip_prefix('#').unwrap())
            .ok_or_else(|| format!("dangling {r}"))?,
        None => response,
    };
    Ok((name, response))
}

/// Checks one answer; the error says what does not match.
pub fn check(
    method: &Method,
    path: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let contract = contract();
    let (name, response) = documented(&contract.doc, method, path, status)?;
    if method == Method::HEAD {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!("HEAD {name} came with a body"))
        };
    }
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!("{name} documents no body, but one came"))
        };
    };
    let media_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .ok_or_else(|| format!("{name} has no content type"))?;
    // Files are documented as `*/*`: they keep the type they were stored with.
    let schema = content
        .get(media_type)
        .or_else(|| content.get("*/*"))
        .map(|c| &c["schema"])
        .ok_or_else(|| format!("{name} documents no {media_type} body"))?;
    if schema["format"] == "binary" {
        return Ok(());
    }
    // A text body (the metrics exposition) is checked as one string.
    let instance: Value = if media_type.ends_with("json") {
        serde_json::from_slice(body).map_err(|e| format!("{name}: the body is not JSON: {e}"))?
    } else {
        let text = std::str::from_utf8(body).map_err(|e| format!("{name}: not UTF-8: {e}"))?;
        Value::String(text.to_owned())
    };
    let validator = validator(contract, &format!("{name} {media_type}"), schema)?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}", errors.join("; ")))
    }
}

fn validator(contract: &Contract, key: &str, schema: &Value) -> Result<Arc<Validator>, String> {
    let mut cache = contract.validators.lock().unwrap();
    if let Some(v) = cache.get(key) {
        return Ok(v.clone());
    }
    let originals = contract.doc["components"]["schemas"].as_object().unwrap();
    // `#/components/schemas/...` references resolve inside this root.
    let mut root = close(schema, originals, true);
    let map = root.as_object_mut().unwrap();
    map.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    map.insert("components".into(), json!({"schemas": contract.schemas}));
    let compiled = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("{key}: the schema does not compile: {e}"))?;
    let compiled = Arc::new(compiled);
    cache.insert(key.to_owned(), compiled.clone());
    Ok(compiled)
}

/// `schema` with every object that lists `properties` closed (when
/// `closing`), and each `allOf` of objects merged into one object.
pub fn close(schema: &Value, originals: &Map<String, Value>, closing: bool) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut map = map.clone();
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for value in properties.values_mut() {
            *value = close(value, originals, true);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(value @ Value::Object(_)) = map.get_mut(key) {
            *value = close(value, originals, true);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = map.get_mut(key) {
            for branch in branches {
                *branch = close(branch, originals, closing);
            }
        }
    }
    if let Some(Value::Array(parts)) = map.remove("allOf") {
        // Parts are merged open; the merged object is closed below.
        let parts: Vec<Value> = parts
            .iter()
            .map(|part| close(&resolve(part, originals), originals, false))
            .collect();
        if parts.iter().all(is_plain_object) {
            let mut required: Vec<Value> = Vec::new();
            let mut properties = Map::new();
            for part in &parts {
                if let Some(Value::Object(p)) = part.get("properties") {
                    properties.extend(p.clone());
                }
                if let Some(Value::Array(r)) = part.get("required") {
                    required.extend(r.iter().cloned());
                }
            }
            if let Some(Value::Object(p)) = map.get("properties") {
                properties.extend(p.clone());
            }
            if let Some(Value::Array(r)) = map.get("required") {
                required.extend(r.iter().cloned());
            }
            map.insert("type".into(), json!("object"));
            map.insert("properties".into(), Value::Object(properties));
            if !required.is_empty() {
                map.insert("required".into(), Value::Array(required));
            }
        } else {
            map.insert("allOf".into(), Value::Array(parts));
        }
    }
    if closing && map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(map)
}

/// A `$ref` to a component schema replaced by the component.
fn resolve(schema: &Value, originals: &Map<String, Value>) -> Value {
    match schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => resolve(&originals[name], originals),
        None => schema.clone(),
    }
}

/// An object schema that merging loses nothing of.
fn is_plain_object(schema: &Value) -> bool {
    schema.as_object().is_some_and(|m| {
        m.contains_key("properties")
            && m.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "type" | "properties" | "required" | "description" | "title"
                )
            })
    })
}
