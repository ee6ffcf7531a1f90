//! The path of one send: segment → policies → experiment → personalize → outbox. Triggered
//! campaigns run it for the profile of each matching event; batch campaigns and previews run it
//! for every profile, the segment rule judging them in batches.

use crate::store::Lock;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::policy::{self, Pacing};
use super::subject::{Reads, subject};
use super::{Engine, EngineError};
use crate::campaign::{Binding, Campaign, CampaignState, MessageTemplate, Slot, Trigger};
use crate::content::ContentVersion;
use crate::contract::{self, Invocation, Membership, Subject};
use crate::delivery::{PendingSend, SkipReason, SkipRecord};
use crate::profile::{Event, IngestOutcome, NewEvent, Profile, Suppression, SuppressionReason};
use crate::runtime::{InvokeError, LoadedPlugin};
use crate::store::SentTo;

/// Where a scan sends its batches of profiles (with their events) to the workers.
/// Batches of profiles on their way from the scanning thread to the workers, who load each
/// one's events: the scan is one thread, the loading as parallel as the judging.
type Batches = std::sync::mpsc::SyncSender<Vec<Profile>>;

/// Profiles judged per segment call in batch runs and previews.
pub(super) const SEGMENT_BATCH: usize = 500;
/// Rendered messages a preview returns as samples.
const PREVIEW_SAMPLES: usize = 5;

/// What a run (triggered, batch, or preview) did, in counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RunReport {
    /// Profiles the segment rule judged.
    pub evaluated: usize,
    /// Profiles in the audience.
    pub audience: usize,
    /// Messages queued for delivery (or, in a preview, that would be).
    pub queued: usize,
    /// Sends refused because their idempotency key was used before.
    pub duplicates: usize,
    /// Suppressed or delayed sends, by reason code.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// Queued messages per experiment variant (`-` without an experiment).
    pub variants: BTreeMap<String, usize>,
    /// A few rendered messages (previews only).
    pub samples: Vec<contract::Message>,
}

impl RunReport {
    /// Adds another part of the same run.
    fn absorb(&mut self, part: RunReport) {
        self.evaluated += part.evaluated;
        self.audience += part.audience;
        self.queued += part.queued;
        self.duplicates += part.duplicates;
        for (reason, n) in part.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
        for (variant, n) in part.variants {
            *self.variants.entry(variant).or_default() += n;
        }
        let room = PREVIEW_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(part.samples.into_iter().take(room));
    }
}

/// A campaign's plugins, loaded once per run: swaps take effect on the next run, never midway.
struct Plugins {
    /// The segment rule; none when a saved segment (`audience`) alone decides.
    segment: Option<(Arc<LoadedPlugin>, Binding)>,
    /// The personalizer chain in order (`personalizer`, then `personalizer:<name>` by name), each
    /// with what it reads.
    personalizers: Vec<(Arc<LoadedPlugin>, Binding, Reads)>,
    channel: (Arc<LoadedPlugin>, Binding),
    /// What the segment rule reads with its binding's config.
    segment_reads: Reads,
}

impl Plugins {
    /// The events the campaign's readers (segment rule and personalizers) need.
    fn event_scope(&self, now: i64) -> EventScope {
        let mut readers = vec![&self.segment_reads];
        readers.extend(self.personalizers.iter().map(|(_, _, reads)| reads));
        EventScope::of(&readers, now)
    }
}

/// One pass of a campaign over some profiles: a batch run, a preview, or one trigger.
#[derive(Clone, Copy)]
struct Pass<'a> {
    campaign: &'a Campaign,
    plugins: &'a Plugins,
    /// The triggering event, for a triggered pass.
    trigger: Option<&'a Event>,
    /// Names the pass in idempotency keys: the run's name, or the triggering event's id.
    step: &'a str,
    mode: Mode,
}

/// How [`Engine::send_one`] treats its send.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OneSend {
    /// Enqueued, durably.
    Live,
    /// Enqueued without a flush of its own: a durable trigger or timer stands behind it, and
    /// the flushed write that answers it carries the send (see
    /// [`Storage::enqueue_behind_trigger`]).
    ///
    /// [`Storage::enqueue_behind_trigger`]: crate::Storage::enqueue_behind_trigger
    Queued,
    /// Rendered and judged, nothing written: the report's samples hold the message.
    Preview,
}

/// Live runs write skips and sends; previews write nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    /// Live, deciding queued triggers: the sends need no flush of their own, since the
    /// trigger's flushed clearing carries them (see [`Storage::enqueue_behind_trigger`]).
    ///
    /// [`Storage::enqueue_behind_trigger`]: crate::Storage::enqueue_behind_trigger
    Queued,
    Preview,
}

impl Engine {
    /// Runs the triggered campaigns that the given (stored) events trigger.
    pub fn on_events(&self, events: &[Event]) -> Result<RunReport, EngineError> {
        self.on_events_in(events, Mode::Live)
    }

    fn on_events_in(&self, events: &[Event], mode: Mode) -> Result<RunReport, EngineError> {
        self.apply_responses(events)?;
        // Traits first: a segment on a lead score reacts to the event that moved the score.
        self.update_traits(events)?;
        self.journeys_on_events(events, mode == Mode::Queued)?;
        let mut report = RunReport::default();
        let mut campaigns: Vec<Campaign> = self
            .storage
            .campaigns()?
            .into_iter()
            .filter(|c| c.state == CampaignState::Active && matches!(c.trigger, Trigger::Event { .. }))
            .collect();
        // Campaigns competing for the same profiles go highest priority first, so the winner's
        // send is on record when the others check the priority window.
        campaigns.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        for campaign in &campaigns {
            let matching: Vec<&Event> = events.iter().filter(|e| triggers(campaign, e)).collect();
            if matching.is_empty() {
                continue;
            }
            let plugins = self.campaign_plugins(campaign)?;
            // Only the events the campaign's plugins declared: a profile with a long history
            // (or one someone pumps events into) costs each trigger no more than they need.
            let scope = plugins.event_scope(self.now());
            for event in matching {
                let Some(profile) = self.storage.profile(event.profile)? else {
                    continue;
                };
                if let Some(audience) = &campaign.audience
                    && self.storage.segment_member(audience, profile.id)?.is_none()
                {
                    continue;
                }
                let history = scope.load(&self.storage, &profile)?;
                let candidates = vec![(profile, history)];
                let pass = Pass { campaign, plugins: &plugins, trigger: Some(event), step: &event.id, mode };
                self.judge(pass, candidates, &mut report)?;
            }
        }
        Ok(report)
    }

