"""Generated German-like documents whose vocabulary grows as real text's does (Heaps' law).

A real corpus of N words has about K·N^β distinct words (β ≈ 0.5-0.7), because word
frequencies follow Zipf's law: a few words are everywhere and new ones keep appearing.
Here about two words in five are German function words drawn by their frequency, and the
rest are content words drawn from an unbounded Zipf-Mandelbrot distribution over made-up words
(syllables in a fixed order per rank, so rank 1 is always the same word); the vocabulary
then grows with the corpus as it would with real text, rather than cycling through a few
templates. `heaps_exponent` measures β on what was written.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

FUNCTION_WORDS = (
    "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es"
    " an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so"
    " zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei"
).split()
SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ga ge gi go ha he hi ka ke ki ko la le li lo lu"
    " ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to wa we wi za ze zu"
    " ber gen lan stein haus wald mar tor berg feld dorf burg land hof bach"
).split()
FUNCTION_SHARE = 0.4  # of the words of a sentence
ZIPF_EXPONENT = 1.6  # content words: P(rank r) ~ (r + ZIPF_SHIFT)^-1.6 (Zipf-Mandelbrot)
ZIPF_SHIFT = 300  # flattens the head: the commonest content word is 0.5 % of them
_FUNCTION_WEIGHTS = 1.0 / np.arange(1, len(FUNCTION_WORDS) + 1)  # Zipf over the function words
_FUNCTION_WEIGHTS /= _FUNCTION_WEIGHTS.sum()


def content_word(rank: int) -> str:
    """The made-up word of frequency rank `rank` (1-based): its syllables spell the rank."""
    syllables, n = [], rank
    while n:
        n, digit = divmod(n - 1, len(SYLLABLES))
        syllables.append(SYLLABLES[digit])
    word = "".join(syllables)
    return word.capitalize() if rank % 3 == 0 else word  # some nouns, as German writes them


def sentence(rng: np.random.Generator) -> str:
    """One sentence of 6 to 30 words, some with a comma, ending in a full stop."""
    length = int(np.clip(rng.normal(16, 6), 6, 30))
    function = rng.random(length) < FUNCTION_SHARE
    picks = rng.choice(len(FUNCTION_WORDS), size=length, p=_FUNCTION_WEIGHTS)
    ranks = _ranks(rng, length)
    words = [
        FUNCTION_WORDS[p] if f else content_word(int(r))
        for f, p, r in zip(function, picks, ranks, strict=True)
    ]
    if length > 10 and rng.random() < 0.6:  # a clause break, as long sentences have
        at = int(rng.integers(4, length - 4))
        words[at] += ","
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def write_documents(
    folder: Path, sentences: int, *, per_document: int = 200, seed: int = 7
) -> list[Path]:
    """Write `sentences` generated sentences as .txt documents of about `per_document` each,
    in paragraphs of three to six sentences; the same arguments give the same files."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for number, lo in enumerate(range(0, sentences, per_document)):
        count = min(per_document, sentences - lo)
        paragraphs, done = [], 0
        while done < count:
            size = min(int(rng.integers(3, 7)), count - done)
            paragraphs.append(" ".join(sentence(rng) for _ in range(size)))
            done += size
        title = " ".join(content_word(int(r)).capitalize() for r in rng.zipf(1.5, size=3))
        path = folder / f"generated-{number:05d}.md"
        path.write_text(f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n", "utf-8")
        files.append(path)
    return files


def heaps_exponent(texts: list[str]) -> tuple[float, int, int]:
    """(β, words, distinct words) of `texts`: the slope of log V(n) over log n."""
    seen: set[str] = set()
    points, total = [], 0
    for text in texts:
        for word in text.lower().replace(",", " ").replace(".", " ").split():
            seen.add(word)
            total += 1
            if total & (total - 1) == 0:  # at powers of two
                points.append((math.log(total), math.log(len(seen))))
    if len(points) < 4:
        return float("nan"), total, len(seen)
    xs, ys = np.array(points[len(points) // 2 :]).T  # the tail, past the start-up
    return float(np.polyfit(xs, ys, 1)[0]), total, len(seen)


def _ranks(rng: np.random.Generator, size: int) -> np.ndarray:
    """Content-word ranks from P(r) ~ (r + q)^-a, by inverting the continuous tail's CDF."""
    q, a = ZIPF_SHIFT, ZIPF_EXPONENT
    x = (1 + q) * rng.random(size) ** (-1 / (a - 1)) - q
    return np.minimum(x, 1e15).astype(np.int64)
