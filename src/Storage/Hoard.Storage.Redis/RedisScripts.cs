namespace Hoard.Storage.Redis;

/// <summary>
/// Every check-then-write of the store is one Lua script, so it runs atomically on the server: the check and the
/// writes cannot interleave with another client's (Zaqar's Redis store read outside its MULTI and raced).
/// Each script gets ARGV[1] = the key prefix and ARGV[2] = a JSON argument (records as string-valued field maps,
/// null fields left out); a script validates everything before its first write, because Redis does not roll back
/// a script that fails halfway.
/// </summary>
internal static class RedisScripts
{
    private const string Prelude = """
        local P = ARGV[1]
        local A = cjson.decode(ARGV[2])
        local function esc(s) return (string.gsub(s, '[%%:]', {['%'] = '%25', [':'] = '%3A'})) end
        local function unesc(s) return (string.gsub(s, '%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end)) end
        local function k(kind, ...)
          local key = P .. kind
          for _, part in ipairs({...}) do key = key .. ':' .. esc(part) end
          return key
        end
        local function hgetall(key)
          local r = redis.call('HGETALL', key)
          if #r == 0 then return nil end
          local t = {}
          for i = 1, #r, 2 do t[r[i]] = r[i + 1] end
          return t
        end
        local function hput(key, t)
          redis.call('DEL', key)
          local args = {}
          for f, v in pairs(t) do args[#args + 1] = f; args[#args + 1] = v end
          if #args > 0 then redis.call('HSET', key, unpack(args)) end
        end
        local function copy(t) local c = {}; for f, v in pairs(t) do c[f] = v end; return c end
        local function live(h) return h ~= nil and h.deleted ~= '1' end
        local function exists(key) return redis.call('EXISTS', key) == 1 end

        -- The sorted sets an instance belongs to, by what its record says.
        local function inst_indexes(h)
          local r = {}
          if not live(h) then return r end
          r[#r + 1] = k('idx:instances')
          r[#r + 1] = k('idx:project-instances', h.project_id)
          if h.cluster_id == nil then
            r[#r + 1] = k('idx:standalone-instances')
            r[#r + 1] = k('idx:project-standalone-instances', h.project_id)
            if h.instance_type == 'warm' then r[#r + 1] = k('idx:warm-instances', h.datastore_version_id, h.flavor_id) end
          else
            r[#r + 1] = k('idx:cluster-members', h.cluster_id)
          end
          if h.configuration_id ~= nil then r[#r + 1] = k('idx:configuration-instances', h.configuration_id) end
          return r
        end
        local function addr_of(h)
          if live(h) and h.address ~= nil then return k('addresses', h.pool), h.address end
          return nil, nil
        end
        local function addr_free(h, id)
          local ak, a = addr_of(h)
          if ak == nil then return true end
          local holder = redis.call('HGET', ak, a)
          return (not holder) or holder == id
        end
        -- The catalogue (the seed's p, p_q, p_p): an entry's hash and the three indexes it is in.
        local function cat_del(project, id)
          local key = k('catalogue', project, id)
          local pool = redis.call('HGET', key, 'p_p')
          if not pool then return 0 end
          redis.call('DEL', key)
          redis.call('ZREM', k('catalogue'), key)
          redis.call('ZREM', k('project-catalogue', project), key)
          redis.call('ZREM', k('pool-catalogue', pool), key)
          return 1
        end
        local function cat_put(project, id, pool)
          local key = k('catalogue', project, id)
          local old = redis.call('HGET', key, 'p_p')
          if old and old ~= pool then redis.call('ZREM', k('pool-catalogue', old), key) end
          redis.call('HSET', key, 'p', project, 'p_q', id, 'p_p', pool)
          redis.call('ZADD', k('catalogue'), 0, key)
          redis.call('ZADD', k('project-catalogue', project), 0, key)
          redis.call('ZADD', k('pool-catalogue', pool), 0, key)
        end
        -- Replaces the record and moves it between indexes, address books and catalogue entries (old is nil for an
        -- insert): a live instance has the entry (project_id, id) -> pool; a delete removes it, a new project moves it.
        local function inst_write(id, old, new)
          hput(k('instance', id), new)
          if live(old) and not (live(new) and new.project_id == old.project_id) then cat_del(old.project_id, id) end
          if live(new) and not (live(old) and old.project_id == new.project_id and old.pool == new.pool) then
            cat_put(new.project_id, id, new.pool)
          end
          local keep = {}
          for _, x in ipairs(inst_indexes(new)) do keep[x] = true; redis.call('ZADD', x, new.seq, id) end
          for _, x in ipairs(inst_indexes(old)) do if not keep[x] then redis.call('ZREM', x, id) end end
          local ok, oa = addr_of(old)
          local nk, na = addr_of(new)
          if ok ~= nil and (ok ~= nk or oa ~= na) and redis.call('HGET', ok, oa) == id then redis.call('HDEL', ok, oa) end
          if nk ~= nil then redis.call('HSET', nk, na, id) end
        end
        local function task_write(t)
          hput(k('task', t.id), t)
          if t.state == 'pending' or t.state == 'running' then
            redis.call('ZADD', k('idx:unfinished-tasks'), t.created_at, t.id)
          else
            redis.call('ZREM', k('idx:unfinished-tasks'), t.id)
          end
        end
        local function cluster_write(c)
          hput(k('cluster', c.id), c)
          if live(c) then
            redis.call('ZADD', k('idx:project-clusters', c.project_id), c.seq, c.id)
          else
            redis.call('ZREM', k('idx:project-clusters', c.project_id), c.id)
          end
        end
        local function new_instance_problem(i, t)
          if exists(k('instance', i.id)) then return 'instance ' .. i.id .. ' exists' end
          if t ~= nil and exists(k('task', t.id)) then return 'task ' .. t.id .. ' exists' end
          if not addr_free(i, i.id) then return 'address ' .. i.address .. ' of pool ' .. i.pool .. ' is taken' end
          return nil
        end
        local function insert_instance(i)
          i.seq = tostring(redis.call('INCR', k('seq')))
          inst_write(i.id, nil, i)
        end
        -- nil when the members can be written; 'taken' when a warm one is no longer there to adopt; else an error.
        local function members_problem(members, ctask)
          for _, m in ipairs(members) do
            if m.task ~= nil then
              local p = new_instance_problem(m.instance, m.task)
              if p then return p end
            else
              local w = hgetall(k('instance', m.instance.id))
              if not live(w) or w.cluster_id ~= nil or w.instance_type ~= 'warm' then return 'taken' end
            end
          end
          if exists(k('task', ctask.id)) then return 'task ' .. ctask.id .. ' exists' end
          return nil
        end
        local function write_members(members, now)
          for _, m in ipairs(members) do
            local i = m.instance
            if m.task ~= nil then
              insert_instance(i)
              task_write(m.task)
            else
              local old = hgetall(k('instance', i.id))
              local new = copy(old)
              new.name = i.name; new.project_id = i.project_id; new.cluster_id = i.cluster_id
              new.instance_type = i.instance_type; new.replica_of = i.replica_of; new.root_enabled = i.root_enabled
              new.updated_at = now
              inst_write(i.id, old, new)
            end
          end
        end
        -- Writes A.rec over the record at key, or, without A.rec, applies A.set / A.unset to the record there; returns the
        -- old and new records (new is nil, and nothing is written, when there is nothing to patch).
        local function replace_or_patch(key)
          local old = hgetall(key)
          local new = A.rec
          if new == nil then
            if old == nil then return nil, nil end
            new = copy(old)
            for f, v in pairs(A.set) do new[f] = v end
            for _, f in ipairs(A.unset) do new[f] = nil end
          end
          hput(key, new)
          return old, new
        end
        -- The index a pool is in by its flavor field.
        local function pool_index(f)
          if f == nil then return k('flavorless-pools') end
          return k('flavor-pools', f)
        end
        local function detach_pools(flavor)
          local index = k('flavor-pools', flavor)
          for _, key in ipairs(redis.call('ZRANGE', index, 0, -1)) do
            redis.call('HDEL', key, 'f')
            redis.call('ZADD', k('flavorless-pools'), 0, key)
          end
          redis.call('DEL', index)
        end
        local function assignment(p, u, r) return esc(p) .. ':' .. esc(u) .. ':' .. esc(r) end
        local function unassign(m)
          local p, u, r = string.match(m, '^([^:]*):([^:]*):([^:]*)$')
          p, u, r = unesc(p), unesc(u), unesc(r)
          local n = redis.call('SREM', k('assignments'), m)
          redis.call('SREM', k('assignments-of-project', p), m)
          redis.call('SREM', k('assignments-of-user', u), m)
          redis.call('SREM', k('roles-of', p, u), r)
          return n
        end
        -- A project's quota usage (QuotaUsage): its live instances and clusters not being deleted, their volumes and their
        -- flavors' RAM (a flavor that is gone adds none). Walks the project's indexes, which its quota keeps short.
        local function flavor_ram(cache, f)
          if f == nil then return 0 end
          if cache[f] == nil then cache[f] = tonumber(redis.call('HGET', k('flavor', f), 'ram') or '0') or 0 end
          return cache[f]
        end
        local function quota_usage(project, cache)
          local u = {instances = 0, volumes = 0, ram = 0, backups = 0, clusters = 0}
          for _, id in ipairs(redis.call('ZRANGE', k('idx:project-instances', project), 0, -1)) do
            local v = redis.call('HMGET', k('instance', id), 'task_status', 'volume_size', 'flavor_id')
            if v[1] ~= 'DELETING' then
              u.instances = u.instances + 1
              u.volumes = u.volumes + (tonumber(v[2]) or 0)
              u.ram = u.ram + flavor_ram(cache, v[3] or nil)
            end
          end
          for _, id in ipairs(redis.call('ZRANGE', k('idx:project-clusters', project), 0, -1)) do
            if redis.call('HGET', k('cluster', id), 'task_status') ~= 'DELETING' then u.clusters = u.clusters + 1 end
          end
          return u
        end
        -- A.quota's limits with, given A.overrides, the project's own (its quota hash: resource -> limit, -1 none) in their
        -- place, read here in the script so an override set meanwhile is wholly before or wholly after this insert; nil
        -- when A.quota is absent (nothing to check).
        local function quota_limits(project)
          if A.quota == nil then return nil end
          local q = copy(A.quota)
          if A.overrides then
            local o = redis.call('HGETALL', k('quota', project))
            for i = 1, #o, 2 do
              local limit = tonumber(o[i + 1])
              if limit == nil or limit < 0 then q[o[i]] = nil else q[o[i]] = limit end
            end
          end
          return q
        end
        -- The resources (sorted) that adding these instances and clusters would take over the project's limits; none when
        -- it has none of those (no limit to count against).
        local function quota_overs(project, instances, clusters)
          local q = quota_limits(project)
          if q == nil or (q.instances == nil and q.volumes == nil and q.ram == nil and q.clusters == nil) then return {} end
          local cache = {}
          local add = {instances = 0, volumes = 0, ram = 0, clusters = clusters}
          for _, i in ipairs(instances) do
            add.instances = add.instances + 1
            add.volumes = add.volumes + (tonumber(i.volume_size) or 0)
            add.ram = add.ram + flavor_ram(cache, i.flavor_id)
          end
          local used = quota_usage(project, cache)
          local overs = {}
          for _, r in ipairs({'clusters', 'instances', 'ram', 'volumes'}) do
            local limit = q[r]
            if limit ~= nil and add[r] > 0 and used[r] + add[r] > limit then overs[#overs + 1] = r end
          end
          return overs
        end
        local function token_del(h)
          local t = hgetall(k('token', h))
          if t == nil then return 0 end
          redis.call('DEL', k('token', h))
          redis.call('ZREM', k('idx:token-expiry'), h)
          redis.call('SREM', k('tokens-of-user', t.user_id), h)
          redis.call('SREM', k('tokens-of-project', t.project_id), h)
          return 1
        end

        """;

