//! Delivery: the outbox to the vendor and back. The channel adapter builds requests and judges
//! responses; the host substitutes granted secrets (only where the adapter marked them, only
//! toward their hosts: see `placeholders`), refuses hosts the binding does not grant and
//! addresses the outbound policy refuses (see `outbound`), sends with a timeout under a
//! per-vendor concurrency limit, reads at most `response_body_cap` bytes of the answer, scrubs
//! it of the credentials sent, and retries with exponential backoff and jitter, honouring
//! `Retry-After`, until the attempts run out (dead letters).
//!
//! At-least-once toward the vendor: a send is claimed under a lease; if Baton dies mid-send the
//! lease runs out and the send is tried again, under the same idempotency key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::outbound::{AddressRefused, Outbound, OutboundPolicy};
use super::placeholders::{Fence, Substitution, scrub};
use super::policy::Pacing;
use super::throttle::{Later, SendLane, Throttle};
use super::{Engine, EngineError};
use crate::campaign::{CampaignState, Grants, Slot};
use crate::contract::{DeliveryOutcome, HttpRequest, HttpResponse, Invocation, Message};
use crate::delivery::{PendingSend, SendOutcome, SkipReason, SkipRecord};
use crate::runtime::{Failure, InvokeError};

/// Delivery settings; every limit explicit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts before a send goes to the dead letters.
    pub max_attempts: u32,
    /// The first retry's delay; each further retry doubles it.
    pub base_backoff_ms: i64,
    /// The longest delay between attempts (also caps `Retry-After`).
    pub max_backoff_ms: i64,
    /// How long a claimed send is reserved for the claimant.
    pub lease_ms: i64,
    /// Sends claimed per delivery round.
    pub claim_batch: usize,
    /// Timeout of one HTTP request to a vendor.
    pub request_timeout_ms: u64,
    /// Requests in flight to one vendor host at once.
    pub per_vendor_concurrency: usize,
    /// Bytes of a vendor's response body handed to the adapter.
    pub response_body_cap: usize,
    /// Sends in flight at once in continuous delivery (`baton serve`), across all vendors.
    pub max_in_flight: usize,
    /// Where vendor requests may go: HTTPS to public addresses unless allowed otherwise.
    pub outbound: OutboundPolicy,
    /// Requests per second each vendor host may get from this process (`"api.sendgrid.com" =
    /// 100.0`); a host not listed has no limit but its own throttling answers. A 429 or a
    /// `throttled` outcome slows the host for every send, not only the one that got it.
    pub vendor_rate_limits: std::collections::BTreeMap<String, f64>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 6,
            base_backoff_ms: 1_000,
            max_backoff_ms: 3_600_000,
            lease_ms: 60_000,
            claim_batch: 256,
            request_timeout_ms: 10_000,
            per_vendor_concurrency: 8,
            response_body_cap: 64 << 10,
            max_in_flight: 256,
            outbound: OutboundPolicy::default(),
            vendor_rate_limits: std::collections::BTreeMap::new(),
        }
    }
}

/// What a delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Sends claimed.
    pub claimed: usize,
    /// Delivered.
    pub delivered: usize,
    /// Refused for good by the vendor or by the host (ungranted host or secret).
    pub rejected: usize,
    /// Scheduled for another attempt.
    pub retried: usize,
    /// Out of attempts: moved to the dead letters.
    pub dead_lettered: usize,
    /// Held without spending an attempt: the campaign is paused or the adapter quarantined.
    pub held: usize,
    /// Cancelled by the check at the moment of sending (an opt-out, a suppression, an ended
    /// campaign), each recorded as a skip.
    pub cancelled: usize,
}

/// The HTTP side of delivery: one client, and a semaphore per vendor host.
pub(crate) struct Courier {
    client: reqwest::Client,
    outbound: Outbound,
    vendors: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Rate lanes per vendor host and per campaign.
    pub(crate) throttle: Throttle,
}

