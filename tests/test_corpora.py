"""Many documents at once: XQuAD articles (German Wikipedia) indexed as one corpus, with the
real default models. Questions in German and English are answered first from the right
article; a question about an article that is not indexed is refused.

The articles come from the shared evaluation set beside the checkout (`make eval` runs all
of its questions); four of them keep this test quick.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.app.services import open_services
from bot.settings import Settings

XQUAD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "xquad-dev" / "documents"
ARTICLES = ("Super_Bowl_50", "Martin_Luther", "Oxygen", "Warsaw")

# (question, language, document, the answer the first quote must hold)
ANSWERED = [
    ("Welche Schauspielerin übersetzte beim Spiel in die Amerikanische Gebärdensprache?", "de",
     "Super_Bowl_50", "Marlee Matlin"),
    ("What actress did the ASL translation for the game?", "en", "Super_Bowl_50", "Marlee Matlin"),
    ("Wer reiste nach Wittenberg, um Luther sprechen zu hören?", "de", "Martin_Luther",
     "Studenten"),
    ("Who went to Wittenberg to hear Luther speak?", "en", "Martin_Luther", "Studenten"),
    ("Wann entdeckte Carl Wilhelm Scheele Sauerstoff?", "de", "Oxygen", "1773"),
    ("When did Carl Wilhelm Scheele discover oxygen?", "en", "Oxygen", "1773"),
]  # fmt: skip
MISSING = [("Wer war der Graf von Melfi?", "de"), ("Who was Count of Melfi", "en")]  # Normans

pytestmark = pytest.mark.skipif(not XQUAD.is_dir(), reason=f"{XQUAD} is not there")


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory, model):
    root = tmp_path_factory.mktemp("xquad")
    (root / "documents").mkdir()
    for name in ARTICLES:
        for path in XQUAD.glob(f"{name}.*"):
            shutil.copy(path, root / "documents" / path.name)
    settings = Settings(index_dir=root / "index", documents_dir=root / "documents", _env_file=None)
    return open_services(settings, model=model, background=False).searcher


@pytest.mark.parametrize(("question", "language", "document", "answer"), ANSWERED)
def test_the_first_quote_comes_from_the_right_article_and_holds_the_answer(
    searcher, question: str, language: str, document: str, answer: str
) -> None:
    found = searcher.answer(question, language=language)
    assert not found.abstained
    assert found.quotes[0].doc_id == document
    assert answer in found.quotes[0].text


@pytest.mark.parametrize(("question", "language"), MISSING)
def test_a_question_about_an_article_not_indexed_is_refused(
    searcher, question: str, language: str
) -> None:
    assert searcher.answer(question, language=language).abstained
