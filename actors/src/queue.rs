//! A tenant's delivery queue: which event goes next, in sequence order, with
//! a bounded window in memory and the rest paged in from the store. Pure
//! bookkeeping, tested without actors or a store.

use std::collections::VecDeque;

use crate::domain::{EventId, PendingEvent};

#[derive(Debug)]
pub struct DeliveryQueue {
    /// Undelivered events in sequence order, at most `window` of them (plus manual requeues).
    events: VecDeque<PendingEvent>,
    window: usize,
    /// The highest sequence number taken into the queue; paging resumes after it.
    high_water: i64,
    /// True when the store is known to hold nothing undelivered past `high_water`,
    /// so a newly committed event may join the queue directly.
    caught_up: bool,
}

impl DeliveryQueue {
    /// A queue that knows nothing yet: its first page comes from the store.
    pub fn new(window: usize) -> Self {
        Self {
            events: VecDeque::new(),
            window: window.max(1),
            high_water: 0,
            caught_up: false,
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The highest sequence number taken into the queue so far.
    pub fn high_water(&self) -> i64 {
        self.high_water
    }

    pub fn is_caught_up(&self) -> bool {
        self.caught_up
    }

    pub fn head(&self) -> Option<&PendingEvent> {
        self.events.front()
    }

    pub fn get_mut(&mut self, id: EventId) -> Option<&mut PendingEvent> {
        self.events.iter_mut().find(|e| e.id == id)
    }

    pub fn remove(&mut self, id: EventId) -> Option<PendingEvent> {
        let index = self.events.iter().position(|e| e.id == id)?;
        self.events.remove(index)
    }

    /// A newly committed event of this tenant (`deliverable` is `None` for an
    /// event that is not delivered, such as an ignored one). It joins the queue
    /// only when it is the very next sequence number, nothing is waiting in the
    /// store and the window has room. Anything else (a gap, say, left by a
    /// notification that went to an actor that has since stopped) sends the
    /// queue back to the store, which has everything in order.
    pub fn offer_committed(&mut self, seq: i64, deliverable: Option<PendingEvent>) {
        if seq <= self.high_water {
            return;
        }
        if !self.caught_up || seq != self.high_water + 1 {
            self.caught_up = false;
            return;
        }
        match deliverable {
            None => self.high_water = seq,
            Some(event) if self.events.len() < self.window => {
                self.high_water = seq;
                self.events.push_back(event);
            }
            Some(_) => self.caught_up = false,
        }
    }

    /// Whether the store should be read: something may be waiting there and
    /// the window has drained to half.
    pub fn wants_page(&self) -> bool {
        !self.caught_up && self.events.len() <= self.window / 2
    }

    /// `(after_seq, limit)` for the next page.
    pub fn next_page(&self) -> (i64, usize) {
        (
            self.high_water,
            self.window - self.events.len().min(self.window),
        )
    }

    /// Takes a page read with `next_page`'s `limit`; a short page means the store has no more.
    pub fn add_page(&mut self, page: Vec<PendingEvent>, limit: usize) {
        let short = page.len() < limit;
        for event in page {
            if event.seq > self.high_water && !self.events.iter().any(|e| e.id == event.id) {
                self.high_water = event.seq;
                self.events.push_back(event);
            }
        }
        self.caught_up = short;
    }

    /// Forget what was learned about the store, so the next pump rereads it.
    pub fn mark_stale(&mut self) {
        self.caught_up = false;
    }

    /// A failed event put back by hand: it takes its place by sequence number.
    pub fn requeue(&mut self, event: PendingEvent) {
        if self.events.iter().any(|e| e.id == event.id) {
            return;
        }
        let at = self.events.partition_point(|e| e.seq < event.seq);
        self.events.insert(at, event);
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn event(seq: i64) -> PendingEvent {
        PendingEvent {
            id: EventId(uuid::Uuid::from_u128(seq as u128)),
            seq,
            event_type: "t".into(),
            payload: "{}".into(),
            received_at: OffsetDateTime::UNIX_EPOCH,
            attempts: 0,
            round_attempts: 0,
            next_retry_at: None,
        }
    }

    fn seqs(queue: &DeliveryQueue) -> Vec<i64> {
        queue.events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_new_queue_reads_the_store_before_taking_committed_events() {
        let mut queue = DeliveryQueue::new(4);
        assert!(queue.wants_page());
        queue.offer_committed(3, Some(event(3)));
        assert!(queue.is_empty(), "older events may still be in the store");
        assert_eq!(queue.next_page(), (0, 4));
        queue.add_page(vec![event(1), event(2), event(3)], 4);
        assert!(queue.is_caught_up());
        queue.offer_committed(4, Some(event(4)));
        queue.offer_committed(4, Some(event(4)));
        assert_eq!(seqs(&queue), [1, 2, 3, 4]);
    }

    #[test]
    fn a_full_window_leaves_the_rest_in_the_store_until_it_drains() {
        let mut queue = DeliveryQueue::new(2);
        queue.add_page(vec![], 2);
        queue.offer_committed(1, Some(event(1)));
        queue.offer_committed(2, Some(event(2)));
        queue.offer_committed(3, Some(event(3)));
        assert_eq!(seqs(&queue), [1, 2]);
        assert!(!queue.wants_page(), "the window is still full");
        queue.remove(event(1).id);
        assert!(queue.wants_page());
        assert_eq!(queue.next_page(), (2, 1));
        queue.add_page(vec![event(3)], 1);
        assert!(!queue.is_caught_up(), "a full page may have more behind it");
        assert_eq!(seqs(&queue), [2, 3]);
    }

    #[test]
    fn requeued_events_take_their_place_by_sequence() {
        let mut queue = DeliveryQueue::new(8);
        queue.add_page(vec![event(5), event(9)], 8);
        queue.requeue(event(2));
        queue.requeue(event(7));
        queue.requeue(event(7));
        assert_eq!(seqs(&queue), [2, 5, 7, 9]);
        assert_eq!(queue.head().unwrap().seq, 2);
    }

    #[test]
    fn pages_never_duplicate_what_is_queued() {
        let mut queue = DeliveryQueue::new(8);
        queue.add_page(vec![event(1), event(2)], 8);
        queue.mark_stale();
        queue.add_page(vec![event(2), event(3)], 8);
        assert_eq!(seqs(&queue), [1, 2, 3]);
    }

    #[test]
    fn a_gap_in_sequence_numbers_sends_the_queue_back_to_the_store() {
        let mut queue = DeliveryQueue::new(8);
        queue.add_page(vec![], 8);
        queue.offer_committed(1, Some(event(1)));
        queue.offer_committed(2, None);
        queue.offer_committed(3, Some(event(3)));
        assert_eq!(seqs(&queue), [1, 3], "an ignored event advances the count");
        assert!(queue.is_caught_up());
        // Number 4 was committed but its notice went elsewhere: 5 must not overtake it.
        queue.offer_committed(5, Some(event(5)));
        assert_eq!(seqs(&queue), [1, 3]);
        assert!(queue.wants_page());
        assert_eq!(queue.next_page(), (3, 6));
        queue.add_page(vec![event(4), event(5)], 6);
        assert_eq!(seqs(&queue), [1, 3, 4, 5]);
        assert!(queue.is_caught_up());
    }
}
