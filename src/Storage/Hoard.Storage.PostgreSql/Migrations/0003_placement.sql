-- Placement: pools instances run in, flavors private to a project and with capabilities, and the catalogue of which
-- pool holds each (project, instance). Lists are in ordinal order: the new text columns use the "C" collation, so
-- their indexes serve ORDER BY ... COLLATE "C" and paging after a marker.
CREATE TABLE pools (
    name TEXT COLLATE "C" PRIMARY KEY,
    uri TEXT NOT NULL,
    weight INTEGER NOT NULL,
    flavor TEXT COLLATE "C",
    options TEXT NOT NULL DEFAULT '{}'
);
-- A flavor's pools in name order; flavor IS NULL finds the pools that host flavors without pools of their own.
CREATE INDEX pools_flavor ON pools (flavor, name);

ALTER TABLE flavors
    ADD COLUMN project_id TEXT,
    ADD COLUMN capabilities TEXT NOT NULL DEFAULT '{}';
-- flavors.id predates the "C" collation here, so these expression indexes serve the lists' ORDER BY id COLLATE "C"
-- and their markers (id COLLATE "C" > @m), all flavors or one project's, without sorting the table each page.
CREATE INDEX flavors_id_c ON flavors ((id COLLATE "C"));
CREATE INDEX flavors_project ON flavors (project_id, (id COLLATE "C"));

CREATE TABLE catalogue (
    project_id TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    pool TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (project_id, instance_id)
);
-- What a pool hosts: its count is the capacity check of every create.
CREATE INDEX catalogue_pool ON catalogue (pool);

-- Instances live before this migration get their entries, as the instance store now writes them.
INSERT INTO catalogue (project_id, instance_id, pool)
SELECT project_id, id, pool FROM instances WHERE NOT deleted;
