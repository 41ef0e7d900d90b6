"""SQL of the hotspot analysis (热点分析, 第十八条, 第十九条): the topic and place of every work
order (table ``hotspot_orders``, migration 0510) and the counts over it.

**Topic and place of an order** — derived once per order from ``work_orders`` (topic, category,
district and address never change after intake) and kept in ``hotspot_orders``; the reading
statements below count over that table. Finding the place words in an order's text is the costly
part (about 25 µs per order; 2.7 s for 100 000 orders on the development machine, where the
counts of a 30-day report over them take 0.3 s), so it is not redone for every report.
:func:`resolve` fills the missing rows before each report and re-derives the rows made with
another place catalogue (an administrator deactivated a street, the shipped keywords changed) or
with an older :data:`RESOLVER_VERSION`. A high-water mark (table ``hotspot_resolved``, migration
0531, see :class:`Mark`) records how far that went for the current catalogue, so a report only
looks at the orders registered since the previous one (and, once, at the part of its range before
the mark); when nothing is left to derive it writes nothing and takes no lock — reports do not
queue behind each other. Deriving itself runs under an advisory lock, so each order is derived
once.

* topic (主题): the order's ``topic`` in NFKC, upper case, without spaces and punctuation
  (``路灯 不亮!`` and ``路灯不亮`` are one topic), at most 80 characters; an order without a topic
  counts under its category (诉求类别): ``投诉(未填主题)``.
* place (地点), from the member units of kind ``district`` (辖市区) and ``street`` (街道/镇) with
  their code, short name, name and keywords (the words citizens use, ``member-units.json``):

  1. the order's ``district`` field names a district when it contains one of its words (or one
     of its streets' words: the street's district); district words first, then the longest;
  2. the street is the one whose longest word occurs in the district field or the address —
     among the streets of the district named in 1 when there is one (an address that mentions a
     street elsewhere does not overrule the district the agent entered);
  3. the district is the one named in 1, else the street's district, else the district whose
     longest word occurs in the address;
  4. the address key is the address in NFKC, upper case, without spaces.

  An order whose text names no known place has neither (``地点未明``).

Every registered order counts, in the window that contains its ``created_at`` (the instant it was
registered), whatever became of it: a demand not accepted (第九条) or merged into another order as
a duplicate is still something citizens raised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from workflow.model import CATEGORY_LABELS, FINAL_STATES

RESOLVER_VERSION = "1"
"""Part of the catalogue fingerprint: bump it when the derivation rules change, and every row is
derived again (lazily, range by range)."""

UNKNOWN = ""  # place key of an order whose place is not known (地点未明)
CITY = "*"  # place key of the city level (全市)

PLACE_SQL = {
    "street": f"coalesce(h.street, h.district, '{UNKNOWN}')",  # the most precise place known
    "district": f"coalesce(h.district, '{UNKNOWN}')",
    "city": f"'{CITY}'::text",
}
"""The place key of a ``hotspot_orders h`` row at each level (``by=``)."""

_LOCK_KEY = 0x5EED_0510  # advisory lock serializing derivations across instances

_PUNCT = r"[[:space:][:punct:]。、，．：；！？“”‘’「」『』（）《》〈〉【】〔〕…—～·・]+"
_CATEGORY = ("CASE s.category "
             + " ".join(f"WHEN '{k.value}' THEN '{v}'" for k, v in CATEGORY_LABELS.items())
             + " ELSE s.category END")  # fmt: skip

_FP = f"""fp AS (               -- fingerprint of the place catalogue and of these rules
    SELECT md5('{RESOLVER_VERSION};' || coalesce(string_agg(
               concat_ws('|', u.code, u.kind, u.parent, u.short, u.name,
                         array_to_string(u.keywords, ',')), ';' ORDER BY u.code), '')) AS v
    FROM member_units u WHERE u.active AND u.kind IN ('district', 'street')
)"""

# The orders a report reading from $1 may find underived, given the mark (since $2, up to id
# $3; see Mark): the head, registered in [$1, $2) — $2 NULL: no mark yet, so no end — and the
# tail, registered from $2 on with an id above $3. Two index range scans (created_at, then the
# primary key): once the report's range is behind the mark, only the orders since the mark.
_HEAD = "o.created_at >= $1::timestamptz AND o.created_at < coalesce($2::timestamptz, 'infinity')"
_TAIL = "o.id > $3::bigint AND o.created_at >= coalesce($2::timestamptz, 'infinity')"
_TODO_COLS = """o.id, o.created_at, o.category, o.doc ->> 'topic' AS topic,
       upper(normalize(btrim(coalesce(o.district, '')), NFKC)) AS dtext,
       upper(normalize(coalesce(o.doc ->> 'address', ''), NFKC)) AS atext"""

# $1, $2, $3: as above. Derives the head and the tail (rows missing, or made with another
# catalogue); returns the fingerprint used, the rows written and the snapshot's xmin.
# Place words are found through their first two characters: every two-character substring of the
# order's text is looked up (a hash join), and only those candidates are compared in full — a
# few lookups per character instead of comparing every word with every order.
_RESOLVE = f"""
WITH {_FP},
cat AS (                   -- every place word: code, short name, name and keywords
    SELECT DISTINCT u.code, u.kind, u.parent, x.word, left(x.word, 2) AS head
    FROM member_units u
    CROSS JOIN LATERAL unnest(u.keywords || ARRAY[u.short, u.name, u.code]) AS w(word)
    CROSS JOIN LATERAL (SELECT upper(normalize(w.word, NFKC)) AS word) AS x
    WHERE u.active AND u.kind IN ('district', 'street') AND char_length(x.word) >= 2
),
todo AS (                  -- orders not derived yet, or with another catalogue
    SELECT {_TODO_COLS} FROM work_orders o CROSS JOIN fp
    LEFT JOIN hotspot_orders h ON h.order_id = o.id
    WHERE {_HEAD} AND (h.order_id IS NULL OR h.catalogue <> fp.v)
    UNION ALL
    SELECT {_TODO_COLS} FROM work_orders o CROSS JOIN fp
    LEFT JOIN hotspot_orders h ON h.order_id = o.id
    WHERE {_TAIL} AND (h.order_id IS NULL OR h.catalogue <> fp.v)
),
src AS MATERIALIZED (
    SELECT t.*, t.dtext || ' ' || t.atext AS txt FROM todo t
),
hit AS (                   -- the place words each order's text contains
    SELECT DISTINCT s.id, c.code, c.kind, c.parent, char_length(c.word) AS len,
           strpos(s.dtext, c.word) > 0 AS in_dfield, strpos(s.atext, c.word) > 0 AS in_addr
    FROM src s
    CROSS JOIN LATERAL generate_series(1, char_length(s.txt) - 1) AS g(i)
    JOIN cat c ON c.head = substr(s.txt, g.i, 2)
    WHERE substr(s.txt, g.i, char_length(c.word)) = c.word
),
named AS (                 -- 1. the district the district field names
    SELECT DISTINCT ON (h.id) h.id,
           CASE WHEN h.kind = 'district' THEN h.code ELSE h.parent END AS district
    FROM hit h WHERE h.in_dfield
    ORDER BY h.id, h.kind = 'district' DESC, h.len DESC, h.code
),
st AS (                    -- 2. the street (within that district, if one is named)
    SELECT DISTINCT ON (h.id) h.id, h.code, h.parent
    FROM hit h LEFT JOIN named n ON n.id = h.id
    WHERE h.kind = 'street' AND (n.district IS NULL OR h.parent = n.district)
    ORDER BY h.id, h.len DESC, h.code
),
ad AS (                    -- 3. a district the address mentions (used when 1 and 2 found none)
    SELECT DISTINCT ON (h.id) h.id, h.code
    FROM hit h WHERE h.kind = 'district' AND h.in_addr
    ORDER BY h.id, h.len DESC, h.code
),
ins AS (
    INSERT INTO hotspot_orders (order_id, created_at, topic, street, district, address,
                                catalogue)
    SELECT s.id, s.created_at,
           CASE WHEN t.k <> '' THEN left(t.k, 80) ELSE {_CATEGORY} || '(未填主题)' END,
           st.code, coalesce(named.district, st.parent, ad.code),
           nullif(left(regexp_replace(s.atext, '[[:space:]]+', '', 'g'), 120), ''), fp.v
    FROM src s
    CROSS JOIN fp
    CROSS JOIN LATERAL (SELECT regexp_replace(upper(normalize(coalesce(s.topic, ''), NFKC)),
                                              '{_PUNCT}', '', 'g') AS k) AS t
    LEFT JOIN named ON named.id = s.id
    LEFT JOIN st ON st.id = s.id
    LEFT JOIN ad ON ad.id = s.id
    ORDER BY s.id
    ON CONFLICT (order_id) DO UPDATE SET
        topic = EXCLUDED.topic, street = EXCLUDED.street, district = EXCLUDED.district,
        address = EXCLUDED.address, catalogue = EXCLUDED.catalogue
    RETURNING 1
),
stale AS (                 -- a mark of another catalogue claims rows that may be rewritten now
    DELETE FROM hotspot_resolved r USING fp WHERE r.catalogue <> fp.v
)
SELECT fp.v AS catalogue, (SELECT count(*) FROM ins)::integer AS n,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin
FROM fp
"""


# $1, $2, $3: as above; $4: the catalogue. Whether anything is left to derive (reads only).
_CHECK = f"""
SELECT EXISTS (SELECT 1 FROM work_orders o LEFT JOIN hotspot_orders h ON h.order_id = o.id
               WHERE {_HEAD} AND (h.order_id IS NULL OR h.catalogue <> $4::text))
    OR EXISTS (SELECT 1 FROM work_orders o LEFT JOIN hotspot_orders h ON h.order_id = o.id
               WHERE {_TAIL} AND (h.order_id IS NULL OR h.catalogue <> $4::text)) AS todo,
       pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin
"""

# The current catalogue, its mark, and (from one snapshot) the highest order id and the xmax.
_LOOK = f"""
WITH {_FP}
SELECT fp.v AS catalogue, r.since, r.upto_id, r.pending_id, r.pending_xmax,
       coalesce((SELECT max(id) FROM work_orders), 0) AS max_id,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
FROM fp LEFT JOIN hotspot_resolved r ON r.catalogue = fp.v
"""

_SAVE = """
WITH stale AS (DELETE FROM hotspot_resolved WHERE catalogue <> $1::text)
INSERT INTO hotspot_resolved (catalogue, since, upto_id, pending_id, pending_xmax, updated_at)
VALUES ($1::text, $2::timestamptz, $3::bigint, $4::bigint, $5::bigint, now())
ON CONFLICT (catalogue) DO UPDATE SET
    since = EXCLUDED.since, upto_id = EXCLUDED.upto_id, pending_id = EXCLUDED.pending_id,
    pending_xmax = EXCLUDED.pending_xmax, updated_at = EXCLUDED.updated_at
"""

NO_TAIL = 2**63 - 1
"""An order id no order has: "no tail" when there is no mark yet (the head has no end)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """How far the derivation went for one catalogue (the row of ``hotspot_resolved``): every
    order registered at or after ``since`` with an id up to ``upto_id`` has its row.

    Order ids come from a sequence and are drawn before the inserting transaction commits, so
    the highest id a report sees does not mean every lower id is visible: a slower transaction
    may still commit a lower one. ``pending_id`` is the highest id the last look saw and
    ``pending_xmax`` its snapshot's xmax; ``upto_id`` moves to ``pending_id`` only when a later
    snapshot's xmin has passed ``pending_xmax`` (every transaction that could hold a lower id has
    ended) and the orders above ``upto_id`` have been derived at that snapshot. This relies on
    the work-order writer having a transaction id before it draws an order id: the insert of
    :mod:`workflow.store` writes the day's counter (``work_order_seq``) first."""

    since: dt.datetime
    upto_id: int
    pending_id: int
    pending_xmax: int  # 0: nothing pending (pending_id = upto_id)


