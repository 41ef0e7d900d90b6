-- Dead-lettered jobs per kind, counted every few seconds by the recordings metrics
-- (hotline_recordings_transcription_queue_jobs{state="dead"}) and listed by the jobs API:
-- without it the count scans every finished job kept for the purge period.
CREATE INDEX jobs_dead ON jobs (kind) WHERE state = 'dead';
