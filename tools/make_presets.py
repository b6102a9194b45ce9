"""Writes the preset designs in core/resources/presets/ (run: python tools/make_presets.py).

The JSON files are the presets the product loads; this script is how they were made, so
that a change to one (say, BERT's depth) is a one-line edit here and a re-run.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.graph import io  # noqa: E402
from core.graph.network import Network  # noqa: E402


class Chain:
    """Adds layers one after another; ``tip`` is the last node added."""

    def __init__(self, net: Network, tip: str | None = None):
        self.net, self.tip = net, tip

    def add(self, type_name: str, name: str | None = None, inputs=None, **params) -> str:
        node = self.net.add_node(type_name, name, params,
                                 inputs if inputs is not None else [self.tip])
        self.tip = node.name
        return node.name


def lenet5(ds: bool = False) -> Network:
    kind = "DepthwiseSeparableConv2d" if ds else "Conv2d"
    title = "LeNet-5, depthwise-separable" if ds else "LeNet-5"
    net = Network("lenet5-ds" if ds else "lenet5",
                  f"{title} for MNIST: 1×28×28 input, conv1 padding 2, ReLU, max-pooling, "
                  "conv3 16→120 (5×5), FC 120→84→10." + (
                      " Each convolution is a depthwise 5×5 + pointwise 1×1 unit." if ds else ""))
    c = Chain(net)
    c.add("Input", "input", [], shape=[1, 28, 28])
    c.add(kind, "conv1", out_channels=6, kernel=5, padding=2)
    c.add("ReLU", "relu1")
    c.add("MaxPool2d", "pool1", kernel=2, stride=2)
    c.add(kind, "conv2", out_channels=16, kernel=5)
    c.add("ReLU", "relu2")
    c.add("MaxPool2d", "pool2", kernel=2, stride=2)
    c.add(kind, "conv3", out_channels=120, kernel=5)
    c.add("ReLU", "relu3")
    c.add("Flatten", "flatten")
    c.add("Linear", "fc1", out_features=84)
    c.add("ReLU", "relu4")
    c.add("Linear", "fc2", out_features=10)
    return net


def lenet5_classic() -> Network:
    net = Network("lenet5-classic", "LeCun et al. 1998 style LeNet-5: 1×32×32 input, tanh, "
                                    "2×2 average pooling, conv3 16→120 (5×5), FC 120→84→10.")
    c = Chain(net)
    c.add("Input", "input", [], shape=[1, 32, 32])
    c.add("Conv2d", "conv1", out_channels=6, kernel=5)
    c.add("Tanh", "tanh1")
    c.add("AvgPool2d", "pool1", kernel=2, stride=2)
    c.add("Conv2d", "conv2", out_channels=16, kernel=5)
    c.add("Tanh", "tanh2")
    c.add("AvgPool2d", "pool2", kernel=2, stride=2)
    c.add("Conv2d", "conv3", out_channels=120, kernel=5)
    c.add("Tanh", "tanh3")
    c.add("Flatten", "flatten")
    c.add("Linear", "fc1", out_features=84)
    c.add("Tanh", "tanh4")
    c.add("Linear", "fc2", out_features=10)
    return net


def mlp() -> Network:
    net = Network("mlp", "Multi-layer perceptron for MNIST: 784-256-256-256-10 with ReLU.")
    c = Chain(net)
    c.add("Input", "input", [], shape=[1, 28, 28])
    c.add("Flatten", "flatten")
    for i in (1, 2, 3):
        c.add("Linear", f"fc{i}", out_features=256)
        c.add("ReLU", f"relu{i}")
    c.add("Linear", "fc4", out_features=10)
    return net


def cnn() -> Network:
    net = Network("cnn", "Small CNN for MNIST: conv 32 3×3 pad 1, max-pool, conv 64 3×3 pad 1, "
                         "max-pool, FC 128, FC 10 (ReLU after each hidden layer).")
    c = Chain(net)
    c.add("Input", "input", [], shape=[1, 28, 28])
    c.add("Conv2d", "conv1", out_channels=32, kernel=3, padding=1)
    c.add("ReLU", "relu1")
    c.add("MaxPool2d", "pool1", kernel=2, stride=2)
    c.add("Conv2d", "conv2", out_channels=64, kernel=3, padding=1)
    c.add("ReLU", "relu2")
    c.add("MaxPool2d", "pool2", kernel=2, stride=2)
    c.add("Flatten", "flatten")
    c.add("Linear", "fc1", out_features=128)
    c.add("ReLU", "relu3")
    c.add("Linear", "fc2", out_features=10)
    return net


def autoencoder_classifier() -> Network:
    """As the course specifies it: no padding in the first convolution, no activations
    in the encoder and decoder, so the reconstruction is 3×28×28 and the MSE loss reads a
    3×28×28 target, a second input."""
    net = Network(
        "autoencoder-classifier",
        "An encoder shared by a decoder (MSE reconstruction loss) and a classifier "
        "(cross-entropy loss), as specified: 3×32×32 image. Encoder: conv 16 5×5 stride 1 "
        "padding 0 → max-pool 2 → conv 64 3×3 padding 1 → max-pool 2 (code 64×7×7); "
        "decoder: conv 16 3×3 padding 1 → un-pool 2 → conv 3 5×5 padding 2 → un-pool 2 "
        "(reconstruction 3×28×28, compared by the MSE loss with a 3×28×28 target, the "
        "second input); classifier: FC 160 → 84 → 10 on the flattened code. No "
        "activations in the encoder and decoder; ReLU between the fully connected layers. "
        "The un-pooling layers put each value at the top-left of its 2×2 window because "
        "the decoder's channel counts (16, 3) differ from the pools' (16, 64).")
    c = Chain(net)
    c.add("Input", "image", [], shape=[3, 32, 32])
    c.add("Conv2d", "enc_conv1", out_channels=16, kernel=5, padding=0)
    c.add("MaxPool2d", "enc_pool1", kernel=2, stride=2)
    c.add("Conv2d", "enc_conv2", out_channels=64, kernel=3, padding=1)
    code = c.add("MaxPool2d", "enc_pool2", kernel=2, stride=2)
    c.add("Conv2d", "dec_conv1", out_channels=16, kernel=3, padding=1)
    c.add("MaxUnpool2d", "dec_unpool1", kernel=2, stride=2)
    c.add("Conv2d", "dec_conv2", out_channels=3, kernel=5, padding=2)
    recon = c.add("MaxUnpool2d", "dec_unpool2", kernel=2, stride=2)
    net.add_node("Input", "target", {"shape": [3, 28, 28]}, [])
    c.add("Loss", "reconstruction", [recon, "target"], kind="mse")
    c.tip = code
    c.add("Flatten", "flatten")
    c.add("Linear", "fc1", out_features=160)
    c.add("ReLU", "fc_relu1")
    c.add("Linear", "fc2", out_features=84)
    c.add("ReLU", "fc_relu2")
    c.add("Linear", "fc3", out_features=10)
    c.add("Loss", "classification", kind="cross_entropy")
    return net


def autoencoder_classifier_padded() -> Network:
    """The earlier variant: padding 2 and ReLUs, reconstructing the 3×32×32 input."""
    net = Network(
        "autoencoder-classifier-padded",
        "A variant of autoencoder-classifier that reconstructs its own 3×32×32 input: "
        "conv1 uses padding 2 and a ReLU follows each convolution. Encoder: conv 16 5×5 "
        "pad 2 → max-pool 2 → conv 64 3×3 pad 1 → max-pool 2; decoder: conv 16 3×3 pad 1 "
        "→ unpool 2 → conv 3 5×5 pad 2 → unpool 2; classifier: FC 160 → 84 → 10 on the "
        "64×8×8 code. The un-pooling layers put each value at the top-left of its 2×2 "
        "window.")
    c = Chain(net)
    c.add("Input", "image", [], shape=[3, 32, 32])
    c.add("Conv2d", "enc_conv1", out_channels=16, kernel=5, padding=2)
    c.add("ReLU", "enc_relu1")
    c.add("MaxPool2d", "enc_pool1", kernel=2, stride=2)
    c.add("Conv2d", "enc_conv2", out_channels=64, kernel=3, padding=1)
    c.add("ReLU", "enc_relu2")
    code = c.add("MaxPool2d", "enc_pool2", kernel=2, stride=2)
    c.add("Conv2d", "dec_conv1", out_channels=16, kernel=3, padding=1)
    c.add("ReLU", "dec_relu1")
    c.add("MaxUnpool2d", "dec_unpool1", kernel=2, stride=2)
    c.add("Conv2d", "dec_conv2", out_channels=3, kernel=5, padding=2)
    recon = c.add("MaxUnpool2d", "dec_unpool2", kernel=2, stride=2)
    c.add("Loss", "reconstruction", [recon, "image"], kind="mse")
    c.tip = code
    c.add("Flatten", "flatten")
    c.add("Linear", "fc1", out_features=160)
    c.add("ReLU", "fc_relu1")
    c.add("Linear", "fc2", out_features=84)
    c.add("ReLU", "fc_relu2")
    c.add("Linear", "fc3", out_features=10)
    c.add("Loss", "classification", kind="cross_entropy")
    return net


def resnet_stem(net: Network) -> Chain:
    """torchvision's ResNet stem: 7×7/2 conv, batch norm, ReLU, 3×3/2 max-pool."""
    c = Chain(net)
    c.add("Input", "input", [], shape=[3, 224, 224])
    c.add("Conv2d", "conv1", out_channels=64, kernel=7, stride=2, padding=3, bias=False)
    c.add("BatchNorm2d", "bn1")
    c.add("ReLU", "relu")
    c.add("MaxPool2d", "maxpool", kernel=3, stride=2, padding=1)
    return c


