"""Beam search as transformers runs it (its vectorised ``_beam_search``, early_stopping False, the
config's length penalty), with two changes that leave every answer the same:

- a prompt whose search is over leaves the batch: transformers keeps computing every prompt's beams
  until the last prompt of the batch is done (a prompt is over when no running beam can beat its
  finished ones, or every candidate hit a stop; from then on transformers never changes its
  finished beams, so they are read out at that step);
- the prompt pass runs once per prompt (in length groups, like greedy decoding) and its cache is
  repeated for the beams, instead of running each prompt ``num_beams`` times.

The per-step selection calls transformers' own helpers (``_get_top_k_continuations``,
``_get_running_beams_for_next_iteration``, ``_update_finished_beams``, ``_check_early_stop_heuristic``),
so it follows the installed version (each gets the keywords its signature names: 5.17 also takes
``vocab_size``); a transformers without them, or with one that needs a keyword this loop does not have,
or a configuration this loop does not reproduce, falls back to ``generate`` (see :func:`settings`).
Tested token for token against ``model.generate``.
"""

from __future__ import annotations

import functools
import inspect

import torch

# the keywords this loop can give each helper (a version's helper may take fewer)
SUPPLIED = {
    "_get_top_k_continuations": {"accumulated_log_probs", "running_sequences", "running_beam_indices", "cur_len",
                                 "decoder_prompt_len", "do_sample", "beams_to_keep", "num_beams", "vocab_size",
                                 "batch_size"},
    "_get_running_beams_for_next_iteration": {"topk_log_probs", "topk_running_sequences", "topk_running_beam_indices",
                                              "next_token_hits_stopping_criteria", "num_beams"},
    "_update_finished_beams": {"sequences", "topk_running_sequences", "beam_scores", "topk_log_probs", "beam_indices",
                               "topk_running_beam_indices", "is_early_stop_heuristic_unsatisfied", "is_sent_finished",
                               "next_token_hits_stopping_criteria", "top_num_beam_mask", "num_beams", "cur_len",
                               "decoder_prompt_len", "length_penalty", "early_stopping"},
    "_check_early_stop_heuristic": {"is_early_stop_heuristic_unsatisfied", "running_beam_scores", "beam_scores",
                                    "is_sent_finished", "cur_len", "max_length", "decoder_prompt_len", "early_stopping",
                                    "length_penalty"},
}
HELPERS = (*SUPPLIED, "_flatten_beam_dim", "_unflatten_beam_dim", "_gather_beams")