@dataclass(frozen=True, slots=True)
class Seen:
    """One look at the derivation state: the current catalogue fingerprint, its mark (None: none
    yet, or the catalogue changed), and from one snapshot the highest order id and the xmax."""

    catalogue: str
    mark: Mark | None
    max_id: int
    xmax: int

    def bounds(self, start: dt.datetime) -> tuple[dt.datetime | None, int]:
        """What a report reading from ``start`` may find underived: the head ``[start, until)``
        (``until`` None: no mark, no end) and the tail, the ids above the returned one
        registered from ``until`` on."""
        if self.mark is None:
            return None, NO_TAIL
        return self.mark.since, self.mark.upto_id


def advance(seen: Seen, start: dt.datetime, xmin: int) -> Mark:
    """The mark after every order ``seen.bounds(start)`` names, visible to a snapshot with
    ``xmin``, has been derived (or found derived) with ``seen.catalogue`` (pure)."""
    m = seen.mark or Mark(start, 0, 0, 0)
    since = min(m.since, start)
    if xmin >= seen.xmax:  # every transaction that could hold an id ≤ max_id has ended
        upto = max(m.upto_id, seen.max_id)
    elif xmin >= m.pending_xmax:  # the previous look's transactions have ended
        upto = max(m.upto_id, m.pending_id)
    else:  # still waiting for the previous look's transactions
        return Mark(since, m.upto_id, m.pending_id, m.pending_xmax)
    if seen.max_id <= upto:
        return Mark(since, upto, upto, 0)
    return Mark(since, upto, seen.max_id, seen.xmax)