    /// <summary>
    /// 1 inserted; 0 the pool already holds A.capacity catalogue entries; an array of resource names: the instance would take
    /// its project over those of A.quota's limits (nothing written but for 1).
    /// </summary>
    public const string InsertInstanceWithTask = Prelude + """
        local p = new_instance_problem(A.instance, A.task)
        if p then return redis.error_reply(p) end
        local overs = quota_overs(A.instance.project_id, {A.instance}, 0)
        if #overs > 0 then return overs end
        if A.capacity ~= nil and redis.call('ZCARD', k('pool-catalogue', A.instance.pool)) >= tonumber(A.capacity) then return 0 end
        insert_instance(A.instance)
        task_write(A.task)
        return 1
        """;

    /// <summary>1 updated; 0 no live instance (of that task or pool); -1 the new address is held by another instance.</summary>
    public const string UpdateInstance = Prelude + """
        local old = hgetall(k('instance', A.id))
        if not live(old) then return 0 end
        if A.expected ~= nil and old.task_status ~= A.expected then return 0 end
        if A.pool ~= nil and old.pool ~= A.pool then return 0 end
        local new = copy(old)
        for f, v in pairs(A.set) do new[f] = v end
        for _, f in ipairs(A.unset) do new[f] = nil end
        if not addr_free(new, A.id) then return -1 end
        inst_write(A.id, old, new)
        return 1
        """;