    /// Runs the triggered campaigns for up to `limit` queued triggers (events ingested with
    /// [`Storage::ingest_and_queue_triggers`]), then clears them. A crash in between leaves them
    /// queued: they run again, and idempotency keys keep anyone from getting a message twice.
    ///
    /// [`Storage::ingest_and_queue_triggers`]: crate::Storage::ingest_and_queue_triggers
    pub fn process_triggers(&self, limit: usize) -> Result<RunReport, EngineError> {
        let _draining = self.storage.exclusive(Lock::Triggers)?;
        let pending = self.storage.pending_triggers(limit)?;
        if pending.is_empty() {
            return Ok(RunReport::default());
        }
        let (tickets, events): (Vec<u64>, Vec<Event>) = pending.into_iter().unzip();
        let report = self.on_events_in(&events, Mode::Queued)?;
        self.storage.clear_triggers(&tickets)?;
        Ok(report)
    }

    /// Stores events from a live source and queues as triggers the ones something reacts to:
    /// events named by an active event-triggered campaign, and the response events that suppress
    /// a channel. Page views and the like are stored without a trigger, so a sign-up never waits
    /// behind them. A campaign activated meanwhile reacts to events stored after it is active.
    pub fn ingest_live(&self, events: &[NewEvent], now: i64) -> Result<Vec<IngestOutcome>, EngineError> {
        let mut wanted: std::collections::HashSet<String> =
            SUPPRESSING_EVENTS.iter().map(|name| (*name).to_owned()).collect();
        wanted.extend(self.consent.event_names().cloned());
        for campaign in self.storage.campaigns()? {
            if let (CampaignState::Active, Trigger::Event { event, .. }) = (campaign.state, campaign.trigger)
            {
                wanted.insert(event);
            }
        }
        // So are the events journeys answer: entries, exits, goals and waits.
        wanted.extend(self.journey_event_names()?);
        // Events a computed trait reads are queued too, so the trait follows them durably.
        let Some(traits) = self.trait_event_names()? else {
            return Ok(self.storage.ingest_and_queue_triggers(events, now)?);
        };
        wanted.extend(traits);
        Ok(self.storage.ingest_and_queue_triggers_for(events, now, &|name| wanted.contains(name))?)
    }

    /// Stores imported history: deduplicated and attributed like live events, but queued for
    /// nothing, so no campaign answers it and no computed trait follows it (recompute those
    /// after the import).
    pub fn ingest_history(&self, events: &[NewEvent], now: i64) -> Result<Vec<IngestOutcome>, EngineError> {
        Ok(self.storage.ingest(events, now)?)
    }

