"""Names of the embedded models (apart from models.py, so configs can use them without torch)."""

EMBEDDED_LLM = "smollm2-135m-instruct"
TINY_LLM = "tiny-llama"
EMBEDDED_ENCODER = "all-minilm-l6-v2"
TINY_ENCODER = "tiny-bert"
LLM_NAMES = (EMBEDDED_LLM, TINY_LLM)
ENCODER_NAMES = (EMBEDDED_ENCODER, TINY_ENCODER)
