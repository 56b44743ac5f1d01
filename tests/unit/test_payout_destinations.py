"""Payout methods and destinations (issue 10): every method and PIX key type, valid and
invalid, the field each error names, the stored (normalised) form and the masks.

Valid CPF and CNPJ numbers are made with python-stdnum's own check-digit functions."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from stdnum.br import cnpj, cpf

from cashback.domain.payouts.destinations import (
    BankAccount,
    CardOnFile,
    Cause,
    Destination,
    PayoutMethod,
    PixKey,
    StoreCredit,
    WalletAccount,
    parse_payout_method,
)
from cashback.domain.payouts.masks import mask
from cashback.domain.payouts.tax_ids import mask_cnpj, mask_cpf, normalise_cnpj, normalise_cpf

DIGITS = "0123456789"
ALPHANUMERIC = DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def make_cpf(body: str) -> str:
    return body + cpf._calc_check_digits(body)


def make_cnpj(body: str) -> str:
    return body + cnpj.calc_check_digits(body)


CPF = make_cpf("390533447")  # 390.533.447-05
CNPJ = make_cnpj("167272300001")  # 16.727.230/0001-97
ALPHANUMERIC_CNPJ = make_cnpj("12ABC34501DE")  # 12.ABC.345/01DE-35


def pix(key_type: str, key: Any) -> dict[str, Any]:
    return {"method": "pix", "destination": {"key_type": key_type, "key": key}}


def bank(**fields: Any) -> dict[str, Any]:
    destination = {
        "bank_code": "341",
        "branch": "0001",
        "account": "12345-6",
        "account_type": "checking",
        "holder_name": "Ana Maria Souza",
        "holder_tax_id": CPF,
        **fields,
    }
    return {"method": "bank_transfer", "destination": destination}


def destination(body: dict[str, Any]) -> Destination:
    return parse_payout_method(body).destination


def errors(body: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        parse_payout_method(body)
    return [(error["loc"], error["type"]) for error in caught.value.errors()]


# PIX: CPF and CNPJ keys


def test_the_generated_numbers_are_the_documented_ones() -> None:
    assert (CPF, CNPJ, ALPHANUMERIC_CNPJ) == ("39053344705", "16727230000197", "12ABC34501DE35")


@pytest.mark.parametrize("written", [CPF, "390.533.447-05", " 390 533 447 05 ", "390533447-05"])
def test_a_cpf_key_formatted_or_not_is_stored_as_its_digits(written: str) -> None:
    assert destination(pix("cpf", written)) == PixKey(key_type="cpf", key=CPF)
    assert destination(pix("cpf", written)).model_dump() == {"key_type": "cpf", "key": CPF}


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("390.533.447-06", "cpf_checksum"),
        ("390.533.447-50", "cpf_checksum"),
        ("111.111.111-11", "cpf_checksum"),  # passes the arithmetic, never issued
        ("3905334470", "cpf_length"),
        ("390533447051", "cpf_length"),
        ("390.533.447=05", "cpf_format"),
        ("39O53344705", "cpf_format"),
        ("000.000.000-00", "cpf_format"),
        ("1" * 40, "cpf_length"),
        (CNPJ, "cpf_length"),
    ],
)
def test_a_wrong_cpf_key_is_refused_at_the_key(key: str, problem: str) -> None:
    assert errors(pix("cpf", key)) == [(("destination", "key"), problem)]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        (CNPJ, CNPJ),
        ("16.727.230/0001-97", CNPJ),
        (ALPHANUMERIC_CNPJ, ALPHANUMERIC_CNPJ),
        ("12.ABC.345/01DE-35", ALPHANUMERIC_CNPJ),
        ("12.abc.345/01de-35", ALPHANUMERIC_CNPJ),
        ("12. ABC.345 /01DE\u201335", ALPHANUMERIC_CNPJ),  # an en dash, as stdnum's example
    ],
)
def test_a_cnpj_key_numeric_or_alphanumeric_is_stored_compact_and_upper_case(
    written: str, stored: str
) -> None:
    assert destination(pix("cnpj", written)) == PixKey(key_type="cnpj", key=stored)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("16.727.230/0001-98", "cnpj_checksum"),
        ("12.ABC.345/01DE-53", "cnpj_checksum"),
        ("12.ABC.345/01DF-35", "cnpj_checksum"),
        ("16.727.230/0001-9", "cnpj_length"),
        ("16.727.230/0001-977", "cnpj_length"),
        ("16.727.230/0001=97", "cnpj_format"),
        ("00000000000000", "cnpj_format"),
        (CPF, "cnpj_length"),
    ],
)
def test_a_wrong_cnpj_key_is_refused_at_the_key(key: str, problem: str) -> None:
    assert errors(pix("cnpj", key)) == [(("destination", "key"), problem)]


# PIX: e-mail, phone and random keys


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("ana.souza@example.com.br", "ana.souza@example.com.br"),
        (" Ana.Souza+pix@Example.COM ", "ana.souza+pix@example.com"),
    ],
)
def test_an_email_key_is_stored_lower_case(written: str, stored: str) -> None:
    assert destination(pix("email", written)) == PixKey(key_type="email", key=stored)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("ana.souza", "email_format"),
        ("ana@localhost", "email_format"),
        ("ana souza@example.com", "email_format"),
        ("ana@@example.com", "email_format"),
        ("ana@-example.com", "email_format"),
        ("a" * 70 + "@example.com", "email_length"),
        ("", "string_too_short"),
    ],
)
def test_a_wrong_email_key_is_refused_at_the_key(key: str, problem: str) -> None:
    assert errors(pix("email", key)) == [(("destination", "key"), problem)]


@pytest.mark.parametrize(
    "written", ["+5511987654321", "+55 11 98765-4321", "+55 (11) 98765-4321", "+55.11.98765.4321"]
)
def test_a_phone_key_is_stored_in_e164(written: str) -> None:
    assert destination(pix("phone", written)) == PixKey(key_type="phone", key="+5511987654321")


@pytest.mark.parametrize(
    "key",
    [
        "11987654321",  # no +55
        "5511987654321",
        "+14155550100",  # not Brazil
        "+551133334444",  # a landline: PIX phone keys are mobile numbers
        "+5501987654321",  # no area code starts with 0
        "+551198765432",
        "+55119876543210",
        "+55 11 9876a-4321",
    ],
)
def test_a_wrong_phone_key_is_refused_at_the_key(key: str) -> None:
    assert errors(pix("phone", key)) == [(("destination", "key"), "phone_format")]


def test_a_random_key_is_stored_lower_case() -> None:
    key = "123E4567-E89B-42D3-A456-426614174000"
    assert destination(pix("evp", key)) == PixKey(key_type="evp", key=key.lower())


@pytest.mark.parametrize(
    "key",
    [
        "123e4567e89b42d3a456426614174000",
        "123e4567-e89b-42d3-a456-42661417400",
        "123e4567-e89b-42d3-a456-42661417400g",
        "{123e4567-e89b-42d3-a456-426614174000}",
        CPF,
    ],
)
def test_a_wrong_random_key_is_refused_at_the_key(key: str) -> None:
    assert errors(pix("evp", key)) == [(("destination", "key"), "evp_format")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (pix("iban", CPF), [(("destination", "key_type"), "literal_error")]),
        (pix("cpf", 39053344705), [(("destination", "key"), "string_type")]),
        (pix("cpf", "x" * 101), [(("destination", "key"), "string_too_long")]),
        (
            {"method": "pix", "destination": {"key_type": "cpf"}},
            [(("destination", "key"), "missing")],
        ),
        (
            {"method": "pix", "destination": {"key_type": "cpf", "key": CPF, "name": "Ana"}},
            [(("destination", "name"), "extra_forbidden")],
        ),
        ({**pix("cpf", CPF), "amount": 100}, [(("amount",), "extra_forbidden")]),
        ({"method": "pix"}, [(("destination",), "missing")]),
        ({"method": "pix", "destination": CPF}, [(("destination",), "model_type")]),
    ],
)
def test_a_wrong_pix_field_is_named(body: dict[str, Any], expected: list[Any]) -> None:
    assert errors(body) == expected


# The method


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"destination": {}}, [(("method",), "missing")]),
        ({"method": "cash", "destination": {}}, [(("method",), "payout_method")]),
        ({"method": None}, [(("method",), "payout_method")]),
        ({"method": "PIX", "destination": {}}, [(("method",), "payout_method")]),
        ([], [((), "model_attributes_type")]),
    ],
)
def test_a_wrong_or_missing_method_is_named(body: Any, expected: list[Any]) -> None:
    assert errors(body) == expected


def test_the_method_error_lists_the_methods() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_payout_method({"method": "cash"})
    assert caught.value.errors()[0]["msg"] == (
        "must be one of pix, bank_transfer, wallet, store_credit, statement_credit, donation"
    )
    assert caught.value.errors()[0]["input"] == "cash"


def test_a_custom_error_keeps_its_message_at_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_payout_method(pix("cpf", "390.533.447-06"))
    assert caught.value.errors()[0]["msg"] == "is not a valid CPF: its check digits do not match"


def test_the_json_schema_tells_the_destination_by_the_method() -> None:
    schema = TypeAdapter(PayoutMethod).json_schema()
    assert schema["discriminator"]["propertyName"] == "method"
    assert set(schema["discriminator"]["mapping"]) == {
        "pix",
        "bank_transfer",
        "wallet",
        "store_credit",
        "statement_credit",
        "donation",
    }
    assert schema["$defs"]["PixKey"]["additionalProperties"] is False


# Bank transfers


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({}, {}),
        ({"bank_code": "60701190"}, {"bank_code": "60701190"}),  # an ISPB
        ({"bank_code": "00000000"}, {"bank_code": "00000000"}),  # Banco do Brasil's ISPB
        ({"branch": "1"}, {"branch": "0001"}),
        ({"account": "123456"}, {"account": "12345-6"}),
        ({"account": "0012345-6"}, {"account": "12345-6"}),
        ({"account": " 12345 - x"}, {"account": "12345-X"}),
        ({"account_type": "payment"}, {"account_type": "payment"}),
        ({"holder_name": "  Ana   Maria\tSouza "}, {"holder_name": "Ana Maria Souza"}),
        ({"holder_tax_id": "390.533.447-05"}, {"holder_tax_id": CPF}),
        ({"holder_tax_id": "12.abc.345/01de-35"}, {"holder_tax_id": ALPHANUMERIC_CNPJ}),
    ],
)
def test_a_bank_account_is_stored_normalised(
    fields: dict[str, str], stored: dict[str, str]
) -> None:
    expected = {**bank()["destination"], "branch": "0001", **stored}
    assert destination(bank(**fields)) == BankAccount(**expected)
    assert destination(bank(**fields)).model_dump() == expected


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("bank_code", "34", "string_pattern_mismatch"),
        ("bank_code", "3410", "string_pattern_mismatch"),
        ("bank_code", "abc", "string_pattern_mismatch"),
        ("bank_code", 341, "string_type"),
        ("branch", "12345", "string_pattern_mismatch"),
        ("branch", "", "string_pattern_mismatch"),
        ("branch", "1-2", "string_pattern_mismatch"),
        ("account", "1", "string_too_short"),
        ("account", "12345-", "account_format"),
        ("account", "-6", "account_format"),
        ("account", "0-6", "account_format"),
        ("account", "12a45-6", "account_format"),
        ("account", "12345-67", "account_format"),
        ("account", "1" * 20 + "-6", "account_format"),
        ("account_type", "current", "literal_error"),
        ("holder_name", "", "string_too_short"),
        ("holder_name", "   ", "holder_name_format"),
        ("holder_name", "12345", "holder_name_format"),
        ("holder_name", "Ana\x00Souza", "holder_name_format"),
        ("holder_name", "A" * 121, "string_too_long"),
        ("holder_tax_id", "390.533.447-06", "cpf_checksum"),
        ("holder_tax_id", "16.727.230/0001-98", "cnpj_checksum"),
        ("holder_tax_id", "3905334470", "tax_id_length"),
        ("holder_tax_id", "", "string_too_short"),
    ],
)
def test_a_wrong_bank_field_is_named(field: str, value: Any, problem: str) -> None:
    assert errors(bank(**{field: value})) == [(("destination", field), problem)]


def test_every_missing_bank_field_is_named() -> None:
    fields = ["bank_code", "branch", "account", "account_type", "holder_name", "holder_tax_id"]
    assert errors({"method": "bank_transfer", "destination": {}}) == [
        (("destination", field), "missing") for field in fields
    ]


# Wallets, store credit, statement credit and donations


def test_a_wallet_account_keeps_its_account_and_lower_cases_the_provider() -> None:
    body = {"method": "wallet", "destination": {"provider": "PicPay", "account": "ana.souza"}}
    assert destination(body) == WalletAccount(provider="picpay", account="ana.souza")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"account": "ana"}, [(("destination", "provider"), "missing")]),
        (
            {"provider": "pic pay", "account": "ana"},
            [(("destination", "provider"), "string_pattern_mismatch")],
        ),
        (
            {"provider": "picpay", "account": "ana souza"},
            [(("destination", "account"), "string_pattern_mismatch")],
        ),
        ({"provider": "picpay"}, [(("destination", "account"), "missing")]),
    ],
)
def test_a_wrong_wallet_field_is_named(fields: dict[str, str], expected: list[Any]) -> None:
    assert errors({"method": "wallet", "destination": fields}) == expected


@pytest.mark.parametrize(
    "body", [{"method": "store_credit"}, {"method": "store_credit", "destination": {}}]
)
def test_store_credit_needs_no_destination(body: dict[str, Any]) -> None:
    assert destination(body) == StoreCredit()


def test_store_credit_takes_no_destination_fields() -> None:
    body = {"method": "store_credit", "destination": {"code": "GIFT-1"}}
    assert errors(body) == [(("destination", "code"), "extra_forbidden")]


def test_statement_credit_goes_to_a_card_by_its_fingerprint() -> None:
    body = {"method": "statement_credit", "destination": {"card_fingerprint": "fp_9f86d081884c"}}
    assert destination(body) == CardOnFile(card_fingerprint="fp_9f86d081884c")
    body["destination"]["card_fingerprint"] = "4111 1111 1111 1111"
    assert errors(body) == [(("destination", "card_fingerprint"), "string_pattern_mismatch")]


def test_a_donation_goes_to_a_registered_cause() -> None:
    body: dict[str, Any] = {"method": "donation", "destination": {"cause_id": "cause-42"}}
    assert destination(body) == Cause(cause_id="cause-42")
    assert errors({"method": "donation", "destination": {}}) == [
        (("destination", "cause_id"), "missing")
    ]


# Masks


@pytest.mark.parametrize(
    ("body", "masked"),
    [
        (pix("cpf", "390.533.447-05"), {"key_type": "cpf", "key": "***.533.447-**"}),
        (pix("cnpj", CNPJ), {"key_type": "cnpj", "key": "**.***.230/0001-**"}),
        (pix("cnpj", ALPHANUMERIC_CNPJ), {"key_type": "cnpj", "key": "**.***.345/01DE-**"}),
        (pix("email", "Ana.Souza@Example.com.br"), {"key_type": "email", "key": "a***@e***.br"}),
        (pix("phone", "+55 11 98765-4321"), {"key_type": "phone", "key": "+55 11 *****-4321"}),
        (
            pix("evp", "123e4567-e89b-42d3-a456-426614174000"),
            {"key_type": "evp", "key": "********-****-****-****-********4000"},
        ),
        (
            bank(),
            {
                "bank_code": "341",
                "branch": "****",
                "account": "****-6",
                "account_type": "checking",
                "holder_name": "A*** S***",
                "holder_tax_id": "***.533.447-**",
            },
        ),
        (
            {
                "method": "wallet",
                "destination": {"provider": "picpay", "account": "ana.souza.1984"},
            },
            {"provider": "picpay", "account": "****1984"},
        ),
        (
            {"method": "wallet", "destination": {"provider": "picpay", "account": "ana.souza"}},
            {"provider": "picpay", "account": "****"},
        ),
        ({"method": "store_credit"}, {}),
        (
            {"method": "statement_credit", "destination": {"card_fingerprint": "fp_9f86d081884c"}},
            {"card_fingerprint": "****884c"},
        ),
        ({"method": "donation", "destination": {"cause_id": "cause-42"}}, {"cause_id": "cause-42"}),
    ],
)
def test_each_destination_has_its_mask(body: dict[str, Any], masked: dict[str, str]) -> None:
    assert mask(destination(body)) == masked


@pytest.mark.parametrize(
    ("fields", "masked"),
    [
        ({"account": "1234567-8", "holder_tax_id": CNPJ}, ("****67-8", "**.***.230/0001-**")),
        ({"account": "12345-X", "holder_name": "Cooperativa"}, ("****-X", "C***")),
    ],
)
def test_a_bank_account_shows_at_most_two_digits_and_the_check_digit(
    fields: dict[str, str], masked: tuple[str, str]
) -> None:
    shown = mask(destination(bank(**fields)))
    assert shown["account"] == masked[0]
    assert masked[1] in (shown["holder_tax_id"], shown["holder_name"])


def test_a_destination_without_a_mask_is_never_shown() -> None:
    class Unknown(Destination):
        secret: str

    with pytest.raises(TypeError):
        mask(Unknown(secret="390.533.447-05"))


# Properties: any valid CPF or CNPJ


cpfs = st.text(DIGITS, min_size=9, max_size=9).filter(lambda body: len(set(body)) > 1).map(make_cpf)
cnpjs = (
    st.one_of(
        st.text(DIGITS, min_size=12, max_size=12), st.text(ALPHANUMERIC, min_size=12, max_size=12)
    )
    .filter(lambda body: len(set(body)) > 1)
    .map(make_cnpj)
)


def shown(masked: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", masked)


@given(cpfs, st.sampled_from([cpf.format, cpf.compact, lambda n: f" {cpf.format(n)} "]))
def test_any_cpf_round_trips_and_its_mask_shows_only_the_middle_six(
    number: str, write: Any
) -> None:
    stored = normalise_cpf(write(number))
    assert stored == number
    assert shown(mask_cpf(stored)) == number[3:9]
    assert mask(PixKey(key_type="cpf", key=write(number))) == {
        "key_type": "cpf",
        "key": mask_cpf(number),
    }


@given(cnpjs, st.sampled_from([cnpj.format, cnpj.compact, lambda n: cnpj.format(n).lower()]))
def test_any_cnpj_round_trips_and_its_mask_shows_only_root_end_and_branch(
    number: str, write: Any
) -> None:
    stored = normalise_cnpj(write(number))
    assert stored == number
    assert shown(mask_cnpj(stored)) == number[5:12]
    masked = mask(destination(bank(holder_tax_id=write(number))))["holder_tax_id"]
    assert masked == mask_cnpj(number)


def changed(number: str, position: int, alphabet: str, data: st.DataObject) -> str:
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    return number[:position] + replacement + number[position + 1 :]


@given(cpfs, st.integers(9, 10), st.data())
def test_a_changed_cpf_check_digit_is_always_refused(
    number: str, position: int, data: st.DataObject
) -> None:
    assert errors(pix("cpf", changed(number, position, DIGITS, data))) == [
        (("destination", "key"), "cpf_checksum")
    ]


@given(cnpjs, st.integers(12, 13), st.data())
def test_a_changed_cnpj_check_digit_is_always_refused(
    number: str, position: int, data: st.DataObject
) -> None:
    assert errors(pix("cnpj", changed(number, position, DIGITS, data))) == [
        (("destination", "key"), "cnpj_checksum")
    ]


@given(cpfs, st.integers(0, 8), st.data())
def test_a_changed_cpf_digit_is_refused_unless_the_check_digits_cannot_see_it(
    number: str, position: int, data: st.DataObject
) -> None:
    typo = changed(number, position, DIGITS, data)
    if make_cpf(typo[:9]) == typo or len(set(typo)) == 1:
        return  # the blind spots below
    assert errors(pix("cpf", typo)) == [(("destination", "key"), "cpf_checksum")]


@given(cnpjs, st.integers(0, 11), st.data())
def test_a_changed_cnpj_character_is_refused_unless_the_check_digits_cannot_see_it(
    number: str, position: int, data: st.DataObject
) -> None:
    typo = changed(number, position, ALPHANUMERIC, data)
    if make_cnpj(typo[:12]) == typo or typo.startswith("0" * 12) or len(set(typo)) == 1:
        return  # the blind spots below
    assert errors(pix("cnpj", typo)) == [(("destination", "key"), "cnpj_checksum")]


@pytest.mark.parametrize(
    ("key_type", "number", "typo"),
    [
        # The check digits are taken modulo 11 and then 10: a remainder of 10 and one of 0
        # both give the digit 0, so some single changes go unseen (about 2 in 1,000 CPFs).
        ("cpf", "18774752707", "08774752707"),
        ("cnpj", "71147759745900", "71147759945900"),
        # Letters count as their code minus 48: 'C' (19) and 'N' (30) weigh the same modulo 11.
        ("cnpj", ALPHANUMERIC_CNPJ, "12ABC34501DE35".replace("C", "N")),
    ],
)
def test_the_check_digits_cannot_see_every_single_change(
    key_type: str, number: str, typo: str
) -> None:
    """Known limits of the official check digits: PIX confirms the holder's name before
    paying, which is where such a typo is caught."""
    assert destination(pix(key_type, number)) != destination(pix(key_type, typo))
