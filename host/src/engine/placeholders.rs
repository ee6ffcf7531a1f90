//! Secret placeholders in vendor requests: `{{secret:NAME}}`, `{{base64:TEXT}}` and
//! `{{hmac-sha256:NAME}}`, which a channel adapter writes where a credential goes and the host
//! replaces at the moment of sending.
//!
//! Only the adapter may mark a placeholder. Everything that reaches `build` from data (traits,
//! event properties, message ids, a personalizer's rendered text) passes through a [`Fence`]
//! first: each `{{` becomes `{{baton_literal_<nonce>_`, with a nonce fresh for that build call,
//! so no placeholder the host recognises can come out of data, however the adapter copies it.
//! After substitution the fence comes down again and the vendor receives the data as it was,
//! placeholder-looking text included, literally.
//!
//! A secret is substituted only into a request to one of the hosts it is scoped to, whatever the
//! binding grants; the values substituted are remembered so the vendor's answer can be scrubbed
//! of them before the adapter's `classify` or any record sees it.
//!
//! May depend on: the store's secrets, the contract's message and request types.

use base64::Engine as _;

use crate::campaign::Grants;
use crate::contract::{HttpRequest, HttpResponse, Message};
use crate::store::{Storage, StoredSecret};

const SECRET: &str = "{{secret:";
const BASE64: &str = "{{base64:";
const HMAC: &str = "{{hmac-sha256:";

/// What stands in a scrubbed response where a secret was.
const SCRUBBED: &str = "[secret]";

/// Neutralises `{{` in data for one build call.
pub(crate) struct Fence {
    /// `baton_literal_<nonce>_`: letters, digits and `_` only, so JSON, URL and HTML encoding
    /// leave it intact.
    tag: String,
}

impl Fence {
    /// A fence with a fresh random nonce.
    pub(crate) fn new() -> Result<Fence, String> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        Ok(Fence { tag: format!("baton_literal_{}_", hex::encode(nonce)) })
    }

    fn seal(&self, text: &str) -> String {
        if text.contains("{{") { text.replace("{{", &format!("{{{{{}", self.tag)) } else { text.to_owned() }
    }

    /// Every text field of a message, fenced. The adapter sees the same content, with each
    /// `{{` tagged.
    pub(crate) fn seal_message(&self, message: &Message) -> Message {
        Message {
            channel: self.seal(&message.channel),
            recipient: self.seal(&message.recipient),
            subject: message.subject.as_deref().map(|s| self.seal(s)),
            body: self.seal(&message.body),
            html: message.html.as_deref().map(|s| self.seal(s)),
            variant_id: message.variant_id.as_deref().map(|s| self.seal(s)),
            data: self.seal(&message.data),
            idempotency_key: self.seal(&message.idempotency_key),
        }
    }

    /// Takes the fence down in a finished request: data's `{{` comes back as it was.
    pub(crate) fn open(&self, request: &mut HttpRequest) {
        request.url = request.url.replace(&self.tag, "");
        for (name, value) in request.headers.iter_mut() {
            *name = name.replace(&self.tag, "");
            *value = value.replace(&self.tag, "");
        }
        request.body = remove_all(&request.body, self.tag.as_bytes());
    }
}

/// Substitutes placeholders in one request, checking grants and scopes.
pub(crate) struct Substitution<'a> {
    storage: &'a Storage,
    grants: &'a Grants,
    host: &'a str,
    /// Every secret value and every credential built from one that went into the request.
    pub exposed: Vec<String>,
}

impl<'a> Substitution<'a> {
    pub(crate) fn new(storage: &'a Storage, grants: &'a Grants, host: &'a str) -> Self {
        Substitution { storage, grants, host, exposed: Vec::new() }
    }

    /// Substitutes the placeholders of a request whose data has been fenced by `fence`, then
    /// takes the fence down. The HMAC signs the body exactly as the vendor receives it.
    pub(crate) fn apply(&mut self, request: &mut HttpRequest, fence: &Fence) -> Result<(), String> {
        if let Ok(body) = std::str::from_utf8(&request.body) {
            if body.contains(SECRET) {
                request.body = self.secrets(body)?.into_bytes();
            }
        }
        // The body is final from here on: what the vendor receives, and what the HMAC signs.
        request.body = remove_all(&request.body, fence.tag.as_bytes());
        let body = std::mem::take(&mut request.body);
        for (_, value) in request.headers.iter_mut() {
            let substituted = self.secrets(value)?;
            let encoded = self.base64(&substituted)?;
            // Signed while data is still fenced, so data cannot ask for a signature either.
            *value = self.sign(&encoded, &body)?;
        }
        request.body = body;
        fence.open(request);
        Ok(())
    }

