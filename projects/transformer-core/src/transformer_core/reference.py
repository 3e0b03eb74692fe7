"""Equality with PyTorch's own modules, given the same weights: the `check` command and the tests.

- our `MultiHeadAttention` vs `torch.nn.MultiheadAttention` (batch-first; no mask, key padding,
  causal mask, cross-attention) and our `scaled_dot_product_attention` vs
  `F.scaled_dot_product_attention` (also its `enable_gqa` for grouped heads);
- our encoder-decoder stacks vs `torch.nn.Transformer` (ReLU, dropout 0, post-norm without
  torch's final LayerNorms, or pre-norm with them), outputs and every gradient.
Weights are copied ours -> torch: q/k/v projections are stacked into torch's `in_proj_weight`.
Left out: GELU/SwiGLU and RoPE/ALiBi, which torch.nn.Transformer does not have.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention, scaled_dot_product_attention
from .config import ModelConfig
from .model import DecoderLayer, EncoderLayer, Transformer


def torch_mha_from(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """A batch-first `nn.MultiheadAttention` holding our (MHA-shaped) weights."""
    d_model = ours.q_proj.in_features
    ref = nn.MultiheadAttention(d_model, ours.num_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight,
                                            ours.v_proj.weight]))  # (3d, d)
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    return ref


def _copy_ffn_and_norms(ours: EncoderLayer | DecoderLayer, ref: nn.Module, norms: int) -> None:
    with torch.no_grad():
        for name in ("linear1", "linear2"):
            getattr(ref, name).weight.copy_(getattr(ours.ff, name).weight)
            getattr(ref, name).bias.copy_(getattr(ours.ff, name).bias)
        for i in range(1, norms + 1):
            getattr(ref, f"norm{i}").load_state_dict(getattr(ours, f"norm{i}").state_dict())


def torch_transformer_from(model: Transformer) -> nn.Transformer:
    """`nn.Transformer` with our weights (ReLU, sinusoidal/learned, MHA only)."""
    c = model.config
    if c.activation != "relu" or c.kv_heads != c.num_heads or c.position in ("rope", "alibi"):
        raise ValueError("torch.nn.Transformer has only ReLU/GELU, MHA and absolute positions")
    with warnings.catch_warnings():  # "nested tensors unused with norm_first": known, harmless
        warnings.simplefilter("ignore", UserWarning)
        ref = nn.Transformer(c.d_model, c.num_heads, c.num_layers, c.num_layers, c.dim_ff,
                             dropout=0.0, batch_first=True, norm_first=c.norm == "pre")
    for ours, theirs in zip(model.encoder_layers, ref.encoder.layers, strict=True):
        theirs.self_attn.load_state_dict(torch_mha_from(ours.self_attn).state_dict())
        _copy_ffn_and_norms(ours, theirs, 2)
    for ours, theirs in zip(model.decoder_layers, ref.decoder.layers, strict=True):
        theirs.self_attn.load_state_dict(torch_mha_from(ours.self_attn).state_dict())
        theirs.multihead_attn.load_state_dict(torch_mha_from(ours.cross_attn).state_dict())
        _copy_ffn_and_norms(ours, theirs, 3)
    if c.norm == "pre":
        ref.encoder.norm.load_state_dict(model.encoder_norm.state_dict())
        ref.decoder.norm.load_state_dict(model.decoder_norm.state_dict())
    else:  # the paper's post-norm stack ends on a layer's own LayerNorm; torch adds one more
        ref.encoder.norm = None
        ref.decoder.norm = None
    return ref


def check_attention(seed: int = 0) -> dict[str, float]:
    """Max |ours - torch| over the attention cases (float32)."""
    gen = torch.Generator().manual_seed(seed)
    B, T, S, d, H = 3, 7, 9, 32, 4
    torch.manual_seed(seed)
    ours = MultiHeadAttention(d, H)
    ref = torch_mha_from(ours)
    x = torch.randn(B, T, d, generator=gen)  # (B, T, d)
    mem = torch.randn(B, S, d, generator=gen)  # (B, S, d)
    lengths = torch.tensor([S, 5, 2])
    pad = torch.arange(S)[None, :] >= lengths[:, None]  # (B, S) True = padding (torch's meaning)
    causal = torch.ones(T, T, dtype=torch.bool).triu(1)  # (T, T) True = hidden (torch's meaning)
    diffs = []
    with torch.no_grad():
        # self-attention, unmasked and causal; cross-attention with key padding
        diffs.append(ours.attend(x, x) - ref(x, x, x, need_weights=False)[0])
        diffs.append(ours.attend(x, x, ~causal)
                     - ref(x, x, x, attn_mask=causal, need_weights=False)[0])
        diffs.append(ours.attend(x, mem, (~pad)[:, None, None, :])
                     - ref(x, mem, mem, key_padding_mask=pad, need_weights=False)[0])
        # the attention weights themselves (torch averages them over heads)
        ours.keep_weights = True
        ours.attend(x, mem, (~pad)[:, None, None, :])
        ref_weights = ref(x, mem, mem, key_padding_mask=pad, average_attn_weights=False)[1]
        diffs.append(ours.last_weights - ref_weights)
        ours.keep_weights = False
        mha_diff = max(float(t.abs().max()) for t in diffs)

        q, k, v = (torch.randn(B, H, T, 16, generator=gen) for _ in range(3))
        mask = torch.rand(B, 1, T, T, generator=gen) > 0.3
        mask[..., 0] = True  # keep one key per row: a fully masked row is NaN in both
        sdpa = [scaled_dot_product_attention(q, k, v)[0] - F.scaled_dot_product_attention(q, k, v),
                scaled_dot_product_attention(q, k, v, mask=mask)[0]
                - F.scaled_dot_product_attention(q, k, v, attn_mask=mask)]
        # GQA: 4 query heads over 2 key/value heads
        gqa = MultiHeadAttention(d, H, num_kv_heads=2)
        qg = gqa._split(gqa.q_proj(x), H)
        kg, vg = gqa.project_kv(x)
        ref_gqa = gqa.out_proj(F.scaled_dot_product_attention(qg, kg, vg, enable_gqa=True)
                               .transpose(1, 2).reshape(B, T, d))
        sdpa.append(gqa.attend(x, x) - ref_gqa)
        sdpa_diff = max(float(t.abs().max()) for t in sdpa)
    return {"mha_max_abs_diff": mha_diff, "sdpa_max_abs_diff": sdpa_diff}


def check_transformer(seed: int = 0, norm: str = "post") -> dict[str, float]:
    """Max |ours - nn.Transformer| of the decoder output and of every gradient, with padding."""
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=20, d_model=32, num_heads=4, num_layers=2, dim_ff=64,
                         norm=norm, position="sinusoidal")
    model = Transformer(config)
    # random LayerNorm affine so that copying them is tested too
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.normal_(1.0, 0.1)
                module.bias.normal_(0.0, 0.1)
    ref = torch_transformer_from(model)
    model.train()
    ref.train()  # dropout is 0; train mode keeps torch off its inference fast path
    B, S, T = 3, 8, 6
    src = torch.randn(B, S, config.d_model, requires_grad=True)  # (B, S, d) embedded source
    tgt = torch.randn(B, T, config.d_model, requires_grad=True)  # (B, T, d) embedded target
    lengths = torch.tensor([S, 6, 3])
    pad = torch.arange(S)[None, :] >= lengths[:, None]  # (B, S) True = padding
    src_mask = (~pad)[:, None, None, :]  # (B, 1, 1, S) True = real

    memory = model.run_encoder(src, src_mask)
    out = model.run_decoder(tgt, memory, src_mask)  # (B, T, d)
    ref_out = ref(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
                  src_key_padding_mask=pad, memory_key_padding_mask=pad, tgt_is_causal=True)
    ref_memory = ref.encoder(src, src_key_padding_mask=pad)
    keep = (~pad)[:, :, None]  # padded source rows hold no meaning in either
    out_diff = max(float((out - ref_out).detach().abs().max()),
                   float(((memory - ref_memory) * keep).detach().abs().max()))

    weight = torch.randn(B, T, config.d_model)  # a loss that touches every output element
    src_grad, tgt_grad = torch.autograd.grad((out * weight).sum(), (src, tgt), retain_graph=True)
    (out * weight).sum().backward()
    ref_src_grad, ref_tgt_grad = torch.autograd.grad((ref_out * weight).sum(), (src, tgt),
                                                     retain_graph=True)
    (ref_out * weight).sum().backward()
    grad_diffs = [src_grad - ref_src_grad, tgt_grad - ref_tgt_grad]
    ours_grads = _grads_in_torch_layout(model)
    for name, param in ref.named_parameters():
        grad_diffs.append(ours_grads[name] - param.grad)
    grad_diff = max(float(g.abs().max()) for g in grad_diffs)
    return {"transformer_max_abs_diff": out_diff, "grad_max_abs_diff": grad_diff}


def _grads_in_torch_layout(model: Transformer) -> dict[str, torch.Tensor]:
    """Our parameter gradients under nn.Transformer's parameter names."""
    grads: dict[str, torch.Tensor] = {}

    def attn(prefix: str, a: MultiHeadAttention) -> None:
        grads[f"{prefix}.in_proj_weight"] = torch.cat([a.q_proj.weight.grad, a.k_proj.weight.grad,
                                                       a.v_proj.weight.grad])
        grads[f"{prefix}.in_proj_bias"] = torch.cat([a.q_proj.bias.grad, a.k_proj.bias.grad,
                                                     a.v_proj.bias.grad])
        grads[f"{prefix}.out_proj.weight"] = a.out_proj.weight.grad
        grads[f"{prefix}.out_proj.bias"] = a.out_proj.bias.grad

    def rest(prefix: str, layer: nn.Module, norms: int) -> None:
        for name in ("linear1", "linear2"):
            grads[f"{prefix}.{name}.weight"] = getattr(layer.ff, name).weight.grad
            grads[f"{prefix}.{name}.bias"] = getattr(layer.ff, name).bias.grad
        for i in range(1, norms + 1):
            grads[f"{prefix}.norm{i}.weight"] = getattr(layer, f"norm{i}").weight.grad
            grads[f"{prefix}.norm{i}.bias"] = getattr(layer, f"norm{i}").bias.grad

    for i, layer in enumerate(model.encoder_layers):
        attn(f"encoder.layers.{i}.self_attn", layer.self_attn)
        rest(f"encoder.layers.{i}", layer, 2)
    for i, layer in enumerate(model.decoder_layers):
        attn(f"decoder.layers.{i}.self_attn", layer.self_attn)
        attn(f"decoder.layers.{i}.multihead_attn", layer.cross_attn)
        rest(f"decoder.layers.{i}", layer, 3)
    if model.encoder_norm is not None:
        for side, norm in (("encoder", model.encoder_norm), ("decoder", model.decoder_norm)):
            grads[f"{side}.norm.weight"] = norm.weight.grad
            grads[f"{side}.norm.bias"] = norm.bias.grad
    return grads


def run_checks(seed: int = 0) -> dict[str, float]:
    """Everything `transformer-core check` prints: the worst difference of each kind."""
    attention = check_attention(seed)
    post, pre = check_transformer(seed, "post"), check_transformer(seed, "pre")
    return {**attention,
            "transformer_max_abs_diff": max(post["transformer_max_abs_diff"],
                                            pre["transformer_max_abs_diff"]),
            "grad_max_abs_diff": max(post["grad_max_abs_diff"], pre["grad_max_abs_diff"])}
