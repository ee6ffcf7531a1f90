//! The OpenAPI 3 document, generated from the route table: every route the router serves is in
//! it, with its path and query parameters, its request and response bodies as JSON Schemas
//! derived from the Rust types the handlers read and answer (`schemars`), the roles that may
//! call it, and the error shape with the table of codes. A handler and its schema share one type,
//! so they cannot drift apart; the suite runs schemathesis against the served document to prove
//! that the server keeps what the document promises.

use axum::Json;
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::ErrorCode;
use super::routes::{RouteSpec, table};

/// Makes a type's schema with a generator (a `$ref` for named types, the schema otherwise).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// [`SchemaFn`] for `T`.
pub fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What a route reads besides its path: a query string and a body.
#[derive(Clone, Copy, Default)]
pub struct Takes {
    /// A struct whose fields are the query parameters.
    pub query: Option<SchemaFn>,
    /// The request body.
    pub body: Option<RequestBody>,
}

/// A request body.
#[derive(Clone, Copy)]
pub enum RequestBody {
    /// A JSON document of this type.
    Json(SchemaFn),
    /// Bytes of one of these media types, each with its schema.
    Raw(&'static [(&'static str, SchemaFn)]),
}

/// What a route answers on success.
#[derive(Clone, Copy)]
pub struct Answers {
    /// The status code.
    pub status: u16,
    /// A JSON body of this type, if it answers JSON.
    pub json: Option<SchemaFn>,
    /// Other media types it may answer (streams, text), as strings.
    pub text: &'static [&'static str],
    /// A page of a list: a `Link` header leads to the next.
    pub paged: bool,
}

impl Default for Answers {
    fn default() -> Self {
        Answers { status: 200, json: None, text: &[], paged: false }
    }
}

/// A body of bytes: a string of any content (NDJSON, CSV, a Wasm component).
pub fn bytes(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "type": "string", "format": "binary" })
}

/// An NDJSON body: one `T` per line (the document names the type; the bytes are lines).
pub fn ndjson<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let line = generator.subschema_for::<T>();
    schemars::json_schema!({
        "type": "string",
        "description": "One JSON document per line, each a `x-ndjson-line`; a line that does not fit is refused in its own result.",
        "x-ndjson-line": line
    })
}

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<serde_json::Value> {
    Json(build(&table()))
}

/// A generator for one side of the API: requests are read as `Deserialize` reads them (a field
/// with a default may be left out), answers as `Serialize` writes them.
/// OpenAPI 3.1's schemas are JSON Schema 2020-12, which says what 3.0 cannot (`propertyNames`
/// for a map's keys, `null` as a type).
fn generator(contract: Contract, inline: bool) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.contract = contract;
            s.inline_subschemas = inline;
            s.meta_schema = None;
            s.definitions_path = "/components/schemas".into();
        })
        .into_generator()
}

/// The generator's transforms applied to a schema that did not come from `root_schema_for`,
/// with every sized integer bounded as the Rust type is.
fn finished(generator: &mut SchemaGenerator, mut schema: Schema) -> serde_json::Value {
    for transform in generator.transforms_mut() {
        transform.transform(&mut schema);
    }
    let mut value = schema.to_value();
    bound_integers(&mut value);
    value
}

/// Gives every integer schema with a Rust width (`format: uint32`, ...) the bounds of that width,
/// so a document-valid number always fits the field that reads it.
fn bound_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(object) => {
            let bounds: Option<(i128, i128)> = match object.get("format").and_then(|f| f.as_str()) {
                Some("uint8") => Some((0, u8::MAX.into())),
                Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                Some("uint16") => Some((0, u16::MAX.into())),
                Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                Some("uint32") => Some((0, u32::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("uint64") | Some("uint") => Some((0, u64::MAX.into())),
                Some("int64") | Some("int") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                let number = |n: i128| serde_json::Number::from_i128(n).map(serde_json::Value::Number);
                if !object.contains_key("minimum") {
                    if let Some(min) = number(min) {
                        object.insert("minimum".into(), min);
                    }
                }
                if !object.contains_key("maximum") {
                    if let Some(max) = number(max) {
                        object.insert("maximum".into(), max);
                    }
                }
            }
            object.values_mut().for_each(bound_integers);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// Builds the document from routes.
pub fn build(routes: &[RouteSpec]) -> serde_json::Value {
    // Requests are inlined, so a type read and answered (a campaign) keeps one definition in
    // `components/schemas`: the answered one.
    let mut requests = generator(Contract::Deserialize, true);
    let mut answers = generator(Contract::Serialize, false);
    let mut paths = serde_json::Map::new();
    for route in routes {
        let path = paths.entry(route.path).or_insert_with(|| serde_json::json!({}));
        let method = route.method.as_str().to_ascii_lowercase();
        path[method] = operation(route, &mut requests, &mut answers);
    }
    let mut schemas = answers.take_definitions(true);
    schemas.values_mut().for_each(bound_integers);
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
    let table: Vec<serde_json::Value> = ErrorCode::ALL
        .iter()
        .map(|c| serde_json::json!({ "code": c.code(), "status": c.status().as_u16(), "description": c.description() }))
        .collect();
    schemas.insert(
        "Error".into(),
        serde_json::json!({
            "type": "object",
            "required": ["error", "code", "message"],
            "properties": {
                "code": { "type": "string", "enum": codes.clone(), "description": "The same as `error.code`, where Segment's client libraries read it." },
                "message": { "type": "string", "description": "The same as `error.message`." },
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "enum": codes, "description": "Stable snake_case code; `x-error-codes` gives each one's status and meaning." },
                        "message": { "type": "string", "description": "What went wrong and what to do." }
                    }
                }
            }
        }),
    );
    serde_json::json!({
        "openapi": "3.1.0",
        "x-error-codes": table,
        "info": {
            "title": "Baton",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Admin and ingest API of Baton, a WebAssembly plugin host for marketing rules and automations."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "An API token (bt_...)." },
                "writeKey": { "type": "http", "scheme": "basic", "description": "Segment-style: the token as the user name." }
            },
            "responses": {
                "Error": {
                    "description": "An error with a stable code.",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            },
            "schemas": schemas
        }
    })
}

