-- Backup schedules (Hoard's extension beyond Trove): a cron pattern or an interval, and how many of its COMPLETED backups
-- a schedule keeps. Replicas claim a due run by compare and set of next_run_at. A backup records the schedule that made
-- it, so retention never deletes a backup a user asked for. Ids use the "C" collation, as in 0003.
ALTER TABLE backups ADD COLUMN schedule_id TEXT COLLATE "C";
CREATE TABLE backup_schedules (
    id TEXT COLLATE "C" PRIMARY KEY,
    project_id TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    pattern TEXT,
    interval_minutes INTEGER,
    retention INTEGER NOT NULL,
    enabled BOOLEAN NOT NULL,
    next_run_at BIGINT NOT NULL,
    last_run_at BIGINT,
    last_backup_id TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX backup_schedules_project ON backup_schedules (project_id, created_at, id);
CREATE INDEX backup_schedules_instance ON backup_schedules (instance_id);
-- What the scheduler asks every tick: the enabled schedules that are due.
CREATE INDEX backup_schedules_due ON backup_schedules (next_run_at) WHERE enabled;
