from __future__ import annotations

import pytest

from pipeline.analysis import Analyzer, ArticleInput
from pipeline.analysis.evidence import detect
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
