from __future__ import annotations

import json
from importlib import resources

import pytest

from pipeline.analysis.registry import default_registry


def codes(text: str) -> list[str]:
    return [m.code for m in default_registry().find(text)]


@pytest.mark.parametrize("text,expected", [
    ("The SFC and the HKMA issued a joint circular.", ["HK", "HK"]),
    ("The PBoC and the CSRC said so.", ["CN", "CN"]),
    ("Beijing ordered brokers to stop.", ["CN"]),
    ("Regulators on the mainland remain wary.", ["CN"]),
    ("Shanghai officials studied stablecoins.", ["CN-SH"]),
    ("The Monetary Authority of Singapore and the MAS registry.", ["SG", "SG"]),
    ("香港证监会与中国人民银行", ["HK", "CN"]),
    ("The European Union's MiCA rules.", ["EU", "EU"]),
])
def test_aliases_resolve_to_canonical_codes(text: str, expected: list[str]) -> None:
    assert codes(text) == expected


def test_whole_words_only() -> None:
    assert codes("Chinatown usage and a machine-learning tool") == []
    assert codes("the mass of sfc chocolate") == []  # case-sensitive acronyms


def test_source_and_company_names_are_not_mentions() -> None:
    assert codes("The South China Morning Post reported it first.") == []
    assert codes("China Asset Management's unit filed the ETF.") == []


def test_datelines_are_not_mentions() -> None:
    text = "SHANGHAI/HONG KONG, June 1 (Wire) - The SFC granted a licence.\nHONG KONG - Trading began."
    assert codes(text) == ["HK"]


def test_listing_venue_is_not_a_mention() -> None:
    assert codes("Shares of the Hong Kong-listed miner rose.") == []
    assert codes("A Hong Kong-based exchange applied.") == ["HK"]


def test_currency_prefixes_are_not_the_country() -> None:
    assert "US" not in codes("The fund raised US$1.2 billion.")


def test_ambiguous_regulator_resolved_by_co_mentions() -> None:
    assert codes("证监会表示将加强监管。") == ["CN"]
    assert codes("香港證監會表示，證監會將發出牌照。")[-1] == "HK"


def test_longest_match_wins() -> None:
    assert codes("the People's Bank of China said") == ["CN"]


def test_registry_data_is_consistent() -> None:
    data = json.loads(resources.files("pipeline.data").joinpath("jurisdictions.json").read_text("utf-8"))
    seen: dict[str, str] = {}
    for jurisdiction in data["jurisdictions"]:
        for alias in jurisdiction["aliases"]:
            key = alias["text"].lower()
            assert seen.setdefault(key, jurisdiction["code"]) == jurisdiction["code"], alias["text"]
    assert {"HK", "CN", "CN-SH", "SG", "US", "EU", "GB", "JP", "KR", "AE", "TW", "MO"} <= set(
        default_registry().codes)
