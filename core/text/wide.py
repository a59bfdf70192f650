"""A text classifier that mixes the network with a linear model of word n-grams (wide and deep).

On ten thousand sentences a network trained from scratch reaches about the accuracy of a
linear model over word uni- and bigrams, and the two err on different texts: the linear model
sees every word and pair at once, the network sees order and context. Mixing their
probabilities beat the classical baseline on real snippets where the network alone did not
(docs/benchmarks.md), so `tk text --wide` does it, each part's share chosen on the validation
split so that a part far behind the other weighs little. The linear part is logistic
regression over hashed word 1-2 grams (their TF-IDF, or their presence weighted by naive-Bayes
ratios, whichever validates better), fitted once by scikit-learn before the network trains
(`taskkit.text.wide_fit`) and then frozen: its weights are buffers, so no optimizer touches them.

The linear part is computed inside the model from the token ids (the same hashing as the
`ngram` encoder), so a saved run, `tk predict` and an exported ONNX model all answer with the
blend, and padding changes nothing: absent n-grams are masked out of the counts and the norm.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from taskkit.sequence import EncoderWithHead
from taskkit.text.ngrams import bag_of_ngrams

#: Rows of the hashed n-gram table: scikit-learn's HashingVectorizer's default, few collisions
#: for the n-grams of tens of thousands of sentences.
WIDE_BUCKETS = 2 ** 20
#: Word uni- and bigrams, as the classical baseline uses.
WIDE_NGRAMS = 2
#: `tfidf`: sublinear TF-IDF, unit length; `nb`: presence (1 or 0), naive-Bayes ratios folded into the weights.
FEATURES = ("tfidf", "nb")


class NGramLinear(nn.Module):
    """Logistic regression over a text's hashed word n-grams: their TF-IDF, or their presence (NB-LR).

    `features="tfidf"` reproduces scikit-learn's `TfidfTransformer(sublinear_tf=True)` (term
    frequency `1 + log(count)` times the inverse document frequency, the vector scaled to unit
    length) followed by a linear layer, so weights fitted there answer the same here; `idf` is
    zero for rows no training text had, as an unseen word has no column in a vocabulary.
    `features="nb"` sums the weights of the n-grams present, each once (NB-LR, whose ratios
    the fit folds into the weights). Two classes keep one column of scores (logits
    `[0, score]`), as scikit-learn's binary model does.
    """

    def __init__(self, classes: int, ngrams: int = WIDE_NGRAMS, buckets: int = WIDE_BUCKETS,
                 features: str = "tfidf"):
        super().__init__()
        if features not in FEATURES:
            from taskkit.errors import BadInputError

            raise BadInputError(f"the linear n-gram model's features must be one of {', '.join(FEATURES)}, "
                                f"not '{features}'")
        self.ngrams, self.buckets, self.classes, self.features = ngrams, buckets, classes, features
        columns = 1 if classes == 2 else classes
        self.register_buffer("idf", torch.zeros(buckets))
        self.register_buffer("weight", torch.zeros(buckets, columns))
        self.register_buffer("bias", torch.zeros(columns))

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        rows, present = bag_of_ngrams(tokens, lengths, self.ngrams, self.buckets)
        same = (rows[:, :, None] == rows[:, None, :]) & present[:, None, :]
        counts = same.sum(dim=2).clamp(min=1).to(self.idf.dtype)
        # Each occurrence of a repeated n-gram carries 1/count of it, so every n-gram counts once.
        if self.features == "nb":
            value, norm = present.to(counts.dtype), torch.ones_like(counts[:, 0])
        else:
            value = (1 + torch.log(counts)) * self.idf[rows] * present
            norm = (value.square() / counts).sum(dim=1).sqrt().clamp(min=1e-12)
        scores = ((value / counts)[..., None] * self.weight[rows]).sum(dim=1) / norm[:, None] + self.bias
        if self.classes == 2:
            return torch.cat([torch.zeros_like(scores), scores], dim=1)
        return scores


class BlendedClassifier(EncoderWithHead):
    """An encoder and a head, whose probabilities are mixed with a frozen `NGramLinear`'s.

    In training mode it returns the network's logits alone, so the loss trains the network as
    it would train without the linear part. In eval mode it returns the log of the mixture
    `share * p_network + (1 - share) * p_linear`, which softmax turns back into it. `share` is 1
    (the network alone) while the network trains, so validation picks the network's own best
    epoch; then `choose_share` sets it on the validation split, and the run records it.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, wide: NGramLinear, network_share: float = 1.0):
        super().__init__(encoder, head)
        self.wide, self.network_share = wide, network_share

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        network = super().forward(tokens, lengths)
        if self.training or self.network_share >= 1:
            return network
        return blend(network, self.wide(tokens, lengths), self.network_share)

    def parts(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """The network's logits and the linear model's, apart."""
        return super().forward(tokens, lengths), self.wide(tokens, lengths)


#: The network's shares tried on validation: 0 is the linear model alone, 1 the network alone.
SHARES = tuple(round(0.1 * i, 1) for i in range(11))


def blend(network: Tensor, linear: Tensor, share: float) -> Tensor:
    """The log of `share` times the network's softmax plus `1 - share` times the linear model's."""
    if share <= 0:
        return F.log_softmax(linear.float(), dim=-1)
    both = torch.stack([F.log_softmax(network.float(), dim=-1) + math.log(share),
                        F.log_softmax(linear.float(), dim=-1) + math.log(1 - share)])
    return torch.logsumexp(both, dim=0)


def choose_share(network: Tensor, linear: Tensor, targets: Tensor) -> float:
    """The share (of `SHARES`) whose mixture has the lowest log-loss on these logits; log-loss
    rather than accuracy, because it moves with every example's probability and so decides
    more steadily on a validation split of a thousand texts. Ties keep the larger share."""
    losses = []
    for share in SHARES:
        mixed = network.float().log_softmax(-1) if share >= 1 else blend(network, linear, share)
        losses.append(F.nll_loss(mixed, targets).item())
    best = min(losses)
    return max(share for share, loss in zip(SHARES, losses) if loss <= best + 1e-9)
