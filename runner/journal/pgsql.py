"""The SQL of the PostgreSQL journal (`mwsync.journal.postgres`): schema, claims, leases. No I/O here.

Every time is PostgreSQL's own `clock_timestamp()`, never a runner's clock: runners on several machines
drift, and a lease is only meaningful on one clock. Placeholders are psycopg's `%(name)s`.
Tables are prefixed `mwsync_` so the journal can live in a database that holds other things.
"""

from __future__ import annotations

SCHEMA_VERSION = "1"
#: pg_advisory_xact_lock key held while the schema is created (runners starting together race for it).
SCHEMA_LOCK = 0x6D7773796E63  # "mwsync"

SCHEMA = """
CREATE TABLE IF NOT EXISTS mwsync_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mwsync_runs (
    run_id TEXT PRIMARY KEY, target TEXT NOT NULL, job TEXT NOT NULL, host TEXT, pid INTEGER,
    started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), lease_until TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS mwsync_deliveries (
    target TEXT NOT NULL, job TEXT NOT NULL, key TEXT NOT NULL, recipient TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'pending', 'sent', 'failed', 'unknown')),
    prior_state TEXT CHECK (prior_state IN ('failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER, error_code TEXT, error_message TEXT,
    request_id TEXT, run_id TEXT NOT NULL, source_row INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (target, job, key, recipient)
);
CREATE INDEX IF NOT EXISTS mwsync_deliveries_request ON mwsync_deliveries (request_id);
CREATE INDEX IF NOT EXISTS mwsync_deliveries_run ON mwsync_deliveries (run_id);
CREATE INDEX IF NOT EXISTS mwsync_deliveries_open ON mwsync_deliveries (target, job, run_id)
    WHERE state IN ('claimed', 'pending');
"""

_ALIVE = ("EXISTS (SELECT 1 FROM mwsync_runs r WHERE r.run_id = {owner} AND r.ended_at IS NULL "
          "AND r.lease_until > clock_timestamp())")
RUN_ALIVE = _ALIVE.format(owner="%(run)s")
OWNER_ALIVE = _ALIVE.format(owner="d.run_id")
_INPUT = "unnest(%(keys)s::text[], %(recipients)s::text[], %(contents)s::text[], %(rows)s::int[]) " \
         "AS t(key, recipient, content, row)"

REGISTER = """INSERT INTO mwsync_runs (run_id, target, job, host, pid, lease_until)
VALUES (%(run)s, %(target)s, %(job)s, %(host)s, %(pid)s, clock_timestamp() + make_interval(secs => %(lease_s)s))"""

RENEW = """UPDATE mwsync_runs SET lease_until = clock_timestamp() + make_interval(secs => %(lease_s)s)
WHERE run_id = %(run)s AND ended_at IS NULL AND lease_until > clock_timestamp()"""

END_RUN = "UPDATE mwsync_runs SET lease_until = clock_timestamp(), ended_at = clock_timestamp() WHERE run_id = %(run)s"

#: One statement, one snapshot: new deliveries are inserted, existing ones re-claimed when the API refused
#: them (`failed`), when in doubt and the run resends those (`%(reclaimable)s`), or when a dead runner's
#: claim never got its request started. A row another transaction inserts meanwhile is left to it.
CLAIM = f"""WITH input AS (SELECT * FROM {_INPUT}),
new AS (
    INSERT INTO mwsync_deliveries (target, job, key, recipient, content_hash, state, run_id, source_row)
    SELECT %(target)s, %(job)s, key, recipient, content, 'claimed', %(run)s, row FROM input ORDER BY key, recipient
    ON CONFLICT DO NOTHING RETURNING key, recipient
), again AS (
    UPDATE mwsync_deliveries d SET state = 'claimed', run_id = %(run)s, request_id = NULL,
        prior_state = CASE WHEN d.state = 'claimed' THEN d.prior_state ELSE d.state END,
        content_hash = t.content, source_row = t.row, updated_at = clock_timestamp()
    FROM input t
    WHERE d.target = %(target)s AND d.job = %(job)s AND d.key = t.key AND d.recipient = t.recipient
      AND (d.state = ANY(%(reclaimable)s) OR (d.state = 'claimed' AND d.run_id <> %(run)s AND NOT {OWNER_ALIVE}))
    RETURNING d.key, d.recipient
)
SELECT key, recipient FROM new UNION ALL SELECT key, recipient FROM again"""