    public const string InsertTaskForInstance = Prelude + """
        local old = hgetall(k('instance', A.task.instance_id))
        if not live(old) or old.task_status ~= A.expected then return 0 end
        if exists(k('task', A.task.id)) then return redis.error_reply('task ' .. A.task.id .. ' exists') end
        local new = copy(old)
        new.task_status = A.new_task
        new.updated_at = A.now
        inst_write(old.id, old, new)
        task_write(A.task)
        return 1
        """;

    /// <summary>The lease operations: claim (compare and set), renew, advance, finish.</summary>
    public const string Lease = Prelude + """
        local t = hgetall(k('task', A.id))
        if t == nil then return 0 end
        if A.op == 'claim' then
          if t.state ~= 'pending' and t.state ~= 'running' then return 0 end
          if t.lease_owner ~= A.expected_owner or t.lease_until ~= A.expected_until then return 0 end
          t.lease_owner = A.owner; t.lease_until = A.lease_until; t.state = 'running'
          t.attempts = tostring(tonumber(t.attempts) + 1); t.updated_at = A.now
        elseif A.op == 'renew' then
          if t.lease_owner ~= A.owner or t.state ~= 'running' then return 0 end
          t.lease_until = A.lease_until
        elseif A.op == 'advance' then
          if t.lease_owner ~= A.owner or t.state ~= 'running' then return 0 end
          t.step = A.step; t.updated_at = A.now
          if A.payload ~= nil then t.payload = A.payload end
        elseif A.op == 'finish' then
          if t.lease_owner ~= A.owner then return 0 end
          t.state = A.state; t.error = A.error; t.lease_owner = nil; t.lease_until = nil; t.updated_at = A.now
        else
          return redis.error_reply('unknown lease operation ' .. tostring(A.op))
        end
        task_write(t)
        return 1
        """;

