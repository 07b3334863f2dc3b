"""The R FAQ retrieval evaluation set: loading, gold matching, and a check that every gold section exists.

    python bench/rag_eval/evalset.py            # validate r_faq_questions.json against the R FAQ (HTML + PDF)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "r_faq_questions.json"
R_MANUALS = Path("/usr/share/R/doc/manual")
CORPORA = {"html": R_MANUALS / "R-FAQ.html", "pdf": R_MANUALS / "R-FAQ.pdf"}
STYLES = ("paraphrase", "verbatim", "keyword")


@dataclass(frozen=True)
class Question:
    text: str
    style: str  # paraphrase | verbatim | keyword
    gold: tuple[tuple[str, str], ...]  # (number, title)


def load(path: Path = QUESTIONS) -> tuple[list[Question], list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = [Question(q["q"], q["style"], tuple((n, t) for n, t in q["gold"])) for q in data["questions"]]
    return questions, list(data["unanswerable"])


def _squash(text: str) -> str:
    return "".join(text.lower().replace("’", "'").split())


def is_gold(section: str | None, question: Question) -> bool:
    """HTML sections start with the number ("7.10 How do …"); PDF outline sections are the bare title."""
    if not section:
        return False
    return any(section.startswith(f"{number} ") or _squash(section) == _squash(title)
               for number, title in question.gold)


def validate() -> int:
    sys.path.insert(0, str(HERE.parents[2]))
    from mmrag.ingest.documents.loaders import load_document

    questions, unanswerable = load()
    problems = 0
    for name, path in CORPORA.items():
        sections = {segment.section for segment in load_document(path).segments}
        for question in questions:
            if not any(is_gold(section, question) for section in sections):
                problems += 1
                print(f"{name}: no section for {question.gold} ({question.text!r})")
    styles = {style: sum(q.style == style for q in questions) for style in STYLES}
    print(f"{len(questions)} questions {styles}, {len(unanswerable)} unanswerable; {problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(validate())
