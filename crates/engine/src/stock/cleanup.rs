//! `cleanup_exports`: keeps the export folder under `max_bytes` and `max_age_days`, deleting
//! the oldest files first. Symbolic links are never followed, deleted or counted: a link that
//! points out of the folder can lead nowhere we own.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::JobName;
use serde::Serialize;

use crate::{Job, JobError, RunCtx};

/// "100 MB", read as decimal megabytes.
pub const DEFAULT_MAX_BYTES: u64 = 100_000_000;
/// Named assumption: the documents give no default age; 30 days keeps a month of audit files.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 30;

pub struct CleanupExports {
    pub exports_dir: PathBuf,
}

/// One file deleted, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeletedFile {
    /// Relative to the export folder.
    pub path: String,
    pub bytes: u64,
    pub modified: DateTime<Utc>,
    /// `age` or `size`.
    pub why: &'static str,
}

/// What a cleanup did: it goes into the run's detail record.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CleanupReport {
    pub deleted: Vec<DeletedFile>,
    pub kept_files: u64,
    pub kept_bytes: u64,
    /// Links found and left alone (relative paths).
    pub links_left_alone: Vec<String>,
    /// Files that could not be deleted, with the error.
    pub errors: Vec<String>,
}

#[async_trait]
impl Job for CleanupExports {
    fn name(&self) -> JobName {
        JobName::CleanupExports
    }

    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
        let settings = ctx
            .job_config
            .as_ref()
            .map(|j| j.settings.clone())
            .unwrap_or_default();
        let max_bytes = settings.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        let days = settings.max_age_days.unwrap_or(DEFAULT_MAX_AGE_DAYS);
        let max_age = Duration::from_secs(u64::from(days) * 86_400);
        let now = ctx.clock.now();
        let dir = self.exports_dir.clone();
        let dry = ctx.dry_run;
        let report =
            tokio::task::spawn_blocking(move || cleanup(&dir, max_bytes, max_age, now, dry))
                .await
                .map_err(|e| JobError::Failed(format!("cleanup task: {e}")))?
                .map_err(|e| {
                    JobError::Failed(format!(
                        "reading export folder {}: {e}",
                        self.exports_dir.display()
                    ))
                })?;
        let detail = serde_json::to_value(&report).unwrap_or_default();
        ctx.store
            .set_run_detail(
                &ctx.run_id,
                JobName::CleanupExports,
                &detail,
                now,
                &ctx.fence,
            )
            .await?;
        ctx.count(|c| {
            c.processed += report.deleted.len() as u64 + report.kept_files;
            c.advanced += report.deleted.len() as u64;
            c.failed += report.errors.len() as u64;
        });
        Ok(())
    }
}

struct Found {
    path: PathBuf,
    rel: String,
    bytes: u64,
    modified: SystemTime,
}

/// Deletes files older than `max_age` (by modification time against `now`), then the oldest
/// files until the folder holds at most `max_bytes`. With `dry_run`, reports without deleting.
/// A missing folder is empty.
pub fn cleanup(
    dir: &Path,
    max_bytes: u64,
    max_age: Duration,
    now: DateTime<Utc>,
    dry_run: bool,
) -> io::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    let mut files = Vec::new();
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => {
            return Err(io::Error::other("the export folder is not a directory"));
        }
        Ok(_) => {}
    }
    walk(dir, dir, &mut files, &mut report)?;
    // Oldest first; ties by path so the order is stable.
    files.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.rel.cmp(&b.rel)));
    let now_sys: SystemTime = now.into();
    let cutoff = now_sys
        .checked_sub(max_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    for f in files {
        let why = if f.modified < cutoff {
            Some("age")
        } else if total > max_bytes {
            Some("size")
        } else {
            None
        };
        let Some(why) = why else {
            report.kept_files += 1;
            report.kept_bytes += f.bytes;
            continue;
        };
        if !dry_run && let Err(e) = fs::remove_file(&f.path) {
            report.errors.push(format!("{}: {e}", f.rel));
            report.kept_files += 1;
            report.kept_bytes += f.bytes;
            continue;
        }
        total -= f.bytes;
        report.deleted.push(DeletedFile {
            path: f.rel,
            bytes: f.bytes,
            modified: DateTime::<Utc>::from(f.modified),
            why,
        });
    }
    Ok(report)
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<Found>,
    report: &mut CleanupReport,
) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // `symlink_metadata` describes the link itself: it is never followed.
        let meta = fs::symlink_metadata(&path)?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if meta.file_type().is_symlink() {
            report.links_left_alone.push(rel);
        } else if meta.is_dir() {
            walk(root, &path, out, report)?;
        } else if meta.is_file() {
            out.push(Found {
                path,
                rel,
                bytes: meta.len(),
                modified: meta.modified()?,
            });
        }
    }
    Ok(())
}
