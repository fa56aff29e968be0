-- Stage 2: pair by reference within the date window (one-to-one and split candidates).
--
-- A full outer join of the statement rows (copies left out) and the primary internal rows: a
-- statement row pairs with the primary internal row of its reference when their times are at most
-- window_us apart. Rows without partner keep the other side NULL: they may still form a batch
-- (stage 3) or end up missing (stage 4). s_multi = 1 when the statement has several rows of the reference
-- (a split, or rows split matching has to choose from); those go through recon_ps.
--
-- The join is a view read twice: once to count the clean one-to-one matches per currency
-- (recon_clean; nothing else is kept of them), once to keep every other pair (recon_p), which is
-- a small table in a typical reconciliation. With keep_matched = 1 all pairs are kept.

CREATE VIEW recon_pv AS
SELECT
    s.source AS s_source, s.row_no AS s_row_no, s.reference AS s_reference, s.amount AS s_amount,
    s.fee AS s_fee, s.net AS s_net, s.currency AS s_currency, s.status AS s_status, s.t AS s_t,
    s.multi AS s_multi,
    i.source AS i_source, i.row_no AS i_row_no, i.reference AS i_reference, i.group_ref AS i_group_ref,
    i.amount AS i_amount, i.exp_fee AS i_exp_fee, i.exp_net AS i_exp_net, i.currency AS i_currency,
    i.status AS i_status, i.t AS i_t
FROM (
    SELECT x.*, o.window_us FROM recon_s x CROSS JOIN recon_options o WHERE x.copy_no = 1
) s
FULL OUTER JOIN (
    SELECT * FROM recon_i WHERE ref_rank = 1
) i
    ON i.reference = s.reference
    AND s.t >= i.t - s.window_us
    AND s.t <= i.t + s.window_us;

CREATE TABLE recon_rg (
    kind VARCHAR, gkey VARCHAR, i_n BIGINT, i_gross BIGINT, i_exp_fee BIGINT, i_exp_net BIGINT,
    i_cur_lo VARCHAR, i_cur_hi VARCHAR, i_st_lo VARCHAR, i_st_hi VARCHAR, s_n BIGINT, s_gross BIGINT,
    s_fee BIGINT, s_net BIGINT, s_cur_lo VARCHAR, s_cur_hi VARCHAR, s_st_lo VARCHAR, s_st_hi VARCHAR
);

CREATE TABLE recon_bg (
    kind VARCHAR, gkey VARCHAR, i_n BIGINT, i_gross BIGINT, i_exp_fee BIGINT, i_exp_net BIGINT,
    i_cur_lo VARCHAR, i_cur_hi VARCHAR, i_st_lo VARCHAR, i_st_hi VARCHAR, s_n BIGINT, s_gross BIGINT,
    s_fee BIGINT, s_net BIGINT, s_cur_lo VARCHAR, s_cur_hi VARCHAR, s_st_lo VARCHAR, s_st_hi VARCHAR
);

-- The category of a group, by precedence:
--   status_mismatch  the normalized statuses of the two sides differ (a side with several statuses
--                    counts as "mixed", which differs from everything)
--   amount_mismatch  currencies differ, or the compared amounts differ by more than the tolerance:
--                    gross = internal amounts vs statement gross; net = internal expected nets vs
--                    statement nets. Within tolerance = at most amount_abs_minor OR at most
--                    amount_tol_ppm millionths of the internal amount (whichever is larger). With
--                    net compare, s_n - 1 minor units are allowed for the per-line fee rounding.
--   fee_variance     fee_check = 1, the statement gives fees, and they differ from the expected fee
--                    by more than fee_abs_minor and fee_tol_ppm of it (plus s_n - 1 units of
--                    per-line rounding)
--   matched          otherwise
-- Groups: 'p' one statement row + one internal row (most of them), 'r' several statement rows for
-- one internal row, 'b' a batch.

CREATE VIEW recon_groups AS
SELECT
    'p' AS kind, p.s_reference AS gkey, 1 AS i_n, p.i_amount AS i_gross, p.i_exp_fee, p.i_exp_net,
    p.i_currency AS i_cur_lo, p.i_currency AS i_cur_hi, p.i_status AS i_st_lo, p.i_status AS i_st_hi,
    1 AS s_n, p.s_amount AS s_gross, p.s_fee, COALESCE(p.s_net, p.s_amount) AS s_net,
    p.s_currency AS s_cur_lo, p.s_currency AS s_cur_hi, p.s_status AS s_st_lo, p.s_status AS s_st_hi,
    CASE WHEN p.s_multi = 0 AND p.i_reference IS NOT NULL AND p.s_reference IS NOT NULL THEN 1 ELSE 0 END
        AS grp,
    p.*
FROM recon_pv p
UNION ALL
SELECT
    g.*, 1,
    CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
    CAST(NULL AS BIGINT), CAST(NULL AS INTEGER), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT),
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT)
FROM recon_rg g
UNION ALL
SELECT
    g.*, 1,
    CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
    CAST(NULL AS BIGINT), CAST(NULL AS INTEGER), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT),
    CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT)
FROM recon_bg g;