    /// <summary>
    /// 1 inserted; 0 a warm member to adopt was taken; an array of resource names: the cluster and its members (new and
    /// adopted) would take the project over those of A.quota's limits (nothing written but for 1).
    /// </summary>
    public const string InsertCluster = Prelude + """
        if exists(k('cluster', A.cluster.id)) then return redis.error_reply('cluster ' .. A.cluster.id .. ' exists') end
        local p = members_problem(A.members, A.task)
        if p == 'taken' then return 0 elseif p then return redis.error_reply(p) end
        local joining = {}
        for _, m in ipairs(A.members) do joining[#joining + 1] = m.instance end
        local overs = quota_overs(A.cluster.project_id, joining, 1)
        if #overs > 0 then return overs end
        A.cluster.seq = tostring(redis.call('INCR', k('seq')))
        cluster_write(A.cluster)
        write_members(A.members, A.now)
        task_write(A.task)
        return 1
        """;

    /// <summary>
    /// 1 started; 0 no live cluster in task A.expected (or a warm member taken); an array of resource names: the new members
    /// would take the cluster's project over those of A.quota's limits (nothing written but for 1).
    /// </summary>
    public const string StartClusterTask = Prelude + """
        local c = hgetall(k('cluster', A.id))
        if not live(c) or c.task_status ~= A.expected then return 0 end
        local p = members_problem(A.members, A.task)
        if p == 'taken' then return 0 elseif p then return redis.error_reply(p) end
        local joining = {}
        for _, m in ipairs(A.members) do joining[#joining + 1] = m.instance end
        if #joining > 0 then
          local overs = quota_overs(c.project_id, joining, 0)
          if #overs > 0 then return overs end
        end
        c.task_status = A.new_task
        c.updated_at = A.now
        cluster_write(c)
        write_members(A.members, A.now)
        task_write(A.task)
        return 1
        """;

    public const string UpdateCluster = Prelude + """
        local c = hgetall(k('cluster', A.id))
        if not live(c) then return 0 end
        if A.expected ~= nil and c.task_status ~= A.expected then return 0 end
        for f, v in pairs(A.set) do c[f] = v end
        cluster_write(c)
        return 1
        """;

    /// <summary>Inserts a project or user (A.kind); 0 when the id exists or the name is taken in the domain.</summary>
    public const string InsertPrincipal = Prelude + """
        local r = A.rec
        local uniq = k('uniq:' .. A.kind .. '-names')
        local field = esc(r.domain_id) .. ':' .. esc(r.name)
        if exists(k(A.kind, r.id)) or redis.call('HEXISTS', uniq, field) == 1 then return 0 end
        r.seq = tostring(redis.call('INCR', k('seq')))
        hput(k(A.kind, r.id), r)
        redis.call('ZADD', k('idx:' .. A.kind .. 's'), r.seq, r.id)
        redis.call('ZADD', k('idx:' .. A.kind .. '-names', r.name), r.seq, r.id)
        redis.call('HSET', uniq, field, r.id)
        return 1
        """;

    /// <summary>Deletes a project or user with its role assignments and tokens (SQL's ON DELETE CASCADE).</summary>
    public const string DeletePrincipal = Prelude + """
        local r = hgetall(k(A.kind, A.id))
        if r == nil then return 0 end
        redis.call('DEL', k(A.kind, A.id))
        redis.call('ZREM', k('idx:' .. A.kind .. 's'), A.id)
        redis.call('ZREM', k('idx:' .. A.kind .. '-names', r.name), A.id)
        local uniq = k('uniq:' .. A.kind .. '-names')
        local field = esc(r.domain_id) .. ':' .. esc(r.name)
        if redis.call('HGET', uniq, field) == A.id then redis.call('HDEL', uniq, field) end
        for _, m in ipairs(redis.call('SMEMBERS', k('assignments-of-' .. A.kind, A.id))) do unassign(m) end
        for _, h in ipairs(redis.call('SMEMBERS', k('tokens-of-' .. A.kind, A.id))) do token_del(h) end
        return 1
        """;

