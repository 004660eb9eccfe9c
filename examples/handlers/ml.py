"""Machine-learning examples with real (small) models, numpy only.

- batch_inference: a softmax-regression classifier trained once per worker at start-up on a data set
  generated from a fixed seed (three kinds of flowers, four measurements); streams a prediction and its
  confidence per item.
- training_progress: trains a small two-layer network on a generated two-spirals problem and streams
  per-epoch loss and accuracy, then a summary with the saved model's path.
"""
import os
import tempfile
import time

import numpy as np

import pitboss

SPECIES = ["setosa", "versicolor", "virginica"]
# Per-species means and spreads of (sepal length, sepal width, petal length, petal width), in cm.
_MEANS = np.array([[5.0, 3.4, 1.5, 0.25], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
_SPREAD = np.array([[0.35, 0.38, 0.17, 0.10], [0.52, 0.31, 0.47, 0.20], [0.64, 0.32, 0.55, 0.27]])

_model = {}


def flowers(n_per_class=200, seed=7):
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(_MEANS[k], _SPREAD[k], size=(n_per_class, 4)) for k in range(3)])
    y = np.repeat(np.arange(3), n_per_class)
    return x, y


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pitboss.on_startup
def train_classifier():
    """Trains the batch_inference model once, when the worker starts."""
    x, y = flowers()
    mean, std = x.mean(axis=0), x.std(axis=0)
    xs = (x - mean) / std
    w = np.zeros((4, 3))
    b = np.zeros(3)
    onehot = np.eye(3)[y]
    for _ in range(300):  # full-batch gradient descent on the cross-entropy
        p = _softmax(xs @ w + b)
        grad = (p - onehot) / len(xs)
        w -= 0.5 * xs.T @ grad
        b -= 0.5 * grad.sum(axis=0)
    accuracy = float((np.argmax(xs @ w + b, axis=1) == y).mean())
    _model.update(w=w, b=b, mean=mean, std=std, train_accuracy=accuracy)
    print(f"batch_inference model trained: accuracy {accuracy:.3f} on {len(x)} flowers", flush=True)


@pitboss.command
def batch_inference(items: list, ctx: pitboss.Context, delay_ms: int = 0):
    """Classifies each item (four measurements in cm, or {"measurements": [...]}) and streams the
    predicted species with its confidence; ends with a summary."""
    counts = {s: 0 for s in SPECIES}
    started = time.time()
    done = 0
    for i, item in enumerate(items):
        if ctx.cancelled:
            break
        features = item.get("measurements") if isinstance(item, dict) else item
        if not (isinstance(features, list) and len(features) == 4):
            raise ValueError(f"item {i}: expected four measurements, got {item!r}")
        xs = (np.asarray(features, dtype=float) - _model["mean"]) / _model["std"]
        p = _softmax((xs @ _model["w"] + _model["b"])[None, :])[0]
        k = int(np.argmax(p))
        counts[SPECIES[k]] += 1
        done += 1
        yield {"item": i, "prediction": SPECIES[k], "confidence": round(float(p[k]), 4),
               "probabilities": {s: round(float(q), 4) for s, q in zip(SPECIES, p)},
               "progress": round((i + 1) / len(items), 4)}
        if delay_ms:
            time.sleep(delay_ms / 1000)
    return {"total_processed": done, "by_prediction": counts, "batch_complete": done == len(items),
            "model_train_accuracy": round(_model["train_accuracy"], 4), "elapsed_s": round(time.time() - started, 3)}


def spirals(n=400, seed=3, noise=0.15):
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    x0 = np.c_[t * np.cos(t), t * np.sin(t)]
    x1 = -x0
    x = np.vstack([x0, x1]) / (3 * np.pi) + rng.normal(0, noise / 3, size=(2 * n, 2))
    y = np.r_[np.zeros(n), np.ones(n)]
    order = rng.permutation(2 * n)
    return x[order], y[order]


@pitboss.command
def training_progress(epochs: int = 150, hidden: int = 32, learning_rate: float = 0.5, batch_size: int = 32,
                      ctx: pitboss.Context = None):
    """Trains a two-layer network on the two-spirals problem; streams each epoch's losses and
    accuracies, then a summary with the best validation accuracy and the saved model."""
    x, y = spirals()
    split = int(0.8 * len(x))
    xt, yt, xv, yv = x[:split], y[:split], x[split:], y[split:]
    rng = np.random.default_rng(1)
    w1 = rng.normal(0, 1.0, (2, hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0, 1.0 / np.sqrt(hidden), (hidden, 1))
    b2 = np.zeros(1)

    def forward(a):
        h = np.tanh(a @ w1 + b1)
        return h, 1 / (1 + np.exp(-(h @ w2 + b2)[:, 0]))

    def loss_acc(a, t):
        _, p = forward(a)
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()), float(((p > 0.5) == t).mean())

    best = {"val_acc": -1.0, "epoch": 0}
    started = time.time()
    lr = learning_rate
    for epoch in range(1, epochs + 1):
        if ctx.cancelled:
            break
        order = rng.permutation(len(xt))
        for s in range(0, len(xt), batch_size):
            idx = order[s:s + batch_size]
            a, t = xt[idx], yt[idx]
            h, p = forward(a)
            d_out = (p - t)[:, None] / len(idx)
            d_h = (d_out @ w2.T) * (1 - h ** 2)
            w2 -= lr * h.T @ d_out
            b2 -= lr * d_out.sum(axis=0)
            w1 -= lr * a.T @ d_h
            b1 -= lr * d_h.sum(axis=0)
        train_loss, train_acc = loss_acc(xt, yt)
        val_loss, val_acc = loss_acc(xv, yv)
        if val_acc > best["val_acc"]:
            best = {"val_acc": val_acc, "epoch": epoch, "weights": (w1.copy(), b1.copy(), w2.copy(), b2.copy())}
        yield {"epoch": epoch, "epochs": epochs, "train_loss": round(train_loss, 5), "val_loss": round(val_loss, 5),
               "train_acc": round(train_acc, 4), "val_acc": round(val_acc, 4), "learning_rate": round(lr, 5),
               "time_elapsed": round(time.time() - started, 3), "progress": round(epoch / epochs, 4)}
        lr *= 0.98
    path = os.path.join(tempfile.gettempdir(), f"pitboss-spirals-{os.getpid()}.npz")
    if "weights" in best:
        np.savez(path, *best["weights"])
    return {"final_model_path": path, "total_epochs": epoch if epochs else 0, "best_epoch": best["epoch"],
            "best_val_acc": round(best["val_acc"], 4), "time_elapsed": round(time.time() - started, 3)}
