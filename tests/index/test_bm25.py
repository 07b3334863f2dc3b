"""BM25: tokenization (English and CJK), search with allowed ids, persistence, rebuild when stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmrag.catalog.db import Catalog
from mmrag.catalog.models import TEXT_SPACE, Asset, Chunk
from mmrag.index.bm25 import TOKENIZER_VERSION, Bm25Index, Bm25Store, tokenize

DOCS = [
    "Hold the reset button for ten seconds to restore the factory settings.",
    "The router's lights blink green while the firmware is updating.",
    "Refunds are paid within 30 days of the return of the product.",
    "路由器的复位按钮在背面。",  # the router's reset button is on the back
    "退货后三十天内退款。",  # refunds within thirty days after returning
]


def test_english_tokens_are_lowercased_stemmed_without_stopwords() -> None:
    assert tokenize("The Routers are RESETTING the lights") == ["router", "reset", "light"]
    assert tokenize("convert converting converted") == ["convert"] * 3
    assert tokenize("as.numeric(levels(f))") == ["numer", "level", "f"]  # "as" is a stop word


def test_clitics_and_the_pronoun_i_are_dropped_but_one_letter_names_stay() -> None:
    assert tokenize("I've read the user's notes; don't") == ["read", "user", "note", "don"]
    assert tokenize("It’s how I install R and C") == ["how", "instal", "r", "c"]
    assert tokenize("rock'n'roll O'Reilly") == ["rock", "n", "roll", "o", "reilli"]  # not clitics: kept


def test_cjk_becomes_characters_and_bigrams() -> None:
    assert tokenize("复位按钮") == ["复", "位", "按", "钮", "复位", "位按", "按钮"]
    assert tokenize("ルーター reset") == ["ル", "ー", "タ", "ー", "ルー", "ータ", "ター", "reset"]
    assert tokenize("R语言") == ["r", "语", "言", "语言"]


@pytest.fixture
def index() -> Bm25Index:
    return Bm25Index.build(np.array([11, 12, 13, 14, 15]), DOCS, generation=3)


def test_search_ranks_and_respects_allowed_ids(index: Bm25Index) -> None:
    ids, scores = index.search("how do I reset my router with its button", 3)  # 11: two words, 12: one
    assert ids[0] == 11 and len(ids) == 2 and scores[0] >= scores[1] > 0
    ids, _ = index.search("reset router", 3, allowed_ids=np.array([12, 13]))
    assert list(ids) == [12]
    assert index.search("completely unrelated zebra", 3)[0].size == 0


def test_chinese_query_finds_chinese_passage(index: Bm25Index) -> None:
    ids, _ = index.search("复位按钮在哪里", 2)
    assert ids[0] == 14
    ids, _ = index.search("多少天退款", 2)
    assert ids[0] == 15


def test_save_and_load_round_trip(index: Bm25Index, tmp_path: Path) -> None:
    folder = tmp_path / "index" / "bm25"
    index.save(folder)
    index.save(folder)  # replacing an existing index works
    loaded = Bm25Index.load(folder)
    assert loaded is not None and loaded.generation == 3
    np.testing.assert_array_equal(loaded.ids, index.ids)
    assert list(loaded.search("refund days", 2)[0]) == list(index.search("refund days", 2)[0])
    assert [p.name for p in tmp_path.joinpath("index").iterdir()] == ["bm25"]  # no temp folders left


def test_damaged_or_old_index_is_not_loaded(index: Bm25Index, tmp_path: Path) -> None:
    folder = tmp_path / "bm25"
    index.save(folder)
    meta = folder / "meta.json"
    meta.write_text(meta.read_text().replace(f'"tokenizer": {TOKENIZER_VERSION}', '"tokenizer": -1'))
    assert Bm25Index.load(folder) is None
    (folder / "ids.npy").write_bytes(b"garbage")
    assert Bm25Index.load(folder) is None


def test_store_rebuilds_an_index_saved_by_an_older_tokenizer(tmp_path: Path) -> None:
    """A library from before a tokenizer change: same catalog generation, old tokens; rebuilt on first use."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    _add_document(catalog, "a.txt", ["I've reset the router's lights"])
    folder = tmp_path / "index" / "bm25"
    generation = catalog.generation(TEXT_SPACE)
    old = Bm25Index.build(np.array([1]), ["ve"], generation)  # tokens that only an old tokenizer would write
    old.save(folder)
    meta = folder / "meta.json"
    older = f'"tokenizer": {TOKENIZER_VERSION - 1}'
    meta.write_text(meta.read_text().replace(f'"tokenizer": {TOKENIZER_VERSION}', older))
    index = Bm25Store(catalog, folder).get()
    assert index.search("ve", 1)[0].size == 0 and len(index.search("router light", 1)[0]) == 1
    assert f'"tokenizer": {TOKENIZER_VERSION}' in meta.read_text()  # the rebuilt index was saved
    catalog.dispose()


