from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis import Analyzer, ArticleInput
from pipeline.analysis.evidence import detect
from pipeline.analysis.text import split_sentences
from pipeline.analysis.tone import default_scorer
from tests.helpers import assert_valid


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def analyze(analyzer: Analyzer, text: str, title: str = "", **kw: str) -> dict:  # type: ignore[type-arg]
    result = analyzer.analyze(ArticleInput("a", text, title=title, published_at=kw.get("published_at",
                                                                                        "2023-06-01T00:00:00Z"),
                                           language=kw.get("language")))
    assert_valid("article.enriched.v1.json", result)
    return result


def test_negation_flips_policy_words() -> None:
    scorer = default_scorer()
    assert scorer.score("Regulators will ban bitcoin trading.") < -0.3
    assert scorer.score("Regulators will not ban bitcoin trading.") > 0
    assert scorer.score("Beijing lifted the ban on bitcoin trading.") > 0.3
    assert scorer.score("Authorities cracked down on crypto exchanges.") < -0.3


def test_crypto_relevance_uses_the_term_list() -> None:
    scorer = default_scorer()
    assert scorer.is_crypto("Stablecoin issuers need a licence.")
    assert scorer.is_crypto("虚拟资产交易平台")
    assert not scorer.is_crypto("Property prices fell in Kowloon.")


_PIECES = [
    "bitcoin", "Bitcoin's", "BITCOIN", "xbitcoin", "bitcoins2", "e-CNY", "e CNY", "the e", "CNY", "stablecoin",
    "central bank digital currency", "digital", "currency", "tokenised", "token_", "ether", "Ethereum", "eth",
    "虚拟资产", "交易平台", "İstanbul", "Kelvin \u212a", "Straße", "ΣΟΦΙΑ", "😀", "crypto-asset", "web3", "prices",
    "fell", "Kowloon", "said", "mining", "non-fungible token", "NFT", "policy", "nft2", "blockchain", "ledger",
    "distributed ledger", "digital yuan", "mBridge", "e-HKD", "initial coin offering", "coin", "virtual asset",
    "区块链", "数字人民币", "“quoted”",
]
_JOINS = [" ", " ", " ", ". ", "! ", "? ", "\n", "\n\n", "。", "；", "-", "", ", ", ".\" ", ")"]


@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(_JOINS)), max_size=40))
@settings(max_examples=300, deadline=None)
def test_crypto_contents_of_a_text_match_each_sentence_checked_alone(parts: list[tuple[str, str]]) -> None:
    """The one-scan pre-selection must not change any sentence's answer: term tokens glued to other words,
    multi-token terms, Chinese terms, letters that lower-case to ASCII or to two characters, every separator."""
    scorer = default_scorer()
    text = "".join(piece + join for piece, join in parts)
    spans = split_sentences(text)
    assert scorer.crypto_contents(text, spans) == [scorer.crypto_content(text[a:b]) for a, b in spans]


def test_crypto_contents_finds_multi_token_and_chinese_terms() -> None:
    scorer = default_scorer()
    text = "Property prices fell. The e-CNY pilot grew.\n虚拟资产交易平台。Bitcoin rose! Nothing else."
    assert scorer.crypto_contents(text, split_sentences(text)) == [
        (False, False), (False, True), (True, True), (True, True), (False, False)]


def _phrase_pieces() -> list[str]:
    """Each phrase's hints, and phrases its patterns match, for generated sentences to hold."""
    scorer = default_scorer()
    pieces = {hint for _, _, hints in scorer.lexicon.phrases for hint in hints}
    pieces |= {hint.upper() for hint in pieces}
    return [*sorted(pieces), "cracked down", "clamps down", "shut down", "green-lit", "money laundering",
            "regulatory clarity", "opened the door", "warned investors", "put the plan on hold", "on hold",
            "lifted the ban", "eased curbs", "crypto", "anti"]