@functools.cache
def _signature(cls, name: str) -> tuple[frozenset, frozenset] | None:
    """(accepted keyword names, None for any; required ones) of a helper, or None when there is none."""
    fn = getattr(cls, name, None)
    if fn is None:
        return None
    ps = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    named = [p for p in ps if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    any_keyword = len(named) < len(ps)  # **kwargs: every keyword is accepted
    return (None if any_keyword else frozenset(p.name for p in named),
            frozenset(p.name for p in named if p.default is inspect.Parameter.empty))


def _helpers_fit(model) -> bool:
    sigs = {h: _signature(type(model), h) for h in HELPERS}
    return all(sigs.values()) and all(sigs[h][1] <= SUPPLIED[h] for h in SUPPLIED)


def _call(model, name: str, **kw):
    """A helper called with the keywords its signature takes."""
    accepted = _signature(type(model), name)[0]
    return getattr(model, name)(**{k: v for k, v in kw.items() if accepted is None or k in accepted})


def settings(asked, model) -> dict | None:
    """The beam settings ``generate`` would use (the asked config over the model's, over transformers'
    defaults), or None when this loop does not reproduce them (sampling, early stopping, logits
    processors such as a repetition penalty) or transformers lacks the helpers: then ``generate`` runs."""
    def value(name, default):
        for cfg in (asked, model.generation_config):
            v = getattr(cfg, name, None)
            if v is not None:
                return v
        return default

    plain = (not value("do_sample", False) and value("early_stopping", False) is False
             and value("num_return_sequences", 1) == 1 and value("repetition_penalty", 1.0) == 1.0
             and not value("no_repeat_ngram_size", 0) and not value("min_new_tokens", 0) and not value("min_length", 0)
             and value("diversity_penalty", 0.0) == 0.0 and not value("bad_words_ids", None)
             and not value("suppress_tokens", None) and not value("begin_suppress_tokens", None)
             and not value("forced_bos_token_id", None) and not value("forced_eos_token_id", None)
             and not value("sequence_bias", None) and not value("renormalize_logits", False))
    if not plain or not _helpers_fit(model):
        return None
    return {"length_penalty": float(value("length_penalty", 1.0))}


def beam_search(backend, ids: torch.Tensor, mask: torch.Tensor, d, length_penalty: float = 1.0) -> list[list[int]]:
    """Each prompt's best beam (generated tokens), as ``model.generate(num_beams=K)`` returns it."""
    m, k = backend.model, d.num_beams
    n_items, prompt_len = ids.shape
    max_length = prompt_len + d.max_new_tokens
    eos = torch.tensor(sorted(backend.eos_ids), device=ids.device)
    fill = backend.tok.pad_token_id if backend.tok.pad_token_id is not None else int(eos[0])
    keep_k = max(2, 1 + len(eos)) * k
    top_mask = torch.cat([torch.ones(k, dtype=torch.bool), torch.zeros(keep_k - k, dtype=torch.bool)]).to(ids.device)

    cache, logits, mask = backend._prefill(ids, mask, d.max_new_tokens)
    cache.batch_repeat_interleave(k)
    mask, logits = mask.repeat_interleave(k, 0), logits.repeat_interleave(k, 0)
    running = torch.full((n_items, k, max_length), fill, dtype=torch.int64, device=ids.device)
    running[:, :, :prompt_len] = ids[:, None, :]
    sequences = running.clone()
    run_scores = torch.zeros((n_items, k), device=ids.device)
    run_scores[:, 1:] = -1e9
    scores = torch.full((n_items, k), -1e9, device=ids.device)
    finished = torch.zeros((n_items, k), dtype=torch.bool, device=ids.device)
    open_ = torch.ones((n_items, 1), dtype=torch.bool, device=ids.device)
    run_idx = torch.full((n_items, k, max_length - prompt_len), -1, dtype=torch.int32, device=ids.device)
    beam_idx = run_idx.clone()
    items = list(range(n_items))  # the prompt of each row of the state tensors
    out: dict[int, list[int]] = {}
    cur = prompt_len
    while True:
        b = len(items)
        logp = torch.nn.functional.log_softmax(logits.float(), dim=-1)
        logp = (m._unflatten_beam_dim(logp, b, k) + run_scores[:, :, None]).reshape(b, -1)
        top_logp, top_seq, top_idx = _call(
            m, "_get_top_k_continuations", accumulated_log_probs=logp, running_sequences=running,
            running_beam_indices=run_idx, cur_len=cur, decoder_prompt_len=prompt_len, do_sample=False,
            beams_to_keep=keep_k, num_beams=k, vocab_size=logits.shape[-1], batch_size=b)
        hits = torch.isin(top_seq[:, :, cur], eos) | (cur + 1 >= max_length)
        running, run_scores, run_idx = _call(
            m, "_get_running_beams_for_next_iteration", topk_log_probs=top_logp, topk_running_sequences=top_seq,
            topk_running_beam_indices=top_idx, next_token_hits_stopping_criteria=hits, num_beams=k)
        sequences, scores, beam_idx, finished = _call(
            m, "_update_finished_beams", sequences=sequences, topk_running_sequences=top_seq, beam_scores=scores,
            topk_log_probs=top_logp, beam_indices=beam_idx, topk_running_beam_indices=top_idx,
            is_early_stop_heuristic_unsatisfied=open_, is_sent_finished=finished, next_token_hits_stopping_criteria=hits,
            top_num_beam_mask=top_mask, num_beams=k, cur_len=cur, decoder_prompt_len=prompt_len, length_penalty=length_penalty, early_stopping=False)
        _reorder(cache, m._flatten_beam_dim(run_idx[..., cur - prompt_len]))
        cur += 1
        open_ = _call(
            m, "_check_early_stop_heuristic", is_early_stop_heuristic_unsatisfied=open_, running_beam_scores=run_scores,
            beam_scores=scores, is_sent_finished=finished, cur_len=cur, max_length=max_length, decoder_prompt_len=prompt_len,
            early_stopping=False, length_penalty=length_penalty)
        over = ~open_[:, 0] | hits.all(-1)
        for r in torch.nonzero(over).flatten().tolist():
            n = int((beam_idx[r, 0] != -1).sum())
            out[items[r]] = sequences[r, 0, prompt_len:prompt_len + n].tolist()
        if bool(over.all()):
            break
        if bool(over.any()):
            keep = torch.nonzero(~over).flatten()
            rows = (keep[:, None] * k + torch.arange(k, device=ids.device)).flatten()
            cache.batch_select_indices(rows)
            running, run_scores, run_idx, sequences, scores, beam_idx, finished, open_ = (
                t[keep] for t in (running, run_scores, run_idx, sequences, scores, beam_idx, finished, open_))
            mask = mask[rows]
            items = [items[i] for i in keep.tolist()]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        step = m(input_ids=m._flatten_beam_dim(running[:, :, cur - 1])[:, None], attention_mask=mask,
                 position_ids=mask.sum(1, keepdim=True) - 1, past_key_values=cache, use_cache=True)
        logits = step.logits[:, -1, :]
    return [out[i] for i in range(n_items)]


def _reorder(cache, idx: torch.Tensor) -> None:
    """``cache.reorder_cache(idx)`` copying only the rows whose beam changed (most keep theirs once a
    search settles): the same cache, without rewriting every row of every layer at every step."""
    moved = torch.nonzero(idx != torch.arange(len(idx), device=idx.device)).flatten()
    layers = getattr(cache, "layers", None)
    if layers is None or not all(hasattr(x, "keys") and hasattr(x, "values") for x in layers):
        cache.reorder_cache(idx)
        return
    if len(moved) == 0:
        return
    src = idx[moved]
    for layer in layers:
        if getattr(layer, "keys", None) is None or layer.keys.numel() == 0:
            continue
        layer.keys.index_copy_(0, moved, layer.keys.index_select(0, src))
        layer.values.index_copy_(0, moved, layer.values.index_select(0, src))
