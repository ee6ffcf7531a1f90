//! `channel-twilio-sms`: SMS through the Twilio Messages API
//! (`POST https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded).
//!
//! Config: `account_sid` (required, `AC...`), and `from` (an E.164 number) or
//! `messaging_service_sid` (`MG...`); optional `status_callback`. Authentication is HTTP Basic
//! with the account SID and the secret `TWILIO_AUTH_TOKEN`: the adapter writes
//! `{{base64:SID:{{secret:TWILIO_AUTH_TOKEN}}}}` and the host fills and encodes it.
//! Responses: 201 delivered (receipt: the message `sid`); 429 throttled; 5xx retried; other 4xx
//! rejected with Twilio's code and message (for example 21211, invalid `To` number).
//!
//! Feedback (contract 0.2.0): Twilio's status callbacks (set `status_callback` to the feedback
//! endpoint's public URL). Twilio signs the URL followed by the sorted form parameters with
//! HMAC-SHA1 under the auth token, in `X-Twilio-Signature`; the host checks it with the secret
//! `TWILIO_AUTH_TOKEN`, granted to the endpoint (config `{}`, or `{"auth_token_secret": NAME}`).
//! `delivered` and `read` are reported; `undelivered` to an unknown or unreachable handset
//! (30005, 30006) is a bounce, other `undelivered` and `failed` are drops. Matched by `MessageSid`.

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Twilio;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    account_sid: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    messaging_service_sid: Option<String>,
    #[serde(default)]
    status_callback: Option<String>,
}

