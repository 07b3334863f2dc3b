"""Export a sentence-transformers text model to ONNX once per library, checked against torch before use.

Exported: models made of a ``Transformer`` module (a transformers encoder taking ids and an attention mask,
BERT-like), a ``Pooling`` module (mean or CLS) and an optional ``Normalize``. The graph is the Transformer's
forward (ids → token embeddings, dynamic batch and length); pooling and normalisation happen in the reader
(:mod:`mmrag.models.onnx_sentence`). Other layouts keep the torch path. Needs the ``onnx`` package at export time.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .onnx_common import OPSET, build_export, quiet_tracer, save_optimized
from .onnx_sentence import (
    FORMAT,
    MODEL_FILE,
    POOLINGS,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    OnnxSentenceEncoder,
    SentenceExportMeta,
    sentence_export_folder,
)

LAYOUTS = (("Transformer", "Pooling"), ("Transformer", "Pooling", "Normalize"))
GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
CHECK_TEXTS = (
    "a", "How do I install a package?", "  What is the difference between a list and a vector in R?  ",
    "Warum gibt es keine Ergebnisse? café crème brûlée 東京タワー", "UPPER lower MiXeD 12345 3.14 & <b>",
    " ".join(["word"] * 400),  # longer than max_seq_length: truncated
)


class _TokenEmbeddings(nn.Module):
    """The Transformer module's encoder as a graph: its inputs → last hidden state."""

    def __init__(self, encoder: nn.Module, inputs: tuple[str, ...]) -> None:
        super().__init__()
        self.encoder = encoder
        self.inputs = inputs

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.encoder(**dict(zip(self.inputs, tensors, strict=True))).last_hidden_state


def why_not_exportable(model: Any) -> str | None:
    """None when ``model`` (a SentenceTransformer) has a layout the ONNX reader reproduces, else the reason."""
    names = tuple(type(module).__name__ for module in model)
    if names not in LAYOUTS:
        return f"modules {list(names)} (exported: Transformer + Pooling [+ Normalize])"
    transformer, pooling = model[0], model[1]
    mode = getattr(pooling, "pooling_mode", None)
    if mode not in POOLINGS:
        return f"pooling {mode!r} (exported: {', '.join(POOLINGS)})"
    if not getattr(pooling, "include_prompt", True) and any(getattr(model, "prompts", {}).values()):
        return "the pooling leaves the prompt out"
    if getattr(transformer, "do_lower_case", False) or getattr(transformer, "query_length", None) \
            or getattr(transformer, "document_length", None) or getattr(transformer, "query_expansion", None):
        return "the Transformer module changes its text or lengths itself (do_lower_case, query/document length)"
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return "no fast (tokenizers) tokenizer"
    if not {"input_ids", "attention_mask"} <= set(tokenizer.model_input_names):
        return f"tokenizer inputs {tokenizer.model_input_names}"
    return None


def export_sentence_model(model: Any, library: Path, fingerprint: str) -> SentenceExportMeta:
    """Export, check against ``model.encode`` (cos >= MIN_COSINE) and move into place atomically."""
    reason = why_not_exportable(model)
    if reason is not None:
        raise ValueError(f"text model {fingerprint!r} cannot be exported to ONNX: {reason}")

    def build(work: Path) -> SentenceExportMeta:
        meta = _write(model, work, fingerprint)
        return replace(meta, min_cosine=_check(model, work, meta))

    return build_export(sentence_export_folder(library, fingerprint), build)


def _write(model: Any, work: Path, fingerprint: str) -> SentenceExportMeta:
    tokenizer = model.tokenizer
    inputs = tuple(name for name in GRAPH_INPUTS if name in tokenizer.model_input_names)
    sample = tokenizer(["a short question", "two"], padding=True, return_tensors="pt")
    encoder = copy.deepcopy(model[0].auto_model).float().cpu().eval()
    axes = {name: {0: "batch", 1: "length"} for name in (*inputs, "token_embeddings")}
    with torch.inference_mode(False), torch.no_grad(), quiet_tracer():
        torch.onnx.export(_TokenEmbeddings(encoder, inputs), tuple(sample[name] for name in inputs),
                          str(work / MODEL_FILE), dynamo=False, opset_version=OPSET, input_names=list(inputs),
                          output_names=["token_embeddings"], dynamic_axes=axes)
    save_optimized(work / MODEL_FILE, WEIGHTS_FILE)
    from tokenizers import Tokenizer

    own = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # the model's tokenizer.json, as loaded
    own.no_padding()
    own.no_truncation()
    own.save(str(work / TOKENIZER_FILE))
    prompts = getattr(model, "prompts", None) or {}
    return SentenceExportMeta(
        format=FORMAT, fingerprint=fingerprint, dim=int(model.get_embedding_dimension()),
        max_seq_length=int(model.max_seq_length), pooling=str(model[1].pooling_mode), inputs=inputs,
        query_prompt=prompts.get("query") or "",
        document_prompt=prompts.get("document") or prompts.get("passage") or "", min_cosine=0.0)


def _check(model: Any, folder: Path, meta: SentenceExportMeta) -> float:
    """Worst cosine between the export and ``model.encode``: questions and passages, one text and a batch."""
    encoder = OnnxSentenceEncoder(folder, meta, threads=1)
    texts = list(CHECK_TEXTS)
    worst = 1.0
    for is_query, prompt in ((True, meta.query_prompt), (False, meta.document_prompt)):
        reference = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
                                 prompt=prompt or None, batch_size=len(texts))
        batch = encoder.embed_texts(texts, is_query=is_query)
        single = np.vstack([encoder.embed_texts([text], is_query=is_query) for text in texts])
        worst = min(worst, float((batch * reference).sum(1).min()), float((single * reference).sum(1).min()))
    return worst