impl Courier {
    pub(crate) fn new(config: &DeliveryConfig) -> Result<Self, EngineError> {
        // Several crates may race to install a provider; whichever wins is ring-compatible.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let outbound = Outbound::new(&config.outbound).map_err(|e| EngineError::InvalidPolicies(vec![e]))?;
        let refused: Vec<String> = config
            .vendor_rate_limits
            .iter()
            .filter(|(_, rate)| !(rate.is_finite() && **rate > 0.0))
            .map(|(host, rate)| {
                format!("delivery.vendor_rate_limits.{host} = {rate}: give requests per second, more than 0")
            })
            .collect();
        if !refused.is_empty() {
            return Err(EngineError::InvalidPolicies(refused));
        }
        let client = reqwest::Client::builder()
            // Every name is resolved through the outbound policy, so a vendor host that resolves
            // to an internal address is refused at the moment of connecting.
            .dns_resolver(outbound.resolver())
            // The system's proxy settings would bypass that check.
            .no_proxy()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            // A redirect could carry substituted credentials to a host the binding never granted.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| EngineError::Http(e.to_string()))?;
        Ok(Courier { client, outbound, vendors: Mutex::new(HashMap::new()), throttle: Throttle::default() })
    }

    fn vendor(&self, host: &str, limit: usize) -> Arc<Semaphore> {
        let mut vendors = self.vendors.lock().unwrap_or_else(|p| p.into_inner());
        vendors.entry(host.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(limit.max(1)))).clone()
    }
}

/// The result of one attempt.
enum Attempt {
    Delivered(Option<String>),
    Rejected(String),
    Retry {
        reason: String,
        after_ms: Option<u64>,
    },
    /// Straight to the dead letters, where an operator can replay it: retrying now would only
    /// fail the same way.
    DeadLetter(String),
    /// The send is gone from the outbox (its profile was erased): nothing to record.
    Withdrawn,
    /// Not tried: wait and look again, without spending an attempt (a quarantined adapter, a
    /// paused campaign). A skip is recorded the first time, if the hold has a reason code.
    Hold {
        reason: String,
        after_ms: u64,
        skip: Option<SkipReason>,
    },
    /// Not to be sent any more: the check at the moment of sending refused it.
    Cancel(SkipReason, String),
}

impl Attempt {
    /// What a failed adapter call (`stage`: build or classify) means for the send.
    ///
    /// A plugin's own error is its answer: rejected. A deadline depends on how busy the host
    /// is and a busy instance pool or a quarantine passes, so those retry with backoff (and are
    /// dead-lettered once the attempts run out). A trap, a broken limit or a broken contract
    /// happens again on the same input, so the send goes to the dead letters at once. Nothing
    /// a plugin does makes a send vanish.
    fn after_failed_call(stage: &str, err: &InvokeError) -> Attempt {
        let reason = format!("{stage}: {err}");
        match &err.failure {
            Failure::Guest { .. } | Failure::WrongKind { .. } | Failure::NotInContract { .. } => {
                Attempt::Rejected(reason)
            }
            Failure::DeadlineExceeded { .. } | Failure::Instantiate { .. } => {
                Attempt::Retry { reason, after_ms: None }
            }
            Failure::Quarantined { .. } => {
                Attempt::Hold { reason, after_ms: QUARANTINE_RECHECK_MS, skip: None }
            }
            Failure::FuelExhausted { .. }
            | Failure::MemoryCapExceeded { .. }
            | Failure::InputTooLarge { .. }
            | Failure::OutputTooLarge { .. }
            | Failure::LogCapExceeded { .. }
            | Failure::Trap { .. }
            | Failure::BadOutput { .. } => Attempt::DeadLetter(reason),
        }
    }
}

/// How long a send held back by a quarantined adapter waits before it looks again.
const QUARANTINE_RECHECK_MS: u64 = 60_000;
/// How long a send of a paused campaign waits before it looks again.
const PAUSED_RECHECK_MS: u64 = 60_000;

