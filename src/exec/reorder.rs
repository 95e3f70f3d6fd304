//! The reorder buffer: rows finish in any order on N workers, reports list them in input
//! order. Each row has a sequence number (its place in the input); a finished row waits
//! here until every row before it has finished or is known never to finish (a run that
//! stops leaves rows undone), then goes on in order.

use std::collections::VecDeque;

/// One sequence number's state.
enum Slot<T> {
    /// Handed out, not back yet.
    Waiting,
    Ready(T),
    /// Will never come (stopped or interrupted before it ran): nothing to wait for.
    Gone,
}

pub struct Reorder<T> {
    /// The sequence number of `slots[0]`: everything before it has been released.
    next: u64,
    slots: VecDeque<Slot<T>>,
    /// Finished rows held at once, at most (for the run's statistics and tests).
    peak: usize,
    held: usize,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            next: 0,
            slots: VecDeque::new(),
            peak: 0,
            held: 0,
        }
    }
}

impl<T> Reorder<T> {
    /// The first sequence number not released yet.
    pub fn next(&self) -> u64 {
        self.next
    }

    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Records what became of `seq` (`None`: it will never come), and releases every row
    /// that is now next in line to `out`, in order.
    pub fn put(&mut self, seq: u64, item: Option<T>, mut out: impl FnMut(T)) {
        let Some(at) = seq
            .checked_sub(self.next)
            .and_then(|d| usize::try_from(d).ok())
        else {
            // Released already: a sequence number cannot come back twice.
            return;
        };
        if self.slots.len() <= at {
            self.slots.resize_with(at + 1, || Slot::Waiting);
        }
        self.slots[at] = match item {
            Some(t) => {
                self.held += 1;
                self.peak = self.peak.max(self.held);
                Slot::Ready(t)
            }
            None => Slot::Gone,
        };
        while let Some(front) = self.slots.front() {
            if matches!(front, Slot::Waiting) {
                break;
            }
            if let Some(Slot::Ready(t)) = self.slots.pop_front() {
                self.held -= 1;
                out(t);
            }
            self.next += 1;
        }
    }

    /// At the end of a run: releases what is still held, in order, skipping the rows that
    /// never came back.
    pub fn drain(&mut self, mut out: impl FnMut(T)) {
        for slot in self.slots.drain(..) {
            if let Slot::Ready(t) = slot {
                out(t);
            }
            self.next += 1;
        }
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_released_in_order_and_gaps_do_not_block() {
        let mut r = Reorder::default();
        let mut out = Vec::new();
        r.put(2, Some("c"), |t| out.push(t));
        r.put(1, Some("b"), |t| out.push(t));
        assert!(out.is_empty(), "row 0 is still running");
        assert_eq!(r.peak(), 2);
        r.put(0, Some("a"), |t| out.push(t));
        assert_eq!(out, ["a", "b", "c"]);
        assert_eq!(r.next(), 3);
        // 3 never comes (the run stopped before it): 4 goes as soon as that is known.
        r.put(4, Some("e"), |t| out.push(t));
        r.put(3, None, |t| out.push(t));
        assert_eq!(out, ["a", "b", "c", "e"]);
        // 5 was handed out and never answered; 6 is released at the end.
        r.put(6, Some("g"), |t| out.push(t));
        r.drain(|t| out.push(t));
        assert_eq!(out, ["a", "b", "c", "e", "g"]);
        // A number already released is ignored.
        r.put(1, Some("again"), |t| out.push(t));
        assert_eq!(out.len(), 5);
    }
}
