"""Generate page: references picked on the search grid, found here by a search, or uploaded; img2img (the default
once there are references) or ControlNet with its parameters, the controls that do not apply to the chosen mode
disabled; progress per image and denoising step; the outputs beside their references and conditions; a gallery
of the library's generated images with their provenance. The form's values are kept when the page is left.
Outputs are stored in the library with provenance by ``generation.service``.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import access, state
from mmrag.ui.components import grid, hit_caption, md_escape, plural, show_hit_image, show_image
from mmrag.ui.uploads import IMAGE_TYPES, UploadError, read_image_upload, save_reference_upload, upload_limit_mb

if TYPE_CHECKING:
    from mmrag.generation.request import GenerationRequest
    from mmrag.library import Library

UPLOADS = "gen.uploads"  # dict[saved path, original name]: uploaded references
SEEN_UPLOADS = "gen.seen_uploads"  # uploader file ids already handled (a removed upload stays removed)
RESULT = "gen.result"
KEPT = "gen.kept"  # the form's values, put back when the page is shown again (Streamlit drops unshown widgets)
HAD_REFS = "gen.had_refs"
FOUND = "gen.found"  # hits of the reference search on this page
MODE_LABELS = {"img2img": "img2img (start from the reference)", "controlnet": "ControlNet (follow its structure)",
               "controlnet-img2img": "ControlNet + img2img", "txt2img": "text only (no reference)"}
CONTROL_LABELS = {"canny": "canny edges", "depth": "depth map"}
FIELDS = ("gen.prompt", "gen.negative", "gen.mode", "gen.control", "gen.n", "gen.seed", "gen.strength", "gen.steps",
          "gen.guidance", "gen.model", "gen.width", "gen.height")
# request field → the form's label, so that errors name what the user sees
LABELS = {"prompt": "Prompt", "negative_prompt": "Negative prompt", "mode": "Mode", "control": "Control",
          "n": "Images per reference", "seed": "Seed", "strength": "Strength", "steps": "Steps",
          "guidance": "Guidance", "model": "Model", "width": "Width", "height": "Height"}
GALLERY = 12


def render() -> None:
    lib = state.library()
    st.title("Generate")
    locked = access.write_refusal(lib)  # a read-only key: upload and Generate are off, and refused
    access.read_only_note(locked, "Generating and uploading references")
    _restore_form(lib)
    refs = references(lib, locked)
    find_references(lib)
    request = parameter_form(lib, refs, locked)
    _save_form()
    if request is not None:
        generate(lib, request, refs)
    result = st.session_state.get(RESULT)
    if result:
        show_result(result)
    gallery(lib)


def _restore_form(lib: Library) -> None:
    """Each field's value: as the user left it, else the library's generation settings. Set here, before the
    widgets exist, so that no widget is given a value twice."""
    defaults = lib.settings.generation
    kept: dict[str, Any] = state.session(KEPT, {})
    start = {"gen.prompt": "", "gen.negative": "", "gen.control": "canny", "gen.n": 1, "gen.seed": None,
             "gen.strength": float(defaults.strength), "gen.steps": int(defaults.steps),
             "gen.guidance": float(defaults.guidance), "gen.model": defaults.model, "gen.width": None,
             "gen.height": None}
    for key in FIELDS:
        if key not in st.session_state and (key in kept or key in start):
            st.session_state[key] = kept.get(key, start.get(key))


def _save_form() -> None:
    st.session_state[KEPT] = {key: st.session_state[key] for key in FIELDS if key in st.session_state}


def references(lib: Library, locked: str | None) -> list[Any]:
    """Show the picked and uploaded references with Remove buttons; returns them (hits, then upload paths)."""
    refs = state.session(state.REFS, {})
    uploads: dict[str, str] = state.session(UPLOADS, {})
    st.subheader("References")
    take_upload(lib, uploads, locked)
    if not refs and not uploads:
        st.caption("None yet: tick **Reference** on a Search result, search below, or upload an image.")
        return []
    items: list[tuple[str, Any]] = [("hit", hit) for hit in refs.values()]
    items += [("upload", (path, name)) for path, name in uploads.items()]
    with st.container(key="gen-refs"):
        for (kind, item), column in grid(items, 6):
            with column:
                if kind == "hit":
                    show_hit_image(lib.path, item, hit_caption(item))
                    st.button("Remove", key=f"gen.remove.{item.id}", on_click=refs.pop, args=(item.id, None),
                              type="tertiary", icon=":material/close:")
                else:
                    show_image(item[0], f"upload · {md_escape(item[1])}")
                    st.button("Remove", key=f"gen.remove.{item[0]}", on_click=uploads.pop, args=(item[0], None),
                              type="tertiary", icon=":material/close:")
    return list(refs.values()) + list(uploads)


def take_upload(lib: Library, uploads: dict[str, str], locked: str | None) -> None:
    """Check a newly uploaded reference and save it under ``<library>/uploads/``."""
    upload = st.file_uploader("Upload a reference image", type=IMAGE_TYPES, key="gen.upload",
                              max_upload_size=upload_limit_mb(), help="Saved under the library's uploads/ folder.",
                              disabled=locked is not None)
    seen: set[str] = state.session(SEEN_UPLOADS, set())
    if upload is None:
        return
    file_id = str(getattr(upload, "file_id", upload.name))
    if file_id in seen:
        return
    seen.add(file_id)
    if access.refuse(lib, "Cannot use this reference"):
        return
    try:
        image = read_image_upload(upload, max_pixels=lib.settings.ingest.max_image_pixels)
    except UploadError as exc:
        st.error(f"Cannot use this reference: {md_escape(exc)}", icon=":material/broken_image:")
        return
    uploads[str(save_reference_upload(lib.path, image))] = image.name


def find_references(lib: Library) -> None:
    """A text search on this page whose results can be picked as references."""
    refs = state.session(state.REFS, {})
    with st.expander("Find references by search", icon=":material/search:", expanded=False):
        with st.form("gen.find", border=False):
            text = st.text_input("Describe the reference", key="gen.find_text", placeholder="e.g. a red rocket")
            submitted = st.form_submit_button("Search", icon=":material/search:")
        if submitted:
            try:
                st.session_state[FOUND] = lib.search_text(text, k=12) if (text or "").strip() else []
            except Exception as exc:  # noqa: BLE001 - shown on the page
                st.error(f"Search failed: {md_escape(exc)}", icon=":material/error:")
        for hit, column in grid(st.session_state.get(FOUND, []), 6):
            with column:
                show_hit_image(lib.path, hit, hit_caption(hit))
                picked = hit.id in refs
                st.button("Picked" if picked else "Use", key=f"gen.use.{hit.id}", disabled=picked,
                          on_click=refs.__setitem__, args=(hit.id, hit), icon=":material/add_photo_alternate:")


def _default_mode(has_refs: bool) -> None:
    """img2img once references are there (and text only while there are none), unless the user chose."""
    had = st.session_state.get(HAD_REFS)
    if "gen.mode" not in st.session_state or had != has_refs:
        st.session_state["gen.mode"] = "img2img" if has_refs else "txt2img"
    st.session_state[HAD_REFS] = has_refs


def parameter_form(lib: Library, refs: list[Any], locked: str | None) -> GenerationRequest | None:
    """The checked generation request when the form was submitted, else None."""
    from mmrag.generation.request import CONTROLS, MODES, default_side

    defaults = lib.settings.generation
    _default_mode(bool(refs))
    mode = st.selectbox("Mode", list(MODES), format_func=lambda m: MODE_LABELS.get(m, m), key="gen.mode",
                        help="Changing the mode enables the settings it uses.")
    needs_refs, uses_init, uses_control = MODES[mode]
    if refs and not needs_refs:
        st.warning(f"Text only ignores the {plural(len(refs), 'reference')} above; choose img2img or ControlNet "
                   "to use them.", icon=":material/warning:")
    with st.form("gen.form"):
        prompt = st.text_area("Prompt", key="gen.prompt", height=80, placeholder="e.g. a watercolor painting")
        negative = st.text_input("Negative prompt", key="gen.negative", placeholder="e.g. blurry, text")
        control_col, count_col, seed_col = st.columns(3)
        control = control_col.selectbox("Control", list(CONTROLS), format_func=lambda c: CONTROL_LABELS.get(c, c),
                                        key="gen.control", disabled=not uses_control, help="ControlNet modes only.")
        n = count_col.number_input("Images per reference" if needs_refs else "Images", 1, 8, key="gen.n")
        seed = seed_col.number_input("Seed", 0, 2**31 - 1, placeholder="random", key="gen.seed")
        strength_col, steps_col, guidance_col = st.columns(3)
        strength = strength_col.slider("Strength", 0.05, 1.0, step=0.05, key="gen.strength",
                                       disabled=not uses_init,
                                       help="img2img modes: how far to move from the reference; they run "
                                            "Steps × Strength denoising steps.")
        steps = steps_col.number_input("Steps", 1, 150, key="gen.steps")
        guidance = guidance_col.number_input("Guidance", 0.0, 30.0, step=0.5, key="gen.guidance")
        with st.expander("Model and size"):
            model = st.text_input("Model", key="gen.model",
                                  help="A Hugging Face id, a local folder or checkpoint, or tiny-test (noise, fast).")
            side = default_side(defaults.model)
            width_col, height_col = st.columns(2)
            width = width_col.number_input("Width", 64, 2048, step=64, key="gen.width",
                                           placeholder=f"model default ({side})")
            height = height_col.number_input("Height", 64, 2048, step=64, key="gen.height",
                                             placeholder=f"model default ({side})")
        submitted = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:",
                                          disabled=locked is not None, help=locked)
    if not submitted:
        return None
    values = {"prompt": (prompt or "").strip(), "negative": negative, "mode": mode, "control": control, "n": n,
              "seed": seed, "steps": steps, "strength": strength, "guidance": guidance, "model": model,
              "width": width, "height": height}
    return checked_request(lib, values, len(refs))


def checked_request(lib: Library, values: dict[str, Any], ref_count: int) -> GenerationRequest | None:
    """The request validated against the library's settings; a problem is shown naming the form's fields."""
    from mmrag.generation.request import MODES, GenerationRequest

    if not values["prompt"]:
        st.error("Write a **Prompt** first.", icon=":material/edit:")
        return None
    if MODES[values["mode"]][0] and ref_count == 0:
        st.error(f"**Mode** {MODE_LABELS[values['mode']]} needs a reference: tick **Reference** on a Search "
                 "result, use **Find references by search**, or upload one; or choose **Mode** text only.",
                 icon=":material/image:")
        return None
    request = GenerationRequest(
        values["prompt"], negative_prompt=(values["negative"] or "").strip() or None, mode=values["mode"],
        control=values["control"], n=int(values["n"]), seed=None if values["seed"] is None else int(values["seed"]),
        steps=int(values["steps"]), strength=float(values["strength"]), guidance=float(values["guidance"]),
        model=(values["model"] or "").strip() or None,
        width=None if values["width"] is None else int(values["width"]),
        height=None if values["height"] is None else int(values["height"]))
    try:
        return request.validate(lib.settings.generation)
    except Exception as exc:  # noqa: BLE001 - bad parameters are shown, named as on the form
        st.error(form_message(str(exc)), icon=":material/tune:")
        return None


def form_message(message: str) -> str:
    """A request error retold with the form's labels (**Steps**) instead of field names or CLI flags."""
    message = re.sub(r"--([a-z-]+)", lambda m: f"**{LABELS.get(m.group(1).replace('-', '_'), m.group(1))}**",
                     message)
    names = "|".join(sorted(LABELS, key=len, reverse=True))
    return re.sub(rf"\b({names})\b(?![*])", lambda m: f"**{LABELS[m.group(1)]}**", md_escape(message))


