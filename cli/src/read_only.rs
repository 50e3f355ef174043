//! Read-only by construction: a GameLift Streams port that passes reads through (counting them
//! for the progress bar) and refuses every write before it leaves the process, a metric sink
//! that drops what it is given, and a notifier that refuses. `scan`, `plan` and `report` run the
//! functions' own code on these, so no decision of theirs can change an account.

use async_trait::async_trait;
use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use watchdog_core::StreamSessionStatus;
use watchdog_core::model::{Application, StreamGroup, StreamSession, StreamUrl};
use watchdog_core::ports::{
    ApiError, Datum, ErrorKind, GameLiftStreams, GroupRef, Message, MetricSink, Notifier, StreamGroupReader,
    StreamGroupWriter, Tags, Write,
};
use watchdog_core::rules::SessionTimeouts;

/// Groups listed and groups read in full so far, shared by every region's port.
#[derive(Clone, Default)]
pub struct Progress {
    listed: Arc<AtomicUsize>,
    read: Arc<AtomicUsize>,
}

impl Progress {
    pub fn counts(&self) -> (usize, usize) {
        (self.read.load(Ordering::Relaxed), self.listed.load(Ordering::Relaxed))
    }

    /// Draws a bar on stderr every 100 ms while `work` runs, when stderr is a terminal (a
    /// pipe or a CI log gets none), and clears it at the end.
    pub async fn show_while<T>(&self, what: &str, enabled: bool, work: impl std::future::Future<Output = T>) -> T {
        if !enabled || !std::io::stderr().is_terminal() {
            return work.await;
        }
        let progress = self.clone();
        let what = what.to_owned();
        let bar = tokio::spawn(async move {
            loop {
                let (read, listed) = progress.counts();
                eprint!("\r{}", bar_line(&what, read, listed, 30));
                let _ = std::io::stderr().flush();
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        let result = work.await;
        bar.abort();
        eprint!("\r\x1b[2K");
        result
    }
}

/// `scanning [#########.........] 30/90 groups`
pub fn bar_line(what: &str, read: usize, listed: usize, width: usize) -> String {
    if listed == 0 {
        return format!("{what}: listing stream groups...");
    }
    let read = read.min(listed);
    let filled = read * width / listed;
    format!("{what} [{}{}] {read}/{listed} groups", "#".repeat(filled), ".".repeat(width - filled))
}

pub struct ReadOnly {
    inner: Arc<dyn GameLiftStreams>,
    progress: Progress,
    refuse_writes: bool,
}

impl ReadOnly {
    pub fn new(inner: Arc<dyn GameLiftStreams>, progress: Progress, refuse_writes: bool) -> Self {
        Self { inner, progress, refuse_writes }
    }

    fn refuse(&self, operation: &'static str) -> Result<(), ApiError> {
        if self.refuse_writes {
            Err(ApiError::new(
                operation,
                ErrorKind::AccessDenied,
                "ReadOnly",
                "the CLI is read-only here; nothing was sent",
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl StreamGroupReader for ReadOnly {
    fn region(&self) -> &str {
        self.inner.region()
    }
    async fn list_stream_groups(&self) -> Result<Vec<StreamGroup>, ApiError> {
        let groups = self.inner.list_stream_groups().await?;
        self.progress.listed.fetch_add(groups.len(), Ordering::Relaxed);
        Ok(groups)
    }
    async fn get_stream_group(&self, id: &str) -> Result<StreamGroup, ApiError> {
        let group = self.inner.get_stream_group(id).await;
        self.progress.read.fetch_add(1, Ordering::Relaxed);
        group
    }
    async fn list_tags(&self, arn: &str) -> Result<Tags, ApiError> {
        self.inner.list_tags(arn).await
    }
    async fn list_group_sessions(&self, group_id: &str) -> Result<Vec<StreamSession>, ApiError> {
        self.inner.list_group_sessions(group_id).await
    }
    async fn list_account_sessions(&self, status: &StreamSessionStatus) -> Result<Vec<StreamSession>, ApiError> {
        self.inner.list_account_sessions(status).await
    }
    async fn get_session_timeouts(&self, group_id: &str, session_arn: &str) -> Result<SessionTimeouts, ApiError> {
        self.inner.get_session_timeouts(group_id, session_arn).await
    }
    async fn get_application(&self, identifier: &str) -> Result<Application, ApiError> {
        self.inner.get_application(identifier).await
    }
    async fn list_stream_urls(&self, group_id: &str) -> Result<Vec<StreamUrl>, ApiError> {
        self.inner.list_stream_urls(group_id).await
    }
}

#[async_trait]
impl StreamGroupWriter for ReadOnly {
    async fn write(&self, write: &Write) -> Result<Option<GroupRef>, ApiError> {
        self.refuse(write.operation().name())?;
        self.inner.write(write).await
    }
}

/// Metrics go nowhere: the CLI shows its figures instead.
pub struct Discard;

#[async_trait]
impl MetricSink for Discard {
    async fn put(&self, _: &str, _: &[Datum], _: chrono::DateTime<chrono::Utc>) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Nothing is published from the CLI.
pub struct Refuse;

#[async_trait]
impl Notifier for Refuse {
    async fn publish(&self, _: &str, _: &Message) -> Result<(), ApiError> {
        Err(ApiError::new("Publish", ErrorKind::AccessDenied, "ReadOnly", "the CLI publishes nothing"))
    }
    async fn publish_batch(&self, _: &str, messages: &[Message]) -> Result<Vec<Result<(), String>>, ApiError> {
        Ok(messages.iter().map(|_| Err("the CLI publishes nothing".to_owned())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_groups_read() {
        assert_eq!(bar_line("scanning", 0, 0, 10), "scanning: listing stream groups...");
        assert_eq!(bar_line("scanning", 3, 12, 12), "scanning [###.........] 3/12 groups");
        assert_eq!(bar_line("scanning", 20, 12, 4), "scanning [####] 12/12 groups", "never past full");
    }
}
