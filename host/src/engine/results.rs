//! Measuring a campaign from the customer's own events: who received it (and which variant),
//! who was held out, and who then converted within the window, by the campaign's conversion
//! definition. No event needs the campaign's id: an order from the shop counts because it came
//! from a recipient within the window after the message.
//!
//! One definition serves everything that reports conversions: these results, the funnel and
//! ROMI calculators (which receive each conversion found here as a `campaign_conversion` event)
//! and the lift they compute.

use std::collections::{BTreeMap, HashMap};

use super::{Engine, EngineError};
use crate::campaign::{Campaign, Conversion};
use crate::contract;
use crate::measurement::{self, CampaignResults, Compared, GroupResult};
use crate::profile::ProfileId;
use crate::stats::Sample;

/// The name of the event the host derives for each conversion it finds, as KPI calculators
/// receive it. Reserved: no source may send an event of this name.
pub const CONVERSION_EVENT: &str = "campaign_conversion";

/// The campaign's record read against its conversion definition.
pub(super) struct Measured {
    /// Each profile the campaign reached or held out.
    members: HashMap<ProfileId, Member>,
    /// Every conversion found, in the order found.
    pub(super) conversions: Vec<Found>,
}

/// A profile the campaign reached or held out.
struct Member {
    /// Held out (its first entry was a `control_assigned`).
    control: bool,
    /// The variant of its first delivery.
    variant: Option<String>,
    /// When each message was delivered (or it was held out), oldest first: each opens a window.
    entries: Vec<i64>,
    /// Conversions in its windows, and their value.
    converted: u32,
    revenue: f64,
}

/// One conversion found in a member's window.
pub(super) struct Found {
    profile: ProfileId,
    at: i64,
    event: String,
    event_id: String,
    value: f64,
    control: bool,
    variant: Option<String>,
}

impl Found {
    /// The conversion as a KPI calculator receives it.
    pub(super) fn event(&self, campaign: &str) -> contract::Event {
        let properties = serde_json::json!({
            "event": self.event,
            "event_id": self.event_id,
            "value": self.value,
            "group": if self.control { "control" } else { "treated" },
            "variant": self.variant,
        });
        contract::Event {
            id: format!("{campaign}:{}:conversion", self.event_id),
            profile_id: self.profile.to_string(),
            name: CONVERSION_EVENT.into(),
            timestamp: self.at,
            properties: properties.to_string(),
            campaign_id: Some(campaign.to_owned()),
        }
    }
}

impl Engine {
    /// The campaign's results now: per group, and each comparison with its interval, test and
    /// verdict. Reads; stores nothing (see [`Engine::record_campaign_results`]).
    pub fn campaign_results(&self, campaign: &str) -> Result<CampaignResults, EngineError> {
        let campaign = self.campaign(campaign)?;
        let measured = self.measure(&campaign)?;
        Ok(self.results_of(&campaign, &measured))
    }

    /// Computes the results and keeps them as the campaign's latest. Only a kept computation
    /// moves the sequential test's always-valid p-value, so how often anyone reads the results
    /// changes nothing; the KPI computation (on request and on schedule) keeps them.
    pub fn record_campaign_results(&self, campaign: &str) -> Result<CampaignResults, EngineError> {
        let results = self.campaign_results(campaign)?;
        self.storage.put_campaign_results(&results)?;
        Ok(results)
    }