impl Engine {
    /// Waits until sends are queued (or were queued since the last wait), for a delivery loop
    /// that found nothing due; bound it with a timeout to pick up retries coming due.
    pub async fn sends_queued(&self) {
        self.sends_queued.notified().await;
    }

    /// Claims the sends that are due and delivers them concurrently.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<DeliveryReport, EngineError> {
        let now = self.now();
        let (batch, lease) = (self.delivery.claim_batch, self.delivery.lease_ms);
        let engine = self.clone();
        let claimed = blocking(move || Ok(engine.storage.claim_due(now, batch, lease)?)).await?;
        let mut report = DeliveryReport { claimed: claimed.len(), ..DeliveryReport::default() };
        let mut tasks = JoinSet::new();
        for send in claimed {
            let engine = self.clone();
            tasks.spawn(async move { engine.deliver_one(send).await });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(outcome)) => match outcome {
                    Fate::Delivered => report.delivered += 1,
                    Fate::Rejected => report.rejected += 1,
                    Fate::Retried => report.retried += 1,
                    Fate::DeadLettered => report.dead_lettered += 1,
                    Fate::Held => report.held += 1,
                    Fate::Cancelled => report.cancelled += 1,
                    Fate::Withdrawn => {}
                },
                Ok(Err(err)) => {
                    tracing::error!(error = %err, "Delivery could not record an outcome; the send stays leased and will be retried.");
                    first_error.get_or_insert(err);
                }
                Err(err) => tracing::error!(error = %err, "Delivery task failed."),
            }
        }
        for (i, n) in
            [report.delivered, report.rejected, report.retried, report.dead_lettered].into_iter().enumerate()
        {
            self.delivered[i].fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(report),
        }
    }

    /// Continuous delivery: claims due sends while fewer than `max_in_flight` are in flight and
    /// starts each as its own task in `in_flight`, without waiting for others, so a slow vendor
    /// holds only its own sends (and at most `per_vendor_concurrency` connections). Returns how
    /// many sends it started.
    pub async fn dispatch_due(self: &Arc<Self>, in_flight: &mut JoinSet<()>) -> Result<usize, EngineError> {
        while let Some(done) = in_flight.try_join_next() {
            if let Err(err) = done {
                tracing::error!(error = %err, "Delivery task failed.");
            }
        }
        let room = self.delivery.max_in_flight.saturating_sub(in_flight.len()).min(self.delivery.claim_batch);
        if room == 0 {
            return Ok(0);
        }
        let now = self.now();
        let lease = self.delivery.lease_ms;
        let engine = self.clone();
        let claimed = blocking(move || Ok(engine.storage.claim_due(now, room, lease)?)).await?;
        let started = claimed.len();
        for send in claimed {
            let engine = self.clone();
            in_flight.spawn(async move {
                match engine.clone().deliver_one(send).await {
                    Ok(fate) => engine.count(&fate),
                    Err(err) => tracing::error!(error = %err, "Delivery could not record an outcome; the send stays leased and will be retried."),
                }
            });
        }
        Ok(started)
    }

    fn count(&self, fate: &Fate) {
        let index = match fate {
            Fate::Delivered => 0,
            Fate::Rejected => 1,
            Fate::Retried => 2,
            Fate::DeadLettered => 3,
            Fate::Withdrawn | Fate::Held | Fate::Cancelled => return,
        };
        self.delivered[index].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    async fn deliver_one(self: Arc<Self>, send: PendingSend) -> Result<Fate, EngineError> {
        let attempt = self.attempt(&send).await;
        let now = self.now();
        let key = send.idempotency_key.clone();
        let engine = self.clone();
        let attempts_after = send.attempts + 1;
        type Action = Box<dyn FnOnce() -> Result<bool, EngineError> + Send>;
        // A last attempt's outcome and its event (`message_delivered`, what the KPIs read) are
        // stored in one write.
        let finishing = |fate: Fate, outcome: SendOutcome| -> (Fate, Action) {
            let event = outcome_event(&send, &fate, now);
            let (engine, key) = (self.clone(), key.clone());
            let action: Action = Box::new(move || {
                Ok(engine.storage.finish_send_with_event(&key, outcome, now, event.as_ref())?)
            });
            (fate, action)
        };
        let (fate, action): (Fate, Action) = match attempt {
            Attempt::Withdrawn => {
                tracing::info!(campaign = %send.campaign, "Send withdrawn: its profile was erased.");
                (Fate::Withdrawn, Box::new(|| Ok(false)))
            }
            Attempt::Hold { reason, after_ms, skip } => {
                // A skip says why the first time; a send held for an hour leaves one record.
                let first = send.last_error.as_deref() != Some(reason.as_str());
                let skip = skip.filter(|_| first).map(|reason_code| SkipRecord {
                    campaign: send.campaign.clone(),
                    profile: send.profile,
                    reason: reason_code,
                    detail: reason.clone(),
                    at: now,
                });
                let until = now.saturating_add(i64::try_from(after_ms).unwrap_or(i64::MAX));
                (
                    Fate::Held,
                    Box::new(move || {
                        if let Some(skip) = skip {
                            engine.storage.record_skips(&[skip])?;
                        }
                        Ok(engine.storage.hold_send(&key, until, &reason)?)
                    }),
                )
            }
            Attempt::Cancel(reason_code, detail) => {
                tracing::info!(campaign = %send.campaign, key = %send.idempotency_key, reason = reason_code.code(), "Send cancelled at the moment of sending.");
                let skip = SkipRecord {
                    campaign: send.campaign.clone(),
                    profile: send.profile,
                    reason: reason_code,
                    detail,
                    at: now,
                };
                (Fate::Cancelled, Box::new(move || Ok(engine.storage.cancel_send(&key, &skip)?)))
            }
            Attempt::Delivered(receipt) => finishing(Fate::Delivered, SendOutcome::Delivered { receipt }),
            Attempt::Rejected(reason) => {
                tracing::warn!(campaign = %send.campaign, key = %send.idempotency_key, %reason, "Send rejected.");
                finishing(Fate::Rejected, SendOutcome::Rejected { reason })
            }
            Attempt::DeadLetter(reason) => {
                tracing::warn!(campaign = %send.campaign, key = %send.idempotency_key, %reason, "Send dead-lettered.");
                finishing(Fate::DeadLettered, SendOutcome::DeadLettered { reason })
            }
            Attempt::Retry { reason, .. } if attempts_after >= self.delivery.max_attempts => {
                let reason = format!("{reason} (after {attempts_after} attempts)");
                tracing::warn!(campaign = %send.campaign, key = %send.idempotency_key, %reason, "Send dead-lettered.");
                finishing(Fate::DeadLettered, SendOutcome::DeadLettered { reason })
            }
            Attempt::Retry { reason, after_ms } => {
                let delay = self.backoff(&send, after_ms);
                (
                    Fate::Retried,
                    Box::new(move || {
                        Ok(engine.storage.retry_send(&key, now.saturating_add(delay), &reason)?)
                    }),
                )
            }
        };
        blocking(action).await?;
        Ok(fate)
    }

    /// The delay before the next attempt: the vendor's `Retry-After` if it gave one, otherwise
    /// exponential backoff with deterministic jitter (50–100% of the step), capped.
    fn backoff(&self, send: &PendingSend, after_ms: Option<u64>) -> i64 {
        let cap = self.delivery.max_backoff_ms;
        if let Some(after) = after_ms {
            return i64::try_from(after).unwrap_or(i64::MAX).min(cap);
        }
        let step = self.delivery.base_backoff_ms.saturating_mul(1_i64 << send.attempts.min(30)).min(cap);
        let jitter = super::pipeline::hash64(&[&send.idempotency_key, &send.attempts.to_string()]) % 1_000;
        step / 2 + step / 2 * i64::try_from(jitter).unwrap_or(0) / 1_000
    }

    async fn attempt(self: &Arc<Self>, send: &PendingSend) -> Attempt {
        // The campaign's own pace, before anything is built. The decision to send reads the
        // campaign again after this wait, on purpose: a pause during the wait still holds the
        // send (a read from the store's cache costs about a microsecond).
        let per_minute =
            self.storage.campaign(&send.campaign).ok().flatten().and_then(|c| c.rate_limit_per_minute);
        if let Some(per_minute) = per_minute {
            let lane = format!("campaign:{}", send.campaign);
            if let Err(later) =
                self.courier.throttle.slot(&lane, Some(f64::from(per_minute) / 60.0), self.now()).await
            {
                return self.held_until(
                    later,
                    format!("campaign `{}` sends at most {per_minute} a minute", send.campaign),
                );
            }
        }
        let prepared = {
            let engine = self.clone();
            let send = send.clone();
            blocking(move || Ok(engine.prepare(&send))).await
        };
        let (plugin, invocation, grants, requests, fence) = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(attempt)) => return attempt,
            Err(err) => {
                return Attempt::Retry { reason: err.to_string(), after_ms: None };
            }
        };
        let mut receipt = None;
        for (index, request) in requests.into_iter().enumerate() {
            // An erasure may have come while the adapter built the request: it removed the send,
            // and the person is not messaged.
            match self.storage.send_pending(&send.idempotency_key) {
                Ok(true) => {}
                Ok(false) => return Attempt::Withdrawn,
                Err(err) => return Attempt::Retry { reason: err.to_string(), after_ms: None },
            }
            let (request, exposed) = match self.authorize(request, &grants, &fence) {
                Ok(authorized) => authorized,
                Err(reason) => return Attempt::Rejected(format!("request {index}: {reason}")),
            };
            let host = reqwest::Url::parse(&request.url)
                .ok()
                .and_then(|url| url.host_str().map(str::to_owned))
                .unwrap_or_default();
            let mut response = match self.send(request).await {
                Ok(response) => response,
                Err(Unsent::Refused(reason)) => {
                    return Attempt::Rejected(format!("request {index}: {reason}"));
                }
                Err(Unsent::Failed(reason)) => {
                    return Attempt::Retry { reason, after_ms: None };
                }
                Err(Unsent::Later(later)) => {
                    return self.held_until(later, format!("vendor `{host}` is at its rate limit"));
                }
            };
            scrub(&mut response, &exposed);
            let retry_after = retry_after_header(&response, self.now());
            let status = response.status;
            let classified = {
                let (runtime, plugin, invocation) =
                    (self.runtime.clone(), plugin.clone(), invocation.clone());
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                blocking(move || Ok(runtime.call(&plugin).classify(&invocation, index, &response))).await
            };
            let classified = match classified {
                Ok(Ok(called)) => called.value,
                // The vendor has the request; a retry resends it under the same idempotency key.
                Ok(Err(err)) => {
                    return Attempt::after_failed_call(&format!("request {index}: classify"), &err);
                }
                Err(err) => return Attempt::Retry { reason: err.to_string(), after_ms: None },
            };
            // The vendor's pace is everyone's: a throttle slows the host for every send (a 429
            // did already, in `send`, before the next request could leave).
            match &classified {
                DeliveryOutcome::Throttled(after) if status != 429 => {
                    self.slowed(&host, after.or(retry_after))
                }
                DeliveryOutcome::Delivered(_) => self.courier.throttle.recovered(&host),
                _ => {}
            }
            match classified {
                DeliveryOutcome::Delivered(id) => receipt = id.or(receipt),
                DeliveryOutcome::Rejected(reason) => {
                    return Attempt::Rejected(format!("vendor answered {status}: {reason}"));
                }
                DeliveryOutcome::RetryAfter(after) => {
                    return Attempt::Retry {
                        reason: format!("vendor answered {status}, retryable"),
                        after_ms: after.or(retry_after),
                    };
                }
                DeliveryOutcome::Throttled(after) => {
                    return Attempt::Retry {
                        reason: format!("vendor throttled ({status})"),
                        after_ms: after.or(retry_after),
                    };
                }
            }
        }
        Attempt::Delivered(receipt)
    }

    /// Loads the pinned adapter, the current grants and the message, and builds the requests.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        send: &PendingSend,
    ) -> Result<(Arc<crate::runtime::LoadedPlugin>, Invocation, Grants, Vec<HttpRequest>, Fence), Attempt>
    {
        let plugin =
            self.runtime.plugin(&send.channel_plugin).map_err(|e| Attempt::Rejected(e.to_string()))?;
        // A quarantined adapter holds its sends back until it is enabled again, their attempts
        // unspent; none is lost.
        if let Some(reason) = plugin.quarantined() {
            return Err(Attempt::Hold {
                reason: format!("channel plugin quarantined: {reason}"),
                after_ms: QUARANTINE_RECHECK_MS,
                skip: None,
            });
        }
        self.judge_again(send)?;
        // Grants come from the current binding while it pins the send's adapter, so a revoked
        // grant takes effect on queued sends too; after a swap (or an unbinding) the send keeps
        // the grants it was queued with, as it keeps its adapter and config.
        let grants = match (self.storage.binding(&send.campaign, &Slot::Channel), &send.channel_grants) {
            (Ok(Some(binding)), _) if binding.plugin == send.channel_plugin => binding.grants,
            (Ok(_), Some(pinned)) => pinned.clone(),
            (Ok(Some(binding)), None) => binding.grants,
            (Ok(None), None) => {
                return Err(Attempt::Rejected(format!(
                    "campaign `{}` has no channel binding",
                    send.campaign
                )));
            }
            (Err(err), _) => return Err(Attempt::Retry { reason: err.to_string(), after_ms: None }),
        };
        let message: Message = serde_json::from_value(send.message.clone())
            .map_err(|e| Attempt::Rejected(format!("stored message is unreadable: {e}")))?;
        let invocation = Invocation {
            campaign_id: send.campaign.clone(),
            config: send.channel_config.to_string(),
            now: self.now(),
            seed: super::pipeline::hash64(&[&send.idempotency_key]),
        };
        // Data reaches the adapter fenced: nothing in it can become a placeholder.
        let fence = Fence::new().map_err(|reason| Attempt::Retry { reason, after_ms: None })?;
        let requests = self
            .runtime
            .call(&plugin)
            .build(&invocation, &fence.seal_message(&message))
            .map_err(|e| Attempt::after_failed_call("build", &e))?
            .value;
        Ok((plugin, invocation, grants, requests, fence))
    }

    /// Each rate lane (a vendor host, or `campaign:<id>`): the pace it allows now, how often
    /// the vendor throttled, how many sends it held back, and how many wait for a slot.
    pub fn send_lanes(&self) -> Vec<SendLane> {
        self.courier.throttle.lanes()
    }

    /// A send whose slot is too far off: it waits in the outbox, its attempts unspent.
    fn held_until(&self, later: Later, reason: String) -> Attempt {
        let wait = later.0;
        Attempt::Hold {
            reason,
            after_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1),
            skip: None,
        }
    }

    /// A vendor asked to slow down: its lane pauses for `after_ms` (a second if it did not say).
    fn slowed(&self, host: &str, after_ms: Option<u64>) {
        let pause =
            after_ms.unwrap_or(1_000).min(u64::try_from(self.delivery.max_backoff_ms).unwrap_or(u64::MAX));
        self.courier.throttle.slow_down(host, Duration::from_millis(pause), self.now());
        tracing::warn!(%host, pause_ms = pause, "Vendor throttled: its lane slows for every send.");
    }

    /// Whether the moment of sending would let `send` leave now, recording nothing: what the
    /// send benchmark times, to state the cost of the re-check per send.
    #[doc(hidden)]
    pub fn would_send_now(&self, send: &PendingSend) -> bool {
        self.judge_again(send).is_ok()
    }

    /// The decision to send, made again at the moment of sending: a send may have waited for
    /// quiet hours or a retry while the person opted out, was suppressed or erased, or the
    /// campaign was paused or ended. Paused holds; the rest cancel, each with its skip.
    fn judge_again(&self, send: &PendingSend) -> Result<(), Attempt> {
        let retry =
            |err: crate::store::StorageError| Attempt::Retry { reason: err.to_string(), after_ms: None };
        let campaign = match self.storage.campaign(&send.campaign).map_err(retry)? {
            Some(campaign) => campaign,
            None => return Err(Attempt::Cancel(SkipReason::CampaignEnded, "the campaign is gone".into())),
        };
        match campaign.state {
            CampaignState::Active => {}
            CampaignState::Paused | CampaignState::Draft => {
                return Err(Attempt::Hold {
                    reason: format!(
                        "campaign `{}` is paused: the send waits until it is active",
                        campaign.id
                    ),
                    after_ms: PAUSED_RECHECK_MS,
                    skip: Some(SkipReason::CampaignPaused),
                });
            }
            CampaignState::Ended => {
                return Err(Attempt::Cancel(
                    SkipReason::CampaignEnded,
                    format!("campaign `{}` ended before the send left", campaign.id),
                ));
            }
        }
        let Some(profile) = self.storage.profile(send.profile).map_err(retry)? else {
            return Err(Attempt::Withdrawn);
        };
        super::policy::eligibility(&campaign, &profile).map_err(|(reason, detail)| {
            Attempt::Cancel(reason, format!("at the moment of sending: {detail}"))
        })?;
        // Pacing again, as at enqueue but now: priority (a higher-priority campaign that
        // claimed this person in the window wins, whichever of the two was judged first), the
        // frequency and daily caps counted over the sends around this moment, and quiet hours
        // for a send whose retry came due in the night. The send's own history entry is not
        // one of the others.
        let now = self.now();
        let since = now.saturating_sub(self.lookback_ms());
        let mut recent = self.storage.sends_to(send.profile, since).map_err(retry)?;
        if let Some(own) = recent.iter().position(|s| s.at == send.enqueued_at && s.campaign == send.campaign)
        {
            recent.remove(own);
        }
        match super::policy::pacing(&self.policies, &campaign, &profile, &recent, now) {
            Pacing::Now => Ok(()),
            Pacing::Skip(reason, detail) => {
                Err(Attempt::Cancel(reason, format!("at the moment of sending: {detail}")))
            }
            Pacing::Delay { until, detail } => Err(Attempt::Hold {
                reason: detail,
                after_ms: u64::try_from(until.saturating_sub(now)).unwrap_or(0),
                skip: None,
            }),
        }
    }

    /// Checks the scheme, the host against the grants and the outbound policy, and substitutes
    /// granted secrets scoped to that host. Returns the request as it will be sent and the
    /// credentials that went into it.
    fn authorize(
        &self,
        mut request: HttpRequest,
        grants: &Grants,
        fence: &Fence,
    ) -> Result<(HttpRequest, Vec<String>), String> {
        let url = reqwest::Url::parse(&request.url).map_err(|e| format!("invalid URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.courier.outbound.allow_http => {}
            "http" => {
                return Err("plain http is not allowed; use https (an operator may allow http in \
                            `engine.delivery.outbound.allow_http`)"
                    .into());
            }
            other => return Err(format!("scheme `{other}` is not allowed; use https")),
        }
        // Lowercased by the URL parser; an IPv6 literal comes without its brackets.
        let host = match url.host_str() {
            Some(host) => host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            None => return Err("the URL has no host".into()),
        };
        if !grants.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            return Err(format!("host `{host}` is not granted to this binding"));
        }
        // Literal addresses never reach the resolver, so they are checked here.
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            if let Some(reason) = self.courier.outbound.refuses(ip) {
                return Err(reason);
            }
        }
        let mut substitution = Substitution::new(&self.storage, grants, &host);
        substitution.apply(&mut request, fence)?;
        Ok((request, substitution.exposed))
    }

    /// Sends one request and reads at most `response_body_cap` bytes of the answer, while it
    /// streams in. Errors never include the URL: query strings may carry secrets.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Unsent> {
        let url =
            reqwest::Url::parse(&request.url).map_err(|e| Unsent::Refused(format!("invalid URL: {e}")))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Unsent::Refused(format!("invalid method `{}`", request.method)))?;
        // The connection first, then the slot: a send that waited for a connection sees a pause
        // the vendor asked for meanwhile.
        let permit = self.courier.vendor(&host, self.delivery.per_vendor_concurrency).acquire_owned().await;
        let limit = self.delivery.vendor_rate_limits.get(&host).copied();
        self.courier.throttle.slot(&host, limit, self.now()).await.map_err(Unsent::Later)?;
        let mut builder = self.courier.client.request(method, url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(|e| transport_error(&host, &e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect();
        let cap = self.delivery.response_body_cap;
        let mut body = Vec::new();
        // A body that breaks off is judged on what arrived; the status is already known.
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk[..chunk.len().min(cap - body.len())]);
            if body.len() >= cap {
                break;
            }
        }
        let response = HttpResponse { status, headers, body };
        if status == 429 {
            // Slowed before the connection is given up, so that no send waiting for it goes
            // out into the vendor's refusal.
            self.slowed(&host, retry_after_header(&response, self.now()));
        }
        drop(permit);
        Ok(response)
    }
}

