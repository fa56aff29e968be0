-- Stage 1: normalize both sides; mark exact copies and the primary internal row of each reference.
--
-- Inputs: tables (or views) `internal` and `statement` with RECORD_SCHEMA columns, and the
-- parameter tables recon_options (one row) and recon_currency (one row per currency).
--
-- Engine-specific expressions of the whole matcher live in this file only:
--   epoch_us(ts)  timestamp -> microseconds since 1970 (Trino: to_unixtime is a double, use
--                 date_diff('microsecond', TIMESTAMP '1970-01-01 00:00:00 UTC', ts); Spark SQL:
--                 unix_micros(ts); BigQuery: UNIX_MICROS(ts))
--   a // b        integer division (Trino: a / b on integers; Spark SQL: a div b; BigQuery: DIV(a, b))
--
-- Most references occur once per side; only the rows of references that occur more than once
-- (recon_ki, recon_ks) go through the window functions.
--   copy_no > 1   the row repeats an earlier row of its side (same reference, group_ref, amount,
--                 fee, net, currency, status and instant; earlier = by source, row): a duplicate
--   ref_rank = 1  the primary internal row of its reference (succeeded, refunded, pending, failed;
--                 then earliest; then source, row); only primary rows are matched
--   exp_fee       expected gateway fee in minor units: amount x rate, rounded half up, + fixed fee
--   exp_net       the internal row's net if known, else amount - exp_fee

CREATE TABLE recon_ki AS
SELECT reference FROM internal GROUP BY reference HAVING COUNT(*) > 1;

CREATE TABLE recon_ks AS
SELECT reference FROM statement GROUP BY reference HAVING COUNT(*) > 1;

CREATE TABLE recon_im AS
SELECT
    x.source, x."row" AS row_no, x.reference, x.group_ref, x.amount_minor AS amount,
    COALESCE(x.fee_minor, x.amount_minor - x.net_minor) AS fee,
    COALESCE(x.net_minor, x.amount_minor - x.fee_minor) AS net,
    x.currency, x.status, epoch_us(x.occurred_at) AS t,
    ROW_NUMBER() OVER (
        PARTITION BY x.reference, x.group_ref, x.amount_minor, x.fee_minor, x.net_minor, x.currency,
            x.status, x.occurred_at
        ORDER BY x.source, x."row"
    ) AS copy_no,
    ROW_NUMBER() OVER (
        PARTITION BY x.reference
        ORDER BY
            CASE x.status WHEN 'succeeded' THEN 0 WHEN 'refunded' THEN 1 WHEN 'pending' THEN 2 ELSE 3 END,
            x.occurred_at, x.source, x."row"
    ) AS ref_rank
FROM internal x
WHERE x.reference IN (SELECT reference FROM recon_ki);

CREATE TABLE recon_sm AS
SELECT
    x.source, x."row" AS row_no, x.reference, x.group_ref, x.amount_minor AS amount,
    COALESCE(x.fee_minor, x.amount_minor - x.net_minor) AS fee,
    COALESCE(x.net_minor, x.amount_minor - x.fee_minor) AS net,
    x.currency, x.status, epoch_us(x.occurred_at) AS t,
    ROW_NUMBER() OVER (
        PARTITION BY x.reference, x.group_ref, x.amount_minor, x.fee_minor, x.net_minor, x.currency,
            x.status, x.occurred_at
        ORDER BY x.source, x."row"
    ) AS copy_no
FROM statement x
WHERE x.reference IN (SELECT reference FROM recon_ks);

CREATE VIEW recon_i AS
SELECT
    u.*,
    (u.amount * o.fee_rate_ppm + 500000) // 1000000 + COALESCE(c.fee_fixed_minor, 0) AS exp_fee,
    COALESCE(
        u.net, u.amount - ((u.amount * o.fee_rate_ppm + 500000) // 1000000 + COALESCE(c.fee_fixed_minor, 0))
    ) AS exp_net
FROM (
    SELECT
        x.source, x."row" AS row_no, x.reference, x.group_ref, x.amount_minor AS amount,
        COALESCE(x.fee_minor, x.amount_minor - x.net_minor) AS fee,
        COALESCE(x.net_minor, x.amount_minor - x.fee_minor) AS net,
        x.currency, x.status, epoch_us(x.occurred_at) AS t,
        1 AS copy_no, 1 AS ref_rank, 0 AS multi
    FROM internal x
    WHERE x.reference NOT IN (SELECT reference FROM recon_ki)
    UNION ALL
    SELECT m.*, 1 AS multi FROM recon_im m
) u
CROSS JOIN recon_options o
LEFT JOIN recon_currency c ON c.currency = u.currency;

CREATE VIEW recon_s AS
SELECT
    x.source, x."row" AS row_no, x.reference, x.group_ref, x.amount_minor AS amount,
    COALESCE(x.fee_minor, x.amount_minor - x.net_minor) AS fee,
    COALESCE(x.net_minor, x.amount_minor - x.fee_minor) AS net,
    x.currency, x.status, epoch_us(x.occurred_at) AS t,
    1 AS copy_no, 0 AS multi
FROM statement x
WHERE x.reference NOT IN (SELECT reference FROM recon_ks)
UNION ALL
SELECT m.*, 1 AS multi FROM recon_sm m;
