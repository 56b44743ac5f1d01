"""Masked payout destinations: the only form a destination takes in a reply, a log line or
an event. Each mask shows a fixed part and hides the rest behind a fixed number of stars.

    pix cpf        ***.456.789-**           the middle six digits
    pix cnpj       **.***.678/0001-**       the root's last three characters and the branch
    pix email      j***@g***.com            first character of mailbox and domain, last label
    pix phone      +55 11 *****-4321        country, area code, last four digits
    pix evp        ********-****-****-****-********4000   the last four characters
    bank account   bank_code and account_type as given; branch ****; account ****45-6 (the
                   last two digits of a number of 6 or more digits, and the check digit;
                   ****-6 for a shorter number); holder_name A*** S*** (first letters of the
                   first and last words); holder_tax_id as a CPF or CNPJ above
    wallet         provider as given; account ****a1b2 (last four of 12 or more characters)
    statement      card_fingerprint as a wallet account
    donation       cause_id as given (the storefront's cause, nobody's data)
    store credit   nothing to mask"""

from __future__ import annotations

from cashback.domain.payouts.destinations import (
    BankAccount,
    CardOnFile,
    Cause,
    Destination,
    PixKey,
    StoreCredit,
    WalletAccount,
)
from cashback.domain.payouts.pix_keys import mask_pix_key
from cashback.domain.payouts.tax_ids import mask_tax_id

HIDDEN = "****"
# An opaque reference shows its last four characters only when it has this many or more.
SHOWN_FROM = 12


def mask(destination: Destination) -> dict[str, str]:
    """The masked form of any destination, with the destination's own field names."""
    match destination:
        case PixKey(key_type=key_type, key=key):
            return {"key_type": key_type, "key": mask_pix_key(key_type, key)}
        case BankAccount():
            return {
                "bank_code": destination.bank_code,
                "branch": HIDDEN,
                "account": mask_account(destination.account),
                "account_type": destination.account_type,
                "holder_name": mask_name(destination.holder_name),
                "holder_tax_id": mask_tax_id(destination.holder_tax_id),
            }
        case WalletAccount(provider=provider, account=account):
            return {"provider": provider, "account": mask_reference(account)}
        case CardOnFile(card_fingerprint=fingerprint):
            return {"card_fingerprint": mask_reference(fingerprint)}
        case Cause(cause_id=cause_id):
            return {"cause_id": cause_id}
        case StoreCredit():
            return {}
    # A destination without a mask must fail loudly rather than show itself.
    raise TypeError(f"no mask for {type(destination).__name__}")


def mask_account(account: str) -> str:
    """`****45-6` for a stored account of six or more digits (`1234545-6`), else `****-6`."""
    number, _, check_digit = account.rpartition("-")
    shown = number[-2:] if len(number) >= 6 else ""
    return f"{HIDDEN}{shown}-{check_digit}"


def mask_name(name: str) -> str:
    """`A*** S***`: the first letters of the first and the last words."""
    words = name.split()
    initials = [words[0][0]] if len(words) == 1 else [words[0][0], words[-1][0]]
    return " ".join(f"{initial}***" for initial in initials)


def mask_reference(reference: str) -> str:
    """`****a1b2`: the last four characters of a reference of twelve or more, else `****`."""
    return HIDDEN + (reference[-4:] if len(reference) >= SHOWN_FROM else "")
