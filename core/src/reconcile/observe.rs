//! Observation helpers every reconciler uses: list a region's groups with their tags, and
//! read many things a few at a time. Unknown means "do not touch": a group whose tags cannot
//! be read stays out of the plan, with an error naming it.

use super::reconciler::RegionRun;
use crate::model::StreamGroup;
use crate::operations::Operation;
use crate::ports::StreamGroupReader;
use futures::{StreamExt, stream};

/// What the runner calls for every reconciler while observing ([`tagged_groups`]), whatever
/// the reconciler's own plan calls beside.
pub const OBSERVING: [Operation; 2] = [Operation::ListStreamGroups, Operation::ListTagsForResource];

/// Reads in flight at once while observing.
const READS_IN_FLIGHT: usize = 8;

/// The region's groups that `keep` selects, each with its tags. A group whose tags cannot be
/// read is left out with an error: its opt-in, opt-out and ownership are unknown, and unknown
/// means "do not touch". `None` when the region cannot be listed.
pub async fn tagged_groups(run: &mut RegionRun<'_>, keep: impl Fn(&StreamGroup) -> bool) -> Option<Vec<StreamGroup>> {
    let region: &dyn StreamGroupReader = run.region;
    let errors = &mut *run.errors;
    let listed = match region.list_stream_groups().await {
        Ok(groups) => groups,
        Err(e) => {
            errors.push(format!("{}: {e}; region skipped", region.region()));
            return None;
        }
    };
    run.listed.extend(listed.iter().cloned());
    let wanted: Vec<StreamGroup> = listed.into_iter().filter(|g| keep(g)).collect();
    let read = |mut group: StreamGroup| async move {
        let why = "left alone: its opt-in, opt-out and ownership tags cannot be read";
        group.tags = region.list_tags(&group.arn).await.map_err(|e| format!("{}: {e}; {why}", group.id))?;
        Ok(group)
    };
    let groups = read_concurrently(wanted, read, errors).await;
    Some(groups)
}

/// Reads each item with `read`, a few at a time, in order; a read that fails adds its error
/// and leaves its item out.
pub async fn read_concurrently<I, T, F, Fut>(items: Vec<I>, read: F, errors: &mut Vec<String>) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let reads: Vec<Result<T, String>> = stream::iter(items).map(read).buffered(READS_IN_FLIGHT).collect().await;
    let mut read_ok = Vec::new();
    for result in reads {
        match result {
            Ok(item) => read_ok.push(item),
            Err(error) => errors.push(error),
        }
    }
    read_ok
}
