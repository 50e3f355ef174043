//! aws-sdk-gameliftstreams types converted into the core's model. The SDK's `Unknown` enum variants become the model's explicit
//! `Unknown(name)` values through their wire names, so nothing new is lost or misread.

use aws_sdk_gameliftstreams::operation::get_application::GetApplicationOutput;
use aws_sdk_gameliftstreams::operation::get_stream_group::GetStreamGroupOutput;
use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionOutput;
use aws_sdk_gameliftstreams::types as sdk;
use chrono::{DateTime, Duration, Utc};
use watchdog_core::rules::SessionTimeouts;
use watchdog_core::{
    Application, ApplicationRef, ApplicationStatus, Capacity, Location, LocationStatus, StreamClass, StreamGroup,
    StreamGroupStatus, StreamGroupStatusReason, StreamSession, StreamSessionStatus, StreamSessionStatusReason,
    StreamUrl, StreamUrlStatus, VpcTransit, id_of, session_arn_group_id,
};

/// Stands in for a status the service left out of a response.
const NOT_REPORTED: &str = "NOT_REPORTED";

/// A timestamp at the precision the service keeps (milliseconds): the wire's epoch seconds are
/// a float, and `...981.98` arrives as `...981.980000019`; kept as is, a group exactly at a
/// boundary (28 or 180 days, an expiry threshold) would look a few nanoseconds younger and its
/// finding would come one run late.
fn time(value: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    let value = value?;
    let millis = value.secs().checked_mul(1000)?.checked_add((f64::from(value.subsec_nanos()) / 1e6).round() as i64)?;
    DateTime::from_timestamp_millis(millis)
}

/// A capacity as the service reports it; a negative value (never documented) reads as zero.
fn capacity(value: Option<i32>) -> Option<u32> {
    value.map(|v| u32::try_from(v).unwrap_or(0))
}

fn default_application(app: Option<&sdk::DefaultApplication>) -> Option<ApplicationRef> {
    app.map(|a| ApplicationRef { id: a.id().map(str::to_owned), arn: a.arn().map(str::to_owned) })
}

fn group_status(status: Option<&sdk::StreamGroupStatus>) -> StreamGroupStatus {
    StreamGroupStatus::from(status.map_or(NOT_REPORTED, |s| s.as_str()))
}

pub fn location(state: &sdk::LocationState) -> Location {
    Location {
        name: state.location_name().unwrap_or_default().to_owned(),
        status: LocationStatus::from(state.status().map_or(NOT_REPORTED, |s| s.as_str())),
        capacity: Capacity {
            always_on: capacity(state.always_on_capacity()),
            target_idle: capacity(state.target_idle_capacity()),
            maximum: capacity(state.maximum_capacity()),
            on_demand: capacity(state.on_demand_capacity()),
            requested: capacity(state.requested_capacity()).unwrap_or(0),
            allocated: capacity(state.allocated_capacity()).unwrap_or(0),
            idle: capacity(state.idle_capacity()).unwrap_or(0),
        },
        vpc_transit: state.vpc_transit_configuration().map(|vpc| VpcTransit {
            vpc_id: vpc.vpc_id().unwrap_or_default().to_owned(),
            ipv4_cidr_blocks: vpc.ipv4_cidr_blocks().to_vec(),
            transit_gateway_id: vpc.transit_gateway_id().map(str::to_owned),
            transit_gateway_resource_share_arn: vpc.transit_gateway_resource_share_arn().map(str::to_owned),
            internal_cidr: state.internal_vpc_ipv4_cidr_block().map(str::to_owned),
        }),
    }
}

pub fn application(out: &GetApplicationOutput) -> Application {
    Application {
        arn: out.arn().to_owned(),
        id: out.id().map_or_else(|| id_of(out.arn()).to_owned(), str::to_owned),
        status: ApplicationStatus::from(out.status().map_or(NOT_REPORTED, |s| s.as_str())),
        status_reason: out.status_reason().map(|r| r.as_str().to_owned()),
    }
}

pub fn stream_url(summary: &sdk::StreamUrlSummary) -> StreamUrl {
    let arn = summary.arn().to_owned();
    StreamUrl {
        id: summary.stream_url_id().map_or_else(|| id_of(&arn).to_owned(), str::to_owned),
        status: StreamUrlStatus::from(summary.status().map_or(NOT_REPORTED, |s| s.as_str())),
        expires_at: time(summary.expires_at()),
        remaining_uses: summary.remaining_uses().map(|n| u32::try_from(n).unwrap_or(0)),
        description: summary.description().map(str::to_owned),
        arn,
    }
}

/// A stream group as GetStreamGroup describes it (with locations, without tags).
pub fn stream_group(out: &GetStreamGroupOutput) -> StreamGroup {
    let id = out.id().map_or_else(|| id_of(out.arn()).to_owned(), str::to_owned);
    StreamGroup {
        id,
        arn: out.arn().to_owned(),
        description: out.description().map(str::to_owned),
        stream_class: out.stream_class().map(|c| StreamClass::parse(c.as_str())),
        status: group_status(out.status()),
        status_reason: out.status_reason().map(|r| StreamGroupStatusReason::from(r.as_str())),
        created_at: time(out.created_at()),
        last_updated_at: time(out.last_updated_at()),
        expires_at: time(out.expires_at()),
        default_application: default_application(out.default_application()),
        associated_applications: out.associated_applications().to_vec(),
        tags: Default::default(),
        locations: out.location_states().iter().map(location).collect(),
    }
}

