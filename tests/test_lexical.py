"""Lexical normalization, BM25, the fusion rule and term bridging, on literal inputs."""

from __future__ import annotations

import numpy as np
import pytest

from bot.retrieval.bridging import TermBridge, spelling_key, word_index
from bot.retrieval.config import BridgeConfig, FusionWeights
from bot.retrieval.fusion import confident, fuse, rank, with_second
from bot.retrieval.lexical import LexicalIndex, fold, terms, tokens, words

SENTENCES = [
    "Putin besuchte im Juni Pjöngjang.",
    "Moskaus Veto im UN-Sicherheitsrat beendete die Aufsicht.",
    "Nordkorea könnte Waffen nach Russland senden.",
]


@pytest.mark.parametrize("spelling", ["Pjöngjang", "Pjoengjang", "pjongjang", "PJÖNGJANG"])
def test_spellings_of_a_name_fold_alike(spelling: str) -> None:
    assert fold(spelling) == "pjongjang"


def test_fold_spells_out_sharp_s() -> None:
    assert fold("Verstöße") == fold("verstoesse") == "verstosse"


def test_stop_words_of_both_languages_go_also_when_written_without_umlauts() -> None:
    assert words("Was ist für die Ukraine über the troops") == ["ukraine", "troops"]
    assert words("fuer ueber") == []


def test_tokens_keep_the_written_word_for_the_model() -> None:
    assert tokens("Verstöße gegen Sanktionen") == [
        ("verstöße", "verstosse"),
        ("sanktionen", "sanktionen"),
    ]


def test_terms_are_stemmed_in_the_document_language() -> None:
    assert terms("Soldaten", "de") == terms("soldat", "de")
    assert terms("missiles", "en") == terms("missile", "en")


def test_bm25_scores_only_sentences_with_the_term() -> None:
    index = LexicalIndex(SENTENCES, language="de")
    scores = index.scores("Veto")
    assert scores[1] > 0
    assert scores[0] == scores[2] == 0


def test_question_without_umlauts_meets_the_document() -> None:
    index = LexicalIndex(SENTENCES, language="de")
    assert index.scores("waffen nach russland schicken")[2] > 0
    assert index.scores("Pjoengjang")[0] > 0


def test_matches_scale_with_the_weight() -> None:
    index = LexicalIndex(SENTENCES, language="de")
    (term,) = index.query_terms("Veto")
    ids, full = index.matches({term: 1.0})
    _, half = index.matches({term: 0.5})
    assert list(ids) == [1]
    assert half[0] == pytest.approx(full[0] / 2)
    assert len(index.matches({"unbekannt": 1.0})[0]) == 0


def test_matches_sum_the_terms_scores() -> None:
    index = LexicalIndex(SENTENCES, language="de")
    weights = dict.fromkeys(index.query_terms("Putin Juni Waffen Russland"), 1.0)
    ids, scores = index.matches(weights)
    full = index.scores("Putin Juni Waffen Russland")
    assert list(ids) == [i for i in range(len(SENTENCES)) if full[i] > 0]
    assert scores == pytest.approx(full[ids])
    alone = sum(index.matches({term: 1.0})[1].sum() for term in weights)
    assert scores.sum() == pytest.approx(alone)


def test_saved_index_scores_the_same(tmp_path) -> None:
    index = LexicalIndex(SENTENCES, language="de")
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    question = "Wer besuchte Pjoengjang im Juni?"
    assert loaded.scores(question) == pytest.approx(index.scores(question))
    assert loaded.vocabulary() == index.vocabulary()
    assert loaded.language == "de"


def test_known_terms_counts_only_when_every_word_occurs() -> None:
    index = LexicalIndex(SENTENCES, language="de")
    assert index.known_terms("Veto") == 1
    assert index.known_terms("Putin Juni") == 2
    assert index.known_terms("Veto Eiffelturm") == 0
    assert index.known_terms("") == 0


def test_empty_corpus_scores_nothing() -> None:
    index = LexicalIndex([], language="de")
    assert index.scores("Veto").shape == (0,)
    assert len(index.matches({"veto": 1.0})[0]) == 0
    assert index.known_terms("Veto") == 0
    assert index.vocabulary() == ([], [], [])


def test_lexical_evidence_saturates() -> None:
    weights = FusionWeights()
    zero = np.zeros(3, dtype=np.float32)
    dense = np.full(3, 0.4, dtype=np.float32)
    bm25 = np.array([0.0, 2.0, 200.0], dtype=np.float32)
    scores = fuse(dense, dense, dense, bm25, weights)
    assert scores[0] == pytest.approx(0.4)
    assert scores[0] < scores[1] < scores[2] < 0.4 + weights.lexical
    assert fuse(dense, zero, zero, zero, weights)[0] == pytest.approx(0.4)


def test_a_strong_window_or_clause_raises_the_dense_score() -> None:
    weights = FusionWeights()
    sentence = np.array([0.3], dtype=np.float32)
    none = np.array([0.0], dtype=np.float32)
    base = fuse(sentence, none, none, none, weights)[0]
    assert fuse(sentence, np.array([0.8], dtype=np.float32), none, none, weights)[0] > base
    assert fuse(sentence, none, np.array([0.8], dtype=np.float32), none, weights)[0] > base


def test_rank_is_best_first_and_keeps_document_order_on_ties() -> None:
    assert rank(np.array([0.1, 0.5, 0.5, 0.9]), 3) == [3, 1, 2]


