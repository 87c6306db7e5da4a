-- Clusters (Redis Cluster): a cluster row, and instances that belong to one.
CREATE TABLE clusters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    datastore_version_id TEXT NOT NULL,
    task_status TEXT NOT NULL,
    root_secret TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX clusters_project ON clusters (project_id, deleted, seq);

ALTER TABLE instances ADD COLUMN cluster_id TEXT;
ALTER TABLE instances ADD COLUMN instance_type TEXT;
ALTER TABLE instances ADD COLUMN replica_of TEXT;
ALTER TABLE instances ADD COLUMN cluster_node_id TEXT;

CREATE INDEX instances_cluster ON instances (cluster_id, deleted);
