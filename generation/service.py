"""``generate``: retrieval-guided generation from end to end.

1. validate the request (no model is touched before this passes)
2. resolve references (search hits, asset ids, paths, PIL images, a text query)
3. build conditions (fitted inits, Canny/depth maps)
4. load (or reuse) the diffusers generator and run one pipeline call per job
5. check outputs with CLIP (prompt score, similarity to references)
6. store: PNG + metadata, catalog rows and vectors in one transaction, image index
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .base import Condition, GeneratedImage, GenerationResult, Generator, Job, LibraryLike, ProgressCallback, Reference
from .request import GenerationRequest

_GENERATORS: dict[tuple[Any, ...], Generator] = {}  # one loaded generator kept between calls (see release())


def generate(
    lib: LibraryLike,
    prompt: str,
    *,
    refs: Any = None,
    like: str | None = None,
    ref_ids: Sequence[int] | None = None,
    ref_images: Sequence[Any] | None = None,
    mode: str = "img2img",
    control: str = "canny",
    n: int = 1,
    seed: int | None = None,
    steps: int | None = None,
    strength: float | None = None,
    guidance: float | None = None,
    width: int = 512,
    height: int = 512,
    negative_prompt: str | None = None,
    model: str | None = None,
    controlnet: str | None = None,
    lora: str | None = None,
    lora_scale: float = 1.0,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
    k: int = 1,
    combine: str = "each",
    control_low: int = 100,
    control_high: int = 200,
    control_scale: float = 1.0,
    depth_model: str | None = None,
    model_config: str | None = None,
    store: bool = True,
    generator: Generator | None = None,
) -> GenerationResult:
    """Generate images guided by library references and store them with provenance.

    References: ``refs`` (Hits, asset ids, paths or PIL images), ``ref_ids``, ``ref_images`` and the ``k``
    nearest images of the text query ``like``, in that order. With several references, ``combine="each"``
    (default) makes ``n`` images per reference; ``combine="multi"`` makes ``n`` images conditioned on all
    of them at once through a multi-ControlNet (ControlNet modes only; the init is the first reference).
    Unset steps/strength/guidance/model/controlnet/scheduler come from ``lib.settings.generation``.
    """
    timings: dict[str, float] = {}
    defaults = lib.settings.generation
    request = GenerationRequest(
        prompt=prompt, mode=mode, control=control, n=n, seed=seed,
        steps=defaults.steps if steps is None else steps,
        strength=defaults.strength if strength is None else strength,
        guidance=defaults.guidance if guidance is None else guidance,
        width=width, height=height, negative_prompt=negative_prompt,
        model=model or defaults.model, model_config=model_config,
        controlnet=controlnet or defaults.controlnet, lora=lora, lora_scale=lora_scale,
        scheduler=scheduler or defaults.scheduler, control_low=control_low, control_high=control_high,
        control_scale=control_scale, depth_model=depth_model, combine=combine,
    )  # fmt: skip
    with _timed(timings, "validate"):
        request.validate()
    with _timed(timings, "references"):
        references = resolve(lib, request, refs=refs, like=like, k=k, ref_ids=ref_ids, ref_images=ref_images)
    with _timed(timings, "conditions"):
        from .conditions import build_conditions

        conditions = build_conditions(request, references)
    with _timed(timings, "load"):
        generator = generator or load_generator(request, lib.settings.device)
    first_seed = request.seed if request.seed is not None else secrets.randbits(31)
    jobs = plan_jobs(request, references, conditions, first_seed)
    with _timed(timings, "denoise"):
        outputs = run_jobs(generator, request, jobs, references, progress)
    with _timed(timings, "checks"):
        vectors = score(lib, request.prompt, outputs)
    sampler = _sampler(generator, request.scheduler)
    models = {key: value for key, value in generator.models.items() if key != "controlnet" or request.uses_control}
    if store:
        with _timed(timings, "store"):
            from .store import save_conditions, store_outputs

            save_conditions(lib, conditions)
            store_outputs(lib, outputs, vectors, request, models, sampler)
    params = {**request.to_params(), "sampler": sampler}
    return GenerationResult(outputs, references, conditions, params, models, first_seed, timings)


def resolve(lib: LibraryLike, request: GenerationRequest, **sources: Any) -> list[Reference]:
    from .refs import resolve_references

    references = resolve_references(lib, **sources)
    request.check_references(len(references))
    return references


def load_generator(request: GenerationRequest, device: str = "auto") -> Generator:
    """The diffusers generator for a request, reused while model/controlnet/LoRA/device stay the same."""
    from .diffusers_generator import DiffusersGenerator
    from .models import resolve_device

    key = DiffusersGenerator.cache_key(request, resolve_device(device)[0])
    generator = _GENERATORS.get(key)
    if generator is None:
        release()
        generator = _GENERATORS[key] = DiffusersGenerator.load(request, device)
    else:
        generator.use_controlnet(request.controlnet_model)  # type: ignore[attr-defined]
    return generator


def release() -> None:
    """Forget the cached generator so its models can be freed."""
    _GENERATORS.clear()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def plan_jobs(
    request: GenerationRequest, references: list[Reference], conditions: list[Condition], first_seed: int
) -> list[Job]:
    """Pipeline calls: one per reference ("each"), one for all ("multi"), or one without references (txt2img).
    Output i of the whole request uses seed first_seed + i."""
    if not conditions:
        groups: list[list[Condition]] = [[]]
    elif request.combine == "multi":
        groups = [conditions]
    else:
        groups = [[condition] for condition in conditions]
    return [
        Job(conditions=group, seeds=[first_seed + i * request.n + j for j in range(request.n)])
        for i, group in enumerate(groups)
    ]


def run_jobs(
    generator: Generator,
    request: GenerationRequest,
    jobs: list[Job],
    references: list[Reference],
    progress: ProgressCallback | None,
) -> list[GeneratedImage]:
    outputs: list[GeneratedImage] = []
    report = _Progress(progress, len(jobs))
    for job in jobs:
        images = generator.run(request, job, report.step if progress else None)
        report.next_job()
        used = [c.reference for c in job.conditions] or list(references)
        pairs = zip(images, job.seeds, strict=True)
        outputs += [GeneratedImage(image, seed, used, job.conditions) for image, seed in pairs]
    return outputs


class _Progress:
    """Turns per-call (step, steps) reports into one count over all jobs. The step count comes from the
    pipeline itself, since some schedulers run one more model call than ``steps`` (PNDM's first step)."""

    def __init__(self, callback: ProgressCallback | None, jobs: int) -> None:
        self.callback, self.jobs, self.done, self.per_job = callback, jobs, 0, 0

    def step(self, step: int, steps: int) -> None:
        self.per_job = max(self.per_job, steps)
        if self.callback is not None:
            self.callback(self.done + step, self.per_job * self.jobs)

    def next_job(self) -> None:
        self.done += self.per_job


def score(lib: LibraryLike, prompt: str, outputs: list[GeneratedImage]) -> Any:
    """CLIP vectors of the outputs (returned, for the index) and their clip_score / ref_similarity."""
    from .checks import clip_scores, embed, ref_similarities

    clip = lib.clip
    vectors = embed(clip, [o.image for o in outputs])
    prompt_vector = clip.embed_texts([prompt])[0]
    ref_cache: dict[int, Any] = {}
    ref_vectors = []
    for output in outputs:
        missing = [r for r in output.references if id(r) not in ref_cache]
        for reference, vector in zip(missing, embed(clip, [r.image for r in missing]), strict=True):
            ref_cache[id(reference)] = vector
        ref_vectors.append([ref_cache[id(r)] for r in output.references])
    for output, clip_score, similarity in zip(
        outputs, clip_scores(vectors, prompt_vector), ref_similarities(vectors, ref_vectors), strict=True
    ):
        output.clip_score, output.ref_similarity = clip_score, similarity
    return vectors


def _sampler(generator: Generator, scheduler: str) -> str:
    label = getattr(generator, "sampler", None)
    return label(scheduler) if callable(label) else scheduler


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(time.perf_counter() - start, 4)
