//! The recency order of the ids held in both tables (least recently seen first), as a doubly
//! linked list threaded through the slots: moving an id to the back, taking one out and finding
//! the oldest are O(1) (a `BTreeMap` from tick to slot cost four tree updates an event).
//! Derived state: rebuilt from the slots' ticks after a restore, never in a snapshot.

use crate::table::Kind;

/// No node.
const NIL: u32 = u32::MAX;

/// The list; node `2 * slot` is a user slot, `2 * slot + 1` an item slot.
#[derive(Debug, Clone)]
pub struct Recency {
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
}

impl Default for Recency {
    fn default() -> Self {
        Self { prev: Vec::new(), next: Vec::new(), head: NIL, tail: NIL }
    }
}

fn node(kind: Kind, slot: u32) -> u32 {
    2 * slot + u32::from(kind == Kind::Item)
}

fn id(node: u32) -> (Kind, u32) {
    (if node % 2 == 1 { Kind::Item } else { Kind::User }, node / 2)
}

impl Recency {
    /// The least recently seen id.
    pub fn front(&self) -> Option<(Kind, u32)> {
        (self.head != NIL).then(|| id(self.head))
    }

    /// Puts an id that is not in the list at the back (the most recent).
    pub fn push_back(&mut self, kind: Kind, slot: u32) {
        let n = node(kind, slot);
        let need = n as usize + 1;
        if self.prev.len() < need {
            self.prev.resize(need, NIL);
            self.next.resize(need, NIL);
        }
        self.prev[n as usize] = self.tail;
        self.next[n as usize] = NIL;
        if self.tail == NIL {
            self.head = n;
        } else {
            self.next[self.tail as usize] = n;
        }
        self.tail = n;
    }

    /// Takes an id in the list out of it.
    pub fn remove(&mut self, kind: Kind, slot: u32) {
        let n = node(kind, slot) as usize;
        let (p, x) = (self.prev[n], self.next[n]);
        if p == NIL {
            self.head = x;
        } else {
            self.next[p as usize] = x;
        }
        if x == NIL {
            self.tail = p;
        } else {
            self.prev[x as usize] = p;
        }
        self.prev[n] = NIL;
        self.next[n] = NIL;
    }

    /// Empties the list.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The ids from the oldest to the most recent.
    #[cfg(test)]
    fn order(&self) -> Vec<(Kind, u32)> {
        let mut v = Vec::new();
        let mut n = self.head;
        while n != NIL {
            v.push(id(n));
            n = self.next[n as usize];
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_move_to_the_back_and_leave_from_anywhere() {
        let mut r = Recency::default();
        assert_eq!(r.front(), None);
        r.push_back(Kind::User, 3);
        r.push_back(Kind::Item, 3);
        r.push_back(Kind::User, 0);
        assert_eq!(r.order(), [(Kind::User, 3), (Kind::Item, 3), (Kind::User, 0)]);
        // A sighting: out, then at the back.
        r.remove(Kind::User, 3);
        r.push_back(Kind::User, 3);
        assert_eq!(r.front(), Some((Kind::Item, 3)));
        r.remove(Kind::User, 0);
        assert_eq!(r.order(), [(Kind::Item, 3), (Kind::User, 3)]);
        r.remove(Kind::User, 3);
        r.remove(Kind::Item, 3);
        assert_eq!((r.front(), r.order()), (None, vec![]));
        r.push_back(Kind::Item, 7);
        assert_eq!(r.order(), [(Kind::Item, 7)]);
    }
}
