//! What can go wrong in the engine, each variant naming the thing at fault and what to do.

use crate::campaign::CampaignState;
use crate::runtime::{InvokeError, RuntimeError};
use crate::store::StorageError;

/// An engine failure. Variants other than `Storage` and `Runtime` are the caller's to fix.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No campaign has this id.
    #[error("campaign `{0}` does not exist")]
    CampaignNotFound(String),
    /// A campaign with this id exists already.
    #[error("campaign `{0}` exists already; choose another id or update it")]
    CampaignExists(String),
    /// The campaign definition is invalid.
    #[error("campaign is invalid: {}", .0.join("; "))]
    InvalidCampaign(Vec<String>),
    /// The lifecycle does not allow this transition.
    #[error("campaign `{campaign}` cannot go from {from:?} to {to:?}")]
    InvalidTransition {
        /// The campaign.
        campaign: String,
        /// Its state.
        from: CampaignState,
        /// The state asked for.
        to: CampaignState,
    },
    /// The campaign cannot be activated yet.
    #[error("campaign `{campaign}` cannot be activated: {}", .problems.join("; "))]
    NotReady {
        /// The campaign.
        campaign: String,
        /// What is missing or wrong.
        problems: Vec<String>,
    },
    /// The change is not allowed in the campaign's current state.
    #[error("campaign `{campaign}` is {state:?}: {why}")]
    WrongState {
        /// The campaign.
        campaign: String,
        /// Its state.
        state: CampaignState,
        /// What is not allowed.
        why: String,
    },
    /// No feedback endpoint has this name.
    #[error("no feedback endpoint is named `{0}`")]
    FeedbackEndpointNotFound(String),
    /// A vendor webhook failed its signature check; no plugin saw it.
    #[error("webhook refused: {0}")]
    FeedbackRefused(String),
    /// The campaign has no binding in this slot.
    #[error("campaign `{campaign}` has no {slot} binding")]
    BindingNotFound {
        /// The campaign.
        campaign: String,
        /// The slot, as text.
        slot: String,
    },
    /// No saved segment has this id.
    #[error("no saved segment is named `{0}`; `GET /v1/segments` lists them")]
    SegmentNotFound(String),
    /// The saved segment cannot be saved or changed as asked.
    #[error("segment is invalid: {}", .0.join("; "))]
    InvalidSegment(Vec<String>),
    /// As many saved segments as `engine.max_saved_segments` allows exist.
    #[error("{0}")]
    SegmentLimit(String),
    /// The segment is manual where a rule is needed, or the other way round.
    #[error("{0}")]
    SegmentWrongKind(String),
    /// No journey has this id.
    #[error("no journey is named `{0}`; `GET /v1/journeys` lists them")]
    JourneyNotFound(String),
    /// The journey cannot be saved as written.
    #[error("journey is invalid: {}", .0.join("; "))]
    InvalidJourney(Vec<String>),
    /// The journey's state does not allow the change (publishing an ended journey, say).
    #[error("{0}")]
    JourneyState(String),
    /// No content block has this name.
    #[error("no content block is named `{0}`; `GET /v1/content` lists them")]
    ContentNotFound(String),
    /// The content block cannot be saved (or published) as written.
    #[error("content is invalid: {}", .0.join("; "))]
    InvalidContent(Vec<String>),
    /// No profile has this user id or email.
    #[error("no profile has {0}")]
    NoSuchPerson(String),
    /// No profile has this id.
    #[error("profile {0} does not exist")]
    ProfileNotFound(crate::profile::ProfileId),
    /// No trait binding has this name.
    #[error("no trait binding is named `{0}`; `GET /v1/traits` lists them")]
    TraitNotFound(String),
    /// No plugin with this hash is installed.
    #[error("plugin {0} is not installed")]
    PluginNotFound(String),
    /// A plugin a binding pins cannot be removed.
    #[error("plugin {plugin} is bound to campaign `{campaign}` ({slot}); unbind or swap it first")]
    PluginBound {
        /// The plugin.
        plugin: String,
        /// A campaign that pins it.
        campaign: String,
        /// The slot it is bound to there.
        slot: String,
    },
    /// A plugin something else still needs cannot be removed.
    #[error("plugin {plugin} {used_by}")]
    PluginInUse {
        /// The plugin.
        plugin: String,
        /// Who uses it and what to do, said for people.
        used_by: String,
    },
    /// An unsubscribe link that Baton did not sign, that expired, or whose recipient is gone.
    #[error("this unsubscribe link is not valid (it may have expired); use the link in a newer message")]
    UnsubscribeLinkInvalid,
    /// A component could not be installed.
    #[error(transparent)]
    Install(#[from] crate::runtime::InstallError),
    /// The plugin's kind does not fit the slot.
    #[error("slot `{slot}` needs a {expected} plugin, but {plugin} is a {actual}")]
    WrongPluginKind {
        /// The slot.
        slot: String,
        /// The kind the slot needs.
        expected: String,
        /// The plugin.
        plugin: String,
        /// Its kind.
        actual: String,
    },
    /// The plugin refused the binding config.
    #[error("plugin {plugin} refused the config{}: {message}", at_pointer(path))]
    InvalidConfig {
        /// The plugin.
        plugin: String,
        /// A JSON pointer to the fault.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The binding grants something the plugin does not declare it needs.
    #[error("binding grants {what} `{name}`, which plugin {plugin} does not declare in info().needs")]
    UndeclaredGrant {
        /// The plugin.
        plugin: String,
        /// `host` or `secret`.
        what: &'static str,
        /// The host or secret name.
        name: String,
    },
    /// The plugin named cannot serve this use as it is: it needs a newer contract, or a grant
    /// the request does not give. The message says which.
    #[error("plugin {plugin} {needs}")]
    PluginNeeds {
        /// The plugin.
        plugin: String,
        /// What it needs, said so that the caller knows what to fix.
        needs: String,
    },
    /// A request to change secrets or tokens is invalid: a bad name or host scope.
    #[error("{0}")]
    InvalidRequest(String),
    /// No secret has this name.
    #[error("secret `{0}` is not set")]
    SecretNotFound(String),
    /// No live token has this id.
    #[error("no live token has id `{0}`")]
    TokenNotFound(String),
    /// The pacing policies are invalid.
    #[error("policies are invalid: {}", .0.join("; "))]
    InvalidPolicies(Vec<String>),
    /// Another engine setting is invalid.
    #[error("engine settings are invalid: {}", .0.join("; "))]
    InvalidSettings(Vec<String>),
    /// The HTTP client could not be set up or a delivery task failed.
    #[error("delivery: {0}")]
    Http(String),
    /// A plugin call failed.
    #[error(transparent)]
    Plugin(#[from] InvokeError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(RuntimeError),
}

impl From<RuntimeError> for EngineError {
    fn from(err: RuntimeError) -> Self {
        match err {
            RuntimeError::PluginNotFound(hash) => EngineError::PluginNotFound(hash),
            RuntimeError::Storage(err) => EngineError::Storage(err),
            other => EngineError::Runtime(other),
        }
    }
}

/// ` at `/rules/2/op`` for a fault's JSON pointer; nothing for the whole document (empty pointer).
fn at_pointer(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!(" at `{path}`") }
}
