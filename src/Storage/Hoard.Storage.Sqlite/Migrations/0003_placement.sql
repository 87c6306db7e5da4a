-- Placement: pools instances run in, flavors private to a project and with capabilities, and the catalogue of which
-- pool holds each (project, instance). SQLite's default BINARY collation already orders text ordinally.
CREATE TABLE pools (
    name TEXT PRIMARY KEY,
    uri TEXT NOT NULL,
    weight INTEGER NOT NULL,
    flavor TEXT,
    options TEXT NOT NULL DEFAULT '{}'
);
-- A flavor's pools in name order; flavor IS NULL finds the pools that host flavors without pools of their own.
CREATE INDEX pools_flavor ON pools (flavor, name);

ALTER TABLE flavors ADD COLUMN project_id TEXT;
ALTER TABLE flavors ADD COLUMN capabilities TEXT NOT NULL DEFAULT '{}';
CREATE INDEX flavors_project ON flavors (project_id, id);

CREATE TABLE catalogue (
    project_id TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    pool TEXT NOT NULL,
    PRIMARY KEY (project_id, instance_id)
);
-- What a pool hosts: its count is the capacity check of every create.
CREATE INDEX catalogue_pool ON catalogue (pool);

-- Instances live before this migration get their entries, as the instance store now writes them.
INSERT INTO catalogue (project_id, instance_id, pool)
SELECT project_id, id, pool FROM instances WHERE deleted = 0;
