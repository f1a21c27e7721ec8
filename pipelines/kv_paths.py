"""Key/value caches for tree search: a shared trunk plus one cached token per tree node.

A search over continuations of B prompts keeps, per causal model (the generator, and a causal
discriminator when one is used):

* the **trunk**: the cache of each tree's prompt and the tokens already emitted, one padded
  ``[B, heads, L, head_dim]`` tensor per layer with its attention mask, grown by one column
  per emitted token;
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
    """Per-layer key/value tensors of each row's fixed prefix, with the mask of real positions."""

    def __init__(self, layers: list[tuple[Any, Any]], mask: Any):
        self.layers = layers
        self.mask = mask

    @classmethod
    def from_cache(cls, cache: Any, mask: Any) -> "Trunk":
        return cls([(layer.keys, layer.values) for layer in cache.layers], mask)

    @property
    def length(self) -> int:
        return int(self.mask.shape[1])

    def real_lengths(self) -> Any:
        return self.mask.sum(dim=1)

    def append(self, node_kv: Any, live: Any) -> None:
        """Add one column: ``node_kv`` is ``[B, layers, 2, heads, 1, head_dim]`` (zeros for rows
        that are finished, whose ``live`` flag is False and whose new column is masked)."""
        torch = require_torch()
        self.layers = [(torch.cat([k, node_kv[:, i, 0]], dim=2), torch.cat([v, node_kv[:, i, 1]], dim=2))
                       for i, (k, v) in enumerate(self.layers)]
        self.mask = torch.cat([self.mask, live.to(self.mask.dtype)[:, None]], dim=1)


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
    from transformers import DynamicCache

    n = len(paths)
    depth = max((len(p) for p in paths), default=0)
    device = tokens.device
    past_layers: list[tuple[Any, Any]] | None = None
    if trunk is not None:
        trunk_mask = trunk.mask.index_select(0, rows) if n != trunk.mask.shape[0] else trunk.mask
        trunk_layers = ([(k.index_select(0, rows), v.index_select(0, rows)) for k, v in trunk.layers]
                        if n != trunk.mask.shape[0] else trunk.layers)
    else:
        trunk_mask, trunk_layers = torch.zeros((n, 0), dtype=torch.long, device=device), None
    path_mask = torch.zeros((n, depth), dtype=trunk_mask.dtype, device=device)
    if depth:
        template = next(p[0] for p in paths if p)
        buffer = template.new_zeros((n, *template.shape[:3], depth, template.shape[-1]))
        for i, path in enumerate(paths):
            if path:
                buffer[i, :, :, :, :len(path)] = torch.cat(list(path), dim=3)
                path_mask[i, :len(path)] = 1
        if trunk_layers is None:
            past_layers = [(buffer[:, l, 0], buffer[:, l, 1]) for l in range(buffer.shape[1])]
        else:
            past_layers = [(torch.cat([k, buffer[:, l, 0]], dim=2), torch.cat([v, buffer[:, l, 1]], dim=2))
                           for l, (k, v) in enumerate(trunk_layers)]
    elif trunk_layers is not None and trunk_mask.shape[1] > 0:
        past_layers = list(trunk_layers)
    mask = torch.cat([trunk_mask, path_mask, torch.ones((n, 1), dtype=trunk_mask.dtype, device=device)], dim=1)
    # Padding sits between real positions: position ids count real tokens only.
    positions = mask[:, :-1].sum(dim=1, keepdim=True)
    cache = DynamicCache(ddp_cache_data=past_layers) if past_layers is not None else DynamicCache()
    out = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=positions,
                past_key_values=cache, use_cache=True)
    return out, mask, positions, out.past_key_values
