"""The components object: models injected through the constructor, nothing shared between libraries, the
one model check, and the façade over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmrag import Library
from mmrag.components import Components, KeptModel
from mmrag.errors import ModelMismatchError
from mmrag.settings import Settings


def test_injected_models_are_the_ones_used(tmp_path: Path, tiny_clip: Any, photos: Path) -> None:
    lib = Library(tmp_path / "lib", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    assert lib.clip is tiny_clip and lib.components.clip is tiny_clip
    lib.ingest([photos])
    [hit] = lib.search_image(photos / "chelsea.jpg", k=1)
    assert Path(hit.path).name == "chelsea.jpg"
    lib.close()


def test_two_libraries_in_one_process_share_nothing(tmp_path: Path, tiny_clip: Any, photos: Path) -> None:
    a = Library(tmp_path / "a", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    b = Library(tmp_path / "b", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    for part in ("catalog", "indexes", "bm25", "generators", "answer_model"):
        assert getattr(a.components, part) is not getattr(b.components, part), part
    assert a.components.generators.loader is not b.components.generators.loader
    a.ingest([photos])
    assert a.search_text("a cat", k=3) and b.search_text("a cat", k=3) == []
    a.close()
    b.close()


def test_a_library_is_given_settings_or_components_not_both(tmp_path: Path) -> None:
    components = Components(Settings(library=tmp_path / "lib", clip_model="tiny-test", device="cpu"))
    assert Library(components=components).components is components
    with pytest.raises(ValueError, match="either components or a library"):
        Library(tmp_path / "lib", components=components)
    components.close()


def test_the_model_check_guards_open_and_doctor_still_opens(tmp_path: Path, tiny_clip: Any, photos: Path) -> None:
    from mmrag.doctor import diagnose, open_library

    with Library(tmp_path / "lib", clip_model="tiny-test", device="cpu", clip=tiny_clip) as lib:
        lib.ingest([photos])
    with pytest.raises(ModelMismatchError, match="holds image vectors made by 'open_clip:tiny-test"):
        Library(tmp_path / "lib", clip_model="ViT-B-32", clip_pretrained="none", device="cpu")
    with open_library(tmp_path / "lib", clip_model="ViT-B-32", clip_pretrained="none", device="cpu") as lib:
        assert any(f.check == "model" and f.severity == "error" for f in diagnose(lib).findings)


def test_lock_timeout_comes_from_the_settings(tmp_path: Path, tiny_clip: Any) -> None:
    import time

    from mmrag.errors import LibraryLockedError

    writer = Library(tmp_path / "lib", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    waiter = Library(tmp_path / "lib", clip_model="tiny-test", device="cpu", clip=tiny_clip, lock_timeout=0.5)
    with writer.writing():
        start = time.perf_counter()
        with pytest.raises(LibraryLockedError, match="another process is writing"):
            waiter.tag([], add=["x"])
        assert time.perf_counter() - start >= 0.45
    writer.close()
    waiter.close()


class _Model:
    pass


def test_a_kept_model_loads_once_per_key_and_frees_the_old_one_first() -> None:
    import weakref

    kept, loads, alive_at_load = KeptModel(), [], []
    refs: list[weakref.ref[_Model]] = []

    def load() -> _Model:
        alive_at_load.append(sum(ref() is not None for ref in refs))
        loads.append(model := _Model())
        refs.append(weakref.ref(model))
        return model

    first = kept.get(("a.gguf", 4096), load)
    assert kept.get(("a.gguf", 4096), load) is first and len(loads) == 1
    del first
    loads.clear()  # only the slot holds the model now
    second = kept.get(("b.gguf", 4096), load)
    assert alive_at_load == [0, 0]  # the first model was gone before the second loaded
    kept.release()
    assert kept.get(("b.gguf", 4096), load) is not second


def test_closing_a_library_releases_its_answer_model(tmp_path: Path) -> None:
    components = Components(Settings(library=tmp_path / "lib", clip_model="tiny-test", device="cpu"))
    model = components.answer_model.get(("m.gguf",), _Model)
    components.close()
    assert components.answer_model.get(("m.gguf",), _Model) is not model