    /// Drains the queued triggers on a blocking thread, soon. However often ingest asks, at most
    /// one drain runs and at most one more is pending: a request that arrives during a drain
    /// makes it go round once more instead of starting another. (A drain per request piled up
    /// hundreds of blocking threads under sustained ingest, each waiting for the same lock, and
    /// memory grew with them.) Must be called within a tokio runtime.
    pub fn drain_triggers_soon(self: &Arc<Self>) {
        if !self.drain.request() {
            return;
        }
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                if let Err(err) = engine.drain_triggers() {
                    tracing::error!(error = %err, "Triggered campaigns failed; the triggers stay queued.");
                }
                if !engine.drain.finish() {
                    break;
                }
            }
        });
    }

    /// Keeps the saved segments current, then runs the triggered campaigns for every queued
    /// trigger, until neither has anything left: membership first, so a campaign whose audience
    /// is a saved segment judges the event that qualified someone as a member; entries and exits
    /// queue triggers of their own, and traits the triggers moved are judged on the next round.
    pub fn drain_triggers(&self) -> Result<(), EngineError> {
        loop {
            self.keep_segments_current()?;
            if !self.storage.has_pending_triggers() {
                return Ok(());
            }
            while self.storage.has_pending_triggers() {
                self.process_triggers(1_000)?;
            }
        }
    }

    /// Response events that change what may be sent: `unsubscribed`, `bounced` and `complained`
    /// suppress the channel named in their `channel` property (`email` when absent).
    fn apply_responses(&self, events: &[Event]) -> Result<(), EngineError> {
        for event in events {
            if let Some((key, state)) = self.consent.of_event(&event.name, &event.properties) {
                let (source, limit) = (format!("event:{}", event.name), self.consent.history_limit);
                self.storage.update_profile(event.profile, self.now(), |profile| {
                    profile.record_consent(&key, state, event.timestamp, &source, limit);
                })?;
            }
            // Keep in step with SUPPRESSING_EVENTS.
            let reason = match event.name.as_str() {
                "unsubscribed" => SuppressionReason::Unsubscribed,
                "bounced" => SuppressionReason::Bounced,
                "complained" => SuppressionReason::Complained,
                _ => continue,
            };
            let channel =
                event.properties.get("channel").and_then(|c| c.as_str()).unwrap_or("email").to_owned();
            let since = event.timestamp;
            self.storage.update_profile(event.profile, self.now(), |profile| {
                profile.suppressions.entry(channel.clone()).or_insert(Suppression { reason, since });
            })?;
            tracing::info!(profile = %event.profile, %channel, ?reason, "Channel suppressed by a response event.");
        }
        Ok(())
    }

    /// Sends a batch campaign to its whole audience now. `run` names this run: each audience
    /// member gets at most one message per run, however often the run is retried. Audited as
    /// `actor`'s (`system` for a scheduled run).
    pub fn run_batch(&self, actor: &str, campaign: &str, run: &str) -> Result<RunReport, EngineError> {
        let campaign = self.campaign(campaign)?;
        if campaign.state != CampaignState::Active {
            return Err(EngineError::WrongState {
                campaign: campaign.id.clone(),
                state: campaign.state,
                why: "only an active campaign sends; preview it instead".into(),
            });
        }
        if matches!(campaign.trigger, Trigger::Journey {}) {
            return Err(EngineError::WrongState {
                campaign: campaign.id.clone(),
                state: campaign.state,
                why: "it sends only from journeys' message steps; run the journey instead".into(),
            });
        }
        let report = self.over_all_profiles(&campaign, run, Mode::Live)?;
        let detail = serde_json::json!({ "run": run, "queued": report.queued });
        self.audit(actor, "campaign_run", &campaign.id, detail)?;
        Ok(report)
    }

    /// Carries one profile through a campaign's pipeline (segment rule if bound, policies,
    /// experiment, personalizers, the outbox), as a journey's message step does. `step` names the
    /// pass in the idempotency key; `how` says whether the send is enqueued (with or without a
    /// flush of its own) or only rendered.
    pub(crate) fn send_one(
        &self,
        campaign: &Campaign,
        profile: Profile,
        step: &str,
        trigger: Option<&Event>,
        how: OneSend,
    ) -> Result<RunReport, EngineError> {
        let plugins = self.campaign_plugins(campaign)?;
        let history = plugins.event_scope(self.now()).load(&self.storage, &profile)?;
        let mode = match how {
            OneSend::Live => Mode::Live,
            OneSend::Queued => Mode::Queued,
            OneSend::Preview => Mode::Preview,
        };
        let pass = Pass { campaign, plugins: &plugins, trigger, step, mode };
        let mut report = RunReport::default();
        self.judge(pass, vec![(profile, history)], &mut report)?;
        Ok(report)
    }

    /// Renders a campaign's message for one person as they would read it (their variant, their
    /// locale, the newest content), whether or not they would be sent it: `would_skip` says why
    /// not, if so. `variant` picks an experiment variant instead of the person's own. Writes
    /// nothing.
    pub fn render_as(
        &self,
        campaign: &str,
        profile: Profile,
        variant: Option<&str>,
    ) -> Result<super::content::RenderedMessage, EngineError> {
        let campaign = self.campaign(campaign)?;
        let plugins = self.campaign_plugins(&campaign)?;
        let now = self.now();
        let events = plugins.event_scope(now).load(&self.storage, &profile)?;
        let mut would_skip =
            policy::eligibility(&campaign, &profile).err().map(|(reason, _)| reason.code().to_owned());
        let (variant, template) = match variant {
            Some(id) => {
                let chosen = campaign.experiment.iter().flat_map(|e| e.variants.iter()).find(|v| v.id == id);
                let chosen = chosen.ok_or_else(|| {
                    EngineError::InvalidCampaign(vec![format!(
                        "variant: campaign `{}` has no variant `{id}`",
                        campaign.id
                    )])
                })?;
                (Some(chosen.id.clone()), chosen.message.as_ref().unwrap_or(&campaign.message))
            }
            None => match assign(&campaign, &profile) {
                Assignment::Send { variant, template } => (variant, template),
                Assignment::Control => {
                    would_skip.get_or_insert_with(|| SkipReason::ControlGroup.code().to_owned());
                    (None, &campaign.message)
                }
            },
        };
        let step = "preview";
        let prepared = self
            .prepare_message(&campaign, template, &profile, step, ContentVersion::Latest)
            .map_err(|e| EngineError::InvalidContent(vec![e]))?;
        let locale = prepared.context.get("locale").and_then(|l| l.as_str()).map(str::to_owned);
        let data =
            self.message_data(&prepared.template, &campaign, profile.id, now, prepared.context.clone())?;
        let message = contract::Message {
            channel: campaign.channel.clone(),
            recipient: policy::eligibility(&campaign, &profile).unwrap_or_default(),
            subject: prepared.template.subject.clone(),
            body: prepared.template.body.clone(),
            html: prepared.template.html.clone(),
            variant_id: variant.clone(),
            data,
            idempotency_key: format!("{}:{}:{step}", campaign.id, profile.id),
        };
        let pass = Pass { campaign: &campaign, plugins: &plugins, trigger: None, step, mode: Mode::Preview };
        let key = message.idempotency_key.clone();
        let rendered = self
            .personalize(pass, &profile, &events, &key, now, message)
            .map(|m| without_template_context(m, true));
        Ok(super::content::RenderedMessage::new(
            campaign.id.clone(),
            profile.id,
            variant,
            locale,
            rendered,
            would_skip,
        ))
    }

    /// Evaluates a campaign over the current audience and sends nothing: counts, skip reasons,
    /// variants and a few rendered messages. Works in any state but ended.
    pub fn preview(&self, campaign: &str) -> Result<RunReport, EngineError> {
        let campaign = self.campaign(campaign)?;
        self.over_all_profiles(&campaign, "preview", Mode::Preview)
    }

    /// Judges every profile: this thread scans the store into batches, `batch_workers` threads
    /// judge them (plugin calls and store writes), and their reports are merged.
    fn over_all_profiles(
        &self,
        campaign: &Campaign,
        run: &str,
        mode: Mode,
    ) -> Result<RunReport, EngineError> {
        let plugins = self.campaign_plugins(campaign)?;
        let scope = plugins.event_scope(self.now());
        let pass = Pass { campaign, plugins: &plugins, trigger: None, step: run, mode };
        let work = |batch| {
            let mut report = RunReport::default();
            self.judge(pass, batch, &mut report)?;
            Ok(report)
        };
        let parts = match &campaign.audience {
            // The saved segment's stored members, not every profile.
            Some(audience) => self.in_parallel_from(&scope, |b| self.member_batches(audience, b), work)?,
            None => self.in_parallel(&scope, work)?,
        };
        let mut report = RunReport::default();
        for part in parts {
            report.absorb(part);
        }
        tracing::info!(campaign = %campaign.id, run, audience = report.audience, queued = report.queued, "Campaign run finished.");
        Ok(report)
    }

    /// Runs `work` over every profile (with the events `wanted`) in batches: this thread scans
    /// the store, `batch_workers` threads do the work. Returns each batch's result, in no
    /// particular order.
    pub(crate) fn in_parallel<R: Send>(
        &self,
        wanted: &EventScope,
        work: impl Fn(Vec<(Profile, Vec<Event>)>) -> Result<R, EngineError> + Sync,
    ) -> Result<Vec<R>, EngineError> {
        self.in_parallel_from(wanted, |batches| self.scan_batches(batches), work)
    }

    /// [`Engine::in_parallel`] over the profiles `produce` sends in batches, instead of every one.
    pub(super) fn in_parallel_from<R: Send>(
        &self,
        wanted: &EventScope,
        produce: impl FnOnce(&Batches) -> Result<(), EngineError>,
        work: impl Fn(Vec<(Profile, Vec<Event>)>) -> Result<R, EngineError> + Sync,
    ) -> Result<Vec<R>, EngineError> {
        let workers = self.batch_workers.max(1);
        let (batches, inbox) = std::sync::mpsc::sync_channel::<Vec<Profile>>(workers * 2);
        let load_and_work = |batch: Vec<Profile>| {
            let histories = wanted.load_many(&self.storage, &batch)?;
            work(batch.into_iter().zip(histories).collect())
        };
        let inbox = std::sync::Mutex::new(inbox);
        let (produced, done) = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut results = Vec::new();
                        let mut failed = None;
                        // After a failure keep draining, so the scanning thread never blocks.
                        loop {
                            let next = inbox.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            let Ok(batch) = next else { break };
                            if failed.is_none() {
                                match load_and_work(batch) {
                                    Ok(result) => results.push(result),
                                    Err(err) => failed = Some(err),
                                }
                            }
                        }
                        match failed {
                            Some(err) => Err(err),
                            None => Ok(results),
                        }
                    })
                })
                .collect();
            let produced = produce(&batches);
            drop(batches);
            let done: Vec<Result<Vec<R>, EngineError>> = handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Err(EngineError::Http("a batch worker panicked".into())))
                })
                .collect();
            (produced, done)
        });
        produced?;
        let mut results = Vec::new();
        for part in done {
            results.extend(part?);
        }
        Ok(results)
    }

    /// Sends the stored members of saved segment `audience` in batches, in profile id order.
    fn member_batches(&self, audience: &str, batches: &Batches) -> Result<(), EngineError> {
        let mut after = None;
        loop {
            let members = self.storage.segment_members(audience, after, SEGMENT_BATCH)?;
            let Some(last) = members.last() else { return Ok(()) };
            after = Some(last.profile);
            let mut batch = Vec::with_capacity(members.len());
            for member in members {
                if let Some(profile) =
                    self.storage.profile(member.profile)?.filter(|p| p.id == member.profile)
                {
                    batch.push(profile);
                }
            }
            if batches.send(batch).is_err() {
                return Ok(());
            }
        }
    }

    fn scan_batches(&self, batches: &Batches) -> Result<(), EngineError> {
        let mut batch = Vec::with_capacity(SEGMENT_BATCH);
        for profile in self.storage.scan_profiles() {
            batch.push(profile?);
            if batch.len() == SEGMENT_BATCH && batches.send(std::mem::take(&mut batch)).is_err() {
                return Ok(());
            }
        }
        if !batch.is_empty() {
            let _ = batches.send(batch);
        }
        Ok(())
    }

    fn campaign_plugins(&self, campaign: &Campaign) -> Result<Plugins, EngineError> {
        let load = |slot: &Slot| -> Result<Option<(Arc<LoadedPlugin>, Binding)>, EngineError> {
            match self.storage.binding(&campaign.id, slot)? {
                Some(binding) => Ok(Some((self.runtime.plugin(&binding.plugin)?, binding))),
                None => Ok(None),
            }
        };
        let missing = |slot: &str| EngineError::NotReady {
            campaign: campaign.id.clone(),
            problems: vec![format!("no {slot} plugin is bound")],
        };
        // A journey's message step sends to the profile the journey brought; a segment rule
        // bound anyway narrows further.
        let journey = matches!(campaign.trigger, Trigger::Journey {});
        let segment = match (load(&Slot::Segment)?, &campaign.audience) {
            (None, None) if !journey => return Err(missing("segment")),
            (segment, _) => segment,
        };
        let mut chain: Vec<Binding> = self
            .storage
            .bindings(&campaign.id)?
            .into_iter()
            .filter(|b| matches!(b.slot, Slot::Personalizer | Slot::ChainedPersonalizer(_)))
            .collect();
        // `personalizer` first (it sorts before its named followers), then by name.
        chain.sort_by(|a, b| a.slot.cmp(&b.slot));
        let mut personalizers = Vec::with_capacity(chain.len());
        for binding in chain {
            let plugin = self.runtime.plugin(&binding.plugin)?;
            let reads = self.reads(&plugin, &binding.config);
            personalizers.push((plugin, binding, reads));
        }
        Ok(Plugins {
            segment_reads: match &segment {
                Some((plugin, binding)) => self.reads(plugin, &binding.config),
                None => Reads::nothing(self.provided_traits()),
            },
            segment,
            personalizers,
            channel: load(&Slot::Channel)?.ok_or_else(|| missing("channel"))?,
        })
    }

    /// What `plugin` reads with this binding config: its declared needs, narrowed by its
    /// `needs-for-config` answer (asked once per plugin and config, then remembered). A plugin
    /// that fails to answer reads what it declared, which is correct, only slower.
    pub(crate) fn reads(&self, plugin: &Arc<LoadedPlugin>, config: &serde_json::Value) -> Reads {
        let declared = Reads::declared(plugin.record());
        let config = config.to_string();
        let key = (plugin.hash(), hash64(&[&config]));
        if let Some(known) = self.reads.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return known.clone();
        }
        let computed_only = self.provided_traits();
        let mut reads = match self.runtime.call(plugin).needs_for_config(&config) {
            Ok(called) => match called.value {
                Some(asked) => declared.narrowed(&asked),
                None => declared,
            },
            Err(err) => {
                tracing::warn!(plugin = %plugin.label(), error = %err, "needs-for-config failed; reading what the plugin declared.");
                return Reads { computed_only, ..declared };
            }
        };
        reads.computed_only = computed_only;
        self.reads.lock().unwrap_or_else(|p| p.into_inner()).insert(key, reads.clone());
        reads
    }

    /// The rule's verdict on each of `n` subjects (made by `make`) after the batch call failed
    /// with `failed`: the batch is split in halves and each half tried again, so a profile that
    /// makes the rule fail costs that profile only, and counts once toward the plugin's
    /// quarantine however many splits it took to find. A rule that fails for everyone is not
    /// split forever: after `isolating_calls` failed calls in one batch, or once the plugin is
    /// quarantined, what is left is skipped with its error, counted once.
    pub(super) fn isolate(
        &self,
        segment: &Arc<LoadedPlugin>,
        invocation: &Invocation,
        n: usize,
        make: &dyn Fn(usize) -> Subject,
        failed: InvokeError,
    ) -> Vec<Result<Membership, String>> {
        let mut verdicts: Vec<Option<Result<Membership, String>>> = vec![None; n];
        let mut calls_left = self.isolating_calls;
        let mut failing = vec![(0..n, failed)];
        while let Some((range, err)) = failing.pop() {
            let give_up = calls_left == 0 || segment.quarantined().is_some();
            if range.len() <= 1 || give_up {
                segment.count_input_failure(err.metrics.outcome, &err.to_string());
                for i in range {
                    verdicts[i] = Some(Err(err.to_string()));
                }
                continue;
            }
            let middle = range.start + range.len() / 2;
            for half in [range.start..middle, middle..range.end] {
                let subjects: Vec<Subject> = half.clone().map(make).collect();
                match self.runtime.call(segment).isolating().evaluate_owned(invocation, subjects) {
                    Ok(called) => {
                        for (i, membership) in half.zip(called.value) {
                            verdicts[i] = Some(Ok(membership));
                        }
                    }
                    Err(err) => {
                        calls_left = calls_left.saturating_sub(1);
                        failing.push((half, err));
                    }
                }
            }
        }
        let unjudged = || Err("not judged: the rule failed for its batch".to_owned());
        verdicts.into_iter().map(|v| v.unwrap_or_else(unjudged)).collect()
    }

    /// Judges a batch of profiles and carries each member through policies, experiment,
    /// personalization and (live) the outbox.
    fn judge(
        &self,
        pass: Pass<'_>,
        candidates: Vec<(Profile, Vec<Event>)>,
        report: &mut RunReport,
    ) -> Result<(), EngineError> {
        let Pass { campaign, plugins, trigger, step, mode } = pass;
        let now = self.now();
        let make = |i: usize| {
            let (profile, events) = &candidates[i];
            subject(&plugins.segment_reads, profile, events, trigger, now)
        };
        report.evaluated += candidates.len();
        let verdicts: Vec<Result<Membership, String>> = match &plugins.segment {
            Some((segment, segment_binding)) => {
                let subjects: Vec<Subject> = (0..candidates.len()).map(make).collect();
                let invocation = self.invocation(campaign, segment_binding, step, now);
                match self.runtime.call(segment).isolating().evaluate_owned(&invocation, subjects) {
                    Ok(called) => called.value.into_iter().map(Ok).collect(),
                    Err(err) => self.isolate(segment, &invocation, candidates.len(), &make, err),
                }
            }
            // The saved segment decided: everyone here is one of its members.
            None => candidates
                .iter()
                .map(|_| Ok(Membership { member: true, score: None, recheck_at: None }))
                .collect(),
        };

        let mut skips = Vec::new();
        let mut sends = Vec::new();
        let mut controls = Vec::new();
        for ((profile, events), verdict) in candidates.into_iter().zip(verdicts) {
            let verdict = match verdict {
                Ok(verdict) => verdict,
                Err(failure) => {
                    *report.skipped.entry(SkipReason::PluginFailed).or_default() += 1;
                    skips.push(skip(campaign, &profile, SkipReason::PluginFailed, failure, now));
                    continue;
                }
            };
            if !verdict.member {
                continue;
            }
            report.audience += 1;
            let recipient = match policy::eligibility(campaign, &profile) {
                Ok(recipient) => recipient,
                Err((reason, detail)) => {
                    *report.skipped.entry(reason).or_default() += 1;
                    skips.push(skip(campaign, &profile, reason, detail, now));
                    continue;
                }
            };
            let recent = self.storage.sends_to(profile.id, now.saturating_sub(self.lookback_ms()))?;
            let due_at = match policy::pacing(&self.policies, campaign, &profile, &recent, now) {
                Pacing::Now => now,
                Pacing::Skip(reason, detail) => {
                    *report.skipped.entry(reason).or_default() += 1;
                    skips.push(skip(campaign, &profile, reason, detail, now));
                    continue;
                }
                Pacing::Delay { until, detail } => {
                    // Delayed, not dropped: recorded, and queued for when quiet hours end.
                    *report.skipped.entry(SkipReason::QuietHours).or_default() += 1;
                    skips.push(skip(campaign, &profile, SkipReason::QuietHours, detail, now));
                    until
                }
            };
            // A marketing send waits out the arbitration window, so that a higher-priority
            // campaign deciding for this person meanwhile wins whichever was judged first.
            let due_at = match campaign.transactional {
                true => due_at,
                false => due_at.max(now.saturating_add(self.policies.arbitration_window_ms)),
            };
            let (variant, template) = match assign(campaign, &profile) {
                Assignment::Control => {
                    *report.skipped.entry(SkipReason::ControlGroup).or_default() += 1;
                    skips.push(skip(campaign, &profile, SkipReason::ControlGroup, "held out".into(), now));
                    // On the campaign's record too, so KPI calculators can measure lift.
                    controls.push(Event {
                        id: format!("{}:{}:{step}:control_assigned", campaign.id, profile.id),
                        profile: profile.id,
                        name: "control_assigned".into(),
                        timestamp: now,
                        properties: serde_json::Map::new(),
                        campaign: Some(campaign.id.clone()),
                    });
                    continue;
                }
                Assignment::Send { variant, template } => (variant, template),
            };
            let key = format!("{}:{}:{}", campaign.id, profile.id, step);
            // Previews render the newest content, so a change is seen before it goes live.
            let which = if mode == Mode::Preview { ContentVersion::Latest } else { ContentVersion::Live };
            let prepared = match self.prepare_message(campaign, template, &profile, step, which) {
                Ok(prepared) => prepared,
                Err(failure) => {
                    *report.skipped.entry(SkipReason::PluginFailed).or_default() += 1;
                    skips.push(skip(campaign, &profile, SkipReason::PluginFailed, failure, now));
                    continue;
                }
            };
            let template = &prepared.template;
            let data = self.message_data(template, campaign, profile.id, now, prepared.context)?;
            let message = contract::Message {
                channel: campaign.channel.clone(),
                recipient,
                subject: template.subject.clone(),
                body: template.body.clone(),
                html: template.html.clone(),
                variant_id: variant.clone(),
                data,
                idempotency_key: key.clone(),
            };
            let message = match self.personalize(pass, &profile, &events, &key, now, message) {
                Ok(message) => without_template_context(message, mode == Mode::Preview),
                Err(failure) => {
                    *report.skipped.entry(SkipReason::PluginFailed).or_default() += 1;
                    skips.push(skip(campaign, &profile, SkipReason::PluginFailed, failure, now));
                    continue;
                }
            };
            *report.variants.entry(variant.clone().unwrap_or_else(|| "-".into())).or_default() += 1;
            if mode == Mode::Preview {
                report.queued += 1;
                if report.samples.len() < PREVIEW_SAMPLES {
                    report.samples.push(message);
                }
                continue;
            }
            let send = PendingSend {
                idempotency_key: key,
                campaign: campaign.id.clone(),
                profile: profile.id,
                step: step.to_owned(),
                channel_plugin: plugins.channel.0.hash(),
                channel_config: plugins.channel.1.config.clone(),
                channel_grants: Some(plugins.channel.1.grants.clone()),
                message: serde_json::to_value(&message).unwrap_or_default(),
                variant,
                attempts: 0,
                next_attempt_at: due_at,
                enqueued_at: now,
                last_error: None,
            };
            let sent_to = SentTo {
                at: now,
                channel: campaign.channel.clone(),
                campaign: campaign.id.clone(),
                transactional: campaign.transactional,
                priority: campaign.priority,
            };
            sends.push((send, sent_to));
        }
        if mode != Mode::Preview {
            self.storage.record_skips(&skips)?;
            self.storage.append_events(&controls)?;
            let accepted = if mode == Mode::Queued {
                self.storage.enqueue_behind_trigger(&sends)?
            } else {
                self.storage.enqueue(&sends)?
            };
            for accepted in accepted {
                if accepted {
                    report.queued += 1;
                } else {
                    report.duplicates += 1;
                }
            }
            if report.queued > 0 {
                // Wake the delivery loop now rather than at its next idle poll.
                self.sends_queued.notify_one();
            }
        }
        Ok(())
    }

    /// Runs the message through the campaign's personalizer chain, each personalizer receiving
    /// what the one before returned. A failure names the slot that failed.
    fn personalize(
        &self,
        pass: Pass<'_>,
        profile: &Profile,
        events: &[Event],
        key: &str,
        now: i64,
        mut message: contract::Message,
    ) -> Result<contract::Message, String> {
        let plugins = pass.plugins;
        for (personalizer, binding, reads) in &plugins.personalizers {
            let subject = subject(reads, profile, events, pass.trigger, now);
            let invocation = self.invocation(pass.campaign, binding, key, now);
            message = match self.runtime.call(personalizer).personalize(&invocation, &subject, &message) {
                Ok(called) => called.value,
                Err(err) if plugins.personalizers.len() == 1 => return Err(err.to_string()),
                Err(err) => return Err(format!("{}: {err}", binding.slot.key())),
            };
        }
        Ok(message)
    }

    /// A message's data as the personalizers get it: the template's, with the recipient's signed
    /// `unsubscribe_url` on marketing messages (for templates, and adapters that set
    /// `List-Unsubscribe`), and `template_context` (snippets, locale, journey step), which is
    /// taken out again before the channel sees the message.
    fn message_data(
        &self,
        template: &crate::campaign::MessageTemplate,
        campaign: &Campaign,
        profile: crate::profile::ProfileId,
        now: i64,
        context: serde_json::Value,
    ) -> Result<String, EngineError> {
        let mut data = template.data.clone();
        let mut context = context;
        let unsubscribe = match campaign.transactional {
            true => None,
            false => self.unsubscribe_url(profile, &campaign.channel, &campaign.purpose, now)?,
        };
        if let Some(object) = data.as_object_mut() {
            if let Some(url) = unsubscribe {
                // The link's page is where a reader chooses what to stop (this purpose, or the
                // whole channel): today's preferences page.
                if let Some(context) = context.as_object_mut() {
                    context.insert("preferences_url".into(), url.clone().into());
                }
                object.insert("unsubscribe_url".into(), url.into());
            }
            object.insert(TEMPLATE_CONTEXT.into(), context);
        }
        Ok(data.to_string())
    }

    /// How far back a profile's sends matter to pacing: the longest cap window, the priority
    /// window, and two days for calendar-day caps in any time zone.
    pub(super) fn lookback_ms(&self) -> i64 {
        let caps = self.policies.frequency_caps.values().map(|c| c.window_ms).max().unwrap_or(0);
        caps.max(self.policies.priority_window_ms).max(48 * 3_600_000)
    }

    fn invocation(&self, campaign: &Campaign, binding: &Binding, step: &str, now: i64) -> Invocation {
        Invocation {
            campaign_id: campaign.id.clone(),
            config: binding.config.to_string(),
            now,
            seed: hash64(&[&campaign.id, step]),
        }
    }
}