fn e164(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

impl Plugin for Twilio {
    fn info() -> PluginInfo {
        PluginInfo::new("channel-twilio-sms", env!("CARGO_PKG_VERSION"), PluginKind::ChannelAdapter, "SMS through the Twilio Messages API.")
            .with_needs(Needs::none().with_hosts_and_secrets(["api.twilio.com"], ["TWILIO_AUTH_TOKEN"]))
            .with_config_schema(r#"{"type":"object","required":["account_sid"],"properties":{"account_sid":{"type":"string"},"from":{"type":"string"},"messaging_service_sid":{"type":"string"},"status_callback":{"type":"string"}}}"#)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        if !(config.account_sid.starts_with("AC") && config.account_sid.len() == 34) {
            return Err(ConfigError::new(
                "/account_sid",
                "must be a Twilio Account SID (AC followed by 32 characters)",
            ));
        }
        match (&config.from, &config.messaging_service_sid) {
            (Some(from), None) if e164(from) => Ok(()),
            (Some(_), None) => Err(ConfigError::new("/from", "must be an E.164 number such as +14155550100")),
            (None, Some(sid)) if sid.starts_with("MG") => Ok(()),
            (None, Some(_)) => Err(ConfigError::new("/messaging_service_sid", "must start with MG")),
            _ => Err(ConfigError::new("", "set exactly one of `from` or `messaging_service_sid`")),
        }
    }
}

impl ChannelAdapter for Twilio {
    fn build(invocation: Invocation, message: Message) -> Result<Vec<HttpRequest>, PluginError> {
        let config: Config = invocation.config()?;
        if !e164(&message.recipient) {
            return Err(PluginError::new(
                "invalid_recipient",
                &format!("`{}` is not an E.164 phone number", message.recipient),
            ));
        }
        let mut fields = vec![("To", message.recipient.clone()), ("Body", message.body.clone())];
        match (&config.from, &config.messaging_service_sid) {
            (Some(from), _) => fields.push(("From", from.clone())),
            (None, Some(sid)) => fields.push(("MessagingServiceSid", sid.clone())),
            (None, None) => return Err(PluginError::new("invalid_config", "no sender configured")),
        }
        if let Some(callback) = &config.status_callback {
            fields.push(("StatusCallback", callback.clone()));
        }
        let body = fields.iter().map(|(k, v)| format!("{k}={}", form(v))).collect::<Vec<_>>().join("&");
        Ok(vec![HttpRequest {
            method: "POST".into(),
            url: format!("https://api.twilio.com/2010-04-01/Accounts/{}/Messages.json", config.account_sid),
            headers: vec![
                (
                    "authorization".into(),
                    format!("Basic {{{{base64:{}:{{{{secret:TWILIO_AUTH_TOKEN}}}}}}}}", config.account_sid),
                ),
                ("content-type".into(), "application/x-www-form-urlencoded".into()),
                ("i-twilio-idempotency-token".into(), message.idempotency_key),
            ],
            body: body.into_bytes(),
        }])
    }

    fn verification(config: &str) -> Result<SignatureCheck, ConfigError> {
        let config: serde_json::Value =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        let secret = match config.get("auth_token_secret") {
            None => "TWILIO_AUTH_TOKEN".to_owned(),
            Some(serde_json::Value::String(name)) if name == "TWILIO_AUTH_TOKEN" => name.clone(),
            Some(_) => {
                return Err(ConfigError::new(
                    "/auth_token_secret",
                    "the auth token is the secret TWILIO_AUTH_TOKEN",
                ));
            }
        };
        Ok(SignatureCheck {
            key: SignatureKey::HmacSha1(secret),
            signed: vec![SignedPart::Url, SignedPart::SortedFormParams],
            header: "x-twilio-signature".into(),
            prefix: String::new(),
            encoding: SignatureEncoding::Base64,
            timestamp_header: None,
        })
    }

    fn feedback(invocation: Invocation, request: InboundRequest) -> Result<Vec<VendorReport>, PluginError> {
        let params = request.form_params();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let Some(sid) = param("MessageSid").or_else(|| param("SmsSid")) else {
            return Err(PluginError::new("invalid_payload", "a status callback without MessageSid"));
        };
        let error = param("ErrorCode").unwrap_or_default();
        let kind = match param("MessageStatus").or_else(|| param("SmsStatus")).as_deref() {
            Some("delivered") => ReportKind::Delivered,
            Some("read") => ReportKind::Opened,
            Some("undelivered") if error == "30005" || error == "30006" => ReportKind::Bounced,
            Some("undelivered" | "failed") => ReportKind::Dropped,
            _ => return Ok(Vec::new()),
        };
        let mut details = serde_json::Map::new();
        if !error.is_empty() {
            details.insert("error_code".into(), error.into());
        }
        Ok(vec![VendorReport {
            kind,
            idempotency_key: None,
            vendor_message_id: Some(sid),
            timestamp: invocation.now,
            properties: serde_json::Value::Object(details).to_string(),
        }])
    }

    fn classify(_: Invocation, _: u32, response: HttpResponse) -> DeliveryOutcome {
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let retry_after = response
            .headers
            .iter()
            .find(|(k, _)| k == "retry-after")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .map(|s| s * 1_000);
        match response.status {
            200..=299 => DeliveryOutcome::Delivered(body["sid"].as_str().map(str::to_owned)),
            429 => DeliveryOutcome::Throttled(retry_after),
            500..=599 => DeliveryOutcome::RetryAfter(retry_after),
            status => DeliveryOutcome::Rejected(format!(
                "Twilio answered {status}: {} {}",
                body["code"].as_u64().map(|c| format!("({c})")).unwrap_or_default(),
                body["message"].as_str().unwrap_or("no detail")
            )),
        }
    }
}

baton_sdk::channel_adapter!(Twilio);

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn invocation(config: serde_json::Value) -> Invocation {
        Invocation { campaign_id: "c".into(), config: config.to_string(), now: 0, seed: 0 }
    }

    fn message(to: &str) -> Message {
        Message {
            channel: "sms".into(),
            recipient: to.into(),
            subject: None,
            body: "Your code: 42 & more".into(),
            html: None,
            variant_id: None,
            data: "{}".into(),
            idempotency_key: "c:pr_1:e1".into(),
        }
    }

    #[test]
    fn builds_a_form_encoded_messages_request() {
        let config = serde_json::json!({"account_sid": SID, "from": "+14155550100", "status_callback": "https://hooks.example/sms"});
        let request = &Twilio::build(invocation(config), message("+33612345678")).unwrap()[0];
        assert_eq!(request.url, format!("https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"));
        assert_eq!(
            request.headers[0].1,
            format!("Basic {{{{base64:{SID}:{{{{secret:TWILIO_AUTH_TOKEN}}}}}}}}")
        );
        assert_eq!(
            String::from_utf8(request.body.clone()).unwrap(),
            "To=%2B33612345678&Body=Your+code%3A+42+%26+more&From=%2B14155550100&StatusCallback=https%3A%2F%2Fhooks.example%2Fsms"
        );
        let err = Twilio::build(
            invocation(serde_json::json!({"account_sid": SID, "from": "+14155550100"})),
            message("0612"),
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_recipient");
    }

    #[test]
    fn classifies_twilio_answers_and_checks_config() {
        let inv = invocation(serde_json::json!({}));
        let response = |status: u16, body: &str| HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            Twilio::classify(inv.clone(), 0, response(201, r#"{"sid": "SM123"}"#)),
            DeliveryOutcome::Delivered(Some("SM123".into()))
        );
        assert_eq!(Twilio::classify(inv.clone(), 0, response(429, "{}")), DeliveryOutcome::Throttled(None));
        assert_eq!(Twilio::classify(inv.clone(), 0, response(500, "{}")), DeliveryOutcome::RetryAfter(None));
        assert_eq!(
            Twilio::classify(
                inv,
                0,
                response(
                    400,
                    r#"{"code": 21211, "message": "The 'To' number is not a valid phone number."}"#
                )
            ),
            DeliveryOutcome::Rejected(
                "Twilio answered 400: (21211) The 'To' number is not a valid phone number.".into()
            )
        );
        assert_eq!(Twilio::validate_config(r#"{"account_sid": "XX"}"#).unwrap_err().path, "/account_sid");
        assert_eq!(
            Twilio::validate_config(&format!(r#"{{"account_sid": "{SID}", "from": "555"}}"#))
                .unwrap_err()
                .path,
            "/from"
        );
        assert_eq!(Twilio::validate_config(&format!(r#"{{"account_sid": "{SID}"}}"#)).unwrap_err().path, "");
        assert!(
            Twilio::validate_config(&format!(
                r#"{{"account_sid": "{SID}", "messaging_service_sid": "MG1"}}"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn status_callbacks_become_reports() {
        let callback = |body: &str| InboundRequest {
            method: "POST".into(),
            url: "/v1/feedback/sms".into(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        let invocation = Invocation { campaign_id: String::new(), config: "{}".into(), now: 7, seed: 0 };
        let reports = Twilio::feedback(
            invocation.clone(),
            callback("MessageSid=SM1&MessageStatus=delivered&To=%2B15551234567"),
        )
        .unwrap();
        assert_eq!(
            (reports[0].kind, reports[0].vendor_message_id.as_deref(), reports[0].timestamp),
            (ReportKind::Delivered, Some("SM1"), 7)
        );
        let bounced = Twilio::feedback(
            invocation.clone(),
            callback("MessageSid=SM2&MessageStatus=undelivered&ErrorCode=30005"),
        )
        .unwrap();
        assert_eq!(
            (bounced[0].kind, bounced[0].properties.as_str()),
            (ReportKind::Bounced, r#"{"error_code":"30005"}"#)
        );
        assert!(
            Twilio::feedback(invocation.clone(), callback("MessageSid=SM3&MessageStatus=sent"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            Twilio::feedback(invocation, callback("MessageStatus=sent")).unwrap_err().code,
            "invalid_payload"
        );
        assert_eq!(
            Twilio::verification("{}").unwrap().key,
            SignatureKey::HmacSha1("TWILIO_AUTH_TOKEN".into())
        );
        assert_eq!(
            Twilio::verification(r#"{"auth_token_secret": "OTHER"}"#).unwrap_err().path,
            "/auth_token_secret"
        );
    }
}
