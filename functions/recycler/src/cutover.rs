//! The cut-over: what the studio's backend is told when a replacement is ready (the new
//! group, the stream URLs that die with the old one, the VPC steps to repeat, how to
//! acknowledge), and when the old group may be deleted afterwards.

use crate::config::Settings;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use watchdog_core::tags::recycle::{self as state, RecycleState};
use watchdog_core::{StreamGroup, StreamGroupStatus, StreamSession, StreamUrl, StreamUrlStatus};

/// The stream URLs that still start sessions on a group.
pub fn active_urls(urls: &[StreamUrl]) -> Vec<&StreamUrl> {
    urls.iter().filter(|u| u.status == StreamUrlStatus::Active).collect()
}

/// When the cut-over from `old` to `replacement` was announced: recorded on the replacement
/// (earlier versions recorded it on the old group, which is still read).
pub fn announced_at(old: &StreamGroup, replacement: &StreamGroup) -> Option<DateTime<Utc>> {
    RecycleState::decode(&replacement.tags).cutover_at.or_else(|| RecycleState::decode(&old.tags).cutover_at)
}

/// The copy-paste acknowledgement for the backend team: the AWS CLI form of TagResource.
pub fn ack_command(replacement: &StreamGroup) -> String {
    format!(
        "aws gameliftstreams tag-resource --region {} --resource-arn {} --tags {}=true",
        replacement.region().unwrap_or("REGION"),
        replacement.arn,
        state::CUTOVER_ACK
    )
}

/// The manual steps each VPC-connected location of the replacement needs: a new group gets a
/// new Transit Gateway, so the attachment and routes made for the old one do not carry over.
fn vpc_steps(replacement: &StreamGroup) -> Vec<Value> {
    replacement
        .locations
        .iter()
        .filter_map(|l| l.vpc_transit.as_ref().map(|v| (l, v)))
        .map(|(location, vpc)| {
            let tgw = vpc.transit_gateway_id.as_deref().unwrap_or("(not reported yet)");
            let share = vpc.transit_gateway_resource_share_arn.as_deref().unwrap_or("(not reported yet)");
            let cidr = vpc.internal_cidr.as_deref().unwrap_or("(not reported yet)");
            json!({
                "location": location.name,
                "vpc_id": vpc.vpc_id,
                "ipv4_cidr_blocks": vpc.ipv4_cidr_blocks,
                "transit_gateway_id": tgw,
                "transit_gateway_resource_share_arn": share,
                "service_vpc_cidr": cidr,
                "steps": [
                    format!("accept the AWS RAM resource share {share} in {}", location.name),
                    format!("create a Transit Gateway VPC attachment from {} to {tgw}", vpc.vpc_id),
                    format!("route {cidr} to {tgw} in the route tables of {}", vpc.vpc_id),
                    "then move sessions to the new group; detach the old attachment once the old group is deleted".to_owned(),
                ],
            })
        })
        .collect()
}

/// What the cut-over announcement says, as JSON (the message body) and as one sentence.
pub struct CutoverNotice<'a> {
    pub old: &'a StreamGroup,
    pub replacement: &'a StreamGroup,
    pub stream_urls: Vec<&'a StreamUrl>,
    /// Applications of the old group that the replacement does not have (not READY).
    pub missing_applications: Vec<String>,
    pub require_ack: bool,
}

impl CutoverNotice<'_> {
    pub fn body(&self) -> Value {
        let (old, new) = (self.old, self.replacement);
        let vpc = vpc_steps(new);
        let mut sentence = format!("Start new sessions on {} ({}).", new.id, new.arn);
        if !vpc.is_empty() {
            sentence.push_str(&format!(
                " {} location(s) use VPC transit: attach your VPC to the new Transit Gateway first (vpc_transit).",
                vpc.len()
            ));
        }
        if !self.stream_urls.is_empty() {
            sentence.push_str(&format!(
                " {} stream URL(s) of {} stop working when it is deleted: issue new ones on {}.",
                self.stream_urls.len(),
                old.id,
                new.id
            ));
        }
        if !self.missing_applications.is_empty() {
            sentence.push_str(&format!(" Not on the new group (not READY): {}.", self.missing_applications.join(", ")));
        }
        if self.require_ack {
            sentence.push_str(&format!(" {} is deleted only after you acknowledge: {}", old.id, ack_command(new)));
        } else {
            sentence.push_str(&format!(" {} is retired after the grace period.", old.id));
        }
        json!({
            "type": "cutover",
            "old": { "id": old.id, "arn": old.arn, "status": old.status.as_str() },
            "new": { "id": new.id, "arn": new.arn },
            "message": sentence,
            "default_application": new.default_application.as_ref().and_then(|d| d.arn.clone()),
            "stream_urls": self.stream_urls.iter().map(|u| json!({
                "id": u.id, "arn": u.arn, "expires_at": u.expires_at.map(|t| t.to_rfc3339()), "description": u.description,
            })).collect::<Vec<_>>(),
            "vpc_transit": vpc,
            "missing_applications": self.missing_applications,
            "acknowledge": {
                "required": self.require_ack,
                "tag": state::CUTOVER_ACK,
                "on": new.arn,
                "command": ack_command(new),
            },
        })
    }
}

/// When the old group may be deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum Retirement {
    /// Still in the grace period, until this instant.
    Grace(DateTime<Utc>),
    /// REQUIRE_CUTOVER_ACK and the backend has not tagged the replacement yet.
    AwaitingAck,
    /// Players are still on.
    Players(usize),
    /// Stream URLs still start sessions on the old group, until the wait ends at this instant.
    StreamUrls(usize, DateTime<Utc>),
    Now {
        live: usize,
        reason: String,
    },
}

/// When the old group may be deleted: after the grace period, after the backend's
/// acknowledgement when one is required, once no session holds capacity on it and no stream
/// URL can start one (or the URL wait is over). With its expiry this close (`expiry_guard`),
/// or once EXPIRED, sessions and URLs no longer hold it back: the service ends them anyway.
/// The acknowledgement always does.
pub fn retirement(
    old: &StreamGroup,
    replacement: &StreamGroup,
    cutover_at: DateTime<Utc>,
    sessions: &[StreamSession],
    urls: &[StreamUrl],
    now: DateTime<Utc>,
    settings: &Settings,
) -> Retirement {
    let retire_at = cutover_at + settings.grace;
    if now < retire_at {
        return Retirement::Grace(retire_at);
    }
    if settings.require_cutover_ack && !replacement.tags.contains_key(state::CUTOVER_ACK) {
        return Retirement::AwaitingAck;
    }
    let live = sessions.iter().filter(|s| s.status.holds_capacity()).count();
    let urls = active_urls(urls).len();
    let ending_anyway =
        old.status == StreamGroupStatus::Expired || old.expires_at.is_some_and(|e| now >= e - settings.expiry_guard);
    let url_wait_ends = cutover_at + settings.stream_url_max_wait;
    if !ending_anyway {
        if live > 0 {
            return Retirement::Players(live);
        }
        if urls > 0 && now < url_wait_ends {
            return Retirement::StreamUrls(urls, url_wait_ends);
        }
    }
    let reason = match (live, urls, ending_anyway) {
        (0, 0, _) => "grace period over, no session streaming, no active stream URL".to_owned(),
        (live, urls, true) => format!(
            "grace period over and the group expires (soon): {live} session(s) end, {urls} stream URL(s) are revoked"
        ),
        (_, urls, false) => {
            format!("grace period over and the stream URL wait is over: {urls} stream URL(s) are revoked")
        }
    };
    Retirement::Now { live, reason }
}