async def _look(conn: asyncpg.Connection) -> Seen:
    r = await conn.fetchrow(_LOOK)
    mark = None if r["since"] is None else Mark(r["since"], r["upto_id"], r["pending_id"],
                                                  r["pending_xmax"])  # fmt: skip
    return Seen(r["catalogue"], mark, r["max_id"], r["xmax"])


async def _save(conn: asyncpg.Connection, catalogue: str, m: Mark) -> None:
    await conn.execute(_SAVE, catalogue, m.since, m.upto_id, m.pending_id, m.pending_xmax)


async def resolve(pool: asyncpg.Pool, start: dt.datetime) -> int:
    """Derive the topic and place of the orders registered from ``start`` on that have none
    yet (or one made with another catalogue); returns how many rows were written.

    First, without any lock, whether anything is left (the orders since the mark, and the part
    of the range before it): when nothing is, and the mark would not move, nothing is written
    and no lock is taken. Otherwise under an advisory lock (concurrent derivations wait for each
    other, so each order is derived once): look again, derive, move the mark."""
    async with pool.acquire() as conn, conn.transaction():
        # The planner cannot tell how many substrings an order has; its estimate makes JIT
        # compile the statement (~0.7 s) even when no order is left to derive. A generic plan
        # (asyncpg prepares statements) would scan the tail with a default selectivity.
        await conn.execute("SET LOCAL jit = off")
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        seen = await _look(conn)
        until, after = seen.bounds(start)
        check = await conn.fetchrow(_CHECK, start, until, after, seen.catalogue)
        mark = advance(seen, start, check["xmin"])
        if not check["todo"] and mark == seen.mark:
            return 0
        await conn.execute("SELECT pg_advisory_xact_lock($1::bigint)", _LOCK_KEY)
        again = await _look(conn)
        if not check["todo"] and (again.catalogue, again.mark) == (seen.catalogue, seen.mark):
            # Nothing derived meanwhile with another catalogue: what the check found stands.
            await _save(conn, seen.catalogue, mark)
            return 0
        until, after = again.bounds(start)
        row = await conn.fetchrow(_RESOLVE, start, until, after)
        if row["catalogue"] == again.catalogue:  # else the catalogue changed in between
            await _save(conn, again.catalogue, advance(again, start, row["xmin"]))
    return int(row["n"])


@dataclass(frozen=True, slots=True)
class Cell:
    """Counts of one topic × place: ``counts[k]`` orders in window ``k`` (0 = current window,
    1 = the one before it, …)."""

    topic: str
    place: str
    counts: tuple[int, ...]


# $1: end of the current window. $2: window length. $3: number of baseline windows.
_WINDOWS = """
WITH w AS (
    SELECT k, $1::timestamptz - (k + 1) * $2::interval AS s, $1::timestamptz - k * $2::interval AS e
    FROM generate_series(0, $3::integer) AS k
)"""

