"""The transformers backend: left-padded, length-sorted batches; the adapter merged for speed."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..formats import PromptFormat
from ..models import decode_attention
from ..models.attention import attention_kernels
from ..models.cpu_matmul import onednn_linears
from . import beam
from .kvcache import new_cache, reserve
from .presets import Decoding


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # eos | length
    prompt_tokens: int
    output_tokens: int


class HFBackend:
    name = "hf"

    own_beam_search = True  # safemix's beam loop (same answers as generate, finished prompts leave the batch)
    prefill_waste = 0.15  # the prompt pass runs in length groups padded at most this much (0: one pass)
    shared_prefix_min = 8  # a prefix of at least this many tokens that all prompts share runs once (0: never)
    cudnn_attention = False  # a GPU's attention stays off cuDNN's kernels (models/attention.py)
    cpu_onednn = True  # fp32 linear layers on the CPU run through oneDNN, not MKL (models/cpu_matmul.py)
    cpu_packed_weights = True  # ... reading weights packed once per call into oneDNN's layout (a copy in memory)
    # greedy/sampling: finished rows leave the KV cache once more than this share of its rows has finished (each
    # removal copies the cache; 0: at every step), and the cache grows in place rather than by a copy per step
    finished_rows_kept = 0.1
    growing_cache = True
    # on the CPU a decoding step's attention runs as two batched products over a cache that keeps its keys
    # transposed (models/decode_attention.py), not as PyTorch's per-row attention kernel
    cpu_decode_attention = True

    def __init__(self, model, tokenizer, fmt: PromptFormat):
        self.model, self.tok, self.fmt = model.eval(), tokenizer, fmt
        self.tok.padding_side = "left"
        eos = model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None else tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(x) for x in self.tok(texts, add_special_tokens=self.fmt.adds_special_tokens)["input_ids"]]

    def _config(self, d: Decoding):
        from transformers import GenerationConfig

        kw = dict(max_new_tokens=d.max_new_tokens, num_beams=d.num_beams, do_sample=d.do_sample,
                  eos_token_id=sorted(self.eos_ids), pad_token_id=self.tok.pad_token_id)
        if d.do_sample:
            kw.update(temperature=d.temperature, top_p=d.top_p, top_k=d.top_k or 0)
        return GenerationConfig(**kw)

    def generate(self, prompts: list[str], d: Decoding) -> list[Completion]:
        with torch.inference_mode(), attention_kernels(self.model.device.type, self.cudnn_attention), \
                onednn_linears(self.model, self.cpu_onednn, self.cpu_packed_weights), \
                decode_attention.decoding_attention(self.model, self.cpu_decode_attention):
            return self._generate(prompts, d)

    def _generate(self, prompts: list[str], d: Decoding) -> list[Completion]:
        enc = self.tok(prompts, add_special_tokens=self.fmt.adds_special_tokens, padding=True, return_tensors="pt")
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        config = self._config(d) if d.num_beams > 1 else None
        settings = beam.settings(config, self.model) if config else None
        if settings and self.own_beam_search:
            rows = beam.beam_search(self, enc["input_ids"], enc["attention_mask"], d, settings["length_penalty"])
        elif config:
            out = self.model.generate(**enc, generation_config=config)
            rows = out[:, enc["input_ids"].shape[1]:].tolist()
        else:
            rows = self._decode(enc["input_ids"], enc["attention_mask"], d)
        results = []
        for row, n_prompt in zip(rows, enc["attention_mask"].sum(1).tolist()):
            stop = next((i for i, t in enumerate(row) if t in self.eos_ids), None)
            toks = row if stop is None else row[:stop]
            results.append(Completion(self.tok.decode(toks, skip_special_tokens=True).strip(),
                                      "length" if stop is None else "eos", int(n_prompt), len(toks)))
        return results

    def _decode(self, ids: torch.Tensor, mask: torch.Tensor, d: Decoding) -> list[list[int]]:
        """Greedy or sampled decoding with a KV cache that drops finished rows (greedy: once more than
        ``finished_rows_kept`` of them have finished, as each removal copies the cache), so a batch costs
        about what its unfinished answers need (transformers' generate keeps computing finished rows)."""
        gen = torch.Generator(device=ids.device).manual_seed(d.seed) if d.do_sample and d.seed is not None else None
        cache, logits, mask = self._prefill(ids, mask, room=d.max_new_tokens if self.growing_cache else None)
        alive = list(range(ids.shape[0]))  # the prompt of each cache row
        rows: list[list[int]] = [[] for _ in alive]
        done = [False] * len(alive)
        # sampling drops rows at once: a finished row left in would draw from the generator, and change the others' draws
        kept = 0.0 if d.do_sample else self.finished_rows_kept
        for step in range(d.max_new_tokens):
            nxt = self._pick(logits, d, gen)
            for j, (r, t) in enumerate(zip(alive, nxt.tolist())):  # one device sync per step, not one per row
                if not done[j]:
                    rows[r].append(t)
                    done[j] = t in self.eos_ids
            if step == d.max_new_tokens - 1 or all(done):
                break
            if sum(done) > kept * len(alive):
                keep = torch.tensor([j for j, x in enumerate(done) if not x], device=ids.device)
                cache.batch_select_indices(keep)
                mask, nxt = mask[keep], nxt[keep]
                alive = [alive[j] for j in keep.tolist()]
                done = [False] * len(alive)
            mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
            out = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=mask.sum(1, keepdim=True) - 1,
                             past_key_values=cache, use_cache=True)
            logits = out.logits[:, -1, :].float()
        return rows

    def _prefill(self, ids: torch.Tensor, mask: torch.Tensor, room: int | None = None):
        """The prompt pass: (cache, last-position logits, the cache's attention mask).

        Two savings, each the computation of one left-padded pass up to float rounding (same answers on
        the tested prompts; 1 of the quickstart's 1,377 answers differs, a near-tie):
        - the tokens every prompt starts with (a prompt template's preamble: 24 of the benchmark's
          45 tokens per prompt with the Alpaca template) run once, and their keys and values are
          shared by every row; the cache is then laid out [shared prefix][padding][rest of the
          prompt], the padding masked, so positions still count only real tokens;
        - the rest runs in groups of similar length: left padding to the batch's longest prompt costs
          compute in proportion (28% of the prompt tokens of the benchmark's 48 prompts); each group
          runs with only its own padding.
        The laid-out keys and values are written straight into the growing cache's buffers (each layer's keys
        once, already transposed), not assembled apart and then copied in.
        ``room``: the cache grows in place with room for that many tokens (beam search, whose reorder
        then copies only the rows that changed, and greedy/sampling at ``growing_cache``: at 240 rows
        transformers' cache, which copies itself at every step, cost ~50 ms more of a ~420 ms step)."""
        from transformers import DynamicCache

        keys_transposed = decode_attention.in_use(self.model)  # the decoding attention reads keys transposed
        lengths = mask.sum(1).tolist()
        p = shared_prefix(ids, lengths) if len(lengths) > 1 and self.shared_prefix_min else 0
        p = p if p >= self.shared_prefix_min else 0
        rest = [n - p for n in lengths]
        groups = length_groups(rest, self.prefill_waste)
        if p == 0 and len(groups) == 1:
            cache = new_cache(room, keys_transposed) if room else DynamicCache()
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                             past_key_values=cache, use_cache=True, logits_to_keep=last_position(ids))
            return cache, out.logits[:, -1, :].float(), mask
        width, dev = ids.shape[1], ids.device
        prefix: list[tuple[torch.Tensor, torch.Tensor]] = []
        if p:
            start = width - lengths[0]
            part, head = DynamicCache(), ids[:1, start:start + p]
            self.model(input_ids=head, position_ids=torch.arange(p, device=dev)[None], past_key_values=part,
                       use_cache=True, logits_to_keep=last_position(head))
            prefix = [(k, v) for k, v, *_ in part]
        cache = new_cache(room, keys_transposed) if room else DynamicCache()
        logits, layers = None, []
        for g in groups:
            n = max(rest[i] for i in g)
            idx = torch.tensor(g, device=dev)
            sub_ids = ids[idx, width - n:]
            sub_mask = right_aligned([rest[i] for i in g], n, mask)
            part = DynamicCache()
            for j, (k, v) in enumerate(prefix):
                part.update(k.expand(len(g), -1, -1, -1), v.expand(len(g), -1, -1, -1), j)
            out = self.model(input_ids=sub_ids, attention_mask=torch.cat([sub_mask.new_ones((len(g), p)), sub_mask], 1),
                             position_ids=p + (sub_mask.cumsum(-1) - 1).clamp(min=0), past_key_values=part,
                             use_cache=True, logits_to_keep=last_position(sub_ids))
            last = out.logits[:, -1, :].float()
            if logits is None:
                logits = last.new_empty((ids.shape[0], last.shape[-1]))
            logits[idx] = last
            for j, (k, v, *_) in enumerate(part):
                if j == len(layers):  # zeroed: a row's padding is masked, but must not be NaN
                    shapes = (ids.shape[0], k.shape[1], width, k.shape[3]), (ids.shape[0], v.shape[1], width, v.shape[3])
                    layers.append(reserve(cache, *shapes, k) or (k.new_zeros(shapes[0]), v.new_zeros(shapes[1])))
                layers[j][0][idx, :, width - n:] = k[:, :, p:]
                layers[j][1][idx, :, width - n:] = v[:, :, p:]
        for j, (k, v) in enumerate(prefix):
            layers[j][0][:, :, :p] = k
            layers[j][1][:, :, :p] = v
        if not cache.layers:  # a cache that does not grow in place takes the laid-out keys and values as they are
            for j, (k, v) in enumerate(layers):
                cache.update(k, v, j)
        return cache, logits, torch.cat([mask.new_ones((len(rest), p)), right_aligned(rest, width - p, mask)], 1)

    @staticmethod
    def _pick(logits: torch.Tensor, d: Decoding, gen) -> torch.Tensor:
        if not d.do_sample:
            return logits.argmax(-1)
        logits = logits / max(d.temperature or 1.0, 1e-5)
        if d.top_k:
            kth = torch.topk(logits, min(d.top_k, logits.shape[-1])).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if d.top_p and d.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=True)
            cum = sorted_logits.softmax(-1).cumsum(-1)
            drop = cum - sorted_logits.softmax(-1) > d.top_p
            logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
        return torch.multinomial(logits.softmax(-1), 1, generator=gen).flatten()


