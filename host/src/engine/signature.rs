//! Checking a vendor's webhook signature before any plugin sees the request.
//!
//! A channel adapter (contract 0.2.0) describes how its vendor signs webhooks: the key (an HMAC
//! secret by name, or a public key), the parts signed, the header, its prefix and encoding, and a
//! timestamp header for replay protection. The host does the checking with the secret, which the
//! adapter never sees, and refuses the request before the adapter parses a byte of it. HMACs are
//! compared in constant time (ring's `verify`).
//!
//! May depend on: nothing but `contract`.

use base64::Engine as _;
use ring::{hmac, signature};

use crate::contract::{SignatureEncoding, SignatureKey, SignedPart, Verification};

/// The request as the vendor sent it.
pub(crate) struct Signed<'a> {
    /// The full URL the vendor called (the public base URL plus the path and query).
    pub url: &'a str,
    /// Header names (lowercase) and values.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
}

impl Signed<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| k.to_ascii_lowercase() == name).map(|(_, v)| v.as_str())
    }
}

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// A header the scheme needs is missing.
    #[error("the `{0}` header is missing")]
    MissingHeader(String),
    /// The signed timestamp is outside the tolerance: a replay, or a clock far off.
    #[error("the signature's timestamp is {age_s} s from now, beyond the tolerance of {tolerance_s} s")]
    Stale {
        /// How far the timestamp is from now, in seconds.
        age_s: i64,
        /// The tolerance, in seconds.
        tolerance_s: i64,
    },
    /// The timestamp header does not hold Unix seconds.
    #[error("the timestamp header does not hold Unix seconds")]
    BadTimestamp,
    /// No signature in the header verifies.
    #[error("the signature does not verify")]
    BadSignature,
    /// The scheme names a secret that is not set or not granted.
    #[error("the signing secret `{0}` is not set or not granted to this endpoint")]
    UnknownSecret(String),
    /// The configured public key cannot be read.
    #[error("the public key cannot be read: {0}")]
    BadKey(String),
}

/// DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo, before the 32-byte key.
const ED25519_SPKI_PREFIX: &[u8] = &[0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Checks `request` against `check`. `secret` looks up a granted secret's value by name.
pub(crate) fn verify(
    check: &Verification,
    request: &Signed<'_>,
    secret: &dyn Fn(&str) -> Option<Vec<u8>>,
    now_ms: i64,
    tolerance_ms: i64,
) -> Result<(), Refusal> {
    if let Some(name) = &check.timestamp_header {
        let value = request.header(name).ok_or_else(|| Refusal::MissingHeader(name.clone()))?;
        let signed_s: i64 = value.trim().parse().map_err(|_| Refusal::BadTimestamp)?;
        let age_ms = now_ms.saturating_sub(signed_s.saturating_mul(1_000)).saturating_abs();
        if age_ms > tolerance_ms {
            return Err(Refusal::Stale { age_s: age_ms / 1_000, tolerance_s: tolerance_ms / 1_000 });
        }
    }
    let message = signed_message(&check.signed, request)?;
    let header = request.header(&check.header).ok_or_else(|| Refusal::MissingHeader(check.header.clone()))?;
    let candidates: Vec<Vec<u8>> =
        candidates(header, &check.prefix).filter_map(|text| decode(text, check.encoding)).collect();
    let verifies = |signature: &[u8]| -> Result<bool, Refusal> {
        Ok(match &check.key {
            SignatureKey::HmacSha1(name) | SignatureKey::HmacSha256(name) => {
                let algorithm = match check.key {
                    SignatureKey::HmacSha1(_) => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    _ => hmac::HMAC_SHA256,
                };
                let value = secret(name).ok_or_else(|| Refusal::UnknownSecret(name.clone()))?;
                hmac::verify(&hmac::Key::new(algorithm, &value), &message, signature).is_ok()
            }
            SignatureKey::EcdsaP256Sha256(key) => {
                let point = public_key(key, P256_SPKI_PREFIX, 65)?;
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point)
                    .verify(&message, signature)
                    .is_ok()
            }
            SignatureKey::Ed25519(key) => {
                let raw = public_key(key, ED25519_SPKI_PREFIX, 32)?;
                signature::UnparsedPublicKey::new(&signature::ED25519, raw)
                    .verify(&message, signature)
                    .is_ok()
            }
        })
    };
    for candidate in &candidates {
        if verifies(candidate)? {
            return Ok(());
        }
    }
    // A scheme whose secret is missing says so even when the header held nothing usable.
    if let SignatureKey::HmacSha1(name) | SignatureKey::HmacSha256(name) = &check.key
        && secret(name).is_none()
    {
        return Err(Refusal::UnknownSecret(name.clone()));
    }
    Err(Refusal::BadSignature)
}

