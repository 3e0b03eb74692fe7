import pytest
from llm_shared import load_causal_lm


@pytest.fixture(scope="session")
def tiny_model():
    """Random-weight 2-layer Llama with SmolLM2's tokenizer: milliseconds per forward pass."""
    return load_causal_lm("tiny-llama", device="cpu")


@pytest.fixture(scope="session")
def real_model():
    """The embedded SmolLM2-135M-Instruct (float32, ~1 s to load once cached)."""
    return load_causal_lm("smollm2-135m-instruct", device="cpu")


def capture_config(out, **overrides):
    from sae_probe.config import CaptureConfig

    settings = {"out": out, "model": "tiny-llama", "hook": "resid_post.1", "max_tokens": 3000,
                "context": 32, "shard_tokens": 700, "batch_size": 4, "device": "cpu"}
    # shard_tokens=700 (shrunk from 65536) so that 3000 rows make several shards.
    settings.update(overrides)
    return CaptureConfig(**settings)


@pytest.fixture(scope="session")
def make_capture_config():
    """capture_config(out, **overrides) -> a small CaptureConfig for tiny-llama."""
    return capture_config


@pytest.fixture(scope="session")
def tiny_store(tiny_model, tmp_path_factory):
    """A 3000-row store of tiny-llama's resid_post.1 over the built-in corpus, 5 shards."""
    from sae_probe.capture import capture

    out = tmp_path_factory.mktemp("acts")
    model, tokenizer = tiny_model
    capture(capture_config(out), model=model, tokenizer=tokenizer)
    return out


@pytest.fixture(scope="session")
def tiny_sae(tiny_store, tmp_path_factory):
    """A TopK SAE (64 latents, k=4) trained briefly on tiny_store."""
    from sae_probe.config import TrainConfig
    from sae_probe.train import train

    out = tmp_path_factory.mktemp("sae")
    train(TrainConfig(acts=tiny_store, out=out, d_sae=64, k=4, tokens=256 * 12, batch_size=256,
                      warmup_steps=2, checkpoint_every=5, device="cpu", dead_tokens=1000))
    return out
