"""Everything that shapes a ranking and an answer, in one object passed inward.

`RetrievalConfig` holds the candidate counts and the quotes shown, the fusion weights and
abstention thresholds (`FusionWeights`, used by bot/retrieval/fusion.py) and the term
bridge's thresholds (`BridgeConfig`, used by bot/retrieval/bridging.py). The defaults are
the values chosen on the development sets (docs/quality.md); one set serves every corpus.
`overridden` applies `name=value` pairs, as `python -m bot.tools.eval --set` does for
sweeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """The scoring and abstention rule's weights and thresholds (bot/retrieval/fusion.py)."""

    window: float = 0.6
    clause: float = 0.3
    lexical: float = 0.5
    lexical_cross: float = 0.5
    # With a second model the hybrid is one part of the score and BM25 matters more within
    # a language and less across (few German words match an English question).
    second_lexical: float = 1.0
    second_lexical_cross: float = 0.25
    saturation: float = 2.0
    second: float = 8.0
    abstain_below: float = 0.25
    abstain_below_keywords: float = 0.15
    abstain_second_below: float = 0.792
    abstain_second_below_cross: float = 0.752
    abstain_second_per_log: float = 0.0053
    # The hybrid's least evidence even then: e5 gives "ok" or "a" a cosine of 0.8 to almost
    # any sentence; no answerable question of the dev sets has a hybrid score below 0.19.
    abstain_second_hybrid_below: float = 0.15
    keyword_query_words: int = 2
    related_ratio: float = 0.9  # further quotes within this share of the first's score
    related_ratio_second: float = 0.98  # the same with a second model (scores lie closer)


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """The term bridge's thresholds (bot/retrieval/bridging.py)."""

    min_similarity: float = 0.6  # cosine between a question word and a document word
    neighbours: int = 1  # the nearest document word per question word
    min_spelling: float = 85.0  # rapidfuzz ratio (0-100) for near-identical spellings
    min_spelling_length: int = 5  # shorter words are too easily confused
    prefix: int = 2  # spellings compared only among words that begin alike


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    candidates: int = 50  # per source (FAISS, BM25, the second model); signals see only these
    head: int = 8  # candidates the second model scores on the spot while its vectors fill
    quotes: int = 3  # quotes shown at most
    more_quotes: int = 5  # quotes behind "More"
    fusion: FusionWeights = field(default_factory=FusionWeights)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)


def names(config: RetrievalConfig | None = None) -> list[str]:
    """Every settable name: `candidates`, `fusion.lexical`, `bridge.min_similarity`, …"""
    config = config or RetrievalConfig()
    out = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out += [f"{f.name}.{g.name}" for g in dataclasses.fields(value)]
        else:
            out.append(f.name)
    return out


def overridden(config: RetrievalConfig, pairs: Iterable[str]) -> RetrievalConfig:
    """`config` with `name=value` pairs applied; a name may drop its part (`lexical` for
    `fusion.lexical`) where that leaves it unambiguous.

    Raises:
        ValueError: for an unknown or ambiguous name, or a value of the wrong type.
    """
    known = names(config)
    for pair in pairs:
        name, _, value = pair.partition("=")
        matches = [n for n in known if n == name or n.rsplit(".", 1)[-1] == name]
        if len(matches) != 1 or not value:
            raise ValueError(f"{pair!r}: expected name=value, name one of {known}")
        config = _replaced(config, matches[0].split("."), value)
    return config


def _replaced(obj, path: list[str], value: str):
    if len(path) > 1:
        return dataclasses.replace(
            obj, **{path[0]: _replaced(getattr(obj, path[0]), path[1:], value)}
        )
    kind = type(getattr(obj, path[0]))
    try:
        return dataclasses.replace(obj, **{path[0]: kind(value)})
    except ValueError:
        raise ValueError(f"{path[0]}={value!r}: expected {kind.__name__}") from None