CREATE VIEW recon_gcat AS
SELECT
    e.*,
    CASE
        WHEN e.i_st <> e.s_st THEN 'status_mismatch'
        WHEN e.i_cur_lo <> e.i_cur_hi OR e.s_cur_lo <> e.s_cur_hi OR e.i_cur_lo <> e.s_cur_lo
            THEN 'amount_mismatch'
        WHEN ABS(e.cmp_s - e.cmp_i) > e.cmp_slack
            AND ABS(e.cmp_s - e.cmp_i) > e.amount_abs_minor
            AND ABS(e.cmp_s - e.cmp_i) * 1000000 > ABS(e.cmp_i) * e.amount_tol_ppm
            THEN 'amount_mismatch'
        WHEN e.fee_check = 1 AND e.s_fee IS NOT NULL
            AND ABS(e.s_fee - e.i_exp_fee) > e.s_n - 1
            AND ABS(e.s_fee - e.i_exp_fee) > e.fee_abs_minor
            AND ABS(e.s_fee - e.i_exp_fee) * 1000000 > ABS(e.i_exp_fee) * e.fee_tol_ppm
            THEN 'fee_variance'
        ELSE 'matched'
    END AS category
FROM (
    SELECT
        g.*,
        CASE WHEN g.i_st_lo = g.i_st_hi THEN g.i_st_lo ELSE 'mixed' END AS i_st,
        CASE WHEN g.s_st_lo = g.s_st_hi THEN g.s_st_lo ELSE 'mixed' END AS s_st,
        CASE WHEN o.compare_net = 1 THEN g.i_exp_net ELSE g.i_gross END AS cmp_i,
        CASE WHEN o.compare_net = 1 THEN g.s_net ELSE g.s_gross END AS cmp_s,
        CASE WHEN o.compare_net = 1 THEN g.s_n - 1 ELSE 0 END AS cmp_slack,
        COALESCE(c.amount_abs_minor, 0) AS amount_abs_minor,
        COALESCE(c.fee_abs_minor, 0) AS fee_abs_minor,
        o.amount_tol_ppm,
        o.fee_tol_ppm,
        o.fee_check
    FROM recon_groups g
    CROSS JOIN recon_options o
    LEFT JOIN recon_currency c ON c.currency = g.i_cur_lo
) e;

-- Pass 1: clean one-to-one matches, counted per currency pair only.
CREATE TABLE recon_clean AS
SELECT g.i_cur_lo AS i_currency, g.s_cur_lo AS s_currency, COUNT(*) AS n, SUM(g.i_gross) AS i_amount,
    SUM(g.s_gross) AS s_amount
FROM recon_gcat g
CROSS JOIN recon_options o
WHERE g.kind = 'p' AND g.grp = 1 AND g.category = 'matched' AND o.keep_matched = 0
GROUP BY g.i_cur_lo, g.s_cur_lo;

-- Pass 2: every other pair, and every row without partner.
CREATE TABLE recon_p AS
SELECT g.*
FROM recon_gcat g
CROSS JOIN recon_options o
WHERE g.kind = 'p' AND NOT (g.grp = 1 AND g.category = 'matched' AND o.keep_matched = 0);

-- Several statement rows for one primary internal row: with split matching on, all of them form
-- the group; with it off, only the closest (amount, then time, then source, row) does and the
-- others are duplicates (in_ref = 0).
CREATE TABLE recon_ps AS
SELECT
    q.*,
    CASE WHEN o.split_on = 1 OR q.pick = 1 THEN 1 ELSE 0 END AS in_ref
FROM (
    SELECT
        p.*,
        ROW_NUMBER() OVER (
            PARTITION BY p.s_reference
            ORDER BY ABS(p.s_amount - p.i_amount), ABS(p.s_t - p.i_t), p.s_source, p.s_row_no
        ) AS pick
    FROM recon_p p
    WHERE p.s_multi = 1 AND p.i_reference IS NOT NULL AND p.s_reference IS NOT NULL
) q
CROSS JOIN recon_options o;

INSERT INTO recon_rg
SELECT
    'r' AS kind,
    p.s_reference AS gkey,
    1 AS i_n,
    MIN(p.i_amount) AS i_gross,
    MIN(p.i_exp_fee) AS i_exp_fee,
    MIN(p.i_exp_net) AS i_exp_net,
    MIN(p.i_currency) AS i_cur_lo,
    MAX(p.i_currency) AS i_cur_hi,
    MIN(p.i_status) AS i_st_lo,
    MAX(p.i_status) AS i_st_hi,
    COUNT(*) AS s_n,
    SUM(p.s_amount) AS s_gross,
    CASE WHEN COUNT(p.s_fee) = COUNT(*) THEN SUM(p.s_fee) END AS s_fee,
    SUM(COALESCE(p.s_net, p.s_amount)) AS s_net,
    MIN(p.s_currency) AS s_cur_lo,
    MAX(p.s_currency) AS s_cur_hi,
    MIN(p.s_status) AS s_st_lo,
    MAX(p.s_status) AS s_st_hi
FROM recon_ps p
WHERE p.in_ref = 1
GROUP BY p.s_reference;
