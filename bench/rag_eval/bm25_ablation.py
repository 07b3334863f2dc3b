"""Why mmrag's BM25 and plain bm25s rank differently: the same chunks, one tokenizer difference at a time.

    python bench/rag_eval/bm25_ablation.py [--corpus rfaq perlfaq sedfaq gitfaq] [--form hard easy]
                                           [--explain gitfaq/hard] [--json bench/out/bm25-ablation.json]

Every variant indexes the same chunks (``load_corpus`` of heldout.py: mmrag's loader and chunker, the text
mmrag's BM25 reads) with bm25s's BM25 (Lucene idf, k1 1.5, b 0.75) and ranks them the way
``Bm25Index.search`` does; only the tokenizer changes:

- ``bm25s``: bm25s's own ``tokenize`` defaults (``\\w\\w+``: no one-character words; its 33 English stop
  words; no stemming) — the baseline of docs/rag.md §8;
- ``mmrag``: ``mmrag.index.bm25.tokenize`` (what the product runs, TOKENIZER_VERSION 2);
- the variants in ``VARIANTS``: ``v1`` (mmrag's tokenizer before version 2: ``\\w+``, bm25s's stop words,
  Snowball) with one thing changed, and bm25s with Snowball stemming.

Corpora: the held-out FAQ sets of heldout.py (``rfaq`` is the tuning corpus) and ``rfaq-written``, the real
R FAQ with its headings and the 83 hand-written questions of evalset.py (also tuning data). A tokenizer change
is chosen on the three R FAQ measures only (rfaq-written, rfaq hard, rfaq easy); the others are reported.

``--explain corpus/form`` prints, for every question whose gold section is in bm25s's first five but not
mmrag's (or the reverse), both token lists and both top-5 section lists. Only BM25 runs: no model forward
pass (the embedder is loaded for its word-piece tokenizer, which sizes the chunks).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from heldout import DEPTH, Corpus, by_section, load_corpus  # noqa: E402

WRITTEN = "rfaq-written"  # the R FAQ itself (with its headings) and the 83 hand-written questions of evalset.py

Tokenizer = Callable[[str], list[str]]
CLITIC = re.compile(r"(?<=\w)['’](?:s|t|d|ll|m|re|ve)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Variant:
    """A tokenizer: word pattern, minimum length of an ASCII word, stop words, stemmer; ``surface`` also keeps
    each stemmed word as written (Elasticsearch's keyword_repeat: an exact match counts twice)."""

    pattern: str = r"\w+"
    min_ascii: int = 1
    stop: str = "bm25s"  # bm25s (its 33 English words) | sklearn (318 words) | none
    stem: str = "snowball"  # snowball | porter | minimal (plural s only) | none
    extra_stop: tuple[str, ...] = ()
    surface: bool = False
    clitics: bool = False  # drop English clitics: user's → user, don't → don, I've → I
    unique_query: bool = False  # a query word counts once (stemming can make "use using" → "use use")

    def tokenizer(self) -> Tokenizer:
        from mmrag.index.bm25 import _split_mixed

        stop = _stop_words(self.stop) | frozenset(self.extra_stop)
        word = re.compile(self.pattern, re.UNICODE)
        stem = _stemmer(self.stem)

        def tokenize(text: str) -> list[str]:
            out: list[str] = []
            if self.clitics:
                text = CLITIC.sub("", text)
            for token in word.findall(text.lower()):
                if not token.isascii():
                    out.extend(_split_mixed(token, stop))
                elif token not in stop and len(token) >= self.min_ascii:
                    stemmed = stem(token) if token.isalpha() and len(token) > 3 else token
                    out.append(stemmed)
                    if self.surface and stemmed != token:
                        out.append(token)
            return out

        return tokenize


def _stop_words(name: str) -> frozenset[str]:
    if name == "bm25s":
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)
    if name == "sklearn":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    return frozenset()