/// The key of what templates read beside the profile, in a message's data.
const TEMPLATE_CONTEXT: &str = "template_context";

/// A personalized message without the template context (and, unless previewing, without the
/// template report): what a channel adapter gets is the campaign's data and the links.
fn without_template_context(mut message: contract::Message, preview: bool) -> contract::Message {
    if let Ok(serde_json::Value::Object(mut data)) = serde_json::from_str::<serde_json::Value>(&message.data)
    {
        let had = data.remove(TEMPLATE_CONTEXT).is_some();
        let report = if preview { None } else { data.remove("template_report") };
        if had || report.is_some() {
            message.data = serde_json::Value::Object(data).to_string();
        }
    }
    message
}

/// Whether an event triggers a campaign: its name, and every filter property equal.
fn triggers(campaign: &Campaign, event: &Event) -> bool {
    match &campaign.trigger {
        Trigger::Event { event: name, filter } => {
            *name == event.name && filter.iter().all(|(k, v)| event.properties.get(k) == Some(v))
        }
        Trigger::Batch { .. } | Trigger::Journey {} => false,
    }
}

enum Assignment<'c> {
    Control,
    Send { variant: Option<String>, template: &'c MessageTemplate },
}

/// Deterministic experiment assignment from a hash of campaign and profile: the same profile
/// always lands in the same group, and the hold-out is independent of everything else.
fn assign<'c>(campaign: &'c Campaign, profile: &Profile) -> Assignment<'c> {
    let Some(experiment) = &campaign.experiment else {
        return Assignment::Send { variant: None, template: &campaign.message };
    };
    let id = profile.id.to_string();
    let bucket = hash64(&[&campaign.id, &id, "control"]) % 10_000;
    if bucket < u64::from(experiment.control_percent) * 100 {
        return Assignment::Control;
    }
    let total: u64 = experiment.variants.iter().map(|v| u64::from(v.weight)).sum();
    let mut pick = hash64(&[&campaign.id, &id, "variant"]) % total.max(1);
    for variant in &experiment.variants {
        let weight = u64::from(variant.weight);
        if pick < weight {
            return Assignment::Send {
                variant: Some(variant.id.clone()),
                template: variant.message.as_ref().unwrap_or(&campaign.message),
            };
        }
        pick -= weight;
    }
    Assignment::Send { variant: None, template: &campaign.message }
}