    public const string InsertRole = Prelude + """
        local r = A.rec
        if exists(k('role', r.id)) or redis.call('HEXISTS', k('uniq:role-names'), r.name) == 1 then return 0 end
        r.seq = tostring(redis.call('INCR', k('seq')))
        hput(k('role', r.id), r)
        redis.call('ZADD', k('idx:roles'), r.seq, r.id)
        redis.call('HSET', k('uniq:role-names'), r.name, r.id)
        return 1
        """;

    public const string AssignRole = Prelude + """
        if not exists(k('project', A.project)) then return redis.error_reply('no project ' .. A.project) end
        if not exists(k('user', A.user)) then return redis.error_reply('no user ' .. A.user) end
        if not exists(k('role', A.role)) then return redis.error_reply('no role ' .. A.role) end
        local m = assignment(A.project, A.user, A.role)
        redis.call('SADD', k('assignments'), m)
        redis.call('SADD', k('assignments-of-project', A.project), m)
        redis.call('SADD', k('assignments-of-user', A.user), m)
        redis.call('SADD', k('roles-of', A.project, A.user), A.role)
        return 1
        """;

    public const string UnassignRole = Prelude + """
        return unassign(assignment(A.project, A.user, A.role))
        """;

    public const string InsertToken = Prelude + """
        local t = A.rec
        if exists(k('token', t.token_hash)) then return redis.error_reply('token exists') end
        if not exists(k('user', t.user_id)) then return redis.error_reply('no user ' .. t.user_id) end
        if not exists(k('project', t.project_id)) then return redis.error_reply('no project ' .. t.project_id) end
        hput(k('token', t.token_hash), t)
        redis.call('ZADD', k('idx:token-expiry'), t.expires_at, t.token_hash)
        redis.call('SADD', k('tokens-of-user', t.user_id), t.token_hash)
        redis.call('SADD', k('tokens-of-project', t.project_id), t.token_hash)
        return 1
        """;

    public const string DeleteToken = Prelude + """
        return token_del(A.hash)
        """;

    public const string PurgeTokens = Prelude + """
        local n = 0
        for _, h in ipairs(redis.call('ZRANGEBYSCORE', k('idx:token-expiry'), '-inf', '(' .. A.now)) do n = n + token_del(h) end
        return n
        """;

    /// <summary>
    /// Inserts or replaces a flavor (A.rec), or with A.set / A.unset changes the one of A.id (0 when there is none);
    /// the flavor moves between the project indexes by its old and new <c>p</c>.
    /// </summary>
    public const string WriteFlavor = Prelude + """
        local key = k('flavor', A.id or A.rec.id)
        local old, new = replace_or_patch(key)
        if new == nil then return 0 end
        redis.call('ZADD', k('flavors'), 0, key)
        if old ~= nil and old.p ~= nil and old.p ~= new.p then redis.call('ZREM', k('project-flavors', old.p), key) end
        if new.p ~= nil then redis.call('ZADD', k('project-flavors', new.p), 0, key) end
        return 1
        """;

    /// <summary>
    /// Deletes flavor A.id (0 when there is none) and takes it off its pools, which join the flavorless ones. The one
    /// operation whose cost grows with a flavor's pools: each of them loses its <c>f</c> field.
    /// </summary>
    public const string DeleteFlavor = Prelude + """
        local key = k('flavor', A.id)
        local p = redis.call('HGET', key, 'p')
        if redis.call('DEL', key) == 0 then return 0 end
        redis.call('ZREM', k('flavors'), key)
        if p then redis.call('ZREM', k('project-flavors', p), key) end
        detach_pools(A.id)
        return 1
        """;

    /// <summary>Takes flavor A.id off all its pools (what dropping every flavor does per flavor-pools index).</summary>
    public const string DetachFlavorPools = Prelude + """
        detach_pools(A.id)
        return 1
        """;

    /// <summary>
    /// Inserts or replaces a pool (A.rec), or with A.set / A.unset changes the one named A.name (0 when there is none);
    /// the pool moves from its old flavor's index to its new one (<c>flavorless-pools</c> when it has none).
    /// </summary>
    public const string WritePool = Prelude + """
        local key = k('pool', A.name or A.rec.p)
        local old, new = replace_or_patch(key)
        if new == nil then return 0 end
        redis.call('ZADD', k('pools'), 0, key)
        if old ~= nil and old.f ~= new.f then redis.call('ZREM', pool_index(old.f), key) end
        redis.call('ZADD', pool_index(new.f), 0, key)
        return 1
        """;

