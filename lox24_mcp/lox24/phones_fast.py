"""The short path to E.164 for plainly written numbers, checked against `phonenumbers.parse`.

`phonenumbers.parse` is general (free text, extensions, vanity letters, RFC 3966) and is most of the
CPU of a large import. Plainly written numbers (`+49 151 12345678`, `0151/12345678`) take this path
through the same metadata and the same validity rules; anything else, and anything this path is not
sure of, returns None and goes through `parse` (`lox24_mcp.lox24.phones`). The tests compare both
paths on every region's example numbers in several notations and on generated input; the figures
are in benchmarks/README.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from phonenumbers import PhoneMetadata, PhoneNumberDesc

#: Digits with the usual separators, optionally after one `+`: nothing `parse` would read differently
#: (no letters, extensions, `tel:` URIs or second numbers).
PLAIN = re.compile(r"\+?[0-9 ()./-]{1,40}")
NOT_DIGIT = re.compile(r"[^0-9]")
_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's bounds on the national significant number


def plain_e164(text: str, default_region: str | None) -> str | None:
    """The short path: the E.164 form of a plainly written valid number, or None to let `parse` decide.

    It follows `phonenumbers.parse` step by step for digits-only input (country code after `+`, else
    the default region's; the national prefix stripped by the same metadata and the same rules) and
    gives up wherever `parse` would do something else (IDD prefixes, a country code without `+`,
    transformed prefixes, Italian leading zeros, lengths in doubt). Only valid numbers come out.
    """
    import phonenumbers
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, PhoneMetadata

    if PLAIN.fullmatch(text) is None:
        return None
    digits = NOT_DIGIT.sub("", text)
    metadata: PhoneMetadata | None
    if text.startswith("+"):
        if len(digits) <= _MIN_NSN or digits[0] == "0":
            return None
        for size in (1, 2, 3):
            country_code = int(digits[:size])
            if country_code in COUNTRY_CODE_TO_REGION_CODE:
                break
        else:
            return None
        national = digits[size:]
        region = phonenumbers.region_code_for_country_code(country_code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    else:
        if default_region not in SUPPORTED_REGIONS:
            return None
        metadata = PhoneMetadata.metadata_for_region(default_region)
        if metadata is None or not metadata.international_prefix or metadata.country_code is None:
            return None
        country_code = metadata.country_code
        if re.match(metadata.international_prefix, digits) or digits.startswith(str(country_code)):
            return None  # an IDD prefix, or a country code written without `+`: `_parsed_e164` decides
        national = digits
    if metadata is None or len(national) < _MIN_NSN:
        return None
    significant = _strip_national_prefix(national, metadata)
    if significant is None or not _MIN_NSN <= len(significant) <= _MAX_NSN or significant[0] == "0":
        return None
    if len(COUNTRY_CODE_TO_REGION_CODE[country_code]) == 1:
        valid = is_valid(significant, metadata)
    else:  # shared country codes (+1, +7, +44, …): the library picks the region
        valid = phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=country_code, national_number=int(significant))
        )
    if not valid:
        return None  # parse gives the reason
    return f"+{country_code}{significant}"


#: The number types `is_valid_number` tries, in its order; a number is valid when one of them fits.
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_Desc: TypeAlias = tuple[frozenset[int], re.Pattern[str]]
_compiled_descs: dict[tuple[str | None, int | None], tuple[_Desc | None, list[_Desc]]] = {}


def is_valid(national: str, metadata: PhoneMetadata) -> bool:
    """`is_valid_number` for a country code with one region, with the patterns compiled once per region.

    Same rule as the library's `_number_type_helper(...) != UNKNOWN`: the general description fits
    and so does one number type (length among its possible lengths, pattern matching in full).
    """
    key = (metadata.id, metadata.country_code)
    descs = _compiled_descs.get(key)
    if descs is None:
        types = [d for name in _TYPES if (d := _compile(getattr(metadata, name))) is not None]
        descs = _compiled_descs[key] = (_compile(metadata.general_desc), types)
    general, types = descs
    return general is not None and _fits(national, general) and any(_fits(national, d) for d in types)


def _compile(desc: PhoneNumberDesc | None) -> _Desc | None:
    if desc is None or not desc.national_number_pattern:
        return None  # the library treats it as matching nothing
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


def _fits(national: str, desc: _Desc) -> bool:
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


def _strip_national_prefix(national: str, metadata: PhoneMetadata) -> str | None:
    """`parse`'s national-prefix step (`0151…` → `151…`), or None where it would need more than that."""
    prefix = metadata.national_prefix_for_parsing
    if not prefix:
        return national
    match = re.match(prefix, national)
    if match is None:
        return national
    if metadata.national_prefix_transform_rule and (not match.groups() or match.groups()[-1] is not None):
        return None  # a transform rule applies (e.g. Argentina's mobile 15): leave it to parse
    stripped = national[match.end() :]
    general = metadata.general_desc
    pattern = general.national_number_pattern if general is not None else None
    if pattern and re.fullmatch(pattern, national) and not re.fullmatch(pattern, stripped):
        return national  # parse keeps a number that only fits with its prefix
    if general is None or len(stripped) not in general.possible_length:
        return None
    if len(stripped) in general.possible_length_local_only:
        return None
    return stripped