@given(st.lists(st.tuples(st.sampled_from(_phrase_pieces()), st.sampled_from([" ", "", "-", ", "])), max_size=12))
@settings(max_examples=300, deadline=None)
def test_rewrite_applies_in_order_every_phrase_one_of_whose_hints_occurs(parts: list[tuple[str, str]]) -> None:
    """The one-scan hint lookup must pick the phrases the plain rule picks, in its order: a hint several phrases
    share ("down"), hints glued to other words, upper case."""
    scorer = default_scorer()
    sentence = "".join(piece + join for piece, join in parts)
    expected = sentence
    for pattern, token, hints in scorer.lexicon.phrases:
        if any(hint in sentence.lower() for hint in hints):
            expected = pattern.sub(token, expected)
    assert scorer.rewrite(sentence) == expected


def test_hostile_mainland_article(analyzer: Analyzer) -> None:
    result = analyze(analyzer, "The People's Bank of China declared all crypto transactions illegal. "
                               "Beijing vowed to crack down on bitcoin mining and trading platforms.",
                     title="Mainland bans crypto trading", published_at="2021-09-24T00:00:00Z")
    assert result["crypto"]["relevant"] and result["crypto"]["sentiment"] < -0.05
    assert result["mainland"]["stance"] == "hostile"
    assert result["reciprocity"]["direction"] == -1
    assert {e["kind"] for e in result["reciprocity"]["evidence"]} >= {"ban", "crackdown"}


def test_softening_evidence_from_state_media(analyzer: Analyzer) -> None:
    result = analyze(analyzer, "State broadcaster CCTV aired a segment explaining bitcoin and Hong Kong's "
                               "licensed crypto exchanges. Analysts called it a notable change in tone.",
                     title="CCTV segment on bitcoin")
    assert result["reciprocity"]["direction"] == 1
    assert result["mainland"]["stance"] == "softening"


def test_background_ban_is_not_new_evidence(analyzer: Analyzer) -> None:
    result = analyze(analyzer, "Hong Kong's SFC licensed two more crypto exchanges on Monday. Crypto trading "
                               "has been banned in mainland China since 2021.", title="HK licenses exchanges",
                     published_at="2024-03-01T00:00:00Z")
    assert result["reciprocity"]["direction"] == 0
    assert result["mainland"]["stance"] == "hostile"


def test_tone_is_attributed_to_the_jurisdictions_of_each_sentence(analyzer: Analyzer) -> None:
    result = analyze(analyzer, "Hong Kong welcomed crypto exchanges with a clear licensing regime. "
                               "Beijing banned crypto trading and warned of fraud.", title="Two cities")
    tones = result["by_jurisdiction"]
    assert tones["HK"]["sentiment"] > 0 > tones["CN"]["sentiment"]


def test_chinese_text_is_marked_unscored_not_neutral(analyzer: Analyzer) -> None:
    result = analyze(analyzer, "中国人民银行表示，虚拟货币交易属于非法金融活动。香港证监会向交易平台发出牌照。")
    assert result["language"] == "zh"
    assert result["unscored_reason"] == "unsupported_language"
    assert {j["code"] for j in result["jurisdictions"]} == {"CN", "HK"}


def test_non_crypto_article_is_not_relevant(analyzer: Analyzer) -> None:
    result = analyze(analyzer, "Shanghai's port handled record container volumes. Officials in Beijing "
                               "praised the logistics sector.", title="Port traffic")
    assert not result["crypto"]["relevant"]
    assert result["mainland"]["stance"] == "absent"
    assert result["reciprocity"] == {"direction": 0, "score": 0.0, "evidence": []}


def test_evidence_spans_point_into_title_and_text(analyzer: Analyzer) -> None:
    title, text = "Beijing bans bitcoin", "The <b>PBoC</b> banned bitcoin trading outright."
    result = analyze(analyzer, text, title=title)
    full = f"{title}\n\n{text}"
    for item in result["reciprocity"]["evidence"]:
        a, b = item["span"]
        assert "ban" in full[a:b].lower()


def test_detect_negated_trigger() -> None:
    found = detect("The central bank will not ban stablecoin research.", False, False, 0.0, 2025)
    assert [(e.kind, e.polarity) for e in found] == [("ban", 1), ("regulatory_easing", 1)]
