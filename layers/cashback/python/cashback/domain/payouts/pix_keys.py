"""PIX keys: the five kinds the Central Bank's directory (DICT) registers, each checked and
brought to its stored form, so the same key written two ways is the same destination.

cpf and cnpj: tax_ids; email: lower case, at most 77 characters (DICT's limit); phone: a
Brazilian mobile number in E.164 (+55, area code, 9 digits starting with 9: PIX phone keys
are mobile numbers); evp (random key): a UUID, lower case with hyphens."""

from __future__ import annotations

import re
from typing import Literal

from pydantic_core import PydanticCustomError

from cashback.domain.payouts import tax_ids

PixKeyType = Literal["cpf", "cnpj", "email", "phone", "evp"]
MAX_EMAIL = 77
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# DICT's pattern for e-mail keys, with at least one dot in the domain.
_EMAIL = re.compile(rf"[a-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+")
# Separators people write in a phone number; none is part of the stored form.
_PHONE_SEPARATORS = str.maketrans("", "", " .-()")
_PHONE = re.compile(r"\+55[1-9]{2}9[0-9]{8}")
_EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalise_pix_key(key_type: PixKeyType, key: str) -> str:
    """The stored form of a key of this type, or a PydanticCustomError naming the problem."""
    if key_type == "cpf":
        return tax_ids.normalise_cpf(key)
    if key_type == "cnpj":
        return tax_ids.normalise_cnpj(key)
    if key_type == "email":
        return normalise_email(key)
    if key_type == "phone":
        return normalise_phone(key)
    return normalise_evp(key)


def normalise_email(key: str) -> str:
    email = key.strip().lower()
    if len(email) > MAX_EMAIL:
        raise PydanticCustomError(
            "email_length", "an e-mail key has at most {max} characters", {"max": MAX_EMAIL}
        )
    if not _EMAIL.fullmatch(email):
        raise PydanticCustomError("email_format", "is not an e-mail address")
    return email


def normalise_phone(key: str) -> str:
    phone = key.strip().translate(_PHONE_SEPARATORS)
    if not _PHONE.fullmatch(phone):
        raise PydanticCustomError(
            "phone_format",
            "is not a Brazilian mobile number in E.164 form, such as +5511987654321",
        )
    return phone


def normalise_evp(key: str) -> str:
    evp = key.strip().lower()
    if not _EVP.fullmatch(evp):
        raise PydanticCustomError(
            "evp_format",
            "is not a random key: expected a UUID such as 123e4567-e89b-42d3-a456-426614174000",
        )
    return evp


def mask_pix_key(key_type: PixKeyType, key: str) -> str:
    """The masked form of a stored key: never more than the characters named here."""
    if key_type == "cpf":
        return tax_ids.mask_cpf(key)
    if key_type == "cnpj":
        return tax_ids.mask_cnpj(key)
    if key_type == "email":
        return mask_email(key)
    if key_type == "phone":
        return mask_phone(key)
    return mask_evp(key)


def mask_email(email: str) -> str:
    """`j***@g***.com`: the first character of the mailbox and of the domain, and the last
    label of the domain. The stars are fixed, so the lengths stay hidden."""
    mailbox, _, domain = email.rpartition("@")
    return f"{mailbox[:1]}***@{domain[:1]}***.{domain.rpartition('.')[2]}"


def mask_phone(phone: str) -> str:
    """`+55 11 *****-4321`: the country, the area code and the last four digits."""
    return f"{phone[:3]} {phone[3:5]} *****-{phone[-4:]}"


def mask_evp(evp: str) -> str:
    """`********-****-****-****-********4000`: the last four characters of the UUID."""
    return f"********-****-****-****-********{evp[-4:]}"