def generate(lib: Library, request: GenerationRequest, refs: list[Any]) -> None:
    if access.refuse(lib, "Nothing was generated"):
        return
    refs = refs if request.needs_refs else []
    images = max(len(refs), 1) if request.combine == "each" else 1
    bar = st.progress(0.0, text="Loading the model…")
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        per_image = max(total // images, 1)
        image, step = min((done - 1) // per_image + 1, images), (done - 1) % per_image + 1
        text = f"Step {step} of {per_image}" + (f" · reference {image} of {images}" if images > 1 else "")
        bar.progress(min(done / max(total, 1), 1.0), text=text)

    try:
        result = lib.generate(request, refs=refs, progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        bar.empty()
        st.error(f"Generation failed: {form_message(str(exc))}", icon=":material/error:")
        return
    steps = request.denoising_steps
    bar.progress(1.0, text=f"Done: {plural(steps, 'denoising step')} per image"
                 + (f" (Steps {request.steps} × Strength {request.strength:g})" if request.uses_init else ""))
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
    st.caption(f"{count} in {result['seconds']:.1f} s · {md_escape(model)} · saved to the library")
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
                    st.caption(f"{md_escape(Path(output['path']).name)}")


def _images(items: list[tuple[str, str | None]], empty: str) -> None:
    for label, path in items:
        if path:
            show_image(path, md_escape(label))
        else:
            st.caption(md_escape(label))
    if not items:
        st.caption(empty)


def gallery(lib: Library) -> None:
    """The library's latest generated images, each with its prompt, mode, seed, model and references."""
    rows = generated_rows(lib, GALLERY)
    if not rows:
        return
    st.subheader("Generated in this library")
    with st.container(key="gen-gallery"):
        for row, column in grid(rows, 6):
            with column:
                show_image(row["path"], f"#{row['id']} · {md_escape(row['prompt'][:60])}")
                with st.popover("Provenance", icon=":material/info:", width="stretch"):
                    st.markdown("\n".join([
                        f"- **Prompt:** {md_escape(row['prompt'])}", f"- **Mode:** {row['mode']}",
                        f"- **Seed:** {row['seed']}", f"- **Model:** {md_escape(row['model'])}",
                        f"- **Steps:** {row['steps']}", f"- **Made:** {row['created']:%Y-%m-%d %H:%M} UTC",
                        *[f"- **Reference:** {md_escape(ref)}" for ref in row["refs"]]]))


def generated_rows(lib: Library, limit: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from mmrag.catalog import Asset, Generation

    with lib.catalog.session() as session:
        found = session.execute(select(Generation, Asset.path).join(Asset, Asset.id == Generation.asset_id)
                                .order_by(Generation.id.desc()).limit(limit)).all()
        return [{"id": g.asset_id, "path": path, "prompt": g.prompt, "mode": g.mode, "seed": g.seed,
                 "model": (g.models or {}).get("model", ""), "created": g.created_at,
                 "steps": (g.params or {}).get("denoising_steps", (g.params or {}).get("steps", "")),
                 "refs": [r.ref_path for r in g.refs if r.ref_path]} for g, path in found]


if __name__ == "__main__":
    render()
