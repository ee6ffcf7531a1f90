//! The send lifecycle: outbox (with leases), idempotency keys, delivery records, dead letters
//! and replay, skip records, per-profile send history, KPI snapshots.
//!
//! Delivery is at-least-once toward the vendor: a worker *claims* due sends, which moves their
//! next attempt a lease into the future; if the worker dies mid-send, the lease runs out and the
//! send is claimed again. Each idempotency key is accepted into the outbox once, ever.
//!
//! A pending send's outbox row is keyed by its next attempt, so every change to the send (a
//! claim, a retry, its end) replaces the row under a new key. Claims take due rows that no other
//! claim holds ([`Backend::claim`](super::backend::Backend::claim): `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL) without the writer lock, and finishes and cancels need it only to store an event;
//! every change to a pending send commits only if the row it planned from is still there
//! ([`WriteSet::require`]), and otherwise reads the send again. So workers claim and finish side
//! by side, and no two changes to one send both land.

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode, keys};
use crate::delivery::{DeliveryRecord, KpiSnapshot, PendingSend, SendOutcome, SkipRecord};
use crate::plugin::ContentHash;
use crate::profile::ProfileId;

/// Where the send of an idempotency key is, as stored in `SendKeys`.
enum SendState {
    /// In the outbox under this key.
    Pending(Vec<u8>),
    /// Finished (delivered or rejected): the key of its delivery record (empty in stores written
    /// before the key was kept).
    Finished(Vec<u8>),
    /// In the dead letters under this key.
    Dead(Vec<u8>),
}

impl SendState {
    fn encode(&self) -> Vec<u8> {
        let (tag, key): (u8, &[u8]) = match self {
            SendState::Pending(key) => (0, key),
            SendState::Finished(key) => (1, key),
            SendState::Dead(key) => (2, key),
        };
        let mut raw = vec![tag];
        raw.extend_from_slice(key);
        raw
    }

    fn decode(raw: &[u8]) -> Result<Self, StorageError> {
        match raw.split_first() {
            Some((0, key)) => Ok(SendState::Pending(key.to_vec())),
            Some((1, key)) => Ok(SendState::Finished(key.to_vec())),
            Some((2, key)) => Ok(SendState::Dead(key.to_vec())),
            _ => Err(StorageError::Corrupt { what: "send key".into(), reason: "unknown state".into() }),
        }
    }
}

/// One entry of a profile's send history, for frequency caps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SentTo {
    /// When it was enqueued, ms since the epoch.
    pub at: i64,
    /// The channel.
    pub channel: String,
    /// The campaign.
    pub campaign: String,
    /// Whether the campaign was transactional (exempt from marketing caps).
    pub transactional: bool,
    /// The campaign's priority when it was sent.
    #[serde(default)]
    pub priority: i32,
}

impl Storage {
    /// Accepts sends into the outbox, durably. Returns, per send, whether it was accepted (`false`:
    /// its idempotency key was seen before, so it is not sent again, or its profile was erased).
    pub fn enqueue(&self, sends: &[(PendingSend, SentTo)]) -> Result<Vec<bool>, StorageError> {
        let accepted = self.enqueue_unflushed(sends)?;
        if accepted.contains(&true) {
            self.backend.durable()?;
        }
        Ok(accepted)
    }

    /// [`Storage::enqueue`] for sends decided from queued triggers, without waiting for the
    /// flush: the trigger that decided them is durable and is cleared only by a flushed write
    /// ([`Storage::clear_triggers`]), which carries these sends to disk with it. A crash before
    /// then leaves the trigger queued, and it decides the same sends under the same idempotency
    /// keys again. Delivery may start meanwhile, as a send may be delivered and then crash before
    /// its outcome is recorded: either way the vendor sees the key at least once, never a new key.
    /// This takes the second flush off the way from an event to its vendor.
    pub fn enqueue_behind_trigger(&self, sends: &[(PendingSend, SentTo)]) -> Result<Vec<bool>, StorageError> {
        self.enqueue_unflushed(sends)
    }