_CELLS = (
    _WINDOWS
    + """,
c AS (
    SELECT h.topic, {place} AS place, w.k, count(*)::integer AS n
    FROM hotspot_orders h JOIN w ON h.created_at >= w.s AND h.created_at < w.e
    WHERE h.created_at >= $1::timestamptz - ($3::integer + 1) * $2::interval
      AND h.created_at < $1::timestamptz
    GROUP BY 1, 2, 3
)
SELECT topic, place, array_agg(k ORDER BY k) AS ks, array_agg(n ORDER BY k) AS ns
FROM c GROUP BY topic, place
HAVING bool_or(k = 0)
"""
)

_TOTALS = (
    _WINDOWS
    + """
SELECT w.k, count(h.order_id)::integer AS n
FROM w LEFT JOIN hotspot_orders h ON h.created_at >= w.s AND h.created_at < w.e
GROUP BY w.k ORDER BY w.k
"""
)


def _spread(ks: list[int], ns: list[int], size: int) -> tuple[int, ...]:
    counts = [0] * size
    for k, n in zip(ks, ns, strict=True):
        counts[k] = n
    return tuple(counts)


async def cells(
    pool: asyncpg.Pool, end: dt.datetime, window: dt.timedelta, baseline: int, by: str,
) -> list[Cell]:  # fmt: skip
    """Every topic × place with at least one order in the current window, with its counts in
    the current and the ``baseline`` previous windows (windows ``[end − (k+1)·w, end − k·w)``)."""
    rows = await pool.fetch(_CELLS.format(place=PLACE_SQL[by]), end, window, baseline)
    return [Cell(r["topic"], r["place"], _spread(r["ks"], r["ns"], baseline + 1)) for r in rows]


async def totals(
    pool: asyncpg.Pool, end: dt.datetime, window: dt.timedelta, baseline: int,
) -> tuple[int, ...]:  # fmt: skip
    """All orders per window (index 0 = current)."""
    rows = await pool.fetch(_TOTALS, end, window, baseline)
    return tuple(r["n"] for r in rows)


@dataclass(frozen=True, slots=True)
class Burst:
    """The densest run of one topic × place: ``numbers`` (order numbers) registered between
    ``first_at`` and ``last_at``, at most the burst length apart."""

    topic: str
    place: str
    first_at: dt.datetime
    last_at: dt.datetime
    numbers: tuple[str, ...]
    addresses: tuple[str | None, ...]
    in_window: int  # orders of this topic × place in the whole window


# $1, $2: the window [from, to). $3: burst length. $4: minimum orders.
# For every order, the orders of the same topic × place registered from it to burst length later
# (both ends included); the densest such run of each topic × place (earliest on a tie) is its
# burst when it holds at least $4 orders.
_BURSTS = """
WITH x AS (
    SELECT h.order_id, h.topic, {place} AS place, h.created_at, h.address
    FROM hotspot_orders h
    WHERE h.created_at >= $1::timestamptz AND h.created_at < $2::timestamptz
      AND {place} <> '{unknown}'
),
r AS (
    SELECT x.topic, x.place, x.created_at,
           count(*) OVER (PARTITION BY x.topic, x.place ORDER BY x.created_at
                          RANGE BETWEEN CURRENT ROW AND $3::interval FOLLOWING) AS n,
           count(*) OVER (PARTITION BY x.topic, x.place) AS total
    FROM x
),
best AS (
    SELECT DISTINCT ON (r.topic, r.place) r.topic, r.place, r.created_at AS first_at, r.total
    FROM r WHERE r.n >= $4::integer
    ORDER BY r.topic, r.place, r.n DESC, r.created_at
)
SELECT b.topic, b.place, b.first_at, b.total::integer AS in_window,
       max(x.created_at) AS last_at,
       array_agg(o.number ORDER BY x.created_at, x.order_id) AS numbers,
       array_agg(x.address ORDER BY x.created_at, x.order_id) AS addresses
FROM best b
JOIN x ON x.topic = b.topic AND x.place = b.place
      AND x.created_at >= b.first_at AND x.created_at <= b.first_at + $3::interval
JOIN work_orders o ON o.id = x.order_id
GROUP BY b.topic, b.place, b.first_at, b.total
ORDER BY count(*) DESC, b.first_at, b.topic, b.place
"""


