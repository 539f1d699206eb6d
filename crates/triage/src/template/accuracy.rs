//! Grouping accuracy, the usual score of a template miner.

use std::collections::HashMap;
use std::hash::Hash;

/// Share of messages whose predicted group holds exactly the same messages as their true group.
///
/// `predicted[i]` and `truth[i]` are the group labels of message `i` (a template id and the
/// labelled event id, say); labels are only compared for equality, so the two sides need not
/// use the same kind of label. A message counts as correct when the set of messages sharing its
/// predicted label is the set sharing its true label. Empty input scores 1.0.
///
/// ```
/// use switchyard_triage::template::grouping_accuracy;
/// // Group {0, 1} is right; 2 and 3 belong together but were split.
/// let ga = grouping_accuracy(&[7, 7, 8, 9], &["a", "a", "b", "b"]);
/// assert_eq!(ga, 0.5);
/// ```
///
/// # Panics
/// If the two slices differ in length.
pub fn grouping_accuracy<P: Eq + Hash, T: Eq + Hash>(predicted: &[P], truth: &[T]) -> f64 {
    assert_eq!(
        predicted.len(),
        truth.len(),
        "grouping_accuracy: one label per message on each side"
    );
    if predicted.is_empty() {
        return 1.0;
    }
    // A predicted group is exactly a true group when all its messages share one true label and
    // that label has no other messages: its size equals both group sizes and the pair's count.
    let mut pred_size: HashMap<&P, usize> = HashMap::new();
    let mut true_size: HashMap<&T, usize> = HashMap::new();
    let mut pair_size: HashMap<(&P, &T), usize> = HashMap::new();
    for (p, t) in predicted.iter().zip(truth) {
        *pred_size.entry(p).or_default() += 1;
        *true_size.entry(t).or_default() += 1;
        *pair_size.entry((p, t)).or_default() += 1;
    }
    let correct: usize = pair_size
        .iter()
        .filter(|&(&(p, t), &n)| pred_size[p] == n && true_size[t] == n)
        .map(|(_, &n)| n)
        .sum();
    correct as f64 / predicted.len() as f64
}

#[cfg(test)]
mod tests {
    use super::grouping_accuracy;

    #[test]
    fn identical_groupings_score_one() {
        assert_eq!(grouping_accuracy(&[1, 1, 2], &["x", "x", "y"]), 1.0);
        assert_eq!(grouping_accuracy::<u32, u32>(&[], &[]), 1.0);
    }

    #[test]
    fn labels_need_not_match_only_groups() {
        assert_eq!(grouping_accuracy(&[5, 5, 9, 9], &[0, 0, 1, 1]), 1.0);
    }

    #[test]
    fn merged_groups_are_all_wrong() {
        // Predicted one group where there are two: nothing is right.
        assert_eq!(grouping_accuracy(&[1, 1, 1, 1], &["a", "a", "b", "b"]), 0.0);
    }

    #[test]
    fn split_groups_are_all_wrong() {
        // "a" was split in two; "b" is right.
        assert_eq!(
            grouping_accuracy(&[1, 2, 3, 3, 3], &["a", "a", "b", "b", "b"]),
            0.6
        );
    }

    #[test]
    fn one_extra_message_spoils_a_group() {
        assert_eq!(grouping_accuracy(&[1, 1, 1, 2], &["a", "a", "b", "b"]), 0.0);
        assert_eq!(
            grouping_accuracy(&[1, 1, 2, 2, 3], &["a", "a", "b", "b", "b"]),
            0.4
        );
    }

    #[test]
    #[should_panic(expected = "one label per message")]
    fn lengths_must_agree() {
        grouping_accuracy(&[1], &[1, 2]);
    }
}
