//! A value a process keeps for a while instead of reading it from the store on every request (the exchange
//! rates, the privacy state).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last value read and when; empty until the first [`TtlCache::keep`].
#[derive(Debug)]
pub struct TtlCache<T>(Mutex<Option<(Instant, Arc<T>)>>);

impl<T> Default for TtlCache<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T> TtlCache<T> {
    /// The kept value while it is younger than `ttl` says for it.
    pub fn fresh(&self, ttl: impl Fn(&T) -> Duration) -> Option<Arc<T>> {
        let slot = self.0.lock().ok()?;
        slot.as_ref()
            .filter(|(at, value)| at.elapsed() < ttl(value))
            .map(|(_, value)| Arc::clone(value))
    }

    /// Keeps `value`, read now.
    pub fn keep(&self, value: &Arc<T>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((Instant::now(), Arc::clone(value)));
        }
    }

    /// Drops the kept value: the next read goes to the store.
    pub fn forget(&self) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_fresh_for_its_ttl_and_gone_once_forgotten() {
        let cache = TtlCache::default();
        assert!(cache.fresh(|_: &u32| Duration::from_secs(60)).is_none());
        cache.keep(&Arc::new(7u32));
        assert_eq!(
            cache.fresh(|_| Duration::from_secs(60)).as_deref(),
            Some(&7)
        );
        assert!(
            cache.fresh(|_| Duration::ZERO).is_none(),
            "older than a zero TTL"
        );
        assert!(cache
            .fresh(|v| if *v == 7 {
                Duration::ZERO
            } else {
                Duration::MAX
            })
            .is_none());
        cache.forget();
        assert!(cache.fresh(|_| Duration::from_secs(60)).is_none());
    }
}