async def bursts(
    pool: asyncpg.Pool, start: dt.datetime, end: dt.datetime, by: str, hours: int,
    min_orders: int,
) -> list[Burst]:  # fmt: skip
    """集中诉求 of ``[start, end)``: per topic × place (a known place), the densest run of at
    least ``min_orders`` orders within ``hours`` hours."""
    sql = _BURSTS.format(place=PLACE_SQL[by], unknown=UNKNOWN)
    rows = await pool.fetch(sql, start, end, dt.timedelta(hours=hours), min_orders)
    return [Burst(r["topic"], r["place"], r["first_at"], r["last_at"], tuple(r["numbers"]),
                  tuple(r["addresses"]), r["in_window"]) for r in rows]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recurrence:
    """One topic × place over the last weeks: ``weeks[k]`` orders in week ``k`` before the end
    (0 = the last 7 days); ``open`` of them not closed yet."""

    topic: str
    place: str
    weeks: tuple[int, ...]
    open: int
    first_at: dt.datetime
    last_at: dt.datetime


# $1: end. $2: weeks. $3: orders that make a week count. $4: weeks that must count.
# $5: the final states (an order in none of them is still open).
_RECURRING = """
WITH wk AS (
    SELECT k, $1::timestamptz - (k + 1) * interval '7 days' AS s,
           $1::timestamptz - k * interval '7 days' AS e
    FROM generate_series(0, $2::integer - 1) AS k
),
c AS (
    SELECT h.topic, {place} AS place, wk.k, count(*)::integer AS n,
           count(*) FILTER (WHERE o.state <> ALL ($5::text[]))::integer AS open,
           min(h.created_at) AS first_at, max(h.created_at) AS last_at
    FROM hotspot_orders h
    JOIN wk ON h.created_at >= wk.s AND h.created_at < wk.e
    JOIN work_orders o ON o.id = h.order_id
    WHERE h.created_at >= $1::timestamptz - $2::integer * interval '7 days'
      AND h.created_at < $1::timestamptz AND {place} <> '{unknown}'
    GROUP BY 1, 2, 3
)
SELECT topic, place, array_agg(k ORDER BY k) AS ks, array_agg(n ORDER BY k) AS ns,
       sum(open)::integer AS open, min(first_at) AS first_at, max(last_at) AS last_at
FROM c GROUP BY topic, place
HAVING count(*) FILTER (WHERE n >= $3::integer) >= $4::integer
ORDER BY count(*) FILTER (WHERE n >= $3::integer) DESC, sum(n) DESC, topic, place
"""


async def recurring(
    pool: asyncpg.Pool, end: dt.datetime, by: str, weeks: int, week_min: int, min_weeks: int,
) -> list[Recurrence]:  # fmt: skip
    """持续性诉求: topic × place (a known place) with at least ``week_min`` orders in each of at
    least ``min_weeks`` of the ``weeks`` 7-day periods ending at ``end``."""
    sql = _RECURRING.format(place=PLACE_SQL[by], unknown=UNKNOWN)
    rows = await pool.fetch(sql, end, weeks, week_min, min_weeks,
                            sorted(s.value for s in FINAL_STATES))  # fmt: skip
    return [Recurrence(r["topic"], r["place"], _spread(r["ks"], r["ns"], weeks), r["open"],
                       r["first_at"], r["last_at"]) for r in rows]  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlaceName:
    """How a place code is named: the unit's short name, its kind, its district's short name."""

    code: str
    short: str
    kind: str
    district: str | None


async def place_names(pool: asyncpg.Pool, codes: set[str]) -> dict[str, PlaceName]:
    """Names of the member units among ``codes``."""
    rows = await pool.fetch(
        """SELECT u.code, u.short, u.kind, p.short AS district
           FROM member_units u LEFT JOIN member_units p ON p.code = u.parent
           WHERE u.code = ANY($1::text[])""",
        sorted(codes),
    )
    return {r["code"]: PlaceName(r["code"], r["short"], r["kind"], r["district"]) for r in rows}
