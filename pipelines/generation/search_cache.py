"""The search tree's key/value cache (used by :mod:`pipelines.generation.mcts`): a shared trunk
plus one cached token per tree node.

A search over continuations of B prompts keeps, per causal model (the generator, and a causal
discriminator when one is used):

* the **trunk**: the cache of each tree's prompt and the tokens already emitted, in one
  preallocated, padded buffer with its attention mask, one column written per emitted token;
* for every tree node, its own token's keys and values (``[layers, 2, heads, 1, head_dim]``),
  computed once when the node is first evaluated.

Evaluating a new leaf then costs one single-token forward: its past is the trunk plus the
cached tokens of the nodes on its path, concatenated, with padding masked out and explicit
position ids, so rows of different depths share one batched forward. This assumes full
attention layers whose cache keeps every position (GPT-2, Llama, Qwen ... ``DynamicLayer``).
"""

from __future__ import annotations

from typing import Any, Sequence

from datafactory.lm import require_torch


class Trunk:
    """Each row's fixed prefix (prompt and emitted tokens) as keys/values in one preallocated
    buffer ``[B, layers, 2, heads, capacity, head_dim]``, with the mask of its real positions.

    The columns past the prefix are scratch space: a leaf's path is written there, so the past
    of a simulation is a view of the buffer, not a fresh concatenation of the whole prefix."""

    def __init__(self, buffer: Any, mask: Any):
        self.buffer = buffer
        self.mask = mask

    @classmethod
    def from_cache(cls, cache: Any, mask: Any, extra: int) -> "Trunk":
        """The prompt's cache, with room for ``extra`` more positions (emitted + path)."""
        torch = require_torch()
        stacked = torch.stack([torch.stack([layer.keys, layer.values], dim=1) for layer in cache.layers], dim=1)
        buffer = stacked.new_zeros((*stacked.shape[:4], stacked.shape[4] + extra, stacked.shape[5]))
        buffer[:, :, :, :, :stacked.shape[4]] = stacked
        return cls(buffer, mask)

    @classmethod
    def empty(cls, column: Any, extra: int) -> "Trunk":
        """No prefix yet (a discriminator reading the body only); ``column`` gives the shape."""
        torch = require_torch()
        buffer = column.new_zeros((*column.shape[:4], extra, column.shape[5]))
        return cls(buffer, torch.zeros((column.shape[0], 0), dtype=torch.long, device=column.device))

    @property
    def length(self) -> int:
        return int(self.mask.shape[1])

    def append(self, column: Any, live: Any) -> None:
        """Add one position: ``column`` is ``[B, layers, 2, heads, 1, head_dim]`` (zeros for
        finished rows, whose ``live`` flag is False and whose new position is masked)."""
        torch = require_torch()
        length = self.length
        self._reserve(length + 1)
        self.buffer[:, :, :, :, length:length + 1] = column
        self.mask = torch.cat([self.mask, live.to(self.mask.dtype)[:, None]], dim=1)

    def _reserve(self, size: int) -> None:
        if size > self.buffer.shape[4]:
            grown = self.buffer.new_zeros((*self.buffer.shape[:4], max(size, 2 * self.buffer.shape[4]),
                                           self.buffer.shape[5]))
            grown[:, :, :, :, :self.buffer.shape[4]] = self.buffer
            self.buffer = grown

    def past(self, rows: Any, paths: Sequence[Sequence[Any]]) -> tuple[list[tuple[Any, Any]], Any]:
        """Per-layer keys/values and mask of trunk row ``rows[i]`` followed by ``paths[i]``."""
        torch = require_torch()
        n, length = len(paths), self.length
        depth = max((len(p) for p in paths), default=0)
        self._reserve(length + depth)
        all_rows = n == self.buffer.shape[0]
        mask = self.mask if all_rows else self.mask.index_select(0, rows)
        path_mask = torch.zeros((n, depth), dtype=mask.dtype, device=mask.device)
        if depth:
            scratch = self.buffer[:, :, :, :, length:length + depth]
            scratch.zero_()
            for i, (row, path) in enumerate(zip(rows.tolist(), paths)):
                if path:
                    scratch[row, :, :, :, :len(path)] = torch.cat(list(path), dim=3)
                    path_mask[i, :len(path)] = 1
        view = self.buffer[:, :, :, :, :length + depth]
        if not all_rows:
            view = view.index_select(0, rows)
        layers = [(view[:, l, 0], view[:, l, 1]) for l in range(view.shape[1])]
        return layers, torch.cat([mask, path_mask], dim=1)


def stack_node_kv(cache: Any) -> Any:
    """The last position of every layer of a model's output cache, as ``[rows, layers, 2,
    heads, 1, head_dim]`` (a copy, so the big cache can be freed)."""
    torch = require_torch()
    per_layer = [torch.stack([layer.keys[:, :, -1:], layer.values[:, :, -1:]]) for layer in cache.layers]
    return torch.stack(per_layer).permute(2, 0, 1, 3, 4, 5).contiguous()


def forward_leaves(model: Any, trunk: Trunk | None, rows: Any, paths: Sequence[Sequence[Any]],
                   tokens: Any) -> tuple[Any, Any, Any, Any]:
    """One batched single-token forward for ``tokens[i]`` after ``trunk`` row ``rows[i]``
    followed by the cached tokens ``paths[i]`` (each a node kv ``[layers, 2, heads, 1, hd]``).

    Returns the model output, the attention mask and position ids of the new token (to carry
    on, e.g. in a rollout) and the full cache.
    """
    torch = require_torch()
    if trunk is None:  # nothing before the paths yet (a discriminator reading the body only)
        template = next((p[0] for p in paths if p), None)
        if template is None:
            trunk = Trunk(None, torch.zeros((len(paths), 0), dtype=torch.long, device=tokens.device))
        else:
            trunk = Trunk.empty(template[None].expand(len(paths), *template.shape), 0)
        rows = torch.arange(len(paths), device=tokens.device)
    layers, mask = trunk.past(rows, paths) if trunk.buffer is not None else (None, trunk.mask)
    mask = torch.cat([mask, torch.ones((len(paths), 1), dtype=mask.dtype, device=mask.device)], dim=1)
    # Padding sits between real positions: position ids count real tokens only.
    positions = mask[:, :-1].sum(dim=1, keepdim=True)
    cache = cache_of(layers)
    out = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=positions,
                past_key_values=cache, use_cache=True)
    return out, mask, positions, out.past_key_values


def cache_of(layers: list[tuple[Any, Any]] | None) -> Any:
    """A ``DynamicCache`` holding these key/value tensors as they are: building it through
    ``DynamicCache(ddp_cache_data=...)`` would copy every one of them once more."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache()
    for keys, values in layers or ():
        layer = DynamicLayer()
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        cache.layers.append(layer)
    return cache
