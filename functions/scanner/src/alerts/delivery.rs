//! Delivery: per-finding messages published in batches of ten, and each group's memory
//! written (or held for the digest) once SNS has answered for all its messages, as the
//! runner's tag writes are: `Write::Tag` and `Write::Untag` through the writer port.

use super::message::message;
use super::policy::{AlertTarget, GroupAlerts};
use crate::observe::Unread;
use tokio::sync::mpsc::UnboundedReceiver;
use watchdog_core::ports::{MAX_MESSAGES_PER_BATCH, Message, Notifier, StreamGroupWriter, Tags, Write};

/// What delivery did.
#[derive(Debug, Default)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
    /// Would have been sent, had a topic been configured.
    pub not_sent: usize,
    pub errors: Vec<String>,
    /// Memory that could not be written.
    pub unread: Vec<Unread>,
    /// Every group's plan, for the digest (with [`MemoryWrite::AfterDigest`]).
    pub plans: Vec<GroupAlerts>,
    /// Memory waiting for the digest to be accepted (with [`MemoryWrite::AfterDigest`]).
    pub held: Vec<GroupMemory>,
}

/// Where per-finding messages go.
#[derive(Clone, Copy)]
pub enum PerFinding<'a> {
    /// Published to this topic; memory is kept only for what SNS accepted.
    Publish(&'a dyn Notifier, &'a str),
    /// Wanted but not published (a dry run, or no topic): counted as not sent, nothing kept.
    Count,
    /// Not wanted (digests only): the digest alone decides what is remembered.
    Off,
}

/// When a group's alert memory is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryWrite {
    /// As soon as SNS has answered for the group's messages.
    PerGroup,
    /// Only once the scan's digest is accepted: held in [`Delivered::held`], so a digest that
    /// fails is sent again next run instead of being lost.
    AfterDigest,
}

/// Tags to set and remove on one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMemory {
    pub group: AlertTarget,
    pub remember: Tags,
    pub forget: Vec<String>,
}

impl GroupMemory {
    fn is_empty(&self) -> bool {
        self.remember.is_empty() && self.forget.is_empty()
    }

    /// Writes it; what fails is returned as unread, with what that means.
    pub async fn write(&self, writer: &dyn StreamGroupWriter) -> Vec<Unread> {
        let mut unread = Vec::new();
        let (region, id) = (self.group.region.as_str(), Some(self.group.id.as_str()));
        let remember = Write::Tag { arn: self.group.arn.clone(), tags: self.remember.clone() };
        if !remember.is_empty()
            && let Err(e) = writer.write(&remember).await
        {
            unread.push(Unread::new(region, id, &e, "these alerts may be sent again next run"));
        }
        let forget = Write::Untag { arn: self.group.arn.clone(), keys: self.forget.clone() };
        if !forget.is_empty()
            && let Err(e) = writer.write(&forget).await
        {
            unread.push(Unread::new(region, id, &e, "a cleared finding's memory stays until it expires"));
        }
        unread
    }
}

/// A group whose messages are in flight, and the memory to write once they are all answered.
struct Pending {
    outstanding: usize,
    memory: GroupMemory,
}

/// A message waiting for a batch: its group's index, the memory tag (key, value) to write once
/// SNS accepts it (none without alert memory), and the message.
type Queued = (usize, Option<(String, String)>, Message);

/// The delivery phase of one region: receives each group's plan as soon as it is made,
/// publishes its per-finding messages in batches of ten as they fill, and writes (or holds for
/// the digest) a group's memory once SNS has answered for all its messages: only what SNS
/// accepted is remembered. In a dry run nothing is sent or written.
pub async fn deliver(
    mut plans: UnboundedReceiver<GroupAlerts>,
    per_finding: PerFinding<'_>,
    memory_write: MemoryWrite,
    writer: &dyn StreamGroupWriter,
) -> Delivered {
    let mut out = Delivered::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut queue: Vec<Queued> = Vec::new();
    loop {
        let next = plans.recv().await;
        let closed = next.is_none();
        if let Some(plan) = next {
            if memory_write == MemoryWrite::AfterDigest {
                out.plans.push(plan.clone());
            }
            let sent_keys: Vec<String> = plan.send.iter().map(|(f, _)| plan.memory_key(f)).collect();
            // Memory not tied to a message of this run (cleared marks), or all of it when the
            // digest alone decides.
            let mut remember = Tags::new();
            for (key, value) in &plan.remember {
                if matches!(per_finding, PerFinding::Off) || !sent_keys.contains(key) {
                    remember.insert(key.clone(), value.clone());
                }
            }
            let outstanding = match per_finding {
                PerFinding::Count => {
                    out.not_sent += plan.send.len();
                    continue;
                }
                PerFinding::Off => 0,
                PerFinding::Publish(..) => plan.send.len(),
            };
            let index = pending.len();
            let memory = GroupMemory { group: plan.group.clone(), remember, forget: plan.forget.clone() };
            pending.push(Pending { outstanding, memory });
            if let PerFinding::Publish(..) = per_finding {
                for ((finding, why), key) in plan.send.iter().zip(sent_keys) {
                    let memory = plan.remember.get(&key).map(|value| (key, value.clone()));
                    queue.push((index, memory, message(finding, *why)));
                }
            }
        }
        while let PerFinding::Publish(notifier, topic_arn) = per_finding
            && (queue.len() >= MAX_MESSAGES_PER_BATCH || (closed && !queue.is_empty()))
        {
            let batch: Vec<Queued> = queue.drain(..queue.len().min(MAX_MESSAGES_PER_BATCH)).collect();
            let messages: Vec<Message> = batch.iter().map(|(_, _, m)| m.clone()).collect();
            let results = match notifier.publish_batch(topic_arn, &messages).await {
                Ok(results) => results,
                Err(e) => {
                    out.errors.push(e.to_string());
                    messages.iter().map(|_| Err(String::new())).collect()
                }
            };
            for ((index, memory, _), result) in batch.into_iter().zip(results) {
                let group = &mut pending[index];
                group.outstanding -= 1;
                match result {
                    Ok(()) => {
                        out.sent += 1;
                        group.memory.remember.extend(memory);
                    }
                    Err(reason) => {
                        out.failed += 1;
                        if !reason.is_empty() {
                            out.errors.push(format!("SNS refused an alert for {}: {reason}", group.memory.group.id));
                        }
                    }
                }
            }
        }
        // Memory of every group SNS has answered for.
        for group in pending.iter_mut().filter(|g| g.outstanding == 0 && !g.memory.is_empty()) {
            let emptied = GroupMemory { group: group.memory.group.clone(), remember: Tags::new(), forget: Vec::new() };
            let memory = std::mem::replace(&mut group.memory, emptied);
            match memory_write {
                MemoryWrite::PerGroup => out.unread.extend(memory.write(writer).await),
                MemoryWrite::AfterDigest => out.held.push(memory),
            }
        }
        if closed {
            return out;
        }
    }
}
