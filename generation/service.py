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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .base import Condition, GeneratedImage, GenerationResult, Generator, Job, ProgressCallback, Reference
from .refs import ReferenceSources, resolve_references
from .request import GenerationRequest

if TYPE_CHECKING:
    from ..components import Components


def generate(
    components: Components,
    request: GenerationRequest,
    sources: ReferenceSources | None = None,
    *,
    progress: ProgressCallback | None = None,
    store: bool = True,
    generator: Generator | None = None,
) -> GenerationResult:
    """Generate images for ``request`` guided by the references ``sources`` names, and store them with
    provenance (``store=False``: return them only). With several references, ``request.combine="each"``
    makes ``n`` images per reference; ``"multi"`` makes ``n`` images conditioned on all of them at once
    through a multi-ControlNet (the init is the first reference). Unset request fields come from
    ``components.settings.generation``; ``generator`` replaces the cached diffusers generator.
    """
    timings: dict[str, float] = {}
    with _timed(timings, "validate"):
        request = request.validate(components.settings.generation)
    with _timed(timings, "references"):
        references = resolve(components, request, sources or ReferenceSources())
    with _timed(timings, "conditions"):
        from .conditions import build_conditions

        conditions = build_conditions(request, references, components.generators.loader)
    with _timed(timings, "load"):
        generator = generator or load_generator(components, request)
    first_seed = request.seed if request.seed is not None else secrets.randbits(31)
    jobs = plan_jobs(request, references, conditions, first_seed)
    with _timed(timings, "denoise"):
        outputs = run_jobs(generator, request, jobs, references, progress)
    with _timed(timings, "checks"):
        vectors = score(components, request.prompt, outputs)
    sampler = _sampler(generator, request.scheduler)
    models = {key: value for key, value in generator.models.items() if key != "controlnet" or request.uses_control}
    if store:
        with _timed(timings, "store"):
            from .store import save_conditions, store_outputs

            save_conditions(components, conditions)
            store_outputs(components, outputs, vectors, request, models, sampler)
    params = {**request.to_params(), "sampler": sampler}
    return GenerationResult(outputs, references, conditions, params, models, first_seed, timings)


def resolve(components: Components, request: GenerationRequest, sources: ReferenceSources) -> list[Reference]:
    references = resolve_references(components, sources)
    request.check_references(len(references))
    return references


def load_generator(components: Components, request: GenerationRequest) -> Generator:
    """The diffusers generator for a request, reused while model/controlnet/LoRA/device stay the same."""
    from .diffusers_generator import DiffusersGenerator
    from .models import resolve_device

    device = components.settings.device
    key = DiffusersGenerator.cache_key(request, resolve_device(device)[0])
    cache = components.generators
    generator, reused = cache.get(key, lambda: DiffusersGenerator.load(request, device, cache.loader))
    if reused:
        generator.use_controlnet(request.controlnet_model)  # type: ignore[attr-defined]
    return generator


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


def score(components: Components, prompt: str, outputs: list[GeneratedImage]) -> Any:
    """CLIP vectors of the outputs (returned, for the index) and their clip_score / ref_similarity."""
    from .checks import clip_scores, embed, ref_similarities

    clip = components.clip
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