def resnet_head(c: Chain) -> None:
    c.add("AdaptiveAvgPool2d", "avgpool", output_size=1)
    c.add("Flatten", "flatten")
    c.add("Linear", "fc", out_features=1000)


def resnet18() -> Network:
    net = Network("resnet18", "ResNet-18 (He et al. 2016) on 3×224×224, as torchvision builds "
                              "it: 11,689,512 parameters.")
    c = resnet_stem(net)
    channels = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}_{block}_"
            identity = c.tip
            c.add("Conv2d", p + "conv1", out_channels=width, kernel=3, stride=stride, padding=1,
                  bias=False)
            c.add("BatchNorm2d", p + "bn1")
            c.add("ReLU", p + "relu1")
            c.add("Conv2d", p + "conv2", out_channels=width, kernel=3, padding=1, bias=False)
            main = c.add("BatchNorm2d", p + "bn2")
            if stride != 1 or channels != width:
                c.add("Conv2d", p + "down_conv", [identity], out_channels=width, kernel=1,
                      stride=stride, bias=False)
                identity = c.add("BatchNorm2d", p + "down_bn")
            c.add("Add", p + "add", [main, identity])
            c.add("ReLU", p + "relu2")
            channels = width
    resnet_head(c)
    return net


def resnet50() -> Network:
    net = Network("resnet50", "ResNet-50 (He et al. 2016; torchvision's v1.5 with the stride on "
                              "the 3×3 convolution) on 3×224×224: 25,557,032 parameters.")
    c = resnet_stem(net)
    channels = 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}_{block}_"
            identity = c.tip
            c.add("Conv2d", p + "conv1", out_channels=width, kernel=1, bias=False)
            c.add("BatchNorm2d", p + "bn1")
            c.add("ReLU", p + "relu1")
            c.add("Conv2d", p + "conv2", out_channels=width, kernel=3, stride=stride, padding=1,
                  bias=False)
            c.add("BatchNorm2d", p + "bn2")
            c.add("ReLU", p + "relu2")
            c.add("Conv2d", p + "conv3", out_channels=width * 4, kernel=1, bias=False)
            main = c.add("BatchNorm2d", p + "bn3")
            if stride != 1 or channels != width * 4:
                c.add("Conv2d", p + "down_conv", [identity], out_channels=width * 4, kernel=1,
                      stride=stride, bias=False)
                identity = c.add("BatchNorm2d", p + "down_bn")
            c.add("Add", p + "add", [main, identity])
            c.add("ReLU", p + "relu3")
            channels = width * 4
    resnet_head(c)
    return net


