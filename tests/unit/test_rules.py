"""One test per analysis rule, with sentences we wrote, including the failure cases each rule fixes."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from pipeline.analysis import Analyzer, ArticleInput
from pipeline.analysis.evidence import _STATUS_QUO, _is_background, detect
from pipeline.analysis.patterns import lowered_matches_alike
from pipeline.analysis.registry import default_registry
from pipeline.analysis.text import split_sentences
from pipeline.analysis.tone import default_scorer
from tests.helpers import assert_valid


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def run(analyzer: Analyzer, text: str, title: str = "Crypto policy", when: str = "2025-05-01T00:00:00Z") -> Any:
    result = analyzer.analyze(ArticleInput("r", text, title=title, published_at=when))
    assert_valid("article.enriched.v1.json", result)
    return result


def kinds(code_text: str) -> list[tuple[str, str]]:
    return [(m.code, m.kind) for m in default_registry().find(code_text)]


# --- jurisdictions ------------------------------------------------------------------------------
def test_demonym_alone_is_not_an_actor_but_demonym_plus_government_noun_is() -> None:
    assert kinds("A Chinese asset manager filed the product.") == [("CN", "demonym")]
    assert kinds("Chinese regulators asked brokers to stop.") == [("CN", "government_body")]


def test_where_someone_sits_is_a_weak_mention() -> None:
    assert kinds("said an analyst based in Singapore.") == [("SG", "location")]
    assert kinds("a Singapore-based fund manager") == [("SG", "location")]


def test_weak_only_jurisdictions_are_not_listed(analyzer: Analyzer) -> None:
    result = run(analyzer, "Hong Kong's SFC approved the bitcoin fund of a Chinese asset manager, said an "
                           "analyst based in Singapore.")
    assert [j["code"] for j in result["jurisdictions"]] == ["HK"]


def test_approval_by_hong_kong_for_a_mainland_firm_is_not_mainland_easing(analyzer: Analyzer) -> None:
    result = run(analyzer, "A Chinese brokerage won approval from Hong Kong's SFC to offer crypto trading.")
    assert result["reciprocity"]["direction"] == 0 and result["mainland"]["stance"] == "absent"


# --- tone -----------------------------------------------------------------------------------------
def test_names_do_not_carry_tone() -> None:
    scorer = default_scorer()
    assert scorer.score("The Securities and Futures Commission published a list of crypto platforms.") == 0.0


def test_finance_nouns_are_neutral() -> None:
    assert default_scorer().score("Holders of the token can earn interest on their crypto assets.") == 0.0


def test_phrases_become_single_scored_tokens() -> None:
    scorer = default_scorer()
    assert scorer.rewrite("Regulators cracked down on miners") .split()[1] == "xcrackdownx"
    assert scorer.score("The exchange put its token plans on hold.") < 0
    assert scorer.score("Regulators gave the green light to a bitcoin fund.") > 0


def test_sentences_without_lexicon_words_skip_vader_and_score_zero() -> None:
    assert default_scorer().score("The token was issued on Tuesday in three markets.") == 0.0


def test_mixed_article_is_reported_neutral(analyzer: Analyzer) -> None:
    result = run(analyzer, "Bitcoin rose sharply on strong inflows. Another crypto exchange was hacked and "
                           "lost funds. Tokens traded in a narrow range on Friday.")
    assert result["crypto"]["sentiment"] == 0.0 and result["crypto"]["relevant"]


# --- evidence -------------------------------------------------------------------------------------
@pytest.mark.parametrize("sentence,expected", [
    ("The CSRC instructed brokerages to pause their tokenisation business.", "halt_order"),
    ("Regulators told platforms to wind down their crypto services.", "halt_order"),
    ("The central bank suspended the stablecoin pilot.", "halt_order"),
    ("Police arrested twelve people over crypto money laundering.", "enforcement"),
    ("The video on bitcoin was taken down from the state broadcaster's site.", "censorship"),
    ("Shanghai officials are studying stablecoins.", "regulatory_easing"),
    ("A court ruled bitcoin is property protected by law.", "regulatory_easing"),
    ("The two cities discussed mutual access for licensed crypto exchanges.", "cross_border_connect"),
])
def test_trigger_kinds(sentence: str, expected: str) -> None:
    found = [e.kind for e in detect(sentence, True, True, 0.0, 2025)]
    assert expected in found, found


def test_negation_scopes_over_the_next_trigger_only() -> None:
    found = detect("The central bank will not ban stablecoin research.", False, False, 0.0, 2025)
    assert [(e.kind, e.polarity) for e in found] == [("ban", 1), ("regulatory_easing", 1)]


def test_hedged_easing_in_a_negative_sentence_is_not_evidence() -> None:
    sentence = "Beijing will allow brokers to expand only as far as risk controls permit."
    assert "regulatory_easing" in [e.kind for e in detect(sentence, False, False, 0.2, 2025)]
    assert "regulatory_easing" not in [e.kind for e in detect(sentence, False, False, -0.6, 2025)]


@pytest.mark.parametrize("sentence", [
    "Crypto trading remains banned on the mainland.",
    "The PBoC banned crypto trading in 2021.",
    "The buyer sued after the central bank had cracked down on mining.",
])
def test_background_is_marked(sentence: str) -> None:
    found = detect(sentence, False, False, -0.5, 2025)
    assert found and all(e.background for e in found)


def test_background_keyword_filter_agrees_with_the_regex() -> None:
    """The cheap keyword check in front of _STATUS_QUO must never hide a match: same answer as the regex alone on
    every sample sentence and on each of its alternatives in odd case (and a non-ASCII sentence, which skips it)."""
    sentences = [
        "Crypto trading REMAINS BANNED on the mainland.", "The Ban stays in force, officials said.",
        "Trading is FORBIDDEN there.", "Mining are effectively outlawed.", "After the bank Had Cracked down.",
        "Regulators still prohibit exchanges.", "Beijing said trading is prohibited 在北京.", "Hong Kong opened up.",
    ]
    for line in resources.files("pipeline.data").joinpath("samples/articles.jsonl").read_text().splitlines():
        text = json.loads(line)["text"]
        sentences.extend(text[start:end] for start, end in split_sentences(text))
    matched = 0
    for sentence in sentences:
        expected = _STATUS_QUO.search(sentence) is not None
        assert _is_background(sentence, sentence.lower(), None, lowered_matches_alike(sentence)) is expected, sentence
        matched += expected
    assert matched >= 8  # the crafted ones at least: the comparison covers both answers


def test_state_media_attacking_crypto_is_pushback() -> None:
    found = detect("CCTV aired a segment calling bitcoin a dangerous scam.", True, False, -0.7, 2025)
    assert ("state_media_coverage", -1) in [(e.kind, e.polarity) for e in found]


def test_cbdc_pilot_is_not_crypto_warming(analyzer: Analyzer) -> None:
    result = run(analyzer, "The PBoC expanded its e-CNY pilot to cross-border payments with Hong Kong. The "
                           "digital yuan trial now covers two more cities.", title="Digital yuan pilot grows")
    assert result["crypto"]["relevant"]
    assert result["reciprocity"]["direction"] == 0


def test_new_evidence_moves_reciprocity_and_background_only_stance(analyzer: Analyzer) -> None:
    result = run(analyzer, "Hong Kong licensed a third crypto exchange. Crypto trading remains banned on the "
                           "mainland, where the PBoC banned it in 2021.", title="Hong Kong licenses exchange")
    assert result["reciprocity"]["direction"] == 0
    assert result["mainland"]["stance"] == "hostile"


def test_chinese_aliases_in_chinese_text(analyzer: Analyzer) -> None:
    result = analyzer.analyze(ArticleInput("zh", "中國證監會要求券商暫停香港的代幣化業務。香港證監會表示歡迎。"))
    codes = {j["code"] for j in result["jurisdictions"]}
    assert codes == {"CN", "HK"}
    assert result["unscored_reason"] == "unsupported_language"
    assert json.dumps(result, ensure_ascii=False)
