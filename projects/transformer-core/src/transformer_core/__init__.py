"""transformer-core: attention, encoder-decoder from scratch (chapter 2.1, Transformer 核心揭秘)."""
