"""PostgreSQL: a function that appends a batch of decisions in one statement, linking the chain on the server.

Why: the batch took two round trips (BEGIN and the chain head FOR UPDATE, then the rows and COMMIT), and the
head stayed locked from the first answer to the commit. Under load the gateway's event loop reads that answer
only when its turn comes, after the requests ahead of it, so the other workers waited for the lock on a busy
loop as well as on the network and the disk, and the CPUs idled. Here the lock is taken and released inside one
statement that the server runs from start to commit without waiting for the gateway. Measured on 2 cores, 2
workers, PostgreSQL with fsync on the same host, the two ways interleaved in one run (4 rounds, medians):
POST /consent at 0.74 x the same endpoint with the write off instead of 0.68 x, the machine busy 97-99 % of the
time instead of 87-89 %. Its plans are cached per session, as a prepared statement's would be, without SQL
PREPARE (which a pooler in transaction mode breaks: the next transaction may land on a session that never
prepared it).

The function computes exactly what chain.PendingHash computes in Python: the gateway sends each record's
canonical text in two pieces, around its seq (which only the head decides), and the function puts
``prev_hash || E'\\n' || before || seq || after`` through sha256, record after record. `gateway consents
verify` recomputes every hash in Python from the stored fields, and tests/test_pg_append.py checks the two
agree on awkward text.

The call, in autocommit (its own transaction): ``SELECT * FROM tag_gateway_append(texts, records, pieces)``

* ``texts``: a JSON array of banner_texts rows (inserted unless their hash is there already);
* ``records``: a JSON array of consent_records rows whose ``seq`` is the record's position in the batch,
  1, 2, ... (it becomes head_seq + position; prev_hash and record_hash are filled in here);
* ``pieces``: a JSON array of 2 texts per record, its canonical text before the seq and after it;

and it answers the head it appended after (``previous_seq``, ``previous_hash``) and the new one's hash
(``new_head_hash``), from which the gateway can link its own copy of the rows and check that both sides agree.

Each table's rows go through json_populate_recordset into the table's own row type. The records' INSERT names
every column of consent_records (as of 0005): a migration that adds a column must replace this function with
one that names it too, or the column stays NULL in every record written on PostgreSQL;
tests/test_pg_append.py fails when a column of the table is not stored. (Naming them costs less than putting
the computed seq and hashes into each row with json_populate_record, which cost 5 us more per record of some
39 on the server, measured in 6 interleaved runs.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The variables are prefixed (v_, p_) so none shares a name with a column (plpgsql refuses ambiguous names).
CREATE = r"""
CREATE FUNCTION tag_gateway_append(p_texts json, p_records json, p_pieces json,
                                   OUT previous_seq bigint, OUT previous_hash text, OUT new_head_hash text)
LANGUAGE plpgsql AS $function$
DECLARE
    v_pieces text[] := ARRAY(SELECT json_array_elements_text(p_pieces));
    v_count integer := json_array_length(p_records);
    v_hash text;
    v_prev_hashes text[];
    v_hashes text[];
BEGIN
    IF coalesce(array_length(v_pieces, 1), 0) <> 2 * v_count THEN
        RAISE EXCEPTION 'tag_gateway_append: % pieces for % records (2 per record)',
            coalesce(array_length(v_pieces, 1), 0), v_count;
    END IF;
    SELECT state.head_seq, state.head_hash INTO previous_seq, previous_hash FROM chain_state AS state WHERE id = 1
        FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tag_gateway_append: chain_state has no head (id 1)';
    END IF;
    v_hash := previous_hash;
    FOR v_at IN 1 .. v_count LOOP
        v_prev_hashes[v_at] := v_hash;
        v_hash := encode(sha256(convert_to(
            v_hash || E'\n' || v_pieces[2 * v_at - 1] || (previous_seq + v_at)::text || v_pieces[2 * v_at],
            'UTF8')), 'hex');
        v_hashes[v_at] := v_hash;
    END LOOP;
    INSERT INTO banner_texts
        SELECT * FROM json_populate_recordset(NULL::banner_texts, p_texts) ON CONFLICT (hash) DO NOTHING;
    INSERT INTO consent_records (seq, prev_hash, record_hash, consent_id, decided_at, action, categories, offered,
                                 region, rule, gpc, policy_version, container_version, banner_texts_hash, language,
                                 ip_prefix, user_agent, personal_salt, personal_digest, erased_at, site,
                                 vendors_refused, vendors_offered)
        SELECT previous_seq + given.seq, v_prev_hashes[given.seq], v_hashes[given.seq], given.consent_id,
               given.decided_at, given.action, given.categories, given.offered, given.region, given.rule, given.gpc,
               given.policy_version, given.container_version, given.banner_texts_hash, given.language,
               given.ip_prefix, given.user_agent, given.personal_salt, given.personal_digest, given.erased_at,
               given.site, given.vendors_refused, given.vendors_offered
        FROM json_populate_recordset(NULL::consent_records, p_records) AS given;
    UPDATE chain_state AS state SET head_seq = previous_seq + v_count, head_hash = v_hash WHERE state.id = 1;
    new_head_hash := v_hash;
END
$function$
"""


# sha256() came with PostgreSQL 11: on an older server the migration fails (and the gateway does not start)
# with this message, rather than every POST /consent failing later.
REQUIRE_SHA256 = r"""
DO $check$
BEGIN
    IF current_setting('server_version_num')::integer < 110000 THEN
        RAISE EXCEPTION 'the consent log needs PostgreSQL 11 or newer (sha256()); this server is %',
            current_setting('server_version');
    END IF;
END
$check$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REQUIRE_SHA256)
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tag_gateway_append(json, json, json)")
