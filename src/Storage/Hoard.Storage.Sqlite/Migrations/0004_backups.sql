-- Backups of instances (Trove's DBBackup). Lists are newest first by seq, an insertion sequence (timestamps may be equal);
-- a backup marked deleted keeps its row, so a marker naming it still marks its place.
CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    project_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    parent_id TEXT,
    datastore_version_id TEXT NOT NULL,
    state TEXT NOT NULL,
    size INTEGER,
    checksum TEXT,
    location TEXT,
    fault_message TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX backups_project ON backups (project_id, seq);
CREATE INDEX backups_instance ON backups (instance_id, seq);
-- The children of a backup: a delete is refused while a live one builds on it.
CREATE INDEX backups_parent ON backups (parent_id) WHERE parent_id IS NOT NULL;