BEGIN = f"""UPDATE mwsync_deliveries d SET state = 'pending', request_id = %(request)s, updated_at = clock_timestamp()
FROM unnest(%(keys)s::text[], %(recipients)s::text[]) AS t(key, recipient)
WHERE d.target = %(target)s AND d.job = %(job)s AND d.key = t.key AND d.recipient = t.recipient
  AND d.run_id = %(run)s AND d.state = 'claimed' AND {RUN_ALIVE}"""

FINISH = """UPDATE mwsync_deliveries SET state = %(state)s, attempts = attempts + %(attempts)s,
    http_status = %(status)s, error_code = %(code)s, error_message = %(error)s, prior_state = NULL,
    updated_at = clock_timestamp()
WHERE request_id = %(request)s AND run_id = %(run)s AND state IN ('pending', 'unknown')"""

LOOKUP = """SELECT d.recipient, d.state, d.prior_state, d.content_hash, d.run_id = %(run)s,
    COALESCE(r.ended_at IS NULL AND r.lease_until > clock_timestamp(), false)
FROM mwsync_deliveries d LEFT JOIN mwsync_runs r ON r.run_id = d.run_id
WHERE d.target = %(target)s AND d.job = %(job)s AND d.key = %(key)s"""

_DEAD = f"d.target = %(target)s AND d.job = %(job)s AND NOT {OWNER_ALIVE}"
#: The sweep, run at start and at every lease renewal, by any runner: what a dead runner left.
SWEEP_PENDING = f"""UPDATE mwsync_deliveries d SET state = 'unknown', prior_state = NULL,
    updated_at = clock_timestamp(), error_message = 'in flight when its runner stopped (its lease expired)'
WHERE d.state = 'pending' AND {_DEAD}"""
SWEEP_NEW_CLAIMS = f"DELETE FROM mwsync_deliveries d WHERE d.state = 'claimed' AND d.prior_state IS NULL AND {_DEAD}"
SWEEP_RECLAIMS = f"""UPDATE mwsync_deliveries d SET state = d.prior_state, prior_state = NULL,
    updated_at = clock_timestamp() WHERE d.state = 'claimed' AND d.prior_state IS NOT NULL AND {_DEAD}"""

#: At the end of a run, its own leftovers: claims whose request never started, and requests whose
#: outcome could not be recorded (in doubt).
RELEASE_NEW_CLAIMS = ("DELETE FROM mwsync_deliveries WHERE run_id = %(run)s AND state = 'claimed' "
                      "AND prior_state IS NULL")
RELEASE_RECLAIMS = """UPDATE mwsync_deliveries SET state = prior_state, prior_state = NULL,
    updated_at = clock_timestamp() WHERE run_id = %(run)s AND state = 'claimed' AND prior_state IS NOT NULL"""
ABANDON_PENDING = """UPDATE mwsync_deliveries SET state = 'unknown', updated_at = clock_timestamp(),
    error_message = 'in flight when its run stopped' WHERE run_id = %(run)s AND state = 'pending'"""

RANK = ("CASE state WHEN 'unknown' THEN 5 WHEN 'failed' THEN 4 WHEN 'pending' THEN 3 WHEN 'claimed' THEN 2 "
        "ELSE 1 END")
RANKED = {5: "unknown", 4: "failed", 3: "pending", 2: "claimed", 1: "sent"}
