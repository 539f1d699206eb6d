//! Choosing the template miner's rules by leave-one-dataset-out over the twelve LogHub 2k
//! samples, so that the reported accuracy is that of datasets the rules were not chosen on.
//!
//! The selection starts from [`Rules::bare`] (Drain with numbers masked) and goes over the
//! switches in a fixed order, a few passes: a switch takes the value that gives the best
//! average grouping accuracy over the training datasets, and only if that raises the average;
//! at the end, a switch whose bare value does as well goes back to it.
//! For each dataset, the rules are chosen on the other eleven and the dataset is scored with
//! them (held out); the rules chosen on all twelve must be [`Rules::default`], and their
//! scores are the in-sample ones. The test prints both per dataset, the rules each fold
//! chose where they differ from the defaults, and what each default rule is worth (the
//! average with each switch changed from the defaults, per dataset). It fails if the defaults
//! are not what the selection chooses, or if the held-out average falls below 0.94 (it says
//! whether the goal of 0.92 is met).
//!
//! Run: `cargo test -p switchyard-triage --release --test integration loghub_loo -- --ignored --nocapture`

use std::collections::HashMap;

use switchyard_triage::template::{grouping_accuracy, NameCues, Rules, TemplateMiner};

use crate::loghub_ga::{data_dir, load, Sample, DATASETS};

/// The held-out average the rules are meant to reach.
const HELD_OUT_GOAL: f64 = 0.92;
/// Below this the test fails: a change to the rules made them generalise worse than they did
/// when the selection was last run (0.9444).
const HELD_OUT_FLOOR: f64 = 0.94;
/// Passes over the switches; a later pass lets a switch that only helps with another one on
/// (names after `words_split_events`) come in.
const PASSES: usize = 3;

/// Sets one switch to one of its values.
type Setter = Box<dyn Fn(&mut Rules)>;

/// One switch and the values it may take, the bare value first.
struct Switch {
    name: &'static str,
    values: Vec<(String, Setter)>,
}

fn switch<T: Copy + std::fmt::Debug + 'static>(
    name: &'static str,
    set: fn(&mut Rules, T),
    values: &[T],
) -> Switch {
    let values = values
        .iter()
        .map(|&v| {
            (
                format!("{v:?}"),
                Box::new(move |r: &mut Rules| set(r, v)) as Setter,
            )
        })
        .collect();
    Switch { name, values }
}

fn switches() -> Vec<Switch> {
    let flag = [false, true];
    vec![
        switch(
            "route_by_first_token",
            |r, v| r.route_by_first_token = v,
            &flag,
        ),
        switch("words_split_events", |r, v| r.words_split_events = v, &flag),
        switch(
            "name_cues",
            |r, v| r.name_cues = v,
            &[NameCues::Off, NameCues::Words, NameCues::WordsAndKeys],
        ),
        switch(
            "position_variety",
            |r, v| r.position_variety = v,
            &[None, Some(2), Some(3), Some(4), Some(6), Some(10), Some(20)],
        ),
        switch("mask_date_words", |r, v| r.mask_date_words = v, &flag),
        switch("units_join_values", |r, v| r.units_join_values = v, &flag),
        switch(
            "keep_word_before_number",
            |r, v| r.keep_word_before_number = v,
            &flag,
        ),
        switch("collapse_repeats", |r, v| r.collapse_repeats = v, &flag),
        switch(
            "whole_token_variables",
            |r, v| r.whole_token_variables = v,
            &flag,
        ),
        switch(
            "similarity",
            |r, v| r.similarity = v,
            &[0.5, 0.3, 0.4, 0.6, 0.7],
        ),
    ]
}

/// Grouping accuracy of every dataset under some rules, computed once per set of rules.
struct Scores {
    samples: Vec<Sample>,
    cache: HashMap<String, Vec<f64>>,
}

impl Scores {
    fn of(&mut self, rules: &Rules) -> &[f64] {
        let samples = &self.samples;
        self.cache.entry(format!("{rules:?}")).or_insert_with(|| {
            samples
                .iter()
                .map(|s| {
                    let mut miner = TemplateMiner::with_rules(*rules);
                    let ids: Vec<u32> = s.contents.iter().map(|c| miner.add(c)).collect();
                    grouping_accuracy(&ids, &s.events)
                })
                .collect()
        })
    }

    /// Average over the datasets `train` holds.
    fn average(&mut self, rules: &Rules, train: &[usize]) -> f64 {
        let ga = self.of(rules);
        train.iter().map(|&d| ga[d]).sum::<f64>() / train.len() as f64
    }
}