    /// <summary>1 deleted; 0 no such pool; 2 it hosts instances; 3 it is the last pool of a flavor that exists.</summary>
    public const string DeletePool = Prelude + """
        local key = k('pool', A.name)
        local h = hgetall(key)
        if h == nil then return 0 end
        if redis.call('ZCARD', k('pool-catalogue', A.name)) > 0 then return 2 end
        if h.f ~= nil and exists(k('flavor', h.f)) and redis.call('ZCARD', k('flavor-pools', h.f)) <= 1 then return 3 end
        redis.call('DEL', key)
        redis.call('ZREM', k('pools'), key)
        redis.call('ZREM', pool_index(h.f), key)
        return 1
        """;

    /// <summary>Records entry (A.project, A.id) -> A.pool; with A.existing, only when there is one (else 0).</summary>
    public const string PutCatalogueEntry = Prelude + """
        if A.existing and not exists(k('catalogue', A.project, A.id)) then return 0 end
        cat_put(A.project, A.id, A.pool)
        return 1
        """;

    public const string DeleteCatalogueEntry = Prelude + """
        return cat_del(A.project, A.id)
        """;

    public const string UpsertDatastore = Prelude + """
        local d = A.rec
        local holder = redis.call('HGET', k('uniq:datastore-names'), d.name)
        if holder and holder ~= d.id then return redis.error_reply('datastore name ' .. d.name .. ' is taken') end
        local old = hgetall(k('datastore', d.id))
        if old ~= nil and old.name ~= d.name then redis.call('HDEL', k('uniq:datastore-names'), old.name) end
        hput(k('datastore', d.id), d)
        redis.call('SADD', k('idx:datastores'), d.id)
        redis.call('HSET', k('uniq:datastore-names'), d.name, d.id)
        return 1
        """;

    /// <summary>Like SQL's upsert: an existing version keeps its datastore; a new one needs its datastore to exist.</summary>
    public const string UpsertDatastoreVersion = Prelude + """
        local v = A.rec
        local old = hgetall(k('datastore-version', v.id))
        if old ~= nil then
          v.datastore_id = old.datastore_id
        elseif not exists(k('datastore', v.datastore_id)) then
          return redis.error_reply('no datastore ' .. v.datastore_id)
        end
        local uniq = k('uniq:datastore-version-names')
        local field = esc(v.datastore_id) .. ':' .. esc(v.name)
        local holder = redis.call('HGET', uniq, field)
        if holder and holder ~= v.id then return redis.error_reply('datastore version name ' .. v.name .. ' is taken') end
        if old ~= nil and old.name ~= v.name then redis.call('HDEL', uniq, esc(old.datastore_id) .. ':' .. esc(old.name)) end
        hput(k('datastore-version', v.id), v)
        redis.call('SADD', k('idx:datastore-versions'), v.id)
        redis.call('SADD', k('idx:datastore-versions-of', v.datastore_id), v.id)
        redis.call('HSET', uniq, field, v.id)
        return 1
        """;

    /// <summary>
    /// The backup helpers: a live backup is in the all, project, instance and project-instance indexes by seq, and in its
    /// parent's set of live children (what a delete of the parent checks).
    /// </summary>
    private const string BackupPrelude = Prelude + """
        local function backup_indexes(h)
          local r = {}
          if not live(h) then return r end
          r[#r + 1] = k('idx:backups')
          r[#r + 1] = k('idx:project-backups', h.project_id)
          r[#r + 1] = k('idx:instance-backups', h.instance_id)
          r[#r + 1] = k('idx:project-instance-backups', h.project_id, h.instance_id)
          return r
        end
        -- Replaces the record (old is nil for an insert) and moves it between the indexes and its parent's children.
        local function backup_write(id, old, new)
          hput(k('backup', id), new)
          local keep = {}
          for _, x in ipairs(backup_indexes(new)) do keep[x] = true; redis.call('ZADD', x, new.seq, id) end
          for _, x in ipairs(backup_indexes(old)) do if not keep[x] then redis.call('ZREM', x, id) end end
          if live(old) and old.parent_id ~= nil and not (live(new) and new.parent_id == old.parent_id) then
            redis.call('SREM', k('idx:backup-children', old.parent_id), id)
          end
          if live(new) and new.parent_id ~= nil then redis.call('SADD', k('idx:backup-children', new.parent_id), id) end
        end

        """;