def last_position(ids: torch.Tensor) -> torch.Tensor:
    """``logits_to_keep`` for the last position only, as an index tensor: transformers then gathers the
    last hidden state into a contiguous batch. With ``logits_to_keep=1`` it slices it instead, and in
    bf16 torch multiplies that strided slice by copying the vocabulary projection once per prompt
    (measured: 1.2 s and 1.7 GB for 31 prompts; fp32 is not affected)."""
    return torch.tensor([ids.shape[1] - 1], device=ids.device)


def right_aligned(lengths: list[int], width: int, like: torch.Tensor) -> torch.Tensor:
    """An attention mask (``like``'s dtype and device) of ``width`` columns: row i's last ``lengths[i]`` are 1."""
    n = torch.tensor(lengths, device=like.device)[:, None]
    return (torch.arange(width, device=like.device)[None] >= width - n).to(like.dtype)


def shared_prefix(ids: torch.Tensor, lengths: list[int]) -> int:
    """How many tokens every row of a left-padded batch starts with, leaving each row at least one of its own
    (the prompt pass needs each row's last position)."""
    width = ids.shape[1]
    n = min(lengths) - 1
    first = ids[0, width - lengths[0]:width - lengths[0] + n]
    for row, length in zip(ids, lengths):
        same = (row[width - length:width - length + n] == first[:n]).long()
        n = int(same.cumprod(0).sum()) if n else 0
    return n


def length_groups(lengths: list[int], waste: float) -> list[list[int]]:
    """Row indices grouped by length, longest first, so that padding each group to its own longest
    row wastes at most ``waste`` of the group's compute; one group when that saves little."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[i] >= (1 - waste) * lengths[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    padded = max(lengths) * len(lengths)
    grouped = sum(lengths[g[0]] * len(g) for g in groups)
    return groups if waste > 0 and grouped < 0.9 * padded else [list(range(len(lengths)))]