/// The bytes the vendor signed, in order.
fn signed_message(parts: &[SignedPart], request: &Signed<'_>) -> Result<Vec<u8>, Refusal> {
    let mut message = Vec::new();
    for part in parts {
        match part {
            SignedPart::Text(text) => message.extend_from_slice(text.as_bytes()),
            SignedPart::Body => message.extend_from_slice(request.body),
            SignedPart::Url => message.extend_from_slice(request.url.as_bytes()),
            SignedPart::Header(name) => {
                let value = request.header(name).ok_or_else(|| Refusal::MissingHeader(name.clone()))?;
                message.extend_from_slice(value.as_bytes());
            }
            SignedPart::SortedFormParams => {
                let mut params: Vec<(String, String)> = form_params(request.body);
                params.sort();
                for (name, value) in params {
                    message.extend_from_slice(name.as_bytes());
                    message.extend_from_slice(value.as_bytes());
                }
            }
        }
    }
    Ok(message)
}

/// The signatures a header offers: each whitespace-separated piece that starts with `prefix`, or
/// each comma-separated item of a piece that does (`t=1,v1=abc,v1=def`), prefix removed.
fn candidates<'h>(header: &'h str, prefix: &'h str) -> impl Iterator<Item = &'h str> {
    header.split_whitespace().flat_map(move |piece| {
        let items: Vec<&str> = match piece.strip_prefix(prefix) {
            Some(rest) if !prefix.is_empty() => vec![rest],
            _ if prefix.is_empty() => vec![piece],
            _ => piece.split(',').filter_map(|item| item.strip_prefix(prefix)).collect(),
        };
        items.into_iter()
    })
}

fn decode(text: &str, encoding: SignatureEncoding) -> Option<Vec<u8>> {
    let text = text.trim();
    match encoding {
        SignatureEncoding::Hex => hex::decode(text).ok(),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok(),
    }
}

