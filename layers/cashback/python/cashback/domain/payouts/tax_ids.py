"""Brazilian tax ids of payout destinations: CPF (people) and CNPJ (companies).

The check digits are python-stdnum's (its CNPJ takes the alphanumeric form of July 2026).
The stored form is compact: 11 digits for a CPF, 14 upper-case characters for a CNPJ."""

from __future__ import annotations

from typing import Literal

from pydantic_core import PydanticCustomError
from stdnum.br import cnpj, cpf
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

TaxIdKind = Literal["cpf", "cnpj"]
CPF_LENGTH = 11
CNPJ_LENGTH = 14
# Longest input taken: a formatted CNPJ (18 characters) with some spaces around.
MAX_INPUT = 32

_EXPECTED = {
    "cpf": "11 digits, optionally written 123.456.789-09",
    "cnpj": "14 characters (12 letters or digits and 2 check digits), optionally written "
    "12.ABC.345/01DE-35",
}


def normalise_cpf(value: str) -> str:
    """The CPF's stored form (its 11 digits), or a `cpf_*` error saying what is wrong."""
    return _validated("cpf", value)


def normalise_cnpj(value: str) -> str:
    """The CNPJ's stored form (14 characters, letters upper-case), or a `cnpj_*` error."""
    return _validated("cnpj", value)


def normalise_tax_id(value: str) -> str:
    """A holder's CPF or CNPJ in its stored form, told apart by length once separators are
    removed: 11 characters for a CPF, 14 for a CNPJ."""
    length = len(cnpj.compact(value[:MAX_INPUT]))
    if length == CPF_LENGTH:
        return normalise_cpf(value)
    if length == CNPJ_LENGTH:
        return normalise_cnpj(value)
    raise PydanticCustomError(
        "tax_id_length", "is neither a CPF (11 digits) nor a CNPJ (14 characters)"
    )


def _validated(kind: TaxIdKind, value: str) -> str:
    if len(value) > MAX_INPUT:
        raise _error(kind, "length", "is too long for a {kind}: expected {expected}")
    module = cpf if kind == "cpf" else cnpj
    try:
        number: str = module.validate(value)
    except InvalidLength:
        raise _error(
            kind, "length", "has the wrong length for a {kind}: expected {expected}"
        ) from None
    except InvalidChecksum:
        raise _error(
            kind, "checksum", "is not a valid {kind}: its check digits do not match"
        ) from None
    except ValidationError:
        raise _error(kind, "format", "is not written as a {kind}: expected {expected}") from None
    if len(set(number)) == 1:
        # 111.111.111-11 and the like pass the arithmetic but are never issued.
        raise _error(kind, "checksum", "is not a valid {kind}: one repeated digit")
    return number


def _error(kind: TaxIdKind, problem: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(
        f"{kind}_{problem}", message, {"kind": kind.upper(), "expected": _EXPECTED[kind]}
    )


def mask_cpf(number: str) -> str:
    """`***.456.789-**`: the middle six digits, as Brazil's payment apps show a CPF. The
    first three and the check digits stay hidden (a thousand candidates remain)."""
    return f"***.{number[3:6]}.{number[6:9]}-**"


def mask_cnpj(number: str) -> str:
    """`**.***.678/0001-**`: the root's last three characters and the branch number. The
    first five and the check digits stay hidden."""
    return f"**.***.{number[5:8]}/{number[8:12]}-**"


def mask_tax_id(number: str) -> str:
    """The mask of a stored CPF or CNPJ, told apart by length."""
    return mask_cpf(number) if len(number) == CPF_LENGTH else mask_cnpj(number)