    /// The campaign's latest kept results, if any were kept.
    pub fn latest_campaign_results(&self, campaign: &str) -> Result<Option<CampaignResults>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.campaign_results(campaign)?)
    }

    /// Reads the campaign's record for its members, then each member's own events for
    /// conversions. Memory: one small entry per member plus the conversions found.
    pub(super) fn measure(&self, campaign: &Campaign) -> Result<Measured, EngineError> {
        let mut members: HashMap<ProfileId, Member> = HashMap::new();
        for event in self.storage.campaign_record(&campaign.id) {
            let event = event?;
            let control = match event.name.as_str() {
                "message_delivered" => false,
                "control_assigned" => true,
                _ => continue,
            };
            let member = members.entry(event.profile).or_insert_with(|| Member {
                control,
                variant: event.properties.get("variant").and_then(|v| v.as_str()).map(str::to_owned),
                entries: Vec::new(),
                converted: 0,
                revenue: 0.0,
            });
            member.entries.push(event.timestamp);
        }
        let mut conversions = Vec::new();
        if let Some(conversion) = &campaign.conversion {
            for (profile, member) in &mut members {
                conversions.extend(self.conversions_of(*profile, member, conversion)?);
            }
        }
        Ok(Measured { members, conversions })
    }

    /// A member's conversions: its events of a converting kind that fall in a window, `(entry,
    /// entry + window]`, after one of its entries. An event at the very moment of the message
    /// cannot have been caused by it.
    fn conversions_of(
        &self,
        profile: ProfileId,
        member: &mut Member,
        conversion: &Conversion,
    ) -> Result<Vec<Found>, EngineError> {
        let Some(&first) = member.entries.first() else { return Ok(Vec::new()) };
        let mut found = Vec::new();
        for event in self.storage.events_of_since(profile, Some(first.saturating_add(1)))? {
            let in_window = member.entries.iter().any(|&entry| {
                event.timestamp > entry && event.timestamp <= entry.saturating_add(conversion.window_ms)
            });
            if !in_window {
                continue;
            }
            let Some(kind) =
                conversion.events.iter().find(|kind| kind.matches(&event.name, &event.properties))
            else {
                continue;
            };
            let value = kind.value_of(&event.properties);
            member.converted += 1;
            member.revenue += value;
            found.push(Found {
                profile,
                at: event.timestamp,
                event: event.name,
                event_id: event.id,
                value,
                control: member.control,
                variant: member.variant.clone(),
            });
        }
        Ok(found)
    }

    pub(super) fn results_of(&self, campaign: &Campaign, measured: &Measured) -> CampaignResults {
        // Per group: counts and the revenue of each converted recipient (the others are zeros).
        #[derive(Default)]
        struct Tally {
            recipients: u64,
            converted: u64,
            conversions: u64,
            revenue: Sample,
        }
        impl Tally {
            fn add(&mut self, member: &Member) {
                self.recipients += 1;
                self.revenue.len += 1;
                if member.converted > 0 {
                    self.converted += 1;
                    self.conversions += u64::from(member.converted);
                    if member.revenue != 0.0 {
                        self.revenue.nonzero.push(member.revenue);
                    }
                }
            }
            fn result(&self, group: &str) -> GroupResult {
                // `+ 0.0`: an empty sum of floats is -0.0, which would print as "-0.00".
                let revenue = self.revenue.nonzero.iter().sum::<f64>() + 0.0;
                GroupResult::new(group, self.recipients, self.converted, self.conversions, revenue)
            }
        }
        let mut variants: BTreeMap<String, Tally> = BTreeMap::new();
        let (mut all, mut control) = (Tally::default(), Tally::default());
        // Sorted by profile, so the bootstrap's input, and so its interval, is the same every time.
        let mut members: Vec<(&ProfileId, &Member)> = measured.members.iter().collect();
        members.sort_by_key(|(id, _)| **id);
        for (_, member) in members {
            if member.control {
                control.add(member);
            } else {
                all.add(member);
                if let Some(variant) = &member.variant {
                    variants.entry(variant.clone()).or_default().add(member);
                }
            }
        }
        // Variants in the experiment's order, then any no longer in it (removed since).
        let experiment = campaign.experiment.as_ref();
        let mut order: Vec<String> =
            experiment.map(|e| e.variants.iter().map(|v| v.id.clone()).collect()).unwrap_or_default();
        order.extend(variants.keys().filter(|id| !order.contains(id)).cloned().collect::<Vec<_>>());
        let mut groups: Vec<(GroupResult, &Sample)> = Vec::new();
        for id in &order {
            if let Some(tally) = variants.get(id) {
                groups.push((tally.result(id), &tally.revenue));
            }
        }
        if groups.len() != 1 {
            groups.push((all.result("all"), &all.revenue));
        }
        let has_control = experiment.is_some_and(|e| e.control_percent > 0) || control.recipients > 0;
        if has_control {
            groups.push((control.result("control"), &control.revenue));
        }

        let stored = self.storage.campaign_results(&campaign.id).ok().flatten();
        let stopping = experiment.and_then(|e| e.early_stopping);
        let mut comparisons = Vec::new();
        if campaign.conversion.is_some() {
            let compare = |g: usize, b: usize| {
                let (group, revenue) = &groups[g];
                let (baseline, baseline_revenue) = &groups[b];
                let previous = stored.as_ref().and_then(|s| {
                    s.comparisons
                        .iter()
                        .find(|c| c.group == group.group && c.baseline == baseline.group)
                        .and_then(|c| c.sequential)
                        .map(|s| s.always_valid_p)
                });
                Compared {
                    group,
                    revenue,
                    baseline,
                    baseline_revenue,
                    seed: super::pipeline::hash64(&[&campaign.id, &group.group, &baseline.group]),
                    stopping: stopping.map(|s| (s, previous)),
                }
                .compare()
            };
            let treated: Vec<usize> = (0..groups.len()).filter(|&i| groups[i].0.group != "control").collect();
            if has_control {
                let control = groups.len() - 1;
                // The campaign against its holdout first (`all`, or the one variant), then each
                // variant against it.
                let mut order = treated.clone();
                order.sort_by_key(|&i| groups[i].0.group != "all");
                for &g in &order {
                    comparisons.push(compare(g, control));
                }
            }
            let variant_groups: Vec<usize> =
                treated.iter().copied().filter(|&i| groups[i].0.group != "all").collect();
            if let Some((&first, rest)) = variant_groups.split_first() {
                for &g in rest {
                    comparisons.push(compare(g, first));
                }
            }
        }
        let mut notes = Vec::new();
        if campaign.conversion.is_some() && comparisons.len() > 2 {
            notes.push(format!(
                "{} comparisons are made at 95% each: by chance alone, about one in twenty would look significant.",
                comparisons.len()
            ));
        }
        if campaign.conversion.is_some() && !has_control {
            notes.push("Without a control group these figures cannot say what would have happened without the campaign; hold some recipients out (`experiment.control_percent`) to measure its lift.".into());
        }
        if experiment.is_some_and(|e| e.control_percent > 0) && control.recipients == 0 {
            notes.push("The control group is empty: a holdout is assigned when the campaign decides for a profile; nobody has been held out yet.".into());
        }
        CampaignResults {
            campaign: campaign.id.clone(),
            computed_at: self.now(),
            definition: measurement::describe(campaign.conversion.as_ref()),
            conversion: campaign.conversion.clone(),
            groups: groups.into_iter().map(|(g, _)| g).collect(),
            comparisons,
            notes,
        }
    }
}
