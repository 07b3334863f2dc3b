"""The ``generate`` verb: retrieval-guided image generation (torch/diffusers load only when it runs)."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..generation.request import CONTROLS, MODES
from ..generation.request import GenerationRequest as Request
from ..generation.schedulers import SCHEDULERS
from .common import JsonOption, LibraryOption, app, console, opened_library, out, print_json

if TYPE_CHECKING:
    from ..generation.base import GenerationResult
    from ..generation.refs import ReferenceSources
    from ..library import Library

MODE_HELP = " | ".join(MODES) + "."
SCHEDULER_HELP = ", ".join(SCHEDULERS) + "."
CONTROL_HELP = "Condition map for ControlNet: " + " | ".join(CONTROLS) + "."


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="What to generate.")],
    like: Annotated[str | None, typer.Option("--like", help="Use the nearest library images of this text.")] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="How many --like images to use.")] = 1,
    ref_image: Annotated[list[Path] | None, typer.Option("--ref-image", help="Reference image (repeatable).")] = None,
    ref_id: Annotated[list[int] | None, typer.Option("--ref-id", help="Reference library id (repeatable).")] = None,
    mode: Annotated[str, typer.Option("--mode", help=MODE_HELP)] = Request.mode,
    control: Annotated[str, typer.Option("--control", help=CONTROL_HELP)] = Request.control,
    combine: Annotated[str, typer.Option("--combine", help="each (n images per reference) | multi "
                                         "(all references in one multi-ControlNet call).")] = Request.combine,
    n: Annotated[int, typer.Option("-n", "--n", help="Images per reference.")] = Request.n,
    seed: Annotated[int | None, typer.Option("--seed", help="First seed; image i uses seed + i.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Inference steps (default: settings).")] = None,
    strength: Annotated[float | None, typer.Option("--strength", help="img2img: how much to change (0–1].")] = None,
    guidance: Annotated[float | None, typer.Option("--guidance", help="Classifier-free guidance scale.")] = None,
    width: Annotated[int | None, typer.Option("--width", help="Output width, a multiple of 8 (default: 512; "
                                              "64 for --model tiny-test).")] = None,
    height: Annotated[int | None, typer.Option("--height", help="Output height, a multiple of 8 (default: 512; "
                                               "64 for --model tiny-test).")] = None,
    negative: Annotated[str | None, typer.Option("--negative", help="Negative prompt.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="HF id, diffusers folder, .safetensors/.ckpt "
                                              "file, or tiny-test (random weights: noise).")] = None,
    model_config: Annotated[str | None, typer.Option("--model-config", help="Diffusers folder with the configs "
                                                     "of a single-file --model.")] = None,
    controlnet: Annotated[str | None, typer.Option("--controlnet", help="ControlNet: HF id, folder or file.")] = None,
    lora: Annotated[str | None, typer.Option("--lora", help="LoRA weights (.safetensors, folder or HF id).")] = None,
    lora_scale: Annotated[float, typer.Option("--lora-scale", help="LoRA weight.")] = Request.lora_scale,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help=SCHEDULER_HELP)] = None,
    control_low: Annotated[int, typer.Option("--control-low", help="Canny low threshold.")] = (
        Request.control_low),
    control_high: Annotated[int, typer.Option("--control-high", help="Canny high threshold.")] = (
        Request.control_high),
    control_scale: Annotated[float, typer.Option("--control-scale", help="ControlNet conditioning scale.")] = (
        Request.control_scale),
    depth_model: Annotated[str | None, typer.Option("--depth-model", help="Depth estimator: HF id or folder.")] = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Generate images guided by library images (img2img inits or ControlNet maps); outputs are stored,
    with provenance, in the library and are searchable at once."""
    from ..generation.refs import ReferenceSources

    request = Request(
        prompt, mode=mode, control=control, combine=combine, n=n, seed=seed, steps=steps, strength=strength,
        guidance=guidance, width=width, height=height, negative_prompt=negative, model=model,
        model_config=model_config, controlnet=controlnet, lora=lora, lora_scale=lora_scale, scheduler=scheduler,
        control_low=control_low, control_high=control_high, control_scale=control_scale, depth_model=depth_model,
    )  # fmt: skip
    sources = ReferenceSources(like=like, k=k, ref_ids=ref_id or None, ref_images=ref_image or None)
    if mode in MODES and request.needs_refs and not (like or ref_id or ref_image):  # unknown modes: validate()
        from ..generation.request import missing_references

        raise typer.BadParameter(missing_references(mode, "--like TEXT, --ref-id ID or --ref-image FILE"),
                                 param_hint="--mode")
    with opened_library(library, create=True) as lib:
        result = _run(lib, request, sources)
    if json:
        print_json([image.to_dict() for image in result.images])
    else:
        _print_result(result)


def _run(lib: "Library", request: Request, sources: "ReferenceSources") -> "GenerationResult":
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("denoising"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("denoising", total=None)

        def on_step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return lib.generate(request, refs=sources.refs, like=sources.like, k=sources.k, ref_ids=sources.ref_ids,
                            ref_images=sources.ref_images, progress=on_step)


def _print_result(result: "GenerationResult") -> None:
    from rich.table import Table

    table = Table("asset", "seed", "clip", "ref sim", "refs", box=None)
    for image in result.images:
        refs = ", ".join(r.label for r in image.references) or "-"
        table.add_row(
            str(image.asset_id) if image.asset_id is not None else "-",
            str(image.seed),
            f"{image.clip_score:.2f}" if image.clip_score is not None else "-",
            f"{image.ref_similarity:.3f}" if image.ref_similarity is not None else "-",
            refs,
        )
    out.print(table)
    for image in result.images:  # paths on their own lines: never broken by the table's column width
        out.print(f"saved {image.path or '-'}", markup=False, highlight=False, emoji=False)
    stages = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in result.timings.items() if seconds >= 0.05)
    console.print(f"[dim]{result.params.get('mode')} · {result.models.get('model')} · {stages}[/]")
    console.print("[dim]clip = 100 × cosine(image, prompt); ref sim = mean cosine(image, references)[/]")
