//! Contract 0.1.0, frozen: its own bindings from `wit/v0.1.0`, converted to Baton's types at
//! the edge. Plugins built against 0.1.0 keep running unchanged; the calls 0.2.0 added
//! (`needs-for-config`, feedback, computed traits) do not exist for them.

#![allow(missing_docs, clippy::all)]

/// The contract version this module runs (`baton:plugin@0.1.0`).
pub(in crate::runtime) const VERSION: &str = "0.1.0";

super::edge::four_worlds!("../wit/v0.1.0", v0_1_0);

/// A 0.1.0 component, pre-instantiated and typed by its world.
pub(in crate::runtime) enum Pre {
    Segment(segment_rule::SegmentRulePre<Sandbox>),
    Personalizer(personalizer::PersonalizerPre<Sandbox>),
    Channel(channel_adapter::ChannelAdapterPre<Sandbox>),
    Kpi(kpi_calculator::KpiCalculatorPre<Sandbox>),
}

super::edge::shared_edge!();

impl Pre {
    /// The world this component implements.
    pub(in crate::runtime) fn kind(&self) -> c::PluginKind {
        match self {
            Pre::Segment(_) => c::PluginKind::SegmentRule,
            Pre::Personalizer(_) => c::PluginKind::Personalizer,
            Pre::Channel(_) => c::PluginKind::ChannelAdapter,
            Pre::Kpi(_) => c::PluginKind::KpiCalculator,
        }
    }

    fn info_other(&self, _: &mut Store<Sandbox>) -> wasmtime::Result<types::PluginInfo> {
        Err(wrong_world())
    }

    fn validate_config_other(
        &self,
        _: &mut Store<Sandbox>,
        _: &str,
    ) -> wasmtime::Result<Result<(), types::ConfigError>> {
        Err(wrong_world())
    }
}

/// 0.1.0 has four worlds; a computed trait needs 0.2.0.
fn link_other(_: wasmtime::component::InstancePre<Sandbox>, kind: c::PluginKind) -> wasmtime::Result<Pre> {
    Err(wasmtime::Error::msg(format!("contract 0.1.0 has no `{kind}` world; build against 0.2.0")))
}

fn info_out(info: types::PluginInfo) -> c::PluginInfo {
    c::PluginInfo {
        name: info.name,
        version: info.version,
        kind: match info.kind {
            types::PluginKind::SegmentRule => c::PluginKind::SegmentRule,
            types::PluginKind::Personalizer => c::PluginKind::Personalizer,
            types::PluginKind::ChannelAdapter => c::PluginKind::ChannelAdapter,
            types::PluginKind::KpiCalculator => c::PluginKind::KpiCalculator,
        },
        description: info.description,
        config_schema: info.config_schema,
        needs: needs_out(info.needs),
        provides: Vec::new(),
    }
}

/// 0.1.0 rules say nothing of when their verdict may change.
fn membership_out(m: segment_rule::exports::baton::plugin::segmentation::Membership) -> c::Membership {
    c::Membership { member: m.member, score: m.score, recheck_at: None }
}
