//! {{name}}: a personalizer. Replaces every `{{first_name}}` in the body with the profile's
//! `first_name` attribute, or "there" when it has none.

use baton_sdk::*;

/// The plugin.
pub struct Greet;

impl Plugin for Greet {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0", PluginKind::Personalizer, "Greets by first name.")
            .with_needs(Needs::attributes(["first_name"]))
    }
}

impl Personalizer for Greet {
    fn personalize(_: Invocation, subject: Subject, mut message: Message) -> Result<Message, PluginError> {
        message.body = message.body.replace("{{first_name}}", subject.text("first_name").unwrap_or("there"));
        Ok(message)
    }
}

baton_sdk::personalizer!(Greet);