    /// <summary>
    /// 1 inserted; 0 the backup has a parent that is not a live A.completed backup of its instance; 2 A.quota (with the
    /// project's override, given A.overrides) limits backups and the project already has that many live backups not in
    /// state A.deleting; 3 A.claim is set and the backup's instance is not live with task A.none (nothing written in any of
    /// these cases; with A.claim the instance becomes A.backing_up). The count walks the project's index, which the quota
    /// keeps short.
    /// </summary>
    public const string InsertBackupWithTask = BackupPrelude + """
        local b = A.backup
        if exists(k('backup', b.id)) then return redis.error_reply('backup ' .. b.id .. ' exists') end
        if exists(k('task', A.task.id)) then return redis.error_reply('task ' .. A.task.id .. ' exists') end
        local q = quota_limits(b.project_id)
        if q ~= nil and q.backups ~= nil then
          local held = 0
          for _, id in ipairs(redis.call('ZRANGE', k('idx:project-backups', b.project_id), 0, -1)) do
            if redis.call('HGET', k('backup', id), 'state') ~= A.deleting then held = held + 1 end
          end
          if held >= q.backups then return 2 end
        end
        if b.parent_id ~= nil then
          local parent = hgetall(k('backup', b.parent_id))
          if not live(parent) or parent.state ~= A.completed or parent.instance_id ~= b.instance_id then return 0 end
        end
        if A.claim ~= nil then
          local old = hgetall(k('instance', b.instance_id))
          if not live(old) or old.task_status ~= A.none then return 3 end
          local new = copy(old)
          new.task_status = A.backing_up
          new.updated_at = A.now
          inst_write(old.id, old, new)
        end
        b.seq = tostring(redis.call('INCR', k('seq')))
        backup_write(b.id, nil, b)
        task_write(A.task)
        return 1
        """;

    /// <summary>1 updated; 0 no live backup of A.id. A.set / A.unset patch the record (deleted=1 takes it off its indexes).</summary>
    public const string UpdateBackup = BackupPrelude + """
        local old = hgetall(k('backup', A.id))
        if not live(old) then return 0 end
        local new = copy(old)
        for f, v in pairs(A.set) do new[f] = v end
        for _, f in ipairs(A.unset) do new[f] = nil end
        backup_write(A.id, old, new)
        return 1
        """;

    /// <summary>
    /// 1 started (the backup is A.deleting, its task written); 0 no live backup; 2 busy (its state is one of A.busy);
    /// 3 a live backup has it as parent.
    /// </summary>
    public const string StartBackupDelete = BackupPrelude + """
        local old = hgetall(k('backup', A.id))
        if not live(old) then return 0 end
        for _, s in ipairs(A.busy) do if old.state == s then return 2 end end
        if redis.call('SCARD', k('idx:backup-children', A.id)) > 0 then return 3 end
        if exists(k('task', A.task.id)) then return redis.error_reply('task ' .. A.task.id .. ' exists') end
        local new = copy(old)
        new.state = A.deleting
        new.updated_at = A.now
        backup_write(A.id, old, new)
        task_write(A.task)
        return 1
        """;

    /// <summary>
    /// The configuration-group helpers: a live group is in the all and project indexes by seq. Which live instances have
    /// it attached is <c>idx:configuration-instances</c>, kept by <c>inst_write</c> with the instance's other indexes (an
    /// insert, an attach or detach, and a delete all go through it).
    /// </summary>
    private const string ConfigurationPrelude = Prelude + """
        local function configuration_write(c)
          hput(k('configuration', c.id), c)
          for _, x in ipairs({ k('idx:configurations'), k('idx:project-configurations', c.project_id) }) do
            if live(c) then redis.call('ZADD', x, c.seq, c.id) else redis.call('ZREM', x, c.id) end
          end
        end

        """;

    public const string InsertConfiguration = ConfigurationPrelude + """
        local c = A.rec
        if exists(k('configuration', c.id)) then return redis.error_reply('configuration ' .. c.id .. ' exists') end
        c.seq = tostring(redis.call('INCR', k('seq')))
        configuration_write(c)
        return 1
        """;

    /// <summary>1 updated; 0 no live group of A.id. A.set / A.unset patch the record.</summary>
    public const string UpdateConfiguration = ConfigurationPrelude + """
        local c = hgetall(k('configuration', A.id))
        if not live(c) then return 0 end
        for f, v in pairs(A.set) do c[f] = v end
        for _, f in ipairs(A.unset) do c[f] = nil end
        configuration_write(c)
        return 1
        """;

    /// <summary>1 deleted (kept with deleted=1); 0 no live group; 2 a live instance has it attached.</summary>
    public const string DeleteConfiguration = ConfigurationPrelude + """
        local c = hgetall(k('configuration', A.id))
        if not live(c) then return 0 end
        if redis.call('ZCARD', k('idx:configuration-instances', A.id)) > 0 then return 2 end
        c.deleted = '1'
        c.updated_at = A.now
        configuration_write(c)
        return 1
        """;

