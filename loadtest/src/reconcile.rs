//! Sets what the server acknowledged against what the sink received: every
//! event answered 200 must arrive, once, and each tenant's events in
//! sequence order.

use std::collections::{HashMap, HashSet};

use hdrhistogram::Histogram;

use crate::load::{Accepted, new_histogram};
use crate::payload::OrderId;
use crate::sink::Arrival;

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    /// Distinct events the sink accepted.
    pub delivered: u64,
    /// Answered 200 and never delivered.
    pub lost: u64,
    /// Deliveries of an event the sink already had (at-least-once allows them around crashes).
    pub duplicated: u64,
    /// First deliveries whose sequence number is below one the tenant already delivered.
    pub out_of_order: u64,
    /// One sequence number carried by two different orders of a tenant.
    pub sequence_reused: u64,
    /// Sequence numbers missing below a tenant's highest delivered one.
    pub sequence_gaps: u64,
    /// The eventId answered to the provider differs from the one delivered.
    pub mismatched_ids: u64,
    /// Accepted for a tenant whose endpoint was down on purpose (not expected to arrive).
    pub undeliverable: u64,
    /// Delivered although the provider never read an answer (cut connections, crashes).
    pub delivered_unacknowledged: u64,
}

impl Reconciliation {
    /// Whether nothing was lost, reordered, or mixed up.
    pub fn sound(&self) -> bool {
        self.lost == 0
            && self.out_of_order == 0
            && self.sequence_reused == 0
            && self.sequence_gaps == 0
            && self.mismatched_ids == 0
    }
}

struct First<'a> {
    arrival: &'a Arrival,
}

/// `arrivals` in the order the sink received them; tenants below
/// `down_tenants` were never expected to be delivered.
pub fn reconcile(
    accepted: &[Accepted],
    arrivals: &[Arrival],
    down_tenants: usize,
) -> (Reconciliation, Histogram<u64>) {
    let mut result = Reconciliation::default();
    let mut first: HashMap<OrderId, First<'_>> = HashMap::with_capacity(arrivals.len());
    let mut highest: HashMap<usize, i64> = HashMap::new();
    let mut sequences: HashMap<usize, HashSet<i64>> = HashMap::new();
    for arrival in arrivals {
        let tenant = arrival.order.tenant;
        if first.contains_key(&arrival.order) {
            result.duplicated += 1;
            continue;
        }
        first.insert(arrival.order, First { arrival });
        let top = highest.entry(tenant).or_insert(i64::MIN);
        if arrival.sequence < *top {
            result.out_of_order += 1;
        }
        *top = (*top).max(arrival.sequence);
        if !sequences
            .entry(tenant)
            .or_default()
            .insert(arrival.sequence)
        {
            result.sequence_reused += 1;
        }
    }
    result.delivered = first.len() as u64;
    result.sequence_gaps = sequences
        .values()
        .map(|seen| {
            let lowest = seen.iter().min().copied().unwrap_or(1).min(1);
            let top = seen.iter().max().copied().unwrap_or(0);
            (top - lowest + 1).max(0) as u64 - seen.len() as u64
        })
        .sum();

    let mut e2e = new_histogram();
    let mut acknowledged_and_delivered = 0;
    for event in accepted {
        if event.order.tenant < down_tenants {
            result.undeliverable += 1;
            continue;
        }
        match first.get(&event.order) {
            None => result.lost += 1,
            Some(First { arrival }) => {
                acknowledged_and_delivered += 1;
                if arrival.event_id != event.event_id {
                    result.mismatched_ids += 1;
                }
                let us = arrival
                    .at
                    .saturating_duration_since(event.sent_at)
                    .as_micros() as u64;
                e2e.saturating_record(us.max(1));
            }
        }
    }
    result.delivered_unacknowledged = result.delivered - acknowledged_and_delivered;
    (result, e2e)
}

/// How many acknowledged events of tenants expected up have not arrived yet.
pub fn outstanding(
    accepted: &[Accepted],
    delivered: &HashSet<OrderId>,
    down_tenants: usize,
) -> usize {
    accepted
        .iter()
        .filter(|event| event.order.tenant >= down_tenants && !delivered.contains(&event.order))
        .count()
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    fn order(tenant: usize, n: u64) -> OrderId {
        OrderId { run: 1, tenant, n }
    }

    fn accepted(tenant: usize, n: u64) -> Accepted {
        Accepted {
            order: order(tenant, n),
            event_id: format!("e{tenant}-{n}"),
            sent_at: Instant::now(),
        }
    }

    fn arrival(tenant: usize, n: u64, sequence: i64) -> Arrival {
        Arrival {
            order: order(tenant, n),
            event_id: format!("e{tenant}-{n}"),
            sequence,
            at: Instant::now(),
        }
    }

    #[test]
    fn a_clean_run_is_sound() {
        let sent = [accepted(0, 0), accepted(1, 1), accepted(0, 2)];
        let got = [arrival(0, 0, 1), arrival(1, 1, 1), arrival(0, 2, 2)];
        let (result, e2e) = reconcile(&sent, &got, 0);
        assert!(result.sound(), "{result:?}");
        assert_eq!(result.delivered, 3);
        assert_eq!(e2e.len(), 3);
    }

    #[test]
    fn counts_lost_duplicated_and_out_of_order_separately() {
        let sent = [
            accepted(0, 0),
            accepted(0, 1),
            accepted(0, 2),
            accepted(0, 3),
        ];
        let got = [
            arrival(0, 0, 1),
            arrival(0, 2, 3),
            arrival(0, 1, 2),
            arrival(0, 0, 1),
        ];
        let (result, _) = reconcile(&sent, &got, 0);
        assert_eq!(result.lost, 1, "order 3 never came");
        assert_eq!(result.duplicated, 1);
        assert_eq!(result.out_of_order, 1, "seq 2 after seq 3");
        assert!(!result.sound());
    }

    #[test]
    fn finds_gaps_reused_sequences_and_wrong_ids() {
        let sent = [accepted(0, 0), accepted(0, 1)];
        let mut wrong = arrival(0, 1, 3);
        wrong.event_id = "other".into();
        let (result, _) = reconcile(&sent, &[arrival(0, 0, 1), wrong], 0);
        assert_eq!(result.sequence_gaps, 1, "2 is missing");
        assert_eq!(result.mismatched_ids, 1);
        let (reused, _) = reconcile(&sent, &[arrival(0, 0, 1), arrival(0, 1, 1)], 0);
        assert_eq!(reused.sequence_reused, 1);
    }

    #[test]
    fn down_tenants_and_unacknowledged_deliveries_are_reported_not_failed() {
        let sent = [accepted(0, 0), accepted(1, 1)];
        let got = [arrival(1, 1, 1), arrival(1, 5, 2)];
        let (result, _) = reconcile(&sent, &got, 1);
        assert_eq!(result.undeliverable, 1);
        assert_eq!(result.delivered_unacknowledged, 1);
        assert!(result.sound(), "{result:?}");
    }
}
