"""llama-index adapters over a library: a retriever of passages and a query engine with numbered citations.

    retriever = lib.as_retriever(k=5)                    # NodeWithScore(TextNode + path/page/section/ids)
    engine = lib.as_query_engine()                       # extractive answers, no LLM
    engine = lib.as_query_engine(llm=OpenAILike(...))    # any llama-index LLM, passed explicitly
    engine = lib.as_query_engine(llm="openai-like")      # or an mmrag answerer by name (settings.rag)

Nothing here reads or writes llama-index's global ``Settings``. This module imports llama-index at load
time (its classes subclass llama-index's); ``Library`` imports it only when an adapter is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.response_synthesizers.base import BaseSynthesizer

from .answer import Answer
from .answerers.base import Answerer
from .answerers.registry import AnswererOptions, make_answerer
from .filters import Filters
from .hits import Hit
from .text_search import search_passages

if TYPE_CHECKING:
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.base.response.schema import Response
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import NodeWithScore, QueryBundle

    from ..components import Components


def hit_to_node(hit: Hit) -> NodeWithScore:
    from llama_index.core.schema import NodeWithScore, TextNode

    metadata = {"path": hit.path, "page": hit.page, "section": hit.section, "asset_id": hit.id,
                "chunk_id": hit.chunk_id}
    node = TextNode(
        id_=f"mmrag-chunk-{hit.chunk_id}",
        text=hit.text or "",
        metadata={key: value for key, value in metadata.items() if value is not None},
        excluded_embed_metadata_keys=["asset_id", "chunk_id"],
        excluded_llm_metadata_keys=["asset_id", "chunk_id"],
    )
    return NodeWithScore(node=node, score=hit.score)


def node_to_hit(node: NodeWithScore) -> Hit:
    meta = node.node.metadata
    return Hit(id=int(meta.get("asset_id", -1)), path=str(meta.get("path", "")), score=float(node.score or 0.0),
               kind="document", chunk_id=meta.get("chunk_id"), text=node.node.get_content(),
               page=meta.get("page"), section=meta.get("section"))


class MmragRetriever(BaseRetriever):
    """Passages of an mmrag library as llama-index nodes (hybrid/dense/BM25, with mmrag filters)."""

    def __init__(self, components: Components, k: int | None = None, mode: str | None = None,
                 filters: Filters | dict[str, Any] | None = None) -> None:
        from llama_index.core.callbacks import CallbackManager

        super().__init__(callback_manager=CallbackManager([]))
        self.components = components
        self.k = k or components.settings.rag.top_k
        self.mode = mode
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = search_passages(self.components, query_bundle.query_str, self.k, mode=self.mode, filters=self.filters)
        return [hit_to_node(hit) for hit in hits]


class AnswererSynthesizer(BaseSynthesizer):
    """A response synthesizer that hands the retrieved nodes to an mmrag Answerer (numbered citations)."""

    def __init__(self, answerer: Answerer, llm: Any = None) -> None:
        from llama_index.core.callbacks import CallbackManager

        # BaseSynthesizer.__init__ would fall back to the global Settings.llm: set its fields ourselves.
        self._answerer = answerer
        self._llm = llm
        self._callback_manager = CallbackManager([])
        self._streaming = False
        self._output_cls = None
        self._empty_response = "No passages found."
        self._multimodal = False

    def _get_prompts(self) -> dict[str, Any]:
        return {}

    def _update_prompts(self, prompts: dict[str, Any]) -> None:
        return None

    def answer_nodes(self, query: str, nodes: list[NodeWithScore]) -> tuple[Answer, list[NodeWithScore]]:
        answer = self._answerer.answer(query, [node_to_hit(n) for n in nodes])
        used = [nodes[c.number - 1] for c in answer.citations]
        return answer, used

    def synthesize(self, query: Any, nodes: list[NodeWithScore], additional_source_nodes: Any = None,
                   **kwargs: Any) -> Response:
        from llama_index.core.base.response.schema import Response

        query_str = query if isinstance(query, str) else query.query_str
        answer, used = self.answer_nodes(query_str, list(nodes))
        sources = used or (list(nodes) if answer.answered else [])
        return Response(response=answer.text, source_nodes=sources, metadata={"answer": answer.to_dict()})

    async def asynthesize(self, query: Any, nodes: list[NodeWithScore], additional_source_nodes: Any = None,
                          **kwargs: Any) -> Response:
        return self.synthesize(query, nodes, additional_source_nodes, **kwargs)

    def get_response(self, query_str: str, text_chunks: Any, **kwargs: Any) -> str:
        from llama_index.core.schema import NodeWithScore, TextNode

        nodes = [NodeWithScore(node=TextNode(text=str(chunk)), score=0.0) for chunk in text_chunks]
        return self.answer_nodes(query_str, nodes)[0].text

    async def aget_response(self, query_str: str, text_chunks: Any, **kwargs: Any) -> str:
        return self.get_response(query_str, text_chunks, **kwargs)


def as_query_engine(components: Components, llm: str | BaseLLM | None = None, *, k: int | None = None,
                    mode: str | None = None, filters: Filters | dict[str, Any] | None = None,
                    llm_options: AnswererOptions | None = None) -> RetrieverQueryEngine:
    """A RetrieverQueryEngine over the library. ``llm``: None (extractive), an answerer name, or any
    llama-index LLM object (used as given: prompts number the sources and ask for [n] citations)."""
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.query_engine import RetrieverQueryEngine

    from .answerers.llm import LlamaIndexAnswerer

    if llm is None or isinstance(llm, str):
        answerer = make_answerer(llm or "extractive", components.settings.rag,
                                 embedder=lambda: components.text_embedder, overrides=llm_options,
                                 kept=components.answer_model)
        llm_object = None
    else:
        answerer = LlamaIndexAnswerer(llm, name=type(llm).__name__)
        llm_object = llm
    retriever = MmragRetriever(components, k=k, mode=mode, filters=filters)
    return RetrieverQueryEngine(retriever, response_synthesizer=AnswererSynthesizer(answerer, llm_object),
                                callback_manager=CallbackManager([]))
