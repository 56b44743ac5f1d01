"""Payout methods and their destinations: what a payout request's `method` and
`destination` must hold, checked field by field and kept in their stored (normalised) form.

A discriminated union on `method` gives exactly one of six models. Unknown fields are
refused, and every error is reported at the field it concerns (`destination.key`, `method`):
the union's own tag is taken out of the error locations, so a 422 names the field as the
client wrote it. Bank account check digits follow each bank's own rule: their presence is
required here, their arithmetic is the provider's to verify."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, ValidationError
from pydantic_core.core_schema import ErrorType

from cashback.domain.ids import StoreId
from cashback.domain.payouts import tax_ids
from cashback.domain.payouts.pix_keys import PixKeyType, normalise_pix_key

PayoutMethodName = Literal[
    "pix", "bank_transfer", "wallet", "store_credit", "statement_credit", "donation"
]
AccountType = Literal["checking", "savings", "payment"]
MAX_NAME = 120
# An account number of up to 19 digits and its check digit (a digit, or X at some banks),
# with or without a hyphen before it: 12345-6 and 123456 are the same account.
_ACCOUNT = re.compile(r"([0-9]{1,19})-?([0-9X])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Destination(BaseModel):
    """Where a payout goes. Frozen and normalised: equal destinations compare equal."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class PixKey(Destination):
    key_type: PixKeyType
    """cpf, cnpj, email, phone (a +55 mobile number) or evp (a random key)."""
    key: Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]
    """The key as the customer wrote it; stored normalised (pix_keys)."""

    @field_validator("key")
    @classmethod
    def _stored_key(cls, key: str, info: ValidationInfo) -> str:
        key_type = info.data.get("key_type")
        # A wrong key_type is reported on its own; the key cannot be judged without it.
        return key if key_type is None else normalise_pix_key(key_type, key)


class BankAccount(Destination):
    bank_code: Annotated[StrictStr, StringConstraints(pattern=r"^([0-9]{3}|[0-9]{8})$")]
    """3-digit COMPE code or 8-digit ISPB."""
    branch: Annotated[StrictStr, StringConstraints(pattern=r"^[0-9]{1,4}$")]
    """1 to 4 digits, no check digit; stored with leading zeros (0001)."""
    account: Annotated[StrictStr, StringConstraints(min_length=2, max_length=24)]
    """The account number and its check digit (12345-6); stored without leading zeros."""
    account_type: AccountType
    holder_name: Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_NAME)]
    holder_tax_id: Annotated[StrictStr, StringConstraints(min_length=1, max_length=32)]
    """The holder's CPF or CNPJ, formatted or not."""

    @field_validator("branch")
    @classmethod
    def _padded_branch(cls, branch: str) -> str:
        return branch.zfill(4)

    @field_validator("account")
    @classmethod
    def _stored_account(cls, account: str) -> str:
        match = _ACCOUNT.fullmatch(account.strip().replace(" ", "").upper())
        if match is None or not match[1].strip("0"):
            raise PydanticCustomError(
                "account_format",
                "is not an account number with its check digit, such as 12345-6",
            )
        return f"{match[1].lstrip('0')}-{match[2]}"

    @field_validator("holder_name")
    @classmethod
    def _stored_name(cls, name: str) -> str:
        name = " ".join(name.split())
        if _CONTROL.search(name) or not any(char.isalpha() for char in name):
            raise PydanticCustomError("holder_name_format", "is not a person's or company's name")
        return name

    @field_validator("holder_tax_id")
    @classmethod
    def _stored_tax_id(cls, tax_id: str) -> str:
        return tax_ids.normalise_tax_id(tax_id)


class WalletAccount(Destination):
    provider: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")]
    """The wallet's provider as the payout provider names it (picpay); stored lower-case."""
    account: StoreId
    """The customer's account at that provider."""

    @field_validator("provider")
    @classmethod
    def _stored_provider(cls, provider: str) -> str:
        return provider.lower()


class StoreCredit(Destination):
    """Credit issued by the storefront: nothing to give; the provider returns a code."""


class CardOnFile(Destination):
    card_fingerprint: StoreId
    """A card the storefront knows (the purchases' payment_fingerprint)."""


class Cause(Destination):
    cause_id: StoreId
    """A social cause the storefront registered."""


class Method(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PixMethod(Method):
    method: Literal["pix"]
    destination: PixKey


class BankTransferMethod(Method):
    method: Literal["bank_transfer"]
    destination: BankAccount


class WalletMethod(Method):
    method: Literal["wallet"]
    destination: WalletAccount


class StoreCreditMethod(Method):
    method: Literal["store_credit"]
    destination: StoreCredit = StoreCredit()


class StatementCreditMethod(Method):
    method: Literal["statement_credit"]
    destination: CardOnFile


class DonationMethod(Method):
    method: Literal["donation"]
    destination: Cause


_KNOWN_ERRORS = frozenset(get_args(ErrorType))
_METHODS = ", ".join(get_args(PayoutMethodName))


def without_method_tag(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate a union tagged by `method`, reporting each error at its field: pydantic puts
    the tag first in a member's locations (pix.destination.key), and puts a missing or
    unknown tag at the union itself, not at `method`."""
    try:
        return handler(value)
    except ValidationError as error:
        details = [_at_field(detail, value) for detail in error.errors()]
        raise ValidationError.from_exception_data("PayoutMethod", details) from None


def _at_field(detail: ErrorDetails, value: Any) -> InitErrorDetails:
    kind, loc = detail["type"], detail["loc"]
    if kind == "union_tag_not_found" and isinstance(value, Mapping):
        return InitErrorDetails(type="missing", loc=("method",), input=value)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = value.get("method") if isinstance(value, Mapping) else value
        problem = PydanticCustomError(
            "payout_method", "must be one of {methods}", {"methods": _METHODS}
        )
        return InitErrorDetails(type=problem, loc=("method",), input=tag)
    if kind in _KNOWN_ERRORS:
        return InitErrorDetails(
            type=kind, loc=loc[1:], input=detail["input"], ctx=detail.get("ctx", {})
        )
    # A custom error keeps its type; its message, already formatted, is the template.
    message = detail["msg"].replace("{", "{{").replace("}", "}}")
    return InitErrorDetails(
        type=PydanticCustomError(kind, message), loc=loc[1:], input=detail["input"]
    )


PayoutMethod = Annotated[
    PixMethod
    | BankTransferMethod
    | WalletMethod
    | StoreCreditMethod
    | StatementCreditMethod
    | DonationMethod,
    Discriminator("method"),
    WrapValidator(without_method_tag),
]
_PAYOUT_METHOD: TypeAdapter[PayoutMethod] = TypeAdapter(PayoutMethod)


def parse_payout_method(body: Mapping[str, Any]) -> PayoutMethod:
    """The one method a request's `method` and `destination` make, or a ValidationError
    whose locations name the wrong fields (`destination.key`)."""
    return _PAYOUT_METHOD.validate_python(body)