pub(crate) fn hash64(parts: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

fn skip(campaign: &Campaign, profile: &Profile, reason: SkipReason, detail: String, at: i64) -> SkipRecord {
    SkipRecord { campaign: campaign.id.clone(), profile: profile.id, reason, detail, at }
}

/// Which of a profile's events a scan loads: those that some plugin of the run declared it
/// needs (`needs.events`, within `needs.event-window`). A rule that reads attributes only makes
/// the scan read no events at all; a 30-day window reads 30 days. `subject` narrows further per
/// plugin.
pub(crate) struct EventScope {
    /// Some plugin needs every event name (`*`).
    every_name: bool,
    /// The names needed, when not every one.
    names: std::collections::HashSet<String>,
    /// The oldest timestamp any plugin can see; `None`: no window, all of history.
    since: Option<i64>,
}

impl EventScope {
    /// The union of what `readers` need, at `now`.
    pub(crate) fn of(readers: &[&Reads], now: i64) -> EventScope {
        let mut scope = EventScope { every_name: false, names: Default::default(), since: Some(i64::MAX) };
        for reader in readers.iter().filter(|r| !r.events.is_empty()) {
            if reader.events.iter().any(|e| e == "*") {
                scope.every_name = true;
            } else {
                scope.names.extend(reader.events.iter().cloned());
            }
            let since = reader.window_ms.map(|w| now.saturating_sub(i64::try_from(w).unwrap_or(i64::MAX)));
            scope.since = match (scope.since, since) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            };
        }
        scope
    }

    /// The events of `profile` in this scope, oldest first.
    pub(crate) fn load(
        &self,
        storage: &crate::store::Storage,
        profile: &Profile,
    ) -> Result<Vec<Event>, EngineError> {
        if !self.every_name && self.names.is_empty() {
            return Ok(Vec::new());
        }
        if self.every_name {
            return Ok(storage.events_of_since(profile.id, self.since)?);
        }
        let keep = |name: &str| self.names.contains(name);
        Ok(storage.events_of_where(profile.id, self.since.unwrap_or(i64::MIN), &keep)?)
    }

    /// The events of each of `profiles` (as just read) in this scope, oldest first, in one read
    /// of the store.
    pub(crate) fn load_many(
        &self,
        storage: &crate::store::Storage,
        profiles: &[Profile],
    ) -> Result<Vec<Vec<Event>>, EngineError> {
        if !self.every_name && self.names.is_empty() {
            return Ok(vec![Vec::new(); profiles.len()]);
        }
        let ids: Vec<_> = profiles.iter().map(|p| p.id).collect();
        let keep = |name: &str| self.every_name || self.names.contains(name);
        Ok(storage.events_of_many(&ids, self.since.unwrap_or(i64::MIN), &keep)?)
    }
}

