//! Off-hours windows: `<IANA time zone> <cron>[; <cron>...]`, e.g.
//! `Europe/Berlin * 0-6,20-23 * * MON-FRI; * * * * SAT,SUN`. A minute is off-hours when any
//! of the cron expressions matches it on the zone's local clock, so the window follows
//! daylight-saving changes. chrono-tz carries the tz database; croner evaluates the cron.

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct OffHours {
    pub zone: Tz,
    crons: Vec<Cron>,
    /// As written, for reports.
    pub text: String,
}

impl PartialEq for OffHours {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// What the tag or setting says: a window, or `none` to switch the deployment's default off.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleSetting {
    Window(OffHours),
    Disabled,
}

pub const FORMAT: &str = "`<IANA time zone> <cron>[; <cron>...]` (5-field cron, local time), or `none`";

impl ScheduleSetting {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(Self::Disabled);
        }
        let (zone, crons) = text.split_once(char::is_whitespace).ok_or_else(|| format!("expected {FORMAT}"))?;
        let zone = Tz::from_str(zone).map_err(|_| format!("{zone:?} is not an IANA time zone name"))?;
        let crons = crons
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                if c.split_whitespace().count() != 5 {
                    return Err(format!("{c:?}: expected 5 cron fields (minute hour day-of-month month day-of-week)"));
                }
                Cron::from_str(c).map_err(|e| format!("{c:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if crons.is_empty() {
            return Err(format!("no cron expression after the time zone: expected {FORMAT}"));
        }
        Ok(Self::Window(OffHours { zone, crons, text: text.to_owned() }))
    }
}

impl OffHours {
    /// Whether `at` falls in the off-hours window, judged on the zone's local clock. A cron
    /// expression names whole minutes, so every instant of a matching minute is in the window
    /// (a scheduled run never starts on the second).
    pub fn is_off_hours(&self, at: DateTime<Utc>) -> bool {
        let minute = at.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(at);
        let local = minute.with_timezone(&self.zone);
        self.crons.iter().any(|cron| cron.is_time_matching(&local).unwrap_or(false))
    }

    /// Average off-hours per day over a week: what one unit of capacity held at the floor
    /// saves per day.
    pub fn hours_per_day(&self) -> f64 {
        // A week of minutes from a fixed Monday; a DST week would differ by an hour at most.
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).single().expect("valid date");
        let minutes = (0..7 * 24 * 60).filter(|m| self.is_off_hours(start + Duration::minutes(*m))).count();
        minutes as f64 / 60.0 / 7.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(text: &str) -> OffHours {
        match ScheduleSetting::parse(text).unwrap() {
            ScheduleSetting::Window(w) => w,
            ScheduleSetting::Disabled => panic!("disabled"),
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn evenings_in_berlin_follow_daylight_saving() {
        let w = window("Europe/Berlin * 0-7,20-23 * * *");
        // Saturday 28 March 2027, CET (UTC+1): 19:30 local is working time, 20:30 is not.
        assert!(!w.is_off_hours(utc("2027-03-27T18:30:00Z")));
        assert!(w.is_off_hours(utc("2027-03-27T19:30:00Z")));
        // Sunday 28 March 2027 clocks go to CEST (UTC+2): 06:30Z is 08:30 local, back in hours,
        // where a fixed UTC+1 offset would still say 07:30 (off).
        assert!(w.is_off_hours(utc("2027-03-28T05:30:00Z")));
        assert!(!w.is_off_hours(utc("2027-03-28T06:30:00Z")));
        // And 20:00 local is now 18:00Z.
        assert!(w.is_off_hours(utc("2027-03-28T18:30:00Z")));
    }

    #[test]
    fn several_expressions_and_weekends() {
        let w = window("America/New_York * 0-8,18-23 * * MON-FRI; * * * * SAT,SUN");
        assert!(w.is_off_hours(utc("2026-11-21T17:00:00Z")), "Saturday noon");
        assert!(!w.is_off_hours(utc("2026-11-23T17:00:00Z")), "Monday noon");
        assert!(w.is_off_hours(utc("2026-11-23T23:30:00Z")), "Monday 18:30 local");
        // 5 weekdays x 15 h + 2 x 24 h over 7 days.
        assert!((w.hours_per_day() - (5.0 * 15.0 + 48.0) / 7.0).abs() < 1e-9, "{}", w.hours_per_day());
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(ScheduleSetting::parse("Mars/Olympus * * * * *").unwrap_err().contains("Mars/Olympus"));
        assert!(ScheduleSetting::parse("UTC * 25 * * *").unwrap_err().contains("* 25 * * *"));
        assert!(ScheduleSetting::parse("UTC 0 20 * *").unwrap_err().contains("5 cron fields"));
        assert!(ScheduleSetting::parse("UTC").is_err());
        assert_eq!(ScheduleSetting::parse("None").unwrap(), ScheduleSetting::Disabled);
    }

    #[test]
    fn every_instant_of_a_matching_minute_is_in_the_window() {
        let ScheduleSetting::Window(w) = ScheduleSetting::parse("UTC * 20-23 * * *").unwrap() else { panic!() };
        let evening = Utc.with_ymd_and_hms(2026, 11, 23, 21, 0, 0).unwrap();
        for offset in [0, 1, 37, 59] {
            let at = evening + Duration::seconds(offset) + Duration::milliseconds(250);
            assert!(w.is_off_hours(at), "21:00:{offset:02}.25 is off-hours");
        }
        assert!(!w.is_off_hours(Utc.with_ymd_and_hms(2026, 11, 23, 19, 59, 59).unwrap()));
        assert!(w.is_off_hours(Utc.with_ymd_and_hms(2026, 11, 23, 23, 59, 59).unwrap()));
    }
}
