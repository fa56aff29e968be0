"""Statement files (CSV, JSON, Excel) read into RECORD_SCHEMA tables, and the errors users see."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from openpyxl import Workbook

from flightdeck.config.payments import StatementSourceConfig
from flightdeck.payments.errors import StatementError
from flightdeck.payments.records import RECORD_SCHEMA
from flightdeck.payments.statements import MAPPINGS, read_statement


def source(**kwargs: Any) -> StatementSourceConfig:
    return StatementSourceConfig.model_validate({"inbox": "statements", **kwargs})


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def rows(table: pa.Table) -> list[dict[str, Any]]:
    assert table.schema.equals(RECORD_SCHEMA)
    return table.to_pylist()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def error_of(path: Path, src: StatementSourceConfig) -> StatementError:
    with pytest.raises(StatementError) as info:
        read_statement(path, src)
    return info.value


CUSTOM = {"reference": "ref", "amount": "amount", "currency": "cur", "status": "state", "occurred_at": "when"}


# --- built-in mappings -------------------------------------------------------------------------


def test_every_built_in_mapping_is_registered() -> None:
    assert set(MAPPINGS) == {
        "stripe_balance",
        "paystack_settlement",
        "flutterwave_settlement",
        "generic_bank",
    }


def test_stripe_balance_transactions_export(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "balance_history.csv",
        "id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Available On (UTC),Description,Status,Transfer\n"
        "txn_1A,charge,ch_1A,100.00,3.20,96.80,usd,2024-03-01 09:15,2024-03-03 00:00,Order 1001,available,po_9\n"
        'txn_1B,charge,ch_1B,"1,250.00",36.55,"1,213.45",usd,2024-03-01 10:00,2024-03-03 00:00,Order 1002,pending,\n'
        "txn_1C,refund,re_1C,-20.00,0.00,-20.00,usd,2024-03-02 08:00,2024-03-04 00:00,Refund 1001,available,po_9\n",
    )
    got = rows(read_statement(path, source(mapping="stripe_balance")))
    assert got == [
        {
            "row": 2,
            "source": "balance_history.csv",
            "reference": "ch_1A",
            "group_ref": "po_9",
            "amount_minor": 10000,
            "fee_minor": 320,
            "net_minor": 9680,
            "currency": "USD",
            "status": "succeeded",
            "occurred_at": utc(2024, 3, 1, 9, 15),
        },
        {
            "row": 3,
            "source": "balance_history.csv",
            "reference": "ch_1B",
            "group_ref": None,
            "amount_minor": 125000,
            "fee_minor": 3655,
            "net_minor": 121345,
            "currency": "USD",
            "status": "succeeded",  # funds not yet available, but the charge succeeded
            "occurred_at": utc(2024, 3, 1, 10, 0),
        },
        {
            "row": 4,
            "source": "balance_history.csv",
            "reference": "re_1C",
            "group_ref": "po_9",
            "amount_minor": -2000,
            "fee_minor": 0,
            "net_minor": -2000,
            "currency": "USD",
            "status": "succeeded",
            "occurred_at": utc(2024, 3, 2, 8, 0),
        },
    ]


def test_stripe_itemized_balance_change_report(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "itemized.csv",
        "balance_transaction_id,created_utc,created,available_on_utc,currency,gross,fee,net,"
        "reporting_category,source_id,description,customer_facing_amount,customer_facing_currency\n"
        "txn_2A,2024-04-01 12:00:00,2024-04-01 14:00:00,2024-04-03 00:00:00,eur,49.99,1.70,48.29,"
        "charge,ch_2A,Order 7,49.99,eur\n"
        "txn_2B,2024-04-01 13:30:05,2024-04-01 15:30:05,2024-04-03 00:00:00,eur,-49.99,0.00,-49.99,"
        "refund,re_2B,Refund 7,49.99,eur\n",
    )
    got = rows(read_statement(path, source(mapping="stripe_balance"), display_name="stripe/itemized.csv"))
    assert [(r["reference"], r["amount_minor"], r["fee_minor"], r["net_minor"]) for r in got] == [
        ("ch_2A", 4999, 170, 4829),
        ("re_2B", -4999, 0, -4999),
    ]
    assert {r["status"] for r in got} == {"succeeded"}  # the report has no status column
    assert got[1]["occurred_at"] == utc(2024, 4, 1, 13, 30, 5)  # created_utc, not the local "created"
    assert {r["source"] for r in got} == {"stripe/itemized.csv"}


def test_paystack_api_json_in_kobo(tmp_path: Path) -> None:
    data = {
        "status": True,
        "message": "Transactions retrieved",
        "data": [
            {
                "id": 1,
                "reference": "order-77",
                "amount": 3000000,
                "fees": 55000,
                "currency": "NGN",
                "status": "success",
                "paid_at": "2024-05-02T10:00:27.000Z",
                "created_at": "2024-05-02T10:00:26.000Z",
            },
            {
                "id": 2,
                "reference": "order-78",
                "amount": 150000,
                "fees": 0,
                "currency": "NGN",
                "status": "abandoned",
                "paid_at": None,
                "created_at": "2024-05-02T11:00:00.000Z",
            },
            {
                "id": 3,
                "reference": "order-79",
                "amount": 250000,
                "fees": 3750,
                "currency": "GHS",
                "status": "reversed",
                "paid_at": "2024-05-03T08:00:00Z",
                "created_at": "2024-05-03T07:59:00Z",
            },
        ],
    }
    path = write(tmp_path, "paystack.json", json.dumps(data))
    got = rows(read_statement(path, source(mapping="paystack_settlement")))
    assert [(r["row"], r["reference"], r["amount_minor"], r["fee_minor"], r["net_minor"]) for r in got] == [
        (1, "order-77", 3000000, 55000, 2945000),
        (2, "order-78", 150000, 0, 150000),
        (3, "order-79", 250000, 3750, 246250),
    ]
    assert [r["status"] for r in got] == ["succeeded", "failed", "refunded"]
    assert [r["currency"] for r in got] == ["NGN", "NGN", "GHS"]
    assert got[0]["occurred_at"] == utc(2024, 5, 2, 10, 0, 27)
    assert got[1]["occurred_at"] == utc(2024, 5, 2, 11, 0)  # no paid_at: created_at


def test_paystack_csv_in_naira_with_the_unit_overridden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "paystack.csv",
        "reference,amount,fees,currency,status,paid_at,settlement\n"
        'order-1,"30,000.00",550.00,NGN,success,2024-05-02 10:00:27,SET_1\n',
    )
    got = rows(read_statement(path, source(mapping="paystack_settlement", amount_unit="major")))
    assert (got[0]["amount_minor"], got[0]["fee_minor"], got[0]["group_ref"]) == (3000000, 55000, "SET_1")


def test_flutterwave_settlement_json_with_decimal_amounts(tmp_path: Path) -> None:
    text = """{"status": "success", "message": "Settlement fetched", "data": {
      "id": 41497, "currency": "NGN", "gross_amount": 50800,
      "transactions": [
        {"tx_ref": "Rave-1", "id": 984411, "charged_amount": 10140, "app_fee": 190, "merchant_fee": 0,
         "settlement_amount": 9950, "status": "successful", "transaction_date": "2019-12-30",
         "currency": "NGN"},
        {"tx_ref": "Rave-2", "id": 984412, "charged_amount": 2826.96, "app_fee": 2508.96,
         "settlement_amount": 318, "status": "successful", "transaction_date": "2019-12-31",
         "currency": "NGN"}
      ]}}"""
    path = write(tmp_path, "flw.json", text)
    got = rows(read_statement(path, source(mapping="flutterwave_settlement", timezone="Africa/Lagos")))
    assert [(r["reference"], r["amount_minor"], r["fee_minor"], r["net_minor"]) for r in got] == [
        ("Rave-1", 1014000, 19000, 995000),
        ("Rave-2", 282696, 250896, 31800),
    ]
    # a date without a time is midnight in the configured zone (Lagos is UTC+1)
    assert got[0]["occurred_at"] == utc(2019, 12, 29, 23, 0)
    assert {r["status"] for r in got} == {"succeeded"}


def test_flutterwave_transactions_list_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "flw.csv",
        "id,tx_ref,flw_ref,amount,charged_amount,app_fee,amount_settled,currency,status,created_at\n"
        "1,ORD-1,FLW-1,100,101.40,1.40,100,USD,successful,2024-01-05T10:00:00.000Z\n"
        "2,ORD-2,FLW-2,50,50,0.70,49.30,USD,failed,2024-01-05T11:00:00.000Z\n",
    )
    got = rows(read_statement(path, source(mapping="flutterwave_settlement")))
    assert [(r["amount_minor"], r["fee_minor"], r["net_minor"], r["status"]) for r in got] == [
        (10140, 140, 10000, "succeeded"),
        (5000, 70, 4930, "failed"),
    ]


def test_generic_bank_semicolon_bom_debit_credit_and_day_first_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bank.csv",
        "Date;Description;Reference;Debit;Credit;Balance\n"
        "01/03/2024;Payout Stripe;po_9;;96.80;1096.80\n"
        "02/03/2024;Bank charges;CHG-1;2.50;;1094.30\n"
        '03/03/2024;Transfer in;"TR-1; batch";;"1,000.00";2094.30\n',
        bom=True,
    )
    src = source(
        mapping="generic_bank", date_format="%d/%m/%Y", default_currency="eur", timezone="Europe/Berlin"
    )
    got = rows(read_statement(path, src))
    assert [(r["row"], r["reference"], r["amount_minor"], r["currency"]) for r in got] == [
        (2, "po_9", 9680, "EUR"),
        (3, "CHG-1", -250, "EUR"),
        (4, "TR-1; batch", 100000, "EUR"),
    ]
    assert got[0]["occurred_at"] == utc(2024, 2, 29, 23, 0)  # midnight in Berlin (UTC+1)
    assert got[0]["fee_minor"] is None
    assert got[0]["net_minor"] is None


def test_generic_bank_signed_amount_column_and_currency_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bank.csv",
        "Date,Description,Amount,Currency\n2024-03-01,Payout,12.50,eur\n2024-03-01,Fee,(1.25),EUR\n",
    )
    got = rows(read_statement(path, source(mapping="generic_bank")))
    assert [(r["reference"], r["amount_minor"], r["currency"]) for r in got] == [
        ("Payout", 1250, "EUR"),
        ("Fee", -125, "EUR"),
    ]


# --- custom mappings and overrides ------------------------------------------------------------------


def test_custom_columns_status_map_and_currency_exponents(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "custom.csv",
        "ref,amount,fee,cur,state,when\n"
        'A1,"1,000",10,jpy,PAID,2024-06-01T09:00:00+09:00\n'
        "A2,1.234,0.005,KWD,Paid,2024-06-01T09:00:00Z\n"
        "A3,(12.50),,EUR,on hold,2024-06-01 09:00\n",
    )
    src = source(
        columns={**CUSTOM, "fee": "fee"},
        status_map={"succeeded": ["paid"], "pending": ["On Hold"]},
        timezone="America/New_York",
    )
    got = rows(read_statement(path, src))
    assert [(r["amount_minor"], r["fee_minor"], r["net_minor"], r["currency"], r["status"]) for r in got] == [
        (1000, 10, 990, "JPY", "succeeded"),
        (1234, 5, 1229, "KWD", "succeeded"),
        (-1250, None, None, "EUR", "pending"),
    ]
    assert [r["occurred_at"] for r in got] == [utc(2024, 6, 1, 0), utc(2024, 6, 1, 9), utc(2024, 6, 1, 13)]


def test_fee_is_derived_from_net_when_only_net_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "ref,amount,net,cur,when\nA,10.00,9.70,EUR,2024-01-01\n")
    src = source(
        columns={
            "reference": "ref",
            "amount": "amount",
            "net": "net",
            "currency": "cur",
            "occurred_at": "when",
        }
    )
    (row,) = rows(read_statement(path, src))
    assert (row["amount_minor"], row["fee_minor"], row["net_minor"]) == (1000, 30, 970)
    assert row["status"] == "succeeded"  # no status column


def test_user_columns_override_a_built_in_mapping(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "itemized.csv",
        "created_utc,currency,gross,fee,net,source_id,payment_intent_id\n"
        "2024-04-01 12:00:00,eur,49.99,1.70,48.29,ch_2A,pi_2A\n",
    )
    src = source(mapping="stripe_balance", columns={"reference": "payment_intent_id", "amount": "gross"})
    (row,) = rows(read_statement(path, src))
    assert (row["reference"], row["amount_minor"], row["fee_minor"]) == ("pi_2A", 4999, 170)


def test_minor_unit_custom_mapping_and_a_fixed_default_currency(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "ref,amount,when\nA,1250,2024-01-01\nB,-300,2024-01-02\n")
    src = source(
        columns={"reference": "ref", "amount": "amount", "occurred_at": "when"},
        amount_unit="minor",
        default_currency="NGN",
    )
    got = rows(read_statement(path, src))
    assert [(r["amount_minor"], r["currency"]) for r in got] == [(1250, "NGN"), (-300, "NGN")]


def test_excel_workbook_written_with_openpyxl(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Summary"
    sheet.append(["nothing to see"])
    data = workbook.create_sheet("Transactions")
    data.append(["ref", "amount", "cur", "state", "when"])
    data.append(["X1", 12.5, "EUR", "succeeded", datetime(2024, 7, 1, 8, 30)])
    data.append(["X2", 0.1 + 0.2, "EUR", "pending", "2024-07-01T09:00:00Z"])
    data.append([None, None, None, None, None])  # an empty row is skipped, row numbers keep counting
    data.append([1003, 7, "JPY", "failed", datetime(2024, 7, 2)])
    path = tmp_path / "statement.xlsx"
    workbook.save(path)
    got = rows(read_statement(path, source(columns=CUSTOM, sheet="Transactions", timezone="Europe/Paris")))
    assert [(r["row"], r["reference"], r["amount_minor"], r["currency"], r["status"]) for r in got] == [
        (2, "X1", 1250, "EUR", "succeeded"),
        (3, "X2", 30, "EUR", "pending"),
        (5, "1003", 7, "JPY", "failed"),
    ]
    assert got[0]["occurred_at"] == utc(2024, 7, 1, 6, 30)  # Paris summer time is UTC+2
    assert got[1]["occurred_at"] == utc(2024, 7, 1, 9, 0)


def test_excel_first_sheet_by_default_and_bad_cell_row_number(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["ref", "amount", "cur", "state", "when"])
    sheet.append(["X1", 12.5, "EUR", "succeeded", datetime(2024, 7, 1)])
    sheet.append(["X2", 12.345, "EUR", "succeeded", datetime(2024, 7, 1)])
    path = tmp_path / "statement.xlsx"
    workbook.save(path)
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column) == (3, "amount")
    assert err.reason == "12.345 has more decimals than EUR allows (2)"
    err = error_of(path, source(columns=CUSTOM, sheet="Nope"))
    assert "no sheet 'Nope'" in err.reason


def test_quoted_line_breaks_keep_editor_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.csv",
        'ref,amount,cur,state,when\nA,1.00,EUR,succeeded,2024-01-01\n\nB,"2.00",EUR,"succ\needed",2024-01-01\n'
        "C,3.00,EUR,succeeded,2024-01-01\n",
    )
    src = source(columns=CUSTOM, status_map={"succeeded": ["succ\needed"]})
    assert [r["row"] for r in rows(read_statement(path, src))] == [2, 4, 6]


def test_a_file_with_only_a_header_gives_an_empty_table(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "ref,amount,cur,state,when\n")
    table = read_statement(path, source(columns=CUSTOM))
    assert table.num_rows == 0
    assert table.schema.equals(RECORD_SCHEMA)


def test_tab_separated_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, "s.tsv", "ref\tamount\tcur\tstate\twhen\nA\t1,234.50\tEUR\tsucceeded\t2024-01-01\n"
    )
    (row,) = rows(read_statement(path, source(columns=CUSTOM)))
    assert row["amount_minor"] == 123450


# --- errors ---------------------------------------------------------------------------------------

HEADER = "ref,amount,cur,state,when\n"
GOOD = "A,1.00,EUR,succeeded,2024-01-01\n"


@pytest.mark.parametrize(
    ("body", "line", "column", "reason"),
    [
        (GOOD + ",2.00,EUR,succeeded,2024-01-01\n", 3, "ref", "empty cell; a value is required"),
        (GOOD + "B,,EUR,succeeded,2024-01-01\n", 3, "amount", "empty cell; an amount is required"),
        (GOOD + "B,12.5x,EUR,succeeded,2024-01-01\n", 3, "amount", "'12.5x' is not a number"),
        (
            GOOD + "B,12.345,EUR,succeeded,2024-01-01\n",
            3,
            "amount",
            "12.345 has more decimals than EUR allows (2)",
        ),
        (
            GOOD + "B,100.5,JPY,succeeded,2024-01-01\n",
            3,
            "amount",
            "100.5 has more decimals than JPY allows (0)",
        ),
        (
            GOOD + "B,2.00,EUR,succeeded,2024-13-01\n",
            3,
            "when",
            "'2024-13-01' is not an ISO 8601 date (set date_format)",
        ),
        (GOOD + "B,2.00,EUR,succeeded,\n", 3, "when", "empty cell; a date is required"),
        (
            GOOD + "B,2.00,XYZ,succeeded,2024-01-01\n",
            3,
            "cur",
            "unknown currency 'XYZ' (not an ISO 4217 code)",
        ),
        (
            GOOD + "B,2.00,,succeeded,2024-01-01\n",
            3,
            "cur",
            "empty cell; a currency is required (or set default_currency)",
        ),
        (GOOD + "B,2.00,EUR,,2024-01-01\n", 3, "state", "empty cell; a status is required"),
        (GOOD + "B,2.00,EUR,succeeded\n", 3, None, "4 cells where the header has 5"),
        (GOOD + "B,2.00,EUR,succeeded,2024-01-01,extra\n", 3, None, "6 cells where the header has 5"),
    ],
)
def test_the_first_bad_cell_is_reported_with_line_and_column(
    tmp_path: Path, body: str, line: int, column: str | None, reason: str
) -> None:
    path = write(tmp_path, "s.csv", HEADER + body + GOOD)
    err = error_of(path, source(columns=CUSTOM))
    assert (err.path, err.line, err.column, err.reason) == (str(path), line, column, reason)
    assert str(err).startswith(f"{path}:{line}")


def test_unknown_status_names_row_column_and_known_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.csv",
        "reference,amount,currency,status,paid_at\nA,100,NGN,success,2024-01-01\n"
        "B,100,NGN,chargeback,2024-01-01\n",
    )
    err = error_of(path, source(mapping="paystack_settlement"))
    assert (err.line, err.column) == (3, "status")
    assert err.reason.startswith("unknown status 'chargeback'; known values: abandoned, failed, ")
    assert "success" in err.reason
    assert "extend status_map" in err.reason


def test_earliest_row_wins_then_leftmost_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.csv",
        HEADER + GOOD + "B,2.00,EUR,nope,2024-01-01\n" + "C,oops,XYZ,succeeded,bad\n",
    )
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column) == (3, "state")
    path = write(tmp_path, "t.csv", HEADER + GOOD + "C,oops,XYZ,nope,bad\n")
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column) == (3, "cur")  # amount cannot be judged without its currency
    path = write(tmp_path, "u.csv", HEADER + GOOD + "C,oops,EUR,nope,bad\n")
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column) == (3, "amount")


def test_a_bad_cell_before_a_broken_row_is_reported_first(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", HEADER + "A,1.00,EUR,succeeded,2024-99-01\nB,2.00\n")
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column) == (2, "when")


def test_missing_header_is_line_1_and_lists_the_headers(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "ref,amount,cur,when\nA,1.00,EUR,2024-01-01\n")
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column) == (1, "state")
    assert err.reason == "missing column; the headers are 'ref', 'amount', 'cur', 'when'"


def test_missing_built_in_header_and_currency(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "Source,Net,Currency,Created (UTC)\nch_1,1.00,usd,2024-01-01\n")
    err = error_of(path, source(mapping="stripe_balance"))
    assert (err.line, err.column) == (1, "gross")
    path = write(tmp_path, "b.csv", "Date,Description,Amount\n2024-01-01,x,1.00\n")
    err = error_of(path, source(mapping="generic_bank"))
    assert (err.line, err.column) == (1, "Currency")
    assert "no default_currency" in err.reason


def test_bank_row_without_debit_or_credit(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", "Date,Reference,Debit,Credit\n2024-01-01,x,,1.00\n2024-01-02,y,,\n")
    err = error_of(path, source(mapping="generic_bank", default_currency="EUR"))
    assert (err.line, err.column, err.reason) == (3, "Debit", "empty cell; a debit or a credit is required")


def test_date_format_mismatch_names_the_format(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", HEADER + "A,1.00,EUR,succeeded,2024-01-31\n")
    err = error_of(path, source(columns=CUSTOM, date_format="%d/%m/%Y"))
    assert (err.line, err.column) == (2, "when")
    assert err.reason == "'2024-01-31' does not match the date format '%d/%m/%Y'"


def test_json_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path, "s.json", '[{"ref": "A", "amount": 1.5, "cur": "EUR", "state": "succeeded",\n"when": }]'
    )
    err = error_of(path, source(columns=CUSTOM))
    assert err.line == 2
    assert err.reason.startswith("invalid JSON")
    objects = [
        {"ref": "A", "amount": "1.00", "cur": "EUR", "state": "succeeded", "when": "2024-01-01"},
        {"ref": "B", "amount": 1.005, "cur": "EUR", "state": "succeeded", "when": "2024-01-01"},
    ]
    path = write(tmp_path, "t.json", json.dumps(objects))
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.column, err.reason) == (2, "amount", "1.005 has more decimals than EUR allows (2)")
    path = write(tmp_path, "u.json", json.dumps({"items": objects}))
    assert "expected an array of objects" in error_of(path, source(columns=CUSTOM)).reason
    path = write(tmp_path, "v.json", json.dumps([objects[0], "oops"]))
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.reason) == (2, "element 2 is not an object")


def test_not_utf8_and_configuration_problems(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(
        HEADER.encode() + GOOD.encode() + "B,1.00,EUR,succeeded,2024-01-01,caf\xe9\n".encode("latin-1")
    )
    err = error_of(path, source(columns=CUSTOM))
    assert (err.line, err.reason) == (3, "not UTF-8 text (save the file as UTF-8)")
    path = write(tmp_path, "t.csv", HEADER + GOOD)
    assert "unknown statement mapping 'adyen'" in error_of(path, source(mapping="adyen")).reason
    assert "unknown timezone" in error_of(path, source(columns=CUSTOM, timezone="Mars/Base")).reason
    bad_status = source(columns=CUSTOM, status_map={"settled": ["ok"]})
    assert "'settled' is not a status" in error_of(path, bad_status).reason
    assert "unknown currency" in error_of(path, source(columns=CUSTOM, default_currency="ABC")).reason
    assert "cannot tell the format" in error_of(tmp_path / "s.pdf", source(columns=CUSTOM)).reason
    assert "cannot read the file" in error_of(tmp_path / "missing.csv", source(columns=CUSTOM)).reason


@pytest.mark.slow
def test_a_million_row_csv_sums_exactly(tmp_path: Path) -> None:
    n = 1_000_000
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Status\n")
        handle.writelines(
            f"txn_{i},charge,ch_{i},{i // 100}.{i % 100:02d},0.{i % 7:02d},"
            f"{(i - i % 7) // 100}.{(i - i % 7) % 100:02d},usd,2024-03-01 12:{i % 60:02d},available\n"
            for i in range(n)
        )
    table = read_statement(path, source(mapping="stripe_balance"))
    assert table.num_rows == n
    assert pc.sum(table["amount_minor"]).as_py() == n * (n - 1) // 2
    assert pc.sum(table["fee_minor"]).as_py() == sum(i % 7 for i in range(n))
    assert pc.sum(table["net_minor"]).as_py() == n * (n - 1) // 2 - sum(i % 7 for i in range(n))
    assert table["row"][n - 1].as_py() == n + 1
    assert table["reference"][123456].as_py() == "ch_123456"


def test_arrow_and_python_csv_parsers_agree(tmp_path: Path) -> None:
    def line(i: int) -> str:
        amount = f'"{i * 37:,}"' if i % 3 == 0 else f"{i * 37 // 100}.{i * 37 % 100:02d}"
        return f"R{i},{amount},{'JPY' if i % 3 == 0 else 'EUR'},succeeded,2024-01-{1 + i % 28:02d}\n"

    body = "".join(line(i) for i in range(300))
    plain = write(tmp_path, "plain.csv", HEADER + body)  # one record per line: Arrow's parser
    blank = write(tmp_path, "blank.csv", HEADER + "\n" + body)  # a blank line: Python's parser
    fast = rows(read_statement(plain, source(columns=CUSTOM)))
    slow = rows(read_statement(blank, source(columns=CUSTOM)))
    assert [r["row"] + 1 for r in fast] == [r["row"] for r in slow]
    assert [{k: v for k, v in r.items() if k not in ("row", "source")} for r in fast] == [
        {k: v for k, v in r.items() if k not in ("row", "source")} for r in slow
    ]
    assert (fast[5]["amount_minor"], fast[5]["currency"]) == (185, "EUR")
    assert (fast[30]["amount_minor"], fast[30]["currency"]) == (1110, "JPY")
