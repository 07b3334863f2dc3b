"""Build the FAQ retrieval sets from documentation that Debian packages ship (nothing is downloaded).

    python bench/rag_eval/build_faq.py [--out bench/out/faq]

Each corpus is a list of sections (``number``, ``heading``, answer text) grouped into chapters and documents.
Every section whose heading is a question becomes an evaluation question whose gold answer is its own
section. Two forms of each corpus are written as HTML (one file per document):

- ``easy``: ``<h2>7.10 How do I convert factors to numeric?</h2>`` — the question is in the text verbatim;
- ``hard``: ``<h2>7.10</h2>`` — the question headings are gone, the sections (and chapter titles) stay, so a
  question must be matched against its answer alone.

A retrieved chunk is correct when its section label starts with the gold number (``is_gold``).

| corpus | package | source |
|---|---|---|
| rfaq | r-doc-html | /usr/share/R/doc/manual/R-FAQ.html (the tuning corpus) |
| perlfaq | perl-doc | /usr/share/perl/5.*/pod/perlfaq1.pod … perlfaq9.pod |
| sedfaq | sed | /usr/share/doc/sed/sedfaq.txt.gz |
| gitfaq | git-man | /usr/share/man/man7/gitfaq.7.gz |
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "bench" / "out" / "faq"
FORMS = ("easy", "hard")
TUNING = "rfaq"


@dataclass(frozen=True)
class Section:
    document: str  # output file stem
    chapter: str
    number: str
    heading: str
    answer: str

    @property
    def is_question(self) -> bool:
        return self.heading.rstrip().endswith("?") and len(self.heading.split()) >= 3


def is_gold(section: str | None, number: str) -> bool:
    return bool(section) and section.split()[0] == number  # type: ignore[union-attr]


# -- R FAQ (HTML, through mmrag's own loader) ---------------------------------------------------------------


def r_faq() -> list[Section]:
    sys.path.insert(0, str(HERE.parents[2]))
    from mmrag.ingest.documents.loaders import load_document

    document = load_document(Path("/usr/share/R/doc/manual/R-FAQ.html"))
    sections, chapter = [], ""
    for segment in document.segments:
        label = segment.section or ""
        body = document.text[segment.start : segment.end].split("\n", 1)
        answer = body[1].strip() if len(body) > 1 else ""
        if re.fullmatch(r"\d+ .+", label):
            chapter = label
        elif match := re.fullmatch(r"(\d+(?:\.\d+)+) (.+)", label):
            sections.append(Section("R-FAQ", chapter, match[1], match[2], answer))
    return sections


# -- perlfaq (POD) ---------------------------------------------------------------------------------------------


def perl_faq() -> list[Section]:
    pods = sorted(Path("/usr/share/perl").glob("5.*/pod/perlfaq[1-9].pod"))
    if not pods:
        raise SystemExit("perlfaq pages missing: apt-get install perl-doc")
    seen: dict[str, Path] = {}
    for pod in pods:
        seen.setdefault(pod.name, pod)
    sections = []
    for name, pod in sorted(seen.items()):
        chapter_number = name.removeprefix("perlfaq").removesuffix(".pod")
        sections.extend(_pod_sections(pod.read_text(encoding="utf-8"), pod.stem, chapter_number))
    return sections


def _pod_sections(text: str, stem: str, chapter_number: str) -> list[Section]:
    blocks = re.split(r"^(?==head[12] )", text, flags=re.MULTILINE)
    chapter, sections = stem, []
    for block in blocks:
        first, _, rest = block.partition("\n")
        if first.startswith("=head1 NAME"):
            chapter = _pod_text(rest).strip().split("\n")[0]
        elif first.startswith("=head2 "):
            heading = _pod_text(first.removeprefix("=head2 ")).strip()
            number = f"{chapter_number}.{len(sections) + 1}"
            sections.append(Section(stem, chapter, number, heading, _pod_text(rest).strip()))
    return sections


def _pod_text(text: str) -> str:
    text = re.sub(r"^=(?:over|back|begin|end|for|cut|pod|encoding)\b.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"^=item\s*\*?\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"^=head\d\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"X<[^<>]*>", "", text)
    text = re.sub(r"[A-Z]<<+\s+(.*?)\s+>>+", r"\1", text, flags=re.DOTALL)
    text = re.sub(r"E<gt>", ">", re.sub(r"E<lt>", "<", text))
    for _ in range(4):  # nested codes, innermost first
        text = re.sub(r"L<([^<>|]*)\|[^<>]*>", r"\1", text)
        text = re.sub(r"[A-Z]<([^<>]*)>", r"\1", text)
    return text


# -- sed FAQ (plain text with a table of contents) ------------------------------------------------------------


def sed_faq() -> list[Section]:
    path = Path("/usr/share/doc/sed/sedfaq.txt.gz")
    if not path.is_file():
        raise SystemExit(f"{path} missing: apt-get install sed (with its docs)")
    lines = gzip.decompress(path.read_bytes()).decode("latin-1").splitlines()
    heading = re.compile(r"^(\d+(?:\.\d+)*)\.\s+(\S.*)$")
    body_start = [i for i, line in enumerate(lines) if line.startswith("1. GENERAL INFORMATION")][1]
    expected = {m[1] for line in lines[:body_start] if (m := heading.match(line))}  # the table of contents
    sections: list[Section] = []
    chapter, current, answer = "", None, []  # type: ignore[var-annotated]
    index = body_start
    while index < len(lines):
        line = lines[index]
        match = heading.match(line)
        if match and match[1] in expected:
            expected.discard(match[1])
            if current is not None:
                sections.append(Section("sedfaq", chapter, current[0], current[1], "\n".join(answer).strip()))
            title = [match[2].strip()]
            while index + 1 < len(lines) and lines[index + 1].strip():
                index += 1
                title.append(lines[index].strip())
            text = " ".join(title)
            if "." in match[1]:
                current, answer = (match[1], text), []
            else:
                chapter, current, answer = f"{match[1]} {text}", None, []
        else:
            answer.append(line)
        index += 1
    if current is not None:
        sections.append(Section("sedfaq", chapter, current[0], current[1], "\n".join(answer).strip()))
    return sections


# -- gitfaq (man page) ---------------------------------------------------------------------------------------------


def git_faq() -> list[Section]:
    path = Path("/usr/share/man/man7/gitfaq.7.gz")
    if not path.is_file():
        raise SystemExit(f"{path} missing: apt-get install git-man")
    roff = gzip.decompress(path.read_bytes()).decode("utf-8")
    sections: list[Section] = []
    chapter, number = "", 0
    for block in re.split(r"^(?=\.SH )", roff, flags=re.MULTILINE)[1:]:
        title, _, rest = block.partition("\n")
        title = _roff_text(title.removeprefix(".SH ")).strip().strip('"')
        if title in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO", "GIT", "NOTES"):
            continue
        chapter, number = title.title(), number + 1
        for item, entry in enumerate(re.split(r"^\.PP\n", rest, flags=re.MULTILINE)[1:], start=1):
            question, _, answer = entry.partition("\n")
            sections.append(Section("gitfaq", chapter, f"{number}.{item}", _roff_text(question).strip(),
                                    _roff_text(answer).strip()))
    return sections


def _roff_text(text: str) -> str:
    text = re.sub(r"^\.(?:RS|RE|sp|if|ie|el|nf|fi|ps|ft|IP|br|\\}|\\\").*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\.[A-Za-z]+\s?", "", text, flags=re.MULTILINE)
    text = re.sub(r"\\f[BIRP]|\\&|\\\(cq|\\\(aq", lambda m: "'" if "q" in m[0] else "", text)
    return text.replace("\\-", "-").replace("\\e", "\\").replace("\\(dq", '"')


CORPORA: dict[str, Callable[[], list[Section]]] = {
    "rfaq": r_faq, "perlfaq": perl_faq, "sedfaq": sed_faq, "gitfaq": git_faq,
}


# -- writing -------------------------------------------------------------------------------------------------


def render(sections: list[Section], form: str) -> dict[str, str]:
    """One HTML page per document: chapter titles as h1, each section an h2 then its paragraphs."""
    pages: dict[str, list[str]] = {}
    chapters: dict[str, str] = {}
    for section in sections:
        page = pages.setdefault(section.document, [f"<html><head><title>{html.escape(section.document)}"
                                                   "</title></head><body>"])
        if chapters.get(section.document) != section.chapter:
            chapters[section.document] = section.chapter
            page.append(f"<h1>{html.escape(section.chapter)}</h1>")
        heading = section.number if form == "hard" else f"{section.number} {section.heading}"
        page.append(f"<h2>{html.escape(heading)}</h2>")
        page.extend(_paragraphs(section.answer))
    return {name: "\n".join([*parts, "</body></html>"]) for name, parts in pages.items()}


def _paragraphs(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        if all(line.startswith((" ", "\t")) for line in block.splitlines() if line.strip()):
            out.append(f"<pre>{html.escape(block)}</pre>")
        else:
            out.append(f"<p>{html.escape(' '.join(block.split()))}</p>")
    return out


def build(out: Path, names: list[str]) -> dict[str, int]:
    counts = {}
    for name in names:
        sections = CORPORA[name]()
        questions = [{"q": s.heading, "gold": s.number} for s in sections if s.is_question]
        for form in FORMS:
            folder = out / name / form
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.html"):
                old.unlink()
            for stem, page in render(sections, form).items():
                (folder / f"{stem}.html").write_text(page, encoding="utf-8")
        (out / name / "questions.json").write_text(
            json.dumps({"corpus": name, "sections": len(sections), "questions": questions}, indent=1), "utf-8")
        counts[name] = len(questions)
        print(f"{name}: {len(sections)} sections, {len(questions)} questions -> {out / name}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--corpus", nargs="+", choices=sorted(CORPORA), default=list(CORPORA))
    args = parser.parse_args()
    build(args.out, args.corpus)


if __name__ == "__main__":
    main()
