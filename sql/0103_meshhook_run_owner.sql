-- The silo that last checkpointed each run (Orleans silo address with its generation). When membership
-- declares a silo dead, the survivors resume exactly that silo's unfinished runs at once, without waiting
-- for a reminder tick.
ALTER TABLE workflow_runs ADD COLUMN silo text NULL;

CREATE INDEX workflow_runs_unfinished_by_silo ON workflow_runs (silo) WHERE status IN ('queued', 'running');