    fn enqueue_unflushed(&self, sends: &[(PendingSend, SentTo)]) -> Result<Vec<bool>, StorageError> {
        let accepted = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut accepted = Vec::with_capacity(sends.len());
            for (send, sent_to) in sends {
                let key = send.idempotency_key.as_bytes();
                // A profile erased while the pipeline judged it is not messaged: erasure holds
                // the same lock, so it comes wholly before or wholly after this check.
                if writes.contains(TreeId::SendKeys, key)? || self.profile(send.profile)?.is_none() {
                    accepted.push(false);
                    continue;
                }
                let outbox_key = self.timed_key(send.next_attempt_at)?;
                writes.put(TreeId::Outbox, outbox_key.clone(), encode(send)?);
                writes.put(TreeId::SendKeys, key.to_vec(), SendState::Pending(outbox_key).encode());
                let mut history_key = keys::profile(send.profile).to_vec();
                history_key.extend_from_slice(&self.timed_key(sent_to.at)?);
                writes.put(TreeId::ProfileSends, history_key, encode(sent_to)?);
                accepted.push(true);
            }
            writes.commit()?;
            accepted
        };
        Ok(accepted)
    }

    /// Whether a send is still waiting to go out. An erasure removes the sends of the profile it
    /// erases, in flight or not, so delivery asks this right before each request leaves.
    pub fn send_pending(&self, idempotency_key: &str) -> Result<bool, StorageError> {
        Ok(self.pending(&WriteSet::new(self), idempotency_key)?.is_some())
    }

    /// Claims up to `limit` sends due at `now`, leasing them for `lease_ms`: they are not due
    /// again until the lease runs out, unless the claimant finishes or reschedules them first.
    /// Workers claiming at once get different sends.
    pub fn claim_due(&self, now: i64, limit: usize, lease_ms: i64) -> Result<Vec<PendingSend>, StorageError> {
        let until = now.saturating_add(lease_ms);
        let mut claimed = Vec::new();
        let end = keys::time(now.saturating_add(1));
        self.backend.claim(TreeId::Outbox, &end, limit, &mut |due| {
            claimed.clear();
            let mut writes = Vec::with_capacity(due.len() * 3);
            for (key, raw) in due {
                let mut send: PendingSend = decode(raw, "pending send")?;
                send.next_attempt_at = until;
                // The send keeps its sequence number (the key's tail): the new key is as unique
                // as the old one, and a claim needs no new ids.
                let mut leased = keys::time(until).to_vec();
                leased.extend_from_slice(key.get(8..).unwrap_or_default());
                if leased[..] != key[..] {
                    writes.push((TreeId::Outbox, key.to_vec(), None));
                }
                writes.push((TreeId::Outbox, leased.clone(), Some(encode(&send)?)));
                writes.push((
                    TreeId::SendKeys,
                    send.idempotency_key.as_bytes().to_vec(),
                    Some(SendState::Pending(leased).encode()),
                ));
                claimed.push(send);
            }
            Ok(writes)
        })?;
        // A lease lost in a crash only makes the send due again: no flush needed.
        Ok(claimed)
    }

    /// Records the end of a pending send's last attempt, durably. Returns `false` if the key is
    /// not pending (already finished by another worker, or unknown).
    pub fn finish_send(
        &self,
        idempotency_key: &str,
        outcome: SendOutcome,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.finish_send_with_event(idempotency_key, outcome, now, None)
    }

    /// [`Storage::finish_send`], storing `event` (the outcome as the KPIs read it,
    /// `message_delivered`) in the same atomic write: one write per send instead of two, and no
    /// delivery without its event after a crash.
    pub fn finish_send_with_event(
        &self,
        idempotency_key: &str,
        outcome: SendOutcome,
        now: i64,
        event: Option<&crate::profile::Event>,
    ) -> Result<bool, StorageError> {
        // Storing an event plans from what ingest writes (its id seen, its profile merged), so
        // that takes the writer lock; the send itself needs only its own row.
        let _writer = event.map(|_| self.lock_writer()).transpose()?;
        self.change_pending(idempotency_key, |writes, mut send| {
            send.attempts += 1;
            let record = DeliveryRecord {
                idempotency_key: send.idempotency_key.clone(),
                campaign: send.campaign.clone(),
                profile: send.profile,
                variant: send.variant.clone(),
                outcome: outcome.clone(),
                attempts: send.attempts,
                at: now,
            };
            let mut record_key = keys::campaign_prefix(&send.campaign);
            record_key.extend_from_slice(&self.timed_key(now)?);
            writes.put(TreeId::Deliveries, record_key.clone(), encode(&record)?);
            if let SendOutcome::Delivered { receipt: Some(receipt) } = &outcome {
                writes.put(
                    TreeId::Receipts,
                    receipt.as_bytes().to_vec(),
                    idempotency_key.as_bytes().to_vec(),
                );
            }
            let state = match outcome.clone() {
                SendOutcome::DeadLettered { reason } => {
                    send.last_error = Some(reason);
                    let mut dead_key = keys::campaign_prefix(&send.campaign);
                    dead_key.extend_from_slice(&self.backend.next_id()?.to_be_bytes());
                    writes.put(TreeId::DeadLetters, dead_key.clone(), encode(&send)?);
                    SendState::Dead(dead_key)
                }
                _ => SendState::Finished(record_key),
            };
            writes.put(TreeId::SendKeys, idempotency_key.as_bytes().to_vec(), state.encode());
            if let Some(event) = event {
                self.put_event(writes, event, false)?;
            }
            Ok(())
        })
    }

    /// The delivery record of a finished send, by its idempotency key.
    pub fn delivery(&self, idempotency_key: &str) -> Result<Option<DeliveryRecord>, StorageError> {
        let Some(raw) = self.tree(TreeId::SendKeys).get(idempotency_key.as_bytes())? else {
            return Ok(None);
        };
        let SendState::Finished(record_key) = SendState::decode(&raw)? else {
            return Ok(None);
        };
        if record_key.is_empty() {
            return Ok(None);
        }
        self.tree(TreeId::Deliveries).get(record_key)?.map(|raw| decode(&raw, "delivery")).transpose()
    }

    /// The delivery record of the send the vendor knows by this message id (its receipt).
    pub fn delivery_by_receipt(&self, receipt: &str) -> Result<Option<DeliveryRecord>, StorageError> {
        match self.tree(TreeId::Receipts).get(receipt.as_bytes())? {
            Some(key) => self.delivery(&String::from_utf8_lossy(&key)),
            None => Ok(None),
        }
    }

    /// Schedules another attempt of a pending send after a failed one, durably.
    pub fn retry_send(
        &self,
        idempotency_key: &str,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<bool, StorageError> {
        self.reschedule_send(idempotency_key, next_attempt_at, error, true)
    }

    /// Puts a send back to wait until `next_attempt_at` without spending an attempt: it was held
    /// (its adapter quarantined, its campaign paused), not tried.
    pub fn hold_send(
        &self,
        idempotency_key: &str,
        next_attempt_at: i64,
        why: &str,
    ) -> Result<bool, StorageError> {
        self.reschedule_send(idempotency_key, next_attempt_at, why, false)
    }

    fn reschedule_send(
        &self,
        idempotency_key: &str,
        next_attempt_at: i64,
        error: &str,
        spend_attempt: bool,
    ) -> Result<bool, StorageError> {
        // Unlike a claim, which moves a send later, this may move it earlier than its lease: an
        // erasure, whose scan of the outbox holds the writer lock, must not have a send move
        // back past where it has read (claims only ever move sends ahead of it, and finishes
        // and cancels remove what it would find anyway).
        let _writer = self.lock_writer()?;
        self.change_pending(idempotency_key, |writes, mut send| {
            if spend_attempt {
                send.attempts += 1;
            }
            send.next_attempt_at = next_attempt_at;
            send.last_error = Some(error.to_owned());
            let moved = self.timed_key(next_attempt_at)?;
            writes.put(TreeId::Outbox, moved.clone(), encode(&send)?);
            writes.put(
                TreeId::SendKeys,
                idempotency_key.as_bytes().to_vec(),
                SendState::Pending(moved).encode(),
            );
            Ok(())
        })
    }

    /// Puts a campaign's dead letters back in the outbox, due at `now`, with a fresh retry
    /// budget, durably. Returns how many.
    pub fn replay_dead_letters(&self, campaign: &str, now: i64) -> Result<usize, StorageError> {
        let replayed = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut replayed = 0;
            for entry in self.tree(TreeId::DeadLetters).scan_prefix(keys::campaign_prefix(campaign)) {
                let (key, raw) = entry?;
                let mut send: PendingSend = decode(&raw, "dead letter")?;
                send.attempts = 0;
                send.next_attempt_at = now;
                let outbox_key = self.timed_key(now)?;
                writes.remove(TreeId::DeadLetters, key.to_vec());
                writes.put(TreeId::Outbox, outbox_key.clone(), encode(&send)?);
                writes.put(
                    TreeId::SendKeys,
                    send.idempotency_key.as_bytes().to_vec(),
                    SendState::Pending(outbox_key).encode(),
                );
                replayed += 1;
            }
            writes.commit()?;
            replayed
        };
        if replayed > 0 {
            self.backend.durable()?;
        }
        Ok(replayed)
    }

    /// A campaign's dead letters, oldest first.
    pub fn dead_letters(&self, campaign: &str) -> Result<Vec<PendingSend>, StorageError> {
        self.scan_campaign(TreeId::DeadLetters, campaign, "dead letter")
    }

    /// A campaign's finished sends, oldest first.
    pub fn deliveries(&self, campaign: &str) -> Result<Vec<DeliveryRecord>, StorageError> {
        self.scan_campaign(TreeId::Deliveries, campaign, "delivery")
    }

    /// Every pending send, soonest due first.
    pub fn pending_sends(&self) -> Result<Vec<PendingSend>, StorageError> {
        self.tree(TreeId::Outbox).iter().map(|entry| decode(&entry?.1, "pending send")).collect()
    }

    /// How many sends are pending (queue depth).
    pub fn outbox_len(&self) -> usize {
        self.tree(TreeId::Outbox).len()
    }

    /// A profile's sends enqueued at or after `since`, oldest first.
    pub fn sends_to(&self, profile: ProfileId, since: i64) -> Result<Vec<SentTo>, StorageError> {
        let mut start = keys::profile(profile).to_vec();
        start.extend_from_slice(&keys::time(since));
        let mut end = keys::profile(profile).to_vec();
        end.extend_from_slice(&[0xff; 16]);
        self.tree(TreeId::ProfileSends)
            .range(start..end)
            .map(|entry| decode(&entry?.1, "send history"))
            .collect()
    }

    /// The idempotency keys of the queued sends and the dead letters whose channel adapter is
    /// `plugin`.
    pub fn sends_of_plugin(&self, plugin: &ContentHash) -> Result<(Vec<String>, Vec<Vec<u8>>), StorageError> {
        let mut queued = Vec::new();
        for entry in self.tree(TreeId::Outbox).iter() {
            let send: PendingSend = decode(&entry?.1, "pending send")?;
            if send.channel_plugin == *plugin {
                queued.push(send.idempotency_key);
            }
        }
        let mut dead = Vec::new();
        for entry in self.tree(TreeId::DeadLetters).iter() {
            let (key, raw) = entry?;
            let send: PendingSend = decode(&raw, "dead letter")?;
            if send.channel_plugin == *plugin {
                dead.push(key.to_vec());
            }
        }
        Ok((queued, dead))
    }

    /// Drops dead letters for good (their plugin is being removed); their delivery records,
    /// which say they failed, stay.
    pub fn discard_dead_letters(&self, keys: &[Vec<u8>]) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        for key in keys {
            writes.remove(TreeId::DeadLetters, key.clone());
        }
        writes.commit()?;
        self.backend.durable()
    }

    /// Takes a waiting send out of the outbox unsent, with the skip that says why (the check at
    /// the moment of sending refused it), and out of the profile's send history, so that caps
    /// and priorities do not count it. Its idempotency key is released: a new decision may
    /// queue it again. Returns whether it was still waiting.
    pub fn cancel_send(&self, idempotency_key: &str, skip: &SkipRecord) -> Result<bool, StorageError> {
        self.change_pending(idempotency_key, |writes, send| {
            writes.remove(TreeId::SendKeys, idempotency_key.as_bytes().to_vec());
            let mut start = keys::profile(send.profile).to_vec();
            start.extend_from_slice(&keys::time(send.enqueued_at));
            let mut end = keys::profile(send.profile).to_vec();
            end.extend_from_slice(&keys::time(send.enqueued_at.saturating_add(1)));
            for entry in self.tree(TreeId::ProfileSends).range(start..end) {
                let (key, raw) = entry?;
                let sent: SentTo = decode(&raw, "send history")?;
                if sent.campaign == send.campaign {
                    writes.remove(TreeId::ProfileSends, key.to_vec());
                    break;
                }
            }
            let mut skip_key = keys::campaign_prefix(&skip.campaign);
            skip_key.extend_from_slice(&self.timed_key(skip.at)?);
            writes.put(TreeId::Skips, skip_key, encode(skip)?);
            Ok(())
        })
    }

    /// Records suppressed or delayed sends, durably.
    pub fn record_skips(&self, skips: &[SkipRecord]) -> Result<(), StorageError> {
        if skips.is_empty() {
            return Ok(());
        }
        let mut writes = WriteSet::new(self);
        for skip in skips {
            let mut key = keys::campaign_prefix(&skip.campaign);
            key.extend_from_slice(&self.timed_key(skip.at)?);
            writes.put(TreeId::Skips, key, encode(skip)?);
        }
        writes.commit()?;
        self.backend.durable()
    }

    /// A campaign's skip records, oldest first.
    pub fn skips(&self, campaign: &str) -> Result<Vec<SkipRecord>, StorageError> {
        self.scan_campaign(TreeId::Skips, campaign, "skip")
    }

    /// Stores a KPI result, durably.
    pub fn put_kpi_snapshot(&self, snapshot: &KpiSnapshot) -> Result<(), StorageError> {
        let mut key = keys::campaign_prefix(&snapshot.campaign);
        key.extend_from_slice(snapshot.kpi.as_bytes());
        key.push(0);
        key.extend_from_slice(&keys::time(snapshot.at));
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::KpiSnapshots, key, encode(snapshot)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// A campaign's KPI results, by KPI then oldest first.
    pub fn kpi_snapshots(&self, campaign: &str) -> Result<Vec<KpiSnapshot>, StorageError> {
        self.scan_campaign(TreeId::KpiSnapshots, campaign, "kpi snapshot")
    }

    /// Takes a pending send's outbox row out and adds what `plan` writes, durably, if the row is
    /// still the one read (see the module's comment); otherwise reads the send again and plans
    /// again. Returns `false` if the send is not pending.
    fn change_pending(
        &self,
        idempotency_key: &str,
        mut plan: impl FnMut(&mut WriteSet<'_>, PendingSend) -> Result<(), StorageError>,
    ) -> Result<bool, StorageError> {
        loop {
            let mut writes = WriteSet::new(self);
            let Some((outbox_key, send)) = self.pending(&writes, idempotency_key)? else {
                return Ok(false);
            };
            writes.require(TreeId::Outbox, outbox_key.clone());
            writes.remove(TreeId::Outbox, outbox_key);
            plan(&mut writes, send)?;
            if writes.commit_if_present()? {
                break;
            }
        }
        self.backend.durable()?;
        Ok(true)
    }

    fn pending(
        &self,
        writes: &WriteSet<'_>,
        idempotency_key: &str,
    ) -> Result<Option<(Vec<u8>, PendingSend)>, StorageError> {
        let Some(raw) = writes.get(TreeId::SendKeys, idempotency_key.as_bytes())? else {
            return Ok(None);
        };
        let SendState::Pending(outbox_key) = SendState::decode(&raw)? else {
            return Ok(None);
        };
        let Some(raw) = writes.get(TreeId::Outbox, &outbox_key)? else {
            return Ok(None);
        };
        Ok(Some((outbox_key, decode(&raw, "pending send")?)))
    }

    /// A key of time then a unique sequence: sorts by time, never collides.
    fn timed_key(&self, at: i64) -> Result<Vec<u8>, StorageError> {
        let mut key = keys::time(at).to_vec();
        key.extend_from_slice(&self.backend.next_id()?.to_be_bytes());
        Ok(key)
    }

    fn scan_campaign<T: serde::de::DeserializeOwned>(
        &self,
        tree: TreeId,
        campaign: &str,
        what: &str,
    ) -> Result<Vec<T>, StorageError> {
        self.tree(tree)
            .scan_prefix(keys::campaign_prefix(campaign))
            .map(|entry| decode(&entry?.1, what))
            .collect()
    }
}
