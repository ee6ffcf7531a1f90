//! Content blocks in the application layer: save a version (checked: it parses, the snippets it
//! renders exist, its kind holds), publish one, show them; and, on the send path, turn a
//! campaign's message into what the personalizer renders: the stored template it names (live
//! for sends, newest for previews), the reader's locale variant, the snippets it renders, and
//! the context templates read (`template_context`: locale, journey step, campaign).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::campaign::{Campaign, MessageTemplate};
use crate::content::{Content, ContentKind, ContentSpec, ContentVersion, pick_locale, snippets_of};
use crate::profile::Profile;

/// Snippets rendered by one message, at most: a chain longer than this is a mistake.
const MAX_SNIPPETS: usize = 100;

/// A content block as its editors see it: the record, the newest version and the live one.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ContentView {
    /// Its record.
    pub content: Content,
    /// The newest version (what previews render).
    pub latest: ContentSpec,
    /// The live version (what sends render), once one is published.
    pub live: Option<ContentSpec>,
}

/// A campaign's message rendered for one person ([`Engine::render_as`]).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RenderedMessage {
    /// The campaign.
    pub campaign: String,
    /// The person's profile id.
    pub profile_id: String,
    /// The experiment variant rendered, if the campaign has variants.
    pub variant: Option<String>,
    /// The reader's locale, as their profile says (the message variant follows it).
    pub locale: Option<String>,
    /// The subject line as rendered.
    pub subject: Option<String>,
    /// The body as rendered.
    pub body: Option<String>,
    /// The HTML as rendered.
    pub html: Option<String>,
    /// Variables the templates read that were set.
    pub variables: Vec<String>,
    /// Variables the templates read that are not set for this person (rendered empty).
    pub undefined: Vec<String>,
    /// Why the render failed (a template error, a strict variable), if it did.
    pub error: Option<String>,
    /// Why this person would not be sent the message (`no_consent`, `control_group`, ...), if so.
    pub would_skip: Option<String>,
}

impl RenderedMessage {
    pub(crate) fn new(
        campaign: String,
        profile: crate::profile::ProfileId,
        variant: Option<String>,
        locale: Option<String>,
        rendered: Result<crate::contract::Message, String>,
        would_skip: Option<String>,
    ) -> RenderedMessage {
        let mut out = RenderedMessage {
            campaign,
            profile_id: profile.to_string(),
            variant,
            locale,
            subject: None,
            body: None,
            html: None,
            variables: Vec::new(),
            undefined: Vec::new(),
            error: None,
            would_skip,
        };
        match rendered {
            Ok(message) => {
                let data: serde_json::Value = serde_json::from_str(&message.data).unwrap_or_default();
                let names = |key: &str| -> Vec<String> {
                    data["template_report"][key]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default()
                };
                out.variables = names("used");
                out.undefined = names("undefined");
                out.subject = message.subject;
                out.body = Some(message.body);
                out.html = message.html;
            }
            Err(error) => out.error = Some(error),
        }
        out
    }
}

/// A message ready for the personalizer: its parts in the reader's locale, and what templates
/// read beside the profile.
#[derive(Debug, Clone)]
pub(crate) struct PreparedMessage {
    pub template: MessageTemplate,
    /// `template_context` in the message's data (the Liquid personalizer takes it out).
    pub context: serde_json::Value,
}

impl Engine {
    /// Saves the next version of a content block (a new block starts with version 1, not live).
    pub fn save_content(&self, actor: &str, name: &str, spec: ContentSpec) -> Result<Content, EngineError> {
        let mut problems = Vec::new();
        if !valid_name(name) {
            problems.push(format!("name {name:?}: use 1 to 64 lowercase letters, digits, `_` or `-`"));
        }
        problems.extend(spec.problems());
        let existing = self.storage.content(name)?;
        if let Some(existing) = &existing
            && existing.kind != spec.kind
        {
            problems.push(format!(
                "kind: `{name}` is a {}; save a {} under another name",
                kind_name(existing.kind),
                kind_name(spec.kind)
            ));
        }
        for snippet in snippets_of(spec.parts().into_iter().map(|(_, s)| s)) {
            match self.storage.content(&snippet)? {
                Some(c) if c.kind == ContentKind::Snippet => {}
                Some(_) => {
                    problems.push(format!("`{snippet}` is a message template; `render` takes snippets"))
                }
                None if snippet == name => {}
                None => problems
                    .push(format!("it renders `{snippet}`, which is not saved; save that snippet first")),
            }
        }
        if !problems.is_empty() {
            return Err(EngineError::InvalidContent(problems));
        }
        let now = self.now();
        let content = match existing {
            Some(c) => Content { latest_version: c.latest_version + 1, updated_at: now, ..c },
            None => Content {
                name: name.to_owned(),
                kind: spec.kind,
                latest_version: 1,
                live_version: None,
                created_at: now,
                updated_at: now,
            },
        };
        self.storage.put_content(&content, Some((content.latest_version, &spec)))?;
        self.audit(actor, "content_saved", name, serde_json::json!({ "version": content.latest_version }))?;
        Ok(content)
    }

