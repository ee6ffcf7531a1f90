//! Content blocks: snippets that message templates `{% render %}`, and whole message templates
//! that campaigns reference by name; each saved as numbered versions, one of them live. Also
//! how a message's locale variant is chosen.
//!
//! Plain data and pure functions: depends on `campaign` (the message shapes) and `baton-liquid`
//! (to check templates parse and find the snippets they render).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::campaign::{LocalizedMessage, MessageTemplate};

/// What a content block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// A piece of Liquid that templates include with `{% render 'name' %}` (its `body`).
    Snippet,
    /// A message (subject, body, HTML, locale variants) that campaigns use with
    /// `"message": {"content": "name"}`.
    Template,
}

/// One version of a content block, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = serde_json::json!({
    "kind": "template",
    "subject": "Welcome, {{ profile.first_name | default: 'friend' }}",
    "body": "Glad you are here.\n{% render 'footer' %}",
    "locales": {"fr": {"subject": "Bienvenue, {{ profile.first_name | default: 'à vous' }}"}}
}))]
pub struct ContentSpec {
    /// `snippet` or `template`; a block keeps its kind across versions.
    pub kind: ContentKind,
    /// What it is for, for people.
    #[serde(default)]
    pub description: String,
    /// A template's subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// A snippet's Liquid, or a template's body.
    #[schemars(length(min = 1))]
    pub body: String,
    /// A template's HTML body.
    #[serde(default)]
    pub html: Option<String>,
    /// A template's variants by locale (`fr`, `pt-BR`): each part given replaces the default's.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": LOCALE_PATTERN }))]
    pub locales: BTreeMap<String, LocalizedMessage>,
}

/// A content block's record: its kind and versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Content {
    /// Its name: 1–64 lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// `snippet` or `template`.
    pub kind: ContentKind,
    /// The newest saved version (what previews show).
    pub latest_version: u32,
    /// The version sends use; none until one is published.
    pub live_version: Option<u32>,
    /// When it was first saved (ms since the epoch).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// Which version of content a render uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentVersion {
    /// The published one (sends).
    Live,
    /// The newest saved one (previews: a change is seen before it goes live).
    Latest,
}

impl ContentSpec {
    /// What is wrong with this version, each problem naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.body.is_empty() {
            problems.push("body: write the snippet's Liquid, or the template's body".into());
        }
        if self.kind == ContentKind::Snippet
            && (self.subject.is_some() || self.html.is_some() || !self.locales.is_empty())
        {
            problems.push("a snippet is its `body` alone: drop `subject`, `html` and `locales`".into());
        }
        for (field, source) in self.parts() {
            if let Err(e) = baton_liquid::Template::parse(source) {
                problems.push(format!("{field}: {e}"));
            }
        }
        for locale in self.locales.keys() {
            if !valid_locale(locale) {
                problems.push(format!(
                    "locales.{locale}: write a locale as a language, optionally with a region (`fr`, `pt-BR`)"
                ));
            }
        }
        problems
    }

    /// Every Liquid source in this version, with its field.
    pub fn parts(&self) -> Vec<(String, &str)> {
        let mut parts = vec![("body".to_string(), self.body.as_str())];
        parts.extend(self.subject.as_deref().map(|s| ("subject".to_string(), s)));
        parts.extend(self.html.as_deref().map(|s| ("html".to_string(), s)));
        for (locale, message) in &self.locales {
            for (part, source) in message.parts() {
                parts.push((format!("locales.{locale}.{part}"), source));
            }
        }
        parts
    }

    /// The template as a campaign message, keeping the campaign's data.
    pub fn message(&self, data: &serde_json::Value) -> MessageTemplate {
        MessageTemplate {
            subject: self.subject.clone(),
            body: self.body.clone(),
            html: self.html.clone(),
            data: data.clone(),
            content: None,
            locales: self.locales.clone(),
        }
    }
}

/// The JSON Schema pattern of a locale tag, as [`valid_locale`] checks it.
pub const LOCALE_PATTERN: &str = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$";

/// `fr`, `pt-BR`, `zh-Hant-TW`: letters in dash-separated parts, the first 2 or 3 long.
pub fn valid_locale(locale: &str) -> bool {
    let mut parts = locale.split(['-', '_']);
    let language_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    language_ok && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The names of the snippets some templates render, by literal name.
pub fn snippets_of<'a>(sources: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    // This runs for every send: a template that never says `render` or `include` cannot name a
    // snippet, and is not parsed (parsing a 5 KB email costs tens of microseconds).
    let mut names: Vec<String> = sources
        .into_iter()
        .filter(|s| s.contains("render") || s.contains("include"))
        .filter_map(|s| baton_liquid::Template::parse(s).ok())
        .flat_map(|t| t.snippets())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The locale variant for a reader: the exact tag (`pt-BR`), else one of the same language
/// (`pt`, then any `pt-*`), else none (the default message). Case and `_`/`-` do not matter.
pub fn pick_locale<'a>(
    available: impl IntoIterator<Item = &'a String>,
    wanted: Option<&str>,
) -> Option<&'a String> {
    let wanted = normalize(wanted?);
    let language = wanted.split('-').next().unwrap_or_default().to_string();
    let available: Vec<&String> = available.into_iter().collect();
    available
        .iter()
        .find(|a| normalize(a) == wanted)
        .or_else(|| available.iter().find(|a| normalize(a) == language))
        .or_else(|| available.iter().find(|a| normalize(a).split('-').next() == Some(language.as_str())))
        .copied()
}

fn normalize(locale: &str) -> String {
    locale.trim().replace('_', "-").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locale_falls_back_to_its_language_then_the_default() {
        let available: Vec<String> = vec!["fr".into(), "pt-BR".into(), "de-AT".into()];
        assert_eq!(pick_locale(&available, Some("fr-CA")).map(String::as_str), Some("fr"));
        assert_eq!(pick_locale(&available, Some("pt_br")).map(String::as_str), Some("pt-BR"));
        assert_eq!(pick_locale(&available, Some("de")).map(String::as_str), Some("de-AT"));
        assert_eq!(pick_locale(&available, Some("es")), None);
        assert_eq!(pick_locale(&available, None), None);
    }

    #[test]
    fn a_snippet_with_message_parts_and_a_broken_template_are_refused() {
        let spec = ContentSpec {
            kind: ContentKind::Snippet,
            description: String::new(),
            subject: Some("x".into()),
            body: "{% if %}".into(),
            html: None,
            locales: BTreeMap::new(),
        };
        assert_eq!(
            spec.problems(),
            [
                "a snippet is its `body` alone: drop `subject`, `html` and `locales`",
                "body: line 1: `{% if %}` needs a condition",
            ]
        );
    }
}
