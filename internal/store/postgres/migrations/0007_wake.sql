-- A waiting step resolved while its job was still leased (before the job
-- had parked) sets wake, so the job's parking makes it ready at once.
ALTER TABLE errand_jobs ADD COLUMN wake BOOLEAN NOT NULL DEFAULT FALSE;