def _add_document(catalog: Catalog, name: str, texts: list[str]) -> list[int]:
    with catalog.session() as session:
        asset = Asset(path=f"/docs/{name}", folder="/docs", kind="document")
        session.add(asset)
        session.flush()
        chunks = [Chunk(asset_id=asset.id, ordinal=i, text=t, section="Help") for i, t in enumerate(texts)]
        session.add_all(chunks)
        session.flush()
        catalog.bump_generation(session, TEXT_SPACE)
        return [c.id for c in chunks]


def test_store_rebuilds_when_the_catalog_generation_moves(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    store = Bm25Store(catalog, tmp_path / "index" / "bm25")
    assert len(store.get()) == 0
    first = _add_document(catalog, "a.txt", DOCS[:2])
    index = store.get()
    assert index.generation == catalog.generation(TEXT_SPACE) and list(index.ids) == first
    assert store.get() is index  # unchanged catalog: the loaded index is reused
    second = _add_document(catalog, "b.txt", DOCS[2:3])
    ids, _ = store.get().search("refund", 1)
    assert list(ids) == second
    reopened = Bm25Store(catalog, tmp_path / "index" / "bm25").get()  # a new process loads the saved one
    assert reopened.generation == catalog.generation(TEXT_SPACE) and len(reopened) == 3
    catalog.dispose()


def test_section_titles_are_searchable(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    with catalog.session() as session:
        asset = Asset(path="/docs/faq.html", folder="/docs", kind="document")
        session.add(asset)
        session.flush()
        session.add(Chunk(asset_id=asset.id, ordinal=0, text="Use the levels.", section="Converting factors"))
        catalog.bump_generation(session, TEXT_SPACE)
    ids, _ = Bm25Store(catalog, tmp_path / "bm25").get().search("convert a factor", 1)
    assert len(ids) == 1
    catalog.dispose()


def test_bm25_at_least_plain_bm25s_on_the_r_faq_without_its_question_headings(r_manuals: Path) -> None:
    """The hard form of the R FAQ (bench/rag_eval/build_faq.py): each question against its answer text only.
    mmrag's tokenizer (stemming, stop words, CJK) must rank at least as well as bm25s with its defaults."""
    import sys

    import bm25s

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "rag_eval"))
    from build_faq import r_faq

    sections = r_faq()
    texts = [s.answer for s in sections]
    questions = [(s.heading, n) for n, s in enumerate(sections) if s.is_question]
    ours = Bm25Index.build(np.arange(len(texts)), texts, 0)
    plain = bm25s.BM25()
    plain.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)
    found, _ = plain.retrieve(bm25s.tokenize([q for q, _ in questions], show_progress=False), k=5,
                              show_progress=False)
    ours_hits = sum(gold in ours.search(q, 5)[0] for q, gold in questions)
    plain_hits = sum(gold in row for row, (_, gold) in zip(found.tolist(), questions, strict=True))
    assert len(questions) >= 70
    assert ours_hits >= plain_hits, (ours_hits, plain_hits)