/// Response events that suppress a channel (see `apply_responses`): always queued as triggers.
const SUPPRESSING_EVENTS: [&str; 3] = ["unsubscribed", "bounced", "complained"];

/// The state of trigger draining: idle, running, or running with another round requested.
#[derive(Debug, Default)]
pub(crate) struct DrainGate(std::sync::atomic::AtomicU8);

impl DrainGate {
    const IDLE: u8 = 0;
    const RUNNING: u8 = 1;
    const AGAIN: u8 = 2;

    /// Asks for a drain. True: the caller starts one. False: one is running and will go round
    /// again.
    fn request(&self) -> bool {
        use std::sync::atomic::Ordering::AcqRel;
        let previous = self
            .0
            .fetch_update(AcqRel, std::sync::atomic::Ordering::Acquire, |state| {
                Some(if state == Self::IDLE { Self::RUNNING } else { Self::AGAIN })
            })
            .unwrap_or(Self::AGAIN);
        previous == Self::IDLE
    }

    /// Called by the drain when it found nothing more. True: another round was requested
    /// meanwhile, go again. False: the gate is idle again.
    fn finish(&self) -> bool {
        use std::sync::atomic::Ordering::AcqRel;
        let previous = self
            .0
            .fetch_update(AcqRel, std::sync::atomic::Ordering::Acquire, |state| {
                Some(if state == Self::AGAIN { Self::RUNNING } else { Self::IDLE })
            })
            .unwrap_or(Self::IDLE);
        previous == Self::AGAIN
    }
}

