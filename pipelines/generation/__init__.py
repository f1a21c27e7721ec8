"""Writing article bodies: decoding strategies (sampling, greedy, beam, PPL-MCTS, rerank), the
discriminators that guide them, and generator fine-tuning."""