def bert_base(seq_len: int = 128) -> Network:
    net = Network("bert-base", "BERT-base (Devlin et al. 2019): 12 layers, hidden 768, 12 heads, "
                               "FFN 3072, vocabulary 30,522, 512 positions, with the pooler: "
                               "109,482,240 parameters. The sequence length is the input "
                               "shape (default 128; --input L).",
                  defaults={"batch": 1, "precision": "fp32"})
    c = Chain(net)
    ids = c.add("Input", "input_ids", [], shape=[seq_len], dtype="index")
    types = c.add("Input", "token_type_ids", [], shape=[seq_len], dtype="index", like=ids)
    word = c.add("Embedding", "word_embeddings", [ids], num_embeddings=30522, embedding_dim=768)
    kind = c.add("Embedding", "token_type_embeddings", [types], num_embeddings=2,
                 embedding_dim=768)
    c.add("Add", "embeddings_sum", [word, kind])
    c.add("PositionalEmbedding", "position_embeddings", max_positions=512, kind="learned")
    c.add("LayerNorm", "embeddings_norm", eps=1e-12)
    c.add("Dropout", "embeddings_dropout", p=0.1)
    for i in range(12):
        p = f"l{i}_"
        x = c.tip
        c.add("MultiHeadAttention", p + "attention", num_heads=12)
        c.add("Dropout", p + "attention_dropout", p=0.1)
        c.add("Add", p + "attention_residual", [c.tip, x])
        x = c.add("LayerNorm", p + "attention_norm", eps=1e-12)
        c.add("Linear", p + "intermediate", out_features=3072)
        c.add("GELU", p + "gelu")
        c.add("Linear", p + "output", out_features=768)
        c.add("Dropout", p + "output_dropout", p=0.1)
        c.add("Add", p + "output_residual", [c.tip, x])
        c.add("LayerNorm", p + "output_norm", eps=1e-12)
    c.add("TokenSelect", "cls_token", index=0)
    c.add("Linear", "pooler", out_features=768)
    c.add("Tanh", "pooler_tanh")
    return net


