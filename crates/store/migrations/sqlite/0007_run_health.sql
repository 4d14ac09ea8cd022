-- Readiness and the continuous closing of runs left open by a dead process.
-- The kind of failure a run met (e.g. 'auth_refused': the DSCO or LingXing credentials were
-- refused), so that /readyz can say which check fails.
ALTER TABLE job_runs ADD COLUMN failure TEXT;
-- The runs still open, found by an index read however long the history: the scheduler looks for
-- runs whose runner died every few seconds.
CREATE INDEX job_runs_open ON job_runs (started_at) WHERE outcome = 'running';
