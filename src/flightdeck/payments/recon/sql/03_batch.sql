-- Stage 3: batched payouts (many-to-one), keyed by group_ref; nothing when batch_on = 0.
--
-- Internal candidates: primary rows with a group_ref that paired with no statement row. Statement
-- candidates: rows (not copies) that paired with no internal row. A statement row settles the batch
-- whose group_ref equals its reference when its time lies between the batch's earliest payment
-- minus the window and its latest payment plus the window. With split matching off, only the
-- closest such statement row joins; the others are duplicates (in_batch = 0).

CREATE TABLE recon_bi AS
SELECT
    p.i_group_ref AS group_ref,
    COUNT(*) AS i_n,
    SUM(p.i_amount) AS i_gross,
    SUM(p.i_exp_fee) AS i_exp_fee,
    SUM(p.i_exp_net) AS i_exp_net,
    MIN(p.i_currency) AS i_cur_lo,
    MAX(p.i_currency) AS i_cur_hi,
    MIN(p.i_status) AS i_st_lo,
    MAX(p.i_status) AS i_st_hi,
    MIN(p.i_t) AS min_t,
    MAX(p.i_t) AS max_t
FROM recon_p p
CROSS JOIN recon_options o
WHERE o.batch_on = 1 AND p.grp = 0 AND p.s_reference IS NULL AND p.i_group_ref IS NOT NULL
GROUP BY p.i_group_ref;

CREATE TABLE recon_bs AS
SELECT
    q.*,
    CASE WHEN o.split_on = 1 OR q.pick = 1 THEN 1 ELSE 0 END AS in_batch
FROM (
    SELECT
        p.s_source, p.s_row_no, p.s_reference, p.s_amount, p.s_fee, p.s_net, p.s_currency, p.s_status,
        p.s_t,
        ROW_NUMBER() OVER (
            PARTITION BY b.group_ref
            ORDER BY ABS(p.s_amount - b.i_gross), ABS(p.s_t - b.max_t), p.s_source, p.s_row_no
        ) AS pick
    FROM recon_p p
    JOIN recon_bi b ON b.group_ref = p.s_reference
    CROSS JOIN recon_options o
    WHERE p.grp = 0 AND p.i_reference IS NULL
        AND p.s_t >= b.min_t - o.window_us
        AND p.s_t <= b.max_t + o.window_us
) q
CROSS JOIN recon_options o;

INSERT INTO recon_bg
SELECT
    'b' AS kind,
    b.group_ref AS gkey,
    b.i_n, b.i_gross, b.i_exp_fee, b.i_exp_net, b.i_cur_lo, b.i_cur_hi, b.i_st_lo, b.i_st_hi,
    g.s_n, g.s_gross, g.s_fee, g.s_net, g.s_cur_lo, g.s_cur_hi, g.s_st_lo, g.s_st_hi
FROM (
    SELECT
        bs.s_reference,
        COUNT(*) AS s_n,
        SUM(bs.s_amount) AS s_gross,
        CASE WHEN COUNT(bs.s_fee) = COUNT(*) THEN SUM(bs.s_fee) END AS s_fee,
        SUM(COALESCE(bs.s_net, bs.s_amount)) AS s_net,
        MIN(bs.s_currency) AS s_cur_lo,
        MAX(bs.s_currency) AS s_cur_hi,
        MIN(bs.s_status) AS s_st_lo,
        MAX(bs.s_status) AS s_st_hi
    FROM recon_bs bs
    WHERE bs.in_batch = 1
    GROUP BY bs.s_reference
) g
JOIN recon_bi b ON b.group_ref = g.s_reference;