/// The schema of a path parameter: what the handler parses it as.
fn path_parameter(path: &str, name: &str, requests: &mut SchemaGenerator) -> serde_json::Value {
    let lower_name = serde_json::json!({ "type": "string", "pattern": "^[a-z0-9_-]{1,64}$" });
    match name {
        "hash" => {
            let schema = schema_of::<crate::plugin::ContentHash>(requests);
            finished(requests, schema)
        }
        "id" if path.starts_with("/v1/profiles") => {
            let schema = schema_of::<crate::profile::ProfileId>(requests);
            finished(requests, schema)
        }
        "id" if path.starts_with("/v1/tokens") => {
            serde_json::json!({ "type": "string", "pattern": "^[0-9a-f]{12}$" })
        }
        "id" => lower_name,
        "name" if path.starts_with("/v1/secrets") => {
            serde_json::json!({ "type": "string", "pattern": "^[A-Za-z0-9_]{1,128}$" })
        }
        "name" => lower_name,
        "slot" => serde_json::json!({
            "type": "string",
            "pattern": "^(segment|personalizer|channel|personalizer:.+|kpi:.+)$",
            "description": "segment, personalizer, personalizer:<name>, channel or kpi:<name>."
        }),
        "token" => serde_json::json!({
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
            "description": "The signed token of an unsubscribe link."
        }),
        "transition" => serde_json::json!({ "type": "string", "enum": ["activate", "pause", "end"] }),
        "call" => serde_json::json!({
            "type": "string",
            "enum": ["identify", "track", "page", "screen", "group", "alias", "i", "t", "p", "s", "g", "a"],
            "description": "The call; analytics.js uses the one-letter forms."
        }),
        _ => serde_json::json!({ "type": "string" }),
    }
}

/// The query parameters of a route: one per property of its query type.
fn query_parameters(query: SchemaFn, requests: &mut SchemaGenerator) -> Vec<serde_json::Value> {
    let schema = query(requests);
    let schema = finished(requests, schema);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            let description = property.as_object_mut().and_then(|p| p.remove("description"));
            let mut parameter = serde_json::json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": property,
            });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

fn operation(
    route: &RouteSpec,
    requests: &mut SchemaGenerator,
    answers: &mut SchemaGenerator,
) -> serde_json::Value {
    let mut parameters: Vec<serde_json::Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            serde_json::json!({
                "name": name,
                "in": "path",
                "required": true,
                "schema": path_parameter(route.path, name, requests)
            })
        })
        .collect();
    if let Some(query) = route.takes.query {
        parameters.extend(query_parameters(query, requests));
    }
    let id = format!(
        "{}{}",
        route.method.as_str().to_ascii_lowercase(),
        route.path.replace(['/', '{', '}', '-', '.'], "_")
    );
    let mut content = serde_json::Map::new();
    if let Some(json) = route.answers.json {
        let schema = json(answers);
        content.insert("application/json".into(), serde_json::json!({ "schema": finished(answers, schema) }));
    }
    for media in route.answers.text {
        content.insert((*media).into(), serde_json::json!({ "schema": { "type": "string" } }));
    }
    let mut success = serde_json::json!({ "description": "Success.", "content": content });
    if route.answers.paged {
        success["headers"] = serde_json::json!({
            "Link": {
                "description": "`<URL>; rel=\"next\"`: the next page, when there is one (the same query with a `cursor`).",
                "schema": { "type": "string" }
            }
        });
    }
    let mut operation = serde_json::json!({
        "operationId": id,
        "summary": route.summary,
        "parameters": parameters,
        "responses": {
            route.answers.status.to_string(): success,
            "default": { "$ref": "#/components/responses/Error" }
        }
    });
    match route.roles {
        None => operation["security"] = serde_json::json!([]),
        Some(roles) => {
            operation["security"] = serde_json::json!([{ "bearer": [] }, { "writeKey": [] }]);
            let mut allowed: Vec<String> = roles.iter().map(|r| format!("{r:?}").to_lowercase()).collect();
            allowed.insert(0, "admin".into());
            operation["x-baton-roles"] = serde_json::json!(allowed);
        }
    }
    match route.takes.body {
        None => {}
        Some(RequestBody::Json(schema)) => {
            let schema = schema(requests);
            operation["requestBody"] = serde_json::json!({
                "required": true,
                "content": { "application/json": { "schema": finished(requests, schema) } }
            });
        }
        Some(RequestBody::Raw(media)) => {
            let mut content = serde_json::Map::new();
            for (media, schema) in media {
                let schema = schema(requests);
                content.insert((*media).into(), serde_json::json!({ "schema": finished(requests, schema) }));
            }
            operation["requestBody"] = serde_json::json!({ "required": true, "content": content });
        }
    }
    operation
}
