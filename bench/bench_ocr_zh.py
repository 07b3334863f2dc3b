"""Chinese questions over Chinese documents and over the English version of the same documents.

Corpus: Debian Reference chapters in Chinese and in English (Debian packages debian-reference-zh-cn and
debian-reference-en, the same section numbers in both), one library per language. Questions:
bench/ocr_eval/debref_zh_questions.json (Chinese, gold = section numbers). A question is answered at 5 when
a passage of a gold section is among the first 5 hits of ``search_passages`` (one hit per section).

    OMP_WAIT_POLICY=passive python bench/bench_ocr_zh.py --work /tmp/debref --model multilingual-e5-small
    python bench/bench_ocr_zh.py --work /tmp/debref-minilm --model all-MiniLM-L6-v2     # the English default

Modes: dense (the text model), bm25 (Chinese: characters + bigrams) and hybrid (the library default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
QUESTIONS = Path(__file__).resolve().parent / "ocr_eval" / "debref_zh_questions.json"
DEBREF = Path("/usr/share/debian-reference")
LANGUAGES = {"zh": "zh-cn", "en": "en"}
MODES = ("dense", "bm25", "hybrid")


def section_number(section: str | None) -> str | None:
    """"6.3.3. 免密码远程连接" → "6.3.3"; "第 6 章 …" / "Chapter 6. …" → "6"."""
    if not section:
        return None
    words = section.split()
    if words[0] in ("第", "Chapter") and len(words) > 1:
        return words[1].rstrip(".")
    return words[0].rstrip(".") if words[0][0].isdigit() else None


def is_gold(section: str | None, gold: list[str]) -> bool:
    return section_number(section) in gold


def build_library(work: Path, language: str, chapters: list[str], model: str) -> Any:
    from mmrag import Library

    folder = work / f"docs-{language}"
    folder.mkdir(parents=True, exist_ok=True)
    for chapter in chapters:
        source = DEBREF / f"{chapter}.{LANGUAGES[language]}.html"
        if not source.is_file():
            raise SystemExit(f"{source} missing: apt-get install debian-reference-zh-cn debian-reference-en")
        shutil.copy(source, folder / source.name)
    lib = Library(work / f"lib-{language}", clip_model="tiny-test", device="cpu", rag={"text_model": model})
    started = time.perf_counter()
    report = lib.ingest([folder])
    return lib, round(time.perf_counter() - started, 1), report


def sections_present(lib: Any) -> set[str]:
    from sqlalchemy import select

    from mmrag.catalog.models import Chunk

    with lib.catalog.session() as session:
        return {n for s in session.execute(select(Chunk.section)).scalars() if (n := section_number(s))}


def evaluate(lib: Any, questions: list[dict[str, Any]]) -> dict[str, Any]:
    from mmrag.retrieval.text_search import search_passages

    result: dict[str, Any] = {}
    for mode in MODES:
        found, reciprocal, misses = [], [], []
        for question in questions:
            hits = search_passages(lib.components, question["q"], 10, mode=mode)
            ranks = [rank for rank, hit in enumerate(hits, 1) if is_gold(hit.section, question["gold"])]
            found.append(bool(ranks) and ranks[0] <= 5)
            reciprocal.append(1.0 / ranks[0] if ranks else 0.0)
            if not found[-1]:
                misses.append(question["q"])
        result[mode] = {"recall@5": round(statistics.mean(found), 3), "mrr@10": round(statistics.mean(reciprocal), 3),
                        "misses": misses}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--model", default="multilingual-e5-small", help="rag.text_model")
    parser.add_argument("--languages", default="zh,en")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    questions = data["questions"]
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"model": args.model, "questions": len(questions), "chapters": data["chapters"]}
    for language in args.languages.split(","):
        lib, seconds, report = build_library(args.work, language, data["chapters"], args.model)
        present = sections_present(lib)
        missing = sorted({g for q in questions for g in q["gold"]} - present)
        results[language] = {"ingest_s": seconds, "chunks": report.chunks, "gold_sections_missing": missing,
                             **evaluate(lib, questions)}
        print(json.dumps({language: results[language]}, ensure_ascii=False), file=sys.stderr, flush=True)
        lib.close()
    results["load_average"] = f"{load_before:.1f}–{os.getloadavg()[0]:.1f}"
    output = json.dumps(results, indent=1, ensure_ascii=False)
    if args.json:
        args.json.write_text(output, encoding="utf-8")
    print(output)


if __name__ == "__main__":
    main()
