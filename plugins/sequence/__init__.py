"""Built-in sequence encoders (`rnn`, `lstm`, `gru`, `textcnn`, `ngram`, `transformer`) and sequence heads.

The encoders turn token ids into per-token outputs and a summary; the heads (`last`, `mean`,
`max`, `attention` and the per-token `token`) turn those into logits. The implementations
import torch and live in `encoders.py` (recurrent and convolutional), `ngram.py` (a fastText-style
bag of hashed word n-grams), `transformer.py` (a
small pre-norm Transformer encoder) and `heads.py`; this module loads them only when a
registry is read.
"""

from taskkit import hookimpl


@hookimpl
def tk_register_backbones(backbones):
    from taskkit.plugins.sequence import encoders, ngram, transformer

    backbones.register("rnn")(encoders.RNNEncoder)
    backbones.register("lstm")(encoders.LSTMEncoder)
    backbones.register("gru")(encoders.GRUEncoder)
    backbones.register("textcnn")(encoders.TextCNN)
    backbones.register("ngram")(ngram.NGramEncoder)
    backbones.register("transformer")(transformer.TransformerEncoder)


@hookimpl
def tk_register_heads(heads):
    from taskkit.plugins.sequence import heads as models

    heads.register("last")(models.LastHead)
    heads.register("mean")(models.MeanHead)
    heads.register("max")(models.MaxHead)
    heads.register("attention")(models.AttentionHead)
    heads.register("token")(models.TokenHead)
