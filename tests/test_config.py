"""The retrieval configuration: one object, and `name=value` overrides for sweeps."""

import pytest

from bot.retrieval.config import RetrievalConfig, names, overridden


def test_every_part_is_named() -> None:
    known = names()
    assert {"candidates", "head", "fusion.lexical", "bridge.min_similarity"} <= set(known)
    assert len(known) == len(set(known))


def test_overrides_reach_each_part_and_keep_the_types() -> None:
    config = overridden(
        RetrievalConfig(), ["candidates=80", "fusion.lexical=0.4", "min_similarity=0.7"]
    )
    assert config.candidates == 80 and isinstance(config.candidates, int)
    assert config.fusion.lexical == 0.4
    assert config.bridge.min_similarity == 0.7
    assert config.fusion.window == RetrievalConfig().fusion.window  # the rest unchanged


@pytest.mark.parametrize("pair", ["nonsense=1", "lexical", "candidates=", "candidates=many"])
def test_bad_overrides_are_refused(pair: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        overridden(RetrievalConfig(), [pair])
