//! The OpenAPI 3 document, generated from the route table: every route the router serves is in
//! it, with its parameters, the roles that may call it, and the error shape.

use axum::Json;
use axum::http::Method;

use super::ErrorCode;
use super::routes::{RouteSpec, table};

/// `GET /v1/openapi.json`.
pub async fn document() -> Json<serde_json::Value> {
    Json(build(&table()))
}

/// Builds the document from routes.
pub fn build(routes: &[RouteSpec]) -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for route in routes {
        let path = paths.entry(route.path).or_insert_with(|| serde_json::json!({}));
        let method = route.method.as_str().to_ascii_lowercase();
        path[method] = operation(route);
    }
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
    let table: Vec<serde_json::Value> = ErrorCode::ALL
        .iter()
        .map(|c| serde_json::json!({ "code": c.code(), "status": c.status().as_u16(), "description": c.description() }))
        .collect();
    serde_json::json!({
        "openapi": "3.0.3",
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
            "schemas": {
                "Error": {
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
                }
            }
        }
    })
}

fn operation(route: &RouteSpec) -> serde_json::Value {
    let parameters: Vec<serde_json::Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| serde_json::json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    let id = format!(
        "{}{}",
        route.method.as_str().to_ascii_lowercase(),
        route.path.replace(['/', '{', '}', '-', '.'], "_")
    );
    let mut operation = serde_json::json!({
        "operationId": id,
        "summary": route.summary,
        "parameters": parameters,
        "responses": {
            "200": { "description": "Success.", "content": { "application/json": { "schema": {} } } },
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
    if matches!(route.method, Method::POST | Method::PUT | Method::PATCH) {
        let content = if route.path == "/v1/plugins" { "application/wasm" } else { "application/json" };
        operation["requestBody"] =
            serde_json::json!({ "required": false, "content": { content: { "schema": {} } } });
    }
    operation
}
