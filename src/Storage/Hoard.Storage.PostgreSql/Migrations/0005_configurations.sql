-- Configuration groups (Trove's Configuration): named parameter values for one datastore version. Lists are oldest first
-- by seq, an insertion sequence (timestamps may be equal); a group marked deleted keeps its row, so a marker naming it
-- still marks its place. values holds the JSON object as given (text: it is stored and handed back, never queried).
-- The ids compared and the indexed text columns use the "C" collation, as in 0003.
CREATE TABLE configurations (
    id TEXT COLLATE "C" PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    project_id TEXT COLLATE "C" NOT NULL,
    datastore_version_id TEXT NOT NULL,
    "values" TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX configurations_project ON configurations (project_id, seq);

-- An instance's attached group (NULL: none). A group's delete is refused while a live instance has it.
ALTER TABLE instances ADD COLUMN configuration_id TEXT COLLATE "C";
CREATE INDEX instances_configuration ON instances (configuration_id, seq) WHERE configuration_id IS NOT NULL AND NOT deleted;