enum Fate {
    Delivered,
    Rejected,
    Retried,
    DeadLettered,
    /// Removed by an erasure while in flight; counted nowhere.
    Withdrawn,
    /// Put back to wait without spending an attempt.
    Held,
    /// Taken out of the outbox unsent, with a skip.
    Cancelled,
}

/// The event a finished send leaves on the campaign's record, for KPIs (retries leave none).
fn outcome_event(send: &PendingSend, fate: &Fate, now: i64) -> Option<crate::profile::Event> {
    let name = match fate {
        Fate::Delivered => "message_delivered",
        Fate::Rejected => "message_rejected",
        Fate::DeadLettered => "message_failed",
        Fate::Retried | Fate::Withdrawn | Fate::Held | Fate::Cancelled => return None,
    };
    let mut properties = serde_json::Map::new();
    properties.insert("channel".into(), send.message.get("channel").cloned().unwrap_or_default());
    properties.insert("variant".into(), send.variant.clone().into());
    properties.insert("idempotency_key".into(), send.idempotency_key.clone().into());
    Some(crate::profile::Event {
        id: format!("{}:{name}", send.idempotency_key),
        profile: send.profile,
        name: name.into(),
        timestamp: now,
        properties,
        campaign: Some(send.campaign.clone()),
    })
}

/// Why a request did not reach the vendor.
enum Unsent {
    /// The host refused to send it; sending again would be refused again.
    Refused(String),
    /// It failed on the way; another attempt may succeed.
    Failed(String),
    /// The vendor's rate lane has no slot soon enough: not sent, to be held.
    Later(Later),
}

fn transport_error(host: &str, err: &reqwest::Error) -> Unsent {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return Unsent::Refused(refused.to_string());
        }
        source = cause.source();
    }
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed in transport"
    };
    Unsent::Failed(format!("request to {host} {what}"))
}

/// `Retry-After` in seconds (the HTTP-date form is rare from APIs and is ignored).
/// `Retry-After` in milliseconds from `now_ms`: seconds, or an HTTP date (RFC 9110 allows both;
/// a date in the past means now).
fn retry_after_header(response: &HttpResponse, now_ms: i64) -> Option<u64> {
    let value = response.headers.iter().find(|(k, _)| k == "retry-after").map(|(_, v)| v.trim())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1_000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let at_ms = i64::try_from(at_ms).ok()?;
    Some(u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0))
}

/// Runs blocking work (plugin calls, store writes) off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, EngineError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::Http(format!("worker task failed: {e}")))?
}