/// Forward selection from the bare rules on the datasets in `train`.
fn select(scores: &mut Scores, switches: &[Switch], train: &[usize]) -> Rules {
    let mut rules = Rules::bare();
    let mut best = scores.average(&rules, train);
    for _ in 0..PASSES {
        let mut changed = false;
        for sw in switches {
            let mut pick = None;
            for (_, set) in &sw.values {
                let mut candidate = rules;
                set(&mut candidate);
                let avg = scores.average(&candidate, train);
                if avg > best + 1e-9 {
                    best = avg;
                    pick = Some(candidate);
                }
            }
            if let Some(p) = pick {
                rules = p;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // A switch that no longer raises the average once the others are chosen goes back to its
    // bare value.
    for sw in switches {
        let mut bare = rules;
        (sw.values[0].1)(&mut bare);
        if bare != rules && scores.average(&bare, train) >= best - 1e-9 {
            best = scores.average(&bare, train);
            rules = bare;
        }
    }
    rules
}

/// The label of the value `rules` holds for `sw`: the one setting which changes nothing.
fn value_of<'s>(rules: &Rules, sw: &'s Switch) -> &'s str {
    sw.values
        .iter()
        .find(|(_, set)| {
            let mut r = *rules;
            set(&mut r);
            r == *rules
        })
        .map_or("?", |(label, _)| label)
}

/// The switches on which `rules` differ from `base`, as `name=value`.
fn differences(rules: &Rules, base: &Rules, switches: &[Switch]) -> String {
    let out: Vec<String> = switches
        .iter()
        .filter(|sw| value_of(rules, sw) != value_of(base, sw))
        .map(|sw| format!("{}={}", sw.name, value_of(rules, sw)))
        .collect();
    if out.is_empty() {
        "-".into()
    } else {
        out.join(", ")
    }
}

/// Per dataset, the grouping accuracy of `base` with each switch set to each other value.
fn worth(scores: &mut Scores, switches: &[Switch], base: &Rules) -> String {
    let mut out = format!(
        "\nEach switch changed from the defaults (GA per dataset, then the average):\n{:<32}",
        ""
    );
    for name in DATASETS {
        out += &format!(" {:>6.6}", name);
    }
    out += "    avg\n";
    let mut row = |label: String, ga: &[f64]| {
        out += &format!("{label:<32}");
        for g in ga {
            out += &format!(" {g:>6.3}");
        }
        out += &format!(" {:>6.4}\n", ga.iter().sum::<f64>() / ga.len() as f64);
    };
    row("defaults".into(), scores.of(base));
    for sw in switches {
        for (label, set) in &sw.values {
            let mut r = *base;
            set(&mut r);
            if r != *base {
                row(format!("{}={label}", sw.name), scores.of(&r));
            }
        }
    }
    out
}

#[test]
#[ignore = "selection over hundreds of rule sets; run in release with --ignored"]
fn loghub_leave_one_dataset_out() {
    let dir = data_dir();
    let samples: Vec<Sample> = DATASETS.iter().map(|n| load(&dir, n)).collect();
    let mut scores = Scores {
        samples,
        cache: HashMap::new(),
    };
    let switches = switches();
    let all: Vec<usize> = (0..DATASETS.len()).collect();

    let chosen = select(&mut scores, &switches, &all);
    let in_sample = scores.of(&chosen).to_vec();
    let mut table = format!(
        "{:<10} {:>9} {:>9}  rules of the fold, where they differ from the defaults\n",
        "dataset", "in-sample", "held-out"
    );
    let mut held_out = Vec::new();
    for (d, name) in DATASETS.iter().enumerate() {
        let train: Vec<usize> = all.iter().copied().filter(|&i| i != d).collect();
        let fold = select(&mut scores, &switches, &train);
        let ga = scores.of(&fold)[d];
        held_out.push(ga);
        table += &format!(
            "{name:<10} {:>9.4} {ga:>9.4}  {}\n",
            in_sample[d],
            differences(&fold, &chosen, &switches)
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (in_avg, out_avg) = (mean(&in_sample), mean(&held_out));
    table += &format!("{:<10} {in_avg:>9.4} {out_avg:>9.4}\n", "average");
    table += &format!(
        "\nbare rules (Drain, numbers masked): average {:.4}\n",
        mean(scores.of(&Rules::bare()))
    );
    print!(
        "\nLeave-one-dataset-out over the LogHub 2k samples ({} rule sets scored):\n{table}",
        scores.cache.len()
    );
    println!("chosen on all twelve: {chosen:?}");
    print!("{}", worth(&mut scores, &switches, &chosen));
    assert_eq!(
        chosen,
        Rules::default(),
        "the defaults must be the rules the selection chooses on all twelve datasets"
    );
    println!(
        "held-out average {out_avg:.4}: goal {HELD_OUT_GOAL} {}",
        if out_avg >= HELD_OUT_GOAL {
            "met"
        } else {
            "missed"
        }
    );
    assert!(
        out_avg >= HELD_OUT_FLOOR,
        "held-out average grouping accuracy {out_avg:.4} is below {HELD_OUT_FLOOR}"
    );
}
