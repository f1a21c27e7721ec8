"""The search tree of PPL-MCTS on a hand-built language model whose every probability is known.

``CountingLM`` is a real torch module with the Hugging Face calling convention (input ids,
attention mask, position ids, a ``DynamicCache``): its next-token logits are a bigram table
plus a term that counts, through its cache, how often each token occurred in the unmasked
prefix, plus a small position term. So a wrong cache, a wrong mask or wrong positions
change its output, while the optimal path for a given scorer can be worked out by hand.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from datafactory.lm import Generator
from pipelines.generation.decoding import DecodingOptions, get_strategy
from pipelines.generation.search_cache import forward_leaves
from pipelines.generation.mcts import MCTS, Node, TreeSearch, puct_select

WORDS = ["<eos>", "<sep>", "<pad>", "a", "b", "c", "d", "start"]
IDS = {w: i for i, w in enumerate(WORDS)}


class CountingLM(torch.nn.Module):
    def __init__(self, bigram: torch.Tensor, count_weight: torch.Tensor, position_weight: torch.Tensor):
        super().__init__()
        self.bigram, self.count_weight, self.position_weight = bigram, count_weight, position_weight
        self.calls = 0

    def forward(self, input_ids, attention_mask, position_ids, past_key_values=None, use_cache=True):
        from transformers import DynamicCache

        self.calls += 1
        cache = past_key_values if past_key_values is not None else DynamicCache()
        onehot = torch.nn.functional.one_hot(input_ids, len(WORDS)).float()[:, None]  # [n, 1, T, V]
        keys, _ = cache.update(onehot, onehot, 0)
        total, new = keys.shape[2], input_ids.shape[1]
        visible = attention_mask[:, None, :].float().expand(-1, new, -1).clone()  # [n, T, total]
        causal = torch.ones(new, total).tril(diagonal=total - new)
        counts = (visible * causal) @ keys[:, 0]  # [n, T, V]
        logits = self.bigram[input_ids] + counts @ self.count_weight + position_ids[..., None] * self.position_weight
        return SimpleNamespace(logits=logits, past_key_values=cache)


def word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(vocab=IDS, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")


def make_generator(bigram_rows: dict[str, dict[str, float]], count_scale: float = 0.0,
                   position_scale: float = 0.0) -> Generator:
    """A generator whose next-token probabilities after word w are ``bigram_rows[w]``."""
    bigram = torch.full((len(WORDS), len(WORDS)), -30.0)
    for word, row in bigram_rows.items():
        for nxt, p in row.items():
            bigram[IDS[word], IDS[nxt]] = math.log(p)
    gen = torch.Generator().manual_seed(0)
    count_weight = torch.randn(len(WORDS), len(WORDS), generator=gen) * count_scale
    position_weight = torch.randn(len(WORDS), generator=gen) * position_scale
    model = CountingLM(bigram, count_weight, position_weight).eval()
    return Generator("counting-lm", model, word_tokenizer(), "<sep>")


class WordScorer:
    """P(target) = 1 when the body satisfies ``rule``, else ``low``."""

    def __init__(self, rule, low: float = 0.0):
        self.rule, self.low, self.texts = rule, low, 0

    def score(self, texts):
        self.texts += len(texts)
        return [1.0 if self.rule(t.split()) else self.low for t in texts]


UNIFORM_ABCD = {w: 0.25 for w in "abcd"}


def params(**overrides) -> DecodingOptions:
    base = dict(max_new_tokens=3, min_new_tokens=0, temperature=1.0, top_k=4, top_p=1.0, repetition_penalty=1.0,
                simulations=40, c_puct=1.0)
    return DecodingOptions(**{**base, **overrides})


def decode(generator, continuation) -> list[str]:
    return [WORDS[t] for t in continuation.token_ids]


def test_puct_prefers_the_higher_mean_value_then_explores_by_prior():
    node = Node(None, 1.0, 0.0, 0, 0.0)
    node.candidates = ([3, 4, 5], [0.5, 0.3, 0.2], [0.0, 0.0, 0.0])
    node.visits = 10
    a, b = (Node(t, p, 0.0, 1, 0.0) for t, p in ((3, 0.5), (4, 0.3)))
    a.visits, a.value_sum = 6, 1.2   # Q 0.2, U = 1·0.5·√10/7 = 0.226 → 0.426
    b.visits, b.value_sum = 4, 2.4   # Q 0.6, U = 1·0.3·√10/5 = 0.190 → 0.790
    node.children = [a, b]           # the unvisited third: 0 + 1·0.2·√10/1 = 0.632
    assert puct_select(node, 1.0) == 1
    # A larger c_puct favours exploring: 0.2·√10·3 = 1.897 beats b's 0.6 + 0.569.
    assert puct_select(node, 3.0) == 2
    # Unvisited children are tried in prior order: a fresh node picks its first candidate.
    fresh = Node(None, 1.0, 0.0, 0, 0.0)
    fresh.candidates, fresh.visits = ([3, 4, 5], [0.5, 0.3, 0.2], [0.0] * 3), 0
    assert puct_select(fresh, 1.0) == 0


def test_normalised_values_let_small_score_differences_outweigh_the_prior():
    node = Node(None, 1.0, 0.0, 0, 0.0)
    node.candidates, node.visits = ([3, 4], [0.7, 0.3], [0.0, 0.0]), 10
    a, b = Node(3, 0.7, 0.0, 1, 0.0), Node(4, 0.3, 0.0, 1, 0.0)
    a.visits, a.value_sum = 5, 1.5  # mean 0.30; exploration 0.7·√10/6 = 0.369
    b.visits, b.value_sum = 5, 1.7  # mean 0.34; exploration 0.3·√10/6 = 0.158
    node.children = [a, b]
    assert puct_select(node, 1.0) == 0  # raw: 0.669 against 0.498
    assert puct_select(node, 1.0, 0.30, 0.34) == 1  # rescaled to [0, 1]: 0.369 against 1.158


def test_search_finds_the_path_the_scorer_rewards_where_greedy_and_one_step_lookahead_cannot():
    # The LM prefers "a" first (0.6); only "c" followed by "b" pleases the scorer, and "c"
    # alone scores no better than "a": a one-token lookahead sees nothing to prefer.
    generator = make_generator({"start": {"a": 0.6, "c": 0.4}, "<sep>": {"a": 0.6, "c": 0.4},
                                "a": UNIFORM_ABCD, "c": UNIFORM_ABCD, "b": UNIFORM_ABCD, "d": UNIFORM_ABCD})
    scorer = WordScorer(lambda words: words[:2] == ["c", "b"])
    greedy = get_strategy("greedy").generate(generator, ["start <sep>"], [1], params())
    assert decode(generator, greedy[0])[0] == "a"
    (found,) = get_strategy("mcts", discriminator=scorer).generate(generator, ["start <sep>"], [1], params())
    assert decode(generator, found)[:2] == ["c", "b"]
    assert found.stats["simulations"] == 40 * len(found.token_ids)
    assert 0 < found.stats["lm_forwards"] <= 1 + found.stats["simulations"]


def test_the_chosen_subtree_is_kept_with_its_statistics():
    generator = make_generator({"start": UNIFORM_ABCD, "<sep>": UNIFORM_ABCD, **{w: UNIFORM_ABCD for w in "abcd"}})
    scorer = WordScorer(lambda words: words.count("d") * 0.3 + 0.1 > 0.5)
    seen: list[tuple[Node, int]] = []

    class Watching(TreeSearch):
        def _choose(self, b):
            if seen:
                node, visits = seen[-1]
                assert self.roots[b] is node  # the previous choice is the root now, not a rebuilt tree
                assert node.visits == visits + self.params.simulations
                assert node.expanded and node.children  # its explored children were kept
            chosen = super()._choose(b)
            seen.append((chosen, chosen.visits))
            return chosen

    Watching(generator, scorer, params(max_new_tokens=4, simulations=12), [5]).run(["start <sep>"])
    assert len(seen) == 4 and seen[0][1] > 0


def test_batched_trees_give_the_same_text_as_one_prompt_at_a_time():
    generator = make_generator({w: UNIFORM_ABCD for w in ["start", "<sep>", *"abcd"]}, count_scale=0.7,
                               position_scale=0.3)
    scorer = WordScorer(lambda words: words.count("b") >= 2, low=0.2)
    prompts = ["start <sep>", "start a b <sep>", "c <sep>", "start d d a <sep>"]
    seeds = [11, 12, 13, 14]
    options = params(max_new_tokens=5, simulations=15, rollout_tokens=2, choice_temperature=0.5)
    together = get_strategy("mcts", discriminator=scorer).generate(generator, prompts, seeds, options)
    alone = [get_strategy("mcts", discriminator=scorer).generate(generator, [p], [s], options)[0]
             for p, s in zip(prompts, seeds)]
    assert [c.token_ids for c in together] == [c.token_ids for c in alone]
    assert [c.stats for c in together] == [c.stats for c in alone]
    # and the seed matters when there is randomness (rollouts, choice temperature)
    other = get_strategy("mcts", discriminator=scorer).generate(generator, prompts, [21, 22, 23, 24], options)
    assert [c.token_ids for c in other] != [c.token_ids for c in together]


def _full_logits(model, tokens_per_row: list[list[int]]) -> torch.Tensor:
    """Last-position logits recomputed from scratch, one row at a time, no cache."""
    rows = []
    for ids in tokens_per_row:
        t = torch.tensor([ids])
        out = model(input_ids=t, attention_mask=torch.ones_like(t), position_ids=torch.arange(len(ids))[None],
                    use_cache=True)
        rows.append(out.logits[0, -1].float())
    return torch.stack(rows)


class Recording(TreeSearch):
    """Keeps, for every leaf it expands, the whole token sequence up to that leaf and the
    logits the cached forward gave there."""

    def __init__(self, *args, prompt_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.prompt_ids = prompt_ids
        self.sequences: dict[int, list[int]] = {}
        self.records: list[tuple[list[int], torch.Tensor]] = []

    def _expand_and_evaluate(self, rows, paths):
        for b, path in zip(rows, paths):
            self.sequences[id(path[-1])] = (self.prompt_ids[b] + [n.token for n in self.emitted[b]]
                                            + [n.token for n in path])
        return super()._expand_and_evaluate(rows, paths)

    def _expand(self, nodes, logits, seen):
        for node, row in zip(nodes, logits):
            if node.token is not None:  # roots come from the prompt forward
                self.records.append((self.sequences[id(node)], row.clone()))
        return super()._expand(nodes, logits, seen)


def _check_cache_against_recompute(generator, prompts, options, atol):
    prompt_ids = [generator.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    search = Recording(generator, WordScorer(lambda w: "b" in w, low=0.3), options, list(range(len(prompts))),
                       prompt_ids=prompt_ids)
    search.run(prompts)
    assert len(search.records) > 10
    with torch.inference_mode():
        recomputed = _full_logits(generator.model, [sequence for sequence, _ in search.records])
    cached = torch.stack([row for _, row in search.records])
    torch.testing.assert_close(cached, recomputed, atol=atol, rtol=1e-4)


def test_cached_tree_forwards_give_the_logits_of_a_full_recompute_hand_built_lm():
    generator = make_generator({w: UNIFORM_ABCD for w in ["start", "<sep>", *"abcd"]}, count_scale=0.9,
                               position_scale=0.4)
    _check_cache_against_recompute(generator, ["start <sep>", "a b c d a <sep>", "d <sep>"],
                                   params(max_new_tokens=4, simulations=8), atol=1e-5)


def test_cached_tree_forwards_give_the_logits_of_a_full_recompute_gpt2(tiny_gpt2):
    from datafactory import lm

    generator = lm.load_generator(str(tiny_gpt2), "cpu", "<|pad|>")
    prompts = ["Storm hits the coast<|pad|>", "Minister resigns after vote on budget reform<|pad|>", "Goal<|pad|>"]
    _check_cache_against_recompute(generator, prompts, params(max_new_tokens=4, min_new_tokens=4, simulations=6, top_k=5), atol=1e-4)


def test_forward_leaves_masks_padding_between_trunk_and_path():
    generator = make_generator({w: UNIFORM_ABCD for w in ["start", "<sep>", *"abcd"]}, count_scale=1.0,
                               position_scale=0.5)
    model = generator.model
    # Two rows whose paths differ in depth: the shorter one's path is padded.
    from pipelines.generation.search_cache import Trunk, stack_node_kv

    ids = torch.tensor([[IDS["<pad>"], IDS["start"]], [IDS["a"], IDS["b"]]])
    mask = torch.tensor([[0, 1], [1, 1]])
    out = model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0))
    trunk = Trunk.from_cache(out.past_key_values, mask, 1)  # too small on purpose: it must grow
    node_kv = []
    for token, row in ((IDS["c"], 0), (IDS["d"], 0)):  # row 0's path: c, d (computed one by one)
        o, _, _, cache = forward_leaves(model, trunk, torch.tensor([row]), [node_kv[:]], torch.tensor([token]))
        node_kv.append(stack_node_kv(cache)[0])
    o, _, _, _ = forward_leaves(model, trunk, torch.tensor([0, 1]), [node_kv, []],
                                torch.tensor([IDS["a"], IDS["c"]]))
    expected = _full_logits(model, [[IDS["start"], IDS["c"], IDS["d"], IDS["a"]], [IDS["a"], IDS["b"], IDS["c"]]])
    torch.testing.assert_close(o.logits[:, -1], expected)


def test_rerank_follows_the_scorer_one_token_ahead():
    generator = make_generator({"<sep>": {"a": 0.7, "b": 0.3}, "start": UNIFORM_ABCD,
                                **{w: UNIFORM_ABCD for w in "abcd"}})
    scorer = WordScorer(lambda words: bool(words) and words[0] == "b", low=0.01)
    outs = get_strategy("rerank", discriminator=scorer).generate(
        generator, ["start <sep>"] * 8, list(range(8)), params(max_new_tokens=1, guidance_strength=1.0))
    # p(b) ∝ 0.3·1 vs p(a) ∝ 0.7·0.01: "b" nearly always.
    assert sum(WORDS[o.token_ids[0]] == "b" for o in outs) >= 7
    plain = get_strategy("sample").generate(generator, ["start <sep>"] * 8, list(range(8)), params(max_new_tokens=1))
    assert sum(WORDS[o.token_ids[0]] == "b" for o in plain) <= 5


def test_the_shared_logits_processing_is_hugging_faces_to_the_bit():
    from transformers import (LogitsProcessorList, MinNewTokensLengthLogitsProcessor, RepetitionPenaltyLogitsProcessor,
                              TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)

    from pipelines.generation.decoding import process_logits

    gen = torch.Generator().manual_seed(0)
    rows, vocab, prompt_len, step = 4, 97, 6, 3
    stops = torch.tensor([0, 1])
    for greedy in (False, True):
        options = params(repetition_penalty=1.3, min_new_tokens=5, temperature=0.7, top_k=20, top_p=0.8)
        logits = torch.randn(rows, vocab, generator=gen) * 4
        ids = torch.randint(0, vocab + 2, (rows, prompt_len + step), generator=gen)  # some past the vocabulary
        expected = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.3),
                                        MinNewTokensLengthLogitsProcessor(prompt_len, 5, stops)])
        if not greedy:
            expected.extend([TemperatureLogitsWarper(0.7), TopKLogitsWarper(20), TopPLogitsWarper(0.8)])
        seen = torch.zeros(rows, vocab + 1, dtype=torch.bool).scatter_(1, ids.clamp(max=vocab), True)[:, :vocab]
        got = process_logits(logits, options, seen=seen, lengths=step, stops=stops, warp=not greedy)
        assert torch.equal(got, expected(ids, logits.clone()))
    # Per-row lengths: only the rows still short of min_new_tokens lose their stop tokens.
    got = process_logits(logits, options, seen=seen, lengths=[0, 5, 4, 9], stops=stops, truncate=False)
    assert got[[0, 2]][:, :2].isneginf().all() and not got[[1, 3]][:, :2].isneginf().any()

def test_mcts_without_a_discriminator_is_refused():
    generator = make_generator({"<sep>": UNIFORM_ABCD})
    with pytest.raises(ValueError, match="discriminator"):
        MCTS().generate(generator, ["start <sep>"], [0], params())


def _causal_classifier(tiny_gpt2, folder):
    """A random decoder-only classifier on the tiny generator's tokenizer, saved and loaded the
    way users load one."""
    from transformers import AutoTokenizer, GPT2Config, GPT2ForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_gpt2))
    torch.manual_seed(3)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                        num_labels=2, id2label={0: "generated", 1: "real"}, label2id={"generated": 0, "real": 1},
                        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    GPT2ForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    from pipelines.generation.discriminators import load_classifier

    return load_classifier(str(folder), "real", kind="causal", device="cpu")


def test_a_causal_discriminator_reuses_its_cache_and_scores_as_a_full_forward(tiny_gpt2, tmp_path):
    from datafactory import lm

    generator = lm.load_generator(str(tiny_gpt2), "cpu", "<|pad|>")
    guide = _causal_classifier(tiny_gpt2, tmp_path / "causal")
    scored: list[tuple[list[int], float]] = []

    class Watching(TreeSearch):
        def _evaluate_leaves(self, rows, paths):
            scores = super()._evaluate_leaves(rows, paths)
            for b, path, score in zip(rows, paths, scores):
                scored.append(([n.token for n in self.emitted[b]] + [n.token for n in path], score))
            return scores

    prompts = ["Storm hits the coast<|pad|>", "Minister resigns after vote on budget reform<|pad|>"]
    options = params(max_new_tokens=8, min_new_tokens=8, simulations=5, top_k=5)
    Watching(generator, guide, options, [0, 1], causal=True).run(prompts)
    assert len(scored) >= 20 and guide.model is not None
    with torch.inference_mode():
        for ids, score in scored:
            logits = guide.model(input_ids=torch.tensor([ids])).logits
            assert score == pytest.approx(float(torch.softmax(logits, -1)[0, guide.target_index]), abs=1e-5)


def test_a_causal_discriminator_must_share_the_generator_vocabulary(tiny_gpt2, tmp_path):
    guide = _causal_classifier(tiny_gpt2, tmp_path / "causal")
    generator = make_generator({"<sep>": UNIFORM_ABCD})
    with pytest.raises(ValueError, match="tokenizer"):
        TreeSearch(generator, guide, params(), [0], causal=True)