def transformer(layers: int = 6, dim: int = 256, heads: int = 8, ffn: int = 1024,
                vocab: int = 8000, seq_len: int = 128) -> Network:
    net = Network("transformer", f"Encoder-decoder Transformer (Vaswani et al. 2017 layout, "
                                 f"post-norm) scaled down: {layers}+{layers} layers, embedding "
                                 f"{dim}, {heads} heads, FFN {ffn}, vocabularies {vocab}, "
                                 f"sinusoidal positions, fp16.",
                  defaults={"batch": 1, "precision": "fp16"})
    c = Chain(net)
    src = c.add("Input", "src_ids", [], shape=[seq_len], dtype="index")
    tgt = c.add("Input", "tgt_ids", [], shape=[seq_len], dtype="index", like=src)
    c.add("Embedding", "src_embed", [src], num_embeddings=vocab, embedding_dim=dim)
    c.add("PositionalEmbedding", "src_pos", max_positions=1024, kind="sinusoidal")

    def ffn_block(p: str, x: str) -> str:
        c.add("Linear", p + "ffn1", [x], out_features=ffn)
        c.add("ReLU", p + "ffn_relu")
        c.add("Linear", p + "ffn2", out_features=dim)
        c.add("Add", p + "ffn_residual", [c.tip, x])
        return c.add("LayerNorm", p + "ffn_norm")

    for i in range(layers):
        p = f"enc{i}_"
        x = c.tip
        c.add("MultiHeadAttention", p + "self_attn", num_heads=heads)
        c.add("Add", p + "attn_residual", [c.tip, x])
        x = c.add("LayerNorm", p + "attn_norm")
        ffn_block(p, x)
    memory = c.tip
    c.add("Embedding", "tgt_embed", [tgt], num_embeddings=vocab, embedding_dim=dim)
    c.add("PositionalEmbedding", "tgt_pos", max_positions=1024, kind="sinusoidal")
    for i in range(layers):
        p = f"dec{i}_"
        x = c.tip
        c.add("MultiHeadAttention", p + "self_attn", num_heads=heads, causal=True)
        c.add("Add", p + "self_residual", [c.tip, x])
        x = c.add("LayerNorm", p + "self_norm")
        c.add("MultiHeadAttention", p + "cross_attn", [x, memory], num_heads=heads)
        c.add("Add", p + "cross_residual", [c.tip, x])
        x = c.add("LayerNorm", p + "cross_norm")
        ffn_block(p, x)
    c.add("Linear", "generator", out_features=vocab)
    return net


BUILDERS = {
    "lenet5": lenet5, "lenet5-classic": lenet5_classic, "lenet5-ds": lambda: lenet5(ds=True),
    "mlp": mlp, "cnn": cnn, "autoencoder-classifier": autoencoder_classifier,
    "autoencoder-classifier-padded": autoencoder_classifier_padded,
    "resnet18": resnet18, "resnet50": resnet50, "bert-base": bert_base, "transformer": transformer,
}


def main() -> None:
    out = ROOT / "core" / "resources" / "presets"
    out.mkdir(parents=True, exist_ok=True)
    for name, builder in BUILDERS.items():
        io.save(builder(), out / f"{name}.json")
        print("wrote", out / f"{name}.json")


if __name__ == "__main__":
    main()