def _stemmer(name: str) -> Callable[[str], str]:
    if name == "snowball":
        from mmrag.index.bm25 import _stem

        return _stem
    if name == "porter":
        from nltk.stem.porter import PorterStemmer

        return PorterStemmer().stem
    if name == "minimal":
        return _plural_stem
    return lambda word: word


def _plural_stem(word: str) -> str:
    """Lucene's EnglishMinimalStemmer: plural "s" only (queries → query, tables → table, class stays)."""
    if len(word) < 3 or word[-1] != "s" or word[-2] in "us":
        return word
    if word[-2] == "e":
        if len(word) > 3 and word[-3] == "i" and word[-4] not in "ae":
            return word[:-3] + "y"
        if word[-3] in "iaoe":
            return word
    return word[:-1]


VARIANTS: dict[str, Variant] = {  # v1: mmrag's tokenizer before TOKENIZER_VERSION 2; each row changes one thing
    "v1": Variant(),
    "v1, no one-char words": Variant(min_ascii=2),
    "v1, 'i' a stop word": Variant(extra_stop=("i",)),
    "v1, clitics dropped": Variant(clitics=True),
    "v1, 'i' stop + clitics (= v2)": Variant(clitics=True, extra_stop=("i",)),  # must equal "mmrag"
    "v1, each query word once": Variant(unique_query=True),
    "v1, no stemming": Variant(stem="none"),
    "v1, Porter stemmer": Variant(stem="porter"),
    "v1, plural-only stemmer": Variant(stem="minimal"),
    "v1 + surface words": Variant(surface=True),
    "v1 + surface, 'i' stop": Variant(surface=True, extra_stop=("i",)),
    "v1, sklearn stop words": Variant(stop="sklearn"),
    "bm25s + stemming": Variant(pattern=r"\b\w\w+\b", min_ascii=2),
}


def bm25s_tokenizer() -> Tokenizer:
    import bm25s

    return lambda text: bm25s.tokenize([text], show_progress=False, return_ids=False)[0]


def mmrag_tokenizer() -> Tokenizer:
    from mmrag.index.bm25 import tokenize

    return tokenize


def rank(texts: list[str], questions: list[str], tokenize: Tokenizer, unique: bool = False) -> list[list[int]]:
    """bm25s BM25 over ``tokenize``'d chunks; queries scored like ``Bm25Index.search`` (positive scores only)."""
    import bm25s

    model = bm25s.BM25()
    model.index([tokenize(t) for t in texts], show_progress=False)
    vocab = model.vocab_dict
    out = []
    for question in questions:
        tokens = [t for t in tokenize(question) if t in vocab]
        tokens = list(dict.fromkeys(tokens)) if unique else tokens
        if not tokens:
            out.append([])
            continue
        scores = np.asarray(model.get_scores(tokens), dtype=np.float32)
        order = np.argsort(-scores, kind="stable")[:DEPTH]
        out.append([int(i) for i in order if scores[i] > 0])
    return out


def tokenizers() -> dict[str, Tokenizer]:
    return {"bm25s": bm25s_tokenizer(), "mmrag": mmrag_tokenizer()} | {
        name: variant.tokenizer() for name, variant in VARIANTS.items()}


def load_written(embedder: object) -> Corpus:
    """The tuning set of bench_rag.py quality: R-FAQ.html chunked by mmrag, questions of r_faq_questions.json
    (paraphrase, verbatim and keyword styles; a question with two gold sections counts either)."""
    from evalset import CORPORA, load

    from mmrag.ingest.documents.chunking import chunk_document
    from mmrag.ingest.documents.loaders import load_document

    document = load_document(CORPORA["html"])
    chunks = chunk_document(document, 200, 30, embedder.tokenize)  # type: ignore[attr-defined]
    keys: dict[str | None, int] = {}
    questions, _ = load()
    return Corpus(WRITTEN, "html", [document.title] * len(chunks), [c.section for c in chunks],
                  [c.text for c in chunks], [keys.setdefault(c.section, len(keys)) for c in chunks],
                  [q.text for q in questions], ["|".join(n for n, _ in q.gold) for q in questions])


