-- Backups of instances (Trove's DBBackup). Lists are newest first by seq, an insertion sequence (timestamps may be equal);
-- a backup marked deleted keeps its row, so a marker naming it still marks its place. The ids compared and the indexed
-- text columns use the "C" collation, as in 0003.
CREATE TABLE backups (
    id TEXT COLLATE "C" PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    project_id TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    parent_id TEXT COLLATE "C",
    datastore_version_id TEXT NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    size BIGINT,
    checksum TEXT,
    location TEXT,
    fault_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX backups_project ON backups (project_id, seq);
CREATE INDEX backups_instance ON backups (instance_id, seq);
-- The children of a backup: a delete is refused while a live one builds on it.
CREATE INDEX backups_parent ON backups (parent_id) WHERE parent_id IS NOT NULL;
