-- Clusters (Redis Cluster): a cluster row, and instances that belong to one.
CREATE TABLE clusters (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    datastore_version_id TEXT NOT NULL,
    task_status TEXT NOT NULL,
    root_secret TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX clusters_project ON clusters (project_id, deleted, seq);

ALTER TABLE instances ADD COLUMN cluster_id TEXT;
ALTER TABLE instances ADD COLUMN instance_type TEXT;
ALTER TABLE instances ADD COLUMN replica_of TEXT;
ALTER TABLE instances ADD COLUMN cluster_node_id TEXT;

CREATE INDEX instances_cluster ON instances (cluster_id, deleted);
-- Warm members waiting for a cluster to adopt them, oldest first.
CREATE INDEX instances_warm ON instances (datastore_version_id, flavor_id, seq) WHERE instance_type = 'warm' AND cluster_id IS NULL AND NOT deleted;