def is_gold(section: str | None, gold: str) -> bool:
    return bool(section) and section.split()[0] in gold.split("|")  # type: ignore[union-attr]


def score(corpus: Corpus, ranked: list[list[int]]) -> dict[str, float]:
    """recall@5 and MRR@10 of the first gold chunk (heldout.py's measure; any of several gold sections)."""
    recall, reciprocal = [], []
    for row, gold in zip(ranked, corpus.gold, strict=True):
        first = next((r for r, i in enumerate(row[:10], 1) if is_gold(corpus.sections[i], gold)), None)
        recall.append(1.0 if first and first <= 5 else 0.0)
        reciprocal.append(1.0 / first if first else 0.0)
    return {"recall@5": round(float(np.mean(recall)), 3), "mrr@10": round(float(np.mean(reciprocal)), 3)}


def evaluate(corpus: Corpus, indexed: list[str]) -> tuple[dict[str, dict[str, float]], dict[str, list[list[int]]]]:
    runs: dict[str, list[list[int]]] = {}
    for name, tokenize in tokenizers().items():
        texts = corpus.texts if name == "bm25s" else indexed  # the baseline reads the bare chunk, as in heldout.py
        variant = VARIANTS.get(name)
        runs[name] = rank(texts, corpus.questions, tokenize, unique=bool(variant and variant.unique_query))
    table = {}
    for name, ranked in runs.items():
        chunks, sections = score(corpus, ranked), score(corpus, by_section(ranked, corpus.parents))
        table[name] = {"recall@5": chunks["recall@5"], "mrr@10": chunks["mrr@10"],
                       "sections recall@5": sections["recall@5"], "sections mrr@10": sections["mrr@10"]}
    return table, runs


def explain(corpus: Corpus, runs: dict[str, list[list[int]]]) -> None:
    def first(row: list[int], gold: str) -> int | None:
        return next((r for r, i in enumerate(row, 1) if is_gold(corpus.sections[i], gold)), None)

    tokenize = tokenizers()
    for n, (question, gold) in enumerate(zip(corpus.questions, corpus.gold, strict=True)):
        ranks = {name: first(runs[name][n], gold) for name in ("bm25s", "mmrag")}
        hits = {name: (rank_ or DEPTH + 1) <= 5 for name, rank_ in ranks.items()}
        if hits["bm25s"] == hits["mmrag"]:
            continue
        print(f"\n{question!r}: gold {gold}, rank bm25s {ranks['bm25s']}, mmrag {ranks['mmrag']}")
        for name in ("bm25s", "mmrag"):
            top = [(corpus.sections[i] or "").split()[0] if corpus.sections[i] else "-" for i in runs[name][n][:5]]
            print(f"  {name:6} tokens {tokenize[name](question)}\n         top-5 sections {top}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="+", default=[WRITTEN, "rfaq", "perlfaq", "sedfaq", "gitfaq"])
    parser.add_argument("--form", nargs="+", default=["hard", "easy"])
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="its word pieces size the chunks")
    parser.add_argument("--explain", nargs="*", default=[], help="corpus/form to print question by question")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from mmrag.ingest.documents.chunking import embedding_text
    from mmrag.models.sentence import load_sentence_embedder

    embedder = load_sentence_embedder(args.model, device="cpu")
    results: dict[str, object] = {}
    for form in args.form:
        for name in args.corpus:
            if name == WRITTEN and form != args.form[0]:
                continue  # one form only: the real R FAQ
            corpus = load_written(embedder) if name == WRITTEN else load_corpus(name, form, embedder, 200, 30)
            key = f"{name}/{corpus.form}"
            indexed = [embedding_text(s, t) for s, t in zip(corpus.sections, corpus.texts, strict=True)]
            table, runs = evaluate(corpus, indexed)
            results[key] = {"questions": len(corpus.questions), "chunks": len(corpus.texts), "runs": table}
            print(f"{key} ({len(corpus.questions)} questions, {len(corpus.texts)} chunks)")
            for variant, row in table.items():
                print(f"  {variant:28} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
            if key in args.explain:
                explain(corpus, runs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
