"""The default answerer, no LLM: the sentences of the top passages that best answer the question, each
followed by the number of the passage it comes from; sources are numbered in the order the answer first
cites them. Sentences come from the passages as plain text (markdown removed, wrapped lines joined).

Scoring: every candidate sentence gets ``0.5 · cos(question, sentence) + 0.5 · cos(question, passage)``
with the library's text embedder (the passage term keeps a sentence in its context; 0.5 put the gold
passage first for 69 of 83 R FAQ questions, 0.7 for 67). Questions ("…?"),
headings and fragments under 4 words are not answers and are skipped.

"No answer found" when retrieval is weak: if no passage reaches ``MIN_RELEVANCE`` cosine similarity to the
question, the library holds nothing on it. 0.27 was chosen on the R FAQ evaluation (bench/rag_eval): the
best passage of off-topic questions scored 0.07–0.25 there, of answerable ones 0.24–0.93 (10th percentile
0.37), so 0.27 refused all 15 off-topic questions and 1 of 83 answerable ones (a bare identifier query).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ...ingest.documents.chunking import embedding_text
from ...models.base import TextEmbedder
from ..answer import Answer, number_by_first_use
from ..hits import Hit
from ..plain_text import blocks, is_markdown
from .base import no_answer

MIN_RELEVANCE = 0.27
MAX_SENTENCES = 3
MAX_PASSAGES = 5
MIN_WORDS, MAX_WORDS = 4, 120
SENTENCE_WEIGHT = 0.5
RELATIVE_CUT = 0.75


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(
        self,
        embedder: TextEmbedder,
        *,
        max_sentences: int = MAX_SENTENCES,
        max_passages: int = MAX_PASSAGES,
        min_relevance: float = MIN_RELEVANCE,
    ) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences!r}")
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_passages = max_passages
        self.min_relevance = min_relevance

    def answer(self, question: str, passages: list[Hit]) -> Answer:
        passages = passages[: self.max_passages]
        if not passages:
            return no_answer(question, self.name)
        query = self.embedder.embed_texts([question], is_query=True)[0]
        passage_scores = self.embedder.embed_texts([embedding_text(p.section, p.text or "") for p in passages]) @ query
        if float(passage_scores.max()) < self.min_relevance:
            return no_answer(question, self.name)
        candidates = candidate_sentences(passages)
        if not candidates:
            return no_answer(question, self.name)
        sentence_scores = self.embedder.embed_texts([text for _, text in candidates]) @ query
        scores = SENTENCE_WEIGHT * sentence_scores + (1 - SENTENCE_WEIGHT) * passage_scores[[n for n, _ in candidates]]
        text, citations = number_by_first_use(self._compose(candidates, scores, passages), passages)
        return Answer(text=text, citations=citations, question=question, llm=self.name)

    def _compose(self, candidates: list[tuple[int, str]], scores: np.ndarray, passages: list[Hit]) -> str:
        """The best sentences (one far below the best, under RELATIVE_CUT × best, is left out), then put in
        reading order: by document (the best one first), page and place in it, so that an answer drawn from one
        PDF reads as the PDF does and its citations come out numbered [1], [2], ... in order."""
        chosen: list[int] = []
        seen: set[str] = set()
        floor = RELATIVE_CUT * float(scores.max())
        for index in np.argsort(-scores, kind="stable"):
            if chosen and scores[index] < floor:
                break
            key = " ".join(candidates[int(index)][1].lower().split())
            if key in seen:  # overlapping chunks repeat sentences
                continue
            seen.add(key)
            chosen.append(int(index))
            if len(chosen) == self.max_sentences:
                break
        ordered = sorted(chosen, key=lambda i: reading_position(i, candidates, passages, chosen))
        return " ".join(f"{candidates[i][1]} [{candidates[i][0] + 1}]" for i in ordered)


def reading_position(index: int, candidates: list[tuple[int, str]], passages: list[Hit],
                     chosen: list[int]) -> tuple[int, int, int, int]:
    """Where candidate ``index`` stands when read: its document's rank among the chosen sentences' documents
    (best first), its page, its passage's place in the document (chunk ids follow the text), its own place."""
    documents = list(dict.fromkeys(passages[candidates[i][0]].id for i in chosen))
    hit = passages[candidates[index][0]]
    return documents.index(hit.id), hit.page or 0, hit.chunk_id or 0, index


def candidate_sentences(passages: list[Hit]) -> list[tuple[int, str]]:
    """(passage index, sentence) pairs that could be part of an answer: sentences of the passages' paragraphs
    as plain text (markdown removed, wrapped lines joined); headings and code are not answers."""
    split = _sentence_splitter()
    out: list[tuple[int, str]] = []
    for number, hit in enumerate(passages):
        for block in blocks(hit.text or "", markdown=is_markdown(hit.path)):
            if block.kind != "paragraph":
                continue
            for sentence in split(block.text):
                sentence = " ".join(sentence.split())
                if _usable(sentence, hit.section):
                    out.append((number, sentence))
    return out


def _usable(sentence: str, section: str | None) -> bool:
    words = len(sentence.split())
    if not MIN_WORDS <= words <= MAX_WORDS or sentence.endswith("?"):
        return False
    return not (section and sentence.strip() == section.strip())


@lru_cache(maxsize=1)
def _sentence_splitter() -> Callable[[str], list[str]]:
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    return split_by_sentence_tokenizer()
