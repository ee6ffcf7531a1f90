//! The CLI's remote mode: the same commands, through a running server's API.

use anyhow::{Context, bail};

/// A client of a running Baton server.
pub struct Remote {
    base: String,
    token: String,
    client: reqwest::blocking::Client,
}

impl Remote {
    /// A client of the server at `base` (for example `http://127.0.0.1:8080`), using `token`.
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let token = token.context("--server needs a token: pass --token or set BATON_TOKEN")?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client =
            reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(300)).build()?;
        Ok(Remote { base: base.trim_end_matches('/').to_owned(), token, client })
    }

    /// Sends a request and returns the JSON answer, or the API's error as `code: message`.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Body>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut request =
            self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        request = match body {
            Some(Body::Json(value)) => request.json(&value),
            Some(Body::Bytes(bytes, content_type)) => {
                request.header("content-type", content_type).body(bytes)
            }
            None => request,
        };
        let response = request.send().with_context(|| format!("reaching {}", self.base))?;
        let status = response.status();
        let text = response.text()?;
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        match (value["error"]["code"].as_str(), value["error"]["message"].as_str()) {
            (Some(code), Some(message)) => bail!("{code}: {message}"),
            _ => bail!("the server answered {status}"),
        }
    }

    /// `GET` a streamed answer (an export) into `out`; returns the bytes written.
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> anyhow::Result<u64> {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .with_context(|| format!("reaching {}", self.base))?;
        if !response.status().is_success() {
            let status = response.status();
            let value: serde_json::Value = response.json().unwrap_or_default();
            match (value["error"]["code"].as_str(), value["error"]["message"].as_str()) {
                (Some(code), Some(message)) => bail!("{code}: {message}"),
                _ => bail!("the server answered {status}"),
            }
        }
        Ok(response.copy_to(out)?)
    }

    /// `GET`.
    pub fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call(reqwest::Method::GET, path, None)
    }

    /// `POST` with a JSON body.
    pub fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.call(reqwest::Method::POST, path, Some(Body::Json(body)))
    }

    /// `PUT` with a JSON body.
    pub fn put(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.call(reqwest::Method::PUT, path, Some(Body::Json(body)))
    }

    /// `PATCH` with a JSON body.
    pub fn patch(&self, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.call(reqwest::Method::PATCH, path, Some(Body::Json(body)))
    }

    /// `DELETE`.
    pub fn delete(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call(reqwest::Method::DELETE, path, None)
    }
}

/// A request body.
pub enum Body {
    /// JSON.
    Json(serde_json::Value),
    /// Raw bytes with a content type.
    Bytes(Vec<u8>, &'static str),
}