    /// The secret `name`, if the binding grants it and it may go to this request's host.
    fn secret(&self, name: &str) -> Result<StoredSecret, String> {
        if !self.grants.secrets.iter().any(|s| s == name) {
            return Err(format!("secret `{name}` is not granted to this binding"));
        }
        let secret = self
            .storage
            .secret(name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("secret `{name}` is not set"))?;
        if !secret.allows(self.host) {
            return Err(if secret.hosts.is_empty() {
                format!("secret `{name}` has no hosts it may be sent to; set it again with its hosts")
            } else {
                format!(
                    "secret `{name}` may be sent only to {}, not to `{}`",
                    secret.hosts.join(", "),
                    self.host
                )
            });
        }
        Ok(secret)
    }

    fn secrets(&mut self, text: &str) -> Result<String, String> {
        replace_placeholders(text, SECRET, |name| {
            let secret = self.secret(name)?;
            self.exposed.push(secret.value.expose().to_owned());
            Ok(secret.value.expose().to_owned())
        })
    }

    /// Replaces `{{base64:TEXT}}` (after secret substitution) with TEXT in base64: HTTP Basic
    /// credentials built from a secret the adapter never sees.
    fn base64(&mut self, text: &str) -> Result<String, String> {
        replace_placeholders(text, BASE64, |inner| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
            self.exposed.push(encoded.clone());
            Ok(encoded)
        })
    }

    /// Replaces `{{hmac-sha256:NAME}}` with the hex HMAC-SHA256 of the final body under the
    /// granted secret NAME: the adapter asks for a signature without ever seeing the key.
    fn sign(&self, text: &str, body: &[u8]) -> Result<String, String> {
        use hmac::{Hmac, Mac};
        replace_placeholders(text, HMAC, |name| {
            let key = self.secret(name)?;
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.value.expose().as_bytes())
                .map_err(|e| e.to_string())?;
            mac.update(body);
            Ok(hex::encode(mac.finalize().into_bytes()))
        })
    }
}

/// `text` with every `{{<prefix>INNER}}` replaced by `with(INNER)`.
fn replace_placeholders(
    text: &str,
    prefix: &str,
    mut with: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(prefix) {
        out.push_str(&rest[..start]);
        let after = &rest[start + prefix.len()..];
        let end = after.find("}}").ok_or_else(|| format!("unterminated {prefix}...}}}} placeholder"))?;
        out.push_str(&with(&after[..end])?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A vendor's answer with every exposed credential (and its base64 form) replaced, so a vendor
/// that echoes the request cannot put a secret into a record or a plugin's input.
pub(crate) fn scrub(response: &mut HttpResponse, exposed: &[String]) {
    let mut needles: Vec<String> = Vec::new();
    for value in exposed.iter().filter(|v| v.len() >= 4) {
        needles.push(value.clone());
        needles.push(base64::engine::general_purpose::STANDARD.encode(value));
        needles.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
    }
    // The longest first, so a credential containing another is replaced whole.
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for needle in &needles {
        response.body = replace_all(&response.body, needle.as_bytes(), SCRUBBED.as_bytes());
        for (_, value) in response.headers.iter_mut() {
            if value.contains(needle.as_str()) {
                *value = value.replace(needle.as_str(), SCRUBBED);
            }
        }
    }
}

fn remove_all(haystack: &[u8], needle: &[u8]) -> Vec<u8> {
    replace_all(haystack, needle, b"")
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_data_comes_back_literally_and_is_never_a_placeholder() {
        let fence = Fence::new().unwrap();
        let sealed = fence.seal("Hello {{secret:HOOK_TOKEN}} {{{base64:x}}");
        assert!(!sealed.contains(SECRET) && !sealed.contains(BASE64), "{sealed}");
        let mut request = HttpRequest {
            method: "POST".into(),
            url: format!("https://x.test/?q={sealed}"),
            headers: vec![("x-name".into(), sealed.clone())],
            body: serde_json::to_vec(&serde_json::json!({ "text": sealed })).unwrap(),
        };
        fence.open(&mut request);
        assert_eq!(request.headers[0].1, "Hello {{secret:HOOK_TOKEN}} {{{base64:x}}");
        assert_eq!(
            String::from_utf8(request.body).unwrap(),
            r#"{"text":"Hello {{secret:HOOK_TOKEN}} {{{base64:x}}"}"#
        );
    }

    #[test]
    fn a_scrubbed_response_holds_no_credential() {
        let mut response = HttpResponse {
            status: 400,
            headers: vec![("x-echo".into(), "Bearer sk-live-123".into())],
            body: b"you sent sk-live-123 and c2stbGl2ZS0xMjM=".to_vec(),
        };
        scrub(&mut response, &["sk-live-123".into()]);
        assert_eq!(response.headers[0].1, "Bearer [secret]");
        assert_eq!(String::from_utf8(response.body).unwrap(), "you sent [secret] and [secret]");
    }
}
