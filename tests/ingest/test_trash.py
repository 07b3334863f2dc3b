"""The library's trash on real files, a real catalog and FAISS: a trashed copy leaves search and the catalog,
its file sits in <library>/.trash; restore puts file and entries back; nothing outside the library's folders
moves; name collisions in the trash and on restore are handled."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mmrag.ingest.trash import TRASH_DIR, TrashError, free_path


def _library_with_copies(make_library: Any, photos: Path, tmp_path: Path) -> tuple[Any, Path]:
    shutil.copy(photos / "chelsea.jpg", photos / "chelsea copy.jpg")
    (photos / "other").mkdir()
    shutil.copy(photos / "chelsea.jpg", photos / "other" / "chelsea.jpg")  # same name, another folder
    lib = make_library(tmp_path / "library", serve={"ingest_roots": [str(photos)]})
    lib.ingest([photos])
    return lib, photos


def _id_of(lib: Any, path: Path) -> int:
    from sqlalchemy import select

    from mmrag.catalog import Asset

    with lib.catalog.session() as session:
        return int(session.execute(select(Asset.id).where(Asset.path == path.as_posix())).scalar_one())


def _ids_found(lib: Any) -> set[int]:
    return {hit.id for hit in lib.search_text("a cat", k=100)}


def test_trash_and_restore_round_trip(make_library: Any, photos: Path, tmp_path: Path) -> None:
    lib, photos = _library_with_copies(make_library, photos, tmp_path)
    keep = _id_of(lib, photos / "chelsea.jpg")
    copies = [_id_of(lib, photos / "chelsea copy.jpg"), _id_of(lib, photos / "other" / "chelsea.jpg")]
    assert set(copies) <= _ids_found(lib)

    items = lib.trash(copies, keep=keep)

    assert [i.asset_id for i in items] == copies and all(i.kept_id == keep and i.in_trash for i in items)
    assert not (photos / "chelsea copy.jpg").exists() and not (photos / "other" / "chelsea.jpg").exists()
    trash_paths = [Path(i.trash_path) for i in items]
    assert all(p.is_file() and p.is_relative_to(lib.path / TRASH_DIR) for p in trash_paths)
    assert len(set(trash_paths)) == 2  # two files named chelsea.jpg side by side in the trash
    assert not set(copies) & _ids_found(lib)
    assert keep in _ids_found(lib) and (photos / "chelsea.jpg").is_file()
    assert [i.id for i in lib.trash_list()] == [i.id for i in reversed(items)]
    lib.ingest([photos])  # a later ingest of the folder does not bring them back
    assert not set(copies) & _ids_found(lib)

    restored = lib.restore([items[0].id])

    assert restored[0].restored_path == (photos / "chelsea copy.jpg").as_posix()
    assert (photos / "chelsea copy.jpg").is_file() and not trash_paths[0].exists()
    back = _id_of(lib, photos / "chelsea copy.jpg")
    assert back in _ids_found(lib)
    assert [i.id for i in lib.trash_list()] == [items[1].id]
    assert {i.id for i in lib.trash_list(include_restored=True)} == {i.id for i in items}
    with pytest.raises(TrashError, match="restored already"):
        lib.restore([items[0].id])


def test_restore_to_a_taken_place_gets_a_new_name(make_library: Any, photos: Path, tmp_path: Path) -> None:
    lib, photos = _library_with_copies(make_library, photos, tmp_path)
    [item] = lib.trash([_id_of(lib, photos / "chelsea copy.jpg")])
    shutil.copy(photos / "coffee.jpg", photos / "chelsea copy.jpg")  # something else took its place meanwhile

    [restored] = lib.restore([item.id])

    assert restored.restored_path == (photos / "chelsea copy (restored).jpg").as_posix()
    assert (photos / "chelsea copy.jpg").read_bytes() == (photos / "coffee.jpg").read_bytes()
    assert free_path(photos / "chelsea copy.jpg").name == "chelsea copy (restored 2).jpg"


def test_files_outside_the_library_roots_never_move(make_library: Any, photos: Path, tmp_path: Path) -> None:
    lib = make_library(tmp_path / "library")  # no serve.ingest_roots: only the library folder itself
    lib.ingest([photos])
    target = _id_of(lib, photos / "coffee.jpg")
    with pytest.raises(TrashError, match=r"outside the library folder.*serve\.ingest_roots"):
        lib.trash([target])
    assert (photos / "coffee.jpg").is_file() and target in {h.id for h in lib.search_text("coffee", k=100)}
    assert lib.trash_list() == []


def test_refusals_name_the_item_and_move_nothing(make_library: Any, photos: Path, tmp_path: Path) -> None:
    lib, photos = _library_with_copies(make_library, photos, tmp_path)
    copy_id = _id_of(lib, photos / "chelsea copy.jpg")
    keep = _id_of(lib, photos / "chelsea.jpg")
    with pytest.raises(TrashError, match="no library item with id 999999"):
        lib.trash([copy_id, 999999])
    with pytest.raises(TrashError, match=f"library item {keep} is the copy to keep"):
        lib.trash([copy_id, keep], keep=keep)
    with pytest.raises(TrashError, match="name at least one"):
        lib.trash([])
    with pytest.raises(TrashError, match="no trash entry 42"):
        lib.restore([42])
    assert (photos / "chelsea copy.jpg").is_file() and lib.trash_list() == []
    assert not (lib.path / TRASH_DIR).exists() or not any((lib.path / TRASH_DIR).rglob("*.jpg"))


def test_uploaded_files_inside_the_library_can_be_trashed(make_library: Any, photos: Path, tmp_path: Path) -> None:
    lib = make_library(tmp_path / "library")
    inside = lib.path / "files"
    inside.mkdir(parents=True)
    shutil.copy(photos / "rocket.jpg", inside / "rocket.jpg")
    lib.ingest([inside])
    [item] = lib.trash([_id_of(lib, inside / "rocket.jpg")])
    assert not (inside / "rocket.jpg").exists() and Path(item.trash_path).is_file()
    lib.restore([item.id])
    assert (inside / "rocket.jpg").is_file()