#[cfg(test)]
mod drain_gate_tests {
    use super::DrainGate;

    #[test]
    fn requests_during_a_drain_coalesce_into_one_more_round() {
        let gate = DrainGate::default();
        assert!(gate.request(), "the first request starts a drain");
        assert!(!gate.request(), "a drain is running");
        assert!(!gate.request(), "still one more round, not two drains");
        assert!(gate.finish(), "requests came in: go round again");
        assert!(!gate.finish(), "nothing new: stop");
        assert!(gate.request(), "idle again: the next request starts a drain");
    }
}

#[cfg(test)]
mod event_scope_tests {
    use super::EventScope;
    use crate::contract::Needs;
    use crate::engine::subject::Reads;

    fn reader(events: &[&str], window_ms: Option<u64>) -> Reads {
        Reads {
            attributes: vec![],
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            window_ms,
            computed_only: vec![],
        }
    }

    #[test]
    fn an_answer_to_needs_for_config_narrows_and_never_widens() {
        let declared = Reads {
            attributes: vec!["*".into()],
            events: vec!["*".into()],
            window_ms: None,
            computed_only: vec![],
        };
        let asked = Needs {
            attributes: vec!["plan".into()],
            events: vec!["order_completed".into()],
            event_window: Some(1_000),
            ..Needs::default()
        };
        assert_eq!(
            declared.narrowed(&asked),
            Reads {
                attributes: vec!["plan".into()],
                events: vec!["order_completed".into()],
                window_ms: Some(1_000),
                computed_only: vec![]
            }
        );
        let declared = Reads {
            attributes: vec!["plan".into()],
            events: vec![],
            window_ms: Some(500),
            computed_only: vec![],
        };
        let greedy = Needs {
            attributes: vec!["plan".into(), "email".into()],
            events: vec!["*".into()],
            event_window: None,
            ..Needs::default()
        };
        assert_eq!(
            declared.clone().narrowed(&greedy),
            Reads {
                attributes: vec!["plan".into()],
                events: vec![],
                window_ms: Some(500),
                computed_only: vec![]
            },
            "a plugin cannot read by config what its info did not declare"
        );
    }

    #[test]
    fn the_scope_is_the_union_of_what_the_readers_need() {
        let now = 1_000_000;
        let none = EventScope::of(&[&reader(&[], None)], now);
        assert!(!none.every_name && none.names.is_empty());

        let windowed = reader(&["order_completed"], Some(1_000));
        let wider = reader(&["page"], Some(5_000));
        let scope = EventScope::of(&[&windowed, &wider], now);
        assert_eq!(scope.since, Some(now - 5_000), "the widest window wins");
        assert!(scope.names.contains("order_completed") && scope.names.contains("page"));
        assert!(!scope.every_name);

        let unbounded = reader(&["*"], None);
        let scope = EventScope::of(&[&windowed, &unbounded], now);
        assert_eq!(scope.since, None, "a reader without a window needs all of history");
        assert!(scope.every_name);
    }
}
