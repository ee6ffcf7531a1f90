//! Lists read a page at a time: a range of a tree after a cursor (the last key of the page
//! before), filtered, at most `limit` long. A list of a million deliveries costs one page of
//! reads per request, not a million.

use std::ops::Bound;

use super::backend::prefix_end;
use super::{Storage, StorageError, TreeId, decode, keys};
use crate::delivery::{DeliveryRecord, PendingSend, SkipRecord};
use crate::profile::Profile;
use crate::store::AuditRecord;

/// Where a page starts and how long it may be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The key of the last item of the page before (from [`Page::next`]); `None` for the first.
    pub after: Option<Vec<u8>>,
    /// At most this many items.
    pub limit: usize,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// The key to continue after, when the page is full (more may follow).
    pub next: Option<Vec<u8>>,
}

impl<T> Page<T> {
    /// A page of a list kept in memory, ordered by `key`: the items after the request's key.
    pub fn of(mut items: Vec<T>, key: impl Fn(&T) -> Vec<u8>, request: &PageRequest) -> Page<T> {
        items.sort_by_key(|item| key(item));
        let start = match &request.after {
            Some(after) => items.partition_point(|item| key(item) <= *after),
            None => 0,
        };
        let mut items: Vec<T> = items.into_iter().skip(start).collect();
        let next = if items.len() > request.limit {
            items.truncate(request.limit);
            items.last().map(&key)
        } else {
            None
        };
        Page { items, next }
    }
}

impl Storage {
    /// A page of `tree` within `prefix`, after the request's key, keeping items `keep` accepts;
    /// newest (last key) first when `reverse`.
    fn page<T: serde::de::DeserializeOwned>(
        &self,
        tree: TreeId,
        prefix: &[u8],
        request: &PageRequest,
        reverse: bool,
        what: &str,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>, StorageError> {
        let tree = self.tree(tree);
        let end = prefix_end(prefix);
        let upper = |bound: Option<Vec<u8>>| bound.map_or(Bound::Unbounded, Bound::Excluded);
        let range = match (reverse, &request.after) {
            (false, None) => tree.range::<Vec<u8>>((Bound::Included(prefix.to_vec()), upper(end))),
            (false, Some(after)) => {
                let start = after.max(&prefix.to_vec()).clone();
                let lower = if start == prefix { Bound::Included(start) } else { Bound::Excluded(start) };
                tree.range::<Vec<u8>>((lower, upper(end)))
            }
            (true, None) => tree.range::<Vec<u8>>((Bound::Included(prefix.to_vec()), upper(end))).rev(),
            (true, Some(after)) => {
                // A cursor past this prefix's range (from another list) must not reach it.
                let before = match end {
                    Some(end) if *after > end => end,
                    _ => after.clone(),
                };
                tree.range::<Vec<u8>>((Bound::Included(prefix.to_vec()), Bound::Excluded(before))).rev()
            }
        };
        let mut items = Vec::new();
        let mut last = None;
        for entry in range {
            let (key, value) = entry?;
            let item: T = decode(&value, what)?;
            if !keep(&item) {
                continue;
            }
            if items.len() == request.limit {
                return Ok(Page { items, next: last });
            }
            items.push(item);
            last = Some(key.to_vec());
        }
        Ok(Page { items, next: None })
    }

    /// A page of a campaign's finished sends, oldest first.
    pub fn deliveries_page(
        &self,
        campaign: &str,
        request: &PageRequest,
        keep: impl Fn(&DeliveryRecord) -> bool,
    ) -> Result<Page<DeliveryRecord>, StorageError> {
        self.page(TreeId::Deliveries, &keys::campaign_prefix(campaign), request, false, "delivery", keep)
    }

    /// A page of a campaign's skips, oldest first.
    pub fn skips_page(
        &self,
        campaign: &str,
        request: &PageRequest,
        keep: impl Fn(&SkipRecord) -> bool,
    ) -> Result<Page<SkipRecord>, StorageError> {
        self.page(TreeId::Skips, &keys::campaign_prefix(campaign), request, false, "skip", keep)
    }

    /// A page of a campaign's dead letters, oldest first.
    pub fn dead_letters_page(
        &self,
        campaign: &str,
        request: &PageRequest,
        keep: impl Fn(&PendingSend) -> bool,
    ) -> Result<Page<PendingSend>, StorageError> {
        self.page(TreeId::DeadLetters, &keys::campaign_prefix(campaign), request, false, "dead letter", keep)
    }

    /// A page of the audit log, newest first.
    pub fn audit_page(
        &self,
        request: &PageRequest,
        keep: impl Fn(&AuditRecord) -> bool,
    ) -> Result<Page<AuditRecord>, StorageError> {
        self.page(TreeId::Audit, &[], request, true, "audit record", keep)
    }

    /// A page of every profile, in id order.
    pub fn profiles_page(
        &self,
        request: &PageRequest,
        keep: impl Fn(&Profile) -> bool,
    ) -> Result<Page<Profile>, StorageError> {
        self.page(TreeId::Profiles, &[], request, false, "profile", keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_past_every_key_with_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 255]), Some(vec![2]));
        assert_eq!(prefix_end(&[255, 255]), None);
        assert_eq!(prefix_end(&[]), None);
    }

    #[test]
    fn a_list_in_memory_pages_by_key() {
        let request =
            |after: Option<&str>, limit| PageRequest { after: after.map(|a| a.as_bytes().to_vec()), limit };
        let key = |s: &&str| s.as_bytes().to_vec();
        let items = vec!["c", "a", "d", "b"];
        let first = Page::of(items.clone(), key, &request(None, 3));
        assert_eq!(first.items, vec!["a", "b", "c"]);
        assert_eq!(first.next, Some(b"c".to_vec()));
        let second = Page::of(items.clone(), key, &request(Some("c"), 3));
        assert_eq!(second.items, vec!["d"]);
        assert_eq!(second.next, None);
        let exact = Page::of(items, key, &request(None, 4));
        assert_eq!((exact.items.len(), exact.next), (4, None));
    }
}
