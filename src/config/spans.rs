//! Where each part of a stack came from: a map from a model [`Path`] to the byte
//! ranges of its key and its value in the file. Only an error shows a span, so
//! a stack file is first built with recording off ([`Spans::off`]), and built
//! again with it on only when it fails to validate.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::model::Path;

#[derive(Debug, Default)]
pub struct Spans {
    off: bool,
    entries: BTreeMap<Path, Entry>,
}

#[derive(Debug)]
struct Entry {
    key: Option<Range<usize>>,
    value: Range<usize>,
}

impl Spans {
    /// Spans that record nothing.
    pub fn off() -> Spans {
        Spans { off: true, entries: BTreeMap::new() }
    }

    pub fn record(&mut self, path: &Path, key: Option<Range<usize>>, value: Range<usize>) {
        if !self.off {
            self.entries.insert(path.clone(), Entry { key, value });
        }
    }

    /// The span of `path`'s value or, when `at_key`, of its key; for a path that was
    /// not recorded (a part of a value substituted from `[config]`), the span of its
    /// longest recorded prefix's value.
    pub fn find(&self, path: &Path, at_key: bool) -> Option<Range<usize>> {
        (0..=path.0.len()).rev().find_map(|n| {
            let entry = self.entries.get(&Path(path.0[..n].to_vec()))?;
            match &entry.key {
                Some(key) if at_key && n == path.0.len() => Some(key.clone()),
                _ => Some(entry.value.clone()),
            }
        })
    }

    /// The smallest value recorded inside `path` (not at it) whose span is `wanted`.
    pub fn find_inside(&self, path: &Path, wanted: impl Fn(&Range<usize>) -> bool) -> Option<Range<usize>> {
        self.entries
            .range(path.clone()..)
            .take_while(|(p, _)| p.0.starts_with(&path.0))
            .filter(|(p, e)| p.0.len() > path.0.len() && wanted(&e.value))
            .map(|(_, e)| e.value.clone())
            .min_by_key(|span| (span.len(), span.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unrecorded_path_falls_back_to_its_longest_recorded_prefix() {
        let mut spans = Spans::default();
        let res = Path::root().key("resources").key("sg");
        spans.record(&res, Some(1..3), 0..10);
        spans.record(&res.key("ingress"), Some(11..18), 21..40);
        assert_eq!(spans.find(&res.key("ingress").index(3).key("cidrs"), false), Some(21..40));
        assert_eq!(spans.find(&res.key("ingress"), true), Some(11..18));
        assert_eq!(spans.find(&res.key("ingress").index(0), true), Some(21..40));
        assert_eq!(spans.find(&Path::root().key("outputs"), false), None);
        spans.record(&res.key("ingress").index(0), None, 22..30);
        spans.record(&res.key("ingress").index(1), None, 31..39);
        spans.record(&res.key("ingress_x"), None, 41..45);
        let inside = |wanted: usize| spans.find_inside(&res.key("ingress"), |s| s.contains(&wanted));
        assert_eq!((inside(32), inside(21), inside(42)), (Some(31..39), None, None));
    }

    #[test]
    fn spans_that_are_off_find_nothing() {
        let mut spans = Spans::off();
        let res = Path::root().key("resources").key("sg");
        spans.record(&res, Some(1..3), 0..10);
        assert_eq!(spans.find(&res, true), None);
    }
}