/// A public key given as base64 of the raw key (`raw_len` bytes) or of its SubjectPublicKeyInfo.
fn public_key(text: &str, spki_prefix: &[u8], raw_len: usize) -> Result<Vec<u8>, Refusal> {
    let bytes =
        decode(text, SignatureEncoding::Base64).ok_or_else(|| Refusal::BadKey("not base64".into()))?;
    if bytes.len() == raw_len {
        return Ok(bytes);
    }
    match bytes.strip_prefix(spki_prefix) {
        Some(raw) if raw.len() == raw_len => Ok(raw.to_vec()),
        _ => Err(Refusal::BadKey(format!("expected {raw_len} raw bytes or their DER SubjectPublicKeyInfo"))),
    }
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn form_params(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex_digit = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).copied().and_then(hex_digit),
                    bytes.get(i + 2).copied().and_then(hex_digit),
                ) {
                    (Some(high), Some(low)) => {
                        out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;

    use super::*;

    const NOW_MS: i64 = 1_750_000_000_000;
    const TOLERANCE_MS: i64 = 300_000;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn secret(name: &str) -> Option<Vec<u8>> {
        (name == "WEBHOOK_KEY").then(|| b"whsec_test".to_vec())
    }

    /// Stripe's scheme: `t=<seconds>,v1=<hex hmac of "t.body">`, in `stripe-signature`.
    fn stripe_like() -> Verification {
        Verification {
            key: SignatureKey::HmacSha256("WEBHOOK_KEY".into()),
            signed: vec![
                SignedPart::Header("x-timestamp".into()),
                SignedPart::Text(".".into()),
                SignedPart::Body,
            ],
            header: "stripe-signature".into(),
            prefix: "v1=".into(),
            encoding: SignatureEncoding::Hex,
            timestamp_header: Some("x-timestamp".into()),
        }
    }

    #[test]
    fn an_hmac_over_timestamp_and_body_verifies_and_a_tampered_body_does_not() {
        let ts = (NOW_MS / 1000).to_string();
        let body = br#"{"type":"bounce"}"#;
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"whsec_test");
        let mut signed = ts.as_bytes().to_vec();
        signed.push(b'.');
        signed.extend_from_slice(body);
        let good = hex::encode(hmac::sign(&key, &signed));
        let header = format!("t={ts},v1=0000,v1={good}");
        let h = headers(&[("x-timestamp", &ts), ("stripe-signature", &header)]);
        let request = Signed { url: "https://baton.example/v1/feedback/x", headers: &h, body };
        assert_eq!(verify(&stripe_like(), &request, &secret, NOW_MS, TOLERANCE_MS), Ok(()));

        let tampered = Signed { body: br#"{"type":"delivered"}"#, ..request };
        assert_eq!(
            verify(&stripe_like(), &tampered, &secret, NOW_MS, TOLERANCE_MS),
            Err(Refusal::BadSignature)
        );

        let later = NOW_MS + TOLERANCE_MS + 1_000;
        let replayed = Signed { url: "u", headers: &h, body };
        assert_eq!(
            verify(&stripe_like(), &replayed, &secret, later, TOLERANCE_MS),
            Err(Refusal::Stale { age_s: 301, tolerance_s: 300 })
        );
        let unsigned = headers(&[("x-timestamp", &ts)]);
        let request = Signed { url: "u", headers: &unsigned, body };
        assert_eq!(
            verify(&stripe_like(), &request, &secret, NOW_MS, TOLERANCE_MS),
            Err(Refusal::MissingHeader("stripe-signature".into()))
        );
        let no_secret = |_: &str| None;
        let request = Signed { url: "u", headers: &h, body };
        assert_eq!(
            verify(&stripe_like(), &request, &no_secret, NOW_MS, TOLERANCE_MS),
            Err(Refusal::UnknownSecret("WEBHOOK_KEY".into()))
        );
    }

    #[test]
    fn twilios_hmac_sha1_over_the_url_and_sorted_form_params_verifies() {
        let url = "https://baton.example/v1/feedback/sms?x=1";
        let body = b"MessageStatus=delivered&To=%2B15551234567&MessageSid=SM1";
        // Twilio signs the URL followed by each parameter name and value, sorted by name.
        let signed = format!("{url}MessageSidSM1MessageStatusdeliveredTo+15551234567");
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, b"whsec_test");
        let signature = b64(hmac::sign(&key, signed.as_bytes()).as_ref());
        let check = Verification {
            key: SignatureKey::HmacSha1("WEBHOOK_KEY".into()),
            signed: vec![SignedPart::Url, SignedPart::SortedFormParams],
            header: "X-Twilio-Signature".into(),
            prefix: String::new(),
            encoding: SignatureEncoding::Base64,
            timestamp_header: None,
        };
        let h = headers(&[("x-twilio-signature", &signature)]);
        let request = Signed { url, headers: &h, body };
        assert_eq!(verify(&check, &request, &secret, NOW_MS, TOLERANCE_MS), Ok(()));
        let elsewhere = Signed { url: "https://attacker.example/v1/feedback/sms?x=1", ..request };
        assert_eq!(verify(&check, &elsewhere, &secret, NOW_MS, TOLERANCE_MS), Err(Refusal::BadSignature));
    }

    #[test]
    fn sendgrids_ecdsa_p256_and_an_ed25519_signature_verify_with_the_public_key_only() {
        let rng = SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .unwrap();
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let spki = [P256_SPKI_PREFIX, pair.public_key().as_ref()].concat();
        let ts = (NOW_MS / 1000).to_string();
        let body = br#"[{"event":"bounce","sg_message_id":"m1"}]"#;
        let signed = [ts.as_bytes(), body].concat();
        let signature = b64(pair.sign(&rng, &signed).unwrap().as_ref());
        let check = Verification {
            key: SignatureKey::EcdsaP256Sha256(b64(&spki)),
            signed: vec![
                SignedPart::Header("x-twilio-email-event-webhook-timestamp".into()),
                SignedPart::Body,
            ],
            header: "x-twilio-email-event-webhook-signature".into(),
            prefix: String::new(),
            encoding: SignatureEncoding::Base64,
            timestamp_header: Some("x-twilio-email-event-webhook-timestamp".into()),
        };
        let h = headers(&[
            ("x-twilio-email-event-webhook-timestamp", &ts),
            ("x-twilio-email-event-webhook-signature", &signature),
        ]);
        let no_secret = |_: &str| None;
        let request = Signed { url: "u", headers: &h, body };
        assert_eq!(verify(&check, &request, &no_secret, NOW_MS, TOLERANCE_MS), Ok(()));
        let forged = Signed { body: br#"[{"event":"delivered","sg_message_id":"m1"}]"#, ..request };
        assert_eq!(verify(&check, &forged, &no_secret, NOW_MS, TOLERANCE_MS), Err(Refusal::BadSignature));

        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let check = Verification {
            key: SignatureKey::Ed25519(b64(pair.public_key().as_ref())),
            signed: vec![SignedPart::Body],
            header: "x-signature".into(),
            prefix: String::new(),
            encoding: SignatureEncoding::Hex,
            timestamp_header: None,
        };
        let signature = hex::encode(pair.sign(body));
        let h = headers(&[("x-signature", &signature)]);
        assert_eq!(
            verify(&check, &Signed { url: "u", headers: &h, body }, &no_secret, NOW_MS, TOLERANCE_MS),
            Ok(())
        );
        let bad_key = Verification { key: SignatureKey::Ed25519(b64(b"short")), ..check };
        assert!(matches!(
            verify(&bad_key, &Signed { url: "u", headers: &h, body }, &no_secret, NOW_MS, TOLERANCE_MS),
            Err(Refusal::BadKey(_))
        ));
    }

    #[test]
    fn form_params_are_percent_decoded() {
        assert_eq!(
            form_params(b"a=%2B1+2&b=&c"),
            vec![("a".into(), "+1 2".into()), ("b".into(), String::new()), ("c".into(), String::new())]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%é%4"), "%é%4");
    }
}