def test_abstention_threshold_and_keyword_queries() -> None:
    weights = FusionWeights(abstain_below=0.25, abstain_below_keywords=0.15, keyword_query_words=2)
    assert confident(0.25, weights)
    assert not confident(0.2, weights)
    assert confident(0.2, weights, known_keywords=1)
    assert not confident(0.2, weights, known_keywords=3)  # longer questions need the full score
    assert not confident(0.1, weights, known_keywords=1)


def test_lexical_evidence_counts_less_across_languages() -> None:
    weights = FusionWeights(
        lexical=0.5, lexical_cross=0.4, second_lexical=1.0, second_lexical_cross=0.25
    )
    dense = np.full(2, 0.4, dtype=np.float32)
    bm25 = np.full(2, 2.0, dtype=np.float32)  # saturates to 0.5
    cross = np.array([False, True])
    assert fuse(dense, dense, dense, bm25, weights, cross=cross) == pytest.approx(
        [0.4 + 0.5 * 0.5, 0.4 + 0.4 * 0.5]
    )
    with_a_second_model = fuse(dense, dense, dense, bm25, weights, cross=cross, second=True)
    assert with_a_second_model == pytest.approx([0.4 + 1.0 * 0.5, 0.4 + 0.25 * 0.5])


def test_the_second_model_joins_on_the_hybrids_scale() -> None:
    weights = FusionWeights(second=3.0)
    hybrid = np.array([0.6, 0.5], dtype=np.float32)
    second = np.array([0.8, 0.9], dtype=np.float32)
    assert with_second(hybrid, second, weights) == pytest.approx([0.75, 0.8])


def test_with_a_second_model_its_cosine_decides_and_the_bar_rises_with_the_index() -> None:
    weights = FusionWeights(
        abstain_second_below=0.80, abstain_second_below_cross=0.76, abstain_second_per_log=0.01
    )
    # One sentence: ln 1 = 0, the bare thresholds.
    assert confident(0.3, weights, second_top=0.80, sentences=1)
    assert not confident(0.9, weights, second_top=0.79, sentences=1)  # the hybrid has no say
    assert confident(0.3, weights, second_top=0.77, cross=True, sentences=1)
    # e^3 ≈ 20 sentences: 0.03 higher.
    assert not confident(0.3, weights, second_top=0.82, sentences=20)
    assert confident(0.3, weights, second_top=0.84, sentences=20)
    assert not confident(0.3, weights, second_top=0.78, cross=True, sentences=20)
    # A keyword query that the documents contain still passes on the hybrid's keyword bar.
    assert confident(0.2, weights, known_keywords=1, second_top=0.5, sentences=20)
    # Without the least hybrid evidence (a word like "ok") the second model is not asked.
    assert not confident(0.1, weights, second_top=0.9, sentences=1)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_bridge_maps_a_word_to_its_nearest_document_word() -> None:
    bridge = TermBridge(
        ["offizieren", "juni"], ["offizi", "juni"], np.stack([_unit(1, 0, 0), _unit(0, 1, 0)])
    )
    expanded = bridge.expand(["officers"], np.stack([_unit(0.9, 0.1, 0.1)]))
    assert set(expanded) == {"offizi"}
    assert 0.6 <= expanded["offizi"] <= 1.0


def test_bridge_ignores_distant_words() -> None:
    bridge = TermBridge(["juni"], ["juni"], np.stack([_unit(0, 1, 0)]))
    assert bridge.expand(["pizza"], np.stack([_unit(1, 0, 0.1)])) == {}


def test_bridge_matches_transliterated_and_misspelt_names() -> None:
    far = np.stack([_unit(0, 0, 1)])
    bridge = TermBridge(["pjongjang"], ["pjongjang"], np.stack([_unit(1, 0, 0)]))
    assert "pjongjang" in bridge.expand(["pyongyang"], far)
    assert "pjongjang" in bridge.expand(["pjongyang"], far)
    assert bridge.expand(["berlin"], far) == {}


def test_spellings_are_compared_among_words_that_begin_alike() -> None:
    words = ["nordkorea", "mordkorea", "pjongjang"]  # "mordkorea" is as close, but an m
    bridge = TermBridge(words, words, np.stack([_unit(0, 0, 1)] * len(words)))
    assert set(bridge.expand(["nordkorae"], np.stack([_unit(1, 0, 0)]))) == {"nordkorea"}
    assert set(bridge.expand(["mordkorae"], np.stack([_unit(1, 0, 0)]))) == {"mordkorea"}


def test_graph_index_finds_the_nearest_word_as_the_exact_one_does() -> None:
    vectors = np.random.default_rng(3).standard_normal((500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"wort{i}" for i in range(500)]
    exact = TermBridge(words, words, vectors)
    graph = TermBridge(words, words, word_index(vectors))
    for row in vectors[:50]:
        found, expected = graph.expand(["x"], row[None]), exact.expand(["x"], row[None])
        assert found.keys() == expected.keys()
        assert list(found.values()) == pytest.approx(list(expected.values()), abs=0.02)


def test_short_words_are_not_matched_by_spelling() -> None:
    config = BridgeConfig(min_spelling_length=5)
    bridge = TermBridge(["kim"], ["kim"], np.stack([_unit(1, 0, 0)]))
    assert bridge.expand(["kin"], np.stack([_unit(0, 1, 0)]), config) == {}


@pytest.mark.parametrize(
    ("english", "german"), [("pyongyang", "pjongjang"), ("donetsk", "donezk"), ("yemen", "jemen")]
)
def test_spelling_key_evens_out_transliteration(english: str, german: str) -> None:
    assert spelling_key(english) == spelling_key(german)
