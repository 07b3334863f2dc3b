"""Model behaviour that must be the same on SQLite and PostgreSQL: cascades, date-times, text, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import delete, func, select

from mmrag.catalog import (
    DOCUMENT,
    GENERATED,
    IMAGE,
    Asset,
    Catalog,
    Chunk,
    Feedback,
    Generation,
    GenerationRef,
    Tag,
)
from mmrag.catalog.models import AssetTag


def add_document(catalog: Catalog, path: str = "/docs/a.pdf", chunks: int = 3, tags: tuple[str, ...] = ()) -> int:
    with catalog.session() as session:
        asset = Asset(path=path, folder="/docs", kind=DOCUMENT)
        asset.chunks = [Chunk(ordinal=i, text=f"passage {i}") for i in range(chunks)]
        asset.tags = [_tag(session, name) for name in tags]
        session.add(asset)
        session.flush()
        return asset.id


def _tag(session, name: str) -> Tag:  # type: ignore[no-untyped-def]
    return session.execute(select(Tag).where(Tag.name == name)).scalar_one_or_none() or Tag(name=name)


def count(catalog: Catalog, model: type) -> int:
    with catalog.session() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_orm_delete_cascades_to_chunks_and_tag_links(catalog: Catalog) -> None:
    doomed = add_document(catalog, "/docs/a.pdf", tags=("red", "blue"))
    add_document(catalog, "/docs/b.pdf", tags=("red",))
    with catalog.session() as session:
        session.delete(session.get(Asset, doomed))
    assert count(catalog, Asset) == 1
    assert count(catalog, Chunk) == 3
    assert count(catalog, AssetTag) == 1
    assert count(catalog, Tag) == 2  # tags themselves stay


def test_database_delete_cascades_without_the_orm(catalog: Catalog) -> None:
    doomed = add_document(catalog, "/docs/a.pdf", tags=("red",))
    keep = add_document(catalog, "/docs/b.pdf", tags=("red",))
    with catalog.session() as session:
        session.execute(delete(Asset).where(Asset.id == doomed))
    with catalog.session() as session:
        assert session.execute(select(Chunk.asset_id).distinct()).scalars().all() == [keep]
        assert session.execute(select(AssetTag.asset_id)).scalars().all() == [keep]


def test_parent_cascade_and_set_null_links(catalog: Catalog) -> None:
    document = add_document(catalog)
    with catalog.session() as session:
        chunk = session.execute(select(Chunk).where(Chunk.asset_id == document)).scalars().first()
        assert chunk is not None
        page = Asset(path="/docs/a.pdf#page=1", folder="/docs", kind=IMAGE, parent_id=document)
        generated = Asset(path="/gen/1.png", folder="/gen", kind=GENERATED, source_chunk_id=chunk.id)
        session.add_all([page, generated])
        session.flush()
        generation = Generation(asset_id=generated.id, prompt="p", mode="txt2img", seed=1)
        generation.refs = [GenerationRef(ref_asset_id=document, ref_path="/docs/a.pdf", role="init")]
        session.add(generation)
        session.add(Feedback(target="result", query="q", asset_id=document, chunk_id=chunk.id, value=1))
        generated_id = generated.id
    with catalog.session() as session:
        session.execute(delete(Asset).where(Asset.id == document))
    with catalog.session() as session:
        assert session.execute(select(Asset.id)).scalars().all() == [generated_id]  # the page went with it
        assert session.get(Asset, generated_id).source_chunk_id is None  # type: ignore[union-attr]
        assert session.execute(select(GenerationRef.ref_asset_id)).scalars().all() == [None]
        feedback = session.execute(select(Feedback)).scalar_one()
        assert (feedback.asset_id, feedback.chunk_id) == (None, None)
    with catalog.session() as session:
        session.execute(delete(Asset).where(Asset.id == generated_id))
    assert count(catalog, Generation) == count(catalog, GenerationRef) == 0


def test_datetimes_come_back_aware_utc(catalog: Catalog) -> None:
    taken = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    before = datetime.now(UTC)
    with catalog.session() as session:
        session.add(Asset(path="/p/1.jpg", folder="/p", kind=IMAGE, taken_at=taken))
        session.add(Asset(path="/p/2.jpg", folder="/p", kind=IMAGE, taken_at=datetime(2024, 5, 1, 10, 30)))
    with catalog.session() as session:
        first, second = session.execute(select(Asset).order_by(Asset.path)).scalars().all()
    assert first.taken_at == taken and first.taken_at.tzinfo == UTC
    assert first.taken_at.hour == 10  # stored as UTC
    assert second.taken_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)  # naive is taken as UTC
    assert first.created_at.tzinfo == UTC
    assert before - timedelta(minutes=5) <= first.created_at <= datetime.now(UTC) + timedelta(minutes=5)


def test_datetime_filters_compare_in_utc(catalog: Catalog) -> None:
    with catalog.session() as session:
        for hour in (8, 10, 12):
            session.add(
                Asset(path=f"/p/{hour}.jpg", folder="/p", kind=IMAGE, taken_at=datetime(2024, 1, 1, hour, tzinfo=UTC))
            )
    since = datetime(2024, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))  # 10:00 UTC
    with catalog.session() as session:
        paths = session.execute(select(Asset.path).where(Asset.taken_at >= since).order_by(Asset.path)).all()
    assert [p for (p,) in paths] == ["/p/10.jpg", "/p/12.jpg"]


def test_nul_characters_in_text_are_replaced(catalog: Catalog) -> None:
    text = "before\x00after"
    with catalog.session() as session:
        asset = Asset(path="/docs/nul.pdf", folder="/docs", kind=DOCUMENT, title="t\x00", error=None)
        asset.chunks = [Chunk(ordinal=0, text=text, section="s\x00", char_start=0, char_end=len(text))]
        session.add(asset)
    with catalog.session() as session:
        chunk = session.execute(select(Chunk)).scalar_one()
        assert chunk.text == "before\ufffdafter" and len(chunk.text) == chunk.char_end
        assert chunk.section == "s\ufffd"
        assert session.execute(select(Asset.title)).scalar_one() == "t\ufffd"


def test_long_model_names_and_paths_fit(catalog: Catalog) -> None:
    from mmrag.catalog import IMAGE_SPACE
    from mmrag.catalog.vectors import put_vectors

    model = "local-dir:/" + "very-long-folder-name/" * 60
    path = "/" + "/".join(f"folder-{i:03d}-ünïcödé" for i in range(120)) + "/photo.jpg"
    assert len(model) > 512 and len(path) > 2000
    with catalog.session() as session:
        asset = Asset(path=path, folder=path.rsplit("/", 1)[0], kind=IMAGE)
        session.add(asset)
        session.flush()
        import numpy as np

        put_vectors(session, catalog, IMAGE_SPACE, [asset.id], np.ones((1, 4), np.float32) / 2, model)
    with catalog.session() as session:
        assert session.execute(select(Asset.path)).scalar_one() == path


def test_ids_are_not_reused_after_delete(catalog: Catalog) -> None:
    first = add_document(catalog, "/docs/1.pdf", chunks=2)
    with catalog.session() as session:
        chunk_ids = session.execute(select(Chunk.id)).scalars().all()
        session.execute(delete(Asset).where(Asset.id == first))
    second = add_document(catalog, "/docs/2.pdf", chunks=2)
    assert second > first  # FAISS ids of deleted items never come back
    with catalog.session() as session:
        assert min(session.execute(select(Chunk.id)).scalars().all()) > max(chunk_ids)
