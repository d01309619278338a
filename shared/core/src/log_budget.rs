//! A per-process budget for postback-log entries that nobody vouches for: postbacks with no key, a wrong one, or
//! the browser key (which anyone may hold).
//!
//! Anyone can send garbage to `POST /api/postback` at full speed; logging every piece would let them fill the
//! table and the bill. Each process logs at most [`LogBudget::per_second`] such entries a second and counts the
//! rest, reported in one line when the next second starts. Entries for the server and admin keys are always logged.

use std::sync::Mutex;

/// Unauthenticated refusals logged per second and process when not configured otherwise.
pub const DEFAULT_UNAUTHENTICATED_LOGS_PER_SECOND: u32 = 10;

/// What [`LogBudget::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Log it; `skipped` entries were dropped in earlier seconds since the last report (report them now).
    Log {
        /// Entries dropped since the last report.
        skipped: u64,
    },
    /// Over budget: counted, not logged.
    Skip,
}

/// The budget: `per_second` entries in each wall-clock second.
#[derive(Debug)]
pub struct LogBudget {
    per_second: u32,
    /// (second, entries admitted in it, entries skipped since the last report)
    state: Mutex<(i64, u32, u64)>,
}

impl LogBudget {
    /// A budget of `per_second` entries a second.
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second,
            state: Mutex::new((i64::MIN, 0, 0)),
        }
    }

    /// The entries admitted per second.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Decides for one entry at `second` (Unix seconds).
    pub fn admit(&self, second: i64) -> Admission {
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (current, used, skipped) = &mut *state;
        if *current != second {
            *current = second;
            *used = 0;
        }
        if *used < self.per_second {
            *used += 1;
            let reported = std::mem::take(skipped);
            Admission::Log { skipped: reported }
        } else {
            *skipped += 1;
            Admission::Skip
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_per_second_then_counts_and_reports_the_rest_once() {
        let budget = LogBudget::new(2);
        assert_eq!(budget.admit(100), Admission::Log { skipped: 0 });
        assert_eq!(budget.admit(100), Admission::Log { skipped: 0 });
        assert_eq!(budget.admit(100), Admission::Skip);
        assert_eq!(budget.admit(100), Admission::Skip);
        assert_eq!(
            budget.admit(101),
            Admission::Log { skipped: 2 },
            "the next second reports what was dropped"
        );
        assert_eq!(
            budget.admit(101),
            Admission::Log { skipped: 0 },
            "and only once"
        );
        assert_eq!(budget.admit(101), Admission::Skip);
        assert_eq!(budget.admit(250), Admission::Log { skipped: 1 });
    }

    #[test]
    fn a_zero_budget_logs_nothing() {
        let budget = LogBudget::new(0);
        assert_eq!(budget.admit(1), Admission::Skip);
        assert_eq!(budget.admit(2), Admission::Skip);
    }
}
