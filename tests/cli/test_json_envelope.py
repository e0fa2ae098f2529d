"""The one ``--json`` envelope and the one convention for money and rates inside it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from cardpilot.cli.output import json_envelope, print_json
from cardpilot.domain.figures import (
    MoneyWithoutCurrencyWarning,
    json_value,
    money,
    rate,
    rate_from_bp,
)
from cardpilot.version import __version__


def envelope_schema() -> dict[str, object]:
    text = resources.files("cardpilot.cli").joinpath("envelope.schema.json").read_text("utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


def test_print_json_prints_one_line_envelope_with_command_version_and_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_json("review", {"run_id": "3", "currency": "CNY", "total": money(123456)})
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    envelope = json.loads(out)
    assert envelope == {
        "command": "review",
        "version": __version__,
        "data": {"run_id": "3", "currency": "CNY", "total": "1234.56"},
    }
    jsonschema.validate(envelope, envelope_schema())


def test_money_is_a_decimal_string_in_major_units() -> None:
    assert money(123456) == "1234.56"
    assert money(-5) == "-0.05"
    assert money(0) == "0.00"
    assert money(None) is None


def test_rates_are_decimal_strings_never_floats_or_basis_points() -> None:
    assert rate(0.1234) == "0.123400"
    assert rate(Decimal("0.5"), places=2) == "0.50"
    assert rate(float("nan")) is None
    assert rate_from_bp(1250) == "0.125000"


def test_stored_minor_units_and_basis_points_come_out_as_money_and_rates() -> None:
    row = {"currency": "TWD", "old_limit_minor": 2_000_000, "cut_bp": 2_500, "fees_minor": None}
    assert json_value({"rows": [row]}) == {
        "rows": [{"currency": "TWD", "old_limit": "20000.00", "cut": "0.250000", "fees": None}]
    }
    stats = {"currency": "CNY", "spend_minor": {"mean": 12_345, "median": 10_000}}
    assert json_value(stats)["spend"] == {"mean": "123.45", "median": "100.00"}


def test_a_feature_named_after_its_unit_keeps_its_name_and_figure() -> None:
    iv = {"iv": {"spend_avg_6m_minor": 0.31, "utilisation": 0.2}}
    assert json_value(iv) == {"iv": {"spend_avg_6m_minor": "0.31", "utilisation": "0.2"}}


def test_an_amount_with_no_currency_above_it_is_told() -> None:
    with pytest.warns(MoneyWithoutCurrencyWarning, match="limit_minor"):
        json_value({"rows": [{"limit_minor": 1}]})


def test_the_schema_wants_run_id_as_text_and_currency_as_a_code() -> None:
    for data in ({"run_id": 1}, {"currency": "yuan"}):
        envelope = {"command": "review", "version": __version__, "data": data}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(envelope, envelope_schema())


def test_floats_decimals_dates_and_paths_become_text_inside_the_envelope() -> None:
    data = {
        "auc": 0.75,
        "limit": Decimal("100.00"),
        "as_of": dt.date(2005, 9, 30),
        "out": Path("/tmp/x.html"),
        "bad": float("inf"),
        "rows": (1, 2),
        "tiny": 1e-7,
    }
    assert json_value(data) == {
        "auc": "0.75",
        "limit": "100.00",
        "as_of": "2005-09-30",
        "out": "/tmp/x.html",
        "bad": None,
        "rows": [1, 2],
        "tiny": "0.0000001",
    }


@pytest.mark.parametrize(
    "data",
    [{"share": 0.5}, {"balance_minor": 5}, {"rate_bp": 12}, {"rows": [{"limit_fen": 1}]}],
)
def test_the_schema_refuses_floats_and_amounts_left_in_a_unit(data: dict[str, object]) -> None:
    envelope = {"command": "summary", "version": __version__, "data": data}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(envelope, envelope_schema())


def test_the_schema_accepts_what_json_envelope_makes() -> None:
    envelope = json_envelope("summary", {"accounts": 3, "utilisation": 0.25})
    jsonschema.validate(envelope, envelope_schema())
    assert envelope["data"]["utilisation"] == "0.25"


def test_every_command_schema_is_valid_and_names_a_command() -> None:
    import typer

    from cardpilot.cli import app
    from cardpilot.cli.conventions import nodes

    commands = {"-".join(path) for path, _ in nodes(typer.main.get_command(app))}
    folder = resources.files("cardpilot.cli").joinpath("schemas")
    found = [f for f in folder.iterdir() if f.name.endswith(".schema.json")]
    assert found
    for f in found:
        jsonschema.Draft202012Validator.check_schema(json.loads(f.read_text("utf-8")))
        assert f.name.removesuffix(".schema.json") in commands, f.name
