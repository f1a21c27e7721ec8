"""PPL-MCTS: discriminator-guided Monte Carlo Tree Search decoding (Chaffin et al., NAACL 2022).

The text should follow p(x | c) ∝ p(x) · p(c | x): fluent under the language model and judged
to be of class ``c`` by a discriminator. For every emitted token, ``simulations`` times:

1. **select** a path from the root by PUCT,
   ``s_i/n_i + c_puct · p(x_i | x_<i) · sqrt(N_parent) / (n_i + 1)``;
2. **expand** the leaf: one single-token forward of the LM gives its children, the top-k next
   tokens, with priors after temperature and repetition penalty;
3. **evaluate** it: optionally roll out ``rollout_tokens`` more tokens (or, adaptive, until the
   discriminator's score passes ``rollout_threshold``), then value
   ``D(c | x)^α · likelihood(x)^(1-α)``, the likelihood being the geometric mean of the
   generated tokens' probabilities;
4. **back up** the value to every node on the path (the node's score is the mean).

Then the most visited child of the root is emitted (or one drawn ∝ visits^(1/τ) with
``choice_temperature`` τ > 0), and its subtree becomes the next root: nothing is rebuilt.

All prompts of a batch are searched together: each simulation step is one batched forward
over the trees that need one. A new node's keys/values are computed once and kept on the
node (see :mod:`pipelines.generation.search_cache`), so a simulation costs one token's forward, not the
prefix's. A causal discriminator sharing the generator's tokenizer can keep its own cache
along the tree the same way (``causal_discriminator``). Each tree's randomness (rollouts,
choice temperature) comes from its own seed, so a prompt's text does not depend on which
prompts share its batch.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Sequence

from datafactory.lm import Generator, require_torch
from pipelines.generation.decoding import (Continuation, DecodingOptions, encode_left_padded, process_logits,
                                          stop_ids)
from pipelines.generation.search_cache import Trunk, forward_leaves, stack_node_kv


class Node:
    """One token in a search tree. Children are stored as the top-k candidates (token, prior,
    log-probability) plus the Node objects of those visited so far: PUCT always visits an
    unvisited child in prior order, so the visited ones are a prefix of the candidates and
    each simulation creates one node, not k."""

    __slots__ = ("token", "prior", "logprob", "length", "visits", "value_sum", "terminal", "value",
                 "kv", "dkv", "candidates", "children", "logprob_sum")

    def __init__(self, token: int | None, prior: float, logprob: float, length: int, logprob_sum: float,
                 terminal: bool = False):
        self.token = token
        self.prior = prior
        self.logprob = logprob
        self.length = length  # body tokens up to and including this one
        self.logprob_sum = logprob_sum  # of the body up to and including this one
        self.visits = 0
        self.value_sum = 0.0
        self.terminal = terminal
        self.value: float | None = None  # cached for terminal nodes, whose value never changes
        self.kv: Any = None
        self.dkv: Any = None
        self.candidates: tuple[list[int], list[float], list[float]] | None = None
        self.children: list[Node] = []

    @property
    def expanded(self) -> bool:
        return self.candidates is not None


def puct_select(node: Node, c_puct: float, low: float = 0.0, high: float = 1.0) -> int:
    """Index (into the node's candidates) of the child PUCT selects; ties go to the higher prior.
    Mean values are rescaled from [low, high] to [0, 1] (the identity by default)."""
    tokens, priors, _ = node.candidates
    sqrt_n = math.sqrt(node.visits)
    scale = 1.0 / (high - low) if high > low else 1.0
    best, best_score = 0, -math.inf
    for i, child in enumerate(node.children):
        q = (child.value_sum / child.visits - low) * scale
        score = q + c_puct * child.prior * sqrt_n / (child.visits + 1)
        if score > best_score:
            best, best_score = i, score
    nxt = len(node.children)
    if nxt < len(tokens) and c_puct * priors[nxt] * sqrt_n > best_score:
        best = nxt
    return best


def child_at(node: Node, index: int, stops: set[int], max_length: int) -> Node:
    if index == len(node.children):
        tokens, priors, logprobs = node.candidates
        token = tokens[index]
        length = node.length + 1
        node.children.append(Node(token, priors[index], logprobs[index], length, node.logprob_sum + logprobs[index],
                                  terminal=token in stops or length >= max_length))
    return node.children[index]


def check_shared_vocabulary(generator: Generator, discriminator: Any) -> None:
    """A causal discriminator reads the generator's token ids directly: same vocabulary needed."""
    if not hasattr(discriminator, "model") or not hasattr(discriminator, "tokenizer"):
        raise ValueError("causal_discriminator needs a causal Hugging Face classifier (discriminator_kind: causal)")
    if discriminator.tokenizer.get_vocab() != generator.tokenizer.get_vocab():
        raise ValueError(f"the causal discriminator {getattr(discriminator, 'name', '')} does not share the "
                         f"generator's tokenizer, so it cannot reuse the search's token ids; use "
                         "discriminator_kind: hf (it then scores decoded text)")


class MCTS:
    """``strategy: mcts``. Needs a discriminator: any object with ``score(texts) -> P(target)``
    (see :mod:`pipelines.generation.discriminators`). With ``causal_discriminator`` (the stage
    sets it for ``discriminator_kind: causal``), the discriminator is a causal classifier
    sharing the generator's tokenizer, and its key/value cache is kept along the tree."""

    name: ClassVar[str] = "mcts"
    needs_discriminator: ClassVar[bool] = True

    def __init__(self, discriminator: Any = None, *, causal_discriminator: bool = False):
        self.discriminator = discriminator
        self.causal_discriminator = causal_discriminator

    @classmethod
    def ignores_seed(cls, options: DecodingOptions) -> bool:
        # Without rollouts nor a sampled choice, nothing in the search is random.
        return options.rollout_tokens == 0 and options.choice_temperature == 0

    def generate(self, generator: Generator, prompts: list[str], seeds: list[int],
                 params: DecodingOptions) -> list[Continuation]:
        if self.discriminator is None:
            raise ValueError("strategy mcts needs a discriminator")
        return TreeSearch(generator, self.discriminator, params, seeds, causal=self.causal_discriminator).run(prompts)


class TreeSearch:
    """One batch of trees, searched together."""

    def __init__(self, generator: Generator, discriminator: Any, params: DecodingOptions, seeds: Sequence[int], *,
                 causal: bool = False):
        torch = require_torch()
        self.torch = torch
        self.generator = generator
        self.model = generator.model
        self.tokenizer = generator.tokenizer
        self.discriminator = discriminator
        self.params = params
        self.device = generator.device
        self.stops = set(stop_ids(generator))
        self.stop_tensor = torch.tensor(sorted(self.stops), device=self.device)
        self.rngs = [torch.Generator(device="cpu").manual_seed(seed % (2**63)) for seed in seeds]
        self.causal = causal
        if self.causal:
            check_shared_vocabulary(generator, discriminator)
        self.trunk: Trunk | None = None
        self.dtrunk: Trunk | None = None
        self.lm_forwards: list[int] = []
        self.discriminator_calls: list[int] = []
        self.simulations: list[int] = []
        self.chosen_share: list[list[float]] = []

    # -- the search ------------------------------------------------------------------------

    def run(self, prompts: list[str]) -> list[Continuation]:
        torch = self.torch
        batch = len(prompts)
        self.lm_forwards = [1] * batch
        self.discriminator_calls = [0] * batch
        self.simulations = [0] * batch
        self.chosen_share = [[] for _ in range(batch)]
        # Value range seen per tree, for normalize_values (else the identity scale [0, 1]).
        self.bounds: list[tuple[float, float] | None] = [None] * batch
        enc = encode_left_padded(self.generator, prompts)
        with torch.inference_mode():
            positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            out = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                             position_ids=positions, use_cache=True)
            # Room for every token a body can have, emitted or on a path: never reallocated.
            self.trunk = Trunk.from_cache(out.past_key_values, enc["attention_mask"], self.params.max_new_tokens + 1)
            vocab = out.logits.shape[-1]
            # Tokens seen so far per row, for the repetition penalty.
            self.seen = torch.zeros((batch, vocab), dtype=torch.bool, device=self.device)
            for b, (ids, real) in enumerate(zip(enc["input_ids"], enc["attention_mask"].bool())):
                self.seen[b, ids[real]] = True  # not the padding
            self.roots = [Node(None, 1.0, 0.0, 0, 0.0) for _ in range(batch)]
            self._expand(self.roots, out.logits[:, -1, :].float(), self.seen)
            self.emitted: list[list[Node]] = [[] for _ in range(batch)]
            done = [False] * batch
            while not all(done):
                active = [b for b in range(batch) if not done[b]]
                for _ in range(self.params.simulations):
                    self._simulate(active)
                for b in active:
                    self.simulations[b] += self.params.simulations
                chosen = {b: self._choose(b) for b in active}
                for b, node in chosen.items():
                    self.emitted[b].append(node)
                    # Only the chosen subtree is searched on: drop its siblings now (each node
                    # holds keys/values), rather than keep them reachable until the batch ends.
                    self.roots[b].children = []
                    self.roots[b] = node
                    if node.terminal:
                        done[b] = True
                if not all(done):
                    self._advance_trunks(chosen, done)
        return [self._continuation(b) for b in range(batch)]

    def _simulate(self, active: list[int]) -> None:
        params = self.params
        paths: dict[int, list[Node]] = {}
        for b in active:
            node, path = self.roots[b], []
            while node.expanded and not node.terminal:
                node = child_at(node, puct_select(node, params.c_puct, *(self.bounds[b] or (0.0, 1.0))), self.stops,
                                params.max_new_tokens)
                path.append(node)
            paths[b] = path
        to_expand = [b for b in active if not paths[b][-1].terminal]
        to_score = [b for b in active if paths[b][-1].terminal and paths[b][-1].value is None]
        values: dict[int, float] = {}
        if to_expand:
            values.update(self._expand_and_evaluate(to_expand, [paths[b] for b in to_expand]))
        if to_score:
            scores = self._score_texts(to_score, [self._body(b, paths[b]) for b in to_score])
            for b, score in zip(to_score, scores):
                leaf = paths[b][-1]
                leaf.value = self._value(score, leaf.logprob_sum, leaf.length)
        for b in active:
            leaf = paths[b][-1]
            value = leaf.value if leaf.terminal else values[b]
            if self.params.normalize_values:
                seen = self.bounds[b]
                self.bounds[b] = (value, value) if seen is None else (min(seen[0], value), max(seen[1], value))
            root = self.roots[b]
            root.visits += 1
            root.value_sum += value
            for node in paths[b]:
                node.visits += 1
                node.value_sum += value

    def _expand_and_evaluate(self, rows: list[int], paths: list[list[Node]]) -> dict[int, float]:
        torch = self.torch
        index = torch.tensor(rows, device=self.device)
        leaves = [path[-1] for path in paths]
        tokens = torch.tensor([leaf.token for leaf in leaves], device=self.device)
        out, mask, positions, cache = forward_leaves(self.model, self.trunk, index,
                                                     [[n.kv for n in path[:-1]] for path in paths], tokens)
        for b in rows:
            self.lm_forwards[b] += 1
        kv = stack_node_kv(cache)
        for i, leaf in enumerate(leaves):
            leaf.kv = kv[i].clone()  # its own storage: a kept node must not pin its batch-mates
        seen = self.seen.index_select(0, index).clone()
        for i, path in enumerate(paths):
            seen[i, [n.token for n in path]] = True
        logits = out.logits[:, -1, :].float()
        self._expand(leaves, logits, seen)
        # A causal discriminator scores the leaf from its own cache (and caches the leaf's
        # keys/values for the descendants); rolled-out texts are scored whole.
        leaf_scores = self._evaluate_leaves(rows, paths) if self.causal or self.params.rollout_tokens == 0 else None
        if self.params.rollout_tokens > 0:
            scores, logprob_sums, lengths = self._rollout(rows, paths, logits, seen, cache, mask, positions, leaf_scores)
        else:
            scores = leaf_scores
            logprob_sums = [leaf.logprob_sum for leaf in leaves]
            lengths = [leaf.length for leaf in leaves]
        return {b: self._value(s, lp, n) for b, s, lp, n in zip(rows, scores, logprob_sums, lengths)}

    def _expand(self, nodes: list[Node], logits: Any, seen: Any) -> None:
        """Give each node its top-k children (priors after temperature and penalties)."""
        torch, params = self.torch, self.params
        raw = torch.log_softmax(logits, dim=-1)
        processed = self._process(logits, seen, [n.length for n in nodes])
        values, tokens = processed.topk(min(params.top_k, processed.shape[-1]), dim=-1)
        priors = torch.softmax(values, dim=-1)
        logprobs = raw.gather(1, tokens)
        for node, t, p, lp in zip(nodes, tokens.tolist(), priors.tolist(), logprobs.tolist()):
            keep = [i for i, prior in enumerate(p) if prior > 0.0]  # drop tokens masked to -inf
            node.candidates = ([t[i] for i in keep], [p[i] for i in keep], [lp[i] for i in keep])

    def _process(self, logits: Any, seen: Any, lengths: list[int]) -> Any:
        """Repetition penalty, the min-length stop ban and temperature, as in sampling; the
        top-k cut is the caller's (a node keeps its top-k candidates)."""
        return process_logits(logits, self.params, seen=seen, lengths=lengths, stops=self.stop_tensor, truncate=False)

    # -- evaluation ------------------------------------------------------------------------

    def _value(self, score: float, logprob_sum: float, length: int) -> float:
        alpha = self.params.alpha
        if alpha >= 1.0:
            return float(score)
        likelihood = math.exp(logprob_sum / length) if length else 1.0
        return float(score) ** alpha * likelihood ** (1.0 - alpha)

    def _body(self, b: int, path: Sequence[Node], extra: Sequence[int] = ()) -> str:
        ids = [n.token for n in self.emitted[b]] + [n.token for n in path] + list(extra)
        ids = [t for t in ids if t not in self.stops]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _score_texts(self, rows: Sequence[int], texts: list[str]) -> list[float]:
        for b in rows:
            self.discriminator_calls[b] += 1
        return [float(s) for s in self.discriminator.score(texts)]

    def _evaluate_leaves(self, rows: list[int], paths: list[list[Node]]) -> list[float]:
        if not self.causal:
            return self._score_texts(rows, [self._body(b, path) for b, path in zip(rows, paths)])
        torch = self.torch
        index = torch.tensor(rows, device=self.device)
        tokens = torch.tensor([path[-1].token for path in paths], device=self.device)
        out, _, _, cache = forward_leaves(self.discriminator.model, self.dtrunk, index,
                                          [[n.dkv for n in path[:-1]] for path in paths], tokens)
        for b in rows:
            self.discriminator_calls[b] += 1
        dkv = stack_node_kv(cache)
        for i, path in enumerate(paths):
            path[-1].dkv = dkv[i].clone()
        return self._class_probability(out.logits).tolist()

    def _class_probability(self, logits: Any) -> Any:
        logits = logits[:, -1, :] if logits.dim() == 3 else logits
        return self.torch.softmax(logits.float(), dim=-1)[:, self.discriminator.target_index]

    def _rollout(self, rows: list[int], paths: list[list[Node]], logits: Any, seen: Any, cache: Any,
                 mask: Any, positions: Any, leaf_scores: list[float] | None) -> tuple[list[float], list[float], list[int]]:
        """Continue each leaf by sampling up to ``rollout_tokens`` tokens (stopping early at a
        stop token, or once the score reaches ``rollout_threshold``) and score the result."""
        torch, params = self.torch, self.params
        n = len(rows)
        extra: list[list[int]] = [[] for _ in range(n)]
        logprob_sums = [path[-1].logprob_sum for path in paths]
        lengths = [path[-1].length for path in paths]
        finished = [False] * n
        threshold = params.rollout_threshold
        scores: list[float] = [0.0] * n
        if threshold is not None:
            scores = leaf_scores if leaf_scores is not None else self._evaluate_leaves(rows, paths)
            finished = [s >= threshold for s in scores]
        for step in range(params.rollout_tokens):
            live = [i for i in range(n) if not finished[i] and lengths[i] < params.max_new_tokens]
            if not live:
                break
            chosen = self._draw(self._process(logits, seen, lengths), rows, live)
            raw = torch.log_softmax(logits, dim=-1)
            for i in live:
                token = chosen[i]
                if token in self.stops:
                    finished[i] = True
                    continue
                extra[i].append(token)
                logprob_sums[i] += float(raw[i, token])
                lengths[i] += 1
                seen[i, token] = True
            live = [i for i in live if not finished[i]]
            if not live:
                break
            if threshold is not None:
                new = self._score_texts([rows[i] for i in live],
                                        [self._body(rows[i], paths[i], extra[i]) for i in live])
                for i, s in zip(live, new):
                    scores[i] = s
                    finished[i] = s >= threshold
            if step == params.rollout_tokens - 1:
                break  # the last token's own forward would feed nothing
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            positions = positions + 1
            out = self.model(input_ids=torch.tensor(chosen, device=self.device)[:, None], attention_mask=mask,
                             position_ids=positions, past_key_values=cache, use_cache=True)
            cache, logits = out.past_key_values, out.logits[:, -1, :].float()
            for i in live:
                self.lm_forwards[rows[i]] += 1
        if threshold is None:
            scores = self._score_texts(rows, [self._body(b, path, ext) for b, path, ext in zip(rows, paths, extra)])
        return scores, logprob_sums, lengths

    def _draw(self, processed: Any, rows: list[int], live: list[int]) -> list[int]:
        """One token per row from its processed distribution (top-k), with the row's own RNG."""
        torch = self.torch
        values, tokens = processed.topk(min(self.params.top_k, processed.shape[-1]), dim=-1)
        cdf = torch.softmax(values, dim=-1).cumsum(dim=-1)
        chosen = tokens[:, 0].tolist()
        for i in live:
            u = float(torch.rand(1, generator=self.rngs[rows[i]])) * float(cdf[i, -1])
            j = int(torch.searchsorted(cdf[i], torch.tensor([u], device=cdf.device), right=True)[0])
            chosen[i] = int(tokens[i, min(j, tokens.shape[1] - 1)])
        return chosen

    # -- moving on -------------------------------------------------------------------------

    def _choose(self, b: int) -> Node:
        root = self.roots[b]
        visits = [child.visits for child in root.children]
        tau = self.params.choice_temperature
        if tau > 0:
            weights = [v ** (1.0 / tau) for v in visits]
            u = float(self.torch.rand(1, generator=self.rngs[b])) * sum(weights)
            acc, index = 0.0, len(weights) - 1
            for i, w in enumerate(weights):
                acc += w
                if u < acc:
                    index = i
                    break
        else:
            index = max(range(len(visits)), key=lambda i: (visits[i], -i))
        self.chosen_share[b].append(visits[index] / max(1, sum(visits)))
        return root.children[index]

    def _advance_trunks(self, chosen: dict[int, Node], done: list[bool]) -> None:
        """Append each tree's emitted token to the trunk caches (masked zeros for finished rows)."""
        torch = self.torch
        batch = len(done)
        live = torch.tensor([b in chosen and not done[b] for b in range(batch)], device=self.device)
        template = next(node.kv for b, node in chosen.items() if not done[b])
        column = template.new_zeros((batch, *template.shape))
        for b, node in chosen.items():
            if not done[b]:
                column[b] = node.kv
                self.seen[b, node.token] = True
        self.trunk.append(column, live)
        if self.causal:
            dtemplate = next(node.dkv for b, node in chosen.items() if not done[b])
            dcolumn = dtemplate.new_zeros((batch, *dtemplate.shape))
            for b, node in chosen.items():
                if not done[b]:
                    dcolumn[b] = node.dkv
            if self.dtrunk is None:
                self.dtrunk = Trunk.empty(dcolumn, self.params.max_new_tokens + 1)
            self.dtrunk.append(dcolumn, live)

    def _continuation(self, b: int) -> Continuation:
        nodes = self.emitted[b]
        stopped = bool(nodes) and nodes[-1].token in self.stops
        body = nodes[:-1] if stopped else nodes
        shares = self.chosen_share[b]
        stats = {"tokens": len(nodes), "simulations": self.simulations[b], "lm_forwards": self.lm_forwards[b],
                 "discriminator_calls": self.discriminator_calls[b],
                 "root_value": round(self.roots[b].value_sum / self.roots[b].visits, 6) if self.roots[b].visits else None,
                 "chosen_visit_share": round(sum(shares) / len(shares), 6) if shares else None}
        return Continuation([n.token for n in body], [n.logprob for n in body], stopped, stats)
