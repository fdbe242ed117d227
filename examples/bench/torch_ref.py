"""PyTorch reference for examples/bench: the same Siamese nets (valid
convolutions, ReLU, 2x2 max-pool, dense, sigmoid embedding; L1-sigmoid head
with binary cross-entropy; Adam), the same batch sizes, on the CPU.

Run with Debian's python3-torch: /usr/bin/python3 torch_ref.py --net small --mode train
Prints one JSON line: {"rate": ..., "peak_rss": ...}.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn

PRESETS = {
    "koch": dict(inp=(1, 105, 105), blocks=[(64, 10, 2), (128, 7, 2), (128, 4, 2), (256, 4, 0)], embed=4096),
    "koch-half": dict(inp=(1, 105, 105), blocks=[(32, 10, 2), (64, 7, 2), (64, 4, 2), (128, 4, 0)], embed=1024),
    "small": dict(inp=(1, 28, 28), blocks=[(32, 3, 2), (64, 3, 2)], embed=128),
}


class Tower(nn.Module):
    def __init__(self, inp, blocks, embed):
        super().__init__()
        layers, c, h, w = [], inp[0], inp[1], inp[2]
        for f, k, p in blocks:
            layers += [nn.Conv2d(c, f, k), nn.ReLU()]
            c, h, w = f, h - k + 1, w - k + 1
            if p > 1:
                layers.append(nn.MaxPool2d(p))
                h, w = h // p, w // p
        self.features = nn.Sequential(*layers)
        self.dense = nn.Linear(c * h * w, embed)

    def forward(self, x):
        return torch.sigmoid(self.dense(torch.flatten(self.features(x), 1)))


class FaceResNet(nn.Module):
    """dlib's face ResNet as face-api.js defines it (towers/resnet): 150x150
    RGB, 7x7 stride-2 conv, 3x3 stride-2 max-pool, residual blocks at 32,
    64, 128, 256 channels (stride-2 'valid' convs and an average-pooled,
    zero-channel-padded shortcut where they down-sample), global mean,
    256x128 matrix without bias."""

    PLAN = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2 + \
        [(256, True)] + [(256, False)] * 2 + [(256, True)]

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        self.blocks = nn.ModuleList()
        c = 32
        for f, down in self.PLAN:
            self.blocks.append(nn.ModuleList([
                nn.Conv2d(c, f, 3, stride=2) if down else nn.Conv2d(c, f, 3, padding=1),
                nn.Conv2d(f, f, 3, padding=1),
            ]))
            c = f
        self.fc = nn.Linear(256, 128, bias=False)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.stem(x)), 3, 2)
        for (f, down), (c1, c2) in zip(self.PLAN, self.blocks):
            y = c2(torch.relu(c1(x)))
            if down:
                s = nn.functional.avg_pool2d(x, 2, 2)
                if s.shape[1] < f:
                    s = nn.functional.pad(s, (0, 0, 0, 0, 0, f - s.shape[1]))
                y = nn.functional.pad(y, (0, s.shape[3] - y.shape[3], 0, s.shape[2] - y.shape[2]))
                x = torch.relu(y + s)
            else:
                x = torch.relu(y + x)
        return self.fc(x.mean((2, 3)))


def resnet(args):
    """The face ResNet: embed images, or train pairs (twin layout) with the
    contrastive loss on Euclidean distance, Adam."""
    model = FaceResNet()
    if args.mode == "train":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        a = torch.rand(args.batch, 3, 150, 150)
        b = torch.rand(args.batch, 3, 150, 150)
        y = (torch.arange(args.batch) % 2).float()

        def step():
            opt.zero_grad()
            e = model(torch.cat([a, b]))
            d = (e[:args.batch] - e[args.batch:]).pow(2).sum(1).clamp_min(1e-12).sqrt()
            loss = (y * d.pow(2) + (1 - y) * torch.relu(1 - d).pow(2)).mean() / 2
            loss.backward()
            opt.step()

        step()
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        rate = args.steps * args.batch / (time.perf_counter() - t)
    else:
        x = torch.rand(args.embed_batch, 3, 150, 150)
        model.eval()
        with torch.no_grad():
            model(x)
            t = time.perf_counter()
            for _ in range(args.steps):
                model(x)
        rate = args.steps * args.embed_batch / (time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"net": "resnet", "mode": args.mode, "rate": rate, "peak_rss": rss}))


class TextTower(nn.Module):
    """The question tower: mean embedding bag over hashed features, 128 ReLU, 64, L2 norm."""

    def __init__(self, sparse, buckets=1 << 18, dim=64, hidden=128, embed=64):
        super().__init__()
        self.bag = nn.EmbeddingBag(buckets, dim, mode="mean", sparse=sparse)
        self.h = nn.Linear(dim, hidden)
        self.o = nn.Linear(hidden, embed)

    def forward(self, idx):
        return nn.functional.normalize(self.o(torch.relu(self.h(self.bag(idx)))), dim=1)


class TextSiamese(nn.Module):
    def __init__(self, sparse):
        super().__init__()
        self.tower = TextTower(sparse)

    def forward(self, a, b):
        n = a.shape[0]
        e = self.tower(torch.cat([a, b]))
        return (e[:n] - e[n:]).pow(2).sum(1).clamp_min(1e-12).sqrt()  # distance


class Siamese(nn.Module):
    def __init__(self, preset):
        super().__init__()
        self.tower = Tower(**preset)
        self.head = nn.Linear(preset["embed"], 1)

    def forward(self, a, b):
        n = a.shape[0]
        e = self.tower(torch.cat([a, b]))  # both sides in one batch
        return self.head(torch.abs(e[:n] - e[n:])).squeeze(1)


def describe():
    """Prints what this PyTorch runs on: its version, the instruction set of
    its own (ATen) kernels, and the one oneDNN chose for its convolutions
    (oneDNN says it on its first primitive, when asked to be verbose)."""
    import os
    import subprocess
    import sys

    aten = torch.__config__.show().split("CPU capability usage:")[1].split()[0]
    probe = "import torch; torch.nn.Conv2d(1, 8, 3)(torch.randn(8, 1, 28, 28))"
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True).stdout
    onednn = next((l.split("isa:", 1)[1].strip() for l in out.splitlines() if "isa:" in l), "not reported")
    print(json.dumps({"torch": torch.__version__, "aten": aten, "onednn": onednn}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--describe", action="store_true", help="print the version and instruction sets, and exit")
    ap.add_argument("--net", default="small")
    ap.add_argument("--mode", default="train")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--embed-batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.describe:
        return describe()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    if args.net in ("text", "text-sparse"):
        return text(args)
    if args.net == "fconv":
        return track(args)
    if args.net == "resnet":
        return resnet(args)
    p = PRESETS[args.net]
    model = Siamese(p)
    if args.mode == "train":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.BCEWithLogitsLoss()
        a = torch.randn(args.batch, *p["inp"])
        b = torch.randn(args.batch, *p["inp"])
        y = (torch.arange(args.batch) % 2).float()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(a, b), y)
            loss.backward()
            opt.step()

        step()
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        rate = args.steps * args.batch / (time.perf_counter() - t)
    else:
        x = torch.randn(args.embed_batch, *p["inp"])
        model.eval()
        with torch.no_grad():
            model.tower(x)
            t = time.perf_counter()
            for _ in range(args.steps):
                model.tower(x)
        rate = args.steps * args.embed_batch / (time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"net": args.net, "mode": args.mode, "rate": rate, "peak_rss": rss}))


def text(args):
    feats = 80  # hashed features per text, as in the Go benchmark
    sparse = args.net == "text-sparse"
    model = TextSiamese(sparse)
    gen = torch.Generator().manual_seed(1)
    if args.mode == "train":
        if sparse:  # SparseAdam for the table, Adam for the rest
            bag = list(model.tower.bag.parameters())
            rest = [p for n, p in model.named_parameters() if not n.startswith("tower.bag")]
            opts = [torch.optim.SparseAdam(bag, lr=1e-3), torch.optim.Adam(rest, lr=1e-3)]
        else:
            opts = [torch.optim.Adam(model.parameters(), lr=1e-3)]
        a = torch.randint(0, 1 << 18, (args.batch, feats), generator=gen)
        b = torch.randint(0, 1 << 18, (args.batch, feats), generator=gen)
        y = (torch.arange(args.batch) % 2).float()

        def step():
            for o in opts:
                o.zero_grad()
            d = model(a, b)
            loss = (y * d.pow(2) + (1 - y) * torch.relu(1 - d).pow(2)).mean() / 2  # contrastive, margin 1
            loss.backward()
            for o in opts:
                o.step()

        step()
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        rate = args.steps * args.batch / (time.perf_counter() - t)
    else:
        x = torch.randint(0, 1 << 18, (args.embed_batch, feats), generator=gen)
        model.eval()
        with torch.no_grad():
            model.tower(x)
            t = time.perf_counter()
            for _ in range(args.steps):
                model.tower(x)
        rate = args.steps * args.embed_batch / (time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"net": args.net, "mode": args.mode, "rate": rate, "peak_rss": rss}))


def track(args):
    """The tracker's network share of a frame: 3 search crops of 96x96 through
    the fconv "small" tower (no padding; the last convolution linear) and the
    cross-correlation of a 6x6 exemplar over each of the 3 maps."""
    tower = nn.Sequential(
        nn.Conv2d(3, 24, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(24, 48, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(48, 64, 3), nn.ReLU(),
        nn.Conv2d(64, 64, 3),
    ).eval()
    x = torch.rand(3, 3, 96, 96)
    with torch.no_grad():
        z = tower(x[:1])[:, :, 6:12, 6:12]
        nn.functional.conv2d(tower(x), z)
        t = time.perf_counter()
        for _ in range(args.steps):
            nn.functional.conv2d(tower(x), z)
        rate = args.steps / (time.perf_counter() - t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"net": "fconv", "mode": "track", "rate": rate, "peak_rss": rss}))


if __name__ == "__main__":
    main()
