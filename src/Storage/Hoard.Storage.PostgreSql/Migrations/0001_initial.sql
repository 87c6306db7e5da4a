-- Hoard management store, first schema: identity, catalog (flavors, datastores), instances, tasks.
-- Times are Unix milliseconds (BIGINT), as the SQLite backend keeps them: exact round trips, no time zones.
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (domain_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    default_project_id TEXT,
    password_hash TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (domain_id, name)
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE role_assignments (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, user_id, role_id)
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE flavors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    ram_mb INTEGER NOT NULL,
    vcpus INTEGER NOT NULL,
    disk_gb INTEGER NOT NULL
);

CREATE TABLE datastores (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    default_version_id TEXT
);

CREATE TABLE datastore_versions (
    id TEXT PRIMARY KEY,
    datastore_id TEXT NOT NULL REFERENCES datastores (id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (datastore_id, name)
);

CREATE TABLE instances (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    flavor_id TEXT NOT NULL,
    datastore_version_id TEXT NOT NULL,
    volume_size INTEGER,
    task_status TEXT NOT NULL,
    service_status TEXT NOT NULL,
    server_status TEXT NOT NULL,
    pool TEXT NOT NULL,
    address TEXT,
    port INTEGER,
    secret_hash TEXT NOT NULL,
    root_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    fault_message TEXT,
    fault_details TEXT,
    fault_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    service_status_updated_at BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX instances_project ON instances (project_id, deleted, seq);
-- One live instance per address in a pool: the database on it listens on the engine's own port.
CREATE UNIQUE INDEX instances_address ON instances (pool, address) WHERE address IS NOT NULL AND NOT deleted;

CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    state TEXT NOT NULL,
    step INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_unfinished ON tasks (state) WHERE state IN ('pending', 'running');