    /// <summary>
    /// Sets live instance A.instance's group to A.configuration (absent: detaches) when it has A.expected (absent: none).
    /// 1 done; 0 no live instance; 2 the group is not live; 3 the instance's group is not A.expected.
    /// </summary>
    public const string AttachConfiguration = ConfigurationPrelude + """
        local old = hgetall(k('instance', A.instance))
        if not live(old) then return 0 end
        if old.configuration_id ~= A.expected then return 3 end
        if A.configuration ~= nil and not live(hgetall(k('configuration', A.configuration))) then return 2 end
        local new = copy(old)
        new.configuration_id = A.configuration
        new.updated_at = A.now
        inst_write(A.instance, old, new)
        return 1
        """;

    /// <summary>
    /// The backup schedule helpers: a schedule is in the all, project and instance indexes by creation time (ties by id),
    /// and, while enabled, in the due index by its next run time.
    /// </summary>
    private const string SchedulePrelude = Prelude + """
        local function schedule_write(id, old, new)
          hput(k('schedule', id), new)
          redis.call('ZADD', k('idx:schedules'), new.created_at, id)
          redis.call('ZADD', k('idx:project-schedules', new.project_id), new.created_at, id)
          redis.call('ZADD', k('idx:instance-schedules', new.instance_id), new.created_at, id)
          if new.enabled == '1' then
            redis.call('ZADD', k('idx:due-schedules'), new.next_run_at, id)
          else
            redis.call('ZREM', k('idx:due-schedules'), id)
          end
        end
        local function schedule_delete(id)
          local old = hgetall(k('schedule', id))
          if old == nil then return 0 end
          redis.call('DEL', k('schedule', id))
          redis.call('ZREM', k('idx:schedules'), id)
          redis.call('ZREM', k('idx:project-schedules', old.project_id), id)
          redis.call('ZREM', k('idx:instance-schedules', old.instance_id), id)
          redis.call('ZREM', k('idx:due-schedules'), id)
          return 1
        end

        """;

    /// <summary>Inserts the schedule A.schedule; an error when its id exists.</summary>
    public const string InsertSchedule = SchedulePrelude + """
        local s = A.schedule
        if exists(k('schedule', s.id)) then return redis.error_reply('backup schedule ' .. s.id .. ' exists') end
        schedule_write(s.id, nil, s)
        return 1
        """;

    /// <summary>1 updated; 0 no schedule A.id. A.set / A.unset patch the record.</summary>
    public const string UpdateSchedule = SchedulePrelude + """
        local old = hgetall(k('schedule', A.id))
        if old == nil then return 0 end
        local new = copy(old)
        for f, v in pairs(A.set) do new[f] = v end
        for _, f in ipairs(A.unset) do new[f] = nil end
        schedule_write(A.id, old, new)
        return 1
        """;

    /// <summary>1 claimed (next_run_at moved from A.expected to A.next); 0 the schedule is gone, disabled or no longer due then.</summary>
    public const string ClaimSchedule = SchedulePrelude + """
        local old = hgetall(k('schedule', A.id))
        if old == nil or old.enabled ~= '1' or old.next_run_at ~= A.expected then return 0 end
        local new = copy(old)
        new.next_run_at = A.next
        schedule_write(A.id, old, new)
        return 1
        """;

    /// <summary>Deletes schedule A.id (1), or finds none (0).</summary>
    public const string DeleteSchedule = SchedulePrelude + """
        return schedule_delete(A.id)
        """;

    /// <summary>Deletes every schedule of instance A.instance; returns how many.</summary>
    public const string DeleteInstanceSchedules = SchedulePrelude + """
        local n = 0
        for _, id in ipairs(redis.call('ZRANGE', k('idx:instance-schedules', A.instance), 0, -1)) do n = n + schedule_delete(id) end
        return n
        """;

    /// <summary>A.project's quota usage: {instances, volumes, ram, backups, clusters}.</summary>
    public const string QuotaUsage = Prelude + """
        local u = quota_usage(A.project, {})
        for _, id in ipairs(redis.call('ZRANGE', k('idx:project-backups', A.project), 0, -1)) do
          if redis.call('HGET', k('backup', id), 'state') ~= 'DELETING' then u.backups = u.backups + 1 end
        end
        return {u.instances, u.volumes, u.ram, u.backups, u.clusters}
        """;

    /// <summary>Writes the layout version unless one is there; returns the version found afterwards.</summary>
    public const string Migrate = """
        redis.call('SET', KEYS[1], ARGV[1], 'NX')
        return redis.call('GET', KEYS[1])
        """;
}
