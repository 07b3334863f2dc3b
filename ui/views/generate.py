"""Generate page: references picked on the search grid (or uploaded), img2img or ControlNet with its
parameters, a progress bar per denoising step, and the outputs beside their references and conditions.
Outputs are stored in the library with provenance by ``generation.service``.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import state
from mmrag.ui.components import grid, hit_caption, plural, show_hit_image, show_image
from mmrag.ui.uploads import IMAGE_TYPES, UploadError, read_image_upload, save_reference_upload, upload_limit_mb

if TYPE_CHECKING:
    from mmrag.generation.request import GenerationRequest
    from mmrag.library import Library

UPLOADS = "gen.uploads"  # dict[saved path, original name]: uploaded references
SEEN_UPLOADS = "gen.seen_uploads"  # uploader file ids already handled (a removed upload stays removed)
RESULT = "gen.result"
MODE_LABELS = {"img2img": "img2img (start from the reference)", "controlnet": "ControlNet (follow its structure)",
               "controlnet-img2img": "ControlNet + img2img", "txt2img": "text only (no reference)"}
CONTROL_LABELS = {"canny": "canny edges", "depth": "depth map"}


def render() -> None:
    lib = state.library()
    st.title("Generate")
    references(lib)
    request = parameter_form(lib)
    if request is not None:
        generate(lib, request)
    result = st.session_state.get(RESULT)
    if result:
        show_result(result)


def references(lib: Library) -> None:
    refs = state.session(state.REFS, {})
    uploads: dict[str, str] = state.session(UPLOADS, {})
    st.subheader("References")
    take_upload(lib, uploads)
    if not refs and not uploads:
        st.caption("None yet: tick **Reference** under results on the Search page, or upload an image.")
        return
    items: list[tuple[str, Any]] = [("hit", hit) for hit in refs.values()]
    items += [("upload", (path, name)) for path, name in uploads.items()]
    for (kind, item), column in grid(items, 6):
        with column:
            if kind == "hit":
                show_hit_image(lib.path, item, hit_caption(item))
                st.button("Remove", key=f"gen.remove.{item.id}", on_click=refs.pop, args=(item.id, None),
                          type="tertiary", icon=":material/close:")
            else:
                show_image(item[0], f"upload · {item[1]}")
                st.button("Remove", key=f"gen.remove.{item[0]}", on_click=uploads.pop, args=(item[0], None),
                          type="tertiary", icon=":material/close:")


def take_upload(lib: Library, uploads: dict[str, str]) -> None:
    """Check a newly uploaded reference and save it under ``<library>/uploads/``."""
    upload = st.file_uploader("Upload a reference image", type=IMAGE_TYPES, key="gen.upload",
                              max_upload_size=upload_limit_mb(), help="Saved under the library's uploads/ folder.")
    seen: set[str] = state.session(SEEN_UPLOADS, set())
    if upload is None:
        return
    file_id = str(getattr(upload, "file_id", upload.name))
    if file_id in seen:
        return
    seen.add(file_id)
    try:
        image = read_image_upload(upload, max_pixels=lib.settings.ingest.max_image_pixels)
    except UploadError as exc:
        st.error(f"Cannot use this reference: {exc}", icon=":material/broken_image:")
        return
    uploads[str(save_reference_upload(lib.path, image))] = image.name


def parameter_form(lib: Library) -> GenerationRequest | None:
    """The generation request when the form was submitted, else None."""
    from mmrag.generation.request import CONTROLS, MODES, GenerationRequest

    defaults = lib.settings.generation
    with st.form("gen.form"):
        prompt = st.text_area("Prompt", key="gen.prompt", height=80, placeholder="e.g. a watercolor painting")
        negative = st.text_input("Negative prompt", key="gen.negative", placeholder="e.g. blurry, text")
        mode_col, control_col, count_col, seed_col = st.columns(4)
        mode = mode_col.selectbox("Mode", list(MODES), format_func=lambda m: MODE_LABELS.get(m, m), key="gen.mode")
        control = control_col.selectbox("Control", list(CONTROLS), format_func=lambda c: CONTROL_LABELS.get(c, c),
                                        key="gen.control", help="Used by the ControlNet modes.")
        n = count_col.number_input("Images per reference", 1, 8, 1, key="gen.n")
        seed = seed_col.number_input("Seed", 0, 2**31 - 1, value=None, placeholder="random", key="gen.seed")
        strength_col, steps_col, guidance_col = st.columns(3)
        strength = strength_col.slider("Strength", 0.05, 1.0, float(defaults.strength), 0.05, key="gen.strength",
                                       help="img2img: how far to move away from the reference.")
        steps = steps_col.number_input("Steps", 1, 150, int(defaults.steps), key="gen.steps")
        guidance = guidance_col.number_input("Guidance", 0.0, 30.0, float(defaults.guidance), 0.5, key="gen.guidance")
        with st.expander("Model and size"):
            model = st.text_input("Model", value=defaults.model, key="gen.model",
                                  help="A Hugging Face id, a local folder or checkpoint, or tiny-test (noise, fast).")
            width_col, height_col = st.columns(2)
            width = width_col.number_input("Width", 64, 2048, 512, 64, key="gen.width")
            height = height_col.number_input("Height", 64, 2048, 512, 64, key="gen.height")
        submitted = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:")
    if not submitted:
        return None
    if not (prompt or "").strip():
        st.error("Write a prompt first.", icon=":material/edit:")
        return None
    return GenerationRequest(
        prompt.strip(), negative_prompt=(negative or "").strip() or None, mode=mode, control=control, n=int(n),
        seed=None if seed is None else int(seed), steps=int(steps), strength=float(strength),
        guidance=float(guidance), model=(model or "").strip() or None, width=int(width), height=int(height),
    )


def generate(lib: Library, request: GenerationRequest) -> None:
    refs = list(state.session(state.REFS, {}).values()) + list(state.session(UPLOADS, {}))
    if request.mode == "txt2img":
        refs = []
    bar = st.progress(0.0, text="Loading the model…")
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"Step {done} of {total}")

    try:
        result = lib.generate(request, refs=refs, progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        bar.empty()
        st.error(f"Generation failed: {exc}", icon=":material/error:")
        return
    bar.progress(1.0, text="Done")
    st.session_state[RESULT] = summarize(result, time.perf_counter() - start)


def summarize(result: Any, seconds: float) -> dict[str, Any]:
    """What the page shows of a GenerationResult (paths and numbers; the images are read from the files)."""
    outputs = []
    for output in result.images:
        conditions = [(c.control_kind or "control", c.control_path) for c in output.conditions if c.control_path]
        conditions += [("init", c.init_path) for c in output.conditions if c.init_path and not c.control_path]
        outputs.append({"path": output.path, "asset_id": output.asset_id, "seed": output.seed,
                        "clip_score": output.clip_score,
                        "refs": [(r.label, r.path) for r in output.references],
                        "conditions": conditions})
    return {"outputs": outputs, "seconds": seconds, "models": dict(result.models)}


def show_result(result: dict[str, Any]) -> None:
    st.subheader("Results")
    model = result["models"].get("model", "")
    count = plural(len(result["outputs"]), "image")
    st.caption(f"{count} in {result['seconds']:.1f} s · {model} · saved to the library")
    for number, output in enumerate(result["outputs"], 1):
        with st.container(border=True, key=f"gen.output.{number}"):
            ref_col, cond_col, out_col = st.columns(3)
            with ref_col:
                st.markdown("**Reference**")
                _images(output["refs"], "none (text only)")
            with cond_col:
                st.markdown("**Condition**")
                _images(output["conditions"], "none")
            with out_col:
                st.markdown("**Output**")
                score = f" · CLIP {output['clip_score']:.1f}" if output["clip_score"] is not None else ""
                show_image(output["path"], f"#{output['asset_id']} · seed {output['seed']}{score}")
                if output["path"]:
                    st.caption(f"`{Path(output['path']).name}`")


def _images(items: list[tuple[str, str | None]], empty: str) -> None:
    for label, path in items:
        if path:
            show_image(path, label)
        else:
            st.caption(label)
    if not items:
        st.caption(empty)


if __name__ == "__main__":
    render()
