-- Configuration groups (Trove's Configuration): named parameter values for one datastore version. Lists are oldest first
-- by seq, an insertion sequence (timestamps may be equal); a group marked deleted keeps its row, so a marker naming it
-- still marks its place. values holds the JSON object as given.
CREATE TABLE configurations (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    project_id TEXT NOT NULL,
    datastore_version_id TEXT NOT NULL,
    "values" TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX configurations_project ON configurations (project_id, seq);

-- An instance's attached group (NULL: none). A group's delete is refused while a live instance has it.
ALTER TABLE instances ADD COLUMN configuration_id TEXT;
CREATE INDEX instances_configuration ON instances (configuration_id, seq) WHERE configuration_id IS NOT NULL AND deleted = 0;