/// A stream group as ListStreamGroups summarises it: no locations, reason or associations.
pub fn stream_group_summary(summary: &sdk::StreamGroupSummary) -> StreamGroup {
    StreamGroup {
        id: summary.id().map_or_else(|| id_of(summary.arn()).to_owned(), str::to_owned),
        arn: summary.arn().to_owned(),
        description: summary.description().map(str::to_owned),
        stream_class: summary.stream_class().map(|c| StreamClass::parse(c.as_str())),
        status: group_status(summary.status()),
        status_reason: None,
        created_at: time(summary.created_at()),
        last_updated_at: time(summary.last_updated_at()),
        expires_at: time(summary.expires_at()),
        default_application: default_application(summary.default_application()),
        associated_applications: Vec::new(),
        tags: Default::default(),
        locations: Vec::new(),
    }
}

pub fn stream_session_summary(summary: &sdk::StreamSessionSummary) -> StreamSession {
    let arn = summary.arn().unwrap_or_default().to_owned();
    StreamSession {
        stream_group_id: session_arn_group_id(&arn).map(str::to_owned),
        status: StreamSessionStatus::from(summary.status().map_or(NOT_REPORTED, |s| s.as_str())),
        status_reason: summary.status_reason().map(|r| StreamSessionStatusReason::from(r.as_str())),
        location: summary.location().map(str::to_owned),
        application_arn: summary.application_arn().map(str::to_owned),
        user_id: summary.user_id().map(str::to_owned),
        created_at: time(summary.created_at()),
        last_updated_at: time(summary.last_updated_at()),
        arn,
    }
}

/// A session's own timeouts; the service's defaults where it reports none.
pub fn session_timeouts(out: &GetStreamSessionOutput) -> SessionTimeouts {
    let defaults = SessionTimeouts::default();
    let seconds = |v: Option<i32>, default: Duration| v.map_or(default, |s| Duration::seconds(i64::from(s)));
    SessionTimeouts {
        connection_timeout: seconds(out.connection_timeout_seconds(), defaults.connection_timeout),
        session_length: seconds(out.session_length_seconds(), defaults.session_length),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_unknown_variants_become_explicit_unknown_values() {
        let out = GetStreamGroupOutput::builder()
            .arn("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1AB2C3De4")
            .status(sdk::StreamGroupStatus::from("PAUSED"))
            .stream_class(sdk::StreamClass::from("gen9n_mega"))
            .location_states(
                sdk::LocationState::builder()
                    .location_name("us-west-2")
                    .status(sdk::StreamGroupLocationStatus::from("DRAINING"))
                    .always_on_capacity(2)
                    .allocated_capacity(2)
                    .idle_capacity(1)
                    .build(),
            )
            .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .build()
            .expect("arn is set");
        let group = stream_group(&out);
        assert_eq!(group.id, "sg-1AB2C3De4", "id falls back to the ARN's last segment");
        assert_eq!(group.status, StreamGroupStatus::Unknown("PAUSED".into()));
        assert_eq!(group.stream_class, Some(StreamClass::Unknown("gen9n_mega".into())));
        assert_eq!(group.locations[0].status, LocationStatus::Unknown("DRAINING".into()));
        assert_eq!(group.locations[0].capacity.in_use(), 1);
        assert_eq!(group.created_at.map(|t| t.timestamp()), Some(1_700_000_000));
        assert_eq!(group.expires_at, None);
    }

    #[test]
    fn wire_timestamps_are_kept_to_the_millisecond() {
        let wire = aws_smithy_types::DateTime::from_secs_and_nanos(1_763_726_981, 980_000_019);
        let kept = time(Some(&wire)).unwrap();
        assert_eq!(kept.timestamp_millis(), 1_763_726_981_980);
        assert_eq!(kept.timestamp_subsec_nanos(), 980_000_000);
        let almost = aws_smithy_types::DateTime::from_secs_and_nanos(1_763_726_981, 999_999_999);
        assert_eq!(time(Some(&almost)).unwrap().timestamp(), 1_763_726_982, "rounding carries into the second");
    }

    #[test]
    fn session_summary_knows_its_group_from_the_arn() {
        let summary = sdk::StreamSessionSummary::builder()
            .arn("arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-1AB2C3De4/ABC123def4567")
            .status(sdk::StreamSessionStatus::PendingClientReconnection)
            .build();
        let session = stream_session_summary(&summary);
        assert_eq!(session.stream_group_id.as_deref(), Some("sg-1AB2C3De4"));
        assert_eq!(session.status, StreamSessionStatus::PendingClientReconnection);
        assert!(session.status.holds_capacity());
    }
}
