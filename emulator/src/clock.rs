//! The emulator owns its clock: it runs with real time from an offset that the admin API can
//! move, or stands still when frozen, so tests can jump 180 days in one call.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone)]
pub struct EmulatorClock {
    offset: Duration,
    frozen_at: Option<DateTime<Utc>>,
}

impl Default for EmulatorClock {
    fn default() -> Self {
        Self { offset: Duration::zero(), frozen_at: None }
    }
}

impl EmulatorClock {
    pub fn now(&self) -> DateTime<Utc> {
        self.frozen_at.unwrap_or_else(|| Utc::now() + self.offset)
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_at.is_some()
    }

    /// Moves the clock forward; it never goes back (sessions and groups would un-happen).
    pub fn advance(&mut self, by: Duration) {
        let by = by.max(Duration::zero());
        match &mut self.frozen_at {
            Some(at) => *at += by,
            None => self.offset += by,
        }
    }

    pub fn set(&mut self, now: DateTime<Utc>) -> Result<(), String> {
        let current = self.now();
        if now < current {
            return Err(format!("the clock only moves forward: {now} is before the emulator's now {current}"));
        }
        match &mut self.frozen_at {
            Some(at) => *at = now,
            None => self.offset = now - Utc::now(),
        }
        Ok(())
    }

    pub fn freeze(&mut self, frozen: bool) {
        let now = self.now();
        if frozen {
            self.frozen_at = Some(now);
        } else {
            self.frozen_at = None;
            self.offset = now - Utc::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_told() {
        let mut clock = EmulatorClock::default();
        clock.freeze(true);
        let start = clock.now();
        clock.advance(Duration::days(180));
        assert_eq!(clock.now() - start, Duration::days(180));
        assert!(clock.set(start).is_err(), "going back is refused");
        clock.set(start + Duration::days(200)).unwrap();
        assert_eq!(clock.now() - start, Duration::days(200));
    }

    #[test]
    fn a_running_clock_keeps_its_offset() {
        let mut clock = EmulatorClock::default();
        clock.advance(Duration::days(1));
        let ahead = clock.now() - Utc::now();
        assert!(ahead > Duration::hours(23) && ahead <= Duration::days(1), "{ahead}");
    }
}