    /// Makes a version (the newest by default) the one sends use.
    pub fn publish_content(
        &self,
        actor: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<Content, EngineError> {
        let mut content = self.content_record(name)?;
        let version = version.unwrap_or(content.latest_version);
        if self.storage.content_version(name, version)?.is_none() {
            return Err(EngineError::InvalidContent(vec![format!(
                "version {version}: `{name}` has versions 1 to {}",
                content.latest_version
            )]));
        }
        content.live_version = Some(version);
        content.updated_at = self.now();
        self.storage.put_content(&content, None)?;
        self.audit(actor, "content_published", name, serde_json::json!({ "version": version }))?;
        Ok(content)
    }

    /// Every content block, by name.
    pub fn contents(&self) -> Result<Vec<Content>, EngineError> {
        Ok(self.storage.contents()?)
    }

    /// A content block with its newest and live versions.
    pub fn content_view(&self, name: &str) -> Result<ContentView, EngineError> {
        let content = self.content_record(name)?;
        let latest = self.version_of(&content, content.latest_version)?;
        let live = content.live_version.map(|v| self.version_of(&content, v)).transpose()?;
        Ok(ContentView { content, latest, live })
    }

    fn content_record(&self, name: &str) -> Result<Content, EngineError> {
        self.storage.content(name)?.ok_or_else(|| EngineError::ContentNotFound(name.to_owned()))
    }

    fn version_of(&self, content: &Content, version: u32) -> Result<ContentSpec, EngineError> {
        self.storage.content_version(&content.name, version)?.ok_or_else(|| {
            EngineError::InvalidContent(vec![format!("`{}` version {version} is missing", content.name)])
        })
    }

    /// The version of a content block a render uses; `None` when there is none to use.
    fn content_in_use(
        &self,
        name: &str,
        which: ContentVersion,
    ) -> Result<Option<(Content, ContentSpec)>, EngineError> {
        let Some(content) = self.storage.content(name)? else { return Ok(None) };
        let version = match which {
            ContentVersion::Live => content.live_version,
            ContentVersion::Latest => Some(content.latest_version),
        };
        match version {
            Some(v) => Ok(self.storage.content_version(name, v)?.map(|spec| (content, spec))),
            None => Ok(None),
        }
    }

    /// Why a campaign's messages cannot be sent as they stand (checked on activation): a stored
    /// template that does not exist, is a snippet, or has no live version; parts given beside it.
    pub(crate) fn content_problems(&self, campaign: &Campaign) -> Result<Vec<String>, EngineError> {
        let mut problems = Vec::new();
        let variants = campaign.experiment.iter().flat_map(|e| e.variants.iter());
        let messages = std::iter::once(&campaign.message).chain(variants.filter_map(|v| v.message.as_ref()));
        for message in messages {
            if message.mixes_content_and_parts() {
                problems
                    .push("message: name a stored template (`content`) or give the parts, not both".into());
            }
            let Some(name) = &message.content else { continue };
            match self.storage.content(name)? {
                None => problems.push(format!("message.content: no content block is named `{name}`")),
                Some(c) if c.kind == ContentKind::Snippet => {
                    problems.push(format!("message.content: `{name}` is a snippet; name a message template"))
                }
                Some(c) if c.live_version.is_none() => {
                    problems.push(format!("message.content: `{name}` has no live version; publish one"))
                }
                Some(_) => {}
            }
        }
        Ok(problems)
    }

    /// The message for one reader: the stored template it names, in the reader's locale, with the
    /// snippets it renders and the context templates read. `step` is the send's step key
    /// (`journey:<id>:<version>:<entry>:<step>` for a journey's message step).
    pub(crate) fn prepare_message(
        &self,
        campaign: &Campaign,
        message: &MessageTemplate,
        profile: &Profile,
        step: &str,
        which: ContentVersion,
    ) -> Result<PreparedMessage, String> {
        let stored = match &message.content {
            Some(name) => match self.content_in_use(name, which).map_err(|e| e.to_string())? {
                Some((content, spec)) if content.kind == ContentKind::Template => spec.message(&message.data),
                Some(_) => return Err(format!("content `{name}` is a snippet, not a message template")),
                None => return Err(format!("content `{name}` has no live version; publish one")),
            },
            None => message.clone(),
        };
        let wanted = reader_locale(profile);
        let chosen = pick_locale(stored.locales.keys(), wanted.as_deref()).cloned();
        let template = stored.localized(chosen.as_ref());
        let parts = [template.subject.as_deref(), Some(template.body.as_str()), template.html.as_deref()];
        let snippets = self.snippets_for(parts.into_iter().flatten(), which).map_err(|e| e.to_string())?;
        let context = serde_json::json!({
            "snippets": snippets,
            "locale": wanted,
            "campaign": { "id": campaign.id, "name": campaign.name },
            "journey": journey_of(step),
            "preview": which == ContentVersion::Latest,
        });
        Ok(PreparedMessage { template, context })
    }

    /// The snippets some templates render, and those they render in turn.
    fn snippets_for<'a>(
        &self,
        sources: impl IntoIterator<Item = &'a str>,
        which: ContentVersion,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let mut found = BTreeMap::new();
        let mut wanted = snippets_of(sources);
        while let Some(name) = wanted.pop() {
            if found.contains_key(&name) || found.len() >= MAX_SNIPPETS {
                continue;
            }
            // A snippet not saved (or not live) is left out: the render then names it.
            if let Some((content, spec)) = self.content_in_use(&name, which)?
                && content.kind == ContentKind::Snippet
            {
                wanted.extend(snippets_of([spec.body.as_str()]));
                found.insert(name, spec.body);
            }
        }
        Ok(found)
    }
}

/// The reader's locale: the `locale` trait when set, else what the sources said
/// (Segment's `context.locale`).
pub(crate) fn reader_locale(profile: &Profile) -> Option<String> {
    profile
        .attributes
        .get("locale")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or_else(|| profile.locale.clone())
}

/// The journey step of a send's step key, for templates.
fn journey_of(step: &str) -> serde_json::Value {
    let mut parts = step.splitn(5, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("journey"), Some(id), Some(version), Some(_entry), Some(step)) => serde_json::json!({
            "id": id,
            "version": version.parse::<u32>().ok(),
            "step": step,
        }),
        _ => serde_json::Value::Null,
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Snippet => "snippet",
        ContentKind::Template => "message template",
    }
}
