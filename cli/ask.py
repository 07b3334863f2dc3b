"""``mmrag ask``: answer a question from the library's documents, with numbered citations."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import remote
from .common import (
    ClipModelOption,
    ClipPretrainedOption,
    DeviceOption,
    JsonOption,
    LibraryOption,
    app,
    console,
    model_settings,
    opened_library,
    out,
    print_json,
    reported,
)
from .remote import ServerOption

if TYPE_CHECKING:
    from ..retrieval.answer import Answer

SNIPPET_CHARS = 240


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int | None, typer.Option("--k", "-k", help="Passages to retrieve (default: rag.top_k).")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="Retrieval: dense | bm25 | hybrid.")] = None,
    llm: Annotated[str | None, typer.Option("--llm", help="extractive | openai-like | llama-cpp.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server, e.g. "
                                                 "http://127.0.0.1:8000/v1.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name on that server.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="MMRAG_RAG__API_KEY",
                                                help="API key for the server (if it needs one).")] = None,
    model_path: Annotated[str | None, typer.Option("--model-path", help="GGUF file for --llm llama-cpp.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Longest answer, in tokens.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only passages of this asset kind (document).")] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="Only documents under this folder glob.")] = None,
    path: Annotated[str | None, typer.Option("--path", help="Only documents whose path matches this glob.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this tag (repeatable).")] = None,
    library: LibraryOption = None,
    json: JsonOption = False,
    server: ServerOption = None,
    clip_model: ClipModelOption = None,
    clip_pretrained: ClipPretrainedOption = None,
    device: DeviceOption = None,
) -> None:
    """Answer QUESTION from the library's documents: the answer, its numbered sources, related images."""
    filters = {key: value for key, value in
               {"kind": kind, "folder": folder, "path": path, "tags": tag or None}.items() if value is not None}
    if server:
        with reported():
            if any(v is not None for v in (llm, base_url, model, model_path, max_tokens)):
                raise ValueError("--llm, --base-url, --model, --model-path and --max-tokens are the server's "
                                 "settings (rag.*); leave them out with --server")
            answer = remote.ask(server, question, k, mode, filters)
    else:
        with opened_library(library, **model_settings(clip_model, clip_pretrained, device)) as lib:
            answer = lib.ask(question, k=k, mode=mode, llm=llm, filters=filters or None, base_url=base_url,
                             model=model, api_key=api_key, model_path=model_path, max_tokens=max_tokens)
    if json:
        print_json(answer.to_dict())
    else:
        print_answer(answer)


def print_answer(answer: "Answer") -> None:
    from ..retrieval.answer import NO_DOCUMENTS

    out.print(answer.text, markup=False, highlight=False)
    if not answer.answered and not answer.text.startswith(NO_DOCUMENTS):
        console.print("(no passage in the library is close enough to the question)")
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for citation in answer.citations:
            out.print(f"[{citation.number}] {citation.label}", markup=False, highlight=False)
            out.print(f"    {_snippet(citation.text)}", markup=False, highlight=False, style="dim")
            out.print(f"    {citation.path}", markup=False, highlight=False)
    if answer.images:
        out.print("\n[bold]Related images[/]")
        for image in answer.images:
            out.print(f"  {image.path}  ({_image_note(image.extra)})", markup=False, highlight=False)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def _image_note(extra: dict[str, Any]) -> str:
    if extra.get("via") == "citation":
        return f"in source [{extra.get('citation')}]"
    return "similar to the question"
