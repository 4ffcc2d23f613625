//! Live progress of an apply or destroy: on a terminal, a line per operation
//! with a spinner, its state and elapsed time; elsewhere, plain lines.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::plan::{Op, OpKind};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

fn verb(op: &Op) -> (&'static str, &'static str) {
    match (op.kind, op.replace) {
        (OpKind::Create, true) => ("re-creating", "re-created"),
        (OpKind::Create, false) => ("creating", "created"),
        (OpKind::Update, _) => ("updating", "updated"),
        (OpKind::Delete, true) => ("deleting (replace)", "deleted (replace)"),
        (OpKind::Delete, false) => ("deleting", "deleted"),
    }
}

/// Shows operations as they run.
pub struct Reporter {
    bars: Option<(MultiProgress, Mutex<BTreeMap<String, ProgressBar>>)>,
}

impl Reporter {
    pub fn new() -> Self {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Reporter { bars: tty.then(|| (MultiProgress::new(), Mutex::new(BTreeMap::new()))) }
    }

    /// Leaves the final state of every line on screen.
    pub fn finish(&self) {
        if let Some((multi, _)) = &self.bars {
            let _ = multi.clear();
        }
    }

    fn line(&self, text: String) {
        let mut err = anstream::stderr();
        let _ = writeln!(err, "{text}");
    }
}

impl crate::apply::Reporter for Reporter {
    fn started(&self, op: &Op) {
        let (doing, _) = verb(op);
        match &self.bars {
            Some((multi, bars)) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(op.resource.clone());
                bar.set_message(doing);
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.lock().unwrap_or_else(PoisonError::into_inner).insert(op.resource.clone(), bar);
            }
            None => self.line(format!("{}: {doing}...", op.resource)),
        }
    }

    fn status(&self, resource: &str, msg: &str) {
        match &self.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.lock().unwrap_or_else(PoisonError::into_inner).get(resource) {
                    bar.set_message(msg.to_string());
                }
            }
            None => self.line(format!("{resource}: {msg}")),
        }
    }

    fn finished(&self, op: &Op, elapsed: Duration) {
        let (_, done) = verb(op);
        let text = format!("{done} in {:.1}s", elapsed.as_secs_f64());
        match &self.bars {
            Some((multi, bars)) => {
                if let Some(bar) = bars.lock().unwrap_or_else(PoisonError::into_inner).remove(&op.resource) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let _ = multi.println(format!("\u{2713} {}: {text}", op.resource));
            }
            None => self.line(format!("{}: {text}", op.resource)),
        }
    }

    fn failed(&self, op: &Op, error: &str) {
        let (doing, _) = verb(op);
        let text = format!("{}: {doing} failed: {error}", op.resource);
        match &self.bars {
            Some((multi, bars)) => {
                if let Some(bar) = bars.lock().unwrap_or_else(PoisonError::into_inner).remove(&op.resource) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let _ = multi.println(format!("\u{2717} {text}"));
            }
            None => self.line(text),
        }
    }

    fn skipped(&self, op: &Op, because: &str) {
        let text = format!("{}: skipped, since {because} failed", op.resource);
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(format!("- {text}"));
            }
            None => self.line(text),
        }
    }
}
