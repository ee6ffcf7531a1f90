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
    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Body>) -> anyhow::Result<Answer> {
        self.call_once(method, path, body).map(|(answer, _)| answer)
    }

    /// [`Remote::call`], and the path of the next page when the answer is a page of a list
    /// (`Link: <...>; rel="next"`).
    fn call_once(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Body>,
    ) -> anyhow::Result<(Answer, Option<String>)> {
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
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|link| link.to_str().ok())
            .and_then(next_page)
            .map(str::to_owned);
        let text = response.text()?;
        let answer = Answer::from_text(text);
        if status.is_success() {
            return Ok((answer, next));
        }
        let value = answer.value();
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

    /// `GET`; a list is read to its end, page after page.
    pub fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let (mut answer, mut next) = self.call_once(reqwest::Method::GET, path, None)?;
        while let Some(path) = next.take() {
            let (page, after) = self.call_once(reqwest::Method::GET, &path, None)?;
            answer = Answer::concat(answer, page);
            next = after;
        }
        Ok(answer)
    }

    /// `POST` with a JSON body.
    pub fn post(&self, path: &str, body: serde_json::Value) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::POST, path, Some(Body::Json(body)))
    }

    /// `PUT` with a JSON body.
    pub fn put(&self, path: &str, body: serde_json::Value) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::PUT, path, Some(Body::Json(body)))
    }

    /// `PATCH` with a JSON body.
    pub fn patch(&self, path: &str, body: serde_json::Value) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::PATCH, path, Some(Body::Json(body)))
    }

    /// `DELETE`.
    pub fn delete(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::DELETE, path, None)
    }
}

/// A server's JSON answer: its value, and its text with the keys in the order the server wrote
/// them (`serde_json::Value` sorts them), so that a table of it has the columns the same command
/// shows on a data directory.
pub struct Answer {
    value: serde_json::Value,
    text: String,
}

impl Answer {
    /// The answer to a request: JSON, or text (an error page from a proxy) kept as a string.
    fn from_text(text: String) -> Answer {
        match serde_json::from_str(&text) {
            Ok(value) => Answer { value, text },
            Err(_) => {
                let value = serde_json::Value::String(text);
                Answer { text: value.to_string(), value }
            }
        }
    }

    /// An answer made here (several answers added up), as if the server had sent it.
    pub fn from_value(value: serde_json::Value) -> Answer {
        Answer { text: value.to_string(), value }
    }

    /// Several answers as one list, in order.
    pub fn list(answers: Vec<Answer>) -> Answer {
        let text = format!("[{}]", answers.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(","));
        Answer { value: answers.into_iter().map(|a| a.value).collect(), text }
    }

    /// Two pages of one list as one (items in order); anything else keeps the first.
    fn concat(first: Answer, second: Answer) -> Answer {
        match (first.value, second.value) {
            (serde_json::Value::Array(mut items), serde_json::Value::Array(more)) => {
                let inner = |text: &str| {
                    let text = text.trim();
                    text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text).trim().to_owned()
                };
                let parts: Vec<String> =
                    [inner(&first.text), inner(&second.text)].into_iter().filter(|p| !p.is_empty()).collect();
                items.extend(more);
                Answer { value: serde_json::Value::Array(items), text: format!("[{}]", parts.join(",")) }
            }
            (value, _) => Answer { value, text: first.text },
        }
    }

    /// The parsed value.
    pub fn value(&self) -> &serde_json::Value {
        &self.value
    }

    /// The JSON text, keys in the server's order.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A request body.
pub enum Body {
    /// JSON.
    Json(serde_json::Value),
    /// Raw bytes with a content type.
    Bytes(Vec<u8>, &'static str),
}

/// The path of a `Link` header's `rel="next"` URL (`</v1/audit?cursor=...>; rel="next"`).
fn next_page(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        params.contains("rel=\"next\"").then(|| target.trim().strip_prefix('<')?.strip_suffix('>')).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        assert_eq!(next_page("</v1/audit?cursor=0a>; rel=\"next\""), Some("/v1/audit?cursor=0a"));
        assert_eq!(next_page("</a>; rel=\"prev\", </b>; rel=\"next\""), Some("/b"));
        assert_eq!(next_page("</a>; rel=\"prev\""), None);
        assert_eq!(next_page("garbage"), None);
    }

    #[test]
    fn pages_of_a_list_join_in_order_keeping_the_servers_key_order() {
        let page = |text: &str| Answer::from_text(text.to_owned());
        let joined = Answer::concat(page(r#"[{"b":1,"a":2}]"#), page(r#"[{"b":3,"a":4}]"#));
        assert_eq!(joined.text(), r#"[{"b":1,"a":2},{"b":3,"a":4}]"#);
        assert_eq!(joined.value().as_array().map(Vec::len), Some(2));
        let empty_first = Answer::concat(page("[]"), page(r#"[{"x":1}]"#));
        assert_eq!(empty_first.text(), r#"[{"x":1}]"#);
    }
}
